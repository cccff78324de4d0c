//! The call inspector's records: one per webhook (what came in, what the plugin logged, what went
//! out, how long each step took, how much memory, why it failed), grouped by conversation into
//! calls, in a store bounded by count and bytes (oldest dropped first).
//!
//! The webhook's path packs its [`Draft`] into one buffer ([`Packed`]) and hands it to a channel
//! (never waiting: a full channel drops the record and counts it); a recorder task stores it, and
//! makes the [`Record`] shown (parsed, redacted) for the live followers (server-sent events) and
//! Redis. Reads make the records they show. A read waits (briefly, bounded) until every draft
//! handed over before it is stored, so a webhook's record is there as soon as its response is.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

mod calls;
mod record;
pub mod shared;

pub use calls::{CallSummary, Filter, Listed, summarize};
pub use record::{Draft, Json, Packed, Record, Redaction, RequestSummary, Timings};

/// Records kept by default.
pub const DEFAULT_RECORDS: usize = 10_000;
/// Bytes of records kept by default.
pub const DEFAULT_RECORD_MIB: u64 = 64;
/// Drafts waiting for the recorder at most (more are dropped, and counted).
const QUEUE: usize = 4096;
/// Drafts the recorder takes at once, at most.
const BATCH: usize = 256;
/// How long the recorder gathers drafts after the first arrives (a record shows this much later).
const LINGER: std::time::Duration = std::time::Duration::from_millis(5);
/// How long a read waits at most for the drafts handed over before it to be stored.
const CATCH_UP: std::time::Duration = std::time::Duration::from_secs(1);
/// Calls listed at most by one request.
pub const MAX_LISTED: usize = 500;

