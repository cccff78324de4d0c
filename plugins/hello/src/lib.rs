//! `hello`: greets the caller, offers a one-key menu, and reads the key back from the `menu`
//! callback. Variables: `greeting` (default "Hello").

use ncco_sdk::guest::host::config;
use ncco_sdk::guest::{Context, Plugin, PluginError};
use ncco_sdk::ncco::{Dtmf, Input, Ncco, Talk};
use ncco_sdk::webhook::{AnswerRequest, Event};

struct Hello;

impl Plugin for Hello {
    fn answer(ctx: &Context, request: AnswerRequest) -> Result<Ncco, PluginError> {
        let greeting = config("greeting").unwrap_or_else(|| "Hello".to_owned());
        let caller = request.caller().unwrap_or("caller").to_owned();
        let account = ctx.claims.as_ref().and_then(|c| c.api_key.as_deref()).unwrap_or("unsigned");
        ncco_sdk::info!("answering {caller} on version {} for account {account}", ctx.version);
        Ok(Ncco::new()
            .talk(format!("{greeting} {caller}."))
            .then(Talk::new("Press any key.").barge_in(true))
            .then(Input::dtmf(Dtmf::new().max_digits(1).time_out(5)).event_url(ctx.callback_url("menu"))))
    }

    fn event(ctx: &Context, event: Event) -> Result<Option<Ncco>, PluginError> {
        match (ctx.callback.as_deref(), event) {
            (Some("menu"), Event::Input(input)) => {
                let digits = input.digits().unwrap_or("nothing").to_owned();
                Ok(Some(Ncco::new().talk(format!("You pressed {digits}. Goodbye."))))
            }
            _ => Ok(None),
        }
    }
}

ncco_sdk::export_plugin!(Hello);
