//! The Voice API's application JWT: RS256 over the claims Vonage requires (`application_id`, `iat`,
//! `jti`, `exp`), signed with the tenant's private key by aws-lc-rs (constant time), minted by the
//! host, cached and renewed before it expires. Plugins never see the key or the token.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

/// How long a minted token is valid.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// A cached token is renewed when less than this is left of it.
pub const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// The claims of a Voice API application token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The Vonage application.
    pub application_id: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Unique token id.
    pub jti: String,
    /// Expiry, Unix seconds.
    pub exp: u64,
}

/// A tenant's Vonage application: its id and private key, and the token last minted with them.
pub struct ApplicationKey {
    application_id: String,
    key: EncodingKey,
    /// SHA-256 of the key file, to tell a changed key from the same one on a rescan.
    fingerprint: [u8; 32],
    cached: Mutex<Option<(String, u64)>>,
}

impl std::fmt::Debug for ApplicationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key, never the token.
        f.debug_struct("ApplicationKey").field("application_id", &self.application_id).finish_non_exhaustive()
    }
}

/// Why a private key file cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

impl ApplicationKey {
    /// The key of `application_id` from the PEM text of a private key (PKCS#8, or PKCS#1 `RSA
    /// PRIVATE KEY`). The key is tried once here, so a key that cannot sign is refused at load.
    pub fn from_pem(application_id: &str, pem: &[u8]) -> Result<Self, KeyError> {
        let text = std::str::from_utf8(pem).map_err(|_| KeyError("is not PEM text".into()))?;
        if !text.contains("PRIVATE KEY-----") {
            return Err(KeyError("is not a PEM private key (`-----BEGIN PRIVATE KEY-----`)".into()));
        }
        let key = EncodingKey::from_rsa_pem(pem).map_err(|e| KeyError(format!("is not an RSA private key: {e}")))?;
        use sha2::Digest as _;
        let fingerprint = sha2::Sha256::digest(pem).into();
        let this =
            ApplicationKey { application_id: application_id.to_owned(), key, fingerprint, cached: Mutex::default() };
        this.mint(now_secs()).map_err(|e| KeyError(format!("cannot sign with it: {e}")))?;
        Ok(this)
    }

    /// The application id.
    pub fn application_id(&self) -> &str {
        &self.application_id
    }

    /// True when this is the key of `application_id` read from the same file bytes.
    pub fn same_as(&self, application_id: &str, pem: &[u8]) -> bool {
        use sha2::Digest as _;
        self.application_id == application_id && self.fingerprint == <[u8; 32]>::from(sha2::Sha256::digest(pem))
    }

    /// A token for a request now: the cached one while more than [`RENEW_BEFORE`] of it is left,
    /// else a new one.
    pub fn token(&self) -> Result<String, jsonwebtoken::errors::Error> {
        let now = now_secs();
        let mut cached = self.cached.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((token, exp)) = cached.as_ref()
            && *exp > now + RENEW_BEFORE.as_secs()
        {
            return Ok(token.clone());
        }
        let (token, exp) = self.mint(now)?;
        *cached = Some((token.clone(), exp));
        Ok(token)
    }

    fn mint(&self, now: u64) -> Result<(String, u64), jsonwebtoken::errors::Error> {
        let exp = now + TOKEN_LIFETIME.as_secs();
        let claims = Claims {
            application_id: self.application_id.clone(),
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
            exp,
        };
        let header = Header { typ: Some("JWT".into()), ..Header::new(Algorithm::RS256) };
        Ok((jsonwebtoken::encode(&header, &claims, &self.key)?, exp))
    }
}

/// Unix seconds now.
pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/vonage");
        std::fs::read(dir.join(name)).expect("the test keys are in tests/fixtures/vonage")
    }

    #[test]
    fn tokens_verify_against_the_public_key_and_are_cached() {
        let key =
            ApplicationKey::from_pem("2b2f6d9e-1c4a-4e8b-9a57-0d1c2e3f4a5b", &fixture("application.key")).unwrap();
        let token = key.token().unwrap();
        let public = jsonwebtoken::DecodingKey::from_rsa_pem(&fixture("application.pub")).unwrap();
        let data = jsonwebtoken::decode::<Claims>(&token, &public, &jsonwebtoken::Validation::new(Algorithm::RS256))
            .expect("verifies");
        assert_eq!(data.claims.application_id, "2b2f6d9e-1c4a-4e8b-9a57-0d1c2e3f4a5b");
        assert_eq!(data.claims.exp - data.claims.iat, TOKEN_LIFETIME.as_secs());
        assert_eq!(key.token().unwrap(), token, "cached while far from expiry");
        assert!(key.same_as("2b2f6d9e-1c4a-4e8b-9a57-0d1c2e3f4a5b", &fixture("application.key")));
        assert!(!key.same_as("2b2f6d9e-1c4a-4e8b-9a57-0d1c2e3f4a5b", &fixture("forger.key")));
    }

    #[test]
    fn what_is_not_an_rsa_private_key_is_refused_without_echoing_it() {
        for bad in [
            &b"not a key"[..],
            &fixture("application.pub"),
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ] {
            let e = ApplicationKey::from_pem("2b2f6d9e-1c4a-4e8b-9a57-0d1c2e3f4a5b", bad).expect_err("refused");
            assert!(!e.to_string().contains("AAAA"), "{e}");
        }
    }
}
