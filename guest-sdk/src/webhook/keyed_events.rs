//! Events without a call `status`, told apart by their keys (§3.3 of the reference): record,
//! transfer, notify and error; plus the transcription event, whose `status` is `transcribed`.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::WebhookError;
use super::lenient::Fields;

/// A `record` action finished: where the recording is.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct RecordEvent {
    /// When recording started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// When recording ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// Where to download the recording (`https://api.nexmo.com/v1/files/<file-id>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording_url: Option<String>,
    /// The recording's id (not the file id in the URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording_uuid: Option<String>,
    /// The recording's size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The conversation id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_uuid: Option<String>,
    /// ISO-8601 UTC time of the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl RecordEvent {
    pub(crate) fn read(mut f: Fields) -> Result<Self, WebhookError> {
        Ok(RecordEvent {
            start_time: f.string("start_time")?,
            end_time: f.string("end_time")?,
            recording_url: f.string("recording_url")?,
            recording_uuid: f.string("recording_uuid")?,
            size: f.u64("size", false)?,
            conversation_uuid: f.string("conversation_uuid")?,
            timestamp: f.string("timestamp")?,
            extra: f.finish(),
        })
    }

    /// The recording's length in whole seconds (rounded), from `start_time` and `end_time`; `None`
    /// when either is absent or not a time [`unix_millis`](super::unix_millis) reads.
    ///
    /// ```
    /// use ncco_sdk::webhook::Event;
    /// let json = br#"{"recording_url":"https://api.nexmo.com/v1/files/1",
    ///     "start_time":"2026-05-04T09:16:00Z","end_time":"2026-05-04T09:16:42.900Z"}"#;
    /// let Event::Record(record) = Event::from_json(json)? else { unreachable!() };
    /// assert_eq!(record.duration_seconds(), Some(43));
    /// # Ok::<(), ncco_sdk::webhook::WebhookError>(())
    /// ```
    pub fn duration_seconds(&self) -> Option<u64> {
        super::seconds_between(self.start_time.as_deref()?, self.end_time.as_deref()?)
    }
}

/// A leg moved from one conversation to another.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct TransferEvent {
    /// The conversation the leg left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_uuid_from: Option<String>,
    /// The conversation the leg joined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_uuid_to: Option<String>,
    /// The call (leg) id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// ISO-8601 UTC time of the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl TransferEvent {
    pub(crate) fn read(mut f: Fields) -> Result<Self, WebhookError> {
        Ok(TransferEvent {
            conversation_uuid_from: f.string("conversation_uuid_from")?,
            conversation_uuid_to: f.string("conversation_uuid_to")?,
            uuid: f.string("uuid")?,
            timestamp: f.string("timestamp")?,
            extra: f.finish(),
        })
    }
}

/// A `notify` action's callback. An NCCO in the response replaces the running NCCO.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct NotifyEvent {
    /// The conversation id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_uuid: Option<String>,
    /// The `payload` of the notify action, echoed (an object in practice; any value is kept).
    pub payload: Value,
    /// ISO-8601 UTC time of the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl NotifyEvent {
    pub(crate) fn read(mut f: Fields) -> Result<Self, WebhookError> {
        Ok(NotifyEvent {
            conversation_uuid: f.string("conversation_uuid")?,
            payload: f.take("payload").unwrap_or(Value::Null),
            timestamp: f.string("timestamp")?,
            extra: f.finish(),
        })
    }

    /// The payload when it is a JSON object.
    pub fn payload_object(&self) -> Option<&Map<String, Value>> {
        self.payload.as_object()
    }
}

/// Something went wrong on Vonage's side of the call (an invalid NCCO, for example).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ErrorEvent {
    /// What went wrong, in free text.
    pub reason: String,
    /// The conversation id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_uuid: Option<String>,
    /// ISO-8601 UTC time of the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ErrorEvent {
    pub(crate) fn read(mut f: Fields) -> Result<Self, WebhookError> {
        Ok(ErrorEvent {
            reason: f.string("reason")?.unwrap_or_default(),
            conversation_uuid: f.string("conversation_uuid")?,
            timestamp: f.string("timestamp")?,
            extra: f.finish(),
        })
    }
}

/// The transcription of a recording is ready (`"status": "transcribed"`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TranscriptionEvent {
    /// The conversation id.
    pub conversation_uuid: Option<String>,
    /// The transcribed recording's id.
    pub recording_uuid: Option<String>,
    /// Where to download the transcription document (JSON).
    pub transcription_url: Option<String>,
    /// `type`: what was transcribed (`"record"`).
    pub kind: Option<String>,
    /// ISO-8601 UTC time of the event, when sent.
    pub timestamp: Option<String>,
    /// Keys the model does not know, kept as they were.
    pub extra: Map<String, Value>,
}

impl TranscriptionEvent {
    /// The `status` value that marks a transcription event.
    pub const STATUS: &'static str = "transcribed";

    pub(crate) fn read(mut f: Fields) -> Result<Self, WebhookError> {
        f.take("status");
        Ok(TranscriptionEvent {
            conversation_uuid: f.string("conversation_uuid")?,
            recording_uuid: f.string("recording_uuid")?,
            transcription_url: f.string("transcription_url")?,
            kind: f.string("type")?,
            timestamp: f.string("timestamp")?,
            extra: f.finish(),
        })
    }
}

impl Serialize for TranscriptionEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(v) = &self.conversation_uuid {
            map.serialize_entry("conversation_uuid", v)?;
        }
        if let Some(v) = &self.recording_uuid {
            map.serialize_entry("recording_uuid", v)?;
        }
        map.serialize_entry("status", Self::STATUS)?;
        let rest =
            [("transcription_url", &self.transcription_url), ("type", &self.kind), ("timestamp", &self.timestamp)];
        for (key, value) in rest {
            if let Some(v) = value {
                map.serialize_entry(key, v)?;
            }
        }
        for (key, value) in &self.extra {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}
