//! Bodies of the fuzz targets (issue 12), as plain functions so that a stable
//! `cargo test --no-default-features` can replay the corpus (`tests/replay.rs`) and the
//! `fuzz_targets/*.rs` binaries stay one-liners.
//!
//! Every function takes the raw fuzz input, must never panic on any input, and panics (a finding)
//! only when a parser panics or an invariant the project states is broken.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ncco_sdk::ncco::Validator;
use ncco_sdk::webhook::{AnswerRequest, Event, RtcEvent};

/// host/src/signature.rs, compiled here as it is: it needs only base64, hmac, sha2, serde,
/// serde_json, thiserror and uuid, so the verifier is fuzzed without building ncco-host (wasmtime).
#[path = "../../host/src/signature.rs"]
#[allow(dead_code)]
pub mod signature;

/// host/src/config/ (the tenant.toml and <app>.toml readers, and the serve config), compiled here as it is.
#[path = "../../host/src/config/mod.rs"]
#[allow(dead_code)]
pub mod config;

/// Stubs of the `crate::...` items host/src/config/ names. They exist ONLY so that the config
/// readers can be compiled and fuzzed without ncco-host (and wasmtime); nothing here is the host's
/// real state code, and `TenantConfig::parse` / `AppConfig::parse` never touch it.
pub mod state {
    /// Stand-in for `ncco_host::state::StateBackend` (referenced by `ServeConfig`, unused by the
    /// parsers under test).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum StateBackend {
        /// Mirrors the variant config/ constructs.
        Embedded(std::path::PathBuf),
    }

    /// Stand-in for `ncco_host::state::Limits` (a tenant's state quota in `ServeConfig`/`Shares`).
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct Limits {
        /// Most keys.
        pub keys: u64,
        /// Most bytes.
        pub bytes: u64,
    }

    /// Stand-in for `ncco_host::state::DEFAULT_PINNED_CALLS`.
    pub const DEFAULT_PINNED_CALLS: u64 = 0;
}

/// Stand-ins for the `crate::inspect` items `ServeConfig` names (unused by the parsers under test).
pub mod inspect {
    /// Stand-in for `ncco_host::inspect::Redaction`.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct Redaction {
        /// Numbers masked.
        pub numbers: bool,
        /// Custom data hidden.
        pub custom_data: bool,
    }
    /// Stand-in for `ncco_host::inspect::DEFAULT_RECORDS`.
    pub const DEFAULT_RECORDS: usize = 0;
    /// Stand-in for `ncco_host::inspect::DEFAULT_RECORD_MIB`.
    pub const DEFAULT_RECORD_MIB: u64 = 0;
}

/// The input as text: the bytes when they are UTF-8, else their lossy reading (so that query
/// parsers still see every input).
fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

// ----------------------------------------------------------------------------------------------
// 1. webhook_answer
// ----------------------------------------------------------------------------------------------

/// The answer (and fallback answer) request, as a POST JSON body and as a GET query string.
/// What parses must serialize, and read back equal (the round trip guest-sdk/tests/webhooks.rs
/// checks on the conformance cases).
pub fn webhook_answer(data: &[u8]) {
    let parsed = [AnswerRequest::from_json(data).ok(), AnswerRequest::from_query(&text(data)).ok()];
    for req in parsed.into_iter().flatten() {
        let _ = (req.caller(), req.custom_data_object(), req.sip_header("X-UserId"), req.is_fallback());
        let _ = req.response_ncco();
        let value = serde_json::to_value(&req).expect("an AnswerRequest serializes");
        let _ = serde_json::to_string(&req).expect("an AnswerRequest serializes to text");
        let again = AnswerRequest::from_value(value).expect("a serialized AnswerRequest reads back");
        assert_eq!(again, req, "AnswerRequest: parse, serialize, parse changed the value");
    }
}

// ----------------------------------------------------------------------------------------------
// 2. webhook_event
// ----------------------------------------------------------------------------------------------

