//! The inspector's records in Redis, so every host behind a load balancer shows the whole call.
//!
//! ```text
//! ncco:/inspect/calls           sorted set: call key -> when its first webhook arrived (ms)
//! ncco:/inspect/call/<key>      list: the call's records (JSON), in arrival order, at most
//!                               RECORDS_PER_CALL of at most 16 KiB, expiring a day after its last
//!                               webhook
//! ncco:/inspect/live            channel: "<host id> <record JSON>" for each new record
//! ```
//!
//! Each record is one script run (append, trim, bound the number of calls, publish), made by the
//! recorder task, never on a webhook's path. A host hears other hosts' records on the channel and
//! passes them to its own live followers.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{CallSummary, Filter, Record, summarize};

const CALLS: &str = "ncco:/inspect/calls";
const CALL_PREFIX: &str = "ncco:/inspect/call/";
const CHANNEL: &str = "ncco:/inspect/live";
/// Records kept per call.
pub const RECORDS_PER_CALL: usize = 100;
/// How long a call's records stay after its last webhook.
pub const KEEP: Duration = Duration::from_secs(24 * 3600);
/// Largest record stored in Redis (bigger requests are cut down first).
const MAX_RECORD_BYTES: usize = 16 * 1024;

/// KEYS: calls set, the call's list. ARGV: key, first-seen ms, record, most calls, records per
/// call, keep ms, channel, message, list prefix.
const APPEND: &str = r"
redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[5]), -1)
redis.call('PEXPIRE', KEYS[2], ARGV[6])
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if over > 0 then
  for _, k in ipairs(redis.call('ZRANGE', KEYS[1], 0, over - 1)) do
    redis.call('DEL', ARGV[9] .. k)
  end
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, over - 1)
end
redis.call('PUBLISH', ARGV[7], ARGV[8])
return 1
";

/// The shared records of one Redis.
pub struct SharedRecords {
    client: redis::Client,
    conn: ConnectionManager,
    /// Who this host is on the channel.
    host: String,
    max_calls: usize,
}

impl std::fmt::Debug for SharedRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRecords").field("host", &self.host).finish_non_exhaustive()
    }
}

impl SharedRecords {
    /// Connects to `url`; at most `max_calls` calls are kept (each at most [`RECORDS_PER_CALL`]
    /// records of at most 16 KiB).
    pub async fn connect(url: &str, max_calls: usize) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_with_config(client.clone(), config).await?;
        Ok(SharedRecords { client, conn, host: uuid::Uuid::new_v4().to_string(), max_calls: max_calls.max(1) })
    }

    /// Stores `record` and announces it (errors are logged: the record stays on this host).
    pub async fn publish(&self, record: &Record) {
        let mut json = serde_json::to_string(record).unwrap_or_default();
        if json.len() > MAX_RECORD_BYTES {
            let mut smaller = record.clone();
            smaller.request = super::Json {
                text: serde_json::Value::String(format!("({} bytes: too large to share)", json.len())).to_string(),
                redaction: super::Redaction::default(),
            };
            smaller.logs.truncate(20);
            json = serde_json::to_string(&smaller).unwrap_or_default();
        }
        let key = record.call_key();
        let done: Result<i64, _> = redis::Script::new(APPEND)
            .key(CALLS)
            .key(format!("{CALL_PREFIX}{key}"))
            .arg(&key)
            .arg(record.received_ms)
            .arg(&json)
            .arg(self.max_calls)
            .arg(RECORDS_PER_CALL)
            .arg(u64::try_from(KEEP.as_millis()).unwrap_or(u64::MAX))
            .arg(CHANNEL)
            .arg(format!("{} {json}", self.host))
            .arg(CALL_PREFIX)
            .invoke_async(&mut self.conn.clone())
            .await;
        if let Err(e) = done {
            tracing::debug!("inspector: cannot share a record: {e}");
        }
    }

    /// Passes other hosts' records to this host's live followers, until the process ends.
    pub fn follow(&self, live: tokio::sync::broadcast::Sender<Arc<Record>>) {
        let (client, me) = (self.client.clone(), self.host.clone());
        tokio::spawn(async move {
            loop {
                let subscribed = async {
                    let mut pubsub = client.get_async_pubsub().await?;
                    pubsub.subscribe(CHANNEL).await?;
                    Ok::<_, redis::RedisError>(pubsub)
                };
                if let Ok(Ok(pubsub)) = tokio::time::timeout(Duration::from_secs(2), subscribed).await {
                    let mut messages = pubsub.into_on_message();
                    while let Some(message) = futures_util::StreamExt::next(&mut messages).await {
                        let Ok(text) = message.get_payload::<String>() else { continue };
                        let Some((from, json)) = text.split_once(' ') else { continue };
                        if from == me {
                            continue;
                        }
                        if let Ok(record) = serde_json::from_str::<Record>(json) {
                            let _ = live.send(Arc::new(record));
                        }
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    async fn records(&self, keys: &[String]) -> Result<Vec<Vec<Arc<Record>>>, redis::RedisError> {
        let mut pipe = redis::pipe();
        for k in keys {
            pipe.lrange(format!("{CALL_PREFIX}{k}"), 0, -1);
        }
        let lists: Vec<Vec<String>> = pipe.query_async(&mut self.conn.clone()).await?;
        Ok(lists
            .into_iter()
            .map(|l| l.iter().filter_map(|j| serde_json::from_str::<Record>(j).ok()).map(Arc::new).collect())
            .collect())
    }

    /// The newest calls `filter` keeps, at most `limit` (looking through at most 2,000 calls).
    pub async fn calls(&self, filter: &Filter, limit: usize) -> Result<Vec<CallSummary>, redis::RedisError> {
        let mut out = Vec::new();
        let page = 50;
        for start in (0..2000).step_by(page) {
            let keys: Vec<String> = redis::cmd("ZREVRANGE")
                .arg(CALLS)
                .arg(start)
                .arg(start + page - 1)
                .query_async(&mut self.conn.clone())
                .await?;
            if keys.is_empty() {
                break;
            }
            for records in self.records(&keys).await? {
                out.extend(summarize(records.iter().map(|r| &**r)).into_iter().filter(|c| filter.keeps(c)));
                if out.len() >= limit {
                    return Ok(out);
                }
            }
            if keys.len() < page {
                break;
            }
        }
        Ok(out)
    }

    /// One call's records in arrival order.
    pub async fn call(&self, key: &str) -> Result<Vec<Arc<Record>>, redis::RedisError> {
        Ok(self.records(&[key.to_owned()]).await?.pop().unwrap_or_default())
    }
}
