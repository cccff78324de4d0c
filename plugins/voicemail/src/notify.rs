//! Posting a new message to the owner's backend (`notify_url`), as JSON.

use std::time::Duration;

use ncco_sdk::guest::Context;
use ncco_sdk::guest::http::Request;
use serde::Serialize;

use crate::mailbox::Message;

/// Longest wait for the backend: the record event's answer is not waited on by the caller, but the
/// host's deadline for the webhook still holds.
const NOTIFY_TIMEOUT: Duration = Duration::from_millis(1500);

/// The JSON posted.
#[derive(Debug, Serialize)]
struct Notification<'a> {
    event: &'static str,
    tenant: &'a str,
    app: &'a str,
    #[serde(flatten)]
    message: &'a Message,
}

/// Posts `message` to `url`; a failure is a warning in the call's log (the message is stored
/// already).
pub fn post(ctx: &Context, url: &str, message: &Message) {
    let body = Notification { event: "voicemail.message", tenant: &ctx.tenant, app: &ctx.app, message };
    match Request::post(url).json(&body).timeout(NOTIFY_TIMEOUT).send() {
        Ok(r) if r.ok() => ncco_sdk::info!("message posted to the notify_url ({})", r.status),
        Ok(r) => ncco_sdk::warn!("the notify_url answered {}; the message is stored but was not posted", r.status),
        Err(e) => ncco_sdk::warn!("cannot post the message to the notify_url: {e}"),
    }
}
