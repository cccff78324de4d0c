//! One webhook's record: the draft the webhook's path hands over, and what the recorder makes of it
//! (the request parsed and redacted, the numbers masked, the times in ISO 8601).

use std::borrow::Cow;

use serde::Serialize;
use serde_json::Value;

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
pub(super) fn mask_runs(text: &str) -> String {
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
    pub(super) fn apply(self, value: &mut Value) {
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

/// The texts of a [`Draft`] kept in a [`Packed`] record, in this order (each present or not).
#[derive(Clone, Copy)]
enum Text {
    Tenant,
    App,
    Version,
    Callback,
    Uuid,
    Conversation,
    Outcome,
    Failure,
    Request,
    Ncco,
    Logs,
    From,
    To,
    Status,
}
/// How many [`Text`]s there are; the lists' items come after them.
const TEXTS: usize = 14;
const _: () = assert!(Text::Status as usize + 1 == TEXTS && TEXTS <= 16, "a bit of `Packed::present` per text");
/// The lists kept after the texts, in this order.
const HOST_CALLS: usize = 0;
const WARNINGS: usize = 1;
const HEARD: usize = 2;

/// A webhook's record as the store keeps it: the draft's texts in one buffer, packed on the
/// webhook's own thread, so a kept record is three blocks of memory, not one per text. Kept
/// records are freed long after they were made and mostly on another thread; with a block per
/// text, the allocator's reuse of those cold blocks was most of what recording cost. A [`Record`]
/// is made from it when one is shown.
#[derive(Debug)]
pub struct Packed {
    seq: u64,
    received_ms: i64,
    webhook: &'static str,
    signature: &'static str,
    http_status: u16,
    fallback: bool,
    /// Whether the host read the request's summary, and the NCCO's talk texts, itself.
    has_summary: bool,
    has_heard: bool,
    /// A bit per [`Text`] that is present.
    present: u16,
    /// How many items each list has.
    lists: [u32; 3],
    log_dropped_bytes: usize,
    timings_us: Timings,
    peak_memory_bytes: Option<u64>,
    text: Box<str>,
    /// Where each text ends in `text`: the [`TEXTS`], then every list's items.
    ends: Box<[u32]>,
}

/// Packs texts into one buffer, noting where each ends.
struct Packer {
    text: String,
    ends: Vec<u32>,
    present: u16,
}

impl Packer {
    fn push(&mut self, piece: &str) {
        self.text.push_str(piece);
        self.ends.push(u32::try_from(self.text.len()).unwrap_or(u32::MAX));
    }

    /// The text of [`Text`] slot `slot`, if present.
    fn put(&mut self, slot: usize, piece: Option<&str>) {
        if piece.is_some() {
            self.present |= 1 << slot;
        }
        self.push(piece.unwrap_or(""));
    }
}

impl Draft {
    /// Its texts packed into one buffer (on the webhook's thread: what the draft held is freed
    /// where it was made).
    pub fn pack(self) -> Packed {
        let summary = self.summary.as_ref();
        let heard = self.heard.as_deref().unwrap_or_default();
        // Each text in its own slot, so the order of `Text` is the only order there is.
        let mut texts: [Option<&str>; TEXTS] = [None; TEXTS];
        texts[Text::Tenant as usize] = Some(&self.tenant);
        texts[Text::App as usize] = Some(&self.app);
        texts[Text::Version as usize] = self.version.as_deref();
        texts[Text::Callback as usize] = self.callback.as_deref();
        texts[Text::Uuid as usize] = self.uuid.as_deref();
        texts[Text::Conversation as usize] = self.conversation_uuid.as_deref();
        texts[Text::Outcome as usize] = Some(&self.outcome);
        texts[Text::Failure as usize] = self.failure.as_deref();
        texts[Text::Request as usize] = Some(&self.request);
        texts[Text::Ncco as usize] = self.ncco.as_deref();
        texts[Text::Logs as usize] = Some(&self.logs);
        texts[Text::From as usize] = summary.and_then(|s| s.from.as_deref());
        texts[Text::To as usize] = summary.and_then(|s| s.to.as_deref());
        texts[Text::Status as usize] = summary.and_then(|s| s.status.as_deref());
        let lists = [&self.host_calls[..], &self.warnings[..], heard];
        let bytes = texts.iter().flatten().map(|t| t.len()).sum::<usize>()
            + lists.iter().flat_map(|l| l.iter()).map(String::len).sum::<usize>();
        let mut packer = Packer {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(TEXTS + lists.iter().map(|l| l.len()).sum::<usize>()),
            present: 0,
        };
        for (slot, piece) in texts.into_iter().enumerate() {
            packer.put(slot, piece);
        }
        for item in lists.iter().flat_map(|l| l.iter()) {
            packer.push(item);
        }
        Packed {
            seq: 0,
            received_ms: unix_ms(self.received),
            webhook: self.webhook,
            signature: self.signature,
            http_status: self.http_status,
            fallback: self.fallback,
            has_summary: self.summary.is_some(),
            has_heard: self.heard.is_some(),
            present: packer.present,
            lists: lists.map(|l| u32::try_from(l.len()).unwrap_or(u32::MAX)),
            log_dropped_bytes: self.log_dropped_bytes,
            timings_us: self.timings_us,
            peak_memory_bytes: self.peak_memory_bytes,
            text: packer.text.into_boxed_str(),
            ends: packer.ends.into_boxed_slice(),
        }
    }
}

/// Unix milliseconds of `at` (0 before 1970).
fn unix_ms(at: std::time::SystemTime) -> i64 {
    at.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Packed {
    /// Numbers it in the store.
    pub(super) fn set_seq(&mut self, seq: u64) {
        self.seq = seq;
    }

    /// Roughly what it holds, bytes.
    pub(super) fn size(&self) -> usize {
        256 + self.text.len() + 4 * self.ends.len()
    }

    fn piece(&self, i: usize) -> &str {
        let start = match i {
            0 => 0,
            _ => self.ends.get(i - 1).copied().unwrap_or(0),
        };
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.text.get(start as usize..end as usize).unwrap_or("")
    }

    fn get(&self, which: Text) -> Option<&str> {
        (self.present & (1 << which as u16) != 0).then(|| self.piece(which as usize))
    }

    fn all(&self, which: Text) -> &str {
        self.piece(which as usize)
    }

    fn list(&self, n: usize) -> impl Iterator<Item = &str> {
        let skip = TEXTS + self.lists[..n].iter().map(|&c| c as usize).sum::<usize>();
        (skip..skip + self.lists[n] as usize).map(|i| self.piece(i))
    }

    /// Its tenant.
    pub fn tenant(&self) -> &str {
        self.all(Text::Tenant)
    }

    /// The call it belongs to: its conversation, else its leg, else a key of its own (named so
    /// that no other host's, restart's or tenant's record takes it).
    pub fn key(&self, host: &str) -> Cow<'_, str> {
        match self.get(Text::Conversation).or_else(|| self.get(Text::Uuid)) {
            Some(key) => key.into(),
            None => format!("webhook-{host}-{}", self.seq).into(),
        }
    }

    /// What the list shows of the request: its numbers (masked as `redaction` says) and status.
    fn summary(&self, redaction: Redaction) -> RequestSummary {
        let RequestSummary { mut from, mut to, status } = if self.has_summary {
            let own = |t: Text| self.get(t).map(str::to_owned);
            RequestSummary { from: own(Text::From), to: own(Text::To), status: own(Text::Status) }
        } else {
            summarize_request(self.all(Text::Request))
        };
        if redaction.numbers {
            from = from.map(|n| mask(&n));
            to = to.map(|n| mask(&n));
        }
        RequestSummary { from, to, status }
    }

    /// The NCCO's talk texts.
    fn heard(&self) -> Vec<String> {
        if self.has_heard {
            self.list(HEARD).map(str::to_owned).collect()
        } else {
            self.get(Text::Ncco).map(heard).unwrap_or_default()
        }
    }

    /// The record as the inspector shows it, with `redaction` applied.
    pub(super) fn record(&self, redaction: Redaction, host: &str) -> Record {
        let RequestSummary { from, to, status } = self.summary(redaction);
        let owned = |t: Text| self.get(t).map(str::to_owned);
        let masked = |l: &str| if redaction.numbers { mask_runs(l) } else { l.to_owned() };
        Record {
            seq: self.seq,
            key: self.key(host).into_owned(),
            received_at: crate::simulate::clock::iso8601(self.received_ms),
            received_ms: self.received_ms,
            tenant: self.tenant().to_owned(),
            app: self.all(Text::App).to_owned(),
            version: owned(Text::Version),
            webhook: self.webhook.to_owned(),
            callback: owned(Text::Callback),
            status,
            uuid: owned(Text::Uuid),
            conversation_uuid: owned(Text::Conversation),
            from,
            to,
            signature: self.signature.to_owned(),
            http_status: self.http_status,
            outcome: self.all(Text::Outcome).to_owned(),
            failure: owned(Text::Failure),
            request: Json { text: self.all(Text::Request).to_owned(), redaction },
            ncco: owned(Text::Ncco).map(|text| Json { text, redaction: Redaction::default() }),
            heard: self.heard(),
            fallback: self.fallback,
            logs: self.all(Text::Logs).lines().map(masked).collect(),
            log_dropped_bytes: self.log_dropped_bytes,
            timings_us: self.timings_us,
            peak_memory_bytes: self.peak_memory_bytes,
            host_calls: self.list(HOST_CALLS).map(masked).collect(),
            warnings: self.list(WARNINGS).map(str::to_owned).collect(),
        }
    }

    /// It as the call list reads it, with `redaction` applied.
    pub(super) fn listed<'a>(&'a self, redaction: Redaction, host: &'a str) -> Shown<'a> {
        Shown { packed: self, redaction, host }
    }
}

/// A kept record as the call list reads it.
pub struct Shown<'a> {
    packed: &'a Packed,
    redaction: Redaction,
    host: &'a str,
}

impl super::calls::Listed for Shown<'_> {
    fn tenant(&self) -> &str {
        self.packed.tenant()
    }

    fn app(&self) -> &str {
        self.packed.all(Text::App)
    }

    fn key(&self) -> Cow<'_, str> {
        self.packed.key(self.host)
    }

    fn received_ms(&self) -> i64 {
        self.packed.received_ms
    }

    fn outcome(&self) -> &str {
        self.packed.all(Text::Outcome)
    }

    fn uuid(&self) -> Option<&str> {
        self.packed.get(Text::Uuid)
    }

    fn numbers(&self) -> (Option<String>, Option<String>) {
        let RequestSummary { from, to, .. } = self.packed.summary(self.redaction);
        (from, to)
    }

    fn heard(&self) -> Vec<String> {
        self.packed.heard()
    }
}

impl super::calls::Listed for &Record {
    fn tenant(&self) -> &str {
        &self.tenant
    }

    fn app(&self) -> &str {
        &self.app
    }

    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.key)
    }

    fn received_ms(&self) -> i64 {
        self.received_ms
    }

    fn outcome(&self) -> &str {
        &self.outcome
    }

    fn uuid(&self) -> Option<&str> {
        self.uuid.as_deref()
    }

    fn numbers(&self) -> (Option<String>, Option<String>) {
        (self.from.clone(), self.to.clone())
    }

    fn heard(&self) -> Vec<String> {
        self.heard.clone()
    }
}
