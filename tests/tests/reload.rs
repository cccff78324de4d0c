//! Hot reload through real files: swaps under concurrent requests, a truncated file, a file still
//! being written, new tenants.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ncco_tests::{HostProcess, get, plugin_wasm};
use serde_json::Value;

/// Publishes `src` as `dst` the safe way: write a temporary file beside it, then rename.
fn publish(src: &Path, dst: &Path) {
    let tmp = dst.with_extension("tmp");
    std::fs::copy(src, &tmp).unwrap();
    std::fs::rename(&tmp, dst).unwrap();
}

fn version(host: &HostProcess, tenant: &str, app: &str) -> Value {
    let apps = get(&host.url("/_admin/apps")).unwrap().json().unwrap();
    apps["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["tenant"] == tenant && a["app"] == app)
        .cloned()
        .unwrap_or(Value::Null)
}

/// A host serving `acme/app` = the `hello` plugin, with the version it loaded.
struct Served {
    host: HostProcess,
    /// The tenant folder.
    dir: std::path::PathBuf,
    /// The `hello` plugin's `.wasm`.
    hello: std::path::PathBuf,
    live: String,
    _plugins: tempfile::TempDir,
    _data: tempfile::TempDir,
}

impl Served {
    fn hello() -> Served {
        let plugins = tempfile::tempdir().unwrap();
        let dir = plugins.path().join("acme");
        std::fs::create_dir_all(&dir).unwrap();
        let hello = plugin_wasm("hello").unwrap();
        publish(&hello, &dir.join("app.wasm"));
        let data = tempfile::tempdir().unwrap();
        let host = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
        let live = version(&host, "acme", "app")["version"].as_str().unwrap().to_owned();
        Served { host, dir, hello, live, _plugins: plugins, _data: data }
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn swapping_a_plugin_under_load_drops_no_request_and_the_new_version_answers() {
    let plugins = tempfile::tempdir().unwrap();
    let dir = plugins.path().join("acme");
    std::fs::create_dir_all(&dir).unwrap();
    let (hello, other) = (plugin_wasm("hello").unwrap(), plugin_wasm("hostile").unwrap());
    publish(&hello, &dir.join("app.wasm"));
    let data = tempfile::tempdir().unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
    let first = version(&host, "acme", "app")["version"].as_str().unwrap().to_owned();

    let stop = Arc::new(AtomicBool::new(false));
    let url = host.url("/acme/app/answer?from=447700900000");
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (stop, url) = (Arc::clone(&stop), url.clone());
            std::thread::spawn(move || {
                let (mut old, mut new) = (0, 0);
                while !stop.load(Ordering::Relaxed) {
                    let r = get(&url).unwrap();
                    assert_eq!(r.status, 200, "request failed during reload: {}", r.body);
                    let text = r.json().unwrap()[0]["text"].as_str().unwrap().to_owned();
                    match text.as_str() {
                        "Hello 447700900000." => old += 1,
                        "well behaved" => new += 1,
                        other => panic!("unexpected answer during reload: {other}"),
                    }
                }
                (old, new)
            })
        })
        .collect();

    // Swap back and forth a few times, then settle on the new version.
    for round in 0..3 {
        publish(&other, &dir.join("app.wasm"));
        wait_for("the new version", || version(&host, "acme", "app")["version"] != first.as_str());
        if round < 2 {
            publish(&hello, &dir.join("app.wasm"));
            wait_for("the old version back", || version(&host, "acme", "app")["version"] == first.as_str());
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let (mut old, mut new) = (0, 0);
    for c in clients {
        let (o, n) = c.join().unwrap();
        old += o;
        new += n;
    }
    assert!(old > 0 && new > 0, "old {old}, new {new}");
    let r = get(&url).unwrap();
    assert_eq!(r.json().unwrap()[0]["text"], "well behaved");
    assert!(host.wait_for_log("plugin loaded"), "reloads are logged");
}

#[test]
fn a_truncated_or_garbage_file_keeps_the_working_version() {
    let Served { host, dir, hello, live, _plugins, _data } = Served::hello();

    // Written in place, cut in half: the watcher sees it, the compiler refuses it.
    let bytes = std::fs::read(plugin_wasm("hostile").unwrap()).unwrap();
    std::fs::write(dir.join("app.wasm"), &bytes[..bytes.len() / 2]).unwrap();
    wait_for("the load error", || !version(&host, "acme", "app")["last_error"].is_null());
    let status = version(&host, "acme", "app");
    assert_eq!(status["version"], live.as_str(), "{status}");
    assert!(status["last_error"].as_str().unwrap().contains("keeping version"), "{status}");
    let r = get(&host.url("/acme/app/answer?from=447700900000")).unwrap();
    assert_eq!(r.json().unwrap()[0]["text"], "Hello 447700900000.");

    // Not a component at all: refused as such, and the working version stays.
    std::fs::write(dir.join("app.wasm"), b"\0asm\x01\0\0\0").unwrap();
    wait_for("the not-a-component error", || {
        version(&host, "acme", "app")["last_error"].as_str().is_some_and(|e| e.contains("not a WebAssembly component"))
    });
    assert_eq!(version(&host, "acme", "app")["version"], live.as_str());
    assert_eq!(get(&host.url("/acme/app/answer")).unwrap().status, 200);

    // A good file again clears the error.
    publish(&hello, &dir.join("app.wasm"));
    wait_for("the error to clear", || version(&host, "acme", "app")["last_error"].is_null());
}

#[test]
fn new_tenants_and_apps_appear_and_removed_ones_go() {
    let plugins = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(plugins.path().join("first")).unwrap();
    let hello = plugin_wasm("hello").unwrap();
    publish(&hello, &plugins.path().join("first/app.wasm"));
    let data = tempfile::tempdir().unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
    assert_eq!(get(&host.url("/second/app/answer")).unwrap().status, 404);

    let second = plugins.path().join("second");
    std::fs::create_dir_all(&second).unwrap();
    publish(&hello, &second.join("app.wasm"));
    wait_for("the new tenant", || get(&host.url("/second/app/answer")).unwrap().status == 200);

    std::fs::remove_file(second.join("app.wasm")).unwrap();
    wait_for("the removed app", || get(&host.url("/second/app/answer")).unwrap().status == 404);

    // A variable change in the app's TOML is live too.
    std::fs::write(plugins.path().join("first/app.toml"), "[vars]\ngreeting = \"Bonjour\"\n").unwrap();
    wait_for("the new greeting", || {
        get(&host.url("/first/app/answer?from=1")).unwrap().json().unwrap()[0]["text"] == "Bonjour 1."
    });
}

fn reloads(host: &HostProcess) -> u64 {
    get(&host.url("/_admin/apps")).unwrap().json().unwrap()["reloads"].as_u64().unwrap()
}

#[test]
fn the_watcher_does_not_react_to_the_hosts_own_reads() {
    let plugins = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(plugins.path().join("acme")).unwrap();
    publish(&plugin_wasm("hello").unwrap(), &plugins.path().join("acme/app.wasm"));
    let data = tempfile::tempdir().unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let settled = reloads(&host);
    // A reload reads every plugin file; if those reads triggered reloads, the count would keep rising.
    std::fs::write(plugins.path().join("acme/app.toml"), "[vars]\ngreeting = \"Hey\"\n").unwrap();
    wait_for("the reload", || reloads(&host) > settled);
    std::thread::sleep(Duration::from_millis(1500));
    let after = reloads(&host);
    assert!(after - settled <= 2, "{} reloads for one change: the watcher reacts to its own reads", after - settled);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(reloads(&host), after, "reloads continue with no change");
}

#[test]
fn a_plugin_still_being_written_never_goes_live_and_goes_live_when_closed() {
    use std::io::Write;
    let Served { host, dir, live, _plugins, _data, .. } = Served::hello();
    let before = reloads(&host);

    // Rewritten in place by a writer that pauses halfway, the file open all along: however long the
    // pause, and however many rescans happen meanwhile (a toml touched, the settle checks), the half
    // file is never read: no load error, the working version answers.
    let bytes = std::fs::read(plugin_wasm("hostile").unwrap()).unwrap();
    let mut file = std::fs::File::create(dir.join("app.wasm")).unwrap();
    file.write_all(&bytes[..bytes.len() / 2]).unwrap();
    file.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(dir.join("other.toml"), "# a change elsewhere makes a rescan\n").unwrap();
    wait_for("a rescan", || reloads(&host) > before);
    std::thread::sleep(Duration::from_millis(1500));
    let status = version(&host, "acme", "app");
    assert_eq!(status["version"], live.as_str(), "{status}");
    assert!(status["last_error"].is_null(), "the half-written file was read: {status}");
    let r = get(&host.url("/acme/app/answer?from=447700900000")).unwrap();
    assert_eq!(r.json().unwrap()[0]["text"], "Hello 447700900000.");

    // Finished and closed: the new version goes live.
    file.write_all(&bytes[bytes.len() / 2..]).unwrap();
    drop(file);
    wait_for("the new version", || version(&host, "acme", "app")["version"] != live.as_str());
    assert_eq!(get(&host.url("/acme/app/answer")).unwrap().json().unwrap()[0]["text"], "well behaved");
    assert!(version(&host, "acme", "app")["last_error"].is_null());
}
