//! The `talk` action: text-to-speech played into the call.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::problem::{Rule, child};
use crate::reader::{Cx, Obj};

/// Most characters of spoken text, not counting SSML tags.
pub const MAX_TALK_TEXT_CHARS: usize = 1500;

/// Text-to-speech languages the official SDKs list. Others are accepted with a warning.
pub const TTS_LANGUAGES: &[&str] = &[
    "af-ZA",
    "ar",
    "bg-BG",
    "bn-IN",
    "ca-ES",
    "cmn-CN",
    "cmn-TW",
    "cs-CZ",
    "cy-GB",
    "da-DK",
    "de-AT",
    "de-DE",
    "el-GR",
    "en-AU",
    "en-GB",
    "en-GB-SCT",
    "en-GB-WLS",
    "en-IE",
    "en-IN",
    "en-NZ",
    "en-US",
    "en-ZA",
    "es-CO",
    "es-ES",
    "es-MX",
    "es-US",
    "eu-ES",
    "fi-FI",
    "fil-PH",
    "fr-CA",
    "fr-FR",
    "gl-ES",
    "gu-IN",
    "he-IL",
    "hi-IN",
    "hu-HU",
    "id-ID",
    "is-IS",
    "it-IT",
    "ja-JP",
    "kn-IN",
    "ko-KR",
    "lt-LT",
    "lv-LV",
    "ml-IN",
    "mr-IN",
    "ms-MY",
    "nb-NO",
    "nl-BE",
    "nl-NL",
    "no-NO",
    "pa-IN",
    "pl-PL",
    "pt-BR",
    "pt-PT",
    "ro-RO",
    "ru-RU",
    "sk-SK",
    "sr-RS",
    "sv-SE",
    "ta-IN",
    "te-IN",
    "th-TH",
    "tr-TR",
    "uk-UA",
    "vi-VN",
    "yue-CN",
];

/// `talk`: speak `text` (plain or SSML in `<speak>…</speak>`). Synchronous unless `bargeIn` is true.
///
/// ```
/// use ncco_sdk::ncco::Talk;
/// let talk = Talk::new("Press 1 for sales").barge_in(true).language("en-GB").style(2);
/// assert_eq!(talk.language.as_deref(), Some("en-GB"));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Talk {
    /// What to say: at most 1500 characters, not counting SSML tags.
    pub text: String,
    /// Let DTMF or speech cut the prompt short; the next non-talk action must then be an `input`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub barge_in: Option<bool>,
    /// How many times to say it; 0 repeats until barge-in or hangup. Default 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#loop: Option<u32>,
    /// Volume from -1 to 1. Default 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<f64>,
    /// BCP-47 language of the voice. Default `en-US`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Voice variant of the language. Default 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub style: Option<u32>,
    /// Use the premium voice of the language and style.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub premium: Option<bool>,
    /// Legacy voice name (`Amy`, `Brian`, …), kept when parsed; write `language` and `style` instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice_name: Option<String>,
    /// TTS provider (SDK-only option).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Options of the provider (SDK-only option).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_options: Option<Map<String, Value>>,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Talk {
    /// A talk action saying `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Talk { text: text.into(), ..Talk::default() }
    }

    /// Sets `bargeIn`.
    pub fn barge_in(mut self, on: bool) -> Self {
        self.barge_in = Some(on);
        self
    }

    /// Sets `loop`: how many times to say the text (0 = until interrupted).
    pub fn loops(mut self, times: u32) -> Self {
        self.r#loop = Some(times);
        self
    }

    /// Sets `level` (-1 to 1).
    pub fn level(mut self, level: f64) -> Self {
        self.level = Some(level);
        self
    }

    /// Sets `language` (BCP-47, e.g. `en-GB`).
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// Sets `style`.
    pub fn style(mut self, style: u32) -> Self {
        self.style = Some(style);
        self
    }

    /// Sets `premium`.
    pub fn premium(mut self, on: bool) -> Self {
        self.premium = Some(on);
        self
    }
}

/// Counts the characters of `text` that are spoken: SSML tags do not count.
pub fn spoken_len(text: &str) -> usize {
    let mut in_tag = false;
    let mut n = 0;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => n += 1,
            _ => {}
        }
    }
    n
}

pub(crate) fn check_language(cx: &mut Cx, pointer: &str, language: &str, known: &[&str]) {
    if !known.iter().any(|l| l.eq_ignore_ascii_case(language)) {
        cx.warn(
            pointer,
            Rule::UnknownLanguage,
            format!("language {language:?} is not in the list the Vonage SDKs know"),
        );
    }
}

pub(crate) fn read(cx: &mut Cx, mut obj: Obj<'_>) -> Option<Talk> {
    let text = obj.required(cx, "text", |cx, f| {
        let text = f.non_empty_string(cx)?;
        let n = spoken_len(&text);
        if n > MAX_TALK_TEXT_CHARS {
            cx.error(
                f.pointer,
                Rule::Size,
                format!("`text` has {n} spoken characters; at most {MAX_TALK_TEXT_CHARS} are allowed (SSML tags do not count)"),
            );
        }
        Some(text)
    });
    let barge_in = obj.bool(cx, "bargeIn");
    let r#loop = obj.int(cx, "loop", 0, u32::MAX.into());
    let level = obj.num(cx, "level", -1.0, 1.0);
    let language = obj.string(cx, "language");
    if let Some(l) = &language {
        check_language(cx, &child(&obj.pointer, "language"), l, TTS_LANGUAGES);
    }
    let style = obj.int(cx, "style", 0, u32::MAX.into());
    let premium = obj.bool(cx, "premium");
    let voice_name = obj.string(cx, "voiceName");
    if voice_name.is_some() {
        let pointer = child(&obj.pointer, "voiceName");
        match cx.mode {
            crate::Mode::Lenient => {
                cx.warn(&pointer, Rule::Deprecated, "`voiceName` is deprecated; use `language` and `style`")
            }
            crate::Mode::Strict => {
                cx.error(&pointer, Rule::Deprecated, "`voiceName` is deprecated; use `language` and `style`")
            }
        }
    }
    let provider = obj.string(cx, "provider");
    let provider_options = obj.map(cx, "providerOptions");
    let extra = obj.finish(cx);
    Some(Talk {
        text: text?,
        barge_in,
        r#loop,
        level,
        language,
        style,
        premium,
        voice_name,
        provider,
        provider_options,
        extra,
    })
}
