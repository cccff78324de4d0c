//! `call-queue`: callers hold, with music, until an agent calls in; then the longest-waiting
//! caller is taken out of the hold music and put in a conversation with the agent, through the
//! Voice API (`ncco_sdk::guest::calls::transfer`). The plugin never holds the application's key.
//!
//! # Flow
//!
//! 1. **A caller** (any number not in `agents`) is put at the end of the queue (app state
//!    `waiting`, a list of call uuids) and hears `hold_text`, their place in the queue, and
//!    `hold_music_url` until they are taken. With `max_waiting` callers waiting, a new caller hears
//!    `busy_text` instead and the call ends.
//! 2. **An agent** (a number in `agents`) takes the first caller of the queue: the caller's call is
//!    transferred to an NCCO that says `connect_text` and joins the conversation
//!    `queue-{caller uuid}`, and the agent's answer joins the same conversation (the conversation
//!    ends when the agent leaves). A caller who already hung up (the API answers 404) is skipped
//!    for the next. With no one waiting, the agent hears `no_callers_text`. When the transfer
//!    fails otherwise (the API unreachable, rate-limited, too slow), the caller goes back to the
//!    front of the queue and the agent hears `transfer_failed_text`.
//! 3. **A caller's `completed` event** takes them out of the queue.
//!
//! The transfer is made during the agent's answer webhook, so the app's `timeout_ms` must leave
//! room for one Voice API request (the example `app.toml` gives 3000 ms): the agent's NCCO names the
//! conversation of the caller it took, so the two cannot be split.
//!
//! # Variables (`[vars]`)
//!
//! | name | default | meaning |
//! |---|---|---|
//! | `agents` | none | the agents' numbers, comma-separated (digits, as Vonage sends `from`) |
//! | `max_waiting` | 50 | callers held at once (1 to 1000) |
//! | `hold_text` | "Thank you for calling. All our agents are busy. Please hold." | said to a new caller |
//! | `hold_music_url` | Vonage's example audio | played until an agent takes the call |
//! | `connect_text` | "An agent is ready. Connecting you now." | said to the caller when taken |
//! | `agent_text` | "Connecting you to the next caller." | said to the agent |
//! | `no_callers_text` | "No callers are waiting. Goodbye." | said to an agent with no one waiting |
//! | `busy_text` | "Sorry, the queue is full. Please call again later." | said when the queue is full |
//! | `transfer_failed_text` | "The caller could not be connected. Please try again." | said to the agent |
//! | `language` | Vonage's default | BCP-47 language of the talks |
//!
//! # State
//!
//! App state `waiting`: the queue, as a JSON list of call uuids (kept two hours after its last
//! change).

use ncco_sdk::guest::calls::{self, CallError};
use ncco_sdk::guest::host::app;
use ncco_sdk::guest::{Context, Plugin, PluginError, vars};
use ncco_sdk::ncco::{Conversation, Ncco, Stream, Talk};
use ncco_sdk::webhook::{AnswerRequest, CallStatus, Event};

/// The app state key of the queue.
pub const WAITING: &str = "waiting";
/// How long the queue is kept after its last change, seconds.
pub const WAITING_TTL: u32 = 7200;
/// Hold music when `hold_music_url` is not set (Vonage's public example audio).
pub const DEFAULT_HOLD_MUSIC: &str =
    "https://nexmo-community.github.io/ncco-examples/assets/voice_api_audio_streaming.mp3";
/// Callers tried by one agent before giving up (each gone caller is skipped).
const MAX_SKIPPED: usize = 5;

struct Queue;

/// A number as digits only.
fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

fn say(text: String) -> Talk {
    let talk = Talk::new(text);
    match vars::optional_text("language", None) {
        Some(language) => talk.language(language),
        None => talk,
    }
}

impl Plugin for Queue {
    fn answer(ctx: &Context, request: AnswerRequest) -> Result<Ncco, PluginError> {
        let from = digits(request.caller().unwrap_or(""));
        let agents = vars::text("agents", "");
        let is_agent = !from.is_empty() && agents.split(',').any(|a| digits(a) == from);
        if is_agent { Ok(agent(ctx)) } else { Ok(caller(&request)) }
    }

