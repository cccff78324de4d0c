//! `ivr-menu`: a spoken menu that sends callers to departments by key press or by name.
//!
//! # Flow
//!
//! 1. **answer**: the greeting, then the menu ("For Sales, press 1 or say Sales. …") with `bargeIn`,
//!    then an `input` taking one DTMF key or speech (the department names are the speech hints), whose
//!    `eventUrl` is the `menu` callback. The attempt counter in call state starts at 0.
//! 2. **`menu`** (the input result): a key of the menu, a spoken department name or a spoken key
//!    ("two") picks a department; the caller hears "Connecting you to Sales." and is connected to the
//!    department's number (a synchronous connect whose failures post to `route`), or hears
//!    "Transferring you to Billing." and is transferred to the department's conversation. Anything
//!    else (a timeout, a failed recognition, a key or word that is not in the menu) counts one attempt:
//!    the caller hears why and the menu again, and after `max_retries` re-prompts a polite goodbye,
//!    after which the call ends.
//! 3. **`route`** (the department's connect failed: busy, unanswered, rejected, failed or timeout): an
//!    apology naming the department, and the menu again while attempts remain, else the goodbye.
//!
//! Every other event (started, ringing, answered, completed, …) is answered with nothing (204).
//!
//! # Variables (`[vars]`)
//!
//! | name | default | meaning |
//! |---|---|---|
//! | `departments` | `Sales=447700900001, Support=447700900002` | `Name=target, …`, keys 1 to 9 in order; a target is a number, or `CON-…` to transfer |
//! | `max_retries` | 2 | re-prompts after the first menu (0 to 10) |
//! | `caller_id` | the dialled number | caller ID (`from`) of the connect to a department |
//! | `greeting` | "Thank you for calling." | said once, before the first menu |
//! | `goodbye` | "We are sorry we could not help you this time. …" | said after the maximum retries |
//! | `language` | Vonage's default | BCP-47 language of the talks and of speech recognition |
//! | `ring_timeout` | 30 | seconds a department rings (3 to 7200) |
//! | `input_timeout` | 5 | seconds to wait for a key or speech (1 to 10) |
//!
//! # Call state
//!
//! `attempts` (failed attempts so far), `dialled` (the number the caller dialled, the default caller
//! ID) and `department` (the department being rung, for the `route` apology).

mod menu;
mod settings;

use ncco_sdk::guest::host::{OrWarn, call};
use ncco_sdk::guest::{Context, Plugin, PluginError};
use ncco_sdk::ncco::{Ncco, normalize_phone_number};
use ncco_sdk::webhook::{AnswerRequest, Event};

use menu::Choice;
use settings::Settings;

/// The callback receiving the menu's input result.
pub const MENU_CALLBACK: &str = "menu";
/// The callback receiving the outcome of a department's synchronous connect.
pub const ROUTE_CALLBACK: &str = "route";

const ATTEMPTS: &str = "attempts";
const DIALLED: &str = "dialled";
const DEPARTMENT: &str = "department";

struct IvrMenu;

impl Plugin for IvrMenu {
    fn answer(ctx: &Context, request: AnswerRequest) -> Result<Ncco, PluginError> {
        let settings = Settings::load();
        call::delete(ATTEMPTS).or_warn("resetting the attempts");
        if let Some(dialled) = request.to.as_deref().and_then(normalize_phone_number) {
            call::set_str(DIALLED, &dialled).or_warn("remembering the dialled number");
        }
        ncco_sdk::info!(
            "menu for {} with {} departments",
            request.caller().unwrap_or("an unknown caller"),
            settings.departments.len()
        );
        Ok(menu::prompt(&settings, ctx, &settings.greeting))
    }

    fn event(ctx: &Context, event: Event) -> Result<Option<Ncco>, PluginError> {
        match (ctx.callback.as_deref(), event) {
            (Some(MENU_CALLBACK), Event::Input(input)) => {
                let settings = Settings::load();
                let ncco = match menu::choose(&settings.departments, &input) {
                    Choice::Department(department) => {
                        ncco_sdk::info!("routing to {} ({:?})", department.name, department.target);
                        call::set_str(DEPARTMENT, &department.name).or_warn("remembering the department");
                        let dialled = call::get_string(DIALLED).or_warn("reading the dialled number").flatten();
                        let dialled = dialled.or_else(|| input.to.as_deref().and_then(normalize_phone_number));
                        menu::route(&settings, ctx, department, dialled.as_deref())
                    }
                    Choice::Unknown => retry(&settings, ctx, "Sorry, that is not one of the options."),
                    Choice::Nothing => retry(&settings, ctx, "Sorry, I did not hear your choice."),
                };
                Ok(Some(ncco))
            }
            (Some(ROUTE_CALLBACK), Event::Status(status)) if status.status.is_connect_failure() => {
                let settings = Settings::load();
                let name = call::get_string(DEPARTMENT)
                    .or_warn("reading the department")
                    .flatten()
                    .unwrap_or_else(|| "that department".to_owned());
                ncco_sdk::info!("{name} did not take the call: {}", status.status);
                Ok(Some(retry(&settings, ctx, &format!("Sorry, {name} is not available right now."))))
            }
            _ => Ok(None),
        }
    }
}

/// Counts a failed attempt: `apology` and the menu again, or `apology` and the goodbye after the
/// maximum retries.
fn retry(settings: &Settings, ctx: &Context, apology: &str) -> Ncco {
    // Counted atomically; a count that cannot be kept ends the menu rather than looping forever.
    let attempts = call::increment(ATTEMPTS, 1)
        .or_warn("counting attempts")
        .map_or(u32::MAX, |n| u32::try_from(n).unwrap_or(u32::MAX));
    if attempts > settings.max_retries {
        ncco_sdk::info!("giving up after {attempts} failed attempts");
        return Ncco::new().then(menu::say(settings, apology)).then(menu::say(settings, settings.goodbye.clone()));
    }
    ncco_sdk::info!("attempt {attempts} of {} failed; prompting again", settings.max_retries);
    menu::prompt(settings, ctx, apology)
}

ncco_sdk::export_plugin!(IvrMenu);