/// One event-webhook callback (POST body and GET query) and one Conversation API (RTC) event.
/// For what parses: `response_ncco()`, the accessors, serialization with serde_json, and the round
/// trip the project states ("what reads serializes to JSON that reads back equal").
pub fn webhook_event(data: &[u8]) {
    let parsed = [Event::from_json(data).ok(), Event::from_query(&text(data)).ok()];
    for event in parsed.into_iter().flatten() {
        let _ = event.response_ncco().reads_ncco();
        let _ = (event.kind_name(), event.conversation_uuid(), event.call_uuid(), event.timestamp());
        let _ = event.is_fallback();
        match &event {
            Event::Record(r) => {
                let _ = r.duration_seconds();
            }
            Event::Input(i) => {
                let _ = (i.digits(), i.best_speech());
            }
            Event::Notify(n) => {
                let _ = n.payload_object();
            }
            Event::Status(s) => {
                let _ = (s.status.is_connect_failure(), s.leg_uuid());
            }
            _ => {}
        }
        let value = serde_json::to_value(&event).expect("an Event serializes");
        let _ = serde_json::to_string(&event).expect("an Event serializes to text");
        let again = Event::from_value(value).expect("a serialized Event reads back");
        assert_eq!(again, event, "Event: parse, serialize, parse changed the value");
    }
    if let Ok(rtc) = RtcEvent::from_json(data) {
        let _ = (rtc.response_ncco(), rtc.kind_name(), rtc.kind.group(), rtc.kind.custom_name());
        let body = rtc.typed_body();
        let _ = serde_json::to_string(&body).expect("an RtcBody serializes");
        let value = serde_json::to_value(&rtc).expect("an RtcEvent serializes");
        let again = RtcEvent::from_value(value).expect("a serialized RtcEvent reads back");
        assert_eq!(again, rtc, "RtcEvent: parse, serialize, parse changed the value");
    }
}

// ----------------------------------------------------------------------------------------------
// 3. ncco_validate
// ----------------------------------------------------------------------------------------------

/// NCCO text through the lenient and the strict validator. For every NCCO that validates, the
/// round-trip invariant: `to_json()` parses again, valid, to an equal NCCO.
pub fn ncco_validate(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else { return };
    for validator in [Validator::default(), Validator::strict()] {
        let checked = validator.check_str(s);
        let _ = checked.report.to_string();
        assert_eq!(
            checked.ncco.is_some(),
            checked.report.is_valid(),
            "Checked::ncco must be present exactly when the report has no errors ({:?}): {}",
            validator.mode,
            checked.report
        );
        let Some(ncco) = checked.ncco else { continue };
        for action in ncco.actions() {
            let _ = (action.name(), action.is_synchronous());
        }
        let json = ncco.to_json();
        let again = validator.check_str(&json);
        assert!(
            again.report.is_valid(),
            "{:?}: a valid NCCO serialized to JSON that does not validate\n input: {s}\n json:  {json}\n report: {}",
            validator.mode,
            again.report
        );
        assert_eq!(
            again.ncco.as_ref(),
            Some(&ncco),
            "{:?}: parse, serialize, parse changed the NCCO\n input: {s}\n json:  {json}",
            validator.mode
        );
    }
}

// ----------------------------------------------------------------------------------------------
// 4. signature_verify
// ----------------------------------------------------------------------------------------------

/// The secret used when the input gives none: the one of conformance case wh-30.
pub const DEFAULT_SECRET: &str = "example-signature-secret-0123456789abcdef";
/// signature.rs's `MAX_TIME` (private there): time claims beyond it are refused.
const MAX_TIME: i64 = 100_000_000_000;
/// In a raw claims object (mode 2), this text is replaced by the SHA-256 hex of the body, so the
/// fuzzer gets past the `payload_hash` check.
pub const HASH_PLACEHOLDER: &str = "$HASH";
/// Bytes before the sections: mode (1), now (8), window (4), iat (8).
pub const SIGNATURE_HEADER_LEN: usize = 21;

