//! Hostile plugins next to a good one: each misbehaviour is answered with the app's fallback NCCO
//! within its deadline (plus a margin), while the good app keeps answering.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use ncco_tests::{HostProcess, get, plugin_wasm, post};

const MODES: &[&str] = &["loop", "memory", "recursion", "panic", "error", "invalid", "huge"];
const TIMEOUT_MS: u64 = 400;
/// Generous: the deadline is enforced by epochs every few ms; this covers a loaded CI machine.
const MARGIN: Duration = Duration::from_millis(2500);

fn fallback_text(mode: &str) -> String {
    format!("fallback for {mode}")
}

#[test]
fn every_hostile_plugin_gets_its_fallback_while_a_good_app_answers() {
    let plugins = tempfile::tempdir().unwrap();
    let tenant = plugins.path().join("hostile");
    std::fs::create_dir_all(&tenant).unwrap();
    let hostile = plugin_wasm("hostile").unwrap();
    for mode in MODES.iter().chain(&["env", "log-flood"]) {
        std::fs::copy(&hostile, tenant.join(format!("{mode}.wasm"))).unwrap();
        std::fs::write(
            tenant.join(format!("{mode}.toml")),
            format!(
                "timeout_ms = {}\nmemory_mib = {}\n[vars]\nmode = \"{mode}\"\n[[fallback]]\naction = \"talk\"\ntext = \"{}\"\n",
                // The flood is about its log being capped, not its speed: 10,000 writes on a busy machine.
                if *mode == "log-flood" { 3000 } else { TIMEOUT_MS },
                if *mode == "memory" { 16 } else { 64 },
                fallback_text(mode)
            ),
        )
        .unwrap();
    }
    std::fs::copy(plugin_wasm("hostile-fs").unwrap(), tenant.join("snoop.wasm")).unwrap();
    std::fs::create_dir_all(plugins.path().join("good")).unwrap();
    std::fs::copy(plugin_wasm("hello").unwrap(), plugins.path().join("good/hello.wasm")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();

    // The good app answers all along, from another thread.
    let good_url = host.url("/good/hello/answer?from=447700900000");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut answered = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = get(&good_url).unwrap();
                assert_eq!(r.status, 200, "the good app failed: {}", r.body);
                assert!(r.body.contains("Hello 447700900000."), "{}", r.body);
                answered += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            answered
        })
    };

    for mode in MODES {
        let started = Instant::now();
        let r = get(&host.url(&format!("/hostile/{mode}/answer?from=1&conversation_uuid=CON-{mode}"))).unwrap();
        let took = started.elapsed();
        assert_eq!(r.status, 200, "{mode}: {}", r.body);
        let ncco = r.json().unwrap();
        assert_eq!(ncco[0]["text"], fallback_text(mode), "{mode}: {}", r.body);
        assert!(took < Duration::from_millis(TIMEOUT_MS) + MARGIN, "{mode} took {took:?}");
        // Instruction events get the fallback too; plain events an empty 2xx.
        let input = r#"{"dtmf":{"digits":"1","timed_out":false},"uuid":"u","conversation_uuid":"CON-1"}"#;
        let r = post(&host.url(&format!("/hostile/{mode}/event/menu")), input, &[]).unwrap();
        assert_eq!(r.status, 200, "{mode} input event");
        assert_eq!(r.json().unwrap()[0]["text"], fallback_text(mode));
        let ringing = r#"{"status":"ringing","uuid":"u","conversation_uuid":"CON-1"}"#;
        assert_eq!(post(&host.url(&format!("/hostile/{mode}/event")), ringing, &[]).unwrap().status, 204);
    }

    // The environment is empty: nothing of the host's leaks into the sandbox.
    let r = get(&host.url("/hostile/env/answer")).unwrap();
    assert_eq!(r.status, 200);
    let text = r.json().unwrap()[0]["text"].as_str().unwrap().to_owned();
    assert!(text.starts_with("env [] args ["), "{text}");
    assert!(!text.contains("PATH") && !text.contains("HOME"), "{text}");

    // A stdout flood (about 150 KB) is capped at the app's log size, not fatal.
    let r = get(&host.url("/hostile/log-flood/answer")).unwrap();
    assert_eq!(r.json().unwrap()[0]["text"], "flooded", "{}", host.log());
    assert!(host.wait_for_log("dropped_bytes="), "{}", host.log());

    // A plugin importing the filesystem and sockets is refused at load time, with a clear message,
    // and its callers still hear the default fallback.
    let apps = get(&host.url("/_admin/apps")).unwrap().json().unwrap();
    let snoop = apps["apps"].as_array().unwrap().iter().find(|a| a["app"] == "snoop").unwrap().clone();
    assert!(snoop["version"].is_null());
    let error = snoop["last_error"].as_str().unwrap();
    assert!(error.contains("wasi:filesystem"), "{error}");
    assert!(error.contains("wasi:sockets"), "{error}");
    assert!(error.contains("may not use"), "{error}");
    let r = get(&host.url("/hostile/snoop/answer")).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.json().unwrap()[0]["text"].as_str().unwrap().contains("sorry"), "{}", r.body);

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let answered = watcher.join().unwrap();
    assert!(answered > 0);

    // Every failure was logged with its kind.
    let log = host.log();
    for kind in [
        "kind=deadline",
        "kind=out-of-memory",
        "kind=stack-overflow",
        "kind=trap",
        "kind=error",
        "kind=invalid-ncco",
        "kind=too-much-data",
    ] {
        assert!(host.wait_for_log(kind), "no {kind} in the log:\n{log}");
    }
}

