//! `call-forwarding`: forwards every call to one number; when it is busy, does not answer or cannot
//! be reached, the caller leaves a voicemail instead.
//!
//! # Flow
//!
//! 1. **answer**: the caller's number is kept in call state; the hold message, then a `connect` to
//!    `forward_to` (caller ID `caller_id`, else the dialled number) ringing for `ring_timeout` seconds,
//!    with `eventType: synchronous` and the `forward` callback as its `eventUrl`. Without a usable
//!    `forward_to`, the call goes straight to voicemail. A call from the `owner` number hears how many
//!    messages there are and who left the latest ones instead.
//! 2. **`forward`** with `busy`, `unanswered`, `timeout`, `rejected` or `failed`: the voicemail NCCO
//!    replaces the call's: a reason ("The line is busy." / "Nobody is answering." / "The call could
//!    not be connected."), the greeting, a `record` with `beepStart` ending on `#` (or 5 s of silence,
//!    or `max_length`) whose `eventUrl` is the `recording` callback, then the goodbye. Other
//!    statuses of the forwarded leg (started, ringing, answered, completed) get nothing (204): the
//!    call goes on.
//! 3. **`recording`** (the record event): the message (caller, recording URL, duration from
//!    `start_time`/`end_time`, why the forward failed) is added to the list in app state, and one log
//!    line says who left a message of how long.
//!
//! # Variables (`[vars]`)
//!
//! | name | default | meaning |
//! |---|---|---|
//! | `forward_to` | none (voicemail only) | the number calls are forwarded to |
//! | `caller_id` | the dialled number | caller ID (`from`) of the forwarded call: one of your Vonage numbers |
//! | `ring_timeout` | 20 | seconds the forwarded call rings (3 to 7200) |
//! | `hold_message` | "Please hold while we connect your call." | said while forwarding; empty for none |
//! | `owner` | `forward_to` | calls from this number hear the messages |
//! | `greeting` | "Please leave a message after the beep, and press the hash key when you are done." | said before the beep, after the reason |
//! | `goodbye` | "Thank you for your message. Goodbye." | said after the recording |
//! | `language` | Vonage's default | BCP-47 language of the talks |
//! | `max_length` | 120 | longest message, seconds (3 to 7200) |
//! | `max_messages` | 100 | most messages kept, the newest (1 to 500) |
//!
//! # State
//!
//! Call state `caller` and `reason` (why the forward failed); app state `messages` (a JSON list,
//! oldest first, kept 30 days after its last change).

mod settings;
mod voicemail;

use ncco_sdk::guest::host::{OrWarn, call};
use ncco_sdk::guest::{Context, Plugin, PluginError};
use ncco_sdk::ncco::{Connect, Endpoint, Ncco, normalize_phone_number};
use ncco_sdk::webhook::{AnswerRequest, CallStatus, Event};

use settings::Settings;
use voicemail::Message;

/// The callback receiving the forwarded leg's events (its failures may return an NCCO).
pub const FORWARD_CALLBACK: &str = "forward";
/// The callback receiving the voicemail's `record` event.
pub const RECORDING_CALLBACK: &str = "recording";

const CALLER: &str = "caller";
const REASON: &str = "reason";

struct CallForwarding;

impl Plugin for CallForwarding {
    fn answer(ctx: &Context, request: AnswerRequest) -> Result<Ncco, PluginError> {
        let settings = Settings::load();
        let caller = request.caller().map(|c| normalize_phone_number(c).unwrap_or_else(|| c.to_owned()));
        if caller.is_some() && caller == settings.owner {
            let messages = voicemail::load()?;
            ncco_sdk::info!("the owner is listening to {} messages", messages.len());
            return Ok(Ncco::new()
                .then(voicemail::say(&settings, voicemail::summary(&messages)))
                .then(voicemail::say(&settings, "Goodbye.")));
        }
        // Remembered for the voicemail; the call goes on without it if state is unavailable.
        match &caller {
            Some(caller) => call::set_str(CALLER, caller),
            None => call::delete(CALLER),
        }
        .or_warn("remembering the caller");
        let Some(forward_to) = settings.forward_to.clone() else {
            call::set_str(REASON, "not configured").or_warn("remembering why");
            return Ok(voicemail::ncco(&settings, ctx, "Nobody is available to take your call."));
        };
        let mut connect = Connect::to(Endpoint::phone(forward_to.clone()))
            .timeout(settings.ring_timeout)
            .synchronous(ctx.callback_url(FORWARD_CALLBACK));
        let dialled = request.to.as_deref().and_then(normalize_phone_number);
        if let Some(from) = settings.caller_id.clone().or(dialled) {
            connect = connect.from(from);
        }
        ncco_sdk::info!("forwarding {} to {forward_to}", caller.as_deref().unwrap_or("an unknown caller"));
        let mut ncco = Ncco::new();
        if let Some(hold) = &settings.hold_message {
            ncco = ncco.then(voicemail::say(&settings, hold.clone()));
        }
        Ok(ncco.then(connect))
    }

    fn event(ctx: &Context, event: Event) -> Result<Option<Ncco>, PluginError> {
        match (ctx.callback.as_deref(), event) {
            (Some(FORWARD_CALLBACK), Event::Status(status)) if status.status.is_connect_failure() => {
                let reason = match status.status {
                    CallStatus::Busy => "The line is busy.",
                    CallStatus::Unanswered | CallStatus::Timeout => "Nobody is answering.",
                    _ => "The call could not be connected.",
                };
                ncco_sdk::info!("the forward ended {}: taking a voicemail", status.status);
                call::set_str(REASON, &status.status.to_string()).or_warn("remembering why");
                Ok(Some(voicemail::ncco(&Settings::load(), ctx, reason)))
            }
            (Some(RECORDING_CALLBACK), Event::Record(record)) => {
                let settings = Settings::load();
                let caller = call::get_string(CALLER).or_warn("reading the caller").flatten();
                let reason = call::get_string(REASON).or_warn("reading why").flatten();
                let Some(message) = Message::from_record(&record, caller, reason) else {
                    ncco_sdk::warn!("a record event without recording_url: nothing to store");
                    return Ok(None);
                };
                let who = message.caller.clone().unwrap_or_else(|| "unknown caller".to_owned());
                let seconds = message.duration_seconds.map_or_else(|| "?".to_owned(), |s| s.to_string());
                let url = message.recording_url.clone();
                // A message that cannot be stored is an error the host logs, not a silent loss.
                let count = voicemail::store(&settings, &message)?;
                ncco_sdk::info!("voicemail from {who}: {seconds} s at {url} ({count} in the mailbox)");
                Ok(None)
            }
            _ => Ok(None),
        }
    }
}

ncco_sdk::export_plugin!(CallForwarding);
