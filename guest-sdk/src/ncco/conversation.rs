//! The `conversation` action: join a named conference room.

use serde::Serialize;
use serde_json::{Map, Value};

use super::callback::{EventMethod, read_event_method, read_event_url};
use super::record::{Transcription, read_transcription};
use crate::problem::{Rule, child};
use crate::reader::{Cx, Obj};

/// Most participants Vonage allows in one conversation.
pub const MAX_CONVERSATION_PARTICIPANTS: usize = 50;

/// `conversation`: put the call into the conference `name` (created on first use).
///
/// ```
/// use ncco_sdk::ncco::Conversation;
/// let host = Conversation::new("standup").moderator();
/// let guest = Conversation::new("standup").attendee("https://example.com/hold.mp3");
/// assert_eq!(host.end_on_exit, Some(true));
/// assert_eq!(guest.start_on_enter, Some(false));
///
/// // A coach: does not start the call, hears both legs, and only the agent hears them.
/// let coach = Conversation::new("support-call")
///     .start_on_enter(false)
///     .end_on_exit(false)
///     .can_hear(["LEG-AGENT", "LEG-CUSTOMER"])
///     .can_speak(["LEG-AGENT"]);
/// assert_eq!(coach.can_speak, Some(vec!["LEG-AGENT".to_owned()]));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    /// The room name, unique within the application.
    pub name: String,
    /// Music played until the conversation starts (one URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub music_on_hold_url: Option<Vec<String>>,
    /// Start the conversation when this leg joins. Default true; false for attendees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_on_enter: Option<bool>,
    /// End the conversation when this leg leaves. Default false; true for moderators.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_on_exit: Option<bool>,
    /// Record the conversation. Default false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<bool>,
    /// Legs that hear this one; absent means everyone, empty means no one. Not with `mute`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_speak: Option<Vec<String>>,
    /// Legs this one hears; absent means everyone, empty means no one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_hear: Option<Vec<String>>,
    /// Join muted. Not with `canSpeak`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mute: Option<bool>,
    /// Where the recording event goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_url: Option<Vec<String>>,
    /// Default POST.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_method: Option<EventMethod>,
    /// Transcribe the recording.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcription: Option<Transcription>,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Conversation {
    /// Joins the room `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Conversation { name: name.into(), ..Conversation::default() }
    }

    /// A moderator: starts the conversation on entering and ends it on leaving.
    pub fn moderator(self) -> Self {
        self.start_on_enter(true).end_on_exit(true)
    }

    /// An attendee: waits with music on hold until a moderator joins.
    pub fn attendee(self, music_on_hold_url: impl Into<String>) -> Self {
        self.start_on_enter(false).music_on_hold(music_on_hold_url)
    }

    /// Sets `startOnEnter`: whether the conversation starts when this leg joins (Vonage's default
    /// true; false keeps the leg waiting, with music on hold, until a leg with true joins).
    pub fn start_on_enter(mut self, on: bool) -> Self {
        self.start_on_enter = Some(on);
        self
    }

    /// Sets `endOnExit`: whether the conversation ends when this leg leaves (Vonage's default false).
    pub fn end_on_exit(mut self, on: bool) -> Self {
        self.end_on_exit = Some(on);
        self
    }

    /// Sets `musicOnHoldUrl`: the audio played to this leg until the conversation starts.
    pub fn music_on_hold(mut self, url: impl Into<String>) -> Self {
        self.music_on_hold_url = Some(vec![url.into()]);
        self
    }

    /// Sets `canHear`: the leg ids this leg hears (none, when empty).
    pub fn can_hear<S: Into<String>>(mut self, legs: impl IntoIterator<Item = S>) -> Self {
        self.can_hear = Some(legs.into_iter().map(Into::into).collect());
        self
    }

    /// Sets `canSpeak`: the leg ids that hear this leg (none, when empty). Not with `mute`.
    pub fn can_speak<S: Into<String>>(mut self, legs: impl IntoIterator<Item = S>) -> Self {
        self.can_speak = Some(legs.into_iter().map(Into::into).collect());
        self
    }

    /// Sets `record`.
    pub fn record(mut self, on: bool) -> Self {
        self.record = Some(on);
        self
    }

    /// Sets `mute`.
    pub fn mute(mut self, on: bool) -> Self {
        self.mute = Some(on);
        self
    }

    /// Sets `eventUrl`.
    pub fn event_url(mut self, url: impl Into<String>) -> Self {
        self.event_url = Some(vec![url.into()]);
        self
    }
}

/// `mute: true` and `canSpeak` contradict each other.
pub(crate) fn check_mute_can_speak(cx: &mut Cx, obj: &Obj<'_>, mute: Option<bool>, has_can_speak: bool) {
    if mute == Some(true) && has_can_speak {
        cx.error(
            &child(&obj.pointer, "mute"),
            Rule::Exclusive,
            "`mute` cannot be used together with `canSpeak`: leave canSpeak out, or list who may hear this leg",
        );
    }
}

pub(crate) fn read(cx: &mut Cx, mut obj: Obj<'_>) -> Option<Conversation> {
    let name = obj.required(cx, "name", |cx, f| f.non_empty_string(cx));
    let music_on_hold_url = obj.with(cx, "musicOnHoldUrl", |cx, f| {
        if f.value.is_string() {
            cx.lenient(f.pointer, "`musicOnHoldUrl` is a plain string; Vonage documents an array of one URL");
            f.url(cx).map(|u| vec![u])
        } else {
            f.url_list(cx)
        }
    });
    let start_on_enter = obj.bool(cx, "startOnEnter");
    let end_on_exit = obj.bool(cx, "endOnExit");
    let record = obj.bool(cx, "record");
    let can_speak = obj.strings(cx, "canSpeak");
    let can_hear = obj.strings(cx, "canHear");
    let mute = obj.bool(cx, "mute");
    check_mute_can_speak(cx, &obj, mute, can_speak.is_some());
    let event_url = read_event_url(cx, &mut obj, "eventUrl");
    let event_method = read_event_method(cx, &mut obj, "eventMethod");
    let transcription = obj.object(cx, "transcription", "the transcription settings", read_transcription);
    if transcription.is_some() && record != Some(true) {
        cx.warn(
            &child(&obj.pointer, "transcription"),
            Rule::Requires,
            "`transcription` has no effect unless `record` is true",
        );
    }
    let extra = obj.finish(cx);
    Some(Conversation {
        name: name?,
        music_on_hold_url,
        start_on_enter,
        end_on_exit,
        record,
        can_speak,
        can_hear,
        mute,
        event_url,
        event_method,
        transcription,
        extra,
    })
}
