//! [`Event`]: one event-webhook callback, classified by its keys in the order §3.5 of the reference
//! recommends, with the accessors that work across kinds.

use serde::Serialize;
use serde_json::{Map, Value};

use super::input_event::InputEvent;
use super::keyed_events::{ErrorEvent, NotifyEvent, RecordEvent, TranscriptionEvent, TransferEvent};
use super::lenient::{Fields, object_from_json, object_from_query, object_from_value};
use super::status::StatusEvent;
use super::{ResponseNcco, WebhookError};

/// Keys of event payloads that hold text or numbers, never JSON objects: under GET, their values are
/// not parsed as JSON even when they look like it.
const TEXT_KEYS: &[&str] = &[
    "from",
    "to",
    "uuid",
    "call_uuid",
    "conversation_uuid",
    "conversation_uuid_from",
    "conversation_uuid_to",
    "status",
    "direction",
    "timestamp",
    "detail",
    "sip_code",
    "start_time",
    "end_time",
    "duration",
    "rate",
    "price",
    "network",
    "disconnected_by",
    "sub_state",
    "recording_url",
    "recording_uuid",
    "size",
    "reason",
    "transcription_url",
    "type",
    "timed_out",
];

/// One event-webhook callback. Serializes back to the keys it was read from.
///
/// Classification ([`Event::from_map`]), first match wins:
/// 1. `status` present: `transcribed` is [`Event::Transcription`], any other value (known or not)
///    is [`Event::Status`];
/// 2. `conversation_uuid_from`: [`Event::Transfer`];
/// 3. `speech` or `dtmf`: [`Event::Input`];
/// 4. `recording_url`: [`Event::Record`];
/// 5. `reason`, unless `original_request` is also present (a fallback request repeats the original
///    event's keys and adds `reason` and `original_request`): [`Event::Error`];
/// 6. `payload`: [`Event::Notify`];
/// 7. anything else: [`Event::Unknown`], kept raw.
///
/// A key whose value is `null` counts as absent.
///
/// ```
/// use ncco_sdk::webhook::{CallStatus, Event, ResponseNcco};
/// let event = Event::from_query("status=busy&uuid=abc&conversation_uuid=CON-1&sip_code=486")?;
/// let Event::Status(status) = &event else { panic!("not a status event") };
/// assert_eq!(status.status, CallStatus::Busy);
/// assert_eq!(status.sip_code, Some(486));
/// assert_eq!(event.kind_name(), "status:busy");
/// assert_eq!(event.response_ncco(), ResponseNcco::OptionalReplaces);
/// assert_eq!(event.call_uuid(), Some("abc"));
/// # Ok::<(), ncco_sdk::webhook::WebhookError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Event {
    /// A call-status event (`started` … `completed`, and unknown statuses).
    Status(StatusEvent),
    /// An `input` result.
    Input(InputEvent),
    /// A `record` result.
    Record(RecordEvent),
    /// A leg moved between conversations.
    Transfer(TransferEvent),
    /// A `notify` callback.
    Notify(NotifyEvent),
    /// An error report.
    Error(ErrorEvent),
    /// A recording's transcription is ready.
    Transcription(TranscriptionEvent),
    /// None of the above; every key kept as sent.
    Unknown(Map<String, Value>),
}

impl Event {
    /// Reads a POST body: a JSON object.
    pub fn from_json(body: &[u8]) -> Result<Self, WebhookError> {
        Self::from_map(object_from_json(body)?)
    }

    /// Reads a GET query string (`event_method: GET`), with or without the leading `?`. Every value is
    /// a string; typed fields accept numbers and booleans in strings, and a value that parses as a JSON
    /// object or array (`speech`, `dtmf`, `payload`, `headers`, unknown keys) is taken as that value.
    /// Keys the model reads as text (`from`, `to`, `status`, ...) stay text whatever they look like.
    pub fn from_query(raw_query: &str) -> Result<Self, WebhookError> {
        Self::from_map(object_from_query(raw_query, |key| !TEXT_KEYS.contains(&key)))
    }

    /// Reads a JSON value, which must be an object.
    pub fn from_value(value: Value) -> Result<Self, WebhookError> {
        Self::from_map(object_from_value(value)?)
    }

    /// Classifies and reads the fields of a JSON object (see the type's documentation for the order).
    pub fn from_map(map: Map<String, Value>) -> Result<Self, WebhookError> {
        let f = Fields::new(map);
        if f.has("status") {
            if f.peek("status").and_then(Value::as_str) == Some(TranscriptionEvent::STATUS) {
                return TranscriptionEvent::read(f).map(Event::Transcription);
            }
            return StatusEvent::read(f).map(Event::Status);
        }
        if f.has("conversation_uuid_from") {
            return TransferEvent::read(f).map(Event::Transfer);
        }
        if f.has("speech") || f.has("dtmf") {
            return InputEvent::read(f).map(Event::Input);
        }
        if f.has("recording_url") {
            return RecordEvent::read(f).map(Event::Record);
        }
        if f.has("reason") && !f.has("original_request") {
            return ErrorEvent::read(f).map(Event::Error);
        }
        if f.has("payload") {
            return NotifyEvent::read(f).map(Event::Notify);
        }
        Ok(Event::Unknown(f.finish()))
    }

