//! Deploying through the API, through the real binaries: two hosts on one real `redis-server`
//! (tenant creation, deploy, version 2, rollback, refusals that change nothing, a call kept on the
//! version that answered it, Redis stopped and started again), one host on the plugin tree (API
//! deploy, a hand-dropped file, rollback), the admin routes on their own port, and the
//! `deploy`/`versions`/`rollback` commands.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use ncco_tests::{HostProcess, RedisServer, Reply, get, get_with, ncco_host_bin, plugin_wasm, post, send};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ADMIN: &str = "operator-secret-token";
const ACME: &str = "acme-deploy-token";
const OTHER: &str = "other-tenant-token";

fn sha(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A serve config with the operator's token hash.
fn serve_config(dir: &Path) -> String {
    let file = dir.join("serve.toml");
    std::fs::write(&file, format!("admin_token_sha256 = \"{}\"\n", sha(ADMIN))).unwrap();
    file.display().to_string()
}

fn call(method: &str, host: &HostProcess, path: &str, token: &str, body: &Value) -> Reply {
    let auth = bearer(token);
    send(
        method,
        &host.url(path),
        body.to_string().as_bytes(),
        &[("Authorization", &auth), ("Content-Type", "application/json")],
    )
    .unwrap()
}

fn upload(host: &HostProcess, tenant: &str, app: &str, token: &str, wasm: &[u8], activate: bool) -> Reply {
    let auth = bearer(token);
    let path = format!("/v1/tenants/{tenant}/apps/{app}/versions?activate={activate}");
    send("PUT", &host.url(&path), wasm, &[("Authorization", &auth), ("Content-Type", "application/wasm")]).unwrap()
}

fn versions(host: &HostProcess, tenant: &str, app: &str, token: &str) -> Value {
    let auth = bearer(token);
    let r =
        get_with(&host.url(&format!("/v1/tenants/{tenant}/apps/{app}/versions")), &[("Authorization", &auth)]).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.json().unwrap()
}

/// The first talk text the app answers a new call with, or the status and body when it does not.
fn answer(host: &HostProcess, tenant: &str, app: &str, conversation: &str) -> String {
    let r = get(
        &host.url(&format!("/{tenant}/{app}/answer?from=1&uuid=u-{conversation}&conversation_uuid={conversation}"))
    )
    .unwrap();
    if r.status != 200 {
        return format!("{} {}", r.status, r.body);
    }
    r.json().ok().and_then(|v| v[0]["text"].as_str().map(str::to_owned)).unwrap_or(r.body)
}

/// Waits until `host` answers `tenant/app` with text starting with `want`; returns how long it took.
fn served(host: &HostProcess, tenant: &str, app: &str, want: &str) -> Duration {
    let started = Instant::now();
    let mut n = 0;
    loop {
        n += 1;
        let got = answer(host, tenant, app, &format!("CON-WAIT-{n}"));
        if got.starts_with(want) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{} never served `{want}`: last `{got}`\n{}",
            host.base_url,
            host.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn bytes(plugin: &str) -> Vec<u8> {
    std::fs::read(plugin_wasm(plugin).unwrap()).unwrap()
}

/// Operator creates `acme` (with a ceiling) and `other`, each with its own token.
fn create_tenants(host: &HostProcess) {
    let r = call(
        "PUT",
        host,
        "/v1/tenants/acme",
        ADMIN,
        &json!({"api_token_sha256": [{"name": "ci", "sha256": sha(ACME)}], "limits": {"timeout_ms": 1000}}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = call(
        "PUT",
        host,
        "/v1/tenants/other",
        ADMIN,
        &json!({"api_token_sha256": [sha(OTHER)], "signature_secret": "a-long-enough-secret"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let view = r.json().unwrap();
    assert_eq!(view["signature_secret_set"], true);
    assert!(view.get("signature_secret").is_none(), "the secret is never read back: {view}");
}

fn two_hosts(redis: &RedisServer, dirs: &tempfile::TempDir) -> (HostProcess, HostProcess) {
    let plugins = dirs.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let config = serve_config(dirs.path());
    let start = |name: &str| {
        HostProcess::start(&plugins, &dirs.path().join(name), &["--state", &redis.url, "--config", &config]).unwrap()
    };
    (start("a"), start("b"))
}

const HELLO: &str = "Hello 1.";
const IVR: &str = "Thank you for calling";

#[test]
fn two_hosts_on_one_redis_follow_deploys_activations_and_rollbacks() {
    let redis = RedisServer::start().unwrap();
    let dirs = tempfile::tempdir().unwrap();
    let (a, b) = two_hosts(&redis, &dirs);
    create_tenants(&a);

    // The tenant deploys through A; B serves it.
    let r = upload(&a, "acme", "app", ACME, &bytes("hello"), true);
    assert_eq!(r.status, 201, "{}", r.body);
    let v1 = r.json().unwrap();
    assert_eq!(
        (v1["version"].as_u64(), v1["active"].as_bool(), v1["deployed_by"].as_str()),
        (Some(1), Some(true), Some("ci"))
    );
    assert_eq!(v1["digest"], format!("sha256:{}", hex(&Sha256::digest(bytes("hello")))));
    assert!(answer(&a, "acme", "app", "CON-A").starts_with(HELLO));
    let took = served(&b, "acme", "app", HELLO);
    eprintln!("host B served version 1 {took:?} after the deploy through A");
    // The same bytes again are the same version.
    let again = upload(&b, "acme", "app", ACME, &bytes("hello"), false);
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json().unwrap()["version"], 1);

    // A call answered on A by version 1 ...
    assert!(answer(&a, "acme", "app", "CON-PINNED").starts_with(HELLO));
    std::thread::sleep(Duration::from_millis(200));

    // ... version 2 is deployed and activated ...
    let r = upload(&a, "acme", "app", ACME, &bytes("ivr-menu"), true);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json().unwrap()["version"], 2);
    let took = served(&b, "acme", "app", IVR);
    eprintln!("host B served version 2 {took:?} after its activation through A");
    assert!(answer(&a, "acme", "app", "CON-NEW").starts_with(IVR));

    // ... and the call's events still run on version 1 on B (hello's menu callback).
    let input = r#"{"dtmf":{"digits":"7","timed_out":false},"uuid":"u","conversation_uuid":"CON-PINNED"}"#;
    let r = post(&b.url("/acme/app/event/menu"), input, &[]).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json().unwrap()[0]["text"], "You pressed 7. Goodbye.", "the pinned call moved to version 2");
    // A host started after version 2 went live never served version 1: it loads it for that call.
    let c = HostProcess::start(
        &dirs.path().join("plugins"),
        &dirs.path().join("c"),
        &["--state", &redis.url, "--config", &serve_config(dirs.path())],
    )
    .unwrap();
    assert!(answer(&c, "acme", "app", "CON-ON-C").starts_with(IVR));
    let r = post(&c.url("/acme/app/event/menu"), input, &[]).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json().unwrap()[0]["text"], "You pressed 7. Goodbye.", "a late host ran the pinned call on version 2");
    drop(c);

    // Rollback through B; both follow.
    let r = call("POST", &b, "/v1/tenants/acme/apps/app/rollback", ACME, &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json().unwrap()["active"], 1);
    served(&a, "acme", "app", HELLO);
    served(&b, "acme", "app", HELLO);
    // Activation by number, with If-Match on the active version.
    let auth = bearer(ACME);
    let moved = send(
        "POST",
        &a.url("/v1/tenants/acme/apps/app/activate"),
        br#"{"version":2}"#,
        &[("Authorization", &auth), ("If-Match", "\"2\"")],
    )
    .unwrap();
    assert_eq!(moved.status, 409, "{}", moved.body);
    let ok = send(
        "POST",
        &a.url("/v1/tenants/acme/apps/app/activate"),
        br#"{"version":2}"#,
        &[("Authorization", &auth), ("If-Match", "\"1\"")],
    )
    .unwrap();
    assert_eq!(ok.status, 200, "{}", ok.body);
    served(&b, "acme", "app", IVR);

    let list = versions(&b, "acme", "app", ACME);
    assert_eq!(list["active"], 2);
    assert_eq!(list["history"], json!([1, 2]));
    let numbers: Vec<u64> =
        list["versions"].as_array().unwrap().iter().map(|v| v["version"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [1, 2]);

    // The active version cannot be deleted; another can.
    let r = call("DELETE", &a, "/v1/tenants/acme/apps/app/versions/2", ACME, &json!({}));
    assert_eq!(r.status, 409, "{}", r.body);
    let r = call("DELETE", &a, "/v1/tenants/acme/apps/app/versions/1", ACME, &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(versions(&b, "acme", "app", ACME)["versions"].as_array().unwrap().len(), 1);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn refused_requests_change_nothing_on_either_host() {
    let redis = RedisServer::start().unwrap();
    let dirs = tempfile::tempdir().unwrap();
    let (a, b) = two_hosts(&redis, &dirs);
    create_tenants(&a);
    assert_eq!(upload(&a, "acme", "app", ACME, &bytes("hello"), true).status, 201);
    served(&b, "acme", "app", HELLO);
    let before = versions(&a, "acme", "app", ACME);

    let hello = bytes("hello");
    let status = |r: Reply| (r.status, r.json().map(|v| v["error"]["code"].clone()).unwrap_or_default());
    // Credentials: none, a wrong one, another tenant's, a tenant's on an operator route.
    let none =
        send("PUT", &a.url("/v1/tenants/acme/apps/app/versions"), &hello, &[("Content-Type", "application/wasm")])
            .unwrap();
    assert_eq!(status(none), (401, json!("unauthorized")));
    assert_eq!(status(upload(&a, "acme", "app", "not-a-token", &hello, true)), (401, json!("unauthorized")));
    assert_eq!(status(upload(&b, "acme", "app", OTHER, &bytes("ivr-menu"), true)), (403, json!("forbidden")));
    assert_eq!(
        status(call("POST", &b, "/v1/tenants/acme/apps/app/rollback", OTHER, &json!({}))),
        (403, json!("forbidden"))
    );
    assert_eq!(status(call("PUT", &a, "/v1/tenants/acme", ACME, &json!({}))), (403, json!("forbidden")));
    let admin = get(&a.url("/_admin/apps")).unwrap();
    assert_eq!(admin.status, 401, "with an operator token configured, /_admin needs it: {}", admin.body);
    assert_eq!(get_with(&a.url("/_admin/apps"), &[("Authorization", &bearer(ADMIN))]).unwrap().status, 200);
    assert!(!a.log().contains(ACME) && !a.log().contains("not-a-token"), "a token reached the log");

    // Uploads: truncated, not a component, the wrong type, over the size cap, a refused import.
    let truncated = &hello[..hello.len() / 2];
    assert_eq!(status(upload(&a, "acme", "app", ACME, truncated, true)), (422, json!("unprocessable")));
    assert_eq!(status(upload(&a, "acme", "app", ACME, b"\0asm not really", true)), (422, json!("unprocessable")));
    assert_eq!(status(upload(&a, "acme", "app", ACME, &bytes("hostile-fs"), true)), (422, json!("unprocessable")));
    // A plugin importing wasi:http, while the app's config allows no outbound host.
    let r = upload(&a, "acme", "app", ACME, &bytes("fetcher"), true);
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("wasi:http") && r.body.contains("allowed_outbound_hosts"), "{}", r.body);
    let wrong_type = send(
        "PUT",
        &a.url("/v1/tenants/acme/apps/app/versions"),
        &hello,
        &[("Authorization", &bearer(ACME)), ("Content-Type", "application/octet-stream")],
    )
    .unwrap();
    assert_eq!(status(wrong_type), (415, json!("unsupported_media_type")));
    assert_eq!(oversized_upload(&a), 413, "a component over the 32 MiB cap");

    // A config over the tenant's ceiling (timeout_ms <= 1000), one with an unknown key, a bad NCCO.
    for bad in [json!({"timeout_ms": 3000}), json!({"timout_ms": 300}), json!({"fallback": [{"action": "talkk"}]})] {
        let r = call("PUT", &b, "/v1/tenants/acme/apps/app/config", ACME, &bad);
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
        assert!(r.json().unwrap()["error"]["message"].as_str().unwrap().contains("app.toml"), "{}", r.body);
    }
    // A tenant config that does not load.
    let r = call("PUT", &a, "/v1/tenants/acme", ADMIN, &json!({"limits": {"timeout_ms": 999_999}}));
    assert_eq!(r.status, 422, "{}", r.body);
    // Unknown tenant and version, a bad name.
    assert_eq!(status(upload(&a, "nobody", "app", ADMIN, &hello, true)), (404, json!("not_found")));
    assert_eq!(
        status(call("POST", &a, "/v1/tenants/acme/apps/app/activate", ACME, &json!({"version": 9}))),
        (404, json!("not_found"))
    );
    assert_eq!(
        status(call("POST", &a, "/v1/tenants/acme/apps/app/activate", ACME, &json!({"v": 1}))),
        (400, json!("bad_request"))
    );
    assert_eq!(status(call("PUT", &a, "/v1/tenants/.hidden", ADMIN, &json!({}))), (400, json!("bad_request")));
    // A tenant with apps is not deleted.
    assert_eq!(status(call("DELETE", &a, "/v1/tenants/acme", ADMIN, &json!({}))), (409, json!("conflict")));

    // Nothing changed: the same record, the same tenant config, version 1 served on both hosts.
    assert_eq!(versions(&b, "acme", "app", ACME), before);
    let tenant = get_with(&b.url("/v1/tenants/acme"), &[("Authorization", &bearer(ACME))]).unwrap().json().unwrap();
    assert_eq!(tenant["limits"]["timeout_ms"], 1000);
    let config = get_with(&b.url("/v1/tenants/acme/apps/app/config"), &[("Authorization", &bearer(ACME))])
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(config["config"], json!({}));
    assert!(answer(&a, "acme", "app", "CON-X").starts_with(HELLO));
    assert!(answer(&b, "acme", "app", "CON-Y").starts_with(HELLO));

    // A good config goes live on both hosts.
    let r =
        call("PUT", &a, "/v1/tenants/acme/apps/app/config", ACME, &json!({"timeout_ms": 800, "vars": {"unused": "x"}}));
    assert_eq!(r.status, 200, "{}", r.body);
    let until = Instant::now() + Duration::from_secs(10);
    while get_with(&b.url("/v1/tenants/acme/apps/app/config"), &[("Authorization", &bearer(ACME))])
        .unwrap()
        .json()
        .unwrap()["config"]["timeout_ms"]
        != 800
    {
        assert!(Instant::now() < until);
        std::thread::sleep(Duration::from_millis(50));
    }
    // Once the config allows an outbound host, the same plugin is stored.
    let allow = json!({"timeout_ms": 800, "allowed_outbound_hosts": ["https://crm.example.com"]});
    assert_eq!(call("PUT", &a, "/v1/tenants/acme/apps/app/config", ACME, &allow).status, 200);
    let r = upload(&a, "acme", "app", ACME, &bytes("fetcher"), false);
    assert_eq!(r.status, 201, "{}", r.body);
}

/// Announces a 33 MiB upload and reads the answer without sending the body (the host must refuse it
/// from its head alone).
fn oversized_upload(host: &HostProcess) -> u16 {
    use std::io::{Read, Write};
    let addr = host.base_url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "PUT /v1/tenants/acme/apps/app/versions HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {ACME}\r\nContent-Type: application/wasm\r\nContent-Length: {}\r\n\r\n",
        33u64 << 20
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&[0u8; 4096]).unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(text.contains("payload_too_large"), "{text}");
    text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

#[test]
fn with_redis_away_hosts_keep_serving_and_deploys_wait_for_it() {
    let redis_dir = tempfile::tempdir().unwrap();
    let mut redis = RedisServer::start_durable(redis_dir.path()).unwrap();
    let dirs = tempfile::tempdir().unwrap();
    let (a, b) = two_hosts(&redis, &dirs);
    create_tenants(&a);
    assert_eq!(upload(&a, "acme", "app", ACME, &bytes("hello"), true).status, 201);
    served(&b, "acme", "app", HELLO);

    redis.stop();
    for host in [&a, &b] {
        assert!(answer(host, "acme", "app", "CON-AWAY").starts_with(HELLO), "{}", host.log());
    }
    let r = upload(&a, "acme", "app", ACME, &bytes("ivr-menu"), true);
    assert_eq!(r.status, 503, "{}", r.body);
    let r = call("POST", &b, "/v1/tenants/acme/apps/app/rollback", ACME, &json!({}));
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(answer(&b, "acme", "app", "CON-AWAY-2").starts_with(HELLO));

    redis.restart().unwrap();
    let until = Instant::now() + Duration::from_secs(15);
    let r = loop {
        let r = upload(&b, "acme", "app", ACME, &bytes("ivr-menu"), true);
        if r.status != 503 || Instant::now() > until {
            break r;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json().unwrap()["version"], 2, "version 1, acknowledged before Redis went away, is still there");
    served(&a, "acme", "app", IVR);
    served(&b, "acme", "app", IVR);
    assert!(a.wait_for_log("reachable again"), "{}", a.log());
}

#[test]
fn deleting_one_app_keeps_the_same_bytes_of_another_and_a_flushed_redis_wipes_nothing() {
    let redis = RedisServer::start().unwrap();
    let dirs = tempfile::tempdir().unwrap();
    let (a, b) = two_hosts(&redis, &dirs);
    create_tenants(&a);
    for app in ["one", "two"] {
        assert_eq!(upload(&a, "acme", app, ACME, &bytes("hello"), true).status, 201);
    }
    assert_eq!(call("DELETE", &a, "/v1/tenants/acme/apps/two", ACME, &json!({})).status, 200);
    // A host that never saw the bytes fetches them for `one`.
    let c = HostProcess::start(
        &dirs.path().join("plugins"),
        &dirs.path().join("c"),
        &["--state", &redis.url, "--config", &serve_config(dirs.path())],
    )
    .unwrap();
    served(&c, "acme", "one", HELLO);
    assert!(answer(&c, "acme", "two", "CON-2").starts_with("404"), "`two` was deleted");

    // Redis loses everything (a flush, or a restart without persistence): hosts keep what they serve.
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(redis.url.trim_start_matches("redis://").trim_end_matches("/0")).unwrap();
    s.write_all(b"FLUSHALL\r\n").unwrap();
    let mut ok = [0u8; 5];
    s.read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"+OK\r\n");
    std::thread::sleep(Duration::from_millis(2500));
    for host in [&a, &b, &c] {
        assert!(answer(host, "acme", "one", "CON-F").starts_with(HELLO), "{}", host.log());
    }
    assert!(b.wait_for_log("keeping the mirror as it is"), "{}", b.log());
}

#[test]
fn on_the_plugin_tree_api_deploys_hand_dropped_files_and_rollbacks_agree() {
    let plugins = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let config = serve_config(data.path());
    let host = HostProcess::start(plugins.path(), data.path(), &["--config", &config]).unwrap();
    create_tenants(&host);
    assert!(plugins.path().join("acme/tenant.toml").is_file());

    let r = upload(&host, "acme", "app", ACME, &bytes("hello"), true);
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(answer(&host, "acme", "app", "CON-1").starts_with(HELLO));
    assert_eq!(std::fs::read(plugins.path().join("acme/app.wasm")).unwrap(), bytes("hello"));

    // A file dropped by hand goes live, and becomes version 2.
    let dir = plugins.path().join("acme");
    std::fs::copy(plugin_wasm("hostile").unwrap(), dir.join("app.tmp")).unwrap();
    std::fs::rename(dir.join("app.tmp"), dir.join("app.wasm")).unwrap();
    served(&host, "acme", "app", "well behaved");
    let list = versions(&host, "acme", "app", ACME);
    assert_eq!(list["active"], 2, "{list}");
    assert_eq!(list["versions"][1]["deployed_by"], "file");

    // Rollback returns to the API's version 1, in the tree too.
    let r = call("POST", &host, "/v1/tenants/acme/apps/app/rollback", ACME, &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    served(&host, "acme", "app", HELLO);
    assert_eq!(std::fs::read(dir.join("app.wasm")).unwrap(), bytes("hello"));
    // And forward again by number: the hand-dropped version was kept.
    let r = call("POST", &host, "/v1/tenants/acme/apps/app/activate", ACME, &json!({"version": 2}));
    assert_eq!(r.status, 200, "{}", r.body);
    served(&host, "acme", "app", "well behaved");

    // Config through the API is the app's `.toml`.
    let r = call("PUT", &host, "/v1/tenants/acme/apps/app/config", ACME, &json!({"vars": {"mode": "state"}}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(std::fs::read_to_string(dir.join("app.toml")).unwrap().contains("mode = \"state\""));

    // Deleting: the app, then the tenant.
    assert_eq!(call("DELETE", &host, "/v1/tenants/acme", ADMIN, &json!({})).status, 409);
    assert_eq!(call("DELETE", &host, "/v1/tenants/acme/apps/app", ACME, &json!({})).status, 200);
    assert!(!dir.join("app.wasm").exists());
    let r = call("DELETE", &host, "/v1/tenants/acme", ADMIN, &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!dir.exists());
}

#[test]
fn admin_routes_can_listen_apart_from_webhooks() {
    let plugins = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(plugins.path().join("acme")).unwrap();
    std::fs::copy(plugin_wasm("hello").unwrap(), plugins.path().join("acme/app.wasm")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &["--admin-listen", "127.0.0.1:0"]).unwrap();
    let admin = host.admin_url.clone().expect("the admin address is announced");
    assert!(answer(&host, "acme", "app", "CON-1").starts_with(HELLO));
    assert_eq!(get(&host.url("/_admin/apps")).unwrap().status, 404);
    assert_eq!(get(&host.url("/v1/tenants")).unwrap().status, 404);
    // No operator token configured: loopback clients get in.
    let apps = get(&format!("{admin}/_admin/apps")).unwrap();
    assert_eq!(apps.status, 200, "{}", apps.body);
    assert_eq!(get(&format!("{admin}/v1/tenants")).unwrap().json().unwrap()["tenants"][0]["tenant"], "acme");
    assert_eq!(get(&format!("{admin}/acme/app/answer?uuid=u&conversation_uuid=c")).unwrap().status, 404);
    assert_eq!(get(&format!("{admin}/healthz")).unwrap().status, 200);
    // Loopback is not enough when the request shows it is not from this machine's user: a proxy, a
    // web page of another site, a name rebound to 127.0.0.1.
    for header in [("X-Forwarded-For", "203.0.113.7"), ("Origin", "http://evil.example"), ("Host", "evil.example")] {
        let r = get_with(&format!("{admin}/v1/tenants"), &[header]).unwrap();
        assert_eq!(r.status, 403, "{header:?}: {}", r.body);
    }
    assert_eq!(get_with(&format!("{admin}/v1/tenants"), &[("Origin", &admin)]).unwrap().status, 200);
}

fn cli(args: &[&str], token: Option<&str>) -> (bool, String) {
    let mut cmd = std::process::Command::new(ncco_host_bin().unwrap());
    cmd.args(args).env_remove("NCCO_TOKEN");
    if let Some(t) = token {
        cmd.env("NCCO_TOKEN", t);
    }
    let out = cmd.output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn the_deploy_commands_build_upload_list_and_roll_back() {
    let plugins = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let config = serve_config(data.path());
    let host = HostProcess::start(plugins.path(), data.path(), &["--config", &config]).unwrap();
    create_tenants(&host);
    let url = host.base_url.clone();
    let target = ["--url", &url, "--tenant", "acme", "--app", "hi"];
    let app_toml = data.path().join("app.toml");
    std::fs::write(&app_toml, "timeout_ms = 700\n[vars]\ngreeting = \"Hi\"\n").unwrap();

    // A crate folder is built, then deployed with its config.
    let crate_dir = ncco_tests::workspace_root().join("plugins/hello");
    let crate_arg = crate_dir.display().to_string();
    let toml_arg = app_toml.display().to_string();
    let (ok, out) =
        cli(&[&["deploy"][..], &target, &[&crate_arg, "--activate", "--config", &toml_arg]].concat(), Some(ACME));
    assert!(ok, "{out}");
    assert!(out.contains("Building") && out.contains("Deployed acme/hi version 1"), "{out}");
    assert_eq!(answer(&host, "acme", "hi", "CON-1"), "Hi 1.", "the config went live with the version");

    // A file, with the token on the command line.
    let ivr = plugin_wasm("ivr-menu").unwrap().display().to_string();
    let (ok, out) = cli(&[&["deploy"][..], &target, &[&ivr, "--activate", "--token", ACME]].concat(), None);
    assert!(ok, "{out}");
    assert!(out.contains("Deployed acme/hi version 2"), "{out}");
    // (ivr-menu greets with the same `greeting` variable; its answer has more actions.)
    let until = Instant::now() + Duration::from_secs(10);
    while answer(&host, "acme", "hi", "CON-2") == "Hi 1." {
        assert!(Instant::now() < until, "version 2 never went live");
        std::thread::sleep(Duration::from_millis(20));
    }

    let (ok, out) = cli(&[&["versions"][..], &target].concat(), Some(ACME));
    assert!(ok, "{out}");
    assert!(out.lines().filter(|l| l.contains("sha256:")).count() == 2, "{out}");
    let (ok, out) = cli(&[&["rollback"][..], &target].concat(), Some(ACME));
    assert!(ok, "{out}");
    assert!(out.contains("Rolled back acme/hi to version 1"), "{out}");
    served(&host, "acme", "hi", "Hi 1.");

    // Refusals read like cargo's errors and fail.
    let (ok, out) = cli(&[&["rollback"][..], &target].concat(), Some("wrong"));
    assert!(!ok);
    assert!(out.contains("error: the rollback was refused (401"), "{out}");
    let (ok, out) = cli(&[&["versions"][..], &target].concat(), None);
    assert!(!ok);
    assert!(out.contains("NCCO_TOKEN"), "{out}");
}
