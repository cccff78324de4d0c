//! The call's timeline: what the caller hears, presses and says, each webhook with its response,
//! each NCCO received, and the verdict; rendered as readable text or as JSON.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

/// Longest response body kept in an entry.
const MAX_BODY_CHARS: usize = 4000;

/// Why something playing stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cut {
    /// The caller's input cut a `bargeIn` prompt.
    BargeIn,
    /// The caller hung up.
    Hangup,
    /// The call reached its longest duration.
    Deadline,
    /// A call-control request (a transfer or a hangup on the Voice API) replaced the NCCO.
    Control,
}

/// One webhook attempt and what came back.
#[derive(Debug, Clone, Serialize)]
pub struct Webhook {
    /// What was sent (`answer`, `status started`, `input`, `record`, ...).
    pub label: String,
    /// `primary`, `retry`, `fallback` or `fallback retry`.
    pub attempt: &'static str,
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The URL, with the query for GET.
    pub url: String,
    /// The fields sent (the JSON body, or the query fields).
    pub request: Value,
    /// Whether it carried a signed-webhook JWT.
    pub signed: bool,
    /// HTTP status, when a response came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The response body (cut to a few thousand characters), when not empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// Why no usable response came (connection refused, timeout, HTTP status).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Wall-clock milliseconds the request took.
    pub ms: u64,
}

impl Webhook {
    /// Keeps at most a few thousand characters of a response body.
    pub fn body(text: &str) -> Option<String> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        Some(match text.char_indices().nth(MAX_BODY_CHARS) {
            Some((i, _)) => format!("{}…", &text[..i]),
            None => text.to_owned(),
        })
    }
}

/// What happened.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum What {
    /// The call's life: ringing, answered, ended.
    Call {
        /// `ringing`, `answered`, `ended`, ...
        event: String,
        /// Details.
        text: String,
    },
    /// The caller hears something.
    Hear {
        /// `talk`, `stream`, `ringback`, `music_on_hold`, `beep`.
        source: &'static str,
        /// The text spoken, or the audio URL.
        text: String,
        /// How long it plays in full; absent when it loops forever.
        #[serde(skip_serializing_if = "Option::is_none")]
        seconds: Option<f64>,
        /// Why it stopped early.
        #[serde(skip_serializing_if = "Option::is_none")]
        cut: Option<Cut>,
        /// How long it played when cut.
        #[serde(skip_serializing_if = "Option::is_none")]
        played: Option<f64>,
    },
    /// The caller presses keys.
    Press {
        /// The keys.
        keys: String,
    },
    /// The caller speaks.
    Say {
        /// The words.
        text: String,
        /// The recognition confidence.
        confidence: f64,
    },
    /// Something the caller does otherwise: stays silent, hangs up, leaves a message.
    Caller {
        /// What.
        text: String,
    },
    /// An NCCO action starts or ends.
    Action {
        /// The action name.
        action: &'static str,
        /// What it does.
        text: String,
    },
    /// A webhook was sent.
    Webhook(Webhook),
    /// An NCCO was received.
    Ncco {
        /// 1 for the answer's, then each replacement.
        number: usize,
        /// Which webhook returned it.
        from: String,
        /// Whether it replaced the rest of a running NCCO.
        replaces: bool,
        /// The action names.
        actions: Vec<&'static str>,
        /// The NCCO as received.
        ncco: Value,
    },
    /// A webhook's event was not sent: no URL for it.
    Skipped {
        /// What was not sent.
        label: String,
        /// Why.
        text: String,
    },
    /// A request to the simulator's Voice API (`--api-listen`) and its answer.
    Api {
        /// `PUT /v1/calls/{uuid}`, ...
        request: String,
        /// The HTTP status answered.
        status: u16,
        /// What it asked for, or why it was refused.
        text: String,
    },
    /// Something that fails the run: an invalid NCCO, a failed answer.
    Problem {
        /// What.
        text: String,
    },
    /// Anything else worth knowing.
    Note {
        /// What.
        text: String,
    },
}

/// One entry at its call time.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Seconds since the call began.
    pub t: f64,
    /// What happened.
    #[serde(flatten)]
    pub what: What,
}

/// The entries of one call, in time order once sorted.
#[derive(Debug, Default)]
pub struct Timeline {
    entries: Vec<Entry>,
}

impl Timeline {
    /// Adds an entry and returns its index (to mark a prompt cut later).
    pub fn push(&mut self, t: f64, what: What) -> usize {
        self.entries.push(Entry { t: round_ms(t), what });
        self.entries.len() - 1
    }

    /// Marks the prompt at `index` as cut at call time `t`.
    pub fn cut(&mut self, index: usize, why: Cut, t: f64) {
        if let Some(Entry { t: start, what: What::Hear { cut, played, .. } }) = self.entries.get_mut(index) {
            *cut = Some(why);
            *played = Some(round_ms((t - *start).max(0.0)));
        }
    }

