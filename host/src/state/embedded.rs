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
use super::quota::{QuotaExceeded, accounted, accounted_key, entry_bytes, ledger_tenant};
use super::{Limits, Namespace, Quotas, StateError, StateFuture, StateStore, Usage, expires_at, now_ms};

/// State in a redb database file.
#[derive(Debug, Clone)]
pub struct EmbeddedStore {
    db: Arc<Db>,
    writer: Writer,
    quotas: Arc<Quotas>,
    reclaims: Reclaims,
}

/// Where a tenant's quota usage is kept, in the same table (a leading `/` is never a tenant's).
fn usage_key(tenant: &str) -> String {
    format!("/usage/{tenant}")
}

/// Present once every tenant's usage has been counted (databases written before quotas existed
/// are counted once, when opened).
const USAGE_COUNTED: &str = "/usage-counted";

/// Least time between two reclaims of one tenant's expired entries at a refusal: a tenant writing
/// at its quota costs the one writer a scan of its keys at most this often.
const RECLAIM_EVERY: Duration = Duration::from_secs(1);

/// When each tenant's expired entries were last reclaimed at a refusal.
type Reclaims = Arc<std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>>;

/// A write's quota: the tenant it counts against, its limits, and the store's reclaim times.
type Quota = Option<(String, Limits, Reclaims)>;

fn read_usage(t: &Table<'_>, tenant: &str) -> Result<Usage, redb::StorageError> {
    let key = usage_key(tenant);
    Ok(t.get(key.as_str())?.and_then(|g| decode(g.value()).map(|(_, v)| Usage::decode(v))).unwrap_or_default())
}

fn write_usage(t: &mut Table<'_>, tenant: &str, usage: &Usage) -> Result<(), redb::StorageError> {
    t.insert(usage_key(tenant).as_str(), encode(&usage.encode(), None).as_slice())?;
    Ok(())
}

/// What the entry under `full` counts against its quota now, if it is there.
fn stored_bytes(t: &Table<'_>, full: &str) -> Result<Option<u64>, redb::StorageError> {
    Ok(t.get(full)?.map(|g| entry_bytes(full, g.value().len().saturating_sub(8))))
}

/// Charges `quota` for turning the entry under `full` into one with a value of `new_len` bytes
/// (`None`: removed), in the write's transaction; refused growth changes nothing. Before refusing,
/// the tenant's expired entries are swept (at most every [`RECLAIM_EVERY`]), so what has expired
/// never holds a write back for long.
fn charge(
    t: &mut Table<'_>,
    quota: &Quota,
    full: &str,
    new_len: Option<usize>,
) -> Result<Result<(), QuotaExceeded>, redb::StorageError> {
    let Some((tenant, limits, reclaims)) = quota else { return Ok(Ok(())) };
    let old = stored_bytes(t, full)?;
    let new = new_len.map(|n| entry_bytes(full, n));
    let mut usage = read_usage(t, tenant)?;
    if let Err(refused) = usage.charge(*limits, old, new) {
        let due = reclaims.lock().ok().is_some_and(|mut r| {
            let due = r.get(tenant).is_none_or(|at| at.elapsed() >= RECLAIM_EVERY);
            if due {
                r.insert(tenant.clone(), std::time::Instant::now());
            }
            due
        });
        if !due || sweep_range(t, &format!("{}/", ledger_tenant(tenant)))? == 0 {
            return Ok(Err(refused));
        }
        // `full` itself may have been swept.
        let old = stored_bytes(t, full)?;
        usage = read_usage(t, tenant)?;
        if let Err(refused) = usage.charge(*limits, old, new) {
            return Ok(Err(refused));
        }
    }
    write_usage(t, tenant, &usage)?;
    Ok(Ok(()))
}

/// Writes the usages gathered by a batch (and forgets them, so later entries read them again).
fn write_usages(
    t: &mut Table<'_>,
    ledgers: &mut std::collections::HashMap<String, Usage>,
) -> Result<(), redb::StorageError> {
    for (ledger, usage) in ledgers.drain() {
        write_usage(t, &ledger, &usage)?;
    }
    Ok(())
}

