//! Typed bodies of the notable Conversation API event types (members, DTMF, say, play, record,
//! hangup, machine detection; field names from the Java SDK), with [`RtcBody::Other`] for the rest.

use serde::Serialize;
use serde_json::{Map, Value};

use super::WebhookError;
use super::lenient::Fields;
use super::rtc::RtcEventType;

/// An RTC event body, typed by the event type. Reading never fails: a body of an unexpected shape is
/// kept raw in [`RtcBody::Other`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[allow(clippy::large_enum_variant, reason = "built on demand, one at a time: boxing would only add allocations")]
pub enum RtcBody {
    /// `member:invited`, `member:joined`, `member:left`, `member:media`.
    Member(MemberBody),
    /// `audio:dtmf`.
    Dtmf(DtmfBody),
    /// `audio:say`.
    Say(SayBody),
    /// `audio:play`.
    Play(PlayBody),
    /// `audio:record`.
    Record(RecordBody),
    /// `rtc:hangup`, `sip:hangup`.
    Hangup(HangupBody),
    /// `sip:machine`, `sip:amd_machine`.
    Machine(MachineBody),
    /// Any other type, or a body that could not be typed: the body as sent (`null` when absent).
    Other(Value),
}

impl RtcBody {
    /// Types `body` by the event type.
    pub(crate) fn read(kind: &RtcEventType, body: Option<&Value>) -> RtcBody {
        use RtcEventType as T;
        let Some(Value::Object(map)) = body else {
            return RtcBody::Other(body.cloned().unwrap_or(Value::Null));
        };
        let f = Fields::new(map.clone());
        let typed = match kind {
            T::MemberInvited | T::MemberJoined | T::MemberLeft | T::MemberMedia => {
                MemberBody::read(f).map(RtcBody::Member)
            }
            T::AudioDtmf => DtmfBody::read(f).map(RtcBody::Dtmf),
            T::AudioSay => SayBody::read(f).map(RtcBody::Say),
            T::AudioPlay => PlayBody::read(f).map(RtcBody::Play),
            T::AudioRecord => RecordBody::read(f).map(RtcBody::Record),
            T::RtcHangup | T::SipHangup => HangupBody::read(f).map(RtcBody::Hangup),
            T::SipMachine | T::SipAmdMachine => MachineBody::read(f).map(RtcBody::Machine),
            _ => return RtcBody::Other(Value::Object(map.clone())),
        };
        typed.unwrap_or_else(|_| RtcBody::Other(Value::Object(map.clone())))
    }
}

/// Declares a body struct whose fields are all optional and skipped when absent, plus `extra`.
macro_rules! body_struct {
    ($(#[$meta:meta])* $name:ident { $( $(#[$fmeta:meta])* $field:ident : $ty:ty, )* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
            /// Keys the model does not know, kept as they were.
            #[serde(flatten)]
            pub extra: Map<String, Value>,
        }
    };
}

body_struct! {
    /// The user behind a member.
    RtcUser {
        /// `USR-…`.
        id: String,
        /// The user's name.
        name: String,
        /// The display name, when set.
        display_name: String,
    }
}

body_struct! {
    /// How a member is connected.
    MemberChannel {
        /// `phone`, `sip`, `app`, `websocket`, `vbc`, ...
        #[serde(rename = "type")]
        kind: String,
        /// The leg id.
        id: String,
        /// The calling endpoint (`{type, number}` and the like).
        from: Value,
        /// The called endpoint.
        to: Value,
        /// The member's legs.
        leg_ids: Vec<String>,
    }
}

body_struct! {
    /// When a member changed state.
    MemberTimestamps {
        /// When the member was invited.
        invited: String,
        /// When the member joined.
        joined: String,
        /// When the member left.
        left: String,
    }
}

body_struct! {
    /// A member's audio settings.
    AudioSettings {
        /// Audio is on.
        enabled: bool,
        /// The member cannot be heard.
        muted: bool,
        /// The member cannot hear.
        earmuffed: bool,
    }
}

body_struct! {
    /// A member's media.
    MemberMedia {
        /// Audio is connected.
        audio: bool,
        /// The audio settings.
        audio_settings: AudioSettings,
    }
}

body_struct! {
    /// The body of `member:*` events.
    MemberBody {
        /// The user.
        user: RtcUser,
        /// How the member is connected.
        channel: MemberChannel,
        /// State change times.
        timestamp: MemberTimestamps,
        /// Media state.
        media: MemberMedia,
        /// `INVITED`, `JOINED`, `LEFT`.
        state: String,
    }
}

impl MemberBody {
    fn read(mut f: Fields) -> Result<Self, WebhookError> {
        Ok(MemberBody {
            user: f.nested("user", |mut f| {
                Ok(RtcUser {
                    id: f.string("id")?,
                    name: f.string("name")?,
                    display_name: f.string("display_name")?,
                    extra: f.finish(),
                })
            })?,
            channel: f.nested("channel", |mut f| {
                Ok(MemberChannel {
                    kind: f.string("type")?,
                    id: f.string("id")?,
                    from: f.take("from"),
                    to: f.take("to"),
                    leg_ids: if f.has("leg_ids") { Some(f.strings("leg_ids")?) } else { None },
                    extra: f.finish(),
                })
            })?,
            timestamp: f.nested("timestamp", |mut f| {
                Ok(MemberTimestamps {
                    invited: f.string("invited")?,
                    joined: f.string("joined")?,
                    left: f.string("left")?,
                    extra: f.finish(),
                })
            })?,
            media: f.nested("media", |mut f| {
                Ok(MemberMedia {
                    audio: f.bool("audio")?,
                    audio_settings: f.nested("audio_settings", |mut f| {
                        Ok(AudioSettings {
                            enabled: f.bool("enabled")?,
                            muted: f.bool("muted")?,
                            earmuffed: f.bool("earmuffed")?,
                            extra: f.finish(),
                        })
                    })?,
                    extra: f.finish(),
                })
            })?,
            state: f.string("state")?,
            extra: f.finish(),
        })
    }
}

