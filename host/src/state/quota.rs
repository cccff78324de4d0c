//! Per-tenant state quotas: how many keys and bytes a tenant's plugins may keep in the state
//! backend, over all its apps, app and call state together (the host's own records, pins and
//! replay ids, are not counted).
//!
//! Every backend keeps a tenant's [`Usage`] in the same atomic step as the write that changes it
//! (the embedded store in the write transaction, Redis in one script), so the figure is exact and
//! survives restarts. An entry counts from when it is written until it is removed: by a delete, or
//! by the backend's sweep once it has expired. A write that would grow a tenant's keys or bytes past
//! its [`Limits`] is refused with [`QuotaExceeded`] and changes nothing; writes that shrink usage
//! (deletes, smaller values) always pass, so a tenant over a lowered quota can clean up.

use std::collections::HashMap;
use std::sync::RwLock;

use serde::Serialize;

use super::Namespace;

/// A tenant's state keys unless its `tenant.toml` says otherwise.
pub const DEFAULT_STATE_KEYS: u64 = 100_000;
/// A tenant's state bytes unless its `tenant.toml` says otherwise (256 MiB).
pub const DEFAULT_STATE_BYTES: u64 = 256 << 20;

/// How much state a tenant may keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Most keys.
    pub keys: u64,
    /// Most bytes: every key (with its namespace) and value.
    pub bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { keys: DEFAULT_STATE_KEYS, bytes: DEFAULT_STATE_BYTES }
    }
}

/// How much state a tenant keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Keys stored.
    pub keys: u64,
    /// Bytes stored: keys (with their namespace) and values.
    pub bytes: u64,
}

/// A refused write: it would take the tenant past its quota.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the tenant's state quota of {limit} {what} is used up ({used} in use)")]
pub struct QuotaExceeded {
    /// `keys` or `bytes`.
    pub what: &'static str,
    /// What the tenant uses.
    pub used: u64,
    /// Its limit.
    pub limit: u64,
}

/// What one stored entry costs.
pub fn entry_bytes(full_key: &str, value_len: usize) -> u64 {
    (full_key.len() + value_len) as u64
}

impl Usage {
    /// Applies a write that turns an entry of `old` bytes (`None`: absent) into one of `new` bytes
    /// (`None`: removed), unless it grows keys or bytes past `limits`.
    pub fn charge(&mut self, limits: Limits, old: Option<u64>, new: Option<u64>) -> Result<(), QuotaExceeded> {
        let keys = (self.keys + u64::from(new.is_some())).saturating_sub(u64::from(old.is_some()));
        let bytes = (self.bytes + new.unwrap_or(0)).saturating_sub(old.unwrap_or(0));
        if keys > self.keys && keys > limits.keys {
            return Err(QuotaExceeded { what: "keys", used: self.keys, limit: limits.keys });
        }
        if bytes > self.bytes && bytes > limits.bytes {
            return Err(QuotaExceeded { what: "bytes", used: self.bytes, limit: limits.bytes });
        }
        *self = Usage { keys, bytes };
        Ok(())
    }

    /// An entry of `size` bytes is gone (expired and swept).
    pub fn release(&mut self, size: u64) {
        self.keys = self.keys.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(size);
    }

    /// 16 bytes, for a backend to store.
    pub fn encode(self) -> [u8; 16] {
        let mut out = [0; 16];
        out[..8].copy_from_slice(&self.keys.to_le_bytes());
        out[8..].copy_from_slice(&self.bytes.to_le_bytes());
        out
    }

    /// The inverse of [`Usage::encode`]; anything else reads as nothing used.
    pub fn decode(raw: &[u8]) -> Usage {
        let word = |r: Option<&[u8]>| r.and_then(|b| b.try_into().ok()).map_or(0, u64::from_le_bytes);
        Usage { keys: word(raw.get(..8)), bytes: word(raw.get(8..16)) }
    }
}

