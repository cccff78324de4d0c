//! Call-status events (§3.2 of the reference): the events with a `status`, from `started` to
//! `completed`, with the extra fields some statuses carry.

use serde::Serialize;
use serde_json::{Map, Value};

use super::decimal::Decimal;
use super::lenient::Fields;
use super::{ResponseNcco, WebhookError};

wire_enum! {
    /// A call leg's `status`. (`transcribed`, which shares the key, is a
    /// [`TranscriptionEvent`](super::TranscriptionEvent) instead.)
    pub enum CallStatus {
        /// The call was created.
        Started => "started",
        /// The destination is reachable and ringing.
        Ringing => "ringing",
        /// The call was answered.
        Answered => "answered",
        /// The callee is on another call.
        Busy => "busy",
        /// An outbound call was cancelled by its originator before it was answered.
        Cancelled => "cancelled",
        /// Unreachable, or declined.
        Unanswered => "unanswered",
        /// Rejected before it was connected.
        Rejected => "rejected",
        /// It could not be connected.
        Failed => "failed",
        /// Ringing lasted longer than the ringing timer or the connect `timeout`.
        Timeout => "timeout",
        /// The application side closed a WebSocket leg.
        Disconnected => "disconnected",
        /// Machine detection: a person answered.
        Human => "human",
        /// Machine detection: a machine answered.
        Machine => "machine",
        /// The call is over.
        Completed => "completed",
    }
}

impl CallStatus {
    /// True for the states in which a synchronous `connect` failed to reach its endpoint (§3.4):
    /// `busy`, `unanswered`, `failed`, `rejected` and `timeout`. An NCCO answering one of them
    /// replaces the running NCCO, so the caller can be offered something else.
    ///
    /// ```
    /// use ncco_sdk::webhook::CallStatus;
    /// assert!(CallStatus::Busy.is_connect_failure());
    /// assert!(!CallStatus::Disconnected.is_connect_failure());
    /// assert!(!CallStatus::Completed.is_connect_failure());
    /// ```
    pub fn is_connect_failure(&self) -> bool {
        matches!(
            self,
            CallStatus::Busy | CallStatus::Unanswered | CallStatus::Failed | CallStatus::Rejected | CallStatus::Timeout
        )
    }

    /// Whether an NCCO in the response is read (§3.4): it replaces the running NCCO for `disconnected`
    /// and for the synchronous-connect failures ([`is_connect_failure`](Self::is_connect_failure));
    /// every other status is a plain notification.
    pub fn response_ncco(&self) -> ResponseNcco {
        if self.is_connect_failure() || *self == CallStatus::Disconnected {
            ResponseNcco::OptionalReplaces
        } else {
            ResponseNcco::Ignored
        }
    }
}

wire_enum! {
    /// `direction` of a call leg.
    pub enum Direction {
        /// Into the application.
        Inbound => "inbound",
        /// Out of the application.
        Outbound => "outbound",
    }
}

wire_enum! {
    /// `detail` of an `unanswered`, `rejected` or `failed` event. Values not listed here are common
    /// (the SDKs map them to "unmapped"); they are kept in `Other`.
    pub enum StatusDetail {
        /// Unanswered: the destination is unavailable.
        Unavailable => "unavailable",
        /// Unanswered: the carrier timed out.
        CarrierTimeout => "carrier_timeout",
        /// Unanswered: the 2021 spelling of `carrier_timeout`.
        Timeout => "timeout",
        /// Rejected: the number is invalid.
        InvalidNumber => "invalid_number",
        /// Rejected: the destination is restricted.
        Restricted => "restricted",
        /// Rejected: the callee declined.
        Declined => "declined",
        /// Failed: no route to the destination.
        CannotRoute => "cannot_route",
        /// Failed: the number is out of service.
        NumberOutOfService => "number_out_of_service",
        /// Failed: a Vonage-side error.
        InternalError => "internal_error",
    }
}

wire_enum! {
    /// `disconnected_by` of a `completed` event.
    pub enum DisconnectedBy {
        /// The user hung up.
        User => "user",
        /// Vonage ended the call.
        Platform => "platform",
    }
}

wire_enum! {
    /// `sub_state` of a `machine` event (advanced machine detection with beep detection).
    pub enum SubState {
        /// The voicemail beep was heard.
        BeepStart => "beep_start",
        /// No beep was heard within `beep_timeout`.
        BeepTimeout => "beep_timeout",
    }
}

/// An event with a call `status` (every status except `transcribed`).
///
/// Machine-detection events (`human`, `machine`) name the leg `call_uuid` instead of `uuid`; both keys
/// are read and kept as sent, and [`leg_uuid`](Self::leg_uuid) returns whichever is present.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusEvent {
    /// The caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The callee.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The call (leg) id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// The call (leg) id as machine-detection events spell it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_uuid: Option<String>,
    /// The conversation id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_uuid: Option<String>,
    /// The status.
    pub status: CallStatus,
    /// `inbound` or `outbound` (absent on `disconnected`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// ISO-8601 UTC time of the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Why the call was unanswered, rejected or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<StatusDetail>,
    /// The SIP response code (486 busy, 480 unavailable, 603 declined, 200 completed, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sip_code: Option<u64>,
    /// When the call started (`answered`: present but empty; `completed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// When the call ended (`completed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// Call length in seconds (`completed`); a string in practice. A fractional value is rounded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
    /// Price per minute in EUR (`completed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<Decimal>,
    /// Total price in EUR (`completed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<Decimal>,
    /// The network the call went through (`GB-FIXED`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Who hung up (`completed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disconnected_by: Option<DisconnectedBy>,
    /// Beep detection outcome (`machine`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_state: Option<SubState>,
    /// The WebSocket endpoint's headers, echoed (`disconnected`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<Map<String, Value>>,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl StatusEvent {
    /// Reads the fields of an event whose `status` is present.
    pub(crate) fn read(mut f: Fields) -> Result<Self, WebhookError> {
        let status = f.wire("status")?.unwrap_or_else(|| CallStatus::Other(String::new()));
        Ok(StatusEvent {
            from: f.string("from")?,
            to: f.string("to")?,
            uuid: f.string("uuid")?,
            call_uuid: f.string("call_uuid")?,
            conversation_uuid: f.string("conversation_uuid")?,
            status,
            direction: f.wire("direction")?,
            timestamp: f.string("timestamp")?,
            detail: f.wire("detail")?,
            sip_code: f.u64("sip_code", false)?,
            start_time: non_empty(f.string("start_time")?),
            end_time: non_empty(f.string("end_time")?),
            duration: f.u64("duration", true)?,
            rate: f.decimal("rate")?,
            price: f.decimal("price")?,
            network: non_empty(f.string("network")?),
            disconnected_by: f.wire("disconnected_by")?,
            sub_state: f.wire("sub_state")?,
            headers: f.object("headers")?,
            extra: f.finish(),
        })
    }

    /// The leg id: `uuid`, or else `call_uuid` (machine-detection events).
    pub fn leg_uuid(&self) -> Option<&str> {
        self.uuid.as_deref().or(self.call_uuid.as_deref())
    }

    /// Whether an NCCO in the response is read; see [`CallStatus::response_ncco`].
    pub fn response_ncco(&self) -> ResponseNcco {
        self.status.response_ncco()
    }
}

/// `answered` carries `start_time` and `network` empty: read an empty string as absent.
fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}