#[derive(Debug, Default)]
struct Inner {
    records: VecDeque<Arc<Packed>>,
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
    drafts: tokio::sync::mpsc::Sender<Packed>,
    live: tokio::sync::broadcast::Sender<Arc<Record>>,
    dropped: AtomicU64,
    /// Drafts handed to the recorder so far, and drafts it has stored (and published) so far.
    submitted: AtomicU64,
    stored: tokio::sync::watch::Sender<u64>,
    /// Wakes the recorder from its linger when a read is waiting for it.
    hurry: tokio::sync::Notify,
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
            submitted: AtomicU64::new(0),
            stored: tokio::sync::watch::Sender::new(0),
            hurry: tokio::sync::Notify::new(),
            enabled,
            shared,
            host: uuid::Uuid::new_v4().simple().to_string()[..8].to_owned(),
        });
        let weak = Arc::downgrade(&inspector);
        tokio::spawn(async move {
            // Drafts are taken in batches gathered for [`LINGER`] after the first: under load the
            // recorder wakes a few hundred times a second, not once per webhook.
            let mut batch = Vec::with_capacity(BATCH);
            while queue.recv_many(&mut batch, BATCH).await > 0 {
                let Some(inspector) = weak.upgrade() else { break };
                // A full batch is stored at once: the recorder never falls behind for lingering.
                // Nor does a read wait out the linger.
                if batch.len() < BATCH {
                    tokio::select! {
                        () = tokio::time::sleep(LINGER) => {}
                        () = inspector.hurry.notified() => {}
                    }
                }
                while batch.len() < BATCH
                    && let Ok(draft) = queue.try_recv()
                {
                    batch.push(draft);
                }
                for packed in batch.drain(..) {
                    let kept = inspector.store(packed);
                    // A record is made to be shown only when somebody is following, or for Redis;
                    // followers do not wait for Redis.
                    let followed = inspector.live.receiver_count() > 0;
                    if followed || inspector.shared.is_some() {
                        let record = Arc::new(kept.record(inspector.redaction, &inspector.host));
                        if followed {
                            let _ = inspector.live.send(Arc::clone(&record));
                        }
                        if let Some(shared) = &inspector.shared {
                            shared.publish(&record).await;
                        }
                    }
                    inspector.stored.send_modify(|n| *n += 1);
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
        if !self.enabled {
            return;
        }
        // Counted before it is sent, so a read that counts it finds it stored once the recorder
        // has stored that many (in the channel's order); a full channel packs nothing.
        let Ok(slot) = self.drafts.try_reserve() else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        self.submitted.fetch_add(1, Ordering::Release);
        slot.send(draft.pack());
    }

    /// Waits until every draft handed over before this call is stored (at most [`CATCH_UP`]).
    async fn caught_up(&self) {
        let target = self.submitted.load(Ordering::Acquire);
        let mut stored = self.stored.subscribe();
        if *stored.borrow_and_update() >= target {
            return;
        }
        // `notify_one` keeps a permit when the recorder is not yet lingering.
        self.hurry.notify_one();
        if tokio::time::timeout(CATCH_UP, stored.wait_for(|n| *n >= target)).await.is_err() {
            tracing::warn!("inspector: the recorder is behind; showing what is stored");
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

    /// Keeps `packed` here, numbered, dropping the oldest records past the bounds.
    fn store(&self, mut packed: Packed) -> Arc<Packed> {
        packed.set_seq(self.seq.fetch_add(1, Ordering::Relaxed) + 1);
        let kept = Arc::new(packed);
        if let Ok(mut inner) = self.inner.lock() {
            inner.records.push_back(Arc::clone(&kept));
            inner.bytes += kept.size();
            while inner.records.len() > self.max_records || (inner.bytes > self.max_bytes && inner.records.len() > 1) {
                if let Some(old) = inner.records.pop_front() {
                    inner.bytes -= old.size();
                }
            }
        }
        kept
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
        self.caught_up().await;
        if let Some(shared) = &self.shared {
            match shared.calls(filter, limit).await {
                Ok(calls) => return calls,
                Err(e) => tracing::warn!("inspector: cannot read the shared records ({e}); showing this host's"),
            }
        }
        let records: Vec<Arc<Packed>> =
            self.inner.lock().map(|i| i.records.iter().cloned().collect()).unwrap_or_default();
        summarize(records.iter().map(|r| r.listed(self.redaction, &self.host)))
            .into_iter()
            .rev()
            .filter(|c| filter.keeps(c))
            .take(limit)
            .collect()
    }

    /// One call's records in arrival order.
    pub async fn call(&self, key: &str) -> Vec<Arc<Record>> {
        self.caught_up().await;
        if let Some(shared) = &self.shared {
            match shared.call(key).await {
                Ok(records) => return records,
                Err(e) => tracing::warn!("inspector: cannot read the shared records ({e}); showing this host's"),
            }
        }
        let kept: Vec<Arc<Packed>> = self
            .inner
            .lock()
            .map(|i| i.records.iter().filter(|r| r.key(&self.host) == key).cloned().collect())
            .unwrap_or_default();
        kept.iter().map(|r| Arc::new(r.record(self.redaction, &self.host))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::record::mask_runs;
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
        let packed: Vec<Packed> = [
            draft("a", Some("CON-1"), "111"),
            draft("b", Some("CON-1"), "222"),
            draft("a", None, "333"),
            draft("b", None, "444"),
            draft("a", Some("CON-1"), "555"),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let mut packed = d.pack();
            packed.set_seq(1 + (i as u64 % 2));
            packed
        })
        .collect();
        let records: Vec<Arc<Record>> = packed.iter().map(|p| Arc::new(p.record(Redaction::default(), "h"))).collect();
        let calls = summarize(records.iter().map(|r| &**r));
        assert_eq!(calls.len(), 4, "{calls:?}");
        assert_eq!(calls[0].webhooks, 2, "{calls:?}");
        // The store lists its kept records as it lists records read back from Redis.
        let kept = summarize(packed.iter().map(|p| p.listed(Redaction::default(), "h")));
        assert_eq!(serde_json::to_value(&kept).ok(), serde_json::to_value(&calls).ok());
        for c in &calls {
            let own = records
                .iter()
                .find(|r| r.tenant == c.tenant && r.key == c.conversation_uuid)
                .expect("each call comes from a record");
            assert_eq!(c.from, own.from, "a call shows only its own tenant's records");
        }
    }

    #[tokio::test]
    async fn a_record_can_be_read_as_soon_as_its_draft_is_handed_over() {
        let inspector = Inspector::start(100, 1 << 20, Redaction::default(), true, None);
        for round in 0..3 {
            let key = format!("CON-{round}");
            inspector.submit(draft("a", Some(&key), "111"));
            assert_eq!(inspector.call(&key).await.len(), 1, "round {round}: the record is not there yet");
            let calls = inspector.calls(&Filter::default()).await;
            assert_eq!(calls.len(), round + 1, "{calls:?}");
        }
    }

    #[test]
    fn a_packed_record_shows_every_text_it_was_given() {
        let mut full = draft("acme", Some("CON-9"), "447700900123");
        full.version = Some("abc123".into());
        full.callback = Some("menu".into());
        full.uuid = Some("leg-9".into());
        full.outcome = "trap".into();
        full.failure = Some("the plugin trapped: unreachable".into());
        full.ncco = Some(r#"[{"action":"talk","text":"hi"}]"#.into());
        full.logs = "one\ntwo ☎ 447700900123\n".into();
        full.host_calls = vec!["state get k -> hit".into(), String::new(), "http GET /x/447700900123 -> 200".into()];
        full.warnings = vec!["lenient: a number as text".into()];
        full.summary =
            Some(RequestSummary { from: Some("447700900123".into()), to: None, status: Some("answered".into()) });
        full.heard = Some(vec!["hello".into(), String::new(), "again".into()]);
        full.fallback = true;
        full.log_dropped_bytes = 7;
        full.peak_memory_bytes = Some(65_536);
        let mut packed = full.pack();
        packed.set_seq(42);
        let r = packed.record(Redaction { numbers: true, custom_data: false }, "h");
        assert_eq!((r.seq, r.key.as_str(), r.tenant.as_str(), r.app.as_str()), (42, "CON-9", "acme", "app"));
        assert_eq!(
            (r.version.as_deref(), r.callback.as_deref(), r.uuid.as_deref()),
            (Some("abc123"), Some("menu"), Some("leg-9"))
        );
        assert_eq!((r.outcome.as_str(), r.failure.as_deref()), ("trap", Some("the plugin trapped: unreachable")));
        assert_eq!(
            (r.from.as_deref(), r.to.as_deref(), r.status.as_deref()),
            (Some("•••••••••123"), None, Some("answered"))
        );
        assert_eq!(r.logs, ["one", "two ☎ •••••••••123"]);
        assert_eq!(r.host_calls, ["state get k -> hit", "", "http GET /x/•••••••••123 -> 200"]);
        assert_eq!(r.warnings, ["lenient: a number as text"]);
        assert_eq!(r.heard, ["hello", "", "again"]);
        assert_eq!(r.ncco.as_ref().map(|n| n.text.as_str()), Some(r#"[{"action":"talk","text":"hi"}]"#));
        assert_eq!(r.request.value()["from"], "•••••••••123");
        assert!(r.fallback && r.log_dropped_bytes == 7 && r.peak_memory_bytes == Some(65_536));

        // Without the host's summary and talk texts, they are read from the request and the NCCO;
        // without ids, the record is a call of its own.
        let mut bare = draft("acme", None, "447700900999");
        bare.request = r#"{"from":"447700900999","to":447700900111,"status":"ringing"}"#.into();
        bare.ncco = Some(r#"[{"action":"talk","text":"read from the NCCO"},{"action":"input"}]"#.into());
        let mut packed = bare.pack();
        packed.set_seq(7);
        let r = packed.record(Redaction::default(), "h");
        assert_eq!(r.key, "webhook-h-7");
        assert_eq!(
            (r.from.as_deref(), r.to.as_deref(), r.status.as_deref()),
            (Some("447700900999"), Some("447700900111"), Some("ringing"))
        );
        assert_eq!(r.heard, ["read from the NCCO"]);
        assert!(r.version.is_none() && r.callback.is_none() && r.uuid.is_none() && r.conversation_uuid.is_none());
        assert!(r.failure.is_none() && r.logs.is_empty() && r.host_calls.is_empty() && r.warnings.is_empty());
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
