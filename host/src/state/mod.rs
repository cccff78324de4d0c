//! Plugin state: call-scoped and app-scoped key-value pairs, namespaced by tenant and app by the
//! host (a plugin names only the key, so it can never reach another app's state).
//!
//! [`StateStore`] is the backend interface, with three backends: [`EmbeddedStore`] (redb under the
//! data directory: durable, the default), [`RedisStore`] (several hosts behind a load balancer) and
//! [`MemoryStore`] (lost on restart; for tests and tools).

mod embedded;
mod group_commit;
mod memory;
mod quota;
mod redis_store;

use std::fmt::{self, Debug};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use embedded::EmbeddedStore;
pub use memory::MemoryStore;
pub use quota::{DEFAULT_PINNED_CALLS, Limits, QuotaExceeded, Quotas, Usage, pins_ledger};
pub use redis_store::RedisStore;

/// How long call state lives when the call never reports `completed` (the longest call Vonage allows).
pub const MAX_CALL_STATE: Duration = Duration::from_secs(7200 + 600);
/// How long call state outlives the call's `completed` event (late callbacks still see it).
pub const CALL_STATE_GRACE: Duration = Duration::from_secs(120);

/// Whose state a key belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Namespace {
    /// Shared by every call of one app.
    App {
        /// Tenant.
        tenant: String,
        /// App.
        app: String,
    },
    /// One call (conversation) of one app.
    Call {
        /// Tenant.
        tenant: String,
        /// App.
        app: String,
        /// The conversation UUID.
        conversation: String,
    },
    /// The host's own records about one app (version pins); never reachable by plugins.
    Pins {
        /// Tenant.
        tenant: String,
        /// App.
        app: String,
    },
    /// The calls one app has seen in its webhooks (call control may reach only those); host-only.
    Seen {
        /// Tenant.
        tenant: String,
        /// App.
        app: String,
    },
    /// Call-control requests of a tenant's Vonage application per second, counted by every host on
    /// a shared backend (the Voice API's rates); host-only.
    Rate {
        /// Tenant.
        tenant: String,
    },
    /// The host's own batched records of many tenants (a writer's fairness key only; holds no keys).
    Host,
    /// Signed-webhook token ids seen recently (replay protection), per tenant; host-only. The empty
    /// app component cannot be an app name.
    Replay {
        /// Tenant.
        tenant: String,
    },
}

impl Namespace {
    /// The tenant the namespace belongs to (empty for the host's own).
    pub fn tenant(&self) -> &str {
        match self {
            Namespace::App { tenant, .. }
            | Namespace::Call { tenant, .. }
            | Namespace::Pins { tenant, .. }
            | Namespace::Seen { tenant, .. }
            | Namespace::Rate { tenant }
            | Namespace::Replay { tenant } => tenant,
            Namespace::Host => "",
        }
    }
}

/// `%` as `%25` and `/` as `%2F`: a component that can hold neither separator.
fn escape_component(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains(['%', '/']) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(s.replace('%', "%25").replace('/', "%2F"))
}

impl Namespace {
    /// The backend key prefix; separators cannot occur in tenant and app names, the conversation id
    /// is escaped (`%` and `/`), and the key itself comes last, so no key can escape its namespace
    /// and no two namespaces overlap. (Ids shaped like Vonage's never need escaping, so keys written
    /// before the escaping are read unchanged.)
    pub fn prefix(&self) -> String {
        match self {
            Namespace::App { tenant, app } => format!("{tenant}/{app}/app/"),
            Namespace::Call { tenant, app, conversation } => {
                format!("{tenant}/{app}/call/{}/", escape_component(conversation))
            }
            Namespace::Pins { tenant, app } => format!("{tenant}/{app}/pin/"),
            Namespace::Seen { tenant, app } => format!("{tenant}/{app}/seen/"),
            Namespace::Replay { tenant } => format!("{tenant}//jti/"),
            Namespace::Rate { tenant } => format!("{tenant}//rate/"),
            Namespace::Host => "/host/".to_owned(),
        }
    }
}

/// A failed state operation.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StateError {
    /// The backend failed (I/O, an unreachable server).
    #[error("state backend: {0}")]
    Backend(String),
    /// The write would take the tenant past its state quota; nothing changed.
    #[error("{0}")]
    Quota(#[from] QuotaExceeded),
}

/// A boxed future of a state operation.
pub type StateFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StateError>> + Send + 'a>>;

