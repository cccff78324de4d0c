//! The `input` action: collect DTMF digits and/or speech; the result's webhook may replace the NCCO.

use serde::Serialize;
use serde_json::{Map, Value};

use super::callback::{EventMethod, read_event_method, read_event_url};
use crate::problem::{Rule, child};
use crate::reader::{Cx, Field, Obj};

/// What kind of input to collect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    /// Keypad digits.
    Dtmf,
    /// Speech recognition.
    Speech,
}

/// Whether the NCCO waits for the input (`synchronous`, the default) or digits are posted as pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputMode {
    /// Wait for the result (the default).
    Synchronous,
    /// DTMF only: post each digit as it is pressed, and go on with the NCCO. No `dtmf` settings allowed.
    Asynchronous,
}

/// `input`: collect DTMF and/or speech and post the result to `eventUrl`.
///
/// ```
/// use ncco_sdk::ncco::{Input, Dtmf};
/// let menu = Input::dtmf(Dtmf::new().max_digits(1).time_out(5)).event_url("https://example.com/menu");
/// assert_eq!(menu.r#type.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    /// `dtmf`, `speech` or both.
    pub r#type: Vec<InputType>,
    /// DTMF settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dtmf: Option<Dtmf>,
    /// Speech settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speech: Option<Speech>,
    /// Where the result goes; its response may be a new NCCO.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_url: Option<Vec<String>>,
    /// Default POST.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_method: Option<EventMethod>,
    /// `synchronous` (default) or `asynchronous` (DTMF only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<InputMode>,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Input {
    /// Collects DTMF with `settings`.
    pub fn dtmf(settings: Dtmf) -> Self {
        Input { r#type: vec![InputType::Dtmf], dtmf: Some(settings), ..Input::default() }
    }

    /// Collects speech with `settings`.
    pub fn speech(settings: Speech) -> Self {
        Input { r#type: vec![InputType::Speech], speech: Some(settings), ..Input::default() }
    }

    /// Collects DTMF or speech, whichever comes.
    pub fn dtmf_and_speech(dtmf: Dtmf, speech: Speech) -> Self {
        Input {
            r#type: vec![InputType::Dtmf, InputType::Speech],
            dtmf: Some(dtmf),
            speech: Some(speech),
            ..Input::default()
        }
    }

    /// Real-time DTMF: each digit is posted to `event_url` as it is pressed, and the NCCO goes on.
    pub fn asynchronous_dtmf(event_url: impl Into<String>) -> Self {
        Input {
            r#type: vec![InputType::Dtmf],
            mode: Some(InputMode::Asynchronous),
            event_url: Some(vec![event_url.into()]),
            ..Input::default()
        }
    }

    /// Sets `eventUrl`.
    pub fn event_url(mut self, url: impl Into<String>) -> Self {
        self.event_url = Some(vec![url.into()]);
        self
    }

    /// Sets `eventMethod`.
    pub fn event_method(mut self, method: EventMethod) -> Self {
        self.event_method = Some(method);
        self
    }
}

/// DTMF settings of an `input`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dtmf {
    /// Seconds of inactivity before the result is sent, 0 to 10. Default 3.
    #[serde(rename = "timeOut", skip_serializing_if = "Option::is_none")]
    pub time_out: Option<u32>,
    /// Digits to collect, 1 to 20. Default 4.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_digits: Option<u32>,
    /// Send the result when `#` is pressed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submit_on_hash: Option<bool>,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Dtmf {
    /// Vonage's defaults.
    pub fn new() -> Self {
        Dtmf::default()
    }

    /// Sets `maxDigits`.
    pub fn max_digits(mut self, n: u32) -> Self {
        self.max_digits = Some(n);
        self
    }

    /// Sets `timeOut` (seconds).
    pub fn time_out(mut self, seconds: u32) -> Self {
        self.time_out = Some(seconds);
        self
    }

    /// Sets `submitOnHash`.
    pub fn submit_on_hash(mut self, on: bool) -> Self {
        self.submit_on_hash = Some(on);
        self
    }
}

