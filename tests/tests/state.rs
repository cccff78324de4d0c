//! Plugin state through the real host, with the same suite on each backend (embedded redb, Redis):
//! call state per conversation, app state per app, tenant and app isolation, TTLs; durability across
//! `kill -9`; two hosts sharing one Redis; version pinning of a call's later events; per-tenant
//! state quotas (keys and bytes) on both backends.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use ncco_tests::{HostProcess, RedisServer, get, plugin_wasm, post};
use serde_json::Value;

fn text(reply: &ncco_tests::Reply) -> String {
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json().unwrap()[0]["text"].as_str().unwrap().to_owned()
}

/// `<tenant>/<app>.wasm` of the fixture plugin in `mode`.
fn fixture(root: &Path, tenant: &str, app: &str, mode: &str) {
    let dir = root.join(tenant);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(plugin_wasm("hostile").unwrap(), dir.join(format!("{app}.wasm"))).unwrap();
    std::fs::write(dir.join(format!("{app}.toml")), format!("[vars]\nmode = \"{mode}\"\n")).unwrap();
}

fn answer(host: &HostProcess, tenant: &str, app: &str, conversation: &str) -> String {
    text(&get(&host.url(&format!("/{tenant}/{app}/answer?from=1&uuid=u&conversation_uuid={conversation}"))).unwrap())
}

fn callback(host: &HostProcess, tenant: &str, app: &str, conversation: &str) -> String {
    let input =
        format!(r#"{{"dtmf":{{"digits":"7","timed_out":false}},"uuid":"u","conversation_uuid":"{conversation}"}}"#);
    text(&post(&host.url(&format!("/{tenant}/{app}/event/menu")), &input, &[]).unwrap())
}

fn suite(extra: &[&str]) {
    let plugins = tempfile::tempdir().unwrap();
    fixture(plugins.path(), "acme", "counter", "state");
    fixture(plugins.path(), "acme", "other", "state");
    fixture(plugins.path(), "zeta", "counter", "state");
    fixture(plugins.path(), "acme", "ttl", "state-ttl");
    let data = tempfile::tempdir().unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), extra).unwrap();

    assert_eq!(answer(&host, "acme", "counter", "CON-1"), "app 1 call 1");
    assert_eq!(callback(&host, "acme", "counter", "CON-1"), "app 2 call 2");
    // A new call has fresh call state but shares the app's.
    assert_eq!(answer(&host, "acme", "counter", "CON-2"), "app 3 call 1");
    assert_eq!(callback(&host, "acme", "counter", "CON-1"), "app 4 call 3");
    // Another app of the tenant, and the same app name in another tenant, see nothing of it, even
    // for the same conversation and the same keys.
    assert_eq!(answer(&host, "acme", "other", "CON-1"), "app 1 call 1");
    assert_eq!(answer(&host, "zeta", "counter", "CON-1"), "app 1 call 1");

    assert_eq!(answer(&host, "acme", "ttl", "CON-T"), "set");
    assert_eq!(answer(&host, "acme", "ttl", "CON-T"), "present");
    std::thread::sleep(Duration::from_millis(1300));
    assert_eq!(answer(&host, "acme", "ttl", "CON-T"), "set", "an app key with a 1 s TTL outlived it");
}

#[test]
fn state_suite_on_the_embedded_store() {
    suite(&[]);
}

#[test]
fn state_suite_on_redis() {
    let redis = RedisServer::start().unwrap();
    suite(&["--state", &redis.url]);
}

#[test]
fn an_acknowledged_write_survives_kill_9() {
    let plugins = tempfile::tempdir().unwrap();
    fixture(plugins.path(), "acme", "counter", "state");
    let data = tempfile::tempdir().unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
    for n in 1..=3 {
        assert_eq!(answer(&host, "acme", "counter", "CON-1"), format!("app {n} call {n}"));
    }
    drop(host); // SIGKILL, no shutdown
    let host = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
    assert_eq!(answer(&host, "acme", "counter", "CON-1"), "app 4 call 4");
}

#[test]
fn two_hosts_share_state_through_one_redis() {
    let redis = RedisServer::start().unwrap();
    let plugins = tempfile::tempdir().unwrap();
    fixture(plugins.path(), "acme", "counter", "state");
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = HostProcess::start(plugins.path(), d1.path(), &["--state", &redis.url]).unwrap();
    let b = HostProcess::start(plugins.path(), d2.path(), &["--state", &redis.url]).unwrap();
    assert_eq!(answer(&a, "acme", "counter", "CON-1"), "app 1 call 1");
    assert_eq!(callback(&b, "acme", "counter", "CON-1"), "app 2 call 2");
    assert_eq!(answer(&a, "acme", "counter", "CON-2"), "app 3 call 1");
}

