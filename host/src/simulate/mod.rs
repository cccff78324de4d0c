//! `ncco-host simulate`: the Voice API in a box. Plays Vonage's side of one call against any answer
//! URL (ours or anyone's): the answer request, the NCCO walked with Vonage's semantics, the events,
//! retries and fallback, signed webhooks; and prints the call's timeline (or JSON with `--json`).
//!
//! Exit status: 0 when the call ran and every expectation held; 1 when an NCCO was invalid, the
//! answer URL failed or an expectation failed; 2 for bad usage or an unreachable answer server.

pub mod api;
mod audio;
mod call;
pub mod clock;
mod connect;
mod expect;
mod ids;
mod input;
mod payload;
mod record;
pub mod scenario;
mod timeline;
mod webhook;

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::SystemTime;

use reqwest::Url;
use serde::Serialize;

pub use call::Facts;
pub use expect::Check;
pub use scenario::{Scenario, ScenarioError};
pub use timeline::Entry;

use crate::cli::SimulateArgs;

/// The call ran and every expectation held.
pub const EXIT_OK: u8 = 0;
/// An NCCO was invalid, the answer URL failed, or an expectation failed.
pub const EXIT_FAILED: u8 = 1;
/// Bad usage (arguments, scenario file) or an unreachable answer server.
pub const EXIT_USAGE: u8 = 2;

/// The URLs and options of one run, for the report header.
#[derive(Debug, Serialize)]
pub struct Setup {
    /// The scenario's description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The answer URL.
    pub answer_url: String,
    /// `GET` or `POST`.
    pub answer_method: &'static str,
    /// The application's event URL, given or derived.
    pub event_url: Option<String>,
    /// The fallback answer URL.
    pub fallback_url: Option<String>,
    /// Whether webhooks are signed.
    pub signed: bool,
    /// Where the Voice API for this call listens (`--api-listen`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// Whether the clock was paced in real time.
    pub real_time: bool,
    /// The caller.
    pub from: String,
    /// The called number.
    pub to: String,
    /// `inbound` or `outbound`.
    pub direction: &'static str,
    /// The caller's leg.
    pub uuid: String,
    /// The conversation.
    pub conversation_uuid: String,
}

/// The verdict.
#[derive(Debug, Serialize)]
pub struct Verdict {
    /// True when the exit status is 0.
    pub ok: bool,
    /// The exit status.
    pub exit_code: u8,
    /// Why the call ended.
    pub ended: Option<String>,
    /// Seconds from answer to end.
    pub duration: Option<f64>,
    /// `user` or `platform`.
    pub disconnected_by: Option<&'static str>,
    /// NCCOs received.
    pub nccos: usize,
    /// Webhooks that got no 2xx response in the end.
    pub failed_webhooks: usize,
    /// What failed the run besides expectations.
    pub problems: Vec<String>,
    /// Each expectation.
    pub expectations: Vec<Check>,
}

/// Everything one simulated call produced.
#[derive(Debug, Serialize)]
pub struct Report {
    /// How it was run.
    pub call: Setup,
    /// What happened, in time order.
    pub timeline: Vec<Entry>,
    /// How it went.
    pub result: Verdict,
}

/// The application's event URL for an answer URL of our host's layout: a trailing `/answer`
/// becomes `/event` (the query is dropped).
pub fn derive_event_url(answer_url: &str) -> Option<String> {
    let mut url = Url::parse(answer_url).ok()?;
    let path = url.path().strip_suffix("/answer")?.to_owned();
    url.set_path(&format!("{path}/event"));
    url.set_query(None);
    Some(url.to_string())
}

fn check_url(what: &str, url: &str) -> Result<(), String> {
    match Url::parse(url) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => Ok(()),
        Ok(u) => Err(format!("{what} must be an http(s) URL, got scheme {:?}", u.scheme())),
        Err(e) => Err(format!("{what} {url:?} is not a URL: {e}")),
    }
}

