//! Signed webhooks: Vonage's HS256 JWT in `Authorization: Bearer`, with `payload_hash` (SHA-256 hex
//! of the raw body) and an `iat` inside a window either way.
//!
//! Verification is small and exact, so it is written here on `hmac` and `sha2` (constant-time MAC
//! comparison): only HS256 is accepted, whatever the token's header says; `alg: none` and every other
//! algorithm are refused before any signature work.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Verified claims passed on to the plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct VerifiedClaims {
    /// The account.
    pub api_key: Option<String>,
    /// The application.
    pub application_id: Option<String>,
    /// Token id.
    pub jti: Option<String>,
    /// Issue time.
    pub iat: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Header {
    alg: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Claims {
    iat: Option<serde_json::Value>,
    exp: Option<serde_json::Value>,
    nbf: Option<serde_json::Value>,
    payload_hash: Option<String>,
    api_key: Option<String>,
    application_id: Option<String>,
    jti: Option<String>,
}

/// Why a webhook's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `Authorization: Bearer` header.
    #[error("missing `Authorization: Bearer <JWT>`: this tenant requires signed webhooks")]
    Missing,
    /// Not three base64url parts with JSON header and claims.
    #[error("malformed JWT: {0}")]
    Malformed(String),
    /// Any algorithm but HS256.
    #[error("JWT algorithm {0:?} is not accepted; only HS256 is")]
    Algorithm(String),
    /// The signature does not match the tenant's secret.
    #[error("JWT signature does not match")]
    BadSignature,
    /// No `payload_hash`, or it is not the SHA-256 of the body.
    #[error("{0}")]
    PayloadHash(String),
    /// `iat` missing or outside the window.
    #[error("{0}")]
    IssuedAt(String),
}

/// Checks `authorization` (the header value) against `secret`, the raw `body` and the clock.
pub fn verify(
    authorization: Option<&str>,
    secret: &str,
    body: &[u8],
    window: Duration,
    now: SystemTime,
) -> Result<VerifiedClaims, SignatureError> {
    let token = authorization
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(SignatureError::Missing)?;
    let mut parts = token.split('.');
    let (Some(h64), Some(c64), Some(s64), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(SignatureError::Malformed("expected three dot-separated parts".into()));
    };
    let header: Header = decode_json(h64, "header")?;
    match header.alg.as_deref() {
        Some("HS256") => {}
        other => return Err(SignatureError::Algorithm(other.unwrap_or("(none)").to_owned())),
    }
    let signature =
        URL_SAFE_NO_PAD.decode(s64).map_err(|_| SignatureError::Malformed("signature is not base64url".into()))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|_| SignatureError::Malformed("unusable secret".into()))?;
    mac.update(h64.as_bytes());
    mac.update(b".");
    mac.update(c64.as_bytes());
    mac.verify_slice(&signature).map_err(|_| SignatureError::BadSignature)?;

    let claims: Claims = decode_json(c64, "claims")?;
    let expected = claims
        .payload_hash
        .as_deref()
        .ok_or_else(|| SignatureError::PayloadHash("the JWT has no `payload_hash` claim".into()))?;
    let actual: String = Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect();
    if !expected.eq_ignore_ascii_case(&actual) {
        return Err(SignatureError::PayloadHash(
            "`payload_hash` does not match the SHA-256 of the body: the body was changed".into(),
        ));
    }
    let iat = seconds(claims.iat.as_ref())
        .ok_or_else(|| SignatureError::IssuedAt("the JWT has no numeric `iat` claim in range".into()))?;
    // Clamped like the claims, so every difference below fits in an `i64` (fuzzing found a clock far
    // in the future overflowing).
    let now_secs =
        now.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(MAX_TIME)).min(MAX_TIME);
    // Vonage documents no `exp` or `nbf`; when a token carries them, they hold (and must be times).
    for (name, claim) in [("exp", &claims.exp), ("nbf", &claims.nbf)] {
        if claim.is_some() && seconds(claim.as_ref()).is_none() {
            return Err(SignatureError::IssuedAt(format!("the JWT's `{name}` is not a time in range")));
        }
    }
    if let Some(exp) = seconds(claims.exp.as_ref())
        && now_secs >= exp
    {
        return Err(SignatureError::IssuedAt(format!("the JWT expired {} s ago (`exp`)", now_secs - exp)));
    }
    if let Some(nbf) = seconds(claims.nbf.as_ref())
        && now_secs < nbf
    {
        return Err(SignatureError::IssuedAt(format!("the JWT is not valid for another {} s (`nbf`)", nbf - now_secs)));
    }
    let skew = now_secs - iat;
    let limit = i64::try_from(window.as_secs()).unwrap_or(MAX_TIME);
    if skew > limit {
        return Err(SignatureError::IssuedAt(format!(
            "the JWT was issued {skew} s ago; at most {limit} s are accepted"
        )));
    }
    if -skew > limit {
        return Err(SignatureError::IssuedAt(format!(
            "the JWT is issued {} s in the future; at most {limit} s of clock skew are accepted",
            -skew
        )));
    }
    Ok(VerifiedClaims {
        api_key: claims.api_key,
        application_id: claims.application_id,
        jti: claims.jti,
        iat: Some(iat),
    })
}

/// Largest magnitude of a time claim, seconds (year 5138): beyond it a claim is refused, so every
/// difference of two times fits in an `i64`.
const MAX_TIME: i64 = 100_000_000_000;

/// A NumericDate claim: a number (or a number in a string) of seconds since the epoch, within
/// +-[`MAX_TIME`]; anything else is treated as absent.
fn seconds(claim: Option<&serde_json::Value>) -> Option<i64> {
    let value = match claim? {
        serde_json::Value::Number(n) => {
            n.as_i64().or_else(|| n.as_f64().filter(|f| f.is_finite() && f.abs() <= MAX_TIME as f64).map(|f| f as i64))
        }
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    (-MAX_TIME..=MAX_TIME).contains(&value).then_some(value)
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str, what: &str) -> Result<T, SignatureError> {
    let bytes =
        URL_SAFE_NO_PAD.decode(part).map_err(|_| SignatureError::Malformed(format!("{what} is not base64url")))?;
    serde_json::from_slice(&bytes).map_err(|e| SignatureError::Malformed(format!("{what} is not a JSON object: {e}")))
}

/// Signs `body` the way Vonage does (HS256, `payload_hash`, `iat`): for tests, the simulator and
/// tools that call the host.
pub fn sign(secret: &str, body: &[u8], iat: i64, api_key: &str, application_id: Option<&str>) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let hash: String = Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect();
    let mut claims = serde_json::json!({
        "iat": iat,
        "jti": uuid::Uuid::new_v4().to_string(),
        "iss": "Vonage",
        "payload_hash": hash,
        "api_key": api_key,
    });
    if let Some(id) = application_id {
        claims["application_id"] = serde_json::Value::String(id.to_owned());
    }
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    // HMAC takes keys of any length, so this never fails.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return String::new() };
    mac.update(header.as_bytes());
    mac.update(b".");
    mac.update(claims.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{header}.{claims}.{signature}")
}