/// The tenant whose quota a namespace's entries count against: app and call state only.
pub fn accounted(ns: &Namespace) -> Option<&str> {
    match ns {
        Namespace::App { tenant, .. } | Namespace::Call { tenant, .. } => Some(tenant),
        _ => None,
    }
}

/// The tenant whose quota a stored key (a namespace prefix and a key) counts against, read back from
/// the key: `<tenant>/<app>/app/...` or `<tenant>/<app>/call/...`.
pub fn accounted_key(full_key: &str) -> Option<&str> {
    let mut parts = full_key.splitn(4, '/');
    let (tenant, app, kind) = (parts.next()?, parts.next()?, parts.next()?);
    (!tenant.is_empty() && !app.is_empty() && matches!(kind, "app" | "call") && parts.next().is_some())
        .then_some(tenant)
}

/// Every tenant's limits, as the webhook path last saw its configuration.
#[derive(Debug, Default)]
pub struct Quotas {
    tenants: RwLock<HashMap<String, Limits>>,
}

impl Quotas {
    /// The limits of `tenant` (the defaults for a tenant not seen yet).
    pub fn limits(&self, tenant: &str) -> Limits {
        self.tenants.read().ok().and_then(|t| t.get(tenant).copied()).unwrap_or_default()
    }

    /// Sets the limits of `tenant` (cheap when they did not change).
    pub fn set(&self, tenant: &str, limits: Limits) {
        if self.tenants.read().ok().and_then(|t| t.get(tenant).copied()) == Some(limits) {
            return;
        }
        if let Ok(mut t) = self.tenants.write() {
            t.insert(tenant.to_owned(), limits);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_past_a_limit_is_refused_and_shrinking_always_passes() -> Result<(), QuotaExceeded> {
        let limits = Limits { keys: 2, bytes: 100 };
        let mut u = Usage::default();
        u.charge(limits, None, Some(40))?;
        u.charge(limits, None, Some(40))?;
        assert_eq!(u, Usage { keys: 2, bytes: 80 });
        let e = u.charge(limits, None, Some(1)).expect_err("a third key is one too many");
        assert_eq!((e.what, e.used, e.limit), ("keys", 2, 2));
        let e = u.charge(limits, Some(40), Some(61)).expect_err("101 bytes are one too many");
        assert_eq!(e.what, "bytes");
        assert_eq!(u, Usage { keys: 2, bytes: 80 }, "a refused write changes nothing");
        u.charge(limits, Some(40), Some(60))?;
        u.charge(limits, Some(60), None)?;
        assert_eq!(u, Usage { keys: 1, bytes: 40 });
        // Over a lowered limit: shrinking passes, growing does not.
        let lower = Limits { keys: 0, bytes: 10 };
        u.charge(lower, Some(40), Some(30))?;
        assert!(u.charge(lower, Some(30), Some(31)).is_err());
        assert_eq!(Usage::decode(&u.encode()), u);
        Ok(())
    }

    #[test]
    fn only_app_and_call_state_counts() {
        let app = Namespace::App { tenant: "t".into(), app: "a".into() };
        let call = Namespace::Call { tenant: "t".into(), app: "a".into(), conversation: "CON-1".into() };
        let pins = Namespace::Pins { tenant: "t".into(), app: "a".into() };
        let replay = Namespace::Replay { tenant: "t".into() };
        assert_eq!(accounted(&app), Some("t"));
        assert_eq!(accounted_key(&(app.prefix() + "k")), Some("t"));
        assert_eq!(accounted_key(&(call.prefix() + "k")), Some("t"));
        assert_eq!(accounted(&pins), None);
        assert_eq!(accounted_key(&(pins.prefix() + "k")), None);
        assert_eq!(accounted_key(&(replay.prefix() + "k")), None);
        assert_eq!(accounted_key(&(Namespace::Host.prefix() + "k")), None);
        assert_eq!(accounted_key("/usage/t"), None);
    }
}