body_struct! {
    /// The body of `audio:dtmf`. The digits arrive as `digits` or `digit`; both are kept as sent.
    DtmfBody {
        /// The digits.
        digits: String,
        /// The digit, in the other spelling.
        digit: String,
        /// The sequence number of the digit within the leg.
        dtmf_seq: i64,
        /// The channel the digits came from.
        channel: Value,
    }
}

impl DtmfBody {
    fn read(mut f: Fields) -> Result<Self, WebhookError> {
        Ok(DtmfBody {
            digits: f.string("digits")?,
            digit: f.string("digit")?,
            dtmf_seq: f.i64("dtmf_seq")?,
            channel: f.take("channel"),
            extra: f.finish(),
        })
    }

    /// The digits, from `digits` or else `digit`.
    pub fn digits(&self) -> Option<&str> {
        self.digits.as_deref().or(self.digit.as_deref())
    }
}

body_struct! {
    /// The body of `audio:say`.
    SayBody {
        /// The id of this text-to-speech.
        say_id: String,
        /// The text.
        text: String,
        /// The voice style.
        style: i64,
        /// The language code.
        language: String,
        /// A premium voice.
        premium: bool,
        /// The text is SSML.
        ssml: bool,
    }
}

impl SayBody {
    fn read(mut f: Fields) -> Result<Self, WebhookError> {
        Ok(SayBody {
            say_id: f.string("say_id")?,
            text: f.string("text")?,
            style: f.i64("style")?,
            language: f.string("language")?,
            premium: f.bool("premium")?,
            ssml: f.bool("ssml")?,
            extra: f.finish(),
        })
    }
}

body_struct! {
    /// The body of `audio:play`.
    PlayBody {
        /// The id of this playback.
        play_id: String,
        /// The audio URLs.
        stream_url: Vec<String>,
    }
}

impl PlayBody {
    fn read(mut f: Fields) -> Result<Self, WebhookError> {
        Ok(PlayBody {
            play_id: f.string("play_id")?,
            stream_url: if f.has("stream_url") { Some(f.strings("stream_url")?) } else { None },
            extra: f.finish(),
        })
    }
}

body_struct! {
    /// The body of `audio:record`.
    RecordBody {
        /// The file format.
        format: String,
        /// The number of channels.
        channels: u64,
        /// One channel per leg.
        split: bool,
        /// Play a beep when recording starts.
        beep_start: bool,
        /// Play a beep when recording stops.
        beep_stop: bool,
        /// Transcription settings (`{language, sentiment_analysis}`).
        transcription: Value,
    }
}

impl RecordBody {
    fn read(mut f: Fields) -> Result<Self, WebhookError> {
        Ok(RecordBody {
            format: f.string("format")?,
            channels: f.u64("channels", false)?,
            split: f.bool("split")?,
            beep_start: f.bool("beep_start")?,
            beep_stop: f.bool("beep_stop")?,
            transcription: f.take("transcription"),
            extra: f.finish(),
        })
    }
}

body_struct! {
    /// Why a leg hung up.
    HangupReason {
        /// The reason, in words.
        text: String,
        /// Vonage's reason code.
        code: String,
        /// The SIP response code, as text.
        sip_code: String,
    }
}

body_struct! {
    /// The body of `rtc:hangup` and `sip:hangup`.
    HangupBody {
        /// `inbound` or `outbound`.
        direction: String,
        /// Call quality metrics.
        quality: Value,
        /// Bandwidth metrics.
        bandwidth: Value,
        /// Why the leg hung up.
        reason: HangupReason,
        /// The channel of the leg.
        channel: Value,
    }
}

impl HangupBody {
    fn read(mut f: Fields) -> Result<Self, WebhookError> {
        Ok(HangupBody {
            direction: f.string("direction")?,
            quality: f.take("quality"),
            bandwidth: f.take("bandwidth"),
            reason: f.nested("reason", |mut f| {
                Ok(HangupReason {
                    text: f.string("text")?,
                    code: f.string("code")?,
                    sip_code: f.string("sip_code")?,
                    extra: f.finish(),
                })
            })?,
            channel: f.take("channel"),
            extra: f.finish(),
        })
    }
}

body_struct! {
    /// The body of `sip:machine` and `sip:amd_machine`.
    MachineBody {
        /// What was detected.
        #[serde(rename = "type")]
        kind: String,
        /// How sure the detection is.
        confidence: f64,
        /// The channel of the leg.
        channel: Value,
    }
}

impl MachineBody {
    fn read(mut f: Fields) -> Result<Self, WebhookError> {
        Ok(MachineBody {
            kind: f.string("type")?,
            confidence: f.f64("confidence")?,
            channel: f.take("channel"),
            extra: f.finish(),
        })
    }
}
