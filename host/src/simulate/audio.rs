//! What the caller hears: `talk` and `stream` (their length from the text or the scenario, `loop`,
//! `loop: 0` forever), `bargeIn` prompts queued while the next `input` listens (§1.4: barge-in stays
//! on until an input), and `wait`.

use ncco_sdk::ncco::{DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS, MIN_WAIT_SECONDS, Stream, Talk, Wait, spoken_len};

use super::call::{Call, Flow, Step};
use super::timeline::{Cut, What};

/// Seconds of speech per spoken character: about 150 words a minute.
pub const TALK_SECONDS_PER_CHAR: f64 = 0.065;
/// Shortest a talk takes.
pub const TALK_MIN_SECONDS: f64 = 0.5;
/// Length of one play of a stream not listed in the scenario.
pub const DEFAULT_STREAM_SECONDS: f64 = 5.0;

/// A `bargeIn` prompt queued to play while the next input listens.
#[derive(Debug, Clone)]
pub struct Prompt {
    source: &'static str,
    text: String,
    start: f64,
    seconds: Option<f64>,
}

/// `loop` times one play; `loop: 0` is forever (`None`).
fn looped(one: f64, times: Option<u32>) -> Option<f64> {
    match times.unwrap_or(1) {
        0 => None,
        n => Some(one * f64::from(n)),
    }
}

impl Call<'_> {
    /// `talk`: synchronous unless `bargeIn` (or an earlier `bargeIn` not yet followed by an input).
    pub(super) async fn talk(&mut self, t: &Talk) -> Step {
        let one = self.talk_seconds(&t.text);
        self.play("talk", t.text.clone(), looped(one, t.r#loop), t.barge_in == Some(true)).await
    }

    /// How long saying `text` once takes.
    pub(super) fn talk_seconds(&self, text: &str) -> f64 {
        let per_char = self.sc.audio.seconds_per_char.unwrap_or(TALK_SECONDS_PER_CHAR);
        (spoken_len(text) as f64 * per_char).max(TALK_MIN_SECONDS)
    }

    /// `stream`: as `talk`, its length from `[audio]` of the scenario.
    pub(super) async fn stream(&mut self, s: &Stream) -> Step {
        let url = s.stream_url.first().cloned().unwrap_or_default();
        let audio = &self.sc.audio;
        let one = audio.streams.get(&url).copied().or(audio.stream_seconds).unwrap_or(DEFAULT_STREAM_SECONDS);
        self.play("stream", url, looped(one, s.r#loop), s.barge_in == Some(true)).await
    }

    async fn play(&mut self, source: &'static str, text: String, seconds: Option<f64>, barge_in: bool) -> Step {
        if barge_in || self.barge_in {
            self.barge_in = true;
            let start = self.prompts_end();
            self.prompts.push(Prompt { source, text, start, seconds });
            return Ok(Flow::Next);
        }
        let now = self.clock.now();
        self.facts.heard.push(text.clone());
        let index = self.tl.push(now, What::Hear { source, text, seconds, cut: None, played: None });
        match self.wait_until(now + seconds.unwrap_or(f64::INFINITY)).await {
            Ok(()) => Ok(Flow::Next),
            Err(stop) => {
                self.tl.cut(index, stop.cut(), self.clock.now());
                Err(stop)
            }
        }
    }

    /// When the queued `bargeIn` prompts end (now when none; infinite when one loops forever).
    pub(super) fn prompts_end(&self) -> f64 {
        let now = self.clock.now();
        self.prompts.last().map_or(now, |p| p.start + p.seconds.unwrap_or(f64::INFINITY)).max(now)
    }

    /// Puts the queued prompts on the timeline as played until `until`, cut there for `why`.
    pub(super) fn resolve_prompts(&mut self, until: f64, why: Cut) {
        for p in std::mem::take(&mut self.prompts) {
            if p.start >= until {
                let text = format!("{} {:?} not played: the input ended first", p.source, p.text);
                self.tl.push(until, What::Note { text });
                continue;
            }
            self.facts.heard.push(p.text.clone());
            let end = p.start + p.seconds.unwrap_or(f64::INFINITY);
            let index = self.tl.push(
                p.start,
                What::Hear { source: p.source, text: p.text, seconds: p.seconds, cut: None, played: None },
            );
            if end > until {
                self.tl.cut(index, why, until);
            }
        }
    }

    /// `wait`: silence for `timeout` seconds (default 10), clamped to 0.1..7200 as Vonage does.
    pub(super) async fn wait(&mut self, w: &Wait) -> Step {
        let seconds = w.timeout.unwrap_or(DEFAULT_WAIT_SECONDS).clamp(MIN_WAIT_SECONDS, MAX_WAIT_SECONDS);
        let now = self.clock.now();
        self.tl.push(now, What::Action { action: "wait", text: format!("silence for {seconds} s") });
        self.wait_until(now + seconds).await.map(|()| Flow::Next)
    }
}
