//! `ncco-host serve` as a process on loopback, with plugins built from source: answer by GET and
//! POST, event callbacks, rtc events, errors, the admin view.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use ncco_tests::{HostProcess, get, plugin_wasm, post};
use serde_json::Value;

fn tree(apps: &[(&str, &str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (tenant, app, crate_name) in apps {
        std::fs::create_dir_all(dir.path().join(tenant)).unwrap();
        std::fs::copy(plugin_wasm(crate_name).unwrap(), dir.path().join(tenant).join(format!("{app}.wasm"))).unwrap();
    }
    dir
}

fn start(plugins: &Path) -> (HostProcess, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    (HostProcess::start(plugins, data.path(), &[]).unwrap(), data)
}

fn talk_text(ncco: &Value, i: usize) -> String {
    ncco[i]["text"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn answers_get_and_post_with_the_plugin_ncco() {
    let plugins = tree(&[("acme", "hello", "hello")]);
    std::fs::write(plugins.path().join("acme/hello.toml"), "[vars]\ngreeting = \"Welcome\"\n").unwrap();
    let (host, _data) = start(plugins.path());

    let r =
        get(&host.url("/acme/hello/answer?to=442079460000&from=447700900000&uuid=u1&conversation_uuid=CON-1")).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let ncco = r.json().unwrap();
    assert_eq!(talk_text(&ncco, 0), "Welcome 447700900000.");
    assert_eq!(ncco[2]["action"], "input");
    assert_eq!(ncco[2]["eventUrl"][0], host.url("/acme/hello/event/menu"));

    let body =
        r#"{"from_user":"alice","to":"447700900001","uuid":"u2","conversation_uuid":"CON-2","custom_data":{"a":1}}"#;
    let r = post(&host.url("/acme/hello/answer"), body, &[]).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(talk_text(&r.json().unwrap(), 0), "Welcome alice.");

    // The fallback_answer_url request is answered by the plugin too.
    let body = r#"{"from":"447700900000","to":"442079460000","uuid":"u3","conversation_uuid":"CON-3","reason":"Connection closed.","original_request":{"url":"https://x.example/answer","type":"answer"}}"#;
    let r = post(&host.url("/acme/hello/fallback"), body, &[]).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(talk_text(&r.json().unwrap(), 0), "Welcome 447700900000.");
}

#[test]
fn an_input_callback_returns_the_next_ncco_and_plain_events_get_no_content() {
    let plugins = tree(&[("acme", "hello", "hello")]);
    let (host, _data) = start(plugins.path());
    let input = r#"{"speech":{"results":[]},"dtmf":{"digits":"7","timed_out":false},"from":"447700900000","to":"442079460000","uuid":"u1","conversation_uuid":"CON-1","timestamp":"2026-05-04T09:15:20.331Z"}"#;
    let r = post(&host.url("/acme/hello/event/menu"), input, &[]).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(talk_text(&r.json().unwrap(), 0), "You pressed 7. Goodbye.");

    // The same input on the plain event URL: the plugin returns nothing, the call goes on.
    let r = post(&host.url("/acme/hello/event"), input, &[]).unwrap();
    assert_eq!(r.status, 204);

    let started = r#"{"from":"442079460000","to":"447700900000","uuid":"u1","conversation_uuid":"CON-1","status":"started","direction":"inbound","timestamp":"2026-05-04T09:15:00.000Z"}"#;
    assert_eq!(post(&host.url("/acme/hello/event"), started, &[]).unwrap().status, 204);
    // Events by GET, as with event_method GET.
    let r = get(&host.url("/acme/hello/event?from=1&to=2&uuid=u1&conversation_uuid=CON-1&status=ringing")).unwrap();
    assert_eq!(r.status, 204);
}

#[test]
fn rtc_events_reach_the_plugin_and_get_no_content() {
    let plugins = tree(&[("acme", "hello", "hello")]);
    let (host, _data) = start(plugins.path());
    let case =
        std::fs::read_to_string(ncco_tests::shared_dir().join("conformance/webhooks/wh-29-rtc-member-joined.json"))
            .unwrap();
    let case: Value = serde_json::from_str(&case).unwrap();
    let r = post(&host.url("/acme/hello/rtc"), &case["request"]["body"].to_string(), &[]).unwrap();
    assert_eq!(r.status, 204, "{}", r.body);
}

#[test]
fn bad_requests_get_json_errors() {
    let plugins = tree(&[("acme", "hello", "hello")]);
    let (host, _data) = start(plugins.path());

    // Unknown tenant and unknown app look alike: nothing tells a caller which exist.
    let r = get(&host.url("/nobody/hello/answer")).unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.json().unwrap()["error"]["code"], "not_found");
    let other = get(&host.url("/acme/nothing/answer")).unwrap();
    assert_eq!((other.status, &other.body), (r.status, &r.body));

    let r = post(&host.url("/acme/hello/answer"), "this is not json", &[]).unwrap();
    assert_eq!(r.status, 400);
    assert!(r.json().unwrap()["error"]["message"].as_str().unwrap().contains("malformed webhook"), "{}", r.body);
    let r = post(&host.url("/acme/hello/event"), "[1,2]", &[]).unwrap();
    assert_eq!(r.status, 400, "{}", r.body);

    // An oversized body is refused from its declared length, before it is read. The request is written
    // by hand: the host answers at once and closes, and a client still sending 2 MiB would only see
    // the broken pipe.
    let addr = host.base_url.trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    let head = format!(
        "POST /acme/hello/answer HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{\"from\":\"",
        2 << 20
    );
    std::io::Write::write_all(&mut stream, head.as_bytes()).unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    let body = response.split_once("\r\n\r\n").unwrap().1;
    assert!(body.contains(r#""code":"payload_too_large""#), "{response}");
}

#[test]
fn health_and_admin_views() {
    let plugins = tree(&[("acme", "hello", "hello"), ("zeta", "ivr", "hello")]);
    let (host, _data) = start(plugins.path());
    let r = get(&host.url("/healthz")).unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));
    let apps = get(&host.url("/_admin/apps")).unwrap().json().unwrap();
    let apps = apps["apps"].as_array().unwrap();
    assert_eq!(apps.len(), 2);
    for app in apps {
        assert_eq!(app["version"].as_str().unwrap().len(), 64, "{app}");
        assert!(app["loaded_at"].as_f64().unwrap() > 1.7e9);
        assert!(app["compile_ms"].as_f64().unwrap() > 0.0);
        assert!(app["last_error"].is_null());
    }
}

#[test]
fn a_restart_loads_compiled_artifacts_from_the_data_dir() {
    let plugins = tree(&[("acme", "hello", "hello")]);
    let data = tempfile::tempdir().unwrap();
    let first = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
    let apps = get(&first.url("/_admin/apps")).unwrap().json().unwrap();
    assert_eq!(apps["apps"][0]["from_cache"], false);
    // A fresh compile serves Winch's code at once; Cranelift's, compiled in the background into
    // the cache, takes over.
    assert_eq!(apps["apps"][0]["compiler"], "winch", "{apps}");
    assert_eq!(get(&first.url("/acme/hello/answer?from=447700900000")).unwrap().status, 200);
    let waited = std::time::Instant::now();
    while get(&first.url("/_admin/apps")).unwrap().json().unwrap()["apps"][0]["compiler"] != "cranelift" {
        assert!(waited.elapsed() < std::time::Duration::from_secs(60), "Cranelift's code never replaced Winch's");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let r = get(&first.url("/acme/hello/answer?from=447700900000")).unwrap();
    assert!(r.body.contains("Hello 447700900000."), "{}", r.body);
    let status = first.terminate().unwrap();
    assert!(status.success(), "graceful shutdown on SIGTERM: {status}");
    let second = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
    let apps = get(&second.url("/_admin/apps")).unwrap().json().unwrap();
    assert_eq!(apps["apps"][0]["from_cache"], true, "{apps}");
    assert_eq!(apps["apps"][0]["compiler"], "cranelift", "{apps}");
    assert_eq!(get(&second.url("/acme/hello/answer")).unwrap().status, 200);
}

#[test]
fn invalid_config_is_refused_with_the_file_and_key() {
    let plugins = tree(&[("acme", "hello", "hello")]);
    std::fs::write(plugins.path().join("acme/hello.toml"), "timeout_ms = 999999\nmystery = 1\n").unwrap();
    let (host, _data) = start(plugins.path());
    let apps = get(&host.url("/_admin/apps")).unwrap().json().unwrap();
    let error = apps["apps"][0]["last_error"].as_str().unwrap().to_owned();
    assert!(error.contains("hello.toml"), "{error}");
    assert!(error.contains("mystery"), "{error}");
    std::fs::write(plugins.path().join("acme/hello.toml"), "timeout_ms = 999999\n").unwrap();
    let host2 = HostProcess::start(plugins.path(), tempfile::tempdir().unwrap().path(), &[]).unwrap();
    let apps = get(&host2.url("/_admin/apps")).unwrap().json().unwrap();
    let error = apps["apps"][0]["last_error"].as_str().unwrap().to_owned();
    assert!(error.contains("`timeout_ms` must be between 1 and"), "{error}");
}