/// A key-value backend for plugin state.
pub trait StateStore: Send + Sync + Debug {
    /// The value under `key`, if present and not expired.
    fn get<'a>(&'a self, ns: &'a Namespace, key: &'a str) -> StateFuture<'a, Option<Vec<u8>>>;
    /// Stores `value` under `key`, for `ttl` or until deleted.
    fn set<'a>(&'a self, ns: &'a Namespace, key: &'a str, value: Vec<u8>, ttl: Option<Duration>)
    -> StateFuture<'a, ()>;
    /// Deletes `key`.
    fn delete<'a>(&'a self, ns: &'a Namespace, key: &'a str) -> StateFuture<'a, ()>;
    /// Lets every key of `ns` expire after `grace` (the call completed).
    fn expire_all<'a>(&'a self, ns: &'a Namespace, grace: Duration) -> StateFuture<'a, ()>;
    /// Every live key of `ns` (without the namespace prefix) with its value.
    fn list<'a>(&'a self, ns: &'a Namespace) -> StateFuture<'a, Vec<(String, Vec<u8>)>>;

    /// The tenants' state quotas this backend enforces.
    fn quotas(&self) -> &Quotas;

    /// What `tenant` keeps in state, as its quota counts it.
    fn usage<'a>(&'a self, tenant: &'a str) -> StateFuture<'a, Usage>;

    /// The fault the backend is in (writes failing since an I/O error), if any: `/healthz` reports
    /// the host degraded while there is one.
    fn fault(&self) -> Option<String> {
        None
    }

    /// Stores `value` under `key` only if no live value is there; true when it stored it (one atomic
    /// step on every backend).
    fn insert_new<'a>(
        &'a self,
        ns: &'a Namespace,
        key: &'a str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> StateFuture<'a, bool>;

    /// Adds `delta` to the integer (decimal text) under `key`, an absent key counting as 0, in one
    /// atomic step; `ttl` applies when the key is created. `None` when the stored value is not an
    /// integer or the sum overflows (nothing changed).
    fn increment<'a>(
        &'a self,
        ns: &'a Namespace,
        key: &'a str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> StateFuture<'a, Option<i64>>;

    /// Sets `key` to `new` (deletes it, for `None`) only if its live value is `expected` (`None`:
    /// absent), in one atomic step; true when it did.
    fn compare_and_set<'a>(
        &'a self,
        ns: &'a Namespace,
        key: &'a str,
        expected: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
        ttl: Option<Duration>,
    ) -> StateFuture<'a, bool>;

    /// A live key of `ns` (without the namespace prefix) that starts with `prefix`, if any; stops at
    /// the first one found.
    fn first_live<'a>(&'a self, ns: &'a Namespace, prefix: &'a str) -> StateFuture<'a, Option<String>>;

    /// Stores many entries at once, for advisory records (version pins): cheaper than one `set` each,
    /// and not necessarily durable when it returns (a crash may lose the last batches). An entry
    /// that fails (its ledger is full) does not keep the others out; the first failure is returned.
    fn set_batch<'a>(&'a self, items: Vec<Entry>) -> StateFuture<'a, ()> {
        Box::pin(async move {
            let mut first = None;
            for item in items {
                if let Err(e) = self.set(&item.ns, &item.key, item.value, item.ttl).await {
                    first.get_or_insert(e);
                }
            }
            first.map_or(Ok(()), Err)
        })
    }
}

/// One entry of [`StateStore::set_batch`].
#[derive(Debug, Clone)]
pub struct Entry {
    /// Namespace.
    pub ns: Namespace,
    /// Key within it.
    pub key: String,
    /// Value.
    pub value: Vec<u8>,
    /// Time to live.
    pub ttl: Option<Duration>,
}

/// The integer an `increment` reads: decimal text, as Redis's `INCRBY` stores it.
pub(crate) fn parse_counter(raw: &[u8]) -> Option<i64> {
    std::str::from_utf8(raw).ok()?.parse().ok()
}

/// The expiry (Unix milliseconds) of something written at `now` with `ttl`; `None` never expires.
pub(crate) fn expires_at(ttl: Option<Duration>, now: u64) -> Option<u64> {
    ttl.map(|t| now.saturating_add(u64::try_from(t.as_millis()).unwrap_or(u64::MAX)))
}

/// Milliseconds since the Unix epoch, for expiry times that survive a restart.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Where state lives, from `--state`.
#[derive(Clone, PartialEq, Eq)]
pub enum StateBackend {
    /// redb at this path (the default: `<data-dir>/state.redb`).
    Embedded(std::path::PathBuf),
    /// A Redis or Valkey server: `redis://HOST:PORT/DB`.
    Redis(String),
    /// This process's memory.
    Memory,
}

/// `url` with any password in it replaced by `***`, for logs and errors.
pub fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else { return url.to_owned() };
    let user = match authority[..at].split_once(':') {
        Some((user, _)) => format!("{user}:"),
        None => String::new(),
    };
    format!("{scheme}://{user}***@{}", &rest[at + 1..])
}

impl Debug for StateBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateBackend::Embedded(p) => f.debug_tuple("Embedded").field(p).finish(),
            StateBackend::Redis(url) => f.debug_tuple("Redis").field(&without_password(url)).finish(),
            StateBackend::Memory => f.write_str("Memory"),
        }
    }
}

impl StateBackend {
    /// Parses `--state`: `redis://...`, `memory`, or a path to a redb file.
    pub fn parse(spec: &str) -> Self {
        if spec.starts_with("redis://") || spec.starts_with("rediss://") || spec.starts_with("valkey://") {
            StateBackend::Redis(spec.replacen("valkey://", "redis://", 1))
        } else if spec == "memory" {
            StateBackend::Memory
        } else {
            StateBackend::Embedded(spec.into())
        }
    }

    /// Opens the backend.
    pub async fn open(&self) -> Result<std::sync::Arc<dyn StateStore>, StateError> {
        Ok(match self {
            StateBackend::Embedded(path) => std::sync::Arc::new(EmbeddedStore::open(path)?),
            StateBackend::Redis(url) => std::sync::Arc::new(RedisStore::connect(url).await?),
            StateBackend::Memory => std::sync::Arc::new(MemoryStore::new()),
        })
    }
}

#[cfg(test)]
mod url_tests {
    #[test]
    fn passwords_never_reach_a_log() {
        assert_eq!(super::without_password("redis://:secret@db:6379/0"), "redis://:***@db:6379/0");
        assert_eq!(super::without_password("redis://app:secret@db/1"), "redis://app:***@db/1");
        assert_eq!(super::without_password("redis://127.0.0.1:6379/0"), "redis://127.0.0.1:6379/0");
    }
}
