//! Conversation API (RTC) events (§5 of the reference): the envelope every event shares, and
//! [`RtcEventType`], every documented event type. Vonage ignores the response body.

use serde::Serialize;
use serde_json::{Map, Value};

use super::lenient::{Fields, object_from_json, object_from_value};
use super::rtc_body::RtcBody;
use super::{ResponseNcco, WebhookError};

wire_enum! {
    /// An RTC event's `type`: every type of the reference's §5 table (the 2021 docs plus the Java SDK's
    /// `EventType`), `custom:<name>` events, and `Other` for anything else.
    pub enum RtcEventType {
        /// A leg's status changed.
        LegStatusUpdate => "leg:status:update",
        /// A user asks to join (2021).
        AppKnocking => "app:knocking",
        /// A knocking user gave up (2021).
        AppKnockingCancel => "app:knocking:cancel",
        /// An event was deleted.
        EventDelete => "event:delete",
        /// An event that is not stored.
        Ephemeral => "ephemeral",
        /// DTMF digits were sent or received.
        AudioDtmf => "audio:dtmf",
        /// A member stopped hearing the conversation.
        AudioEarmuffOn => "audio:earmuff:on",
        /// A member hears the conversation again.
        AudioEarmuffOff => "audio:earmuff:off",
        /// A member was muted.
        AudioMuteOn => "audio:mute:on",
        /// A member was unmuted.
        AudioMuteOff => "audio:mute:off",
        /// Audio playback started.
        AudioPlay => "audio:play",
        /// Audio playback was stopped.
        AudioPlayStop => "audio:play:stop",
        /// Audio playback finished.
        AudioPlayDone => "audio:play:done",
        /// Text-to-speech started.
        AudioSay => "audio:say",
        /// Text-to-speech was stopped.
        AudioSayStop => "audio:say:stop",
        /// Text-to-speech finished.
        AudioSayDone => "audio:say:done",
        /// Recording started.
        AudioRecord => "audio:record",
        /// Recording was stopped.
        AudioRecordStop => "audio:record:stop",
        /// A recording is ready.
        AudioRecordDone => "audio:record:done",
        /// Speech recognition finished.
        AudioAsrDone => "audio:asr:done",
        /// Speech recognition of a recording finished.
        AudioAsrRecordDone => "audio:asr:record:done",
        /// A member started speaking.
        AudioSpeakingOn => "audio:speaking:on",
        /// A member stopped speaking.
        AudioSpeakingOff => "audio:speaking:off",
        /// Ringback started (2021).
        AudioRingingStart => "audio:ringing:start",
        /// Ringback stopped (2021).
        AudioRingingStop => "audio:ringing:stop",
        /// A member was invited.
        MemberInvited => "member:invited",
        /// A member joined.
        MemberJoined => "member:joined",
        /// A member left.
        MemberLeft => "member:left",
        /// A member's media changed.
        MemberMedia => "member:media",
        /// A member's message status changed (Java SDK).
        MemberMessageStatus => "member:message:status",
        /// The conversation was created.
        ConversationCreated => "conversation:created",
        /// The conversation was updated.
        ConversationUpdated => "conversation:updated",
        /// The conversation was deleted.
        ConversationDeleted => "conversation:deleted",
        /// A message (messaging, discontinued 2026-04-30).
        Message => "message",
        /// A message was submitted.
        MessageSubmitted => "message:submitted",
        /// A message was delivered.
        MessageDelivered => "message:delivered",
        /// A message was seen.
        MessageSeen => "message:seen",
        /// A message was rejected.
        MessageRejected => "message:rejected",
        /// A message could not be delivered.
        MessageUndeliverable => "message:undeliverable",
        /// A text message (legacy messaging).
        Text => "text",
        /// A text was seen.
        TextSeen => "text:seen",
        /// A text was delivered.
        TextDelivered => "text:delivered",
        /// A text was edited.
        TextUpdate => "text:update",
        /// A member started typing.
        TextTypingOn => "text:typing:on",
        /// A member stopped typing.
        TextTypingOff => "text:typing:off",
        /// An image message (legacy messaging).
        Image => "image",
        /// An image was seen.
        ImageSeen => "image:seen",
        /// An image was delivered.
        ImageDelivered => "image:delivered",
        /// An in-app (WebRTC) leg's status.
        RtcStatus => "rtc:status",
        /// An in-app leg's SDP answer.
        RtcAnswer => "rtc:answer",
        /// An in-app leg was answered.
        RtcAnswered => "rtc:answered",
        /// An in-app leg is ringing.
        RtcRinging => "rtc:ringing",
        /// An in-app leg hung up.
        RtcHangup => "rtc:hangup",
        /// An in-app leg was transferred.
        RtcTransfer => "rtc:transfer",
        /// An in-app leg was terminated (2021).
        RtcTerminate => "rtc:terminate",
        /// A SIP or PSTN leg's status.
        SipStatus => "sip:status",
        /// A SIP or PSTN leg is ringing.
        SipRinging => "sip:ringing",
        /// A SIP or PSTN leg was answered.
        SipAnswered => "sip:answered",
        /// A SIP or PSTN leg hung up.
        SipHangup => "sip:hangup",
        /// Machine detection found a machine.
        SipMachine => "sip:machine",
        /// Advanced machine detection found a machine.
        SipAmdMachine => "sip:amd_machine",
        /// A member's video was muted.
        VideoMuteOn => "video:mute:on",
        /// A member's video was unmuted.
        VideoMuteOff => "video:mute:off",
    }
    prefixed:
    /// An application-defined event, `custom:<name>`. Holds the whole wire name; see
    /// [`RtcEventType::custom_name`].
    Custom => "custom:",
}

