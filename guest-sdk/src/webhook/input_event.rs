//! The `input` action's result event (§3.3 of the reference): collected DTMF digits and speech
//! recognition results. An NCCO in the response replaces the rest of the running NCCO.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::WebhookError;
use super::lenient::{Fields, describe, json_container};

wire_enum! {
    /// Why speech recognition stopped listening (`speech.timeout_reason`).
    pub enum TimeoutReason {
        /// The caller stopped speaking for `endOnSilence` seconds.
        EndOnSilenceTimeout => "end_on_silence_timeout",
        /// `maxDuration` was reached.
        MaxDuration => "max_duration",
        /// The caller said nothing within `startTimeout`.
        StartTimeout => "start_timeout",
    }
}

/// The DTMF part of an input result.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DtmfResult {
    /// The digits pressed; `None` (JSON `null`) when none were.
    pub digits: Option<String>,
    /// True when input ended on `timeOut` rather than on `maxDigits` or `submitOnHash`.
    pub timed_out: bool,
    /// True when the event used the legacy flat form (`"dtmf": "1234"` plus a top-level `timed_out`);
    /// serialization keeps that form.
    pub legacy: bool,
    /// Keys of the `dtmf` object the model does not know, kept as they were.
    pub extra: Map<String, Value>,
}

/// One recognition hypothesis; results are ordered best first.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct SpeechAlternative {
    /// What was heard.
    pub text: String,
    /// How sure the recognizer is, 0 to 1 (a number in a string in Vonage's payloads). 0 when absent.
    pub confidence: f64,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The speech part of an input result.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct SpeechResult {
    /// Hypotheses, best first; empty when no speech was collected.
    pub results: Vec<SpeechAlternative>,
    /// Why listening stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_reason: Option<TimeoutReason>,
    /// A recognition failure (`"ERR1: Failed to analyze audio"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The recorded audio, when `saveAudio` was set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording_url: Option<String>,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SpeechResult {
    /// The best hypothesis, if any.
    pub fn best(&self) -> Option<&SpeechAlternative> {
        self.results.first()
    }
}

/// The result of an `input` action.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InputEvent {
    /// The caller.
    pub from: Option<String>,
    /// The callee.
    pub to: Option<String>,
    /// The call (leg) id.
    pub uuid: Option<String>,
    /// The conversation id.
    pub conversation_uuid: Option<String>,
    /// ISO-8601 UTC time of the event.
    pub timestamp: Option<String>,
    /// Collected DTMF, when the input listened for it.
    pub dtmf: Option<DtmfResult>,
    /// Speech recognition, when the input listened for it.
    pub speech: Option<SpeechResult>,
    /// Keys the model does not know, kept as they were.
    pub extra: Map<String, Value>,
}

impl InputEvent {
    /// Reads the fields of an event that has `speech` or `dtmf`.
    pub(crate) fn read(mut f: Fields) -> Result<Self, WebhookError> {
        let shape = match f.peek("dtmf") {
            None => DtmfShape::Absent,
            Some(Value::Object(_)) => DtmfShape::Object,
            Some(Value::String(s)) if json_container(s).is_some() => DtmfShape::Object,
            Some(Value::String(_)) => DtmfShape::Legacy,
            Some(other) => DtmfShape::Impossible(describe(other)),
        };
        let dtmf = match shape {
            DtmfShape::Absent => f.take("dtmf").and(None),
            DtmfShape::Object => f.nested("dtmf", read_dtmf)?,
            DtmfShape::Legacy => Some(DtmfResult {
                digits: f.string("dtmf")?,
                timed_out: f.bool("timed_out")?.unwrap_or(false),
                legacy: true,
                extra: Map::new(),
            }),
            DtmfShape::Impossible(got) => {
                return Err(WebhookError::Type {
                    field: f.name("dtmf"),
                    expected: "an object (or, in the legacy form, a string of digits)",
                    got,
                });
            }
        };
        Ok(InputEvent {
            from: f.string("from")?,
            to: f.string("to")?,
            uuid: f.string("uuid")?,
            conversation_uuid: f.string("conversation_uuid")?,
            timestamp: f.string("timestamp")?,
            dtmf,
            speech: f.nested("speech", read_speech)?,
            extra: f.finish(),
        })
    }

    /// The digits pressed, if any.
    pub fn digits(&self) -> Option<&str> {
        self.dtmf.as_ref().and_then(|d| d.digits.as_deref())
    }

    /// The best speech hypothesis, if any.
    pub fn best_speech(&self) -> Option<&SpeechAlternative> {
        self.speech.as_ref().and_then(SpeechResult::best)
    }
}

/// What `dtmf` holds, decided before reading it.
enum DtmfShape {
    Absent,
    Object,
    Legacy,
    Impossible(String),
}

fn read_dtmf(mut f: Fields) -> Result<DtmfResult, WebhookError> {
    Ok(DtmfResult {
        digits: f.string("digits")?,
        timed_out: f.bool("timed_out")?.unwrap_or(false),
        legacy: false,
        extra: f.finish(),
    })
}

fn read_speech(mut f: Fields) -> Result<SpeechResult, WebhookError> {
    Ok(SpeechResult {
        results: f.objects("results", |mut r| {
            Ok(SpeechAlternative {
                text: r.string("text")?.unwrap_or_default(),
                confidence: r.f64("confidence")?.unwrap_or(0.0),
                extra: r.finish(),
            })
        })?,
        timeout_reason: f.wire("timeout_reason")?,
        error: f.string("error")?,
        recording_url: f.string("recording_url")?,
        extra: f.finish(),
    })
}

/// The `dtmf` object as serialized (the non-legacy form).
#[derive(Serialize)]
struct DtmfWire<'a> {
    digits: &'a Option<String>,
    timed_out: bool,
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
}

impl Serialize for DtmfResult {
    /// The `dtmf` object, `{"digits": .., "timed_out": ..}`. (The legacy flat form needs the enclosing
    /// event, so it is written by [`InputEvent`]'s serialization.)
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        DtmfWire { digits: &self.digits, timed_out: self.timed_out, extra: &self.extra }.serialize(serializer)
    }
}

impl Serialize for InputEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(speech) = &self.speech {
            map.serialize_entry("speech", speech)?;
        }
        match &self.dtmf {
            Some(d) if d.legacy => {
                map.serialize_entry("dtmf", &d.digits)?;
                map.serialize_entry("timed_out", &d.timed_out)?;
            }
            Some(d) => map.serialize_entry("dtmf", d)?,
            None => {}
        }
        let strings = [
            ("from", &self.from),
            ("to", &self.to),
            ("uuid", &self.uuid),
            ("conversation_uuid", &self.conversation_uuid),
            ("timestamp", &self.timestamp),
        ];
        for (key, value) in strings {
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
