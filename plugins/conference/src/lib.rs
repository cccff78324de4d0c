//! `conference`: a PIN-protected conference room. The PIN a caller enters makes them the moderator
//! (the conference starts when they join and ends when they leave) or an attendee (music on hold
//! until the moderator joins); a wrong PIN gets a retry.
//!
//! # Flow
//!
//! 1. **answer**: the welcome, then "Please enter your PIN, then press the hash key." with `bargeIn`,
//!    then a DTMF `input` (as many digits as the longest PIN, submitted on `#`) whose `eventUrl` is the
//!    `pin` callback. The attempt counter in call state starts at 0. Without any PIN configured the
//!    caller joins the room directly, as an ordinary participant.
//! 2. **`pin`** (the input result):
//!    - the moderator PIN: a `conversation` in `room` with `startOnEnter: true`, `endOnExit: true`;
//!    - the attendee PIN: a `conversation` in `room` with `startOnEnter: false`, `endOnExit: false`
//!      and `musicOnHoldUrl` (muted when `mute_attendees` is set);
//!    - anything else, or nothing: one attempt counted, "That PIN is not valid." (or "I did not get a
//!      PIN.") and the prompt again; after `max_retries` retries a goodbye, after which the call ends.
//!
//!    When both PINs are the same, the caller is the moderator.
//! 3. **`recording`** (with `record` set, the conference recording's event): a log line with its URL.
//!
//! Every other event (started, ringing, answered, completed, …) is answered with nothing (204).
//!
//! # Variables (`[vars]`)
//!
//! | name | default | meaning |
//! |---|---|---|
//! | `room` | `conference` | the conversation name (shared by every call of the app) |
//! | `moderator_pin` | none | digits that make a caller the moderator |
//! | `attendee_pin` | none | digits that make a caller an attendee |
//! | `max_retries` | 2 | PIN retries after the first (0 to 10) |
//! | `music_on_hold_url` | Vonage's example audio | what attendees hear until the moderator joins; empty for none |
//! | `mute_attendees` | false | attendees join muted (a webinar) |
//! | `record` | false | record the conference |
//! | `welcome` | "Welcome to the conference." | said first |
//! | `language` | Vonage's default | BCP-47 language of the talks |
//! | `input_timeout` | 5 | seconds to wait after the last key (1 to 10) |
//!
//! # Call state
//!
//! `attempts` (wrong PINs so far).

mod settings;

use ncco_sdk::guest::host::{OrWarn, call};
use ncco_sdk::guest::{Context, Plugin, PluginError};
use ncco_sdk::ncco::{Conversation, Dtmf, Input, Ncco, Talk};
use ncco_sdk::webhook::{AnswerRequest, Event};

use settings::Settings;

/// The callback receiving the PIN.
pub const PIN_CALLBACK: &str = "pin";
/// The callback receiving the conference recording's event.
pub const RECORDING_CALLBACK: &str = "recording";

const ATTEMPTS: &str = "attempts";

/// Who a PIN lets in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Moderator,
    Attendee,
}

struct ConferencePlugin;

impl Plugin for ConferencePlugin {
    fn answer(ctx: &Context, request: AnswerRequest) -> Result<Ncco, PluginError> {
        let settings = Settings::load();
        if settings.moderator_pin.is_none() && settings.attendee_pin.is_none() {
            ncco_sdk::warn!("no moderator_pin or attendee_pin: callers join {} without a PIN", settings.room);
            return Ok(Ncco::new().then(say(&settings, settings.welcome.clone())).then(room(&settings, ctx, None)));
        }
        call::delete(ATTEMPTS).or_warn("resetting the PIN attempts");
        ncco_sdk::info!("{} is asked for a PIN", request.caller().unwrap_or("an unknown caller"));
        Ok(prompt(&settings, ctx, &settings.welcome))
    }

