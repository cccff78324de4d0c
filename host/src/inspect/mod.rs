//! The call inspector's records: one per webhook (what came in, what the plugin logged, what went
//! out, how long each step took, how much memory, why it failed), grouped by conversation into
//! calls, in a store bounded by count and bytes (oldest dropped first).
//!
//! The webhook's path only hands a [`Draft`] to a channel (never waiting: a full channel drops the
//! record and counts it); a recorder task parses and redacts the request, stores the record and
//! tells the live followers (server-sent events).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde_json::Value;

pub mod shared;

/// Records kept by default.
pub const DEFAULT_RECORDS: usize = 10_000;
/// Bytes of records kept by default.
pub const DEFAULT_RECORD_MIB: u64 = 64;
/// Drafts waiting for the recorder at most (more are dropped, and counted).
const QUEUE: usize = 4096;
/// Calls listed at most by one request.
pub const MAX_LISTED: usize = 500;

/// Time spent in each step of one webhook, microseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, serde::Deserialize)]
pub struct Timings {
    /// Waiting for an instance slot.
    pub wait: u64,
    /// Instantiating the plugin.
    pub instantiate: u64,
    /// Running its handler.
    pub run: u64,
    /// Checking the NCCO it returned.
    pub validate: u64,
    /// From arrival to the answer.
    pub total: u64,
}

/// What the webhook's path hands over; the recorder does the rest.
#[derive(Debug)]
pub struct Draft {
    /// Tenant.
    pub tenant: String,
    /// App.
    pub app: String,
    /// The version that ran (its SHA-256).
    pub version: Option<String>,
    /// `answer`, `fallback`, `event` or `rtc`.
    pub webhook: &'static str,
    /// The event callback's name, for `/event/{callback}`.
    pub callback: Option<String>,
    /// The call leg.
    pub uuid: Option<String>,
    /// The conversation (the call's key in the inspector).
    pub conversation_uuid: Option<String>,
    /// `unsigned`, `verified` or `refused`.
    pub signature: &'static str,
    /// When it arrived.
    pub received: std::time::SystemTime,
    /// The HTTP status answered.
    pub http_status: u16,
    /// `ok`, or the failure kind.
    pub outcome: String,
    /// The failure's message.
    pub failure: Option<String>,
    /// The webhook as the plugin got it (JSON text).
    pub request: String,
    /// The NCCO answered (JSON text), if one was.
    pub ncco: Option<String>,
    /// True when the NCCO is the app's fallback.
    pub fallback: bool,
    /// What the plugin logged.
    pub logs: String,
    /// Log bytes over the app's cap.
    pub log_dropped_bytes: usize,
    /// The steps' times.
    pub timings_us: Timings,
    /// The instance's memory at its peak, bytes.
    pub peak_memory_bytes: Option<u64>,
    /// What the plugin asked the host for (state operations), in order.
    pub host_calls: Vec<String>,
    /// The model's warnings about the NCCO returned (lenient forms, unknown keys).
    pub warnings: Vec<String>,
    /// What the list shows of the request, when the host has read it already (else it is read
    /// from `request`).
    pub summary: Option<RequestSummary>,
    /// The NCCO's talk texts, when the host has read them already (else they are read from `ncco`).
    pub heard: Option<Vec<String>>,
}

/// What the list shows of a request: its numbers and its call status.
#[derive(Debug, Clone, Default)]
pub struct RequestSummary {
    /// `from`.
    pub from: Option<String>,
    /// `to`.
    pub to: Option<String>,
    /// `status` (events).
    pub status: Option<String>,
}