    fn event(_ctx: &Context, event: Event) -> Result<Option<Ncco>, PluginError> {
        if let Event::Status(status) = &event
            && status.status == CallStatus::Completed
            && let Some(uuid) = status.leg_uuid()
        {
            let mut removed = false;
            let result = app::update_json::<Vec<String>>(WAITING, Some(WAITING_TTL), |list| {
                let mut list = list.unwrap_or_default();
                let before = list.len();
                list.retain(|u| u != uuid);
                removed = list.len() < before;
                Some(list)
            });
            match result {
                Ok(_) if removed => ncco_sdk::info!("caller {uuid} hung up while waiting"),
                Ok(_) => {}
                Err(e) => ncco_sdk::warn!("cannot take {uuid} out of the queue: {e}"),
            }
        }
        Ok(None)
    }
}

/// A caller joins the end of the queue and holds.
fn caller(request: &AnswerRequest) -> Ncco {
    let busy = || Ncco::new().then(say(vars::text("busy_text", "Sorry, the queue is full. Please call again later.")));
    let Some(uuid) = request.uuid.clone() else {
        ncco_sdk::warn!("the answer request has no uuid: the caller cannot be queued");
        return busy();
    };
    let max_waiting: usize = vars::number("max_waiting", 50, 1..=1000);
    let mut place = None;
    let queued = app::update_json::<Vec<String>>(WAITING, Some(WAITING_TTL), |list| {
        let mut list = list.unwrap_or_default();
        place = list.iter().position(|u| *u == uuid).map(|i| i + 1);
        if place.is_none() && list.len() < max_waiting {
            list.push(uuid.clone());
            place = Some(list.len());
        }
        Some(list)
    });
    let place = match queued {
        Ok(_) => place,
        Err(e) => {
            ncco_sdk::error!("cannot queue {uuid}: {e}");
            None
        }
    };
    let Some(place) = place else { return busy() };
    ncco_sdk::info!("{} waits at place {place}", request.caller().unwrap_or("a caller"));
    let hold = vars::text("hold_text", "Thank you for calling. All our agents are busy. Please hold.");
    let music = vars::optional_text("hold_music_url", Some(DEFAULT_HOLD_MUSIC))
        .filter(|u| ncco_sdk::is_http_url(u))
        .unwrap_or_else(|| DEFAULT_HOLD_MUSIC.to_owned());
    Ncco::new().then(say(format!("{hold} You are number {place} in the queue."))).then(Stream::new(music).forever())
}

/// Takes the first caller of the queue, if any.
fn pop() -> Option<String> {
    let mut first = None;
    let taken = app::update_json::<Vec<String>>(WAITING, Some(WAITING_TTL), |list| {
        let mut list = list.unwrap_or_default();
        first = (!list.is_empty()).then(|| list.remove(0));
        Some(list)
    });
    match taken {
        Ok(_) => first,
        Err(e) => {
            ncco_sdk::error!("cannot read the queue: {e}");
            None
        }
    }
}

/// Puts a caller back at the front of the queue.
fn push_front(uuid: &str) {
    let back = app::update_json::<Vec<String>>(WAITING, Some(WAITING_TTL), |list| {
        let mut list = list.unwrap_or_default();
        if !list.iter().any(|u| u == uuid) {
            list.insert(0, uuid.to_owned());
        }
        Some(list)
    });
    if let Err(e) = back {
        ncco_sdk::error!("caller {uuid} could not be put back in the queue: {e}");
    }
}

/// An agent takes the longest-waiting caller.
fn agent(ctx: &Context) -> Ncco {
    for _ in 0..MAX_SKIPPED {
        let Some(waiting) = pop() else { break };
        let room = format!("queue-{waiting}");
        let for_caller = Ncco::new()
            .then(say(vars::text("connect_text", "An agent is ready. Connecting you now.")))
            .then(Conversation::new(room.clone()));
        match calls::transfer(&waiting, &for_caller) {
            Ok(()) => {
                ncco_sdk::info!("agent {} takes caller {waiting}", ctx.call_uuid.as_deref().unwrap_or("-"));
                return Ncco::new()
                    .then(say(vars::text("agent_text", "Connecting you to the next caller.")))
                    .then(Conversation::new(room).end_on_exit(true));
            }
            Err(CallError::NotFound(why)) => ncco_sdk::info!("caller {waiting} is gone ({why}); the next one"),
            Err(e) => {
                ncco_sdk::error!("caller {waiting} could not be transferred: {e}");
                push_front(&waiting);
                return Ncco::new().then(say(vars::text(
                    "transfer_failed_text",
                    "The caller could not be connected. Please try again.",
                )));
            }
        }
    }
    Ncco::new().then(say(vars::text("no_callers_text", "No callers are waiting. Goodbye.")))
}

ncco_sdk::export_plugin!(Queue);
