//! `websocket-bot`: connects callers to a voice bot that takes the call's audio over a websocket.
//!
//! # Flow
//!
//! 1. **answer**: the caller and the dialled number are kept in call state; the greeting, then a
//!    `connect` to the websocket `uri` (16-bit linear PCM at `sample_rate`) with `headers` (the bot
//!    reads them in the first websocket message: `caller`, `called`, `conversation_uuid`, `attempt`,
//!    `language`, plus the `headers` variable's own) and `authorization` (`vonage`: Vonage's signed
//!    JWT as a bearer token; `custom`: `auth_value` verbatim). The connect is synchronous and its
//!    `eventUrl` is the `socket` callback.
//! 2. **`socket`** with `disconnected` (the bot closed the websocket): while fewer than `reconnects`
//!    reconnections were made in this call (counted in call state), the reconnect message and the
//!    same connect again (`attempt` + 1); then the goodbye, after which the call ends.
//! 3. **`socket`** with `failed`, `unanswered`, `rejected`, `busy` or `timeout` (the bot cannot be
//!    reached): the unavailable message, after which the call ends.
//!
//! Every other event (started, ringing, answered, completed, …) is answered with nothing (204).
//! Without a usable `uri`, callers hear the unavailable message at once.
//!
//! # Variables (`[vars]`)
//!
//! | name | default | meaning |
//! |---|---|---|
//! | `uri` | none | the bot's `ws://` or `wss://` URI |
//! | `sample_rate` | 16000 | audio rate: 8000, 16000 or 24000 |
//! | `auth` | `vonage` | `vonage`, `custom` (sends `auth_value`) or `none` |
//! | `auth_value` | none | the raw `Authorization` header value for `auth = "custom"` |
//! | `headers` | none | a JSON object of extra headers for the bot (all headers together: 512 bytes at most) |
//! | `greeting` | "Please wait while we connect you to our assistant." | said before connecting; empty for none |
//! | `reconnects` | 1 | reconnections after the bot disconnects (0 to 5) |
//! | `reconnect_message` | "Sorry, we lost the connection to our assistant. Reconnecting." | said before reconnecting |
//! | `goodbye` | "Thank you for calling. Goodbye." | said when the bot disconnects for good |
//! | `unavailable` | "Sorry, our assistant is not available right now. …" | said when the bot cannot be reached |
//! | `language` | Vonage's default | BCP-47 language of the talks, and the `language` header |
//!
//! # Call state
//!
//! `caller`, `called` (for the headers of a reconnection) and `reconnects` (made so far).

mod settings;

use ncco_sdk::guest::host::{OrWarn, call};
use ncco_sdk::guest::{Context, Plugin, PluginError};
use ncco_sdk::ncco::{Connect, Endpoint, MAX_WEBSOCKET_HEADERS_BYTES, Ncco, Talk, WebsocketEndpoint};
use ncco_sdk::webhook::{AnswerRequest, CallStatus, Event};
use serde_json::{Map, Value};

use settings::Settings;

/// The callback receiving the websocket leg's events.
pub const SOCKET_CALLBACK: &str = "socket";

const CALLER: &str = "caller";
const CALLED: &str = "called";
const RECONNECTS: &str = "reconnects";

struct WebsocketBot;

impl Plugin for WebsocketBot {
    fn answer(ctx: &Context, request: AnswerRequest) -> Result<Ncco, PluginError> {
        let settings = Settings::load();
        for (key, value) in [(CALLER, request.caller()), (CALLED, request.to.as_deref())] {
            match value {
                Some(v) => call::set_str(key, v),
                None => call::delete(key),
            }
            .or_warn("remembering the call's numbers");
        }
        call::delete(RECONNECTS).or_warn("resetting the reconnections");
        let Some(connect) = connect(&settings, ctx, 1) else {
            return Ok(Ncco::new().then(say(&settings, settings.unavailable.clone())));
        };
        ncco_sdk::info!("connecting {} to the bot", request.caller().unwrap_or("an unknown caller"));
        let mut ncco = Ncco::new();
        if let Some(greeting) = &settings.greeting {
            ncco = ncco.then(say(&settings, greeting.clone()));
        }
        Ok(ncco.then(connect))
    }