/// One webhook, as the inspector shows it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Record {
    /// Arrival order on this host.
    pub seq: u64,
    /// The call it belongs to: its conversation, else its leg, else a key of its own.
    pub key: String,
    /// Arrival (ISO 8601, UTC).
    pub received_at: String,
    /// Arrival, Unix milliseconds.
    pub received_ms: i64,
    /// Tenant.
    pub tenant: String,
    /// App.
    pub app: String,
    /// The version that ran.
    pub version: Option<String>,
    /// `answer`, `fallback`, `event` or `rtc`.
    pub webhook: String,
    /// The callback name.
    pub callback: Option<String>,
    /// The event's `status` (`ringing`, `answered`, `completed`, ...), for status events.
    pub status: Option<String>,
    /// The call leg.
    pub uuid: Option<String>,
    /// The conversation.
    pub conversation_uuid: Option<String>,
    /// The caller and the called number (redacted as configured).
    pub from: Option<String>,
    /// The number called.
    pub to: Option<String>,
    /// `unsigned`, `verified` or `refused`.
    pub signature: String,
    /// The HTTP status answered.
    pub http_status: u16,
    /// `ok`, or the failure kind.
    pub outcome: String,
    /// The failure's message.
    pub failure: Option<String>,
    /// The request as received (redacted as configured when shown).
    pub request: Json,
    /// The NCCO answered.
    pub ncco: Option<Json>,
    /// The texts the caller hears from it (talk actions).
    pub heard: Vec<String>,
    /// True when the NCCO is the app's fallback.
    pub fallback: bool,
    /// The plugin's log lines.
    pub logs: Vec<String>,
    /// Log bytes over the cap.
    pub log_dropped_bytes: usize,
    /// The steps' times, microseconds.
    pub timings_us: Timings,
    /// Peak instance memory, bytes.
    pub peak_memory_bytes: Option<u64>,
    /// Host calls, in order.
    pub host_calls: Vec<String>,
    /// The model's warnings about the NCCO.
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl Record {
    /// The call this record belongs to: its conversation, else its leg, else itself.
    pub fn call_key(&self) -> String {
        self.key.clone()
    }
}

/// What the inspector hides of requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Redaction {
    /// Phone numbers (`from`, `to`, `number` keys): all but the last 3 digits masked.
    pub numbers: bool,
    /// Custom data (`custom_data`, `headers`, `payload`, `client_ref`): replaced by `"(redacted)"`.
    pub custom_data: bool,
}

const NUMBER_KEYS: &[&str] = &["from", "to", "number", "from_number", "to_number", "phone_number"];
const CUSTOM_KEYS: &[&str] = &["custom_data", "headers", "payload", "client_ref", "user_to_user"];

fn mask(number: &str) -> String {
    let n = number.chars().count();
    number.chars().enumerate().map(|(i, c)| if i + 3 < n && c.is_ascii_alphanumeric() { '•' } else { c }).collect()
}

/// Free text (log lines, host calls: a CRM URL ending in the caller's number) with every run of 7
/// or more digits masked like a number.
fn mask_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 7 {
            out.push_str(&mask(run));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

impl Redaction {
    fn apply(self, value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    if self.numbers && NUMBER_KEYS.contains(&k.as_str()) {
                        match v {
                            Value::String(s) => *s = mask(s),
                            Value::Number(n) => *v = Value::String(mask(&n.to_string())),
                            other => self.apply(other),
                        }
                    } else if self.custom_data && CUSTOM_KEYS.contains(&k.as_str()) {
                        *v = Value::String("(redacted)".into());
                    } else {
                        self.apply(v);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.apply(v)),
            _ => {}
        }
    }
}

/// JSON text kept as it came (parsed, and redacted, only when shown: recording stays cheap).
#[derive(Debug, Clone)]
pub struct Json {
    /// The text.
    pub text: String,
    /// What to hide when it is shown.
    pub redaction: Redaction,
}

impl Json {
    /// The value, redacted (a text that is not JSON is a string).
    pub fn value(&self) -> Value {
        let mut v = serde_json::from_str(&self.text).unwrap_or_else(|_| Value::String(self.text.clone()));
        self.redaction.apply(&mut v);
        v
    }
}

impl Serialize for Json {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value().serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A record read back (from Redis) was redacted when it was written.
        let v = Value::deserialize(d)?;
        Ok(Json { text: v.to_string(), redaction: Redaction::default() })
    }
}

/// What the list needs of a request, read without building the whole value.
#[derive(serde::Deserialize)]
struct Peek {
    #[serde(default)]
    from: Option<Value>,
    #[serde(default)]
    to: Option<Value>,
    #[serde(default)]
    status: Option<Value>,
}

/// What the list shows of a request the host did not read itself.
fn summarize_request(request: &str) -> RequestSummary {
    let Ok(peek) = serde_json::from_str::<Peek>(request) else { return RequestSummary::default() };
    let number =
        |v: Option<Value>| v.and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_u64().map(|n| n.to_string())));
    RequestSummary {
        from: number(peek.from),
        to: number(peek.to),
        status: peek.status.and_then(|s| s.as_str().map(str::to_owned)),
    }
}

/// What the list needs of an NCCO action.
#[derive(serde::Deserialize)]
struct PeekAction {
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    text: Option<Value>,
}

/// The talk texts of an NCCO.
fn heard(ncco: &str) -> Vec<String> {
    serde_json::from_str::<Vec<PeekAction>>(ncco)
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a.action.as_deref() == Some("talk"))
        .filter_map(|a| a.text.and_then(|t| t.as_str().map(str::to_owned)))
        .collect()
}

