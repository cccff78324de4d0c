//! The scenario of a simulated call: who calls whom, what the caller presses or says, how each
//! connect, recording and conference turns out, and what must hold at the end. Read from TOML or JSON
//! (by extension, else by content); unknown keys are errors naming the file and the key.
//!
//! Every key is optional: an empty scenario is an inbound call that stays silent at every input.
//! `examples/scenarios/README.md` documents the format with examples.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

/// Default caller number.
pub const DEFAULT_FROM: &str = "447700900000";
/// Default called number (the Vonage number of the application).
pub const DEFAULT_TO: &str = "442079460000";
/// Default longest call, in seconds: the platform ends the call then.
pub const DEFAULT_MAX_DURATION: f64 = 7200.0;
/// Default `api_key` claim of signed webhooks.
pub const DEFAULT_API_KEY: &str = "simulator";

/// Why a scenario cannot be used. Always names the file.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file cannot be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The file.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid scenario (syntax, unknown key, wrong type).
    #[error("{file}: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// The parser's message, with the key and position.
        message: String,
    },
    /// A key has a value the simulator cannot use.
    #[error("{file}: `{key}`: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// The key, dotted (`inputs[2].dtmf`).
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// A whole scenario.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Free text shown at the top of the timeline.
    pub description: Option<String>,
    /// The call itself.
    #[serde(default)]
    pub call: CallSpec,
    /// Claims of signed webhooks (the secret is given with `--secret`).
    #[serde(default)]
    pub signing: Signing,
    /// One entry per `input` action, used in order. When they run out the caller stays silent.
    #[serde(default)]
    pub inputs: Vec<ScriptedInput>,
    /// One entry per `connect` action, used in order. When they run out a human answers.
    #[serde(default)]
    pub connects: Vec<ConnectOutcome>,
    /// One entry per synchronous `record` action (voicemail), used in order.
    #[serde(default)]
    pub recordings: Vec<Recording>,
    /// One entry per `conversation` action, used in order.
    #[serde(default)]
    pub conversations: Vec<ConferenceStay>,
    /// How long audio plays.
    #[serde(default)]
    pub audio: Audio,
    /// What must hold at the end; each failed expectation fails the run.
    #[serde(default)]
    pub expect: Expect,
}

/// `GET` or `POST`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum HttpMethod {
    /// Fields in the query string.
    #[serde(rename = "GET", alias = "get")]
    Get,
    /// A JSON body.
    #[serde(rename = "POST", alias = "post")]
    Post,
}

impl HttpMethod {
    /// `"GET"` or `"POST"`.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
        }
    }
}

/// Direction of the call, as seen by the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallDirection {
    /// Someone calls the application's number: the answer URL is requested first.
    #[default]
    Inbound,
    /// The application called someone (REST create-call): the answer URL is requested once the callee
    /// answers.
    Outbound,
}

impl CallDirection {
    /// `"inbound"` or `"outbound"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CallDirection::Inbound => "inbound",
            CallDirection::Outbound => "outbound",
        }
    }
}

/// `[call]`: the call's parties and webhook methods.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallSpec {
    /// The caller (default `447700900000`). For an outbound call: the application's number.
    pub from: Option<String>,
    /// The called number (default `442079460000`). For an outbound call: the person called.
    pub to: Option<String>,
    /// `inbound` (default) or `outbound`.
    #[serde(default)]
    pub direction: CallDirection,
    /// How the answer URL is requested: `GET` (Vonage's default) or `POST`.
    pub answer_method: Option<HttpMethod>,
    /// How status events go to the event URL: `POST` (default) or `GET`.
    pub event_method: Option<HttpMethod>,
    /// `endpoint_type` of the caller: `phone` (default), `sip`, `app`, `websocket`, `vbc`.
    pub endpoint_type: Option<String>,
    /// A Client SDK caller: sent as `from_user` instead of `from`.
    pub from_user: Option<String>,
    /// Client SDK `custom_data` (an object), sent with the answer request.
    pub custom_data: Option<Map<String, Value>>,
    /// SIP headers of an inbound SIP call, sent as `SipHeader_<name>`.
    #[serde(default)]
    pub sip_headers: BTreeMap<String, String>,
    /// `region_url` of the answer request (default `https://api-eu-1.vonage.com`).
    pub region_url: Option<String>,
    /// The call leg's `uuid` (default: a random one).
    pub uuid: Option<String>,
    /// The `conversation_uuid` (default: `CON-` and a random one).
    pub conversation_uuid: Option<String>,
    /// Seconds after the call is answered when the caller hangs up (default: never; the call ends
    /// when the NCCO runs out).
    pub hangup_after: Option<f64>,
    /// Outbound calls: seconds the callee's phone rings before it is answered (default 3).
    pub ring_seconds: Option<f64>,
    /// Longest call in seconds; the platform hangs up then (default 7200).
    pub max_duration: Option<f64>,
    /// `network` of the `completed` event (default `GB-FIXED`).
    pub network: Option<String>,
    /// Price per minute in EUR of the `completed` event (default `0.00450000`).
    pub rate: Option<f64>,
}

