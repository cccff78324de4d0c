//! Seeing calls, through the real binary: a call played by `ncco-host simulate`, then the
//! inspector's JSON API (webhooks in order, the NCCO, the logs, a failing app's failure kind), the
//! metrics (checked against the known traffic and by `promtool check metrics`), JSON logs, the page
//! in a real headless Chromium (screenshots kept under `target/test-artifacts/`), and who may see
//! what.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ncco_tests::{HostProcess, RedisServer, Reply, get, get_with, ncco_host_bin, plugin_wasm, post, workspace_root};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn app(root: &Path, tenant: &str, name: &str, plugin: &str, toml: &str) {
    let dir = root.join(tenant);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(plugin_wasm(plugin).unwrap(), dir.join(format!("{name}.wasm"))).unwrap();
    if !toml.is_empty() {
        std::fs::write(dir.join(format!("{name}.toml")), toml).unwrap();
    }
}

#[allow(clippy::needless_pass_by_value)] // called on a fresh reply: `json(get(..))`
fn json(r: Reply) -> Value {
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str(&r.body).unwrap()
}

/// The calls list once it has `n` calls (records are stored by a task, a moment after the answer).
fn calls(host: &HostProcess, n: usize, headers: &[(&str, &str)]) -> Vec<Value> {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let list = json(get_with(&host.url("/_inspect/api/calls"), headers).unwrap());
        let calls = list["calls"].as_array().unwrap().clone();
        if calls.len() >= n || Instant::now() > until {
            return calls;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn simulate(host: &HostProcess, tenant: &str, app: &str) {
    let out = Command::new(ncco_host_bin().unwrap())
        .args(["simulate", "--answer-url", &host.url(&format!("/{tenant}/{app}/answer"))])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}

/// The value of the sample `name{labels}` in Prometheus text.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
}

/// A host with `acme/hello`, `acme/bad` (always fails) and `acme/counter` (uses state), after one
/// simulated call to hello, one failing answer and one answer that touches state.
fn traffic(extra: &[&str]) -> (tempfile::TempDir, tempfile::TempDir, HostProcess, String) {
    let plugins = tempfile::tempdir().unwrap();
    app(plugins.path(), "acme", "hello", "hello", "");
    app(plugins.path(), "acme", "bad", "hostile", "[vars]\nmode = \"error\"\n");
    app(plugins.path(), "acme", "counter", "hostile", "[vars]\nmode = \"state\"\n");
    let data = tempfile::tempdir().unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), extra).unwrap();
    simulate(&host, "acme", "hello");
    let bad = r#"{"uuid":"u-bad","conversation_uuid":"CON-BAD","from":"447700900111","to":"447700900222"}"#;
    let r = post(&host.url("/acme/bad/answer"), bad, &[]).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body.contains("temporarily unavailable"), "{}", r.body);
    assert_eq!(get(&host.url("/acme/counter/answer?uuid=u-c&conversation_uuid=CON-STATE&from=1")).unwrap().status, 200);
    let list = calls(&host, 3, &[]);
    let hello = list.iter().find(|c| c["app"] == "hello").expect("the simulated call is listed");
    let id = hello["conversation_uuid"].as_str().unwrap().to_owned();
    (plugins, data, host, id)
}