    /// Whether Vonage reads an NCCO from the response (§3.4): `input` and `notify` results, a WebSocket
    /// `disconnected`, and the synchronous-connect outcomes (`busy`, `unanswered`, `rejected`, `failed`,
    /// `timeout`) may return an NCCO that replaces the running one; everything else is ignored.
    pub fn response_ncco(&self) -> ResponseNcco {
        match self {
            Event::Status(s) => s.response_ncco(),
            Event::Input(_) | Event::Notify(_) => ResponseNcco::OptionalReplaces,
            Event::Record(_) | Event::Transfer(_) | Event::Error(_) | Event::Transcription(_) | Event::Unknown(_) => {
                ResponseNcco::Ignored
            }
        }
    }

    /// A short name for logs and routing: `"status:<status>"` (e.g. `"status:answered"`), `"input"`,
    /// `"record"`, `"transfer"`, `"notify"`, `"error"`, `"transcription"` or `"unknown"`.
    pub fn kind_name(&self) -> String {
        match self {
            Event::Status(s) => format!("status:{}", s.status),
            Event::Input(_) => "input".to_owned(),
            Event::Record(_) => "record".to_owned(),
            Event::Transfer(_) => "transfer".to_owned(),
            Event::Notify(_) => "notify".to_owned(),
            Event::Error(_) => "error".to_owned(),
            Event::Transcription(_) => "transcription".to_owned(),
            Event::Unknown(_) => "unknown".to_owned(),
        }
    }

    /// The conversation id, whatever the kind. For a transfer, the conversation the leg left
    /// (`conversation_uuid_from`); [`TransferEvent::conversation_uuid_to`] has the one it joined.
    pub fn conversation_uuid(&self) -> Option<&str> {
        match self {
            Event::Status(e) => e.conversation_uuid.as_deref(),
            Event::Input(e) => e.conversation_uuid.as_deref(),
            Event::Record(e) => e.conversation_uuid.as_deref(),
            Event::Transfer(e) => e.conversation_uuid_from.as_deref(),
            Event::Notify(e) => e.conversation_uuid.as_deref(),
            Event::Error(e) => e.conversation_uuid.as_deref(),
            Event::Transcription(e) => e.conversation_uuid.as_deref(),
            Event::Unknown(m) => m.get("conversation_uuid").and_then(Value::as_str),
        }
    }

    /// The call (leg) id, whatever the kind: `uuid`, or `call_uuid` on machine-detection events. Kinds
    /// that do not document one (record, notify, error, transcription) are looked up in `extra`.
    pub fn call_uuid(&self) -> Option<&str> {
        match self {
            Event::Status(e) => e.leg_uuid(),
            Event::Input(e) => e.uuid.as_deref(),
            Event::Transfer(e) => e.uuid.as_deref(),
            Event::Unknown(m) => uuid_in(m),
            other => uuid_in(other.extra()),
        }
    }

    /// ISO-8601 time of the event, when sent.
    pub fn timestamp(&self) -> Option<&str> {
        match self {
            Event::Status(e) => e.timestamp.as_deref(),
            Event::Input(e) => e.timestamp.as_deref(),
            Event::Record(e) => e.timestamp.as_deref(),
            Event::Transfer(e) => e.timestamp.as_deref(),
            Event::Notify(e) => e.timestamp.as_deref(),
            Event::Error(e) => e.timestamp.as_deref(),
            Event::Transcription(e) => e.timestamp.as_deref(),
            Event::Unknown(m) => m.get("timestamp").and_then(Value::as_str),
        }
    }

    /// The keys the model did not know (for [`Event::Unknown`], every key).
    pub fn extra(&self) -> &Map<String, Value> {
        match self {
            Event::Status(e) => &e.extra,
            Event::Input(e) => &e.extra,
            Event::Record(e) => &e.extra,
            Event::Transfer(e) => &e.extra,
            Event::Notify(e) => &e.extra,
            Event::Error(e) => &e.extra,
            Event::Transcription(e) => &e.extra,
            Event::Unknown(m) => m,
        }
    }

    /// True for a request to the fallback URL after an instruction event's URL failed: it carries
    /// `original_request` (kept in [`extra`](Self::extra)).
    pub fn is_fallback(&self) -> bool {
        self.extra().get("original_request").is_some_and(|v| !v.is_null())
    }
}

/// `uuid`, or else `call_uuid`, from a map of keys.
fn uuid_in(map: &Map<String, Value>) -> Option<&str> {
    map.get("uuid").and_then(Value::as_str).or_else(|| map.get("call_uuid").and_then(Value::as_str))
}