fn iso(at: std::time::SystemTime) -> (String, i64) {
    let ms = at.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    (crate::simulate::clock::iso8601(ms), ms)
}

impl Draft {
    fn into_record(self, seq: u64, redaction: Redaction, host: &str) -> Record {
        // A webhook with no ids (refused before they were read) is a call of its own, named so no
        // other host's, restart's or tenant's record takes the same key.
        let key = self
            .conversation_uuid
            .clone()
            .or_else(|| self.uuid.clone())
            .unwrap_or_else(|| format!("webhook-{host}-{seq}"));
        let RequestSummary { mut from, mut to, status } =
            self.summary.unwrap_or_else(|| summarize_request(&self.request));
        if redaction.numbers {
            from = from.map(|n| mask(&n));
            to = to.map(|n| mask(&n));
        }
        let heard = self.heard.or_else(|| self.ncco.as_deref().map(heard)).unwrap_or_default();
        let request = Json { text: self.request, redaction };
        let ncco = self.ncco.map(|text| Json { text, redaction: Redaction::default() });
        let (received_at, received_ms) = iso(self.received);
        Record {
            seq,
            key,
            received_at,
            received_ms,
            tenant: self.tenant,
            app: self.app,
            version: self.version,
            webhook: self.webhook.to_owned(),
            callback: self.callback,
            status,
            uuid: self.uuid,
            conversation_uuid: self.conversation_uuid,
            from,
            to,
            signature: self.signature.to_owned(),
            http_status: self.http_status,
            outcome: self.outcome,
            failure: self.failure,
            request,
            ncco,
            heard,
            fallback: self.fallback,
            logs: self.logs.lines().map(|l| if redaction.numbers { mask_runs(l) } else { l.to_owned() }).collect(),
            log_dropped_bytes: self.log_dropped_bytes,
            timings_us: self.timings_us,
            peak_memory_bytes: self.peak_memory_bytes,
            host_calls: if redaction.numbers {
                self.host_calls.iter().map(|l| mask_runs(l)).collect()
            } else {
                self.host_calls
            },
            warnings: self.warnings,
        }
    }
}

/// One call in the list.
#[derive(Debug, Clone, Serialize)]
pub struct CallSummary {
    /// The call's key (its conversation).
    pub conversation_uuid: String,
    /// Tenant.
    pub tenant: String,
    /// App.
    pub app: String,
    /// Its first webhook's arrival.
    pub started: String,
    /// Its last webhook's arrival.
    pub last: String,
    /// Webhooks recorded.
    pub webhooks: usize,
    /// `ok`, or the kind of its first failure.
    pub outcome: String,
    /// Failed webhooks.
    pub failures: usize,
    /// Caller and called number, from the answer.
    pub from: Option<String>,
    /// The number called.
    pub to: Option<String>,
    /// The call legs seen.
    pub uuids: Vec<String>,
    /// What the caller heard first.
    pub heard: Vec<String>,
}

/// Which calls to list.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Filter {
    /// Only this tenant's.
    pub tenant: Option<String>,
    /// Only this app's.
    pub app: Option<String>,
    /// A number the call was from or to (digits compared).
    pub number: Option<String>,
    /// A call leg or conversation id.
    pub uuid: Option<String>,
    /// `ok`, `failed`, or a failure kind.
    pub outcome: Option<String>,
    /// At most this many (default 100, at most 500).
    pub limit: Option<usize>,
}

impl Filter {
    /// True when `call` passes every filter given.
    pub fn keeps(&self, call: &CallSummary) -> bool {
        let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
        self.tenant.as_ref().is_none_or(|t| *t == call.tenant)
            && self.app.as_ref().is_none_or(|a| *a == call.app)
            && self.uuid.as_ref().is_none_or(|u| *u == call.conversation_uuid || call.uuids.contains(u))
            && self.number.as_ref().is_none_or(|n| {
                let n = digits(n);
                !n.is_empty() && [&call.from, &call.to].into_iter().flatten().any(|x| digits(x).contains(&n))
            })
            && self.outcome.as_ref().is_none_or(|o| match o.as_str() {
                "ok" => call.failures == 0,
                "failed" => call.failures > 0,
                kind => call.outcome == kind,
            })
    }
}

#[derive(Debug, Default)]
struct Inner {
    records: VecDeque<(Arc<Record>, usize)>,
    bytes: usize,
}