/// Speech-recognition settings of an `input`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Speech {
    /// The leg whose speech is recognised (one UUID).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<Vec<String>>,
    /// Seconds of silence that end the utterance, 0.4 to 10. Default 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_on_silence: Option<f64>,
    /// BCP-47 language. Default `en-US`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Hints: words and phrases the caller is likely to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Vec<String>>,
    /// Seconds to wait for speech to start, 1 to 60.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_timeout: Option<u32>,
    /// Longest utterance in seconds, 1 to 60. Default 60.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<u32>,
    /// Keep the audio and add its `recording_url` to the result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub save_audio: Option<bool>,
    /// Noise-versus-speech threshold, 0 to 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensitivity: Option<u32>,
    /// ASR provider (SDK-only option).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Options of the provider (SDK-only option).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_options: Option<Map<String, Value>>,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Speech {
    /// Vonage's defaults.
    pub fn new() -> Self {
        Speech::default()
    }

    /// Sets `language`.
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// Sets `context` hints.
    pub fn context<I: IntoIterator<Item = S>, S: Into<String>>(mut self, hints: I) -> Self {
        self.context = Some(hints.into_iter().map(Into::into).collect());
        self
    }

    /// Sets `endOnSilence` (seconds).
    pub fn end_on_silence(mut self, seconds: f64) -> Self {
        self.end_on_silence = Some(seconds);
        self
    }

    /// Sets `startTimeout` (seconds).
    pub fn start_timeout(mut self, seconds: u32) -> Self {
        self.start_timeout = Some(seconds);
        self
    }

    /// Sets `maxDuration` (seconds).
    pub fn max_duration(mut self, seconds: u32) -> Self {
        self.max_duration = Some(seconds);
        self
    }

    /// Sets `saveAudio`.
    pub fn save_audio(mut self, on: bool) -> Self {
        self.save_audio = Some(on);
        self
    }
}

fn read_dtmf(cx: &mut Cx, mut obj: Obj<'_>) -> Option<Dtmf> {
    let time_out = obj.int(cx, "timeOut", 0, 10);
    let max_digits = obj.int(cx, "maxDigits", 1, 20);
    let submit_on_hash = obj.bool(cx, "submitOnHash");
    let extra = obj.finish(cx);
    Some(Dtmf { time_out, max_digits, submit_on_hash, extra })
}

fn read_speech(cx: &mut Cx, mut obj: Obj<'_>) -> Option<Speech> {
    let uuid = obj.with(cx, "uuid", |cx, f| {
        let uuids = f.strings(cx, 1)?;
        if uuids.len() > 1 {
            cx.error(f.pointer, Rule::Range, "`uuid` takes exactly one leg UUID");
        }
        Some(uuids)
    });
    let end_on_silence = obj.num(cx, "endOnSilence", 0.4, 10.0);
    let language = obj.string(cx, "language");
    let context = obj.strings(cx, "context");
    let start_timeout = obj.int(cx, "startTimeout", 1, 60);
    let max_duration = obj.int(cx, "maxDuration", 1, 60);
    let save_audio = obj.bool(cx, "saveAudio");
    let sensitivity = obj.int(cx, "sensitivity", 0, 100);
    let provider = obj.string(cx, "provider");
    let provider_options = obj.map(cx, "providerOptions");
    let extra = obj.finish(cx);
    Some(Speech {
        uuid,
        end_on_silence,
        language,
        context,
        start_timeout,
        max_duration,
        save_audio,
        sensitivity,
        provider,
        provider_options,
        extra,
    })
}

fn read_types(cx: &mut Cx, f: Field<'_, '_>) -> Option<Vec<InputType>> {
    let names = f.strings(cx, 1)?;
    let mut types = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let t = match name.as_str() {
            "dtmf" => InputType::Dtmf,
            "speech" => InputType::Speech,
            other => {
                cx.error(
                    &format!("{}/{i}", f.pointer),
                    Rule::Enum,
                    format!("`type` may hold only \"dtmf\" and \"speech\", got {other:?}"),
                );
                continue;
            }
        };
        if types.contains(&t) {
            cx.error(&format!("{}/{i}", f.pointer), Rule::Enum, format!("`type` lists {name:?} twice"));
        }
        types.push(t);
    }
    Some(types)
}

/// The legacy flat input (no `type`; `timeOut`, `maxDigits`, `submitOnHash` at the top) as modern DTMF settings.
fn read_legacy(cx: &mut Cx, obj: &mut Obj<'_>) -> Dtmf {
    cx.lenient(
        &obj.pointer,
        "legacy flat input (no `type`, DTMF settings at the top level); write `type: [\"dtmf\"]` and a `dtmf` object",
    );
    let time_out = obj.int(cx, "timeOut", 0, 10);
    let max_digits = obj.int(cx, "maxDigits", 1, 20);
    let submit_on_hash = obj.bool(cx, "submitOnHash");
    Dtmf { time_out, max_digits, submit_on_hash, extra: Map::new() }
}

