//! One webhook's record: the draft the webhook's path hands over, and what the recorder makes of it
//! (the request parsed and redacted, the numbers masked, the times in ISO 8601).

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

fn iso(at: std::time::SystemTime) -> (String, i64) {
    let ms = at.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    (crate::simulate::clock::iso8601(ms), ms)
}

impl Draft {
    pub(super) fn into_record(self, seq: u64, redaction: Redaction, host: &str) -> Record {
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
