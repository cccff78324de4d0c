//! Plugins' outbound HTTP through the real binary: real plugins (crm-lookup, voicemail, the fetcher
//! fixture) built from source, backends on loopback that log every connection they get.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use ncco_tests::{Backend, Canned, HostProcess, Seen, get, plugin_wasm, post};
use serde_json::Value;

/// A host serving `apps` (`(app, crate, toml)`) of tenant `acme`; `private` sets the operator's
/// `allow_private_networks` (the backends here are all on loopback).
struct Served {
    host: HostProcess,
    plugins: tempfile::TempDir,
    _data: tempfile::TempDir,
}

impl Served {
    fn start(private: bool, apps: &[(&str, &str, &str)]) -> Served {
        let plugins = tempfile::tempdir().unwrap();
        let tenant = plugins.path().join("acme");
        std::fs::create_dir_all(&tenant).unwrap();
        for (app, crate_name, toml) in apps {
            std::fs::copy(plugin_wasm(crate_name).unwrap(), tenant.join(format!("{app}.wasm"))).unwrap();
            std::fs::write(tenant.join(format!("{app}.toml")), toml).unwrap();
        }
        let data = tempfile::tempdir().unwrap();
        let config = data.path().join("serve.toml");
        std::fs::write(&config, format!("allow_private_networks = {private}\n")).unwrap();
        let host = HostProcess::start(plugins.path(), data.path(), &["--config", config.to_str().unwrap()]).unwrap();
        Served { host, plugins, _data: data }
    }

    fn answer(&self, app: &str, from: &str, conversation: &str) -> Value {
        let url =
            self.host.url(&format!("/acme/{app}/answer?from={from}&to=442079460000&conversation_uuid={conversation}"));
        let r = get(&url).unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        r.json().unwrap()
    }

    fn said(&self, app: &str) -> String {
        let ncco = self.answer(app, "447700900000", "CON-said");
        ncco[0]["text"].as_str().unwrap().to_owned()
    }