/// Writes a batch's entries, charging each against its ledger's usage gathered in `ledgers` (read
/// once per ledger; the caller writes them back); the first refusal, if any, the others written.
fn write_charged_batch(
    t: &mut Table<'_>,
    items: Vec<(super::Entry, Quota)>,
    now: u64,
    ledgers: &mut std::collections::HashMap<String, Usage>,
) -> Result<Option<QuotaExceeded>, redb::StorageError> {
    let mut refused = None;
    for (item, quota) in items {
        let full = item.ns.prefix() + &item.key;
        if let Some((ledger, limits, _)) = &quota {
            let old = stored_bytes(t, &full)?;
            let new = Some(entry_bytes(&full, item.value.len()));
            if !ledgers.contains_key(ledger) {
                ledgers.insert(ledger.clone(), read_usage(t, ledger)?);
            }
            let charged = ledgers.get_mut(ledger).is_some_and(|usage| usage.charge(*limits, old, new).is_ok());
            if !charged {
                write_usages(t, ledgers)?;
                if let Err(e) = charge(t, &quota, &full, Some(item.value.len()))? {
                    refused.get_or_insert(e);
                    continue;
                }
            }
        }
        t.insert(full.as_str(), encode(&item.value, expires_at(item.ttl, now)).as_slice())?;
    }
    Ok(refused)
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

/// Removes every expired entry, releasing what they held of their tenants' quotas.
fn sweep_expired(table: &mut Table<'_>) -> Result<(), redb::StorageError> {
    sweep_range(table, "").map(|_| ())
}

/// Removes the expired entries whose keys start with `prefix`, releasing what they held of their
/// tenants' quotas; how many it removed.
fn sweep_range(table: &mut Table<'_>, prefix: &str) -> Result<usize, redb::StorageError> {
    let now = now_ms();
    let mut expired = Vec::new();
    for item in table.range(prefix..)? {
        let (k, v) = item?;
        if !k.value().starts_with(prefix) {
            break;
        }
        if live(v.value(), now).is_none() {
            expired.push((k.value().to_owned(), v.value().len().saturating_sub(8)));
        }
    }
    let mut released: std::collections::HashMap<std::borrow::Cow<'_, str>, Usage> = std::collections::HashMap::new();
    for (k, len) in &expired {
        table.remove(k.as_str())?;
        if let Some(tenant) = accounted_key(k) {
            let gone = released.entry(tenant).or_default();
            gone.keys += 1;
            gone.bytes += entry_bytes(k, *len);
        }
    }
    for (tenant, gone) in released {
        let mut usage = read_usage(table, &tenant)?;
        usage.keys = usage.keys.saturating_sub(gone.keys);
        usage.bytes = usage.bytes.saturating_sub(gone.bytes);
        write_usage(table, &tenant, &usage)?;
    }
    Ok(expired.len())
}

/// Counts every tenant's usage once, for a database written before quotas were kept.
fn count_usage(db: &Db) -> Result<(), StateError> {
    let database = db.get()?;
    let fail = |e: redb::Error| StateError::Backend(format!("counting state usage: {e}"));
    let txn = database.begin_write().map_err(|e| fail(e.into()))?;
    {
        let mut table = txn.open_table(TABLE).map_err(|e| fail(e.into()))?;
        if table.get(USAGE_COUNTED).map_err(|e| fail(e.into()))?.is_some() {
            return Ok(());
        }
        let mut usage: std::collections::HashMap<String, Usage> = std::collections::HashMap::new();
        for item in table.iter().map_err(|e| fail(e.into()))? {
            let (k, v) = item.map_err(|e| fail(e.into()))?;
            if let Some(tenant) = accounted_key(k.value()) {
                let size = entry_bytes(k.value(), v.value().len().saturating_sub(8));
                let u = usage.entry(tenant.into_owned()).or_default();
                u.keys += 1;
                u.bytes += size;
            }
        }
        for (tenant, u) in usage {
            write_usage(&mut table, &tenant, &u).map_err(|e| fail(e.into()))?;
        }
        table.insert(USAGE_COUNTED, encode(&[], None).as_slice()).map_err(|e| fail(e.into()))?;
    }
    txn.commit().map_err(|e| fail(e.into()))
}

impl EmbeddedStore {
    /// Opens (or creates) the database at `path` and starts its writer.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let db = Db::open(path)?;
        count_usage(&db)?;
        let writer = Writer::start(Arc::clone(&db), sweep_expired)?;
        Ok(EmbeddedStore { db, writer, quotas: Arc::default(), reclaims: Reclaims::default() })
    }

    /// The quota a write to `ns` counts against, if any.
    fn quota(&self, ns: &Namespace) -> Quota {
        accounted(ns).map(|t| {
            let limits = self.quotas.limits(&t);
            (t.into_owned(), limits, Arc::clone(&self.reclaims))
        })
    }

    /// [`EmbeddedStore::write`] for a write that may be refused by the tenant's quota.
    async fn write_charged<T: Send + 'static>(
        &self,
        ns: &Namespace,
        f: impl FnOnce(&mut Table<'_>) -> Result<Result<T, QuotaExceeded>, redb::StorageError> + Send + 'static,
    ) -> Result<T, StateError> {
        Ok(self.write(ns, true, f).await??)
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
        out.downcast::<T>()
            .map(|b| *b)
            .map_err(|_| StateError::Backend("embedded store: unexpected result type".into()))
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
        .map_err(|e| StateError::Backend(format!("embedded store: {e}")))?
    }
}

