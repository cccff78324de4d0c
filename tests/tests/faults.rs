//! Faults fail closed: hostile files in the plugin tree (a FIFO, a link to `/dev/zero`, links out of
//! the tenant's folder, names the host will not serve, a reserved app name), an emptied
//! `tenant.toml`, config errors that must not echo values, replayed and out-of-range signed tokens,
//! and plugin text that tries to forge host log lines; each through the real binary.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use ncco_host::signature::sign;
use ncco_tests::{HostProcess, get, plugin_wasm, post};
use serde_json::Value;
use sha2::{Digest, Sha256};

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn admin(host: &HostProcess) -> Value {
    get(&host.url("/_admin/apps")).unwrap().json().unwrap()
}

fn app_error(host: &HostProcess, tenant: &str, app: &str) -> String {
    let admin = admin(host);
    let row = admin["apps"].as_array().unwrap().iter().find(|a| a["tenant"] == tenant && a["app"] == app).cloned();
    row.and_then(|r| r["last_error"].as_str().map(str::to_owned)).unwrap_or_default()
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !ok() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A plugin tree with `acme/hello.wasm`; returns it and the tenant's folder.
fn tree_with_hello() -> (tempfile::TempDir, std::path::PathBuf) {
    let plugins = tempfile::tempdir().unwrap();
    let acme = plugins.path().join("acme");
    std::fs::create_dir_all(&acme).unwrap();
    std::fs::copy(plugin_wasm("hello").unwrap(), acme.join("hello.wasm")).unwrap();
    (plugins, acme)
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

#[test]
fn fifos_device_links_and_links_out_of_the_tenant_are_refused_without_wedging_anything() {
    let plugins = tempfile::tempdir().unwrap();
    let (acme, globex) = (plugins.path().join("acme"), plugins.path().join("globex"));
    std::fs::create_dir_all(&acme).unwrap();
    std::fs::create_dir_all(&globex).unwrap();
    let hello = plugin_wasm("hello").unwrap();
    std::fs::copy(&hello, acme.join("hello.wasm")).unwrap();
    std::fs::copy(&hello, globex.join("secret.wasm")).unwrap();
    std::fs::write(globex.join("secret.toml"), "[vars]\ntoken = \"globex-only\"\n").unwrap();
    // Present at start: a FIFO plugin and a FIFO config, a link to /dev/zero, links to another tenant.
    mkfifo(&acme.join("fifo.wasm"));
    std::fs::copy(&hello, acme.join("piped.wasm")).unwrap();
    mkfifo(&acme.join("piped.toml"));
    std::os::unix::fs::symlink("/dev/zero", acme.join("zero.wasm")).unwrap();
    std::os::unix::fs::symlink(globex.join("secret.wasm"), acme.join("stolen.wasm")).unwrap();
    std::os::unix::fs::symlink(globex.join("secret.toml"), acme.join("hello.toml")).unwrap();
    // A link that stays inside the tenant's folder is fine.
    std::os::unix::fs::symlink(acme.join("hello.wasm"), acme.join("alias.wasm")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let host = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(get(&host.url("/healthz")).unwrap().status, 200);
    assert!(get(&host.url("/acme/alias/answer?from=447700900000")).unwrap().body.contains("Hello 447700900000."));
    for (app, why) in [
        ("fifo", "not a regular file"),
        ("piped", "not a regular file"),
        ("zero", "out of the tenant's folder"),
        ("stolen", "out of the tenant's folder"),
        ("hello", "out of the tenant's folder"),
    ] {
        let e = app_error(&host, "acme", app);
        assert!(e.contains(why), "{app}: {e}");
    }
    // The stolen plugin is not run (its caller hears the fallback); hello runs with its default
    // config, not globex's.
    let stolen = get(&host.url("/acme/stolen/answer?from=447700900000")).unwrap();
    assert!(!stolen.body.contains("Hello") && stolen.body.contains("temporarily unavailable"), "{}", stolen.body);
    assert!(!app_error(&host, "acme", "hello").contains("globex-only"));

    // Hot reload is not wedged by a FIFO dropped in later either.
    mkfifo(&acme.join("late.wasm"));
    std::fs::copy(&hello, acme.join("after.wasm")).unwrap();
    wait_for("the app dropped after the FIFO", || {
        get(&host.url("/acme/after/answer?from=447700900000")).unwrap().body.contains("Hello 447700900000.")
    });
    // And SIGTERM still ends the host.
    let stopping = Instant::now();
    let status = host.terminate().unwrap();
    assert!(stopping.elapsed() < Duration::from_secs(20), "shutdown took {:?}", stopping.elapsed());
    assert!(status.success() || status.code().is_none(), "{status:?}");
}

#[test]
fn names_it_will_not_serve_and_linked_tenant_folders_are_reported() {
    let plugins = tempfile::tempdir().unwrap();
    let acme = plugins.path().join("acme");
    std::fs::create_dir_all(&acme).unwrap();
    let hello = plugin_wasm("hello").unwrap();
    for name in ["hello.wasm", "My App.wasm", "Hello.WASM", "tenant.wasm", &format!("{}.wasm", "a".repeat(129))] {
        std::fs::copy(&hello, acme.join(name)).unwrap();
    }
    std::os::unix::fs::symlink(&acme, plugins.path().join("mirror")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
    let admin = admin(&host);
    let ignored: Vec<String> =
        admin["ignored"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    for needle in ["acme/My App.wasm", "acme/Hello.WASM", "acme/tenant.wasm", "acme/aaaa", "mirror: a tenant folder"] {
        assert!(ignored.iter().any(|i| i.starts_with(needle)), "{needle} not reported: {ignored:#?}");
    }
    // The reserved name did not take the tenant down; the good app still answers.
    assert!(get(&host.url("/acme/hello/answer?from=447700900000")).unwrap().body.contains("Hello 447700900000."));
    assert_eq!(get(&host.url("/mirror/hello/answer")).unwrap().status, 404);
}

#[test]
fn an_emptied_tenant_toml_keeps_signing_on_and_config_errors_echo_no_values() {
    let (plugins, acme) = tree_with_hello();
    std::fs::write(acme.join("tenant.toml"), format!("signature_secret = \"{SECRET}\"\n")).unwrap();
    let fresh = plugins.path().join("fresh");
    std::fs::create_dir_all(&fresh).unwrap();
    std::fs::copy(plugin_wasm("hello").unwrap(), fresh.join("hello.wasm")).unwrap();
    std::fs::write(fresh.join("tenant.toml"), "").unwrap();
    let data = tempfile::tempdir().unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
    let url = host.url("/acme/hello/answer?from=447700900000");
    assert_eq!(get(&url).unwrap().status, 404, "unsigned must be refused");

    std::fs::write(acme.join("tenant.toml"), "").unwrap();
    wait_for("the emptied tenant.toml to be seen", || {
        admin(&host)["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["tenant"] == "acme" && !t["config_error"].is_null())
    });
    let admin_now = admin(&host);
    let acme_row = admin_now["tenants"].as_array().unwrap().iter().find(|t| t["tenant"] == "acme").unwrap().clone();
    assert_eq!(acme_row["signing"], true, "{acme_row}");
    assert!(acme_row["config_error"].as_str().unwrap().contains("no keys"), "{acme_row}");
    assert_eq!(get(&url).unwrap().status, 404, "an emptied tenant.toml turned signing off");
    // A tenant whose first tenant.toml is empty is not served at all (fail closed).
    let fresh_row = admin_now["tenants"].as_array().unwrap().iter().find(|t| t["tenant"] == "fresh").unwrap().clone();
    assert_eq!(fresh_row["served"], false, "{fresh_row}");
    assert_eq!(get(&host.url("/fresh/hello/answer")).unwrap().status, 404);

    // A mistyped secret is named by its key, never echoed.
    std::fs::write(acme.join("tenant.toml"), "signature_secret = 987654321987\n").unwrap();
    wait_for("the mistyped tenant.toml to be seen", || {
        admin(&host)["tenants"].as_array().unwrap().iter().any(|t| {
            t["tenant"] == "acme" && t["config_error"].as_str().is_some_and(|e| e.contains("signature_secret"))
        })
    });
    let text = serde_json::to_string(&admin(&host)).unwrap();
    assert!(!text.contains("987654321987"), "{text}");
    // Logs are written by a writer thread: the error line is there before the check that it does
    // not echo the value.
    assert!(host.wait_for_log("signature_secret"), "{}", host.log());
    assert!(!host.log().contains("987654321987"), "{}", host.log());
}

fn hs256(claims: &Value) -> String {
    let h = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let c = URL_SAFE_NO_PAD.encode(claims.to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{h}.{c}").as_bytes());
    format!("{h}.{c}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

#[test]
fn a_signed_token_is_good_once_for_its_application_and_never_crashes_the_host() {
    let (plugins, acme) = tree_with_hello();
    std::fs::write(acme.join("tenant.toml"), format!("signature_secret = \"{SECRET}\"\napplication_id = \"app-1\"\n"))
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
    let url = host.url("/acme/hello/answer");
    let body = r#"{"from":"447700900000","to":"442079460000","uuid":"u-1","conversation_uuid":"CON-1"}"#;
    let bearer = |t: &str| format!("Bearer {t}");

    let token = sign(SECRET, body.as_bytes(), now(), "key", Some("app-1"));
    assert_eq!(post(&url, body, &[("Authorization", &bearer(&token))]).unwrap().status, 200);
    for _ in 0..3 {
        assert_eq!(post(&url, body, &[("Authorization", &bearer(&token))]).unwrap().status, 404, "replayed");
    }
    wait_for("the replay in the log", || host.log().contains("replayed `jti`"));
    let other_app = sign(SECRET, body.as_bytes(), now(), "key", Some("app-2"));
    assert_eq!(post(&url, body, &[("Authorization", &bearer(&other_app))]).unwrap().status, 404);
    wait_for("the wrong application in the log", || host.log().contains("`application_id` is not the tenant's"));

    // Validly signed, absurd times: answered (refused), never a dropped connection.
    let hash: String = Sha256::digest(body.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    for (i, claims) in [
        serde_json::json!({"iat": -1e30, "jti": "j-1", "payload_hash": hash, "application_id": "app-1"}),
        serde_json::json!({"iat": now(), "exp": -1e30, "jti": "j-2", "payload_hash": hash, "application_id": "app-1"}),
        serde_json::json!({"iat": now(), "nbf": 1e300, "jti": "j-3", "payload_hash": hash, "application_id": "app-1"}),
        serde_json::json!({"iat": i64::MIN, "jti": "j-4", "payload_hash": hash, "application_id": "app-1"}),
    ]
    .iter()
    .enumerate()
    {
        let r = post(&url, body, &[("Authorization", &bearer(&hs256(claims)))]);
        let r = r.unwrap_or_else(|e| panic!("case {i}: the connection was dropped: {e}"));
        assert_eq!(r.status, 404, "case {i}: {}", r.body);
    }
    assert!(!host.log().contains("panicked"), "{}", host.log());
    assert_eq!(get(&host.url("/healthz")).unwrap().status, 200);
}

#[test]
fn caller_text_in_a_plugin_log_cannot_forge_host_log_lines() {
    let (plugins, _) = tree_with_hello();
    let data = tempfile::tempdir().unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
    let forged = "447700900000\n2026-12-01T00:00:00Z ERROR ncco_host: plugin failed tenant=globex kind=trap\r\x1b[2K";
    let body = serde_json::json!({"from": forged, "to": "442079460000", "uuid": "u-1", "conversation_uuid": "CON-1"});
    assert_eq!(post(&host.url("/acme/hello/answer"), &body.to_string(), &[]).unwrap().status, 200);
    wait_for("the plugin's log line", || host.log().contains("plugin log"));
    let log = host.log();
    assert!(!log.lines().any(|l| l.starts_with("2026-12-01T00:00:00Z ERROR")), "{log}");
    assert!(!log.contains('\x1b'), "{log:?}");
    assert!(log.contains("tenant=globex kind=trap"), "the text is still there, escaped: {log}");
}

/// `wasm` with a custom section appended: a different component (another hash) that runs the same.
fn variant(wasm: &[u8], n: usize) -> Vec<u8> {
    let name = b"variant";
    let payload = n.to_string().into_bytes();
    let size = 1 + name.len() + payload.len();
    assert!(size < 128, "one-byte LEB128 sizes only");
    let mut out = wasm.to_vec();
    out.push(0);
    out.push(u8::try_from(size).unwrap());
    out.push(u8::try_from(name.len()).unwrap());
    out.extend_from_slice(name);
    out.extend_from_slice(&payload);
    out
}

#[test]
fn a_tenant_compiling_many_new_plugins_is_rate_limited_and_the_rest_come_later() {
    let plugins = tempfile::tempdir().unwrap();
    let acme = plugins.path().join("acme");
    std::fs::create_dir_all(&acme).unwrap();
    let hello = std::fs::read(plugin_wasm("hello").unwrap()).unwrap();
    for n in 0..12 {
        std::fs::write(acme.join(format!("app{n:02}.wasm")), variant(&hello, n)).unwrap();
    }
    // Another tenant is not held up by acme's compiles.
    std::fs::create_dir_all(plugins.path().join("other")).unwrap();
    std::fs::write(plugins.path().join("other/hello.wasm"), variant(&hello, 99)).unwrap();
    let data = tempfile::tempdir().unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
    let admin = admin(&host);
    let rows: Vec<&Value> = admin["apps"].as_array().unwrap().iter().filter(|a| a["tenant"] == "acme").collect();
    let loaded = rows.iter().filter(|a| a["version"].is_string()).count();
    let deferred: Vec<&&Value> =
        rows.iter().filter(|a| a["last_error"].as_str().is_some_and(|e| e.contains("in the last minute"))).collect();
    assert_eq!(loaded, 10, "{admin}");
    assert_eq!(deferred.len(), 2, "{admin}");
    // Their callers hear the fallback meanwhile; the other tenant's app is live.
    assert_eq!(get(&host.url("/acme/app11/answer")).unwrap().status, 200);
    assert!(get(&host.url("/other/hello/answer?from=447700900000")).unwrap().body.contains("Hello 447700900000."));
}

#[test]
fn a_deleted_tenant_folder_keeps_calls_in_progress_on_their_version() {
    let (plugins, acme) = tree_with_hello();
    let data = tempfile::tempdir().unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
    let answer = host.url("/acme/hello/answer?from=447700900000&uuid=u-1&conversation_uuid=CON-LIVE");
    assert!(get(&answer).unwrap().body.contains("Hello 447700900000."));
    // The pin is written off the answer's path; give it a moment.
    std::thread::sleep(Duration::from_millis(300));

    // The operator moves the folder away mid-call.
    std::fs::rename(&acme, plugins.path().join("acme-gone")).unwrap();
    wait_for("the folder's removal", || get(&answer).unwrap().status == 404);
    // The call in progress still gets its callbacks answered by the version that answered it.
    let input = r#"{"dtmf":{"digits":"7","timed_out":false},"uuid":"u-1","conversation_uuid":"CON-LIVE"}"#;
    let r = post(&host.url("/acme/hello/event/menu"), input, &[]).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("You pressed 7"), "{}", r.body);
    // Once it completes, the removed tenant is gone for good.
    let completed = r#"{"status":"completed","uuid":"u-1","conversation_uuid":"CON-LIVE","duration":"9"}"#;
    post(&host.url("/acme/hello/event"), completed, &[]).unwrap();
    std::fs::create_dir_all(plugins.path().join("poke")).unwrap();
    wait_for("the removed tenant to go", || {
        !admin(&host)["apps"].as_array().unwrap().iter().any(|a| a["tenant"] == "acme")
    });
}
