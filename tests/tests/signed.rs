//! Signed webhooks against the real host: the shared `wh-30` case, fresh tokens, and forged,
//! tampered, expired, future, `alg: none` and HS512 tokens, all refused before the plugin runs, with
//! the same 404 an unknown app gets (the reason goes to the host log only).

#![allow(clippy::unwrap_used)]

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use ncco_host::signature::sign;
use ncco_tests::{HostProcess, plugin_wasm, post, shared_dir};
use serde_json::Value;
use sha2::{Digest, Sha256, Sha512};

const SECRET: &str = "example-signature-secret-0123456789abcdef";

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn signed_tree() -> tempfile::TempDir {
    let plugins = tempfile::tempdir().unwrap();
    for (tenant, secret) in [("signed", SECRET), ("wrong", "not-the-right-secret-0000000000000000")] {
        let dir = plugins.path().join(tenant);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(plugin_wasm("hello").unwrap(), dir.join("hello.wasm")).unwrap();
        std::fs::write(dir.join("tenant.toml"), format!("signature_secret = \"{secret}\"\n")).unwrap();
    }
    plugins
}

/// Asserts `r` is the uniform refusal and returns the reason the host logged for it.
fn refusal(host: &HostProcess, r: &ncco_tests::Reply, before: usize) -> String {
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.json().unwrap()["error"]["code"], "not_found", "{}", r.body);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let log = host.log();
        let lines: Vec<&str> = log.lines().filter(|l| l.contains("signed webhook refused")).collect();
        if lines.len() > before {
            return lines[lines.len() - 1].to_owned();
        }
        assert!(std::time::Instant::now() < until, "no refusal logged:\n{log}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn refusals(host: &HostProcess) -> usize {
    host.log().lines().filter(|l| l.contains("signed webhook refused")).count()
}

fn wh30() -> Value {
    let text = std::fs::read_to_string(shared_dir().join("conformance/webhooks/wh-30-signed-event-jwt.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn the_wh30_case_verifies_and_its_variants_do_not() {
    let case = wh30();
    let plugins = signed_tree();
    // wh-30 was signed on 2026-01-01: accept that old an iat for this test only.
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), "signature_window_secs = 315360000\n").unwrap();
    let data = tempfile::tempdir().unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &["--config", config.path().to_str().unwrap()]).unwrap();
    let auth = case["request"]["headers"]["Authorization"].as_str().unwrap();
    let body = case["request"]["raw_body"].as_str().unwrap();

    let r = post(&host.url("/signed/hello/event"), body, &[("Authorization", auth)]).unwrap();
    assert_eq!(r.status, 204, "{}", r.body);

    let tampered = case["signature"]["negative_variant"]["tampered_raw_body"].as_str().unwrap();
    let before = refusals(&host);
    let r = post(&host.url("/signed/hello/event"), tampered, &[("Authorization", auth)]).unwrap();
    assert!(refusal(&host, &r, before).contains("payload_hash"));

    let before = refusals(&host);
    let r = post(&host.url("/wrong/hello/event"), body, &[("Authorization", auth)]).unwrap();
    assert!(refusal(&host, &r, before).contains("signature"));
}

fn token(header: &str, claims: &Value, sign_with: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let h = URL_SAFE_NO_PAD.encode(header);
    let c = URL_SAFE_NO_PAD.encode(claims.to_string());
    let sig = URL_SAFE_NO_PAD.encode(sign_with(format!("{h}.{c}").as_bytes()));
    format!("{h}.{c}.{sig}")
}

fn claims_for(body: &str, iat: i64) -> Value {
    let hash: String = Sha256::digest(body.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    serde_json::json!({"iat": iat, "jti": "t-1", "iss": "Vonage", "payload_hash": hash, "api_key": "a1b2c3d4"})
}

#[test]
fn fresh_tokens_pass_and_every_forgery_is_refused() {
    let plugins = signed_tree();
    let data = tempfile::tempdir().unwrap();
    let host = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
    let url = host.url("/signed/hello/answer");
    let body = r#"{"from":"447700900000","to":"442079460000","uuid":"u1","conversation_uuid":"CON-1"}"#;
    let bearer = |t: &str| format!("Bearer {t}");

    let good = sign(SECRET, body.as_bytes(), now(), "a1b2c3d4", Some("app-1"));
    let r = post(&url, body, &[("Authorization", &bearer(&good))]).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    // The verified claims reached the plugin's context.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !host.log().contains("for account a1b2c3d4") {
        assert!(std::time::Instant::now() < until, "claims not seen by the plugin:\n{}", host.log());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    let refuse = |auth: Option<String>, body: &str, why: &str| {
        let headers: Vec<(&str, &str)> = auth.as_deref().map(|a| vec![("Authorization", a)]).unwrap_or_default();
        let before = refusals(&host);
        let r = post(&url, body, &headers).unwrap();
        let reason = refusal(&host, &r, before);
        assert!(!reason.is_empty(), "{why}");
        reason
    };
    assert!(refuse(None, body, "no token").contains("missing"));
    let forged = sign("some-other-secret-0000000000000000000000", body.as_bytes(), now(), "a1b2c3d4", None);
    assert!(refuse(Some(bearer(&forged)), body, "forged").contains("signature"));
    let tampered = body.replace("447700900000", "447700900999");
    assert!(refuse(Some(bearer(&good)), &tampered, "tampered").contains("payload_hash"));
    let expired = sign(SECRET, body.as_bytes(), now() - 3600, "a1b2c3d4", None);
    assert!(refuse(Some(bearer(&expired)), body, "expired").contains("ago"));
    let future = sign(SECRET, body.as_bytes(), now() + 3600, "a1b2c3d4", None);
    assert!(refuse(Some(bearer(&future)), body, "future").contains("future"));
    let none = token(r#"{"alg":"none","typ":"JWT"}"#, &claims_for(body, now()), |_| Vec::new());
    assert!(refuse(Some(bearer(&none)), body, "alg none").contains("algorithm"));
    let hs512 = token(r#"{"alg":"HS512","typ":"JWT"}"#, &claims_for(body, now()), |m| {
        let mut mac = Hmac::<Sha512>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(m);
        mac.finalize().into_bytes().to_vec()
    });
    assert!(refuse(Some(bearer(&hs512)), body, "HS512").contains("algorithm"));
    let no_hash = token(r#"{"alg":"HS256","typ":"JWT"}"#, &serde_json::json!({"iat": now()}), |m| {
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(m);
        mac.finalize().into_bytes().to_vec()
    });
    assert!(refuse(Some(bearer(&no_hash)), body, "no payload_hash").contains("payload_hash"));
    assert!(refuse(Some("Bearer not.a.jwt".into()), body, "garbage").contains("malformed"));
    let mut with_exp = claims_for(body, now());
    with_exp["exp"] = serde_json::json!(now() - 10);
    let expired_exp = token(r#"{"alg":"HS256","typ":"JWT"}"#, &with_exp, |m| {
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(m);
        mac.finalize().into_bytes().to_vec()
    });
    assert!(refuse(Some(bearer(&expired_exp)), body, "exp in the past").contains("exp"));
    // The plugin never ran for the refused ones: one answer logged in all.
    assert_eq!(host.log().matches("for account").count(), 1, "{}", host.log());
}
