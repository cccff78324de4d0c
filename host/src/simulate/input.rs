//! The `input` action: the caller's next scripted keys or words (or silence, or a hangup), barge-in
//! of the prompts still playing, when Vonage submits the result (§1.3.6: `maxDigits`, `#` with
//! `submitOnHash`, `timeOut` after the last key; speech `endOnSilence`, `maxDuration`,
//! `startTimeout`), and the result posted to the action's `eventUrl`, whose NCCO replaces the rest.

use ncco_sdk::ncco::{Input, InputMode, InputType};
use ncco_sdk::webhook::{DtmfResult, SpeechAlternative, SpeechResult, TimeoutReason};
use serde_json::Map;

use super::call::{Call, Flow, Step, method_of};
use super::payload;
use super::scenario::ScriptedInput;
use super::timeline::{Cut, What};
use super::webhook::{Kind, Request};

/// Default `dtmf.timeOut`: seconds after the last key before the result is sent.
pub const DEFAULT_DTMF_TIMEOUT: f64 = 3.0;
/// Default `dtmf.maxDigits`.
pub const DEFAULT_MAX_DIGITS: usize = 4;
/// Default `speech.endOnSilence`, seconds.
pub const DEFAULT_END_ON_SILENCE: f64 = 2.0;
/// Default `speech.maxDuration`, seconds.
pub const DEFAULT_MAX_SPEECH: f64 = 60.0;
/// `speech.startTimeout` when absent (its default is not documented), seconds.
pub const DEFAULT_START_TIMEOUT: f64 = 10.0;
/// When the caller acts, unless the scenario says: this long after the prompts end.
pub const DEFAULT_RESPONSE_DELAY: f64 = 1.0;
/// Seconds between two keys, unless the scenario says.
pub const DEFAULT_KEY_INTERVAL: f64 = 0.3;
/// Seconds a spoken word takes.
pub const SECONDS_PER_WORD: f64 = 0.4;
/// Recognition confidence, unless the scenario says.
pub const DEFAULT_CONFIDENCE: f64 = 0.9;

/// What the caller does, and what Vonage will send.
struct Plan {
    /// When the caller starts acting (presses, speaks, hangs up), if at all.
    acts_at: Option<f64>,
    /// When the result is sent.
    result_at: f64,
    /// What the caller does, for the timeline.
    shown: Option<What>,
    dtmf: DtmfResult,
    speech: SpeechResult,
}

