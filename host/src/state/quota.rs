//! Per-tenant state quotas: how many keys and bytes a tenant's plugins may keep in the state
//! backend, over all its apps, app and call state together. The host's version pins of a tenant's
//! calls are kept in a ledger of their own, bounded by the operator's `tenant_max_pinned_calls`, so
//! the pin table is bounded too (replay ids are bounded by the signature window and not counted).
//!
//! Every backend keeps a tenant's [`Usage`] in the same atomic step as the write that changes it
//! (the embedded store in the write transaction, Redis in one script), so the figure is exact and
//! survives restarts. An entry counts from when it is written until it is removed: by a delete, or
//! by the backend's sweep once it has expired. A write that would grow a tenant's keys or bytes past
//! its [`Limits`] is refused with [`QuotaExceeded`] and changes nothing; writes that shrink usage
//! (deletes, smaller values) always pass, so a tenant over a lowered quota can clean up.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::RwLock;

use serde::Serialize;

use super::Namespace;

/// A tenant's state keys unless its `tenant.toml` says otherwise.
pub const DEFAULT_STATE_KEYS: u64 = 100_000;
/// A tenant's state bytes unless its `tenant.toml` says otherwise (256 MiB).
pub const DEFAULT_STATE_BYTES: u64 = 256 << 20;

/// Calls of one tenant pinned to their versions at once, unless the operator says otherwise.
pub const DEFAULT_PINNED_CALLS: u64 = 100_000;
/// Most bytes one pinned call's two entries take: twice the namespace (tenant and app names of up to
/// 128 bytes), the conversation id twice (up to 64), the version hash twice (64) and the key marks.
const PIN_BYTES: u64 = 800;

/// What the version pins of `calls` calls may hold: two entries per pinned call (the pin and its
/// index entry). Past it a call is not pinned (its later events run on the live version).
pub fn pin_limits(calls: u64) -> Limits {
    Limits { keys: calls.saturating_mul(2), bytes: calls.saturating_mul(PIN_BYTES) }
}

/// The suffix of a tenant's pin ledger (`<tenant>//pins`: no tenant name holds a `/`).
const PINS_LEDGER: &str = "//pins";

/// The ledger of `tenant`'s version pins.
pub fn pins_ledger(tenant: &str) -> String {
    format!("{tenant}{PINS_LEDGER}")
}

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

/// The ledger a namespace's entries count against: its tenant's (app and call state) or its
/// tenant's pins; none for the host's other records.
pub fn accounted(ns: &Namespace) -> Option<Cow<'_, str>> {
    match ns {
        Namespace::App { tenant, .. } | Namespace::Call { tenant, .. } => Some(Cow::Borrowed(tenant)),
        Namespace::Pins { tenant, .. } => Some(Cow::Owned(pins_ledger(tenant))),
        _ => None,
    }
}

/// The ledger a stored key (a namespace prefix and a key) counts against, read back from the key:
/// `<tenant>/<app>/app/...` and `<tenant>/<app>/call/...` the tenant's, `<tenant>/<app>/pin/...`
/// its pins'.
pub fn accounted_key(full_key: &str) -> Option<Cow<'_, str>> {
    let mut parts = full_key.splitn(4, '/');
    let (tenant, app, kind) = (parts.next()?, parts.next()?, parts.next()?);
    if tenant.is_empty() || app.is_empty() || parts.next().is_none() {
        return None;
    }
    match kind {
        "app" | "call" => Some(Cow::Borrowed(tenant)),
        "pin" => Some(Cow::Owned(pins_ledger(tenant))),
        _ => None,
    }
}

/// The tenant a ledger belongs to.
pub fn ledger_tenant(ledger: &str) -> &str {
    ledger.strip_suffix(PINS_LEDGER).unwrap_or(ledger)
}

/// What each tenant may keep: the operator's defaults, each tenant's own `[limits] state_keys` /
/// `state_mib` (set by the registry whenever it reads the tree), and the bound on each tenant's pins.
#[derive(Debug)]
pub struct Quotas {
    tenants: RwLock<HashMap<String, Limits>>,
    default: RwLock<Limits>,
    pins: RwLock<Limits>,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            tenants: RwLock::default(),
            default: RwLock::new(Limits::default()),
            pins: RwLock::new(pin_limits(DEFAULT_PINNED_CALLS)),
        }
    }
}

impl Quotas {
    /// The limits of a ledger: a tenant's (the operator's defaults for a tenant without its own), or
    /// a tenant's pins'.
    pub fn limits(&self, ledger: &str) -> Limits {
        if ledger.ends_with(PINS_LEDGER) {
            return self.pins.read().map_or_else(|_| pin_limits(DEFAULT_PINNED_CALLS), |p| *p);
        }
        let own = self.tenants.read().ok().and_then(|t| t.get(ledger).copied());
        own.unwrap_or_else(|| self.default.read().map_or_else(|_| Limits::default(), |d| *d))
    }

    /// The operator's defaults for tenants whose `tenant.toml` sets no state quota.
    pub fn set_default(&self, limits: Limits) {
        if let Ok(mut d) = self.default.write() {
            *d = limits;
        }
    }

    /// Every tenant's own quota, from its `[limits]` (`None` where it keeps the operator's
    /// default); tenants not listed fall back to the defaults.
    pub fn set_tenants<'a>(&self, tenants: impl Iterator<Item = (&'a str, Option<u64>, Option<u64>)>) {
        let default = self.default.read().map_or_else(|_| Limits::default(), |d| *d);
        let resolved: HashMap<String, Limits> = tenants
            .filter(|(_, keys, mib)| keys.is_some() || mib.is_some())
            .map(|(name, keys, mib)| {
                let limits =
                    Limits { keys: keys.unwrap_or(default.keys), bytes: mib.map_or(default.bytes, |m| m << 20) };
                (name.to_owned(), limits)
            })
            .collect();
        if let Ok(mut t) = self.tenants.write() {
            *t = resolved;
        }
    }

    /// Bounds every tenant's pins to `calls` pinned calls.
    pub fn set_pinned_calls(&self, calls: u64) {
        if let Ok(mut p) = self.pins.write() {
            *p = pin_limits(calls);
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
    fn app_and_call_state_count_for_the_tenant_and_pins_apart() {
        let app = Namespace::App { tenant: "t".into(), app: "a".into() };
        let call = Namespace::Call { tenant: "t".into(), app: "a".into(), conversation: "CON-1".into() };
        let pins = Namespace::Pins { tenant: "t".into(), app: "a".into() };
        let replay = Namespace::Replay { tenant: "t".into() };
        assert_eq!(accounted(&app).as_deref(), Some("t"));
        assert_eq!(accounted_key(&(app.prefix() + "k")).as_deref(), Some("t"));
        assert_eq!(accounted_key(&(call.prefix() + "k")).as_deref(), Some("t"));
        assert_eq!(accounted(&pins).as_deref(), Some("t//pins"));
        assert_eq!(accounted_key(&(pins.prefix() + "c/CON-1")).as_deref(), Some("t//pins"));
        assert_eq!(ledger_tenant("t//pins"), "t");
        assert_eq!(Quotas::default().limits("t//pins"), pin_limits(DEFAULT_PINNED_CALLS));
        assert_eq!(accounted(&replay), None);
        assert_eq!(accounted_key(&(replay.prefix() + "k")), None);
        assert_eq!(accounted_key(&(Namespace::Host.prefix() + "k")), None);
        assert_eq!(accounted_key("/usage/t"), None);
    }
}
