//! Durable state in one redb file under the data directory. Writes go through the group-commit writer
//! (`group_commit.rs`): each is committed with redb's immediate durability (fsync, shared by the
//! writes of one group) before the plugin's import returns, so an acknowledged write survives
//! `kill -9` of the host. Expiry times are stored with the value (Unix
//! milliseconds) so they survive restarts; expired entries are skipped on read and swept on write.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use redb::{ReadableDatabase, ReadableTable};

use super::group_commit::{Db, Output, TABLE, Table, Writer};
use super::{Namespace, StateError, StateFuture, StateStore, expires_at, now_ms};

/// State in a redb database file.
#[derive(Debug, Clone)]
pub struct EmbeddedStore {
    db: Arc<Db>,
    writer: Writer,
}

/// `[expires_ms: u64 LE][value]`; 0 means no expiry.
fn encode(value: &[u8], expires: Option<u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + value.len());
    out.extend_from_slice(&expires.unwrap_or(0).to_le_bytes());
    out.extend_from_slice(value);
    out
}

fn decode(raw: &[u8]) -> Option<(Option<u64>, &[u8])> {
    let (head, value) = raw.split_at_checked(8)?;
    let expires = u64::from_le_bytes(head.try_into().ok()?);
    Some(((expires != 0).then_some(expires), value))
}

fn live(raw: &[u8], now: u64) -> Option<&[u8]> {
    let (expires, value) = decode(raw)?;
    expires.is_none_or(|t| t > now).then_some(value)
}

fn sweep_expired(table: &mut Table<'_>) -> Result<(), redb::StorageError> {
    let now = now_ms();
    table.retain(|_, raw| live(raw, now).is_some())
}

impl EmbeddedStore {
    /// Opens (or creates) the database at `path` and starts its writer.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let db = Db::open(path)?;
        let writer = Writer::start(Arc::clone(&db), sweep_expired)?;
        Ok(EmbeddedStore { db, writer })
    }

    /// Runs `f` in the writer's next group transaction, committed durably (fsync) unless `durable`
    /// is false, and acknowledged after the commit.
    async fn write<T: Send + 'static>(
        &self,
        ns: &Namespace,
        durable: bool,
        f: impl FnOnce(&mut Table<'_>) -> Result<T, redb::StorageError> + Send + 'static,
    ) -> Result<T, StateError> {
        let work = Box::new(move |t: &mut Table<'_>| f(t).map(|v| Box::new(v) as Output));
        let out = self.writer.write(ns.tenant(), durable, work).await?;
        out.downcast::<T>().map(|b| *b).map_err(|_| StateError("embedded store: unexpected result type".into()))
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&redb::ReadOnlyTable<&'static str, &'static [u8]>) -> Result<T, redb::StorageError> + Send + 'static,
    ) -> Result<T, StateError> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || {
            let database = db.get()?;
            let txn = database.begin_read().map_err(|e| db.failed(&database, e))?;
            let table = txn.open_table(TABLE).map_err(|e| db.failed(&database, e))?;
            f(&table).map_err(|e| db.failed(&database, e))
        })
        .await
        .map_err(|e| StateError(format!("embedded store: {e}")))?
    }
}

impl StateStore for EmbeddedStore {
    fn fault(&self) -> Option<String> {
        self.db.fault()
    }

