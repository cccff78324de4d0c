//! State in this process's memory: lost on restart. For tests, tools and single-shot runs.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use super::{Namespace, StateError, StateFuture, StateStore, expires_at, now_ms};

#[derive(Debug)]
struct Entry {
    value: Vec<u8>,
    /// Unix milliseconds; `None` keeps it until deleted.
    expires: Option<u64>,
}

impl Entry {
    fn live(&self, now: u64) -> bool {
        self.expires.is_none_or(|t| t > now)
    }
}

/// State kept in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: Mutex<BTreeMap<String, Entry>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn with_map<T>(&self, f: impl FnOnce(&mut BTreeMap<String, Entry>) -> T) -> Result<T, StateError> {
        let mut map = self.map.lock().map_err(|_| StateError("memory store poisoned".into()))?;
        Ok(f(&mut map))
    }
}

impl StateStore for MemoryStore {
    fn get<'a>(&'a self, ns: &'a Namespace, key: &'a str) -> StateFuture<'a, Option<Vec<u8>>> {
        let full = ns.prefix() + key;
        Box::pin(async move {
            self.with_map(|m| {
                let now = now_ms();
                match m.get(&full) {
                    Some(e) if e.live(now) => Some(e.value.clone()),
                    Some(_) => {
                        m.remove(&full);
                        None
                    }
                    None => None,
                }
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
            let expires = expires_at(ttl, now_ms());
            self.with_map(|m| {
                m.insert(full, Entry { value, expires });
            })
        })
    }

    fn insert_new<'a>(
        &'a self,
        ns: &'a Namespace,
        key: &'a str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> StateFuture<'a, bool> {
        let full = ns.prefix() + key;
        Box::pin(async move {
            let now = now_ms();
            let expires = expires_at(ttl, now);
            self.with_map(|m| {
                if m.get(&full).is_some_and(|e| e.live(now)) {
                    return false;
                }
                m.insert(full, Entry { value, expires });
                true
            })
        })
    }

    fn increment<'a>(
        &'a self,
        ns: &'a Namespace,
        key: &'a str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> StateFuture<'a, Option<i64>> {
        let full = ns.prefix() + key;
        Box::pin(async move {
            let now = now_ms();
            self.with_map(|m| {
                let (current, expires) = match m.get(&full) {
                    Some(e) if e.live(now) => (super::parse_counter(&e.value)?, e.expires),
                    _ => (0, expires_at(ttl, now)),
                };
                let next = current.checked_add(delta)?;
                m.insert(full, Entry { value: next.to_string().into_bytes(), expires });
                Some(next)
            })
        })
    }

    fn compare_and_set<'a>(
        &'a self,
        ns: &'a Namespace,
        key: &'a str,
        expected: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
        ttl: Option<Duration>,
    ) -> StateFuture<'a, bool> {
        let full = ns.prefix() + key;
        Box::pin(async move {
            let now = now_ms();
            let expires = expires_at(ttl, now);
            self.with_map(|m| {
                let current = m.get(&full).filter(|e| e.live(now)).map(|e| e.value.as_slice());
                if current != expected.as_deref() {
                    return false;
                }
                match new {
                    Some(value) => m.insert(full, Entry { value, expires }),
                    None => m.remove(&full),
                };
                true
            })
        })
    }

    fn first_live<'a>(&'a self, ns: &'a Namespace, prefix: &'a str) -> StateFuture<'a, Option<String>> {
        let base = ns.prefix();
        let from = base.clone() + prefix;
        Box::pin(async move {
            let now = now_ms();
            self.with_map(|m| {
                m.range(from.clone()..)
                    .take_while(|(k, _)| k.starts_with(&from))
                    .find(|(_, e)| e.live(now))
                    .map(|(k, _)| k[base.len()..].to_owned())
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
                let now = now_ms();
                m.retain(|_, e| e.live(now));
                let at = expires_at(Some(grace), now).unwrap_or(u64::MAX);
                for (_, e) in m.range_mut(prefix.clone()..).take_while(|(k, _)| k.starts_with(&prefix)) {
                    e.expires = Some(e.expires.map_or(at, |t| t.min(at)));
                }
            })
        })
    }

    fn list<'a>(&'a self, ns: &'a Namespace) -> StateFuture<'a, Vec<(String, Vec<u8>)>> {
        let prefix = ns.prefix();
        Box::pin(async move {
            self.with_map(|m| {
                let now = now_ms();
                m.range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .filter(|(_, e)| e.live(now))
                    .map(|(k, e)| (k[prefix.len()..].to_owned(), e.value.clone()))
                    .collect()
            })
        })
    }
}
