//! One tenant cannot hurt another: a spinning tenant beside a good one, a tenant exhausting its
//! memory share, huge ids, and connections that never finish (slow headers, slow bodies, idle
//! keep-alive, more silent connections than descriptors), each through the real binary.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ncco_tests::{HostProcess, get, plugin_wasm, post};

/// Generous on a loaded CI machine; the tight figures are the benchmark's.
const MARGIN: Duration = Duration::from_millis(1500);

fn tree(apps: &[(&str, &str, &str, &str)]) -> tempfile::TempDir {
    let plugins = tempfile::tempdir().unwrap();
    for (tenant, app, plugin, toml) in apps {
        let dir = plugins.path().join(tenant);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(plugin_wasm(plugin).unwrap(), dir.join(format!("{app}.wasm"))).unwrap();
        std::fs::write(dir.join(format!("{app}.toml")), toml).unwrap();
    }
    plugins
}

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

/// Runs `clients` threads calling `url` in a loop until `stop`; each reply goes to `check`.
fn hammer(
    url: &str,
    clients: usize,
    stop: &Arc<AtomicBool>,
    check: impl Fn(u16, &str, Duration) + Send + Sync + 'static,
) -> Vec<std::thread::JoinHandle<usize>> {
    let check = Arc::new(check);
    (0..clients)
        .map(|_| {
            let (url, stop, check) = (url.to_owned(), Arc::clone(stop), Arc::clone(&check));
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let r = get(&url).unwrap();
                    check(r.status, &r.body, started.elapsed());
                    n += 1;
                }
                n
            })
        })
        .collect()
}

/// Four callers of the good tenant's hello app until `stop`; counts answers that were not its own.
fn good_tenant(host: &HostProcess, stop: &Arc<AtomicBool>) -> (Vec<std::thread::JoinHandle<usize>>, Arc<AtomicUsize>) {
    let failures = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&failures);
    let threads = hammer(&host.url("/good/hello/answer?from=447700900000"), 4, stop, move |status, body, _| {
        if status != 200 || !body.contains("Hello 447700900000.") {
            counted.fetch_add(1, Ordering::Relaxed);
            eprintln!("good tenant got {status}: {body}");
        }
    });
    (threads, failures)
}