    /// The host calls the inspector recorded for the first webhook of `conversation` (records are
    /// stored by a task of their own, a moment after the answer).
    fn host_calls(&self, conversation: &str) -> Vec<String> {
        let until = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let call = get(&self.host.url(&format!("/_inspect/api/calls/{conversation}"))).unwrap().json().unwrap();
            if let Some(calls) = call["webhooks"][0]["host_calls"].as_array() {
                return calls.iter().map(|c| c.as_str().unwrap().to_owned()).collect();
            }
            assert!(std::time::Instant::now() < until, "no record of {conversation}: {call}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn app_error(&self, app: &str) -> Option<String> {
        let apps = get(&self.host.url("/_admin/apps")).unwrap().json().unwrap();
        let app = apps["apps"].as_array().unwrap().iter().find(|a| a["app"] == app).cloned().unwrap();
        app["last_error"].as_str().map(str::to_owned)
    }
}

/// The CRM of these tests: it knows two callers, by names only it has.
fn start_crm() -> Backend {
    Backend::start(|seen: &Seen| match seen.path.as_str() {
        "/callers/447700900001" => Canned::json(200, r#"{"name": "Ottoline Quist", "tier": "gold"}"#),
        "/callers/447700900002" => Canned::json(200, r#"{"name": "Berenike Vasquez", "tier": "silver"}"#),
        _ => Canned::json(404, r#"{"error": "no such caller"}"#),
    })
    .unwrap()
}

fn crm_toml(allowed: &str, crm_url: &str, extra_vars: &str) -> String {
    format!(
        "allowed_outbound_hosts = [{allowed}]\ntimeout_ms = 2000\n[vars]\ncrm_url = \"{crm_url}\"\ngold_number = \"447700900100\"\nsales_number = \"447700900001\"\n{extra_vars}"
    )
}

fn actions(ncco: &Value) -> Vec<&str> {
    ncco.as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect()
}

#[test]
fn a_crm_on_loopback_greets_callers_by_name_and_routes_them_by_tier() {
    let crm = start_crm();
    let allowed = format!("\"http://127.0.0.1:{}\"", crm.port);
    let toml = crm_toml(&allowed, &crm.base_url, "crm_token = \"s3cret\"\n");
    let served = Served::start(true, &[("crm", "crm-lookup", &toml)]);

    // Gold: greeted by the name only the CRM knows, and connected at once.
    let gold = served.answer("crm", "447700900001", "CON-gold");
    assert_eq!(gold[0]["text"], "Hello Ottoline Quist, welcome back.", "{gold}");
    assert_eq!(actions(&gold), ["talk", "connect"]);
    assert_eq!(gold[1]["endpoint"][0]["number"], "447700900100");
    // Another tier: the name, then the menu.
    let silver = served.answer("crm", "447700900002", "CON-silver");
    assert_eq!(silver[0]["text"], "Hello Berenike Vasquez, welcome back.");
    assert_eq!(actions(&silver), ["talk", "talk", "input"]);
    // Unknown to the CRM (404): the generic greeting, not the fallback.
    let unknown = served.answer("crm", "447700900009", "CON-unknown");
    assert_eq!(unknown[0]["text"], "Hello, thank you for calling.");
    assert_eq!(actions(&unknown), ["talk", "talk", "input"]);

    // What the CRM saw: the three lookups, with the plugin's headers and the host's `host`.
    let seen = crm.requests();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, ["/callers/447700900001", "/callers/447700900002", "/callers/447700900009"]);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].header("accept"), Some("application/json"));
    assert_eq!(seen[0].header("authorization"), Some("Bearer s3cret"));
    assert_eq!(seen[0].header("host"), Some(format!("127.0.0.1:{}", crm.port).as_str()));
    // Connections are pooled: three requests, fewer connections than that is allowed, more is not.
    assert!(crm.connections() <= 3, "{} connections", crm.connections());

    // Each request is noted on its call: method, URL, status, bytes, time.
    let calls = served.host_calls("CON-gold");
    let line = calls.iter().find(|c| c.starts_with("http GET")).unwrap_or_else(|| panic!("{calls:?}"));
    assert!(line.starts_with(&format!("http GET {}/callers/447700900001 -> 200, ", crm.base_url)), "{line}");
    assert!(line.contains(" bytes") && line.ends_with(" ms)"), "{line}");
    let calls = served.host_calls("CON-unknown");
    assert!(calls.iter().any(|c| c.contains("/callers/447700900009 -> 404")), "{calls:?}");
    // And counted.
    let metrics = get(&served.host.url("/metrics")).unwrap().body;
    assert!(
        metrics
            .contains(r#"ncco_outbound_request_duration_seconds_count{tenant="acme",app="crm",outcome="response"} 3"#),
        "{metrics}"
    );
}

#[test]
fn a_backend_outside_the_allow_list_never_sees_a_request() {
    let crm = start_crm();
    let denied = start_crm();
    // The allow-list names the CRM; the plugin is pointed at another port of the same address.
    let allowed = format!("\"http://127.0.0.1:{}\"", crm.port);
    let served = Served::start(true, &[("crm", "crm-lookup", &crm_toml(&allowed, &denied.base_url, ""))]);
    let ncco = served.answer("crm", "447700900001", "CON-denied");
    assert_eq!(ncco[0]["text"], "Hello, thank you for calling.", "{ncco}");
    assert_eq!(denied.connections(), 0, "the denied backend was contacted: {:?}", denied.requests());
    assert_eq!(crm.connections(), 0);
    let calls = served.host_calls("CON-denied");
    assert!(
        calls.iter().any(|c| c.contains("-> denied: 127.0.0.1:") && c.contains("allowed_outbound_hosts")),
        "{calls:?}"
    );
}

#[test]
fn loopback_by_address_or_by_name_is_refused_without_the_operators_permission() {
    let crm = start_crm();
    let port = crm.port;
    let allowed = format!("\"http://127.0.0.1:{port}\", \"http://localhost:{port}\", \"http://[::1]:{port}\"");
    let by_ip = crm_toml(&allowed, &crm.base_url, "");
    let by_name = crm_toml(&allowed, &format!("http://localhost:{port}"), "");
    let fetch = format!(
        "allowed_outbound_hosts = [{allowed}]\n[vars]\nurls = \"http://127.0.0.1:{port}/callers/447700900001 http://localhost:{port}/x http://[::1]:{port}/x\"\n"
    );
    let served = Served::start(
        false,
        &[("by-ip", "crm-lookup", &by_ip), ("by-name", "crm-lookup", &by_name), ("fetch", "fetcher", &fetch)],
    );
    for app in ["by-ip", "by-name"] {
        let ncco = served.answer(app, "447700900001", &format!("CON-{app}"));
        assert_eq!(ncco[0]["text"], "Hello, thank you for calling.", "{app}: {ncco}");
    }
    // The plugin sees `destination-IP-prohibited` for each.
    assert_eq!(served.said("fetch"), "prohibited prohibited prohibited");
    assert_eq!(crm.connections(), 0, "{:?}", crm.requests());
    let calls = served.host_calls("CON-by-name");
    assert!(calls.iter().any(|c| c.contains("private, loopback or link-local")), "{calls:?}");
}

#[test]
fn a_crm_slower_than_the_deadline_still_gets_the_caller_greeted_in_time() {
    let slow =
        Backend::start(|_: &Seen| Canned::json(200, r#"{"name": "Too Late"}"#).after(Duration::from_secs(8))).unwrap();
    let allowed = format!("\"http://127.0.0.1:{}\"", slow.port);
    // The plugin would wait 10 s; the webhook's deadline is 1 s.
    let toml = crm_toml(&allowed, &slow.base_url, "crm_timeout_ms = 10000\n")
        .replace("timeout_ms = 2000", "timeout_ms = 1000");
    // This one would wait 300 ms, well inside its 2 s deadline.
    let patient = crm_toml(&allowed, &slow.base_url, "crm_timeout_ms = 300\n");
    let served = Served::start(true, &[("crm", "crm-lookup", &toml), ("patient", "crm-lookup", &patient)]);
    let ncco = served.answer("crm", "447700900001", "CON-slow");
    // The request was cut before the deadline, so the plugin itself answered (not the fallback).
    assert_eq!(ncco[0]["text"], "Hello, thank you for calling.", "{ncco}");
    assert_eq!(slow.requests().len(), 1);
    let calls = served.host_calls("CON-slow");
    // Cut at the deadline less the reserve (1000 - 100 ms, less the time before the request).
    let cut = calls.iter().find_map(|c| c.split("-> timed out after ").nth(1)).unwrap_or_else(|| panic!("{calls:?}"));
    let ms: u64 = cut.split(' ').next().unwrap().parse().unwrap();
    assert!((100..=900).contains(&ms), "cut after {ms} ms: {calls:?}");
    // The plugin's own, shorter timeout is kept.
    let ncco = served.answer("patient", "447700900001", "CON-patient");
    assert_eq!(ncco[0]["text"], "Hello, thank you for calling.", "{ncco}");
    let calls = served.host_calls("CON-patient");
    assert!(calls.iter().any(|c| c.contains("-> timed out after 300 ms")), "{calls:?}");
}

#[test]
fn the_per_webhook_caps_and_the_request_rules_hold() {
    let big = vec![b'x'; 3000];
    let backend = Backend::start(move |seen: &Seen| match seen.path.as_str() {
        "/big" => Canned { body: big.clone(), ..Canned::json(200, "") },
        "/moved" => Canned { headers: vec![("location".into(), "/elsewhere".into())], ..Canned::json(302, "") },
        _ => Canned::json(200, "{}"),
    })
    .unwrap();
    let port = backend.port;
    let base = &backend.base_url;
    let allowed = format!("allowed_outbound_hosts = [\"http://127.0.0.1:{port}\"]\n");
    // Three requests at most: the fourth and fifth are refused, never sent.
    let counted = format!(
        "{allowed}max_outbound_requests = 3\n[vars]\nurls = \"{base}/a {base}/b {base}/c {base}/d {base}/e\"\n"
    );
    // 2,000 response bytes per webhook: the 3,000-byte body is refused, a small one still fits.
    let sized = format!("{allowed}max_outbound_response_bytes = 2000\n[vars]\nurls = \"{base}/big {base}/small\"\n");
    // A redirect is handed to the plugin, not followed.
    let redirected = format!("{allowed}[vars]\nurls = \"{base}/moved\"\n");
    // A `host` header of the plugin's own is refused before anything is sent.
    let forged = format!("{allowed}[vars]\nurls = \"{base}/forged\"\nheader = \"host: evil.example\"\n");
    let served = Served::start(
        true,
        &[
            ("counted", "fetcher", &counted),
            ("sized", "fetcher", &sized),
            ("redirected", "fetcher", &redirected),
            ("forged", "fetcher", &forged),
        ],
    );
    assert_eq!(served.said("counted"), "200:2 200:2 200:2 limit limit");
    assert_eq!(served.said("sized"), "too-large 200:2");
    assert_eq!(served.said("redirected"), "302:0");
    assert_eq!(served.said("forged"), "bad-header");
    let paths: Vec<String> = backend.requests().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["/a", "/b", "/c", "/big", "/small", "/moved"], "only allowed requests were sent");
    // Every webhook starts with its caps whole again.
    assert_eq!(served.said("counted"), "200:2 200:2 200:2 limit limit");
}

#[test]
fn a_plugin_importing_http_is_refused_until_its_app_allows_a_host() {
    let crm = start_crm();
    let no_list = format!("timeout_ms = 2000\n[vars]\ncrm_url = \"{}\"\n", crm.base_url);
    let served = Served::start(true, &[("crm", "crm-lookup", &no_list), ("hello", "hello", "")]);
    let error = served.app_error("crm").expect("refused at load");
    assert!(error.contains("imports wasi:http") && error.contains("`allowed_outbound_hosts`"), "{error}");
    assert_eq!(error.matches("crm.wasm").count(), 1, "the file is named once: {error}");
    // A plugin that does not import it needs no list.
    assert_eq!(served.app_error("hello"), None);
    // The app is not served by the refused plugin: its webhooks get the fallback.
    let ncco = served.answer("crm", "447700900001", "CON-refused");
    assert!(ncco[0]["text"].as_str().unwrap().contains("temporarily unavailable"), "{ncco}");

    // Allowing the CRM in the app's file is enough: the same plugin loads, with no restart.
    let toml = served.plugins.path().join("acme/crm.toml");
    std::fs::write(&toml, crm_toml(&format!("\"http://127.0.0.1:{}\"", crm.port), &crm.base_url, "")).unwrap();
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while served.app_error("crm").is_some() {
        assert!(std::time::Instant::now() < until, "still refused: {:?}", served.app_error("crm"));
        std::thread::sleep(Duration::from_millis(50));
    }
    let ncco = served.answer("crm", "447700900001", "CON-allowed");
    assert_eq!(ncco[0]["text"], "Hello Ottoline Quist, welcome back.");
}

#[test]
fn voicemail_posts_each_new_message_to_the_notify_url() {
    let hooks = Backend::start(|_: &Seen| Canned::json(204, "")).unwrap();
    let toml = format!(
        "allowed_outbound_hosts = [\"http://127.0.0.1:{}\"]\ntimeout_ms = 3000\n[vars]\nnotify_url = \"{}/voicemail\"\n",
        hooks.port, hooks.base_url
    );
    let served = Served::start(true, &[("voicemail", "voicemail", &toml)]);
    served.answer("voicemail", "447700900123", "CON-vm-notify");
    let record = r#"{"recording_url":"https://api.nexmo.com/v1/files/file-9","recording_uuid":"rec-9","start_time":"2026-12-01T10:00:00Z","end_time":"2026-12-01T10:00:42Z","size":3000,"conversation_uuid":"CON-vm-notify"}"#;
    let r = post(&served.host.url("/acme/voicemail/event/recording"), record, &[]).unwrap();
    assert_eq!(r.status, 204, "{}", r.body);
    let seen = hooks.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!((seen[0].method.as_str(), seen[0].path.as_str()), ("POST", "/voicemail"));
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    let body: Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(body["event"], "voicemail.message");
    assert_eq!(body["tenant"], "acme");
    assert_eq!(body["caller"], "447700900123");
    assert_eq!(body["recording_url"], "https://api.nexmo.com/v1/files/file-9");
    assert_eq!(body["duration_seconds"], 42);
    assert!(served.host.wait_for_log("message posted to the notify_url (204)"), "{}", served.host.log());
}
