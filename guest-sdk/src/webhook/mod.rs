//! Webhooks Vonage sends: the answer request, call events, and Conversation API (RTC) events.
//!
//! Parsing is lenient, as Vonage's own payloads require: every field is optional, numbers and booleans
//! may arrive inside strings, `null` reads as absent, and unknown keys, statuses and types are kept
//! (in `extra` maps and `Other(..)` variants) so that serializing a parsed value gives back the same
//! keys. Only structurally impossible input is an error ([`WebhookError`]): a body that is not JSON,
//! not a JSON object, or a known field of an impossible type (`"dtmf": 5`).
//!
//! - [`AnswerRequest`]: the answer (and fallback answer) request, from a GET query or a POST body.
//! - [`Event`]: one event-webhook callback, classified as the reference's §3.5 says.
//! - [`RtcEvent`]: one Conversation API event, with its body typed on demand ([`RtcEvent::typed_body`]).
//!
//! Each tells whether Vonage reads an NCCO from the response ([`ResponseNcco`]).
//!
//! ```
//! use ncco_sdk::webhook::{Event, ResponseNcco};
//! let event = Event::from_json(br#"{"speech":{"results":[]},"dtmf":{"digits":"1","timed_out":false}}"#)?;
//! assert_eq!(event.kind_name(), "input");
//! assert_eq!(event.response_ncco(), ResponseNcco::OptionalReplaces);
//! # Ok::<(), ncco_sdk::webhook::WebhookError>(())
//! ```

#[macro_use]
mod wire_enum;

mod answer;
mod decimal;
mod event;
mod input_event;
mod keyed_events;
mod lenient;
mod rtc;
mod rtc_body;
mod status;
mod time;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use answer::{AnswerRequest, EndpointType, OriginalRequest, OriginalRequestType, SIP_HEADER_PREFIX};
pub use decimal::{Decimal, ParseDecimalError};
pub use event::Event;
pub use input_event::{DtmfResult, InputEvent, SpeechAlternative, SpeechResult, TimeoutReason};
pub use keyed_events::{ErrorEvent, NotifyEvent, RecordEvent, TranscriptionEvent, TransferEvent};
pub use rtc::{RtcEvent, RtcEventType};
pub use rtc_body::{
    AudioSettings, DtmfBody, HangupBody, HangupReason, MachineBody, MemberBody, MemberChannel, MemberMedia,
    MemberTimestamps, PlayBody, RecordBody, RtcBody, RtcUser, SayBody,
};
pub use status::{CallStatus, Direction, DisconnectedBy, StatusDetail, StatusEvent, SubState};
pub use time::{seconds_between, unix_millis};

/// Whether Vonage reads an NCCO from the response to a callback (§3.4 of the reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseNcco {
    /// The response must be an NCCO (answer and fallback answer requests): without one the call fails.
    Required,
    /// An NCCO in the response replaces the rest of the running NCCO; an empty 2xx lets it continue.
    OptionalReplaces,
    /// The response body is ignored: just answer 2xx.
    Ignored,
}

impl ResponseNcco {
    /// The snake_case name, as serialized (`"required"`, `"optional_replaces"`, `"ignored"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseNcco::Required => "required",
            ResponseNcco::OptionalReplaces => "optional_replaces",
            ResponseNcco::Ignored => "ignored",
        }
    }

    /// True when an NCCO in the response is read (required or replacing).
    pub fn reads_ncco(self) -> bool {
        self != ResponseNcco::Ignored
    }
}

impl fmt::Display for ResponseNcco {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a webhook request could not be read. Unknown keys and values are never errors; only input
/// no reading could make sense of.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The body is not JSON text.
    #[error("the body is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The body is JSON, but not an object.
    #[error("the body must be a JSON object, got {got}")]
    NotObject {
        /// What it was instead (`"an array"`, `"a string"`, ...).
        got: &'static str,
    },
    /// A known field has a type no lenient reading accepts.
    #[error("`{field}` must be {expected}, got {got}")]
    Type {
        /// The field's path, dotted for nested objects (`speech.results[0].confidence`).
        field: String,
        /// What the field may hold (`"a number"`, `"an object"`, ...).
        expected: &'static str,
        /// What it held, described with its value when short (`the string "abc"`).
        got: String,
    },
    /// A field without which the payload means nothing is absent.
    #[error("`{field}` is missing: {why}")]
    Missing {
        /// The field's name.
        field: &'static str,
        /// Why it is needed.
        why: &'static str,
    },
}

impl WebhookError {
    /// The path of the offending field, when the error is about one field.
    pub fn field(&self) -> Option<&str> {
        match self {
            WebhookError::Type { field, .. } => Some(field),
            WebhookError::Missing { field, .. } => Some(field),
            WebhookError::NotJson(_) | WebhookError::NotObject { .. } => None,
        }
    }
}

/// Implements `Deserialize` by reading a JSON value and parsing it with the type's `from_value`, so
/// `serde_json::from_str::<Event>(..)` (and framework extractors) apply the same lenient rules.
macro_rules! deserialize_via_value {
    ($($t:ty),*) => {$(
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = serde_json::Value::deserialize(deserializer)?;
                <$t>::from_value(value).map_err(serde::de::Error::custom)
            }
        }
    )*};
}
deserialize_via_value!(AnswerRequest, Event, RtcEvent);