impl RtcEventType {
    /// The prefix of application-defined event types.
    pub const CUSTOM_PREFIX: &'static str = "custom:";

    /// A `custom:<name>` type.
    pub fn custom(name: &str) -> Self {
        RtcEventType::Custom(format!("{}{name}", Self::CUSTOM_PREFIX))
    }

    /// The `<name>` of a `custom:<name>` type.
    pub fn custom_name(&self) -> Option<&str> {
        match self {
            RtcEventType::Custom(s) => s.strip_prefix(Self::CUSTOM_PREFIX),
            _ => None,
        }
    }

    /// The group before the first `:` (`"audio"`, `"member"`, `"sip"`, ...; the whole type if none).
    pub fn group(&self) -> &str {
        let s = self.as_str();
        s.split_once(':').map_or(s, |(group, _)| group)
    }
}

/// One Conversation API event, as posted to the application's `rtc.event_url`.
///
/// The envelope is typed; the `body` is kept as sent and typed on demand by [`RtcEvent::typed_body`],
/// which never fails. Serialization gives back the same keys.
///
/// ```
/// use ncco_sdk::webhook::{RtcBody, RtcEvent, RtcEventType};
/// let event = RtcEvent::from_json(br#"{"type":"audio:dtmf","id":"7","body":{"digit":"5"}}"#)?;
/// assert_eq!(event.kind, RtcEventType::AudioDtmf);
/// assert_eq!(event.id, Some(7));
/// let RtcBody::Dtmf(dtmf) = event.typed_body() else { panic!("not a dtmf body") };
/// assert_eq!(dtmf.digits(), Some("5"));
/// # Ok::<(), ncco_sdk::webhook::WebhookError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RtcEvent {
    /// `type`: what happened.
    #[serde(rename = "type")]
    pub kind: RtcEventType,
    /// The per-conversation sequence number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The member that caused the event (`MEM-…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The member the event is for; often empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// ISO-8601 UTC time of the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The conversation id (`CON-…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// The application id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
    /// The type-specific body, as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// `_embedded`: `{from_user, from_member}`.
    #[serde(rename = "_embedded", skip_serializing_if = "Option::is_none")]
    pub embedded: Option<Map<String, Value>>,
    /// `_links`.
    #[serde(rename = "_links", skip_serializing_if = "Option::is_none")]
    pub links: Option<Map<String, Value>>,
    /// The event's own URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl RtcEvent {
    /// Reads a POST body: a JSON object with a `type`.
    pub fn from_json(body: &[u8]) -> Result<Self, WebhookError> {
        Self::from_map(object_from_json(body)?)
    }

    /// Reads a JSON value, which must be an object with a `type`.
    pub fn from_value(value: Value) -> Result<Self, WebhookError> {
        Self::from_map(object_from_value(value)?)
    }

    /// Reads the fields of a JSON object. Unknown types are kept; a missing `type` is an error.
    pub fn from_map(map: Map<String, Value>) -> Result<Self, WebhookError> {
        let mut f = Fields::new(map);
        let kind = f.wire("type")?.ok_or(WebhookError::Missing {
            field: "type",
            why: "a Conversation API event must say what kind of event it is",
        })?;
        Ok(RtcEvent {
            kind,
            id: f.u64("id", false)?,
            from: f.string("from")?,
            to: f.string("to")?,
            timestamp: f.string("timestamp")?,
            conversation_id: f.string("conversation_id")?,
            application_id: f.string("application_id")?,
            body: f.take("body"),
            embedded: f.object("_embedded")?,
            links: f.object("_links")?,
            href: f.string("href")?,
            extra: f.finish(),
        })
    }

    /// The body typed by the event type (members, DTMF, say, play, record, hangup, machine detection),
    /// or [`RtcBody::Other`] with the raw body for other types or a body of an unexpected shape.
    pub fn typed_body(&self) -> RtcBody {
        RtcBody::read(&self.kind, self.body.as_ref())
    }

    /// Always [`ResponseNcco::Ignored`]: Vonage ignores the response; do not return NCCOs here.
    pub fn response_ncco(&self) -> ResponseNcco {
        ResponseNcco::Ignored
    }

    /// The event type's wire name, for logs and routing.
    pub fn kind_name(&self) -> &str {
        self.kind.as_str()
    }
}