impl Call<'_> {
    /// Runs an `input` action.
    pub(super) async fn input(&mut self, input: &Input) -> Step {
        let now = self.clock.now();
        if input.mode == Some(InputMode::Asynchronous) {
            let text =
                "asynchronous DTMF: the NCCO goes on; digits are not simulated (their payload is not documented)";
            self.tl.push(now, What::Action { action: "input", text: text.into() });
            self.resolve_prompts(now, Cut::BargeIn);
            self.barge_in = false;
            return Ok(Flow::Next);
        }
        let dtmf = input.r#type.contains(&InputType::Dtmf);
        let speech = input.r#type.contains(&InputType::Speech);
        let kinds = match (dtmf, speech) {
            (true, true) => "keys or speech",
            (false, true) => "speech",
            _ => "keys",
        };
        let prompts_end = self.prompts_end();
        let script = self.inputs.pop_front();
        let scripted = script.is_some();
        let script = script.unwrap_or_default();
        let after = script.after.map(|a| now + a);
        let default_at = if prompts_end.is_finite() { prompts_end } else { now } + DEFAULT_RESPONSE_DELAY;
        let acts_at = after.unwrap_or(default_at);
        if script.hangup {
            self.hangup_at = Some(self.hangup_at.map_or(acts_at, |h| h.min(acts_at)));
        }
        let plan = self.plan(input, &script, acts_at, prompts_end, dtmf, speech);
        let outcome = self.wait_until(plan.result_at).await;
        let stopped_at = self.clock.now();
        let acted = plan.acts_at.filter(|t| *t <= stopped_at && (outcome.is_ok() || *t < stopped_at));
        match acted {
            Some(t) => self.resolve_prompts(t, Cut::BargeIn),
            None => self.resolve_prompts(stopped_at, outcome.err().map_or(Cut::BargeIn, |s| s.cut())),
        }
        // After the prompts, so that at the same instant the prompt comes first.
        self.tl.push(now, What::Action { action: "input", text: format!("listening for {kinds}") });
        if !scripted {
            self.tl.push(now, What::Note { text: "no scripted input left: the caller stays silent".into() });
        }
        if let (Some(t), Some(what)) = (acted, plan.shown) {
            self.tl.push(t, what);
        }
        self.barge_in = false;
        if let Err(stop) = outcome {
            if script.hangup {
                self.tl.push(stopped_at, What::Caller { text: "hangs up during the input".into() });
            }
            return Err(stop);
        }
        let body = payload::input(&self.leg, self.clock.iso(stopped_at), plan.dtmf, plan.speech);
        let url = input.event_url.as_ref().and_then(|u| u.first()).cloned().or_else(|| self.event_url.clone());
        let Some(url) = url else {
            self.tl
                .push(stopped_at, What::Skipped { label: "input".into(), text: "no eventUrl and no event URL".into() });
            return Ok(Flow::Next);
        };
        let method = if input.event_url.is_some() { method_of(input.event_method) } else { self.event_method };
        let label = format!("input {}", summary(&body));
        let req = Request { label, url, method, payload: body, kind: Kind::Instruction };
        Ok(self.instruct(req).await.map_or(Flow::Next, Flow::Replace))
    }

    fn plan(
        &mut self,
        input: &Input,
        s: &ScriptedInput,
        acts_at: f64,
        prompts_end: f64,
        dtmf: bool,
        speech: bool,
    ) -> Plan {
        let d = input.dtmf.as_ref();
        let time_out = d.and_then(|d| d.time_out).map_or(DEFAULT_DTMF_TIMEOUT, f64::from);
        let max_digits = d.and_then(|d| d.max_digits).map_or(DEFAULT_MAX_DIGITS, |n| n as usize);
        let on_hash = d.and_then(|d| d.submit_on_hash) == Some(true);
        let sp = input.speech.as_ref();
        let end_on_silence = sp.and_then(|s| s.end_on_silence).unwrap_or(DEFAULT_END_ON_SILENCE);
        let max_speech = sp.and_then(|s| s.max_duration).map_or(DEFAULT_MAX_SPEECH, f64::from);
        let start_timeout = sp.and_then(|s| s.start_timeout).map_or(DEFAULT_START_TIMEOUT, f64::from);
        let save_audio = sp.and_then(|s| s.save_audio) == Some(true);
        let no_dtmf = DtmfResult { digits: None, timed_out: false, ..DtmfResult::default() };
        let no_speech = SpeechResult::default();
        let mut plan = Plan { acts_at: None, result_at: f64::INFINITY, shown: None, dtmf: no_dtmf, speech: no_speech };

        if let Some(keys) = s.dtmf.as_deref().filter(|_| dtmf) {
            let interval = s.interval.unwrap_or(DEFAULT_KEY_INTERVAL);
            let (mut digits, mut pressed) = (String::new(), String::new());
            let mut submitted = None;
            for (i, key) in keys.chars().enumerate() {
                let at = acts_at + interval * i as f64;
                pressed.push(key);
                if on_hash && key == '#' {
                    submitted = Some(at);
                    break;
                }
                digits.push(key);
                if digits.len() >= max_digits {
                    submitted = Some(at);
                    break;
                }
            }
            let last = acts_at + interval * (pressed.len().saturating_sub(1)) as f64;
            plan.acts_at = Some(acts_at);
            plan.shown = Some(What::Press { keys: pressed });
            plan.result_at = submitted.unwrap_or(last + time_out);
            plan.dtmf = DtmfResult { digits: Some(digits), timed_out: submitted.is_none(), ..DtmfResult::default() };
            return plan;
        }
        if (s.speech.is_some() || s.speech_error.is_some()) && speech {
            let text = s.speech.clone().unwrap_or_default();
            let words = text.split_whitespace().count().max(1) as f64;
            let talking = words * SECONDS_PER_WORD;
            plan.acts_at = Some(acts_at);
            let confidence = s.confidence.unwrap_or(DEFAULT_CONFIDENCE);
            plan.shown = Some(What::Say { text: text.clone(), confidence });
            if let Some(error) = &s.speech_error {
                plan.result_at = acts_at + talking.min(max_speech);
                plan.speech.error = Some(error.clone());
                return plan;
            }
            let (end, reason) = if talking > max_speech {
                (acts_at + max_speech, TimeoutReason::MaxDuration)
            } else {
                (acts_at + talking + end_on_silence, TimeoutReason::EndOnSilenceTimeout)
            };
            plan.result_at = end;
            plan.speech.timeout_reason = Some(reason);
            let mut results = vec![alternative(&text, confidence)];
            let mut c = confidence;
            for alt in &s.alternatives {
                c = (c * 0.75 * 1e6).round() / 1e6;
                results.push(alternative(alt, c));
            }
            plan.speech.results = results;
            if save_audio {
                plan.speech.recording_url = Some(format!("{}/{}", payload::FILES_URL, self.ids.uuid()));
            }
            return plan;
        }
        // Silence: the caller does nothing (or hangs up, or uses a kind of input not listened for).
        let mut shown_note = None;
        if s.hangup {
            plan.acts_at = Some(acts_at);
        } else if s.dtmf.is_some() || s.speech.is_some() {
            shown_note = Some(What::Note {
                text: format!(
                    "the caller's {} is not listened for: silence",
                    if s.dtmf.is_some() { "keys are" } else { "speech is" }
                ),
            });
            plan.acts_at = Some(acts_at);
        }
        plan.shown = shown_note.or_else(|| s.hangup.then(|| What::Caller { text: "hangs up".into() }));
        let waits_from = prompts_end;
        plan.result_at = match (dtmf, speech) {
            (true, true) => waits_from + time_out.max(start_timeout),
            (false, true) => waits_from + start_timeout,
            _ => waits_from + time_out,
        };
        if dtmf {
            plan.dtmf.timed_out = true;
        }
        if speech {
            plan.speech.timeout_reason = Some(TimeoutReason::StartTimeout);
        }
        if !s.hangup && plan.shown.is_none() {
            plan.acts_at = Some(waits_from);
            plan.shown = Some(What::Caller { text: "stays silent".into() });
        }
        plan
    }
}

