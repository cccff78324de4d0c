//! Test fixture: makes the call-control requests its variables say, and tells what each got.
//!
//! - `op`: `hangup`, `mute`, `transfer` (to the NCCO in `ncco`), `transfer-to-app` (`path`),
//!   `talk` (`text`), `stream` (`url`), `dtmf` (`digits`), `subscribe-dtmf` (`callback`),
//!   `create` (to `to`, a phone number, running `ncco`), `get`; none for no request.
//! - `uuid`: the call to control; default the webhook's own.
//! - `repeat`: how many times (default 1).
//! - `on`: `answer` (default: the requests are made in the answer webhook, which says what each got:
//!   `ok`, or the error's kind and message, one result a line of one talk), or `answered` (in the
//!   `answered` status event; the answer is then `answer_ncco`).
//! - `answer_ncco`: the answer when the requests are made elsewhere (default: a talk, then a stream
//!   forever).

use ncco_sdk::guest::calls::{self, CallError, NewCall};
use ncco_sdk::guest::host::config;
use ncco_sdk::guest::{Context, Plugin, PluginError};
use ncco_sdk::ncco::{Endpoint, Ncco, Stream, Talk};
use ncco_sdk::webhook::{AnswerRequest, CallStatus, Event};

struct Controller;

fn kind(e: &CallError) -> String {
    let (kind, text) = match e {
        CallError::NotConfigured => ("not-configured", String::new()),
        CallError::NotYourCall(m) => ("not-your-call", m.clone()),
        CallError::RateLimited(m) => ("rate-limited", m.clone()),
        CallError::Invalid(m) => ("invalid", m.clone()),
        CallError::Unauthorized(m) => ("unauthorized", m.clone()),
        CallError::NotFound(m) => ("not-found", m.clone()),
        CallError::Api { status, detail } => ("api", format!("{status} {detail}")),
        CallError::Timeout => ("timeout", String::new()),
        CallError::Unavailable(m) => ("unavailable", m.clone()),
    };
    if text.is_empty() { kind.to_owned() } else { format!("{kind}: {text}") }
}

fn ncco_var() -> Ncco {
    let text =
        config("ncco").unwrap_or_else(|| r#"[{"action":"talk","text":"Transferred by the controller."}]"#.into());
    Ncco::parse(&text).unwrap_or_else(|_| Ncco::new().talk("the controller's ncco variable is not an NCCO"))
}

/// Makes the requests; one result each.
fn control(own: Option<&str>) -> Vec<String> {
    let Some(op) = config("op") else { return Vec::new() };
    let uuid = config("uuid").or_else(|| own.map(str::to_owned)).unwrap_or_default();
    let repeat: u32 = config("repeat").and_then(|r| r.parse().ok()).unwrap_or(1);
    let var = |name: &str| config(name).unwrap_or_default();
    (0..repeat)
        .map(|_| {
            let result = match op.as_str() {
                "hangup" => calls::hangup(&uuid).map(|()| "ok".to_owned()),
                "mute" => calls::mute(&uuid).map(|()| "ok".to_owned()),
                "transfer" => match config("ncco") {
                    Some(raw) => calls::transfer_json(&uuid, &raw),
                    None => calls::transfer(&uuid, &ncco_var()),
                }
                .map(|()| "ok".to_owned()),
                "transfer-to-app" => calls::transfer_to_app(&uuid, &var("path")).map(|()| "ok".to_owned()),
                "talk" => calls::talk(&uuid, &Talk::new(var("text"))).map(|()| "ok".to_owned()),
                "stream" => calls::stream(&uuid, &Stream::new(var("url"))).map(|()| "ok".to_owned()),
                "dtmf" => calls::send_dtmf(&uuid, &var("digits")).map(|()| "ok".to_owned()),
                "subscribe-dtmf" => calls::subscribe_dtmf(&uuid, &var("callback")).map(|()| "ok".to_owned()),
                "create" => calls::create(NewCall::new(Endpoint::phone(var("to")), ncco_var()))
                    .map(|c| format!("created {}", c.uuid)),
                "get" => calls::get(&uuid).map(|v| format!("status {}", v["status"].as_str().unwrap_or("?"))),
                other => Ok(format!("unknown op {other}")),
            };
            let said = result.unwrap_or_else(|e| kind(&e));
            ncco_sdk::info!("{op} {uuid}: {said}");
            said
        })
        .collect()
}

impl Plugin for Controller {
    fn answer(ctx: &Context, request: AnswerRequest) -> Result<Ncco, PluginError> {
        if config("on").as_deref() == Some("answered") {
            let text = config("answer_ncco").unwrap_or_else(|| {
                r#"[{"action":"talk","text":"Please hold."},{"action":"stream","streamUrl":["https://example.com/hold.mp3"],"loop":0}]"#.into()
            });
            return Ncco::parse(&text).map_err(|e| PluginError(format!("answer_ncco: {e}")));
        }
        let own = request.uuid.clone().or_else(|| ctx.call_uuid.clone());
        let said = control(own.as_deref());
        if said.is_empty() {
            return Ok(Ncco::new().then(Stream::new("https://example.com/hold.mp3").forever()));
        }
        Ok(Ncco::new().talk(said.join("\n")))
    }

    fn event(ctx: &Context, event: Event) -> Result<Option<Ncco>, PluginError> {
        if config("on").as_deref() == Some("answered")
            && let Event::Status(s) = &event
            && s.status == CallStatus::Answered
        {
            control(ctx.call_uuid.as_deref());
        }
        Ok(None)
    }
}

ncco_sdk::export_plugin!(Controller);