#[test]
fn a_full_host_answers_the_fallback_never_503_and_still_cleans_up_completed_calls() {
    let plugins = tempfile::tempdir().unwrap();
    let tenant = plugins.path().join("acme");
    std::fs::create_dir_all(&tenant).unwrap();
    std::fs::copy(plugin_wasm("hostile").unwrap(), tenant.join("slow.wasm")).unwrap();
    std::fs::write(
        tenant.join("slow.toml"),
        "timeout_ms = 1500\n[vars]\nmode = \"loop\"\n[[fallback]]\naction = \"talk\"\ntext = \"busy fallback\"\n",
    )
    .unwrap();
    // One instance at a time, and no queue: the second webhook cannot run at all.
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), "max_running = 1\ntenant_max_queued = 0\n").unwrap();
    let data = tempfile::tempdir().unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &["--config", config.path().to_str().unwrap()]).unwrap();
    let url = host.url("/acme/slow/answer");
    let busy = {
        let url = url.clone();
        std::thread::spawn(move || get(&url).unwrap())
    };
    std::thread::sleep(Duration::from_millis(400));
    // A plain event may be shed (Vonage may send it again), while the one call holds the slot.
    let event = host.url("/acme/slow/event");
    let shed = {
        let event = event.clone();
        std::thread::spawn(move || {
            let status = r#"{"status":"ringing","uuid":"u","conversation_uuid":"CON-Z"}"#;
            post(&event, status, &[]).unwrap().status
        })
    };
    // The caller hears the fallback within the deadline, not a 503 (which would be silence).
    let started = Instant::now();
    let r = get(&url).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("busy fallback"), "{}", r.body);
    assert!(started.elapsed() < Duration::from_millis(1500) + MARGIN, "{:?}", started.elapsed());
    assert!(host.wait_for_log("kind=overloaded"), "{}", host.log());
    assert_eq!(shed.join().unwrap(), 503);
    // A completed event still gets its clean-up.
    let completed = r#"{"status":"completed","uuid":"u","conversation_uuid":"CON-Z","duration":"3"}"#;
    post(&event, completed, &[]).unwrap();
    assert!(host.wait_for_log("call CON-Z completed"), "{}", host.log());
    // The one that got the slot still ends with its fallback, and the slot is free again.
    let first = busy.join().unwrap();
    assert_eq!(first.status, 200);
    assert!(first.body.contains("busy fallback"), "{}", first.body);
    let started = Instant::now();
    assert_eq!(get(&url).unwrap().status, 200);
    assert!(started.elapsed() < Duration::from_millis(1500) + MARGIN);
}

/// A fresh compile is served with Winch's code until Cranelift's is ready (`/_admin/apps` says
/// which). Code from either compiler must be stopped at the deadline and fail the same way: the
/// spinning call is proven to have run on Winch's code because the version still runs it after the
/// call. A module the host never saw (its bytes changed by a custom section) is tried again when
/// Cranelift was quicker than the call.
#[test]
fn code_from_winch_is_stopped_at_the_deadline_and_fails_closed() {
    let hostile = std::fs::read(plugin_wasm("hostile").unwrap()).unwrap();
    for attempt in 0..3u8 {
        let plugins = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(plugins.path().join("hostile")).unwrap();
        // A custom section (id 0): name "attempt", one byte. It changes the module's hash only.
        let mut wasm = hostile.clone();
        wasm.extend_from_slice(&[0, 9, 7]);
        wasm.extend_from_slice(b"attempt");
        wasm.push(attempt);
        std::fs::write(plugins.path().join("hostile/loop.wasm"), &wasm).unwrap();
        std::fs::write(
            plugins.path().join("hostile/loop.toml"),
            format!(
                "timeout_ms = {TIMEOUT_MS}\n[vars]\nmode = \"loop\"\n[[fallback]]\naction = \"talk\"\ntext = \"{}\"\n",
                fallback_text("loop")
            ),
        )
        .unwrap();
        let data = tempfile::tempdir().unwrap();
        let host = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
        let compiler = || {
            let apps = get(&host.url("/_admin/apps")).unwrap().json().unwrap();
            apps["apps"][0]["compiler"].as_str().unwrap_or_default().to_owned()
        };
        let started = Instant::now();
        let r = get(&host.url("/hostile/loop/answer?from=447700900000")).unwrap();
        let took = started.elapsed();
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains(&fallback_text("loop")), "the spinning plugin did not get its fallback: {}", r.body);
        assert!(took < Duration::from_millis(TIMEOUT_MS) + MARGIN, "the spin was stopped only after {took:?}");
        if compiler() == "winch" {
            // Later calls run Cranelift's code, stopped the same way.
            let waited = Instant::now();
            while compiler() != "cranelift" {
                assert!(waited.elapsed() < Duration::from_secs(60), "Cranelift's code never replaced Winch's");
                std::thread::sleep(Duration::from_millis(20));
            }
            let r = get(&host.url("/hostile/loop/answer?from=447700900000")).unwrap();
            assert!(r.body.contains(&fallback_text("loop")), "{}", r.body);
            return;
        }
    }
    panic!("three times Cranelift's code was ready before one call: the Winch case was never exercised");
}