fn alternative(text: &str, confidence: f64) -> SpeechAlternative {
    let mut extra = Map::new();
    // Vonage writes the confidence as a number in a string ("0.9405097"); this key, written after
    // the numeric field, is the one the JSON object keeps.
    extra.insert("confidence".into(), serde_json::Value::String(format!("{confidence}")));
    SpeechAlternative { text: text.to_owned(), confidence, extra }
}

/// A short description of an input result for the timeline label.
fn summary(body: &Map<String, serde_json::Value>) -> String {
    let digits = body.get("dtmf").and_then(|d| d.get("digits")).and_then(|d| d.as_str());
    let timed_out = body.get("dtmf").and_then(|d| d.get("timed_out")).and_then(serde_json::Value::as_bool);
    let speech = body.get("speech");
    let text = speech
        .and_then(|s| s.get("results"))
        .and_then(|r| r.get(0))
        .and_then(|r| r.get("text"))
        .and_then(|t| t.as_str());
    let reason = speech.and_then(|s| s.get("timeout_reason")).and_then(|r| r.as_str());
    match (digits, text) {
        (Some(d), _) if !d.is_empty() => {
            format!("dtmf={d}{}", if timed_out == Some(true) { " (timed out)" } else { "" })
        }
        (_, Some(t)) => format!("speech={t:?}"),
        _ => match reason {
            Some(r) => format!("no input ({r})"),
            None => "no input (timed out)".into(),
        },
    }
}
