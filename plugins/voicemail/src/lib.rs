//! `voicemail`: a mailbox. Callers hear a greeting and leave a message after the beep; the owner,
//! calling from their own number, hears how many messages there are and who left the latest ones.
//!
//! # Flow
//!
//! 1. **answer** from any caller: the caller's number is kept in call state (the `record` event does
//!    not say who was recorded), then the greeting, a `record` with `beepStart` that ends on
//!    `end_on_key` (`#`), after `end_on_silence` seconds of silence or after `max_length` seconds, and
//!    whose `eventUrl` is the `recording` callback, then the goodbye.
//! 2. **`recording`** (the record event): the message (caller, recording URL and id, duration from
//!    `start_time` and `end_time`, size, time) is added to the list in app state, and one log line
//!    says who left a message of how long. The list keeps at most `max_messages`, none older than
//!    `retention_days`; a retried event is not stored twice.
//! 3. **answer** from the `owner` number: "You have 2 messages. The latest message is from 4 4 7 7 …,
//!    42 seconds long. …" (the `latest` newest, newest first), then "Goodbye.". Recordings are never
//!    played: a caller ID can be spoofed, so only numbers and lengths are read out.
//!
//! 4. When `notify_url` is set, each new message is also posted there as JSON (`event`
//!    `"voicemail.message"`, `tenant`, `app` and the message's fields: `caller`, `recording_url`,
//!    `recording_uuid`, `duration_seconds`, `received_at`, `size`, `conversation_uuid`). The app's
//!    `allowed_outbound_hosts` must name its host. A backend that refuses it or does not answer in
//!    time is logged as a warning; the message is stored either way.
//!
//! Every other event (started, ringing, answered, completed, …) is answered with nothing (204).
//!
//! # Variables (`[vars]`)
//!
//! | name | default | meaning |
//! |---|---|---|
//! | `owner` | none | the owner's number; calls from it hear the messages |
//! | `greeting` | "The person you are calling is not available. Please leave a message after the beep, …" | said before the beep |
//! | `goodbye` | "Thank you for your message. Goodbye." | said after the recording |
//! | `language` | Vonage's default | BCP-47 language of the talks |
//! | `max_length` | 120 | longest message, seconds (3 to 7200) |
//! | `end_on_silence` | 5 | seconds of silence that end a message (3 to 10; 0 turns it off) |
//! | `end_on_key` | `#` | the key that ends a message (0-9, `*` or `#`) |
//! | `retention_days` | 30 | days a message is kept (1 to 3650) |
//! | `max_messages` | 100 | most messages kept, the newest (1 to 500) |
//! | `latest` | 3 | latest messages read out to the owner (0 to 10) |
//! | `notify_url` | none | an `http(s)` URL each new message is posted to, as JSON |
//!
//! # State
//!
//! Call state `caller` (who is leaving the message); app state `messages` (the list, as JSON).

mod mailbox;
mod notify;
mod settings;

use ncco_sdk::guest::host::{OrWarn, call};
use ncco_sdk::guest::{Context, Plugin, PluginError};
use ncco_sdk::ncco::{Ncco, Record, Talk, normalize_phone_number};
use ncco_sdk::webhook::{AnswerRequest, Event};

use mailbox::Message;
use settings::Settings;

/// The callback receiving the `record` event.
pub const RECORDING_CALLBACK: &str = "recording";

const CALLER: &str = "caller";

struct Voicemail;

impl Plugin for Voicemail {
    fn answer(ctx: &Context, request: AnswerRequest) -> Result<Ncco, PluginError> {
        let settings = Settings::load();
        let caller = request.caller().map(|c| normalize_phone_number(c).unwrap_or_else(|| c.to_owned()));
        if caller.is_some() && caller == settings.owner {
            let messages = mailbox::load(&settings)?;
            ncco_sdk::info!("the owner is listening to {} messages", messages.len());
            return Ok(Ncco::new()
                .then(say(&settings, mailbox::summary(&settings, &messages)))
                .then(say(&settings, "Goodbye.")));
        }
        match &caller {
            Some(caller) => call::set_str(CALLER, caller),
            None => call::delete(CALLER),
        }
        .or_warn("remembering the caller");
        let mut record = Record::new(ctx.callback_url(RECORDING_CALLBACK))
            .beep_start(true)
            .end_on_key(settings.end_on_key)
            .time_out(settings.max_length);
        if let Some(seconds) = settings.end_on_silence {
            record = record.end_on_silence(seconds);
        }
        Ok(Ncco::new()
            .then(say(&settings, settings.greeting.clone()))
            .then(record)
            .then(say(&settings, settings.goodbye.clone())))
    }

    fn event(ctx: &Context, event: Event) -> Result<Option<Ncco>, PluginError> {
        if let (Some(RECORDING_CALLBACK), Event::Record(record)) = (ctx.callback.as_deref(), &event) {
            let settings = Settings::load();
            let caller = call::get_string(CALLER).or_warn("reading the caller").flatten();
            let Some(message) = Message::from_record(record, caller) else {
                ncco_sdk::warn!("a record event without recording_url: nothing to store");
                return Ok(None);
            };
            let (who, seconds, url) = (
                message.caller.clone().unwrap_or_else(|| "unknown caller".to_owned()),
                message.duration_seconds.map_or_else(|| "?".to_owned(), |s| s.to_string()),
                message.recording_url.clone(),
            );
            // A message that cannot be stored is an error the host logs, not a silent loss.
            let count = mailbox::store(&settings, &message)?;
            ncco_sdk::info!("voicemail from {who}: {seconds} s at {url} ({count} in the mailbox)");
            if let Some(notify_url) = &settings.notify_url {
                notify::post(ctx, notify_url, &message);
            }
        }
        Ok(None)
    }
}

/// A talk in the mailbox's language.
fn say(settings: &Settings, text: impl Into<String>) -> Talk {
    Talk { language: settings.language.clone(), ..Talk::new(text) }
}

ncco_sdk::export_plugin!(Voicemail);