/// `[signing]`: the claims of the signed-webhook JWT.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signing {
    /// The `api_key` claim (default `simulator`).
    pub api_key: Option<String>,
    /// The `application_id` claim (default: none).
    pub application_id: Option<String>,
}

/// One `[[inputs]]` entry: what the caller does at the next `input` action. Give at most one of
/// `dtmf`, `speech`, `timeout = true` or `hangup = true`; an empty entry is silence (a timeout).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedInput {
    /// Keys pressed, e.g. `"1"` or `"1234#"`.
    pub dtmf: Option<String>,
    /// Words said.
    pub speech: Option<String>,
    /// Recognition confidence of `speech`, 0 to 1 (default 0.9).
    pub confidence: Option<f64>,
    /// Other recognition results, best first, after `speech`.
    #[serde(default)]
    pub alternatives: Vec<String>,
    /// Recognition fails with this error (`speech.error`), e.g. `"ERR1: Failed to analyze audio"`.
    pub speech_error: Option<String>,
    /// The caller does nothing: the input times out.
    #[serde(default)]
    pub timeout: bool,
    /// The caller hangs up during this input.
    #[serde(default)]
    pub hangup: bool,
    /// Seconds after the input starts listening when the caller acts. With a `bargeIn` prompt still
    /// playing, acting before it ends cuts it short. Default: 1 s after the prompts end.
    pub after: Option<f64>,
    /// Seconds between two keys (default 0.3).
    pub interval: Option<f64>,
}

/// How a `connect` turns out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The callee answers.
    #[default]
    Answered,
    /// The callee is on another call (`busy`, SIP 486).
    Busy,
    /// Nobody answers, or the destination is unavailable (`unanswered`, SIP 480).
    Unanswered,
    /// It cannot be connected (`failed`, SIP 404).
    Failed,
    /// It is rejected or declined (`rejected`, SIP 603).
    Rejected,
    /// It rings past the connect's `timeout` (`timeout`).
    Timeout,
}

impl Outcome {
    /// The `status` of the failure event, `None` for answered.
    pub fn status(self) -> Option<&'static str> {
        match self {
            Outcome::Answered => None,
            Outcome::Busy => Some("busy"),
            Outcome::Unanswered => Some("unanswered"),
            Outcome::Failed => Some("failed"),
            Outcome::Rejected => Some("rejected"),
            Outcome::Timeout => Some("timeout"),
        }
    }
}

/// Who picks up an answered connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnsweredBy {
    /// A person.
    #[default]
    Human,
    /// An answering machine.
    Machine,
}

/// One `[[connects]]` entry: the outcome of the next `connect` action.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectOutcome {
    /// `answered` (default), `busy`, `unanswered`, `failed`, `rejected` or `timeout`.
    #[serde(default)]
    pub outcome: Outcome,
    /// `human` (default) or `machine`: reported when the connect asks for machine detection.
    #[serde(default)]
    pub answered_by: AnsweredBy,
    /// A machine's voicemail beep is heard (advanced machine detection `detect_beep`; default true).
    pub beep: Option<bool>,
    /// Seconds of ringing before the outcome (default: 3; the connect's `timeout` for `timeout`).
    pub ring_seconds: Option<f64>,
    /// Seconds the callee stays on the line once answered (default 30); a websocket then closes.
    pub duration: Option<f64>,
    /// `detail` of the failure event (default: `unavailable`, `declined`, `cannot_route`).
    pub detail: Option<String>,
    /// `sip_code` of the failure event (default: 486, 480, 404, 603).
    pub sip_code: Option<u64>,
}

