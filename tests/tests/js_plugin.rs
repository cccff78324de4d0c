//! Plugins written in JavaScript (plugins/js-greeter, componentized with componentize-js from npm),
//! built by the test and served next to a Rust plugin by the real host: js-greeter, and js-crm,
//! whose fetch() goes through the host's outbound allow-list.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use ncco_tests::{Backend, Canned, HostProcess, Seen, get, plugin_wasm, post, workspace_root};

/// Runs `npm install` (the dependency is pinned in package.json; see its .npmrc) and the build script
/// of plugins/js-greeter (once per test process); returns the folder of the built components.
fn build_js_plugins() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_js).clone()
}

fn build_js() -> PathBuf {
    let dir = workspace_root().join("plugins/js-greeter");
    if !dir.join("node_modules/@bytecodealliance/componentize-js").is_dir() {
        let status =
            Command::new("npm").args(["install", "--no-audit", "--no-fund"]).current_dir(&dir).status().unwrap();
        assert!(status.success(), "npm install failed in {}", dir.display());
    }
    let status = Command::new("node").arg("build.mjs").current_dir(&dir).status().unwrap();
    assert!(status.success(), "building the JavaScript plugins failed");
    dir.join("dist")
}

fn text(r: &ncco_tests::Reply, i: usize) -> String {
    assert_eq!(r.status, 200, "{}", r.body);
    let ncco = r.json().unwrap();
    assert!(ncco_sdk::ncco::Validator::strict().check_str(&r.body).report.is_valid(), "{}", r.body);
    ncco[i]["text"].as_str().unwrap().to_owned()
}

#[test]
fn a_javascript_plugin_answers_next_to_a_rust_one() {
    let js = build_js_plugins().join("js-greeter.wasm");
    let plugins = tempfile::tempdir().unwrap();
    let dir = plugins.path().join("acme");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&js, dir.join("js-greeter.wasm")).unwrap();
    std::fs::copy(workspace_root().join("plugins/js-greeter/app.toml"), dir.join("js-greeter.toml")).unwrap();
    std::fs::copy(plugin_wasm("hello").unwrap(), dir.join("hello.wasm")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();

    let apps = get(&host.url("/_admin/apps")).unwrap().json().unwrap();
    for app in apps["apps"].as_array().unwrap() {
        assert!(app["last_error"].is_null(), "{app}");
    }

    let url = host.url("/acme/js-greeter/answer?from=447700900000&uuid=u1&conversation_uuid=CON-JS-1");
    let r = get(&url).unwrap();
    assert_eq!(text(&r, 0), "Hello 447700900000, from JavaScript. You are caller 1.");
    let ncco = r.json().unwrap();
    assert_eq!(ncco[2]["eventUrl"][0], host.url("/acme/js-greeter/event/menu"));
    // App state persists across calls.
    let r = get(&host.url("/acme/js-greeter/answer?from=447700900001&conversation_uuid=CON-JS-2")).unwrap();
    assert_eq!(text(&r, 0), "Hello 447700900001, from JavaScript. You are caller 2.");

    // The callback, twice in one call: call state remembers the first key.
    let press = |digit: &str| {
        let body = format!(
            r#"{{"dtmf":{{"digits":"{digit}","timed_out":false}},"uuid":"u1","conversation_uuid":"CON-JS-1"}}"#
        );
        post(&host.url("/acme/js-greeter/event/menu"), &body, &[]).unwrap()
    };
    assert_eq!(text(&press("4"), 0), "You pressed 4.");
    assert_eq!(text(&press("9"), 0), "You pressed 9. Last time you pressed 4.");
    // Plain events: no NCCO.
    let ringing = r#"{"status":"ringing","uuid":"u1","conversation_uuid":"CON-JS-1"}"#;
    assert_eq!(post(&host.url("/acme/js-greeter/event"), ringing, &[]).unwrap().status, 204);

    // The Rust plugin on the same host is unaffected.
    let r = get(&host.url("/acme/hello/answer?from=1")).unwrap();
    assert_eq!(text(&r, 0), "Hello 1.");
}

#[test]
fn a_javascript_plugin_fetches_from_an_allowed_crm_and_never_from_a_denied_one() {
    let dist = build_js_plugins();
    let crm = Backend::start(|seen: &Seen| match seen.path.as_str() {
        "/callers/447700900001" => Canned::json(200, r#"{"name": "Ysolde Marchetti"}"#),
        _ => Canned::json(404, "{}"),
    })
    .unwrap();
    let denied = Backend::start(|_: &Seen| Canned::json(200, r#"{"name": "Never Asked"}"#)).unwrap();
    let plugins = tempfile::tempdir().unwrap();
    let dir = plugins.path().join("acme");
    std::fs::create_dir_all(&dir).unwrap();
    let toml = |crm_url: &str| {
        format!(
            "allowed_outbound_hosts = [\"http://127.0.0.1:{}\"]\nmemory_mib = 128\ntimeout_ms = 3000\n[vars]\ncrm_url = \"{crm_url}\"\n",
            crm.port
        )
    };
    std::fs::copy(dist.join("js-crm.wasm"), dir.join("crm.wasm")).unwrap();
    std::fs::write(dir.join("crm.toml"), toml(&crm.base_url)).unwrap();
    std::fs::copy(dist.join("js-crm.wasm"), dir.join("other.wasm")).unwrap();
    std::fs::write(dir.join("other.toml"), toml(&denied.base_url)).unwrap();
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("serve.toml");
    std::fs::write(&config, "allow_private_networks = true\n").unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &["--config", config.to_str().unwrap()]).unwrap();

    let r = get(&host.url("/acme/crm/answer?from=447700900001&conversation_uuid=CON-JS-CRM")).unwrap();
    assert_eq!(text(&r, 0), "Hello Ysolde Marchetti, from JavaScript.");
    let r = get(&host.url("/acme/crm/answer?from=447700900002&conversation_uuid=CON-JS-CRM-2")).unwrap();
    assert_eq!(text(&r, 0), "Hello, thank you for calling.");
    let paths: Vec<String> = crm.requests().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["/callers/447700900001", "/callers/447700900002"]);

    // Pointed at a backend its allow-list does not name: fetch() is refused, the plugin answers.
    let r = get(&host.url("/acme/other/answer?from=447700900001&conversation_uuid=CON-JS-DENIED")).unwrap();
    assert_eq!(text(&r, 0), "Hello, thank you for calling.");
    assert_eq!(denied.connections(), 0);
}