#[test]
fn a_simulated_call_shows_in_the_inspector_api_the_metrics_and_json_logs() {
    let (_plugins, _data, host, id) = traffic(&["--log-format", "json"]);
    let list = calls(&host, 3, &[]);
    assert_eq!(list[0]["conversation_uuid"], "CON-STATE", "newest first: {list:?}");
    let hello = list.iter().find(|c| c["conversation_uuid"] == id.as_str()).unwrap();
    assert_eq!((hello["tenant"].as_str(), hello["outcome"].as_str()), (Some("acme"), Some("ok")));
    assert!(hello["started"].as_str().unwrap().ends_with('Z'));

    // The call's webhooks, in arrival order, with the NCCO, the logs and the timings.
    let call = json(get(&host.url(&format!("/_inspect/api/calls/{id}"))).unwrap());
    let hooks = call["webhooks"].as_array().unwrap();
    assert_eq!(hello["webhooks"].as_u64().unwrap() as usize, hooks.len());
    assert_eq!(hooks[0]["webhook"], "answer");
    assert_eq!(hooks[0]["ncco"][0]["text"], "Hello 447700900000.");
    assert!(hooks[0]["logs"][0].as_str().unwrap().contains("answering 447700900000"), "{}", hooks[0]);
    assert!(hooks[0]["timings_us"]["total"].as_u64().unwrap() > 0);
    assert!(hooks[0]["timings_us"]["run"].as_u64().unwrap() > 0);
    assert!(hooks[0]["peak_memory_bytes"].as_u64().unwrap() > 0);
    let menu = hooks.iter().find(|h| h["callback"] == "menu").expect("the input callback is recorded");
    assert_eq!(menu["status"], Value::Null);
    assert_eq!(hooks.last().unwrap()["status"], "completed");
    let seqs: Vec<u64> = hooks.iter().map(|h| h["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in arrival order: {seqs:?}");

    // The failing app: its kind, its message, the fallback the caller heard.
    let bad = json(get(&host.url("/_inspect/api/calls/CON-BAD")).unwrap());
    let w = &bad["webhooks"][0];
    assert_eq!((w["outcome"].as_str(), w["fallback"].as_bool()), (Some("error"), Some(true)));
    assert!(w["failure"].as_str().unwrap().contains("refused on purpose"), "{w}");
    assert!(w["heard"][0].as_str().unwrap().contains("temporarily unavailable"));
    // What a plugin asked the host for.
    let state = json(get(&host.url("/_inspect/api/calls/CON-STATE")).unwrap());
    let host_calls = state["webhooks"][0]["host_calls"].as_array().unwrap();
    assert!(host_calls.iter().any(|c| c.as_str().unwrap().starts_with("state.increment")), "{host_calls:?}");

    // The metrics agree with that traffic.
    let metrics = get(&host.url("/metrics")).unwrap();
    assert_eq!(metrics.status, 200);
    let m = metrics.body;
    let events = hooks.len() - 1;
    assert_eq!(
        sample(&m, r#"ncco_webhooks_total{tenant="acme",app="hello",webhook="answer",outcome="ok"}"#),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, r#"ncco_webhooks_total{tenant="acme",app="hello",webhook="event",outcome="ok"}"#),
        Some(events as f64)
    );
    assert_eq!(
        sample(&m, r#"ncco_webhooks_total{tenant="acme",app="bad",webhook="answer",outcome="error"}"#),
        Some(1.0)
    );
    assert_eq!(sample(&m, r#"ncco_fallbacks_total{tenant="acme",app="bad",reason="error"}"#), Some(1.0));
    assert_eq!(
        sample(&m, r#"ncco_webhook_duration_seconds_count{tenant="acme",app="hello",webhook="event"}"#),
        Some(events as f64)
    );
    assert!(m.contains("ncco_state_operation_duration_seconds_bucket{le="), "{m}");
    assert!(sample(&m, "ncco_loaded_versions").unwrap() >= 2.0);
    assert!(!m.contains(&id) && !m.contains("447700900"), "no call id or number in a label");
    // OpenTelemetry's HTTP server duration, by route pattern (never the path).
    let event_route = r#"http_server_request_duration_seconds_count{http_request_method="POST",http_route="/{tenant}/{app}/event",http_response_status_code="204"}"#;
    assert!(sample(&m, event_route).unwrap_or(0.0) >= 1.0, "{m}");
    assert!(!m.contains("http_route=\"/acme"), "{m}");
    promtool(&m);

    // JSON logs: the failure as one object with its fields.
    assert!(host.wait_for_log("refused on purpose"));
    let line = host.log().lines().find(|l| l.contains("refused on purpose")).unwrap().to_owned();
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    assert_eq!(
        (v["tenant"].as_str(), v["app"].as_str(), v["kind"].as_str()),
        (Some("acme"), Some("bad"), Some("error"))
    );
    assert_eq!(v["call_uuid"], "u-bad");
}

/// `promtool check metrics` on `text` (Debian's `prometheus` package; `.ci/run` installs it).
fn promtool(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is needed (apt-get install prometheus; .ci/run does)");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What Chromium shows of `url` once its script ran, with a screenshot saved as `shot`.
fn browse(url: &str, shot: &str) -> String {
    let artifacts = workspace_root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let out = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--virtual-time-budget=5000",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(url)
            .output()
            .expect("chromium is needed (apt-get install chromium; .ci/run does)");
        assert!(out.status.success(), "chromium: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let path = artifacts.join(shot);
    run(&[&format!("--screenshot={}", path.display())]);
    assert!(std::fs::metadata(&path).is_ok_and(|m| m.len() > 1000), "no screenshot at {}", path.display());
    run(&["--dump-dom"])
}

/// The text a person reads in `html` (tags dropped).
fn visible(html: &str) -> String {
    let body = html.split("<script").next().unwrap_or(html);
    let mut out = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&").replace("&gt;", ">").replace("&lt;", "<")
}

#[test]
fn the_inspector_shows_calls_and_failures_in_a_real_browser() {
    let (_plugins, _data, host, id) = traffic(&[]);
    let list = visible(&browse(&host.url("/_inspect"), "inspector-calls.png"));
    assert!(list.contains(&id), "the simulated call is listed: {list}");
    assert!(list.contains("Hello 447700900000."), "what the caller heard first: {list}");
    assert!(list.contains("CON-BAD") && list.contains("error"), "the failing call and its kind: {list}");
    assert!(list.contains("447700900111 → 447700900222"), "{list}");

    let call = visible(&browse(&host.url(&format!("/_inspect/calls/{id}")), "inspector-call.png"));
    assert!(call.contains("answer") && call.contains("event/menu"), "{call}");
    assert!(call.contains("Heard: “Hello 447700900000.” “Press any key.”"), "{call}");
    assert!(call.contains("completed"), "{call}");

    let bad = visible(&browse(&host.url("/_inspect/calls/CON-BAD"), "inspector-failed-call.png"));
    assert!(bad.contains("the plugin refused on purpose"), "the failure is shown: {bad}");
    assert!(bad.contains("fallback NCCO") && bad.contains("temporarily unavailable"), "{bad}");
}

const ADMIN: &str = "inspect-operator-token";
const ACME: &str = "inspect-acme-token";
const OTHER: &str = "inspect-other-token";

fn sha(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads the live stream with `token` until the first record arrives.
fn first_live_record(host: &HostProcess, token: Option<&str>, trigger: impl FnOnce()) -> Value {
    let addr = host.base_url.trim_start_matches("http://").to_owned();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(s, "GET /_inspect/api/live HTTP/1.1\r\nHost: {addr}\r\n{auth}\r\n").unwrap();
    let mut reader = std::io::BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 200"), "{line}");
    // The subscription exists once the head is out.
    while line != "\r\n" {
        line.clear();
        reader.read_line(&mut line).unwrap();
    }
    trigger();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if let Some(data) = line.strip_prefix("data:") {
            return serde_json::from_str(data.trim()).unwrap();
        }
        if line.is_empty() {
            let mut rest = String::new();
            let _ = reader.read_to_string(&mut rest);
            panic!("the live stream ended: {rest}");
        }
    }
}

#[test]
fn tokens_decide_who_sees_which_calls() {
    let plugins = tempfile::tempdir().unwrap();
    app(plugins.path(), "acme", "hello", "hello", "");
    app(plugins.path(), "other", "hello", "hello", "");
    std::fs::write(plugins.path().join("acme/tenant.toml"), format!("api_token_sha256 = [\"{}\"]\n", sha(ACME)))
        .unwrap();
    std::fs::write(plugins.path().join("other/tenant.toml"), format!("api_token_sha256 = [\"{}\"]\n", sha(OTHER)))
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("serve.toml");
    std::fs::write(&config, format!("admin_token_sha256 = \"{}\"\n", sha(ADMIN))).unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &["--config", &config.display().to_string()]).unwrap();
    for (tenant, conv) in [("acme", "CON-ACME"), ("other", "CON-OTHER")] {
        let url = host.url(&format!("/{tenant}/hello/answer?uuid=u&conversation_uuid={conv}&from=1"));
        assert_eq!(get(&url).unwrap().status, 200);
    }
    let bearer = |t: &str| format!("Bearer {t}");
    let operator = bearer(ADMIN);
    assert_eq!(calls(&host, 2, &[("Authorization", &operator)]).len(), 2);

    // Without a token (an operator token is configured): refused, the page aside (it holds no data).
    for path in ["/_inspect/api/calls", "/_inspect/api/calls/CON-ACME", "/_inspect/api/live", "/metrics"] {
        assert_eq!(get(&host.url(path)).unwrap().status, 401, "{path}");
    }
    assert_eq!(get(&host.url("/_inspect")).unwrap().status, 200);
    // A tenant token sees its own tenant's calls only.
    let acme = bearer(ACME);
    let mine = json(get_with(&host.url("/_inspect/api/calls"), &[("Authorization", &acme)]).unwrap());
    let ids: Vec<&str> =
        mine["calls"].as_array().unwrap().iter().map(|c| c["conversation_uuid"].as_str().unwrap()).collect();
    assert_eq!(ids, ["CON-ACME"]);
    assert_eq!(get_with(&host.url("/_inspect/api/calls/CON-OTHER"), &[("Authorization", &acme)]).unwrap().status, 404);
    assert_eq!(
        get_with(&host.url("/_inspect/api/calls?tenant=other"), &[("Authorization", &acme)]).unwrap().status,
        403
    );
    assert_eq!(get_with(&host.url("/metrics"), &[("Authorization", &acme)]).unwrap().status, 403);
    assert_eq!(
        get_with(&host.url("/_inspect/api/calls/CON-OTHER"), &[("Authorization", &operator)]).unwrap().status,
        200
    );

    // Live: another tenant's webhook never reaches acme's stream; acme's own does.
    let record = first_live_record(&host, Some(ACME), || {
        assert_eq!(
            get(&host.url("/other/hello/answer?uuid=u2&conversation_uuid=CON-OTHER-2&from=2")).unwrap().status,
            200
        );
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            get(&host.url("/acme/hello/answer?uuid=u3&conversation_uuid=CON-ACME-2&from=3")).unwrap().status,
            200
        );
    });
    assert_eq!((record["tenant"].as_str(), record["conversation_uuid"].as_str()), (Some("acme"), Some("CON-ACME-2")));
}

#[test]
fn hosts_on_one_redis_each_show_the_whole_call() {
    let redis = RedisServer::start().unwrap();
    let plugins = tempfile::tempdir().unwrap();
    app(plugins.path(), "acme", "hello", "hello", "");
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = HostProcess::start(plugins.path(), d1.path(), &["--state", &redis.url]).unwrap();
    let b = HostProcess::start(plugins.path(), d2.path(), &["--state", &redis.url]).unwrap();

    // The call is answered by A; its input and its end reach B.
    assert_eq!(get(&a.url("/acme/hello/answer?uuid=u-s&conversation_uuid=CON-SPLIT&from=1")).unwrap().status, 200);
    // Recorded (by A's recorder task) before A's live stream is opened, so the stream's first record
    // is the one B makes next.
    assert_eq!(calls(&a, 1, &[]).len(), 1);
    let input = r#"{"dtmf":{"digits":"7","timed_out":false},"uuid":"u-s","conversation_uuid":"CON-SPLIT"}"#;
    let heard = first_live_record(&a, None, || {
        assert_eq!(post(&b.url("/acme/hello/event/menu"), input, &[]).unwrap().status, 200);
    });
    assert_eq!(heard["callback"], "menu", "A's live stream shows what B recorded: {heard}");
    let completed = r#"{"status":"completed","uuid":"u-s","conversation_uuid":"CON-SPLIT","duration":"3"}"#;
    assert_eq!(post(&b.url("/acme/hello/event"), completed, &[]).unwrap().status, 204);

    for host in [&a, &b] {
        let until = Instant::now() + Duration::from_secs(10);
        let hooks = loop {
            let r = get(&host.url("/_inspect/api/calls/CON-SPLIT")).unwrap();
            let hooks =
                if r.status == 200 { r.json().unwrap()["webhooks"].as_array().unwrap().clone() } else { Vec::new() };
            if hooks.len() >= 3 || Instant::now() > until {
                break hooks;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let kinds: Vec<String> = hooks
            .iter()
            .map(|h| {
                format!(
                    "{}{}",
                    h["webhook"].as_str().unwrap(),
                    h["callback"].as_str().map(|c| format!("/{c}")).unwrap_or_default()
                )
            })
            .collect();
        assert_eq!(kinds, ["answer", "event/menu", "event"], "{} shows the whole call", host.base_url);
        assert_eq!(hooks[1]["heard"][0], "You pressed 7. Goodbye.");
        let list = json(get(&host.url("/_inspect/api/calls")).unwrap());
        assert_eq!(list["calls"][0]["webhooks"], 3, "{list}");
    }
}
