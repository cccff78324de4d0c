//! The `record` action, and the transcription settings it shares with `conversation`.

use serde::Serialize;
use serde_json::{Map, Value};

use super::callback::{EventMethod, read_event_method, read_event_url};
use crate::problem::{Rule, child};
use crate::reader::{Cx, Obj};

/// Audio format of a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordFormat {
    /// The default (WAV when recording more than two channels).
    Mp3,
    /// 16-bit, 16 kHz WAV.
    Wav,
    /// Ogg.
    Ogg,
}

/// How channels are split: only `conversation` exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// One channel per participant (the caller left, the rest right for two channels).
    Conversation,
}

/// `record`: record the call. Asynchronous (the NCCO goes on) unless `endOnSilence` or `endOnKey` is set.
///
/// ```
/// use ncco_sdk::ncco::Record;
/// let voicemail = Record::voicemail("https://example.com/recordings");
/// assert_eq!(voicemail.end_on_key.as_deref(), Some("#"));
/// assert!(voicemail.is_synchronous());
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// `mp3` (default), `wav` or `ogg`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<RecordFormat>,
    /// `conversation` to record channels separately.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split: Option<Split>,
    /// Number of channels, 1 to 32; needs `split`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<u32>,
    /// Stop after this many seconds of silence, 3 to 10.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_on_silence: Option<u32>,
    /// Stop when this key is pressed: one of `0-9`, `*`, `#`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_on_key: Option<String>,
    /// Longest recording in seconds, 3 to 7200.
    #[serde(rename = "timeOut", skip_serializing_if = "Option::is_none")]
    pub time_out: Option<u32>,
    /// Beep when recording starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beep_start: Option<bool>,
    /// Where the `record` event goes.
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

impl Record {
    /// An asynchronous recording of the whole call, reported to `event_url`.
    pub fn new(event_url: impl Into<String>) -> Self {
        Record { event_url: Some(vec![event_url.into()]), ..Record::default() }
    }

    /// A voicemail: beep, record until `#` or 3 s of silence (at most 2 minutes).
    pub fn voicemail(event_url: impl Into<String>) -> Self {
        Record::new(event_url).beep_start(true).end_on_key('#').end_on_silence(3).time_out(120)
    }

    /// Sets `format`.
    pub fn format(mut self, format: RecordFormat) -> Self {
        self.format = Some(format);
        self
    }

    /// Records `channels` channels split by participant.
    pub fn split_channels(mut self, channels: u32) -> Self {
        self.split = Some(Split::Conversation);
        self.channels = Some(channels);
        self
    }

    /// Sets `endOnSilence` (seconds).
    pub fn end_on_silence(mut self, seconds: u32) -> Self {
        self.end_on_silence = Some(seconds);
        self
    }

    /// Sets `endOnKey`.
    pub fn end_on_key(mut self, key: char) -> Self {
        self.end_on_key = Some(key.to_string());
        self
    }

    /// Sets `timeOut` (seconds).
    pub fn time_out(mut self, seconds: u32) -> Self {
        self.time_out = Some(seconds);
        self
    }

    /// Sets `beepStart`.
    pub fn beep_start(mut self, on: bool) -> Self {
        self.beep_start = Some(on);
        self
    }

    /// Sets `transcription`.
    pub fn transcription(mut self, transcription: Transcription) -> Self {
        self.transcription = Some(transcription);
        self
    }

    /// True when the NCCO waits for this recording to end (`endOnSilence` or `endOnKey` set).
    pub fn is_synchronous(&self) -> bool {
        self.end_on_silence.is_some() || self.end_on_key.is_some()
    }
}

/// Transcription of a recording (`record.transcription`, `conversation.transcription`).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Transcription {
    /// BCP-47 language of the speech.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Where the `transcribed` event goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_url: Option<Vec<String>>,
    /// Default POST.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_method: Option<EventMethod>,
    /// Add sentiment analysis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentiment_analysis: Option<bool>,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Transcription {
    /// Transcription in `language`, reported to `event_url`.
    pub fn new(language: impl Into<String>, event_url: impl Into<String>) -> Self {
        Transcription {
            language: Some(language.into()),
            event_url: Some(vec![event_url.into()]),
            ..Transcription::default()
        }
    }
}

pub(crate) fn read_transcription(cx: &mut Cx, mut obj: Obj<'_>) -> Option<Transcription> {
    let language = obj.string(cx, "language");
    let event_url = read_event_url(cx, &mut obj, "eventUrl");
    let event_method = read_event_method(cx, &mut obj, "eventMethod");
    let sentiment_analysis = obj.bool(cx, "sentimentAnalysis");
    let extra = obj.finish(cx);
    Some(Transcription { language, event_url, event_method, sentiment_analysis, extra })
}

pub(crate) fn read(cx: &mut Cx, mut obj: Obj<'_>) -> Option<Record> {
    let format =
        obj.choice(cx, "format", &[("mp3", RecordFormat::Mp3), ("wav", RecordFormat::Wav), ("ogg", RecordFormat::Ogg)]);
    let split = obj.choice(cx, "split", &[("conversation", Split::Conversation)]);
    let channels = obj.int(cx, "channels", 1, 32);
    if channels.is_some() && split.is_none() && !obj.has("split") {
        cx.error(&child(&obj.pointer, "channels"), Rule::Requires, "`channels` needs `split: \"conversation\"`");
    }
    let end_on_silence = obj.int(cx, "endOnSilence", 3, 10);
    let end_on_key = obj.with(cx, "endOnKey", |cx, f| {
        let key = f.string(cx)?;
        let ok = key.len() == 1 && key.chars().all(|c| c.is_ascii_digit() || c == '*' || c == '#');
        if !ok {
            cx.error(f.pointer, Rule::Pattern, format!("`endOnKey` must be one key: 0-9, * or #; got {key:?}"));
        }
        Some(key)
    });
    let time_out = obj.int(cx, "timeOut", 3, 7200);
    let beep_start = obj.bool(cx, "beepStart");
    let event_url = read_event_url(cx, &mut obj, "eventUrl");
    let event_method = read_event_method(cx, &mut obj, "eventMethod");
    let transcription = obj.object(cx, "transcription", "the transcription settings", read_transcription);
    let extra = obj.finish(cx);
    Some(Record {
        format,
        split,
        channels,
        end_on_silence,
        end_on_key,
        time_out,
        beep_start,
        event_url,
        event_method,
        transcription,
        extra,
    })
}
