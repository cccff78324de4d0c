//! Plugin state: call-scoped and app-scoped key-value pairs, namespaced by tenant and app by the
//! host (a plugin names only the key, so it can never reach another app's state).
//!
//! [`StateStore`] is the backend interface; [`MemoryStore`] keeps state in this process.

use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
}

impl Namespace {
    /// The backend key prefix; separators cannot occur in tenant and app names, and the key itself
    /// comes last, so no key can escape its namespace.
    pub fn prefix(&self) -> String {
        match self {
            Namespace::App { tenant, app } => format!("{tenant}/{app}/app/"),
            Namespace::Call { tenant, app, conversation } => format!("{tenant}/{app}/call/{conversation}/"),
        }
    }
}

/// A failed state operation.
#[derive(Debug, thiserror::Error)]
#[error("state backend: {0}")]
pub struct StateError(pub String);

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
}

#[derive(Debug)]
struct Entry {
    value: Vec<u8>,
    expires: Option<Instant>,
}

/// State kept in this process's memory: lost on restart.
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: Mutex<HashMap<String, Entry>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn with_map<T>(&self, f: impl FnOnce(&mut HashMap<String, Entry>) -> T) -> Result<T, StateError> {
        let mut map = self.map.lock().map_err(|_| StateError("memory store poisoned".into()))?;
        Ok(f(&mut map))
    }
}

impl StateStore for MemoryStore {
    fn get<'a>(&'a self, ns: &'a Namespace, key: &'a str) -> StateFuture<'a, Option<Vec<u8>>> {
        let full = ns.prefix() + key;
        Box::pin(async move {
            self.with_map(|m| match m.get(&full) {
                Some(e) if e.expires.is_none_or(|t| t > Instant::now()) => Some(e.value.clone()),
                Some(_) => {
                    m.remove(&full);
                    None
                }
                None => None,
            })
        })
    }

    fn set<'a>(
        &'a self,
        ns: &'a Namespace,
        key: &'a str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> StateFuture<'a, ()> {
        let full = ns.prefix() + key;
        Box::pin(async move {
            self.with_map(|m| {
                m.insert(full, Entry { value, expires: ttl.map(|t| Instant::now() + t) });
            })
        })
    }

    fn delete<'a>(&'a self, ns: &'a Namespace, key: &'a str) -> StateFuture<'a, ()> {
        let full = ns.prefix() + key;
        Box::pin(async move {
            self.with_map(|m| {
                m.remove(&full);
            })
        })
    }

    fn expire_all<'a>(&'a self, ns: &'a Namespace, grace: Duration) -> StateFuture<'a, ()> {
        let prefix = ns.prefix();
        Box::pin(async move {
            self.with_map(|m| {
                let now = Instant::now();
                m.retain(|_, e| e.expires.is_none_or(|t| t > now));
                let at = now + grace;
                for (k, e) in m.iter_mut() {
                    if k.starts_with(&prefix) {
                        e.expires = Some(e.expires.map_or(at, |t| t.min(at)));
                    }
                }
            })
        })
    }
}