/// How a synchronous recording ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordingEnd {
    /// The caller stops talking; the record's `endOnSilence` ends it.
    Silence,
    /// The caller presses the record's `endOnKey`.
    Key,
    /// The caller hangs up.
    Hangup,
}

/// One `[[recordings]]` entry: the caller's message at the next synchronous `record`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recording {
    /// Seconds the caller talks (default 5).
    pub seconds: Option<f64>,
    /// `silence`, `key` or `hangup`. Default: `key` when the record has `endOnKey`, else `silence`.
    pub end: Option<RecordingEnd>,
}

/// One `[[conversations]]` entry: the next `conversation` action.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConferenceStay {
    /// Seconds until the conference ends for this leg (e.g. the moderator leaves). Default: until the
    /// caller hangs up.
    pub duration: Option<f64>,
}

/// `[audio]`: how long audio plays.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audio {
    /// Seconds of speech per spoken character of a `talk` (default 0.065, about 150 words a minute).
    pub seconds_per_char: Option<f64>,
    /// Seconds one play of a `stream` lasts, unless listed in `streams` (default 5).
    pub stream_seconds: Option<f64>,
    /// Seconds one play of each stream URL lasts.
    #[serde(default)]
    pub streams: BTreeMap<String, f64>,
}

/// `[expect]`: what must hold when the call is over.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Texts the caller hears, in this order (each a part of a talk's text, or a stream URL).
    #[serde(default)]
    pub heard: Vec<String>,
    /// Texts the caller never hears.
    #[serde(default)]
    pub not_heard: Vec<String>,
    /// Endpoints connected (answered), in this order: a number, URI, user or extension.
    #[serde(default)]
    pub connected: Vec<String>,
    /// Whether any recording was made.
    pub recorded: Option<bool>,
    /// How many recordings were made.
    pub recordings: Option<usize>,
    /// The call ended within this many seconds of being answered.
    pub ended_within: Option<f64>,
    /// The call lasted at least this many seconds.
    pub lasted_at_least: Option<f64>,
    /// Who ended the call: `user` or `platform`.
    pub disconnected_by: Option<String>,
    /// The call was transferred to this conversation.
    pub transferred_to: Option<String>,
    /// Conversations joined, in this order.
    #[serde(default)]
    pub conversations: Vec<String>,
    /// Every webhook got a 2xx response (default: failures are reported but do not fail the run).
    pub webhooks_ok: Option<bool>,
    /// How many NCCOs were received (the answer's and each replacement).
    pub nccos: Option<usize>,
}