/// Input: `mode:u8 | now:i64 LE | window_secs:u32 LE | iat:i64 LE | secret \n field \n body`.
///
/// - mode % 4 == 0: `field` is the raw `Authorization` header value.
/// - mode % 4 == 1: a token from `signature::sign(secret, body, iat, api_key, application_id)`,
///   `field` = `api_key` [`\t` `application_id`]. It must verify exactly when `iat` is within the
///   window of `now`; a changed body and a wrong secret must be refused.
/// - mode % 4 == 2: `field` is a raw claims object (JSON, any keys: iat, exp, nbf, ...) signed with
///   HS256 under `secret`, `$HASH` replaced by the body's hash: reaches the post-MAC paths.
/// - mode % 4 == 3: as 2, with `field` split at the first `\t` into a raw JWT header and claims.
///
/// An empty `secret` section means [`DEFAULT_SECRET`]. `now` is seconds from the epoch (negative:
/// before it; clamped to what `SystemTime` holds).
pub fn signature_verify(data: &[u8]) {
    if data.len() < SIGNATURE_HEADER_LEN {
        let _ = signature::verify(
            Some(&text(data)),
            DEFAULT_SECRET,
            b"",
            Duration::from_secs(300),
            UNIX_EPOCH + Duration::from_secs(1_767_225_605),
        );
        return;
    }
    let mode = data[0] % 4;
    let now_secs = i64::from_le_bytes(data[1..9].try_into().unwrap());
    let window = Duration::from_secs(u64::from(u32::from_le_bytes(data[9..13].try_into().unwrap())));
    let iat = i64::from_le_bytes(data[13..21].try_into().unwrap());
    let mut sections = data[SIGNATURE_HEADER_LEN..].splitn(3, |b| *b == b'\n');
    let secret = text(sections.next().unwrap_or_default()).into_owned();
    let secret = if secret.is_empty() { DEFAULT_SECRET.to_owned() } else { secret };
    let field = sections.next().unwrap_or_default();
    let body = sections.next().unwrap_or_default();
    let now = system_time(now_secs);
    let verify = |auth: &str, secret: &str, body: &[u8]| signature::verify(Some(auth), secret, body, window, now);

    match mode {
        0 => {
            let auth = text(field);
            let _ = verify(&auth, &secret, body);
            let _ = signature::verify(None, &secret, body, window, now);
        }
        1 => {
            let field = text(field);
            let (api_key, application_id) = match field.split_once('\t') {
                Some((k, a)) => (k, Some(a)),
                None => (&*field, None),
            };
            let token = signature::sign(&secret, body, iat, api_key, application_id);
            let auth = format!("Bearer {token}");
            let result = verify(&auth, &secret, body);
            // What the verifier sees as "now": seconds since the epoch, 0 before it.
            let seen_now = now.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(MAX_TIME));
            let limit = i128::from(i64::try_from(window.as_secs()).unwrap_or(MAX_TIME));
            let skew = i128::from(seen_now) - i128::from(iat);
            let should_pass = (-MAX_TIME..=MAX_TIME).contains(&iat) && skew.abs() <= limit;
            match &result {
                Ok(claims) => {
                    assert!(should_pass, "sign() token accepted outside the window: iat {iat}, now {seen_now}");
                    assert_eq!(claims.iat, Some(iat));
                    assert_eq!(claims.api_key.as_deref(), Some(api_key));
                    assert_eq!(claims.application_id.as_deref(), application_id);
                }
                Err(e) => assert!(!should_pass, "sign() token refused inside the window: {e} (iat {iat}, now {seen_now})"),
            }
            // A changed body: the MAC still holds, the payload hash must not.
            let mut tampered = body.to_vec();
            tampered.push(b' ');
            assert!(
                matches!(verify(&auth, &secret, &tampered), Err(signature::SignatureError::PayloadHash(_))),
                "a changed body must be refused by payload_hash"
            );
            // A wrong secret: the MAC must fail.
            let wrong = format!("{secret}x");
            assert_eq!(verify(&auth, &wrong, body), Err(signature::SignatureError::BadSignature));
        }
        _ => {
            let field = text(field);
            let (header, claims) = if mode == 3 {
                field.split_once('\t').unwrap_or((r#"{"alg":"HS256","typ":"JWT"}"#, &field))
            } else {
                (r#"{"alg":"HS256","typ":"JWT"}"#, &*field)
            };
            let claims = claims.replace(HASH_PLACEHOLDER, &sha256_hex(body));
            let token = hs256(&secret, header.as_bytes(), claims.as_bytes());
            let result = verify(&format!("Bearer {token}"), &secret, body);
            if let Ok(verified) = result {
                let iat = verified.iat.expect("verified claims carry iat");
                assert!((-MAX_TIME..=MAX_TIME).contains(&iat), "accepted iat {iat} out of range");
            }
        }
    }
}

/// `now_secs` from the epoch as a `SystemTime`, saturating at what the platform holds.
fn system_time(now_secs: i64) -> SystemTime {
    let magnitude = Duration::from_secs(now_secs.unsigned_abs());
    let t = if now_secs >= 0 { UNIX_EPOCH.checked_add(magnitude) } else { UNIX_EPOCH.checked_sub(magnitude) };
    t.unwrap_or(UNIX_EPOCH)
}

fn sha256_hex(body: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect()
}

/// An HS256 JWT of raw header and claims bytes.
fn hs256(secret: &str, header: &[u8], claims: &[u8]) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::Mac as _;
    let h64 = URL_SAFE_NO_PAD.encode(header);
    let c64 = URL_SAFE_NO_PAD.encode(claims);
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(h64.as_bytes());
    mac.update(b".");
    mac.update(c64.as_bytes());
    let s64 = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{h64}.{c64}.{s64}")
}

// ----------------------------------------------------------------------------------------------
// 5. config_tenant_app
// ----------------------------------------------------------------------------------------------

/// The separator of a tenant.toml and an <app>.toml in one input.
pub const CONFIG_SEPARATOR: &str = "\n#---app---\n";

/// `TenantConfig::parse` and `AppConfig::parse`. Input: `tenant.toml` [`CONFIG_SEPARATOR`]
/// `<app>.toml`; without the separator, the whole text is tried as both. The app is resolved
/// against the default ceilings and, when the tenant part parses, against its ceilings. A parsed
/// app's limits must lie within its ceilings and its fallback must be a valid NCCO.
pub fn config_tenant_app(data: &[u8]) {
    use config::{AppConfig, Ceilings, TenantConfig};
    let Ok(s) = std::str::from_utf8(data) else { return };
    let (tenant_text, app_text) = s.split_once(CONFIG_SEPARATOR).unwrap_or((s, s));
    let tenant = TenantConfig::parse(Path::new("t/tenant.toml"), tenant_text);
    if let Err(e) = &tenant {
        let _ = e.to_string();
    }
    let mut ceilings = vec![Ceilings::default()];
    if let Ok(t) = &tenant {
        ceilings.push(t.ceilings());
    }
    for c in &ceilings {
        match AppConfig::parse(Path::new("t/app.toml"), app_text, c) {
            Ok(app) => {
                assert!(app.limits.timeout <= Duration::from_millis(c.timeout_ms), "timeout above the ceiling");
                assert!(app.limits.memory_bytes <= c.memory_mib << 20, "memory above the ceiling");
                assert!(app.limits.max_ncco_bytes <= c.max_ncco_bytes, "max_ncco_bytes above the ceiling");
                assert!(app.limits.log_bytes <= c.log_bytes, "log_bytes above the ceiling");
                let checked = Validator::default().check_str(&app.fallback_ncco);
                assert!(checked.report.is_valid(), "the fallback NCCO does not validate: {}", checked.report);
                let out = &app.outbound;
                assert!(out.max_requests <= c.max_outbound_requests, "max_outbound_requests above the ceiling");
                assert!(out.max_response_bytes <= c.max_outbound_response_bytes, "response bytes above the ceiling");
                if let Some(cap) = &c.allowed_outbound_hosts {
                    let cap = config::outbound::parse_list("cap", cap).expect("the tenant's cap parsed when read");
                    for a in &out.allowed {
                        assert!(cap.iter().any(|c| a.within(c)), "{a} is outside the tenant's cap");
                    }
                }
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
}

// ----------------------------------------------------------------------------------------------
// 6. allow_list
// ----------------------------------------------------------------------------------------------

/// The `allowed_outbound_hosts` grammar and matching. Input: lines, each tried as an entry and as a
/// request URL (`scheme://host[:port]`). Every entry lies within itself; and `within` is sound: when
/// `a` lies within `b`, every URL `a` allows, `b` allows too (a tenant's cap can never be escaped by
/// an app entry the cap accepted).
pub fn allow_list(data: &[u8]) {
    use config::AllowedHost;
    use config::outbound::Target;
    let Ok(s) = std::str::from_utf8(data) else { return };
    let lines: Vec<&str> = s.lines().take(32).collect();
    let entries: Vec<AllowedHost> = lines.iter().filter_map(|l| AllowedHost::parse(l).ok()).collect();
    let mut targets: Vec<Target> = lines
        .iter()
        .filter_map(|l| {
            let (scheme, rest) = l.split_once("://")?;
            let https = match scheme {
                "http" => false,
                "https" => true,
                _ => return None,
            };
            let (host, port) = match rest.rsplit_once(':') {
                Some((h, p)) if !h.ends_with(':') && !h.is_empty() => (h, Some(p.parse::<u16>().ok()?)),
                _ => (rest, None),
            };
            Target::new(https, host, port)
        })
        .collect();
    for probe in ["example.com", "a.example.com", "10.1.2.3", "127.0.0.1", "[::1]", "[fd00::1]", "[::ffff:10.0.0.1]"] {
        for https in [false, true] {
            for port in [None, Some(8443)] {
                targets.extend(Target::new(https, probe, port));
            }
        }
    }
    for a in &entries {
        assert!(a.within(a), "{a} does not lie within itself");
        let _ = a.to_string();
        for b in &entries {
            if !a.within(b) {
                continue;
            }
            for t in &targets {
                assert!(!a.allows(t) || b.allows(t), "{a} lies within {b}, but allows {t:?} and {b} does not");
            }
        }
    }
}