    fn get<'a>(&'a self, ns: &'a Namespace, key: &'a str) -> StateFuture<'a, Option<Vec<u8>>> {
        let full = ns.prefix() + key;
        Box::pin(async move {
            self.read(move |t| {
                let now = now_ms();
                Ok(t.get(full.as_str())?.and_then(|g| live(g.value(), now).map(<[u8]>::to_vec)))
            })
            .await
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
        let expires = expires_at(ttl, now_ms());
        Box::pin(async move {
            self.write(ns, true, move |t| {
                t.insert(full.as_str(), encode(&value, expires).as_slice())?;
                Ok(())
            })
            .await
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
        let now = now_ms();
        let expires = expires_at(ttl, now);
        // Replay records are advisory like pins: not fsynced (a crash forgets the last few seconds').
        let durable = !matches!(ns, Namespace::Replay { .. });
        Box::pin(async move {
            // Check and insert in one write transaction: redb has one writer at a time.
            self.write(ns, durable, move |t| {
                if t.get(full.as_str())?.is_some_and(|g| live(g.value(), now).is_some()) {
                    return Ok(false);
                }
                t.insert(full.as_str(), encode(&value, expires).as_slice())?;
                Ok(true)
            })
            .await
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
        let now = now_ms();
        let created_expiry = expires_at(ttl, now);
        Box::pin(async move {
            self.write(ns, true, move |t| {
                let current = t.get(full.as_str())?.and_then(|g| {
                    let (expires, value) = decode(g.value())?;
                    expires.is_none_or(|e| e > now).then(|| (super::parse_counter(value), expires))
                });
                let (value, expires) = match current {
                    Some((Some(v), expires)) => (v, expires),
                    Some((None, _)) => return Ok(None),
                    None => (0, created_expiry),
                };
                let Some(next) = value.checked_add(delta) else { return Ok(None) };
                t.insert(full.as_str(), encode(next.to_string().as_bytes(), expires).as_slice())?;
                Ok(Some(next))
            })
            .await
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
        let now = now_ms();
        let expires = expires_at(ttl, now);
        Box::pin(async move {
            self.write(ns, true, move |t| {
                let matches = {
                    let current = t.get(full.as_str())?;
                    let live_value = current.as_ref().and_then(|g| live(g.value(), now));
                    live_value == expected.as_deref()
                };
                if !matches {
                    return Ok(false);
                }
                match new {
                    Some(value) => {
                        t.insert(full.as_str(), encode(&value, expires).as_slice())?;
                    }
                    None => {
                        t.remove(full.as_str())?;
                    }
                }
                Ok(true)
            })
            .await
        })
    }

    fn delete<'a>(&'a self, ns: &'a Namespace, key: &'a str) -> StateFuture<'a, ()> {
        let full = ns.prefix() + key;
        Box::pin(async move {
            self.write(ns, true, move |t| {
                t.remove(full.as_str())?;
                Ok(())
            })
            .await
        })
    }

    fn expire_all<'a>(&'a self, ns: &'a Namespace, grace: Duration) -> StateFuture<'a, ()> {
        let prefix = ns.prefix();
        Box::pin(async move {
            self.write(ns, true, move |t| {
                let at = expires_at(Some(grace), now_ms()).unwrap_or(u64::MAX);
                let mut updates = Vec::new();
                for item in t.range(prefix.as_str()..)? {
                    let (k, v) = item?;
                    if !k.value().starts_with(&prefix) {
                        break;
                    }
                    if let Some((expires, value)) = decode(v.value()) {
                        let new = expires.map_or(at, |e| e.min(at));
                        updates.push((k.value().to_owned(), encode(value, Some(new))));
                    }
                }
                for (k, v) in updates {
                    t.insert(k.as_str(), v.as_slice())?;
                }
                Ok(())
            })
            .await
        })
    }

    fn set_batch<'a>(&'a self, items: Vec<super::Entry>) -> StateFuture<'a, ()> {
        Box::pin(async move {
            let now = now_ms();
            // Pins of many tenants: the host's own batch, queued under the host's name.
            self.write(&Namespace::Host, false, move |t| {
                for item in items {
                    let expires = expires_at(item.ttl, now);
                    t.insert((item.ns.prefix() + &item.key).as_str(), encode(&item.value, expires).as_slice())?;
                }
                Ok(())
            })
            .await
        })
    }

    fn first_live<'a>(&'a self, ns: &'a Namespace, prefix: &'a str) -> StateFuture<'a, Option<String>> {
        let base = ns.prefix();
        let from = base.clone() + prefix;
        Box::pin(async move {
            self.read(move |t| {
                let now = now_ms();
                for item in t.range(from.as_str()..)? {
                    let (k, v) = item?;
                    if !k.value().starts_with(&from) {
                        break;
                    }
                    if live(v.value(), now).is_some() {
                        return Ok(Some(k.value()[base.len()..].to_owned()));
                    }
                }
                Ok(None)
            })
            .await
        })
    }

    fn list<'a>(&'a self, ns: &'a Namespace) -> StateFuture<'a, Vec<(String, Vec<u8>)>> {
        let prefix = ns.prefix();
        Box::pin(async move {
            self.read(move |t| {
                let now = now_ms();
                let mut out = Vec::new();
                for item in t.range(prefix.as_str()..)? {
                    let (k, v) = item?;
                    let key = k.value();
                    if !key.starts_with(&prefix) {
                        break;
                    }
                    if let Some(value) = live(v.value(), now) {
                        out.push((key[prefix.len()..].to_owned(), value.to_vec()));
                    }
                }
                Ok(out)
            })
            .await
        })
    }
}