impl Scenario {
    /// Reads a scenario file: JSON for `.json`, TOML for `.toml`, else by its first character.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { file: file.clone(), source })?;
        let json = match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("json") => true,
            Some(e) if e.eq_ignore_ascii_case("toml") => false,
            _ => text.trim_start().starts_with('{'),
        };
        Scenario::parse(&text, json, &file)
    }

    /// Parses scenario text; `file` names it in errors.
    pub fn parse(text: &str, json: bool, file: &str) -> Result<Scenario, ScenarioError> {
        let syntax = |message: String| ScenarioError::Syntax { file: file.to_owned(), message };
        let scenario: Scenario = if json {
            serde_json::from_str(text).map_err(|e| syntax(e.to_string()))?
        } else {
            toml::from_str(text).map_err(|e| syntax(e.to_string().trim_end().to_owned()))?
        };
        scenario.check().map_err(|(key, message)| ScenarioError::Invalid { file: file.to_owned(), key, message })?;
        Ok(scenario)
    }

    /// Checks what types cannot: one action per input, non-negative seconds, known values.
    fn check(&self) -> Result<(), (String, String)> {
        let seconds = |key: String, v: Option<f64>| match v {
            Some(s) if !(s.is_finite() && s >= 0.0) => Err((key, format!("must be a number of seconds >= 0, got {s}"))),
            _ => Ok(()),
        };
        seconds("call.hangup_after".into(), self.call.hangup_after)?;
        seconds("call.ring_seconds".into(), self.call.ring_seconds)?;
        seconds("call.max_duration".into(), self.call.max_duration)?;
        seconds("call.rate".into(), self.call.rate)?;
        if let Some(t) = &self.call.endpoint_type
            && !["phone", "sip", "app", "websocket", "vbc"].contains(&t.as_str())
        {
            return Err(("call.endpoint_type".into(), format!("must be phone, sip, app, websocket or vbc, got {t:?}")));
        }
        for (i, input) in self.inputs.iter().enumerate() {
            let key = |k: &str| format!("inputs[{i}].{k}");
            let acts = [
                input.dtmf.is_some(),
                input.speech.is_some() || input.speech_error.is_some(),
                input.timeout,
                input.hangup,
            ];
            if acts.iter().filter(|a| **a).count() > 1 {
                return Err((
                    format!("inputs[{i}]"),
                    "give one of `dtmf`, `speech` (or `speech_error`), `timeout` or `hangup`".into(),
                ));
            }
            if let Some(d) = &input.dtmf
                && (d.is_empty() || !d.chars().all(|c| c.is_ascii_digit() || c == '*' || c == '#'))
            {
                return Err((key("dtmf"), format!("keys are 0-9, * and #, got {d:?}")));
            }
            if let Some(c) = input.confidence
                && !(0.0..=1.0).contains(&c)
            {
                return Err((key("confidence"), format!("must be between 0 and 1, got {c}")));
            }
            seconds(key("after"), input.after)?;
            seconds(key("interval"), input.interval)?;
        }
        for (i, c) in self.connects.iter().enumerate() {
            seconds(format!("connects[{i}].ring_seconds"), c.ring_seconds)?;
            seconds(format!("connects[{i}].duration"), c.duration)?;
        }
        for (i, r) in self.recordings.iter().enumerate() {
            seconds(format!("recordings[{i}].seconds"), r.seconds)?;
        }
        for (i, c) in self.conversations.iter().enumerate() {
            seconds(format!("conversations[{i}].duration"), c.duration)?;
        }
        seconds("audio.seconds_per_char".into(), self.audio.seconds_per_char)?;
        seconds("audio.stream_seconds".into(), self.audio.stream_seconds)?;
        for (url, s) in &self.audio.streams {
            seconds(format!("audio.streams.{url:?}"), Some(*s))?;
        }
        seconds("expect.ended_within".into(), self.expect.ended_within)?;
        seconds("expect.lasted_at_least".into(), self.expect.lasted_at_least)?;
        if let Some(by) = &self.expect.disconnected_by
            && by != "user"
            && by != "platform"
        {
            return Err(("expect.disconnected_by".into(), format!("must be \"user\" or \"platform\", got {by:?}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn an_empty_scenario_is_a_silent_inbound_call() {
        let s = Scenario::parse("", false, "empty.toml").unwrap();
        assert_eq!(s.call.direction, CallDirection::Inbound);
        assert!(s.inputs.is_empty());
    }

    #[test]
    fn toml_and_json_read_the_same_keys() {
        let toml = "[call]\nfrom = \"1\"\nanswer_method = \"POST\"\n[[inputs]]\ndtmf = \"12#\"\n[[connects]]\noutcome = \"busy\"\n[expect]\nheard = [\"Hi\"]\n";
        let json = r#"{"call":{"from":"1","answer_method":"POST"},"inputs":[{"dtmf":"12#"}],"connects":[{"outcome":"busy"}],"expect":{"heard":["Hi"]}}"#;
        for s in [Scenario::parse(toml, false, "a.toml").unwrap(), Scenario::parse(json, true, "a.json").unwrap()] {
            assert_eq!(s.call.from.as_deref(), Some("1"));
            assert_eq!(s.call.answer_method, Some(HttpMethod::Post));
            assert_eq!(s.inputs[0].dtmf.as_deref(), Some("12#"));
            assert_eq!(s.connects[0].outcome, Outcome::Busy);
            assert_eq!(s.expect.heard, ["Hi"]);
        }
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let e = Scenario::parse("[call]\nfrm = \"1\"\n", false, "s.toml").unwrap_err().to_string();
        assert!(e.starts_with("s.toml: ") && e.contains("frm"), "{e}");
        let e =
            Scenario::parse("[[inputs]]\ndtmf = \"1\"\nspeech = \"yes\"\n", false, "s.toml").unwrap_err().to_string();
        assert!(e.contains("inputs[0]"), "{e}");
        let e = Scenario::parse("[[inputs]]\ndtmf = \"x\"\n", false, "s.toml").unwrap_err().to_string();
        assert!(e.contains("`inputs[0].dtmf`"), "{e}");
        let e = Scenario::parse(r#"{"expect":{"heardd":[]}}"#, true, "s.json").unwrap_err().to_string();
        assert!(e.starts_with("s.json: ") && e.contains("heardd"), "{e}");
    }
}