    fn event(ctx: &Context, event: Event) -> Result<Option<Ncco>, PluginError> {
        match (ctx.callback.as_deref(), event) {
            (Some(PIN_CALLBACK), Event::Input(input)) => {
                let settings = Settings::load();
                let entered = input.digits().map(|d| d.trim_end_matches('#')).unwrap_or_default();
                let role = if entered.is_empty() {
                    None
                } else if settings.moderator_pin.as_deref() == Some(entered) {
                    Some(Role::Moderator)
                } else if settings.attendee_pin.as_deref() == Some(entered) {
                    Some(Role::Attendee)
                } else {
                    None
                };
                let ncco = match role {
                    Some(Role::Moderator) => {
                        ncco_sdk::info!("the moderator joins {}", settings.room);
                        Ncco::new()
                            .then(say(&settings, "You are the moderator. The conference starts now."))
                            .then(room(&settings, ctx, Some(Role::Moderator)))
                    }
                    Some(Role::Attendee) => {
                        ncco_sdk::info!("an attendee joins {}", settings.room);
                        Ncco::new()
                            .then(say(&settings, "You are joining the conference. It starts when the moderator joins."))
                            .then(room(&settings, ctx, Some(Role::Attendee)))
                    }
                    None if entered.is_empty() => retry(&settings, ctx, "I did not get a PIN."),
                    None => retry(&settings, ctx, "That PIN is not valid."),
                };
                Ok(Some(ncco))
            }
            (Some(RECORDING_CALLBACK), Event::Record(record)) => {
                let url = record.recording_url.as_deref().unwrap_or("no URL");
                ncco_sdk::info!("conference recording: {url}");
                Ok(None)
            }
            _ => Ok(None),
        }
    }
}

/// `lead`, then the PIN prompt (interruptible), then the input posting to `pin`.
fn prompt(settings: &Settings, ctx: &Context, lead: &str) -> Ncco {
    let dtmf = Dtmf::new().max_digits(settings.pin_digits()).submit_on_hash(true).time_out(settings.input_timeout);
    Ncco::new()
        .then(say(settings, lead))
        .then(say(settings, "Please enter your PIN, then press the hash key.").barge_in(true))
        .then(Input::dtmf(dtmf).event_url(ctx.callback_url(PIN_CALLBACK)))
}

/// Counts a wrong PIN: `apology` and the prompt again, or the goodbye after the maximum retries.
fn retry(settings: &Settings, ctx: &Context, apology: &str) -> Ncco {
    // Counted atomically; when the count cannot be kept, the caller is not let in (fail closed).
    let attempts = call::increment(ATTEMPTS, 1)
        .or_warn("counting PIN attempts")
        .map_or(u32::MAX, |n| u32::try_from(n).unwrap_or(u32::MAX));
    if attempts > settings.max_retries {
        ncco_sdk::warn!("refused after {attempts} wrong PINs");
        return Ncco::new().then(say(settings, format!("{apology} Sorry, you cannot join this conference. Goodbye.")));
    }
    ncco_sdk::info!("wrong PIN {attempts} of {}", settings.max_retries);
    prompt(settings, ctx, &format!("{apology} Please try again."))
}

/// The `conversation` for `role` (`None`: an ordinary participant, Vonage's defaults).
fn room(settings: &Settings, ctx: &Context, role: Option<Role>) -> Conversation {
    let mut conversation = match role {
        Some(Role::Moderator) => Conversation::new(settings.room.clone()).moderator(),
        Some(Role::Attendee) => {
            let mut c = Conversation::new(settings.room.clone()).start_on_enter(false).end_on_exit(false);
            if let Some(url) = &settings.music_on_hold_url {
                c = c.music_on_hold(url.clone());
            }
            if settings.mute_attendees {
                c = c.mute(true);
            }
            c
        }
        None => Conversation::new(settings.room.clone()),
    };
    if settings.record {
        conversation = conversation.record(true).event_url(ctx.callback_url(RECORDING_CALLBACK));
    }
    conversation
}

/// A talk in the configured language.
fn say(settings: &Settings, text: impl Into<String>) -> Talk {
    Talk { language: settings.language.clone(), ..Talk::new(text) }
}

ncco_sdk::export_plugin!(ConferencePlugin);