fn pinned(host: &HostProcess) -> Vec<Value> {
    let apps = get(&host.url("/_admin/apps")).unwrap().json().unwrap();
    apps["apps"][0]["pinned_versions"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_call_stays_on_the_version_that_answered_it() {
    let plugins = tempfile::tempdir().unwrap();
    let dir = plugins.path().join("acme");
    std::fs::create_dir_all(&dir).unwrap();
    let publish = |src: &Path| {
        std::fs::copy(src, dir.join("app.tmp")).unwrap();
        std::fs::rename(dir.join("app.tmp"), dir.join("app.wasm")).unwrap();
    };
    publish(&plugin_wasm("hello").unwrap());
    let data = tempfile::tempdir().unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
    assert_eq!(answer(&host, "acme", "app", "CON-OLD"), "Hello 1.");

    // The plugin is replaced mid-call.
    publish(&plugin_wasm("hostile").unwrap());
    let until = Instant::now() + Duration::from_secs(20);
    while answer(&host, "acme", "app", "CON-NEW") != "well behaved" {
        assert!(Instant::now() < until, "the new version never went live");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(pinned(&host).len(), 1, "the old version stays loaded for its call");
    // The old call's callback runs on the old version; the new call's on the new one.
    assert_eq!(callback(&host, "acme", "app", "CON-OLD"), "You pressed 7. Goodbye.");
    assert_eq!(callback(&host, "acme", "app", "CON-NEW"), "well behaved");

    // When the old call completes, its pin ends and the old version is unloaded at the next sweep.
    let completed = r#"{"status":"completed","uuid":"u","conversation_uuid":"CON-OLD","duration":"12"}"#;
    assert_eq!(post(&host.url("/acme/app/event"), completed, &[]).unwrap().status, 204);
    std::fs::write(dir.join("app.toml"), "# touched to trigger a reload\n").unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    while !pinned(&host).is_empty() {
        assert!(Instant::now() < until, "the old version was never unloaded");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(host.wait_for_log("retired version unloaded"), "{}", host.log());
}

fn concurrent_increments(extra: &[&str]) {
    let plugins = tempfile::tempdir().unwrap();
    fixture(plugins.path(), "acme", "counter", "state");
    // This test is about lost updates, not speed: a generous deadline for a busy machine's fsyncs.
    std::fs::write(plugins.path().join("acme/counter.toml"), "timeout_ms = 4000\n[vars]\nmode = \"state\"\n").unwrap();
    let data = tempfile::tempdir().unwrap();
    let host = std::sync::Arc::new(HostProcess::start(plugins.path(), data.path(), extra).unwrap());
    const CLIENTS: usize = 4;
    const EACH: usize = 40;
    let threads: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let host = std::sync::Arc::clone(&host);
            std::thread::spawn(move || {
                for i in 0..EACH {
                    let said = answer(&host, "acme", "counter", &format!("CON-{c}-{i}"));
                    assert!(said.starts_with("app "), "{said}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // Every increment counted: the next call is number CLIENTS * EACH + 1.
    assert_eq!(answer(&host, "acme", "counter", "CON-last"), format!("app {} call 1", CLIENTS * EACH + 1));
}

#[test]
fn concurrent_increments_are_never_lost_on_the_embedded_store() {
    concurrent_increments(&[]);
}

#[test]
fn concurrent_increments_are_never_lost_on_redis() {
    let redis = RedisServer::start().unwrap();
    concurrent_increments(&["--state", &redis.url]);
}

#[test]
fn a_plugin_built_against_the_0_1_0_contract_still_runs_with_its_state() {
    let plugins = tempfile::tempdir().unwrap();
    let dir = plugins.path().join("acme");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(plugin_wasm("legacy").unwrap(), dir.join("old.wasm")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
    assert_eq!(answer(&host, "acme", "old", "CON-1"), "legacy call 1");
    assert_eq!(answer(&host, "acme", "old", "CON-2"), "legacy call 2");
}

#[test]
fn a_state_backend_failure_reaches_the_plugin_and_the_caller_hears_the_fallback() {
    let redis = RedisServer::start().unwrap();
    let plugins = tempfile::tempdir().unwrap();
    fixture(plugins.path(), "acme", "counter", "state");
    std::fs::write(
        plugins.path().join("acme/counter.toml"),
        "[vars]\nmode = \"state\"\n[[fallback]]\naction = \"talk\"\ntext = \"state is down\"\n",
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &["--state", &redis.url]).unwrap();
    assert_eq!(answer(&host, "acme", "counter", "CON-1"), "app 1 call 1");
    drop(redis);
    assert_eq!(answer(&host, "acme", "counter", "CON-2"), "state is down");
    assert!(host.wait_for_log("state unavailable"), "{}", host.log());
}

#[test]
fn state_suite_on_a_small_tmpfs() {
    // The embedded store on a real small disk (mounted here; CI runs as root): the suite still holds.
    let disk = tempfile::tempdir().unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
        .arg(disk.path())
        .status()
        .expect("running mount");
    assert!(mounted.success(), "mounting a tmpfs needs root (CI runs as root)");
    let state = disk.path().join("state.redb");
    let result = std::panic::catch_unwind(|| suite(&["--state", state.to_str().unwrap()]));
    let _ = std::process::Command::new("umount").arg("-l").arg(disk.path()).status();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// An app of the `state-quota` fixture under `tenant` with these vars (TOML lines).
fn quota_app(root: &Path, tenant: &str, app: &str, vars: &str) {
    fixture(root, tenant, app, "state-quota");
    std::fs::write(root.join(format!("{tenant}/{app}.toml")), format!("[vars]\nmode = \"state-quota\"\n{vars}"))
        .unwrap();
}

fn tenant_usage(host: &HostProcess, tenant: &str) -> (Value, Value) {
    let admin: Value = get(&host.url("/_admin/apps")).unwrap().json().unwrap();
    let entry = admin["tenants"].as_array().unwrap().iter().find(|t| t["tenant"] == tenant).unwrap().clone();
    (entry["state_usage"].clone(), entry["state_quota"].clone())
}

fn quota_suite(extra: &[&str]) {
    let plugins = tempfile::tempdir().unwrap();
    let root = plugins.path();
    // acme: at most 3 keys over both its apps; bulk: at most 1 MiB; brief: 2 keys that expire.
    quota_app(root, "acme", "keys", "");
    quota_app(root, "acme", "more", "");
    std::fs::write(root.join("acme/tenant.toml"), "[limits]\nstate_keys = 3\n").unwrap();
    quota_app(root, "bulk", "blobs", "value_bytes = \"250000\"\n");
    std::fs::write(root.join("bulk/tenant.toml"), "[limits]\nstate_mib = 1\n").unwrap();
    quota_app(root, "brief", "ttl", "ttl_seconds = \"1\"\n");
    std::fs::write(root.join("brief/tenant.toml"), "[limits]\nstate_keys = 2\n").unwrap();
    quota_app(root, "zeta", "keys", "");
    let data = tempfile::tempdir().unwrap();
    let refused_keys = "state quota exceeded: the tenant's state quota of 3 keys is used up (3 in use)";

    let host = HostProcess::start(root, data.path(), extra).unwrap();
    assert_eq!(answer(&host, "acme", "keys", "CON-1"), "stored");
    assert_eq!(answer(&host, "acme", "keys", "CON-2"), "stored");
    assert_eq!(answer(&host, "acme", "more", "CON-3"), "stored");
    // The quota is the tenant's, over all its apps; the plugin hears why, and can handle it.
    assert_eq!(answer(&host, "acme", "keys", "CON-4"), refused_keys);
    assert_eq!(answer(&host, "acme", "more", "CON-4"), refused_keys);
    // Another tenant is not touched by acme's quota.
    for i in 0..5 {
        assert_eq!(answer(&host, "zeta", "keys", &format!("CON-{i}")), "stored");
    }
    // Bytes: four 250 KB values fit in 1 MiB, a fifth does not.
    for i in 0..4 {
        assert_eq!(answer(&host, "bulk", "blobs", &format!("CON-{i}")), "stored");
    }
    let said = answer(&host, "bulk", "blobs", "CON-4");
    assert!(said.starts_with("state quota exceeded: the tenant's state quota of 1048576 bytes is used up"), "{said}");
    // Expired entries stop counting.
    assert_eq!(answer(&host, "brief", "ttl", "CON-1"), "stored");
    assert_eq!(answer(&host, "brief", "ttl", "CON-2"), "stored");
    assert!(answer(&host, "brief", "ttl", "CON-3").starts_with("state quota exceeded"));
    std::thread::sleep(Duration::from_millis(1100));
    // Reclaimed at the next refusal at most a second after the last one (a busy machine may need
    // another try).
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let said = answer(&host, "brief", "ttl", "CON-3");
        if said == "stored" {
            break;
        }
        assert!(Instant::now() < until, "expired keys still held the quota: {said}");
        std::thread::sleep(Duration::from_millis(200));
    }

    let (usage, quota) = tenant_usage(&host, "acme");
    assert_eq!(usage["keys"], 3, "{usage}");
    assert_eq!(quota, serde_json::json!({"keys": 3, "bytes": 256 << 20}));
    let (usage, _) = tenant_usage(&host, "bulk");
    assert!(usage["bytes"].as_u64().unwrap() > 1_000_000, "{usage}");
    drop(host);

    // The figures survive a restart; a delete gives room back.
    let host = HostProcess::start(root, data.path(), extra).unwrap();
    assert_eq!(answer(&host, "acme", "keys", "CON-5"), refused_keys);
    assert_eq!(answer(&host, "acme", "keys", "CON-1"), "deleted");
    assert_eq!(answer(&host, "acme", "keys", "CON-5"), "stored");
    assert_eq!(tenant_usage(&host, "acme").0["keys"], 3);
}

#[test]
fn a_tenant_state_quota_refuses_growth_past_it_on_the_embedded_store() {
    quota_suite(&[]);
}

#[test]
fn a_tenant_state_quota_refuses_growth_past_it_on_redis() {
    let redis = RedisServer::start().unwrap();
    quota_suite(&["--state", &redis.url]);
}

fn pinned_calls(host: &HostProcess, tenant: &str) -> u64 {
    let admin: Value = get(&host.url("/_admin/apps")).unwrap().json().unwrap();
    let entry = admin["tenants"].as_array().unwrap().iter().find(|t| t["tenant"] == tenant).unwrap().clone();
    entry["pinned_calls"].as_u64().unwrap_or_else(|| panic!("{entry}"))
}

/// Waits until `tenant` has `n` pinned calls (pins are written in batches, off the answer's path).
fn wait_pinned(host: &HostProcess, tenant: &str, n: u64) {
    let until = Instant::now() + Duration::from_secs(10);
    while pinned_calls(host, tenant) != n {
        assert!(Instant::now() < until, "{tenant} has {} pinned calls, not {n}", pinned_calls(host, tenant));
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn pin_bound(extra: &[&str]) {
    let plugins = tempfile::tempdir().unwrap();
    fixture(plugins.path(), "acme", "counter", "state");
    fixture(plugins.path(), "zeta", "counter", "state");
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("serve.toml");
    std::fs::write(&config, "tenant_max_pinned_calls = 2\n").unwrap();
    let mut args = vec!["--config", config.to_str().unwrap()];
    args.extend_from_slice(extra);
    let host = HostProcess::start(plugins.path(), data.path(), &args).unwrap();

    // Every call is answered; only two of acme's are pinned, and zeta's are not held back by acme's.
    for i in 1..=4 {
        assert!(answer(&host, "acme", "counter", &format!("CON-{i}")).starts_with("app "));
    }
    wait_pinned(&host, "acme", 2);
    assert!(host.wait_for_log("cannot pin calls to their versions"), "{}", host.log());
    assert_eq!(answer(&host, "zeta", "counter", "CON-1"), "app 1 call 1");
    wait_pinned(&host, "zeta", 1);
    // An unpinned call's events still run (on the live version).
    assert_eq!(callback(&host, "acme", "counter", "CON-4"), "app 5 call 2");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(pinned_calls(&host, "acme"), 2, "the bound held");

    // A completed call gives its room back.
    let completed = r#"{"status":"completed","uuid":"u","conversation_uuid":"CON-1","duration":"12"}"#;
    assert_eq!(post(&host.url("/acme/counter/event"), completed, &[]).unwrap().status, 204);
    wait_pinned(&host, "acme", 1);
    assert!(answer(&host, "acme", "counter", "CON-5").starts_with("app "));
    wait_pinned(&host, "acme", 2);
}

#[test]
fn a_tenant_pinned_calls_are_bounded_on_the_embedded_store() {
    pin_bound(&[]);
}

#[test]
fn a_tenant_pinned_calls_are_bounded_on_redis() {
    let redis = RedisServer::start().unwrap();
    pin_bound(&["--state", &redis.url]);
}
