//! `ncco-host dev` as a process: builds a plugin crate, serves it as the tenant `dev`, rebuilds and
//! hot-reloads it when its source is saved, and keeps the last good version when a build fails.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ncco_tests::{get, ncco_host_bin, workspace_root};

/// A standalone copy of `plugins/hello` in `dir`, depending on this workspace's SDK by path.
fn copy_hello(dir: &Path) {
    let sdk = workspace_root().join("guest-sdk");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"dev-hello\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n\
             [dependencies]\nncco-sdk = {{ path = {:?}, features = [\"guest\"] }}\n\n[workspace]\n",
            sdk.display().to_string()
        ),
    )
    .unwrap();
    let src = std::fs::read_to_string(workspace_root().join("plugins/hello/src/lib.rs")).unwrap();
    std::fs::write(dir.join("src/lib.rs"), src).unwrap();
    std::fs::write(dir.join("app.toml"), "[vars]\ngreeting = \"Hi\"\n").unwrap();
}

fn first_text(url: &str) -> String {
    let r = get(url).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.json().unwrap()[0]["text"].as_str().unwrap().to_owned()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(240);
    while !done() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn dev_builds_serves_and_rebuilds_on_save() {
    let krate = tempfile::tempdir().unwrap();
    copy_hello(krate.path());
    let data = tempfile::tempdir().unwrap();
    // Share the workspace's target directory so the SDK is not compiled again.
    let target = workspace_root().join("target");
    let mut child = Command::new(ncco_host_bin().unwrap())
        .arg("dev")
        .arg(krate.path())
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .env("CARGO_TARGET_DIR", &target)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    let base = loop {
        let line = lines.next().expect("dev exited before listening").unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if let Some(url) = line.strip_prefix("listening on ") {
            break url.to_owned();
        }
    };
    assert!(printed.contains(&format!("answer_url   {base}/dev/dev-hello/answer")), "{printed}");
    let answer = format!("{base}/dev/dev-hello/answer?from=5");
    assert_eq!(first_text(&answer), "Hi 5.", "the app.toml variables are applied");

    // Saving a change rebuilds and hot-reloads.
    let lib = krate.path().join("src/lib.rs");
    let source = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(
        &lib,
        source.replace("format!(\"{greeting} {caller}.\")", "format!(\"{greeting} {caller}, again.\")"),
    )
    .unwrap();
    wait_for("the rebuilt version", || first_text(&answer) == "Hi 5, again.");

    // A broken save does not replace the working version.
    std::fs::write(&lib, "this is not rust").unwrap();
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(first_text(&answer), "Hi 5, again.");

    let _ = child.kill();
    let _ = child.wait();
}
