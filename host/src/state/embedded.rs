//! Durable state in one redb file under the data directory. Every write is its own transaction,
//! committed with redb's default (immediate) durability before the plugin's import returns, so an
//! acknowledged write survives `kill -9` of the host. Expiry times are stored with the value (Unix
//! milliseconds) so they survive restarts; expired entries are skipped on read and swept on write.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{Namespace, StateError, StateFuture, StateStore, now_ms};

const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("state");
/// Writes between two sweeps of expired entries.
const SWEEP_EVERY_WRITES: u64 = 1024;

/// State in a redb database file.
#[derive(Debug, Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    writes: Arc<std::sync::atomic::AtomicU64>,
}

fn err(e: impl std::fmt::Display) -> StateError {
    StateError(format!("embedded store: {e}"))
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

impl EmbeddedStore {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let db = Database::create(path).map_err(|e| StateError(format!("cannot open {}: {e}", path.display())))?;
        let txn = db.begin_write().map_err(err)?;
        txn.open_table(TABLE).map_err(err)?;
        txn.commit().map_err(err)?;
        Ok(EmbeddedStore { db: Arc::new(db), writes: Arc::default() })
    }

    /// Runs `f` in one write transaction, off the async runtime, committed durably (fsync) unless
    /// `durable` is false.
    async fn write<T: Send + 'static>(
        &self,
        durable: bool,
        f: impl FnOnce(&mut redb::Table<'_, &'static str, &'static [u8]>) -> Result<T, redb::StorageError> + Send + 'static,
    ) -> Result<T, StateError> {
        let db = Arc::clone(&self.db);
        let sweep = self.writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed).is_multiple_of(SWEEP_EVERY_WRITES);
        tokio::task::spawn_blocking(move || {
            let mut txn = db.begin_write().map_err(err)?;
            if !durable {
                txn.set_durability(redb::Durability::None).map_err(err)?;
            }
            let out = {
                let mut table = txn.open_table(TABLE).map_err(err)?;
                let out = f(&mut table).map_err(err)?;
                if sweep {
                    let now = now_ms();
                    table.retain(|_, raw| live(raw, now).is_some()).map_err(err)?;
                }
                out
            };
            txn.commit().map_err(err)?;
            Ok(out)
        })
        .await
        .map_err(err)?
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&redb::ReadOnlyTable<&'static str, &'static [u8]>) -> Result<T, redb::StorageError> + Send + 'static,
    ) -> Result<T, StateError> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_read().map_err(err)?;
            let table = txn.open_table(TABLE).map_err(err)?;
            f(&table).map_err(err)
        })
        .await
        .map_err(err)?
    }
}

impl StateStore for EmbeddedStore {
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
        let expires = ttl.map(|t| now_ms().saturating_add(u64::try_from(t.as_millis()).unwrap_or(u64::MAX)));
        Box::pin(async move {
            self.write(true, move |t| {
                t.insert(full.as_str(), encode(&value, expires).as_slice())?;
                Ok(())
            })
            .await
        })
    }

    fn delete<'a>(&'a self, ns: &'a Namespace, key: &'a str) -> StateFuture<'a, ()> {
        let full = ns.prefix() + key;
        Box::pin(async move {
            self.write(true, move |t| {
                t.remove(full.as_str())?;
                Ok(())
            })
            .await
        })
    }

    fn expire_all<'a>(&'a self, ns: &'a Namespace, grace: Duration) -> StateFuture<'a, ()> {
        let prefix = ns.prefix();
        Box::pin(async move {
            self.write(true, move |t| {
                let at = now_ms().saturating_add(u64::try_from(grace.as_millis()).unwrap_or(u64::MAX));
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
            self.write(false, move |t| {
                for item in items {
                    let expires =
                        item.ttl.map(|d| now.saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)));
                    t.insert((item.ns.prefix() + &item.key).as_str(), encode(&item.value, expires).as_slice())?;
                }
                Ok(())
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