/// The bounded store of records and its live followers.
#[derive(Debug)]
pub struct Inspector {
    inner: std::sync::Mutex<Inner>,
    max_records: usize,
    max_bytes: usize,
    redaction: Redaction,
    seq: AtomicU64,
    drafts: tokio::sync::mpsc::Sender<Draft>,
    live: tokio::sync::broadcast::Sender<Arc<Record>>,
    dropped: AtomicU64,
    enabled: bool,
    /// The records of every host on one Redis, when shared.
    shared: Option<shared::SharedRecords>,
    /// This host's tag in the keys of records without ids.
    host: String,
}

impl Inspector {
    /// A store of at most `max_records` records and `max_bytes` bytes of them, with its recorder
    /// task (on the current tokio runtime); when not `enabled`, nothing is recorded.
    pub fn start(
        max_records: usize,
        max_bytes: u64,
        redaction: Redaction,
        enabled: bool,
        shared: Option<shared::SharedRecords>,
    ) -> Arc<Self> {
        let (drafts, mut queue) = tokio::sync::mpsc::channel(QUEUE);
        let (live, _) = tokio::sync::broadcast::channel(256);
        let inspector = Arc::new(Inspector {
            inner: Default::default(),
            max_records: max_records.max(1),
            max_bytes: usize::try_from(max_bytes).unwrap_or(usize::MAX),
            redaction,
            seq: AtomicU64::new(0),
            drafts,
            live,
            dropped: AtomicU64::new(0),
            enabled,
            shared,
            host: uuid::Uuid::new_v4().simple().to_string()[..8].to_owned(),
        });
        let weak = Arc::downgrade(&inspector);
        tokio::spawn(async move {
            while let Some(draft) = queue.recv().await {
                let Some(inspector) = weak.upgrade() else { break };
                let record = inspector.store(draft);
                if let Some(shared) = &inspector.shared {
                    shared.publish(&record).await;
                }
            }
        });
        if let Some(shared) = &inspector.shared {
            shared.follow(inspector.live.clone());
        }
        inspector
    }

    /// Hands a webhook's record over, never waiting (dropped and counted when the recorder is behind).
    /// Callers skip it when not [`Inspector::enabled`].
    pub fn submit(&self, draft: Draft) {
        if self.enabled && self.drafts.try_send(draft).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether webhooks are recorded at all (`inspect = false` turns it off).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Records dropped because the recorder was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Keeps `draft`'s record here and tells this host's followers.
    fn store(&self, draft: Draft) -> Arc<Record> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let record = Arc::new(draft.into_record(seq, self.redaction, &self.host));
        // What it holds, roughly: its texts and a fixed part.
        let size = 512
            + record.request.text.len()
            + record.ncco.as_ref().map_or(0, |n| n.text.len())
            + record.logs.iter().map(|l| l.len() + 8).sum::<usize>()
            + record.host_calls.iter().map(|l| l.len() + 8).sum::<usize>()
            + record.failure.as_ref().map_or(0, String::len);
        if let Ok(mut inner) = self.inner.lock() {
            inner.records.push_back((Arc::clone(&record), size));
            inner.bytes += size;
            while inner.records.len() > self.max_records || (inner.bytes > self.max_bytes && inner.records.len() > 1) {
                if let Some((_, n)) = inner.records.pop_front() {
                    inner.bytes -= n;
                }
            }
        }
        let _ = self.live.send(Arc::clone(&record));
        record
    }

    /// Follows new records as they are stored.
    pub fn follow(&self) -> tokio::sync::broadcast::Receiver<Arc<Record>> {
        self.live.subscribe()
    }

    /// Records held and their bytes.
    pub fn size(&self) -> (usize, usize) {
        self.inner.lock().map_or((0, 0), |i| (i.records.len(), i.bytes))
    }

    /// The calls, newest first, that `filter` keeps: from Redis when records are shared (this
    /// host's own when Redis cannot be read).
    pub async fn calls(&self, filter: &Filter) -> Vec<CallSummary> {
        let limit = filter.limit.unwrap_or(100).min(MAX_LISTED);
        if let Some(shared) = &self.shared {
            match shared.calls(filter, limit).await {
                Ok(calls) => return calls,
                Err(e) => tracing::warn!("inspector: cannot read the shared records ({e}); showing this host's"),
            }
        }
        let records: Vec<Arc<Record>> =
            self.inner.lock().map(|i| i.records.iter().map(|(r, _)| Arc::clone(r)).collect()).unwrap_or_default();
        summarize(&records).into_iter().rev().filter(|c| filter.keeps(c)).take(limit).collect()
    }

