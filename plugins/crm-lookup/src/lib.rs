//! `crm-lookup`: looks the caller up in the customer's CRM before answering, greets them by name and
//! routes them by tier; a CRM that does not know the caller, refuses, fails or is slow still gets
//! the caller a greeting in time (a generic one, never the host's fallback).
//!
//! # Flow
//!
//! 1. **answer**: `GET {crm_url}/callers/{from}` (the caller's number, percent-encoded), with
//!    `accept: application/json` and the `crm_token` as a bearer token when set, waiting at most
//!    `crm_timeout_ms`.
//!    - a 200 with `{"name": "Ada", "tier": "gold"}`: "Hello Ada, welcome back." Then a `gold`
//!      caller is connected to `gold_number` at once; any other tier hears the menu;
//!    - anything else (a 404, another status, a body that is not such JSON, a refusal by the host,
//!      a timeout): "Hello, thank you for calling." and the menu.
//! 2. **`menu`** (the key press): `1` connects to `sales_number`, `2` to `support_number`; nothing
//!    or another key hears the menu once more (call state `menu_tries` counts), then the goodbye.
//!
//! # Variables (`[vars]`)
//!
//! | name | default | meaning |
//! |---|---|---|
//! | `crm_url` | none | the CRM's base URL; without it every caller gets the generic greeting |
//! | `crm_token` | none | sent as `authorization: Bearer …` |
//! | `crm_timeout_ms` | 1000 | longest wait for the CRM (50 to 10000; the webhook's own deadline comes first) |
//! | `gold_number` | none | where `gold` callers are connected; without it they hear the menu |
//! | `sales_number`, `support_number` | none | the menu's destinations (E.164) |
//! | `caller_id` | the number dialled | `from` of the connected calls |
//! | `company` | none | "thank you for calling {company}" in the generic greeting |
//!
//! The app's `allowed_outbound_hosts` must name the CRM's scheme, host and port, and its `timeout_ms`
//! leave room for the CRM (see `app.toml`).

mod crm;

use ncco_sdk::guest::host::{OrWarn, call};
use ncco_sdk::guest::{Context, Plugin, PluginError, vars};
use ncco_sdk::ncco::{Connect, Dtmf, Endpoint, Input, Ncco, Talk};
use ncco_sdk::webhook::{AnswerRequest, Event};

use crm::Lookup;

/// The callback of the menu's key press.
pub const MENU: &str = "menu";
/// Call state: how many times the caller pressed a key the menu does not have.
const TRIES: &str = "menu_tries";

struct CrmLookup;

impl Plugin for CrmLookup {
    fn answer(ctx: &Context, request: AnswerRequest) -> Result<Ncco, PluginError> {
        let caller = request.caller().unwrap_or_default().to_owned();
        let dialled = request.to.clone();
        let greeting = match crm::lookup(&caller) {
            Lookup::Found(record) => {
                ncco_sdk::info!("crm: {caller} is {} ({})", record.name, record.tier.as_deref().unwrap_or("no tier"));
                let hello = Talk::new(format!("Hello {}, welcome back.", record.name));
                if record.tier.as_deref() == Some("gold")
                    && let Some(number) = vars::phone("gold_number")
                {
                    return Ok(Ncco::new().then(hello).then(connect(number, dialled)));
                }
                hello
            }
            Lookup::Unknown(why) => {
                ncco_sdk::info!("crm: {why}; the generic greeting");
                match vars::optional_text("company", None) {
                    Some(company) => Talk::new(format!("Hello, thank you for calling {company}.")),
                    None => Talk::new("Hello, thank you for calling."),
                }
            }
        };
        let [say, key] = menu(ctx);
        Ok(Ncco::new().then(greeting).then(say).then(key))
    }

    fn event(ctx: &Context, event: Event) -> Result<Option<Ncco>, PluginError> {
        let (Some(MENU), Event::Input(input)) = (ctx.callback.as_deref(), &event) else { return Ok(None) };
        let target = match input.digits() {
            Some("1") => vars::phone("sales_number"),
            Some("2") => vars::phone("support_number"),
            _ => None,
        };
        let ncco = match target {
            Some(number) => Ncco::new().talk("Connecting you now.").then(connect(number, input.to.clone())),
            None => {
                // The menu is heard at most twice.
                let tries = call::increment(TRIES, 1).or_warn("counting the menu's tries").unwrap_or(2);
                if tries >= 2 {
                    Ncco::new().talk("Sorry, we could not help you this time. Goodbye.")
                } else {
                    let [say, key] = menu(ctx);
                    Ncco::new().talk("Sorry, that is not an option.").then(say).then(key)
                }
            }
        };
        Ok(Some(ncco))
    }
}

/// The menu: a spoken list, then one key.
fn menu(ctx: &Context) -> [ncco_sdk::ncco::Action; 2] {
    [
        Talk::new("Press 1 for sales, or 2 for support.").barge_in(true).into(),
        Input::dtmf(Dtmf::new().max_digits(1).time_out(5)).event_url(ctx.callback_url(MENU)).into(),
    ]
}

/// A connect to `number`, from `caller_id` or the number the caller dialled.
fn connect(number: String, dialled: Option<String>) -> Connect {
    let connect = Connect::to(Endpoint::phone(number));
    match vars::phone("caller_id").or(dialled) {
        Some(from) => connect.from(from),
        None => connect,
    }
}

ncco_sdk::export_plugin!(CrmLookup);