#[test]
fn a_spinning_tenant_gets_its_fallback_in_time_and_never_crowds_out_another() {
    let plugins = tree(&[
        (
            "evil",
            "spin",
            "hostile",
            "timeout_ms = 1000\n[vars]\nmode = \"loop\"\n[[fallback]]\naction = \"talk\"\ntext = \"evil fallback\"\n",
        ),
        ("good", "hello", "hello", "[[fallback]]\naction = \"talk\"\ntext = \"good fallback\"\n"),
    ]);
    let data = tempfile::tempdir().unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // More spinning callers than the old host-wide gate of 256 instances had room for.
    let slowest = Arc::new(Mutex::new(Duration::ZERO));
    let evil = {
        let slowest = Arc::clone(&slowest);
        hammer(&host.url("/evil/spin/answer"), 260, &stop, move |status, body, took| {
            assert_eq!(status, 200, "the spinning app must get its fallback, not {status}: {body}");
            assert!(body.contains("evil fallback"), "{body}");
            let mut s = slowest.lock().unwrap();
            *s = (*s).max(took);
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let (good, good_failures) = good_tenant(&host, &stop);
    std::thread::sleep(Duration::from_secs(4));
    stop.store(true, Ordering::Relaxed);
    let good_answers: usize = good.into_iter().map(|t| t.join().unwrap()).sum();
    let evil_answers: usize = evil.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(good_failures.load(Ordering::Relaxed), 0, "the good tenant was refused or fell back");
    assert!(good_answers > 20, "the good tenant answered only {good_answers} times in 4 s");
    assert!(evil_answers >= 260, "{evil_answers}");
    let slowest = *slowest.lock().unwrap();
    assert!(slowest < Duration::from_millis(1000) + MARGIN, "a spinning call's fallback took {slowest:?}");
    assert!(host.wait_for_log("kind=deadline"), "{}", host.log());
}

#[test]
fn a_tenant_exhausting_its_memory_share_fails_only_its_own_calls() {
    let plugins = tree(&[
        (
            "evil",
            "hoard",
            "hostile",
            "timeout_ms = 800\nmemory_mib = 64\n[vars]\nmode = \"hold\"\nhold_mib = \"40\"\n[[fallback]]\naction = \"talk\"\ntext = \"evil fallback\"\n",
        ),
        ("good", "hello", "hello", "memory_mib = 32\n"),
    ]);
    let data = tempfile::tempdir().unwrap();
    // 256 MiB in all: the hoarding tenant's half is 128 MiB, three of its calls at most.
    let config = config_file("memory_budget_mib = 256\n");
    let host = HostProcess::start(plugins.path(), data.path(), &["--config", config.path().to_str().unwrap()]).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let evil = hammer(&host.url("/evil/hoard/answer"), 12, &stop, |status, body, _| {
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("evil fallback"), "{body}");
    });
    std::thread::sleep(Duration::from_millis(300));
    let (good, good_failures) = good_tenant(&host, &stop);
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    for t in good.into_iter().chain(evil) {
        t.join().unwrap();
    }
    assert_eq!(good_failures.load(Ordering::Relaxed), 0);
    assert!(host.wait_for_log("kind=tenant-memory-share"), "{}", host.log());
    let log = host.log();
    // The hoarder's failures name the real cause, against the hoarder.
    let share = log.lines().find(|l| l.contains("kind=tenant-memory-share")).unwrap_or_else(|| panic!("{log}"));
    assert!(share.contains("tenant=evil"), "{share}");
    assert!(!log.lines().any(|l| l.contains("tenant=good") && l.contains("plugin failed")), "{log}");
}

fn dir_size(dir: &Path) -> u64 {
    walk(dir).iter().filter_map(|p| p.metadata().ok()).map(|m| m.len()).sum()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn huge_ids_key_nothing_and_leave_the_disk_alone() {
    let plugins = tree(&[("acme", "hello", "hello", "")]);
    let data = tempfile::tempdir().unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
    let url = host.url("/acme/hello/answer");
    let huge = "C".repeat(200_000);
    let before = dir_size(data.path());
    for (field, bad) in
        [("conversation_uuid", huge.as_str()), ("uuid", huge.as_str()), ("conversation_uuid", "CON-1/leg2")]
    {
        let mut body = serde_json::json!({"from": "447700900000", "to": "442079460000", "uuid": "u-1", "conversation_uuid": "CON-1"});
        body[field] = serde_json::Value::String(bad.to_owned());
        for _ in 0..20 {
            let r = post(&url, &body.to_string(), &[]).unwrap();
            assert_eq!(r.status, 400, "{}", r.body);
            let message = r.json().unwrap()["error"]["message"].as_str().unwrap().to_owned();
            assert!(message.contains(field) && message.contains("Vonage id"), "{message}");
        }
    }
    // A well-formed answer still works and pins.
    let ok = r#"{"from":"447700900000","to":"442079460000","uuid":"u-1","conversation_uuid":"CON-1"}"#;
    assert_eq!(post(&url, ok, &[]).unwrap().status, 200);
    std::thread::sleep(Duration::from_millis(300));
    let grown = dir_size(data.path()).saturating_sub(before);
    assert!(grown < 2 << 20, "the data directory grew by {grown} bytes");
}

#[test]
fn head_requests_never_run_a_plugin_and_misses_all_look_alike() {
    let plugins = tree(&[("acme", "hello", "hello", "")]);
    std::fs::write(
        plugins.path().join("acme/tenant.toml"),
        "signature_secret = \"0123456789abcdef0123456789abcdef\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(plugins.path().join("open")).unwrap();
    std::fs::copy(plugin_wasm("hello").unwrap(), plugins.path().join("open/marker.wasm")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
    let mut s = TcpStream::connect(host.base_url.trim_start_matches("http://")).unwrap();
    s.write_all(b"HEAD /open/marker/answer?from=447700900000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut head = String::new();
    s.read_to_string(&mut head).unwrap();
    assert!(head.starts_with("HTTP/1.1 405"), "{head}");
    // Unknown tenant, unknown app, and an unsigned request to a signed tenant's real app.
    let misses: Vec<_> = ["/nobody/hello/answer", "/open/hello/answer", "/acme/hello/answer"]
        .iter()
        .map(|p| get(&host.url(p)).unwrap())
        .map(|r| (r.status, r.body))
        .collect();
    assert_eq!(misses[0].0, 404, "{misses:?}");
    assert!(misses.iter().all(|m| *m == misses[0]), "{misses:#?}");
    // A call that does run, logged after the others: none of those ran a plugin.
    assert_eq!(get(&host.url("/open/marker/answer?from=447700900111")).unwrap().status, 200);
    assert!(host.wait_for_log("answering 447700900111"), "{}", host.log());
    assert!(!host.log().contains("answering 447700900000"), "a plugin ran:\n{}", host.log());
}

/// What the server sent on `s` until it closed it (a read returns end of file or an error), or
/// `None` if it is still open after `within`.
fn closed_within(s: &mut TcpStream, within: Duration) -> Option<String> {
    let started = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let mut buf = [0u8; 4096];
    let mut got = Vec::new();
    while started.elapsed() < within {
        match s.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return Some(String::from_utf8_lossy(&got).into_owned()),
        }
    }
    None
}

#[test]
fn slow_headers_slow_bodies_and_idle_connections_are_dropped_while_a_probe_answers() {
    let plugins = tree(&[("acme", "hello", "hello", "")]);
    let data = tempfile::tempdir().unwrap();
    let config = config_file("header_read_timeout_ms = 1000\nbody_read_timeout_ms = 1000\n");
    let host = HostProcess::start(plugins.path(), data.path(), &["--config", config.path().to_str().unwrap()]).unwrap();
    let addr = host.base_url.trim_start_matches("http://").to_owned();
    let open = |first: &[u8]| {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.write_all(first).unwrap();
        s
    };
    let mut silent: Vec<TcpStream> = (0..20).map(|_| open(b"")).collect();
    let mut slow_head: Vec<TcpStream> = (0..20).map(|_| open(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")).collect();
    let body_head = b"POST /acme/hello/answer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"from\":";
    let mut slow_body: Vec<TcpStream> = (0..20).map(|_| open(body_head)).collect();
    let mut idle = open(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    // The slowloris keeps trickling header bytes; the deadline is for the whole head.
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(300));
        for s in &mut slow_head {
            let _ = s.write_all(b"X-A: b\r\n");
        }
        assert_eq!(get(&host.url("/healthz")).unwrap().status, 200);
    }
    let within = Duration::from_millis(1000) + MARGIN;
    for (what, conns) in [("silent", &mut silent), ("slow header", &mut slow_head)] {
        for s in conns.iter_mut() {
            assert!(closed_within(s, within).is_some(), "a {what} connection is still open");
        }
    }
    for s in &mut slow_body {
        let sent = closed_within(s, within).expect("a slow-body connection is still open");
        // A body that stops arriving is a timeout, not "too large".
        assert!(sent.starts_with("HTTP/1.1 408"), "{sent}");
    }
    let sent = closed_within(&mut idle, within).expect("the idle keep-alive connection is still open");
    assert!(sent.starts_with("HTTP/1.1 200"), "{sent}");
    assert_eq!(get(&host.url("/acme/hello/answer?from=447700900000")).unwrap().status, 200);
}

#[test]
fn more_silent_connections_than_descriptors_never_lock_the_port() {
    let plugins = tree(&[("acme", "hello", "hello", "")]);
    let data = tempfile::tempdir().unwrap();
    let host =
        HostProcess::start_under(&["prlimit", "--nofile=256:256", "--"], plugins.path(), data.path(), &[]).unwrap();
    let addr = host.base_url.trim_start_matches("http://").to_owned();
    // Far more silent connections than the host has descriptors, kept open by this test.
    let mut held = Vec::new();
    for _ in 0..400 {
        if let Ok(s) = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2)) {
            held.push(s);
        }
    }
    let started = Instant::now();
    let r = get(&host.url("/acme/hello/answer?from=447700900000")).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Hello 447700900000."), "{}", r.body);
    assert!(started.elapsed() < Duration::from_secs(5), "the probe took {:?}", started.elapsed());
    assert_eq!(get(&host.url("/healthz")).unwrap().status, 200);
    drop(held);
}

#[test]
fn an_app_capped_by_max_concurrent_leaves_its_tenants_other_apps_room() {
    let plugins = tree(&[
        (
            "acme",
            "spin",
            "hostile",
            "timeout_ms = 1000\nmax_concurrent = 2\n[vars]\nmode = \"loop\"\n[[fallback]]\naction = \"talk\"\ntext = \"spin fallback\"\n",
        ),
        ("acme", "hello", "hello", ""),
    ]);
    let data = tempfile::tempdir().unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // More spinning callers than the tenant's share of instances: without the app's cap they would
    // hold every slot the tenant has.
    let spinners = hammer(&host.url("/acme/spin/answer"), 8, &stop, |status, body, _| {
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("spin fallback"), "{body}");
    });
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..20 {
        let r = get(&host.url("/acme/hello/answer?from=447700900000")).unwrap();
        assert!(r.body.contains("Hello 447700900000."), "the sibling app fell back: {}", r.body);
    }
    stop.store(true, Ordering::Relaxed);
    for t in spinners {
        t.join().unwrap();
    }
    assert!(host.wait_for_log("max_concurrent of 2"), "{}", host.log());
}