/// Runs one simulated call and returns its report, or a usage error.
pub async fn simulate(args: &SimulateArgs) -> Result<Report, String> {
    check_url("--answer-url", &args.answer_url)?;
    if let Some(u) = &args.event_url {
        check_url("--event-url", u)?;
    }
    if let Some(u) = &args.fallback_url {
        check_url("--fallback-url", u)?;
    }
    let scenario = match &args.scenario {
        Some(path) => Scenario::load(path).map_err(|e| e.to_string())?,
        None => Scenario::default(),
    };
    let event_url = args.event_url.clone().or_else(|| derive_event_url(&args.answer_url));
    let sender = webhook::Sender::new(
        args.secret.clone(),
        scenario.signing.api_key.clone().unwrap_or_else(|| scenario::DEFAULT_API_KEY.into()),
        scenario.signing.application_id.clone(),
        args.fallback_url.clone(),
    )
    .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let api = match (&args.api_listen, &args.application_key) {
        (Some(addr), Some(key_file)) => {
            let pem = std::fs::read(key_file).map_err(|e| format!("--application-key {}: {e}", key_file.display()))?;
            let key = api::decoding_key(&pem).map_err(|e| format!("--application-key {}: {e}", key_file.display()))?;
            let control = api::Control::new(key, scenario.signing.application_id.clone());
            let bound = api::serve(*addr, std::sync::Arc::clone(&control))
                .await
                .map_err(|e| format!("--api-listen {addr}: {e}"))?;
            eprintln!("ncco-host simulate: the Voice API for this call is on http://{bound}");
            Some((control, bound))
        }
        _ => None,
    };
    let clock = clock::Clock::new(SystemTime::now(), args.real_time);
    let mut call = call::Call::new(&scenario, &sender, clock, event_url.clone());
    if let Some((control, _)) = &api {
        call = call.with_api(std::sync::Arc::clone(control));
    }
    let leg = call.leg().clone();
    call.run(&args.answer_url).await;
    let (timeline, facts) = call.finish();
    let expectations = expect::evaluate(&scenario.expect, &facts);
    let exit_code = if facts.unreachable {
        EXIT_USAGE
    } else if !facts.problems.is_empty() || expectations.iter().any(|c| !c.ok) {
        EXIT_FAILED
    } else {
        EXIT_OK
    };
    Ok(Report {
        call: Setup {
            description: scenario.description.clone(),
            answer_url: args.answer_url.clone(),
            answer_method: scenario.call.answer_method.unwrap_or(scenario::HttpMethod::Get).as_str(),
            event_url,
            fallback_url: args.fallback_url.clone(),
            signed: args.secret.is_some(),
            api: api.as_ref().map(|(_, bound)| format!("http://{bound}")),
            real_time: args.real_time,
            from: leg.from,
            to: leg.to,
            direction: leg.direction,
            uuid: leg.uuid,
            conversation_uuid: leg.conversation_uuid,
        },
        timeline: timeline.into_sorted(),
        result: Verdict {
            ok: exit_code == EXIT_OK,
            exit_code,
            ended: facts.end_reason,
            duration: facts.duration.map(timeline::round_ms),
            disconnected_by: facts.disconnected_by,
            nccos: facts.nccos,
            failed_webhooks: facts.failed_webhooks,
            problems: facts.problems,
            expectations,
        },
    })
}

/// Renders a report as the readable timeline.
pub fn render_text(r: &Report) -> String {
    let mut out = String::new();
    let c = &r.call;
    if let Some(d) = &c.description {
        let _ = writeln!(out, "scenario: {d}");
    }
    let _ = writeln!(out, "call {} -> {} ({}), uuid {}, {}", c.from, c.to, c.direction, c.uuid, c.conversation_uuid);
    let _ = writeln!(out, "answer: {} {}", c.answer_method, c.answer_url);
    let _ = writeln!(out, "events: {}", c.event_url.as_deref().unwrap_or("(none: only actions' eventUrls get events)"));
    if let Some(f) = &c.fallback_url {
        let _ = writeln!(out, "fallback: {f}");
    }
    if let Some(a) = &c.api {
        let _ = writeln!(out, "voice api: {a}");
    }
    let mut flags = Vec::new();
    if c.signed {
        flags.push("signed webhooks");
    }
    flags.push(if c.real_time { "real time" } else { "virtual time" });
    let _ = writeln!(out, "({})\n", flags.join(", "));
    let base = Url::parse(&c.answer_url).map(|u| u.origin().ascii_serialization()).unwrap_or_default();
    for e in &r.timeline {
        timeline::render_entry(&mut out, e, &base);
    }
    let v = &r.result;
    let _ = writeln!(out);
    for p in &v.problems {
        let _ = writeln!(out, "problem: {p}");
    }
    for c in &v.expectations {
        let detail = if c.ok { String::new() } else { format!(": {}", c.detail) };
        let _ = writeln!(out, "expect {}: {}{detail}", c.expect, if c.ok { "ok" } else { "FAILED" });
    }
    let failed = v.expectations.iter().filter(|c| !c.ok).count();
    let verdict = match v.exit_code {
        EXIT_OK => "PASS".to_owned(),
        EXIT_USAGE => "ERROR: the answer server cannot be reached".to_owned(),
        _ => format!("FAIL ({} problems, {failed} expectations failed)", v.problems.len()),
    };
    let _ = writeln!(out, "result: {verdict} (exit {})", v.exit_code);
    out
}

/// `ncco-host simulate`: runs the call, prints the timeline or JSON, returns the exit status.
pub async fn run(args: &SimulateArgs) -> ExitCode {
    let report = match simulate(args).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ncco-host simulate: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let text = if args.json {
        serde_json::to_string_pretty(&report).map(|s| s + "\n").unwrap_or_default()
    } else {
        render_text(&report)
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        eprintln!("ncco-host simulate: cannot write the report: {e}");
        return ExitCode::from(EXIT_USAGE);
    }
    ExitCode::from(report.result.exit_code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_url_is_derived_from_our_answer_layout() {
        assert_eq!(derive_event_url("http://h:1/acme/hello/answer").as_deref(), Some("http://h:1/acme/hello/event"));
        assert_eq!(derive_event_url("http://h/answer?x=1").as_deref(), Some("http://h/event"));
        assert_eq!(derive_event_url("http://h/webhooks/answer-call"), None);
    }
}
