//! State in Redis (or Valkey), for several hosts behind a load balancer. Keys are the namespace
//! prefix under `ncco:`; expiry is Redis's own (`PX`). Every write is one run of
//! `redis_write.lua`, which also keeps the ledger (quota) of counted entries. The connection
//! manager reconnects by itself.

use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::quota::{QuotaExceeded, accounted, entry_bytes};
use super::{Namespace, Quotas, StateError, StateFuture, StateStore, Usage, now_ms};

/// Longest wait for a connection to the server.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(250);
/// Longest wait for a reply to one command.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_millis(250);
/// Prefix of every key this host writes.
pub const KEY_PREFIX: &str = "ncco:";

/// State in a Redis server.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    quotas: std::sync::Arc<Quotas>,
}

/// A plugin's write and its tenant's quota in one step (`redis_write.lua`).
static WRITE: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(include_str!("redis_write.lua")));

/// The keys of a tenant's quota figures: usage, entry sizes, entry expiries.
fn usage_keys(tenant: &str) -> [String; 3] {
    let base = format!("{KEY_PREFIX}/usage/{tenant}");
    [base.clone(), format!("{base}/sizes"), format!("{base}/expiry")]
}

fn ttl_ms(ttl: Option<Duration>) -> u64 {
    ttl.map_or(0, |t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1))
}

/// What a compare-and-set expects and writes.
type Swap<'v> = (Option<&'v [u8]>, Option<&'v [u8]>);

/// One op of `redis_write.lua`.
enum Op<'v> {
    Set(&'v [u8]),
    Delete,
    SetIfAbsent(&'v [u8]),
    Increment(i64),
    CompareAndSet { expected: Option<&'v [u8]>, new: Option<&'v [u8]> },
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisStore")
    }
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(err)`
fn err(e: redis::RedisError) -> StateError {
    StateError::Backend(format!("redis: {e}"))
}

fn key(ns: &Namespace, key: &str) -> String {
    format!("{KEY_PREFIX}{}{key}", ns.prefix())
}

/// Escapes Redis glob characters so a prefix matches literally in `SCAN MATCH`.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl RedisStore {
    /// Connects to `url` (`redis://HOST:PORT/DB`) and checks the server answers.
    pub async fn connect(url: &str) -> Result<Self, StateError> {
        let client = redis::Client::open(url).map_err(err)?;
        // Fail fast while the server is away: a plugin's state call returns `unavailable` well within
        // its deadline instead of waiting on reconnects (the manager keeps reconnecting behind it).
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let mut conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| StateError::Backend(format!("cannot reach {url}: {e}")))?;
        let _: String = redis::cmd("PING").query_async(&mut conn).await.map_err(err)?;
        Ok(RedisStore { conn, quotas: std::sync::Arc::default() })
    }

    /// Runs `op` on the entry `k` of `ns` in one script, counting it against the namespace's ledger
    /// (a tenant's state or pins) when it has one.
    async fn write<T: redis::FromRedisValue>(
        &self,
        ns: &Namespace,
        k: &str,
        op: Op<'_>,
        ttl: Option<Duration>,
    ) -> Result<T, StateError> {
        let mut call = WRITE.key(key(ns, k));
        let limits = match accounted(ns) {
            Some(ledger) => {
                let [usage, sizes, expiry] = usage_keys(&ledger);
                call.key(usage).key(sizes).key(expiry);
                self.quotas.limits(&ledger)
            }
            None => super::Limits { keys: u64::MAX, bytes: u64::MAX },
        };
        let (name, value, cas): (&str, Vec<u8>, Option<Swap<'_>>) = match op {
            Op::Set(v) => ("set", v.to_vec(), None),
            Op::Delete => ("del", Vec::new(), None),
            Op::SetIfAbsent(v) => ("setnx", v.to_vec(), None),
            Op::Increment(d) => ("incr", d.to_string().into_bytes(), None),
            Op::CompareAndSet { expected, new } => ("cas", new.unwrap_or_default().to_vec(), Some((expected, new))),
        };
        call.arg(name).arg(now_ms()).arg(limits.keys).arg(limits.bytes).arg(ttl_ms(ttl)).arg(value);
        call.arg(entry_bytes(&(ns.prefix() + k), 0));
        if let Some((expected, new)) = cas {
            call.arg(u8::from(expected.is_some())).arg(expected.unwrap_or_default()).arg(u8::from(new.is_some()));
        }
        let mut conn = self.conn.clone();
        call.invoke_async(&mut conn).await.map_err(|e| match quota_refusal(&e) {
            Some(q) => StateError::Quota(q),
            None => err(e),
        })
    }

    /// The keys starting with `prefix` (SCAN with a literal MATCH); with `first_only`, stops at the
    /// first batch that has one.
    async fn scan(&self, prefix: &str, first_only: bool) -> Result<Vec<String>, StateError> {
        let mut conn = self.conn.clone();
        let pattern = format!("{}*", glob_escape(prefix));
        let mut keys = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .map_err(err)?;
            keys.extend(batch);
            if next == 0 || (first_only && !keys.is_empty()) {
                return Ok(keys);
            }
            cursor = next;
        }
    }
}