    /// One call's records in arrival order.
    pub async fn call(&self, key: &str) -> Vec<Arc<Record>> {
        if let Some(shared) = &self.shared {
            match shared.call(key).await {
                Ok(records) => return records,
                Err(e) => tracing::warn!("inspector: cannot read the shared records ({e}); showing this host's"),
            }
        }
        self.inner
            .lock()
            .map(|i| i.records.iter().filter(|(r, _)| r.call_key() == key).map(|(r, _)| Arc::clone(r)).collect())
            .unwrap_or_default()
    }
}

/// The calls `records` make up, in the order of their first record.
pub fn summarize(records: &[Arc<Record>]) -> Vec<CallSummary> {
    let mut calls: HashMap<String, CallSummary> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for r in records {
        // By tenant too: a conversation id from one tenant never shows another tenant's record.
        let group = format!("{}/{}", r.tenant, r.key);
        let call = calls.entry(group.clone()).or_insert_with(|| {
            order.push(group.clone());
            CallSummary {
                conversation_uuid: r.key.clone(),
                tenant: r.tenant.clone(),
                app: r.app.clone(),
                started: r.received_at.clone(),
                last: r.received_at.clone(),
                webhooks: 0,
                outcome: "ok".into(),
                failures: 0,
                from: None,
                to: None,
                uuids: Vec::new(),
                heard: Vec::new(),
            }
        });
        call.webhooks += 1;
        call.last.clone_from(&r.received_at);
        if r.outcome != "ok" {
            if call.failures == 0 {
                call.outcome.clone_from(&r.outcome);
            }
            call.failures += 1;
        }
        if call.from.is_none() {
            call.from.clone_from(&r.from);
        }
        if call.to.is_none() {
            call.to.clone_from(&r.to);
        }
        if let Some(u) = &r.uuid
            && !call.uuids.contains(u)
        {
            call.uuids.push(u.clone());
        }
        if call.heard.is_empty() {
            call.heard.clone_from(&r.heard);
        }
    }
    order.into_iter().filter_map(|k| calls.remove(&k)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(tenant: &str, conversation: Option<&str>, from: &str) -> Draft {
        Draft {
            tenant: tenant.into(),
            app: "app".into(),
            version: None,
            webhook: "answer",
            callback: None,
            uuid: None,
            conversation_uuid: conversation.map(str::to_owned),
            signature: "unsigned",
            received: std::time::SystemTime::now(),
            http_status: 200,
            outcome: "ok".into(),
            failure: None,
            request: format!(r#"{{"from":"{from}"}}"#),
            ncco: None,
            fallback: false,
            logs: String::new(),
            log_dropped_bytes: 0,
            timings_us: Timings::default(),
            peak_memory_bytes: None,
            host_calls: Vec::new(),
            warnings: Vec::new(),
            summary: None,
            heard: None,
        }
    }

    #[test]
    fn calls_are_grouped_by_tenant_and_records_without_ids_stand_alone() {
        let records: Vec<Arc<Record>> = [
            draft("a", Some("CON-1"), "111"),
            draft("b", Some("CON-1"), "222"),
            draft("a", None, "333"),
            draft("b", None, "444"),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, d)| Arc::new(d.into_record(1 + (i as u64 % 2), Redaction::default(), "h")))
        .collect();
        let calls = summarize(&records);
        assert_eq!(calls.len(), 4, "{calls:?}");
        for c in &calls {
            let own = records
                .iter()
                .find(|r| r.tenant == c.tenant && r.key == c.conversation_uuid)
                .expect("each call comes from a record");
            assert_eq!(c.from, own.from, "a call shows only its own tenant's records");
        }
    }

    #[test]
    fn numbers_keep_their_last_three_digits_and_custom_data_goes() {
        let mut v = serde_json::json!({"from": "447700900123", "to": {"type": "phone", "number": "447700900456"}, "custom_data": {"a": 1}});
        assert_eq!(
            mask_runs("http GET https://crm.example.com/callers/447700900123 -> 200, 45 bytes (12.5 ms)"),
            "http GET https://crm.example.com/callers/•••••••••123 -> 200, 45 bytes (12.5 ms)"
        );
        Redaction { numbers: true, custom_data: true }.apply(&mut v);
        assert_eq!(v["from"], "•••••••••123");
        assert_eq!(v["to"]["number"], "•••••••••456");
        assert_eq!(v["custom_data"], "(redacted)");
    }
}
