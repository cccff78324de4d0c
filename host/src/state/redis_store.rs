//! State in Redis (or Valkey), for several hosts behind a load balancer. Keys are the namespace
//! prefix under `ncco:`; expiry is Redis's own (`PX`). The connection manager reconnects by itself.

use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{Namespace, StateError, StateFuture, StateStore};

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
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisStore")
    }
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(err)`
fn err(e: redis::RedisError) -> StateError {
    StateError(format!("redis: {e}"))
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
            .map_err(|e| StateError(format!("cannot reach {url}: {e}")))?;
        let _: String = redis::cmd("PING").query_async(&mut conn).await.map_err(err)?;
        Ok(RedisStore { conn })
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

/// Compare-and-set in one step on the server. KEYS[1]; ARGV: expected present (1/0), expected,
/// new present (1/0), new, ttl ms (0: none).
const COMPARE_AND_SET: &str = r"
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '0' then
  if cur then return 0 end
elseif cur ~= ARGV[2] then
  return 0
end
if ARGV[3] == '0' then
  redis.call('DEL', KEYS[1])
elseif tonumber(ARGV[5]) > 0 then
  redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[5])
else
  redis.call('SET', KEYS[1], ARGV[4])
end
return 1
";

impl StateStore for RedisStore {
    fn get<'a>(&'a self, ns: &'a Namespace, k: &'a str) -> StateFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            conn.get(key(ns, k)).await.map_err(err)
        })
    }

    fn set<'a>(&'a self, ns: &'a Namespace, k: &'a str, value: Vec<u8>, ttl: Option<Duration>) -> StateFuture<'a, ()> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let full = key(ns, k);
            match ttl {
                Some(t) => {
                    let ms = u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1);
                    conn.pset_ex::<_, _, ()>(full, value, ms).await.map_err(err)
                }
                None => conn.set::<_, _, ()>(full, value).await.map_err(err),
            }
        })
    }

    fn delete<'a>(&'a self, ns: &'a Namespace, k: &'a str) -> StateFuture<'a, ()> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            conn.del::<_, ()>(key(ns, k)).await.map_err(err)
        })
    }

    fn insert_new<'a>(
        &'a self,
        ns: &'a Namespace,
        k: &'a str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> StateFuture<'a, bool> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            // SET NX [PX]: one atomic step, so several hosts agree on who was first.
            let mut cmd = redis::cmd("SET");
            cmd.arg(key(ns, k)).arg(value).arg("NX");
            if let Some(t) = ttl {
                cmd.arg("PX").arg(u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1));
            }
            let stored: Option<String> = cmd.query_async(&mut conn).await.map_err(err)?;
            Ok(stored.is_some())
        })
    }

    fn increment<'a>(
        &'a self,
        ns: &'a Namespace,
        k: &'a str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> StateFuture<'a, Option<i64>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let full = key(ns, k);
            // MULTI: create the key at 0 with its TTL if absent, then INCRBY (which keeps a TTL).
            let mut pipe = redis::pipe();
            pipe.atomic();
            let create = pipe.cmd("SET").arg(&full).arg(0).arg("NX");
            if let Some(t) = ttl {
                create.arg("PX").arg(u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1));
            }
            pipe.ignore().cmd("INCRBY").arg(&full).arg(delta);
            match pipe.query_async::<(i64,)>(&mut conn).await {
                Ok((n,)) => Ok(Some(n)),
                Err(e) if e.to_string().contains("not an integer") => Ok(None),
                Err(e) => Err(err(e)),
            }
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
            let mut conn = self.conn.clone();
            let ttl_ms = ttl.map_or(0, |t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1));
            let done: i64 = redis::cmd("EVAL")
                .arg(COMPARE_AND_SET)
                .arg(1)
                .arg(key(ns, k))
                .arg(u8::from(expected.is_some()))
                .arg(expected.unwrap_or_default())
                .arg(u8::from(new.is_some()))
                .arg(new.unwrap_or_default())
                .arg(ttl_ms)
                .query_async(&mut conn)
                .await
                .map_err(err)?;
            Ok(done == 1)
        })
    }

    fn expire_all<'a>(&'a self, ns: &'a Namespace, grace: Duration) -> StateFuture<'a, ()> {
        Box::pin(async move {
            let prefix = key(ns, "");
            let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX).max(1);
            let mut conn = self.conn.clone();
            for k in self.scan(&prefix, false).await? {
                let left: i64 = conn.pttl(&k).await.map_err(err)?;
                // -1: no expiry; -2: gone. Only ever shorten.
                if left == -1 || left > grace_ms {
                    conn.pexpire::<_, ()>(&k, grace_ms).await.map_err(err)?;
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
