//! Storage faults on a real, small disk (a tmpfs this test mounts): the embedded store fills up,
//! plugins see the error and callers hear the fallback, `/healthz` says degraded, and once space is
//! freed the store recovers by itself with nothing acknowledged lost; a full data disk leaves no
//! partial artifacts, and leftovers are removed at start. Needs root (for `mount`), as CI runs.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ncco_tests::{HostProcess, get, plugin_wasm};

/// A tmpfs of `size` mounted on a fresh directory, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("running mount");
        assert!(status.success(), "mounting a {size} tmpfs needs root (CI runs as root)");
        SmallDisk { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

fn fixture(root: &Path, app: &str, mode: &str) {
    let dir = root.join("acme");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(plugin_wasm("hostile").unwrap(), dir.join(format!("{app}.wasm"))).unwrap();
    std::fs::write(
        dir.join(format!("{app}.toml")),
        format!("[vars]\nmode = \"{mode}\"\n[[fallback]]\naction = \"talk\"\ntext = \"state failed\"\n"),
    )
    .unwrap();
}

fn said(host: &HostProcess, app: &str, conversation: &str) -> String {
    let r = get(&host.url(&format!("/acme/{app}/answer?from=1&uuid=u&conversation_uuid={conversation}"))).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.json().unwrap()[0]["text"].as_str().unwrap().to_owned()
}

#[test]
fn a_full_disk_is_reported_to_plugins_and_health_and_the_store_recovers_when_space_returns() {
    let disk = SmallDisk::mount("6m");
    let filler = disk.path().join("filler");
    std::fs::write(&filler, vec![0u8; 3 << 20]).unwrap();
    let plugins = tempfile::tempdir().unwrap();
    fixture(plugins.path(), "fill", "state-fill");
    fixture(plugins.path(), "counter", "state");
    let data = tempfile::tempdir().unwrap();
    let state = disk.path().join("state.redb");
    let host = HostProcess::start(plugins.path(), data.path(), &["--state", state.to_str().unwrap()]).unwrap();

    let mut acknowledged = 0;
    for i in 1..=3 {
        assert_eq!(said(&host, "counter", &format!("CON-{i}")), format!("app {i} call 1"));
        acknowledged = i;
    }
    // Fill the disk until the store refuses.
    let mut stored = 0;
    let mut refused = false;
    for i in 0..60 {
        let text = said(&host, "fill", &format!("CON-F{i}"));
        if text == "state failed" {
            refused = true;
            break;
        }
        assert!(text.starts_with("stored"), "{text}");
        stored += 1;
    }
    assert!(refused, "the disk never filled ({stored} values stored)");
    assert!(stored > 0, "nothing could be stored at all");
    assert!(host.wait_for_log("state unavailable"), "the plugin was not told:\n{}", host.log());
    // Now the disk is full to the last byte: even small writes fail.
    let rest = disk.path().join("rest");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&rest).unwrap();
        while f.write_all(&[0u8; 16 << 10]).is_ok() {}
    }
    // A write that needs room fails and the plugin is told. (Small writes may still commit into
    // pages redb freed in earlier commits: the counter's answers stay exact, never stale.)
    let mut refused = 0;
    for i in 0..5 {
        let text = said(&host, "counter", &format!("CON-X{i}"));
        if text == "state failed" {
            refused += 1;
        } else {
            acknowledged += 1;
            assert_eq!(text, format!("app {acknowledged} call 1"), "an answer from stale state");
        }
    }
    let full = (0..20).any(|i| said(&host, "fill", &format!("CON-FULL{i}")) == "state failed");
    assert!(full, "200 KB values still fit on a full disk");
    let health = get(&host.url("/healthz")).unwrap();
    assert_eq!(health.status, 503, "{}", health.body);
    assert!(health.body.contains("degraded"), "{}", health.body);
    let admin = get(&host.url("/_admin/apps")).unwrap().json().unwrap();
    assert!(admin["state_fault"].is_string(), "{admin}");

    // Space comes back: the store reopens by itself, without a restart.
    std::fs::remove_file(&filler).unwrap();
    std::fs::remove_file(&rest).unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    let next = loop {
        let text = said(&host, "counter", "CON-AFTER");
        if text != "state failed" {
            break text;
        }
        refused += 1;
        assert!(Instant::now() < until, "the store never recovered:\n{}", host.log());
        std::thread::sleep(Duration::from_millis(200));
    };
    // Nothing acknowledged was lost. The counter makes two writes (app, then call state); a refused
    // webhook may have had its first one committed before the second was refused, never more.
    let count: usize = next.strip_prefix("app ").and_then(|t| t.split(' ').next()).unwrap().parse().unwrap();
    assert!(
        count > acknowledged && count <= acknowledged + 1 + refused,
        "{next}: {acknowledged} acknowledged, {refused} refused"
    );
    assert_eq!(get(&host.url("/healthz")).unwrap().status, 200);
    assert!(host.wait_for_log("recovered from"), "{}", host.log());
}

fn artifact_dirs(data: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(data.join("artifacts"))
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default()
}

fn partials(data: &Path) -> Vec<String> {
    artifact_dirs(data)
        .iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().filter_map(Result::ok))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect()
}

#[test]
fn a_full_data_disk_leaves_no_partial_artifacts_and_leftovers_are_cleaned_at_start() {
    let plugins = tempfile::tempdir().unwrap();
    fixture(plugins.path(), "counter", "state");
    // Too small for the compiled artifact: the write fails, the plugin is served from memory.
    let disk = SmallDisk::mount("64k");
    let host = HostProcess::start(plugins.path(), disk.path(), &["--state", "memory"]).unwrap();
    assert_eq!(said(&host, "counter", "CON-1"), "app 1 call 1");
    assert!(host.wait_for_log("cannot cache the artifact"), "{}", host.log());
    assert_eq!(partials(disk.path()), Vec::<String>::new());
    drop(host);

    // Leftovers of a crash (old and current names) are removed at the next start.
    let data = tempfile::tempdir().unwrap();
    drop(HostProcess::start(plugins.path(), data.path(), &["--state", "memory"]).unwrap());
    let dir = artifact_dirs(data.path()).pop().expect("an artifact directory");
    std::fs::write(dir.join("0123abcd.tmp4242"), b"partial").unwrap();
    std::fs::write(dir.join("0123abcd.cwasm.tmp4243"), b"partial").unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &["--state", "memory"]).unwrap();
    assert_eq!(partials(data.path()), Vec::<String>::new());
    assert_eq!(said(&host, "counter", "CON-1"), "app 1 call 1");
}