impl StateStore for EmbeddedStore {
    fn fault(&self) -> Option<String> {
        self.db.fault()
    }

    fn quotas(&self) -> &Quotas {
        &self.quotas
    }

    fn usage<'a>(&'a self, tenant: &'a str) -> StateFuture<'a, Usage> {
        let key = usage_key(tenant);
        Box::pin(async move {
            self.read(move |t| Ok(t.get(key.as_str())?.and_then(|g| decode(g.value()).map(|(_, v)| Usage::decode(v)))))
                .await
                .map(Option::unwrap_or_default)
        })
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
        let quota = self.quota(ns);
        Box::pin(async move {
            self.write_charged(ns, move |t| {
                if let Err(e) = charge(t, &quota, &full, Some(value.len()))? {
                    return Ok(Err(e));
                }
                t.insert(full.as_str(), encode(&value, expires).as_slice())?;
                Ok(Ok(()))
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
        // Replay records and seen calls are advisory like pins: not fsynced (a crash forgets the last few seconds').
        let durable = !matches!(ns, Namespace::Replay { .. } | Namespace::Seen { .. });
        let quota = self.quota(ns);
        Box::pin(async move {
            // Check and insert in one write transaction: redb has one writer at a time.
            let stored = self.write(ns, durable, move |t| {
                if t.get(full.as_str())?.is_some_and(|g| live(g.value(), now).is_some()) {
                    return Ok(Ok(false));
                }
                if let Err(e) = charge(t, &quota, &full, Some(value.len()))? {
                    return Ok(Err(e));
                }
                t.insert(full.as_str(), encode(&value, expires).as_slice())?;
                Ok(Ok(true))
            });
            Ok(stored.await??)
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
        let quota = self.quota(ns);
        Box::pin(async move {
            self.write_charged(ns, move |t| {
                let current = t.get(full.as_str())?.and_then(|g| {
                    let (expires, value) = decode(g.value())?;
                    expires.is_none_or(|e| e > now).then(|| (super::parse_counter(value), expires))
                });
                let (value, expires) = match current {
                    Some((Some(v), expires)) => (v, expires),
                    Some((None, _)) => return Ok(Ok(None)),
                    None => (0, created_expiry),
                };
                let Some(next) = value.checked_add(delta) else { return Ok(Ok(None)) };
                let text = next.to_string();
                if let Err(e) = charge(t, &quota, &full, Some(text.len()))? {
                    return Ok(Err(e));
                }
                t.insert(full.as_str(), encode(text.as_bytes(), expires).as_slice())?;
                Ok(Ok(Some(next)))
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
        let quota = self.quota(ns);
        Box::pin(async move {
            self.write_charged(ns, move |t| {
                let matches = {
                    let current = t.get(full.as_str())?;
                    let live_value = current.as_ref().and_then(|g| live(g.value(), now));
                    live_value == expected.as_deref()
                };
                if !matches {
                    return Ok(Ok(false));
                }
                if let Err(e) = charge(t, &quota, &full, new.as_ref().map(Vec::len))? {
                    return Ok(Err(e));
                }
                match new {
                    Some(value) => {
                        t.insert(full.as_str(), encode(&value, expires).as_slice())?;
                    }
                    None => {
                        t.remove(full.as_str())?;
                    }
                }
                Ok(Ok(true))
            })
            .await
        })
    }

    fn delete<'a>(&'a self, ns: &'a Namespace, key: &'a str) -> StateFuture<'a, ()> {
        let full = ns.prefix() + key;
        let quota = self.quota(ns);
        Box::pin(async move {
            self.write_charged(ns, move |t| {
                charge(t, &quota, &full, None)?.ok();
                t.remove(full.as_str())?;
                Ok(Ok(()))
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
        let items: Vec<(super::Entry, Quota)> = items
            .into_iter()
            .map(|item| {
                let quota = self.quota(&item.ns);
                (item, quota)
            })
            .collect();
        Box::pin(async move {
            let now = now_ms();
            // Pins of many tenants: the host's own batch, queued under the host's name. An entry
            // its ledger refuses is left out; the others are written.
            let refused = self.write(&Namespace::Host, false, move |t| {
                // Each ledger's usage is read once and written once for the batch, not for every
                // entry, until an entry is past its quota: the gathered usages are written, and it
                // takes `charge`'s way (which may sweep). The usages are written even when a write
                // fails half way, since what was inserted stays in the shared transaction.
                let mut ledgers: std::collections::HashMap<String, Usage> = std::collections::HashMap::new();
                let written = write_charged_batch(t, items, now, &mut ledgers);
                write_usages(t, &mut ledgers)?;
                written
            });
            match refused.await? {
                Some(e) => Err(StateError::Quota(e)),
                None => Ok(()),
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Entry, pins_ledger};

    /// An entry of `len` bytes under `key`, kept for a minute.
    fn entry(ns: &Namespace, key: &str, len: usize) -> Entry {
        Entry { ns: ns.clone(), key: key.into(), value: vec![7; len], ttl: Some(Duration::from_secs(60)) }
    }

    /// The pins of an app of `acme` and of `beta`.
    fn two_tenants_pins() -> (Namespace, Namespace) {
        (
            Namespace::Pins { tenant: "acme".into(), app: "a".into() },
            Namespace::Pins { tenant: "beta".into(), app: "b".into() },
        )
    }

    /// A store at `path` allowing two pinned calls: four keys in each tenant's pin ledger.
    fn store_of_two_pinned_calls(path: &Path) -> Result<EmbeddedStore, StateError> {
        let store = EmbeddedStore::open(path)?;
        store.quotas().set_pinned_calls(2);
        Ok(store)
    }

    /// The file again, once the dropped store's writer thread has let it go.
    fn reopen(path: &Path) -> Result<redb::Database, StateError> {
        let until = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            match redb::Database::create(path) {
                Ok(db) => return Ok(db),
                Err(e) if std::time::Instant::now() > until => return Err(StateError::Backend(e.to_string())),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    #[tokio::test]
    async fn a_database_written_before_quotas_is_counted_when_opened() -> Result<(), StateError> {
        let dir = tempfile::tempdir().map_err(|e| StateError::Backend(e.to_string()))?;
        let path = dir.path().join("state.redb");
        let ns = Namespace::App { tenant: "acme".into(), app: "a".into() };
        let pins = Namespace::Pins { tenant: "acme".into(), app: "a".into() };
        {
            let store = EmbeddedStore::open(&path)?;
            store.set(&ns, "one", vec![1; 10], None).await?;
            store.set(&ns, "two", vec![2; 20], None).await?;
            store.set(&pins, "p", vec![3; 30], None).await?;
            let usage = store.usage("acme").await?;
            assert_eq!(usage, Usage { keys: 2, bytes: 30 + 2 * (ns.prefix().len() as u64) + 6 });
        }
        // Forget the figures, as a database from before quotas has none.
        {
            let db = reopen(&path)?;
            let txn = db.begin_write().map_err(|e| StateError::Backend(e.to_string()))?;
            {
                let mut t = txn.open_table(TABLE).map_err(|e| StateError::Backend(e.to_string()))?;
                t.remove(usage_key("acme").as_str()).map_err(|e| StateError::Backend(e.to_string()))?;
                t.remove(USAGE_COUNTED).map_err(|e| StateError::Backend(e.to_string()))?;
            }
            txn.commit().map_err(|e| StateError::Backend(e.to_string()))?;
        }
        let store = EmbeddedStore::open(&path)?;
        assert_eq!(store.usage("acme").await?.keys, 2, "the pin is the host's, not the tenant's");
        Ok(())
    }

    #[tokio::test]
    async fn a_batch_counts_overwrites_once_and_refuses_past_the_quota() -> Result<(), StateError> {
        let dir = tempfile::tempdir().map_err(|e| StateError::Backend(e.to_string()))?;
        let store = store_of_two_pinned_calls(&dir.path().join("state.redb"))?;
        let (acme, beta) = two_tenants_pins();
        let batch = vec![
            entry(&acme, "k1", 10),
            entry(&acme, "k2", 10),
            // Written again, larger: one key, charged for its new size only.
            entry(&acme, "k1", 12),
            entry(&acme, "k3", 10),
            entry(&acme, "k4", 10),
            // Past acme's four keys: refused, and the others still written.
            entry(&acme, "k5", 10),
            entry(&beta, "k1", 5),
        ];
        let refused = store.set_batch(batch).await;
        assert!(matches!(refused, Err(StateError::Quota(_))), "{refused:?}");
        let bytes = |ns: &Namespace, key: &str, len: usize| entry_bytes(&(ns.prefix() + key), len);
        let acme_usage = store.usage(&pins_ledger("acme")).await?;
        let want = Usage {
            keys: 4,
            bytes: bytes(&acme, "k1", 12) + bytes(&acme, "k2", 10) + bytes(&acme, "k3", 10) + bytes(&acme, "k4", 10),
        };
        assert_eq!(acme_usage, want);
        assert_eq!(store.usage(&pins_ledger("beta")).await?, Usage { keys: 1, bytes: bytes(&beta, "k1", 5) });
        assert_eq!(store.get(&acme, "k1").await?, Some(vec![7; 12]));
        assert_eq!(store.get(&acme, "k5").await?, None);
        // Deleting one frees its share: the ledger's figures are the entries'.
        store.delete(&acme, "k2").await?;
        store.set_batch(vec![entry(&acme, "k5", 10), entry(&beta, "k2", 5)]).await?;
        assert_eq!(store.get(&acme, "k5").await?, Some(vec![7; 10]));
        assert_eq!(store.usage(&pins_ledger("acme")).await?.keys, 4);
        assert_eq!(store.usage(&pins_ledger("beta")).await?.keys, 2);
        Ok(())
    }

    #[tokio::test]
    async fn a_batch_charges_each_ledger_as_its_entries_one_by_one_would() -> Result<(), StateError> {
        let dir = tempfile::tempdir().map_err(|e| StateError::Backend(e.to_string()))?;
        let (acme, beta) = two_tenants_pins();
        let host = Namespace::Host;
        let batch = vec![
            // Present before: charged for its new size only.
            entry(&acme, "k1", 12),
            entry(&acme, "k2", 10),
            // Past the four keys while two expired entries still count: they are swept, and it is
            // written.
            entry(&acme, "k3", 10),
            entry(&acme, "k4", 10),
            // Past the four keys again, nothing to sweep: refused.
            entry(&acme, "k5", 10),
            entry(&beta, "k1", 5),
            entry(&host, "h", 3),
            // The refused ledger again, shrinking an entry.
            entry(&acme, "k4", 4),
            entry(&beta, "k1", 9),
        ];
        let mut usages = Vec::new();
        for (i, one_by_one) in [false, true].into_iter().enumerate() {
            let store = store_of_two_pinned_calls(&dir.path().join(format!("state-{i}.redb")))?;
            store.set(&acme, "k1", vec![1; 10], Some(Duration::from_secs(60))).await?;
            store.set(&acme, "e1", vec![1; 10], Some(Duration::ZERO)).await?;
            store.set(&acme, "e2", vec![1; 10], Some(Duration::ZERO)).await?;
            let mut refusals = 0;
            if one_by_one {
                for e in batch.clone() {
                    match store.set(&e.ns, &e.key, e.value, e.ttl).await {
                        Err(StateError::Quota(_)) => refusals += 1,
                        other => other?,
                    }
                }
            } else if let Err(StateError::Quota(_)) = store.set_batch(batch.clone()).await {
                refusals += 1;
            }
            assert_eq!(refusals, 1, "k5 is refused");
            let mut seen = Vec::new();
            for (ns, key) in [(&acme, "k1"), (&acme, "k4"), (&acme, "k5"), (&acme, "e1"), (&beta, "k1"), (&host, "h")] {
                seen.push(store.get(ns, key).await?);
            }
            usages.push((store.usage(&pins_ledger("acme")).await?, store.usage(&pins_ledger("beta")).await?, seen));
        }
        assert_eq!(usages[0], usages[1], "a batch and its entries one by one leave the same figures");
        assert_eq!(usages[0].0.keys, 4);
        Ok(())
    }
}