pub(crate) fn read(cx: &mut Cx, mut obj: Obj<'_>) -> Option<Input> {
    let legacy = !obj.has("type")
        && !obj.has("dtmf")
        && !obj.has("speech")
        && ["timeOut", "maxDigits", "submitOnHash"].iter().any(|k| obj.has(k));
    let (types, legacy_dtmf) = if legacy {
        (Some(vec![InputType::Dtmf]), Some(read_legacy(cx, &mut obj)))
    } else {
        (obj.required(cx, "type", read_types), None)
    };
    let mut dtmf = obj.object(cx, "dtmf", "the dtmf settings", read_dtmf);
    if legacy_dtmf.is_some() {
        dtmf = legacy_dtmf;
    }
    let speech = obj.object(cx, "speech", "the speech settings", read_speech);
    let event_url = read_event_url(cx, &mut obj, "eventUrl");
    let event_method = read_event_method(cx, &mut obj, "eventMethod");
    let mode = obj.with(cx, "mode", |cx, f| {
        let s = f.string(cx)?;
        match s.as_str() {
            "synchronous" => Some(InputMode::Synchronous),
            "asynchronous" => Some(InputMode::Asynchronous),
            // The Ruby SDK's misspelling. voice-api.md §1.3.6 calls accepting it "an SDK bug" and gives
            // no sign that Vonage reads it, so it is refused in lenient mode too.
            "asyncronous" => {
                cx.error(
                    f.pointer,
                    Rule::Enum,
                    "`mode` \"asyncronous\" is a misspelling (the Ruby SDK's) that Vonage does not document; \
                     write \"asynchronous\"",
                );
                None
            }
            other => {
                cx.error(
                    f.pointer,
                    Rule::Enum,
                    format!("`mode` must be \"synchronous\" or \"asynchronous\", got {other:?}"),
                );
                None
            }
        }
    });
    if let Some(types) = &types {
        if !legacy && dtmf.is_some() && !types.contains(&InputType::Dtmf) {
            cx.error(
                &child(&obj.pointer, "dtmf"),
                Rule::Requires,
                "`dtmf` settings are given but `type` does not list \"dtmf\"",
            );
        }
        if speech.is_some() && !types.contains(&InputType::Speech) {
            cx.error(
                &child(&obj.pointer, "speech"),
                Rule::Requires,
                "`speech` settings are given but `type` does not list \"speech\"",
            );
        }
        if mode == Some(InputMode::Asynchronous) && types.contains(&InputType::Speech) {
            cx.error(
                &child(&obj.pointer, "mode"),
                Rule::Exclusive,
                "asynchronous `mode` is for DTMF only; remove \"speech\" from `type`",
            );
        }
    }
    if mode == Some(InputMode::Asynchronous) && obj.has("dtmf") {
        cx.error(
            &child(&obj.pointer, "dtmf"),
            Rule::Exclusive,
            "asynchronous `mode` takes no `dtmf` settings: digits are posted one at a time as they are pressed",
        );
    }
    let extra = obj.finish(cx);
    Some(Input { r#type: types?, dtmf, speech, event_url, event_method, mode, extra })
}

#[cfg(test)]
mod tests {
    use crate::ncco::Validator;
    use crate::{Mode, Rule};

    #[test]
    fn the_misspelled_asyncronous_mode_is_an_error_in_both_modes() {
        let text =
            r#"[{"action":"input","type":["dtmf"],"mode":"asyncronous","eventUrl":["https://example.com/dtmf"]}]"#;
        for mode in [Mode::Lenient, Mode::Strict] {
            let checked = Validator { mode, ..Validator::default() }.check_str(text);
            assert!(checked.ncco.is_none(), "{mode:?}: accepted");
            let [error] = checked.report.errors.as_slice() else { panic!("{mode:?}: {:?}", checked.report.errors) };
            assert_eq!((error.pointer.as_str(), error.rule), ("/0/mode", Rule::Enum), "{mode:?}");
            assert!(error.message.contains(r#"write "asynchronous""#), "{}", error.message);
        }
        let fixed = text.replace("asyncronous", "asynchronous");
        let checked = Validator::strict().check_str(&fixed);
        assert!(checked.report.is_valid() && checked.report.warnings.is_empty(), "{:?}", checked.report);
    }
}