    fn event(ctx: &Context, event: Event) -> Result<Option<Ncco>, PluginError> {
        let (Some(SOCKET_CALLBACK), Event::Status(status)) = (ctx.callback.as_deref(), event) else {
            return Ok(None);
        };
        let settings = Settings::load();
        match status.status {
            CallStatus::Disconnected => {
                // Without the count, no reconnection: a bot that keeps dropping must not loop forever.
                let done = call::get_json::<u32>(RECONNECTS)
                    .or_warn("reading the reconnections")
                    .map_or(u32::MAX, Option::unwrap_or_default);
                if done < settings.reconnects
                    && let Some(connect) = connect(&settings, ctx, done + 2)
                    && call::set_json(RECONNECTS, &(done + 1)).or_warn("counting the reconnection").is_some()
                {
                    ncco_sdk::info!("the bot disconnected; reconnection {} of {}", done + 1, settings.reconnects);
                    let reconnect = say(&settings, settings.reconnect_message.clone());
                    return Ok(Some(Ncco::new().then(reconnect).then(connect)));
                }
                ncco_sdk::info!("the bot disconnected after {done} reconnections: goodbye");
                Ok(Some(Ncco::new().then(say(&settings, settings.goodbye.clone()))))
            }
            _ if status.status.is_connect_failure() => {
                ncco_sdk::warn!("the bot cannot be reached: {}", status.status);
                Ok(Some(Ncco::new().then(say(&settings, settings.unavailable.clone()))))
            }
            _ => Ok(None),
        }
    }
}

/// The connect to the bot for connection number `attempt` (1 first); `None` without a usable `uri`.
fn connect(settings: &Settings, ctx: &Context, attempt: u32) -> Option<Connect> {
    let endpoint = WebsocketEndpoint::new(settings.uri.clone()?, settings.content_type);
    let mut endpoint =
        headers(settings, ctx, attempt).into_iter().fold(endpoint, |e, (key, value)| e.header(key, value));
    if let Some(authorization) = settings.authorization.clone() {
        endpoint = endpoint.authorization(authorization);
    }
    Some(Connect::to(Endpoint::Websocket(endpoint)).synchronous(ctx.callback_url(SOCKET_CALLBACK)))
}

/// The headers the bot receives: the `headers` variable's, then the call's (which win). The
/// variable's are left out when everything together would pass Vonage's 512 bytes.
fn headers(settings: &Settings, ctx: &Context, attempt: u32) -> Map<String, Value> {
    let mut own = Map::new();
    for (key, value) in [
        ("caller", call::get_string(CALLER).or_warn("reading the caller").flatten()),
        ("called", call::get_string(CALLED).or_warn("reading the called number").flatten()),
        ("conversation_uuid", ctx.conversation_uuid.clone()),
        ("language", settings.language.clone()),
    ] {
        if let Some(v) = value {
            own.insert(key.to_owned(), Value::String(v));
        }
    }
    own.insert("attempt".to_owned(), Value::from(attempt));
    let mut all = settings.headers.clone();
    all.extend(own.clone());
    if Value::Object(all.clone()).to_string().len() <= MAX_WEBSOCKET_HEADERS_BYTES {
        return all;
    }
    ncco_sdk::warn!("the headers variable would pass {MAX_WEBSOCKET_HEADERS_BYTES} bytes of headers: left out");
    if Value::Object(own.clone()).to_string().len() > MAX_WEBSOCKET_HEADERS_BYTES {
        own.remove("caller");
        own.remove("called");
    }
    own
}

/// A talk in the configured language.
fn say(settings: &Settings, text: impl Into<String>) -> Talk {
    Talk { language: settings.language.clone(), ..Talk::new(text) }
}

ncco_sdk::export_plugin!(WebsocketBot);
