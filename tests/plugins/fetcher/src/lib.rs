//! Test fixture: on answer, requests each URL of the `urls` variable (space-separated) in turn and
//! says what each got, one word each: `200:12` (status and body bytes), or `denied`, `prohibited`,
//! `limit`, `timeout`, `too-large`, `bad-header`, `bad-url`, `failed`. `header` (`name: value`) is
//! added to every request; `method` (default GET) is the method. With no `urls` it makes no request
//! and answers exactly what `hello` answers (the benchmark's "wasi:http linked but unused").

use ncco_sdk::guest::host::config;
use ncco_sdk::guest::http::{HttpError, Request};
use ncco_sdk::guest::{Context, Plugin, PluginError};
use ncco_sdk::ncco::{Dtmf, Input, Ncco, Talk};
use ncco_sdk::webhook::AnswerRequest;

struct Fetcher;

impl Plugin for Fetcher {
    fn answer(ctx: &Context, request: AnswerRequest) -> Result<Ncco, PluginError> {
        let urls = config("urls").unwrap_or_default();
        let method = config("method").unwrap_or_else(|| "GET".to_owned());
        let header = config("header");
        let mut said = Vec::new();
        for url in urls.split_whitespace() {
            let mut r = Request::new(&method, url);
            if let Some((name, value)) = header.as_deref().and_then(|h| h.split_once(':')) {
                r = r.header(name.trim(), value.trim());
            }
            said.push(match r.send() {
                Ok(response) => format!("{}:{}", response.status, response.body.len()),
                Err(e) => word(&e).to_owned(),
            });
        }
        if said.is_empty() {
            // Exactly `hello`'s answer (its default greeting), so the benchmark compares like with like.
            return Ok(Ncco::new()
                .talk(format!("Hello {}.", request.caller().unwrap_or("caller")))
                .then(Talk::new("Press any key.").barge_in(true))
                .then(Input::dtmf(Dtmf::new().max_digits(1).time_out(5)).event_url(ctx.callback_url("menu"))));
        }
        Ok(Ncco::new().talk(said.join(" ")))
    }
}

fn word(e: &HttpError) -> &'static str {
    match e {
        HttpError::Denied => "denied",
        HttpError::Prohibited => "prohibited",
        HttpError::LimitReached => "limit",
        HttpError::Timeout => "timeout",
        HttpError::TooLarge => "too-large",
        HttpError::InvalidHeader(_) => "bad-header",
        HttpError::InvalidUrl(_) => "bad-url",
        HttpError::Body(_) | HttpError::Failed(_) => "failed",
    }
}

ncco_sdk::export_plugin!(Fetcher);