    /// The entries in time order (stable: same-time entries keep the order they happened in).
    pub fn into_sorted(mut self) -> Vec<Entry> {
        self.entries.sort_by(|a, b| a.t.total_cmp(&b.t));
        self.entries
    }
}

/// Rounds to milliseconds, as the timeline shows them.
pub fn round_ms(t: f64) -> f64 {
    (t * 1000.0).round() / 1000.0
}

/// Renders one entry as a text line (or a few); `base` is the answer URL's origin, shortened away.
pub fn render_entry(out: &mut String, e: &Entry, base: &str) {
    let url = |u: &str| u.strip_prefix(base).filter(|rest| rest.starts_with('/')).unwrap_or(u).to_owned();
    let (tag, text) = match &e.what {
        What::Call { event, text } => ("call", format!("{event}: {text}")),
        What::Hear { source, text, seconds, cut, played } => {
            let what = match *source {
                "talk" => format!("\"{text}\""),
                "stream" => format!("audio {text}"),
                other => format!("{} {text}", other.replace('_', " ")),
            };
            let len = match (cut, played, seconds) {
                (Some(Cut::BargeIn), Some(p), _) => format!(" (cut by barge-in after {p:.1} s)"),
                (Some(Cut::Hangup), Some(p), _) => format!(" (cut by the hangup after {p:.1} s)"),
                (Some(Cut::Deadline), Some(p), _) => format!(" (cut at the call's time limit after {p:.1} s)"),
                (Some(Cut::Control), Some(p), _) => format!(" (cut by call control after {p:.1} s)"),
                (_, _, Some(s)) => format!(" ({s:.1} s)"),
                _ if *source == "beep" => String::new(),
                _ if *source == "music_on_hold" => " (until the conference starts)".to_owned(),
                _ if *source == "ringback" => " (until the callee answers)".to_owned(),
                (_, _, None) => " (looping until barge-in or hangup)".to_owned(),
            };
            ("hears", format!("{what}{len}"))
        }
        What::Press { keys } => ("presses", keys.clone()),
        What::Say { text, confidence } => ("says", format!("\"{text}\" (confidence {confidence})")),
        What::Caller { text } => ("caller", text.clone()),
        What::Action { action, text } => (*action, text.clone()),
        What::Webhook(w) => {
            let outcome = match (&w.status, &w.error) {
                (Some(s), None) => format!("{s}"),
                (Some(_), Some(err)) => err.clone(),
                (None, Some(err)) => format!("failed: {err}"),
                (None, None) => "no response".to_owned(),
            };
            let attempt = if w.attempt == "primary" { String::new() } else { format!(" [{}]", w.attempt) };
            let signed = if w.signed { " signed" } else { "" };
            let path = url(&w.url);
            let path = path.split_once('?').map_or(path.as_str(), |(p, _)| p);
            let mut line = format!("{} {} {path}{attempt}{signed} -> {outcome} ({} ms)", w.label, w.method, w.ms);
            // A 2xx body is shown as the NCCO it holds; error bodies say why.
            if let (Some(body), Some(_)) = (&w.response, &w.error) {
                let _ = write!(line, "\n{:>20}{}", "", body.replace('\n', " "));
            }
            ("webhook", line)
        }
        What::Ncco { number, from, replaces, actions, ncco } => {
            let how = if *replaces { ", replaces the rest" } else { "" };
            let json = serde_json::to_string(ncco).unwrap_or_default();
            let names = if actions.is_empty() { "(invalid)".to_owned() } else { actions.join(", ") };
            ("ncco", format!("#{number} from {from}{how}: {names}\n{:>20}{json}", ""))
        }
        What::Skipped { label, text } => ("skipped", format!("{label}: {text}")),
        What::Api { request, status, text } => ("api", format!("{request} -> {status}: {text}")),
        What::Problem { text } => ("PROBLEM", text.clone()),
        What::Note { text } => ("note", text.clone()),
    };
    let _ = writeln!(out, "{:>9.3}s  {tag:<8} {text}", e.t);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_sort_stably_by_time_and_render() {
        let mut tl = Timeline::default();
        tl.push(1.0, What::Press { keys: "1".into() });
        let i =
            tl.push(0.0, What::Hear { source: "talk", text: "Hi".into(), seconds: Some(2.0), cut: None, played: None });
        tl.push(1.0, What::Note { text: "after".into() });
        tl.cut(i, Cut::BargeIn, 1.0);
        let sorted = tl.into_sorted();
        let mut out = String::new();
        for e in &sorted {
            render_entry(&mut out, e, "http://h");
        }
        assert_eq!(
            out,
            "    0.000s  hears    \"Hi\" (cut by barge-in after 1.0 s)\n    1.000s  presses  1\n    1.000s  note     after\n"
        );
    }
}
