//! State in this process's memory: lost on restart. For tests, tools and single-shot runs.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use super::quota::{accounted, accounted_key, entry_bytes, ledger_tenant};
use super::{Namespace, Quotas, StateError, StateFuture, StateStore, Usage, expires_at, now_ms};

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

/// The entries and every tenant's usage, changed together under one lock.
#[derive(Debug, Default)]
struct Map {
    entries: BTreeMap<String, Entry>,
    usage: HashMap<String, Usage>,
}

impl Map {
    fn get(&self, full: &str) -> Option<&Entry> {
        self.entries.get(full)
    }

    /// Stores `entry` under `full`, charging the tenant's quota when `quota` names one.
    fn insert(&mut self, quotas: &Quotas, quota: Option<&str>, full: String, entry: Entry) -> Result<(), StateError> {
        if let Some(tenant) = quota {
            let new = Some(entry_bytes(&full, entry.value.len()));
            let old = |m: &Map| m.entries.get(&full).map(|e| entry_bytes(&full, e.value.len()));
            let limits = quotas.limits(tenant);
            let first = old(self);
            if self.usage.entry(tenant.to_owned()).or_default().charge(limits, first, new).is_err() {
                // What has expired never holds a write back.
                self.sweep_prefix(&format!("{}/", ledger_tenant(tenant)), now_ms());
                let again = old(self);
                self.usage.entry(tenant.to_owned()).or_default().charge(limits, again, new)?;
            }
        }
        self.entries.insert(full, entry);
        Ok(())
    }

    fn remove(&mut self, full: &str) {
        if let Some(e) = self.entries.remove(full)
            && let Some(tenant) = accounted_key(full)
            && let Some(u) = self.usage.get_mut(&*tenant)
        {
            u.release(entry_bytes(full, e.value.len()));
        }
    }

    fn sweep(&mut self, now: u64) {
        self.sweep_prefix("", now);
    }

    fn sweep_prefix(&mut self, prefix: &str, now: u64) {
        let expired: Vec<String> = self
            .entries
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(_, e)| !e.live(now))
            .map(|(k, _)| k.clone())
            .collect();
        for k in expired {
            self.remove(&k);
        }
    }
}

/// State kept in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: Mutex<Map>,
    quotas: Quotas,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn with_map<T>(&self, f: impl FnOnce(&mut Map) -> T) -> Result<T, StateError> {
        let mut map = self.map.lock().map_err(|_| StateError::Backend("memory store poisoned".into()))?;
        Ok(f(&mut map))
    }
}

impl StateStore for MemoryStore {
    fn quotas(&self) -> &Quotas {
        &self.quotas
    }

    fn usage<'a>(&'a self, tenant: &'a str) -> StateFuture<'a, Usage> {
        Box::pin(async move { self.with_map(|m| m.usage.get(tenant).copied().unwrap_or_default()) })
    }

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
            self.with_map(|m| m.insert(&self.quotas, accounted(ns).as_deref(), full, Entry { value, expires }))?
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
                    return Ok(false);
                }
                m.insert(&self.quotas, accounted(ns).as_deref(), full, Entry { value, expires })?;
                Ok(true)
            })?
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
                    Some(e) if e.live(now) => match super::parse_counter(&e.value) {
                        Some(n) => (n, e.expires),
                        None => return Ok(None),
                    },
                    _ => (0, expires_at(ttl, now)),
                };
                let Some(next) = current.checked_add(delta) else { return Ok(None) };
                let entry = Entry { value: next.to_string().into_bytes(), expires };
                m.insert(&self.quotas, accounted(ns).as_deref(), full, entry)?;
                Ok(Some(next))
            })?
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
                    return Ok(false);
                }
                match new {
                    Some(value) => m.insert(&self.quotas, accounted(ns).as_deref(), full, Entry { value, expires })?,
                    None => m.remove(&full),
                }
                Ok(true)
            })?
        })
    }

    fn first_live<'a>(&'a self, ns: &'a Namespace, prefix: &'a str) -> StateFuture<'a, Option<String>> {
        let base = ns.prefix();
        let from = base.clone() + prefix;
        Box::pin(async move {
            let now = now_ms();
            self.with_map(|m| {
                m.entries
                    .range(from.clone()..)
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
                m.sweep(now);
                let at = expires_at(Some(grace), now).unwrap_or(u64::MAX);
                for (_, e) in m.entries.range_mut(prefix.clone()..).take_while(|(k, _)| k.starts_with(&prefix)) {
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
                m.entries
                    .range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .filter(|(_, e)| e.live(now))
                    .map(|(k, e)| (k[prefix.len()..].to_owned(), e.value.clone()))
                    .collect()
            })
        })
    }
}