/// The quota refusal `redis_write.lua` answered, if that is what `e` is.
fn quota_refusal(e: &redis::RedisError) -> Option<QuotaExceeded> {
    let detail = e.detail().or(e.code()).unwrap_or_default();
    let text = if e.code() == Some("QUOTA") { format!("QUOTA {detail}") } else { e.to_string() };
    let rest = &text[text.find("QUOTA ")? + 6..];
    let mut words = rest.split_whitespace();
    let what = match words.next()? {
        "keys" => "keys",
        "bytes" => "bytes",
        _ => return None,
    };
    Some(QuotaExceeded { what, used: words.next()?.parse().ok()?, limit: words.next()?.parse().ok()? })
}

impl StateStore for RedisStore {
    fn quotas(&self) -> &Quotas {
        &self.quotas
    }

    fn usage<'a>(&'a self, tenant: &'a str) -> StateFuture<'a, Usage> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let [usage, _, _] = usage_keys(tenant);
            let (keys, bytes): (Option<i64>, Option<i64>) =
                redis::cmd("HMGET").arg(usage).arg("keys").arg("bytes").query_async(&mut conn).await.map_err(err)?;
            let figure = |n: Option<i64>| u64::try_from(n.unwrap_or(0)).unwrap_or(0);
            Ok(Usage { keys: figure(keys), bytes: figure(bytes) })
        })
    }

    fn get<'a>(&'a self, ns: &'a Namespace, k: &'a str) -> StateFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            conn.get(key(ns, k)).await.map_err(err)
        })
    }

    fn set<'a>(&'a self, ns: &'a Namespace, k: &'a str, value: Vec<u8>, ttl: Option<Duration>) -> StateFuture<'a, ()> {
        Box::pin(async move {
            let _: i64 = self.write(ns, k, Op::Set(&value), ttl).await?;
            Ok(())
        })
    }

    fn delete<'a>(&'a self, ns: &'a Namespace, k: &'a str) -> StateFuture<'a, ()> {
        Box::pin(async move {
            let _: i64 = self.write(ns, k, Op::Delete, None).await?;
            Ok(())
        })
    }

    fn insert_new<'a>(
        &'a self,
        ns: &'a Namespace,
        k: &'a str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> StateFuture<'a, bool> {
        // One atomic step, so several hosts agree on who was first.
        Box::pin(async move { Ok(self.write::<i64>(ns, k, Op::SetIfAbsent(&value), ttl).await? == 1) })
    }

    fn increment<'a>(
        &'a self,
        ns: &'a Namespace,
        k: &'a str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> StateFuture<'a, Option<i64>> {
        Box::pin(async move {
            let next: Option<String> = self.write(ns, k, Op::Increment(delta), ttl).await?;
            Ok(next.and_then(|n| n.parse().ok()))
        })
    }

    fn compare_and_set<'a>(
        &'a self,
        ns: &'a Namespace,
        k: &'a str,
        expected: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
        ttl: Option<Duration>,
    ) -> StateFuture<'a, bool> {
        Box::pin(async move {
            let op = Op::CompareAndSet { expected: expected.as_deref(), new: new.as_deref() };
            Ok(self.write::<i64>(ns, k, op, ttl).await? == 1)
        })
    }

    fn expire_all<'a>(&'a self, ns: &'a Namespace, grace: Duration) -> StateFuture<'a, ()> {
        Box::pin(async move {
            let prefix = key(ns, "");
            let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX).max(1);
            let mut conn = self.conn.clone();
            // Counted entries are filed by expiry, so their quota is released when Redis drops them.
            let expiry = accounted(ns).map(|t| usage_keys(&t)[2].clone());
            for k in self.scan(&prefix, false).await? {
                let left: i64 = conn.pttl(&k).await.map_err(err)?;
                // -1: no expiry; -2: gone. Only ever shorten.
                if left == -1 || left > grace_ms {
                    conn.pexpire::<_, ()>(&k, grace_ms).await.map_err(err)?;
                    if let Some(expiry) = &expiry {
                        let at = now_ms().saturating_add(grace_ms.unsigned_abs());
                        conn.zadd::<_, _, _, ()>(expiry, &k, at).await.map_err(err)?;
                    }
                }
            }
            Ok(())
        })
    }

    fn first_live<'a>(&'a self, ns: &'a Namespace, prefix: &'a str) -> StateFuture<'a, Option<String>> {
        Box::pin(async move {
            // Redis expires keys itself: any key found is live.
            let base = key(ns, "");
            let found = self.scan(&key(ns, prefix), true).await?;
            Ok(found.first().map(|k| k.get(base.len()..).unwrap_or_default().to_owned()))
        })
    }

    fn list<'a>(&'a self, ns: &'a Namespace) -> StateFuture<'a, Vec<(String, Vec<u8>)>> {
        Box::pin(async move {
            let prefix = key(ns, "");
            let mut conn = self.conn.clone();
            let mut out = Vec::new();
            for k in self.scan(&prefix, false).await? {
                let value: Option<Vec<u8>> = conn.get(&k).await.map_err(err)?;
                if let Some(v) = value {
                    out.push((k[prefix.len()..].to_owned(), v));
                }
            }
            Ok(out)
        })
    }
}
