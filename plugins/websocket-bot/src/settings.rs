//! The bot's variables (`[vars]` of the app's TOML), read with their defaults.

use ncco_sdk::guest::host::config;
use ncco_sdk::guest::vars;
use ncco_sdk::ncco::{ContentType, MAX_CUSTOM_AUTHORIZATION_CHARS, WebsocketAuthorization};
use serde_json::{Map, Value};

/// Said before connecting when `greeting` is not set.
pub const DEFAULT_GREETING: &str = "Please wait while we connect you to our assistant.";
/// Said before reconnecting when `reconnect_message` is not set.
pub const DEFAULT_RECONNECT_MESSAGE: &str = "Sorry, we lost the connection to our assistant. Reconnecting.";
/// Said when the bot hangs up for good when `goodbye` is not set.
pub const DEFAULT_GOODBYE: &str = "Thank you for calling. Goodbye.";
/// Said when the bot cannot be reached when `unavailable` is not set.
pub const DEFAULT_UNAVAILABLE: &str =
    "Sorry, our assistant is not available right now. Please call again later. Goodbye.";
/// Reconnections after a disconnect when `reconnects` is not set.
pub const DEFAULT_RECONNECTS: u32 = 1;

/// Every variable of the bot, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The bot's `ws://` or `wss://` URI; `None` when unset or unusable.
    pub uri: Option<String>,
    /// The audio format.
    pub content_type: ContentType,
    /// How Vonage authenticates to the bot; `None` for no `authorization`.
    pub authorization: Option<WebsocketAuthorization>,
    /// Extra headers for the bot, from the `headers` variable (a JSON object).
    pub headers: Map<String, Value>,
    /// Said before connecting; `None` when set empty.
    pub greeting: Option<String>,
    /// Said before reconnecting.
    pub reconnect_message: String,
    /// Said when the bot hangs up for good.
    pub goodbye: String,
    /// Said when the bot cannot be reached.
    pub unavailable: String,
    /// Reconnections after a disconnect (0 to 5).
    pub reconnects: u32,
    /// BCP-47 language of the talks (also sent to the bot as the `language` header).
    pub language: Option<String>,
}

impl Settings {
    /// Reads the variables, logging (and replacing by defaults) the ones that cannot be used.
    pub fn load() -> Settings {
        let uri = config("uri").map(|u| u.trim().to_owned()).filter(|u| {
            let lower = u.to_ascii_lowercase();
            let ok = (lower.starts_with("ws://") || lower.starts_with("wss://")) && u.len() > "wss://".len();
            if !ok {
                ncco_sdk::error!("uri: {u:?} is not a ws:// or wss:// URI");
            }
            ok
        });
        if uri.is_none() {
            ncco_sdk::error!("uri is not set: callers hear that the assistant is unavailable");
        }
        let content_type = match config("sample_rate").as_deref().map(str::trim) {
            None | Some("16000") => ContentType::L16Rate16000,
            Some("8000") => ContentType::L16Rate8000,
            Some("24000") => ContentType::L16Rate24000,
            Some(other) => {
                ncco_sdk::warn!("sample_rate: {other:?} is not 8000, 16000 or 24000; using 16000");
                ContentType::L16Rate16000
            }
        };
        let headers = match config("headers") {
            None => Map::new(),
            Some(text) => match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(map)) => map,
                _ => {
                    ncco_sdk::warn!("headers: not a JSON object; ignored");
                    Map::new()
                }
            },
        };
        Settings {
            uri,
            content_type,
            authorization: authorization(),
            headers,
            greeting: vars::optional_text("greeting", Some(DEFAULT_GREETING)),
            reconnect_message: vars::text("reconnect_message", DEFAULT_RECONNECT_MESSAGE),
            goodbye: vars::text("goodbye", DEFAULT_GOODBYE),
            unavailable: vars::text("unavailable", DEFAULT_UNAVAILABLE),
            reconnects: vars::number("reconnects", DEFAULT_RECONNECTS, 0..=5),
            language: vars::optional_text("language", None),
        }
    }
}

/// `auth` (`vonage`, `custom` with `auth_value`, or `none`) as the endpoint's `authorization`.
fn authorization() -> Option<WebsocketAuthorization> {
    let kind = config("auth").map(|k| k.trim().to_ascii_lowercase());
    match kind.as_deref() {
        None | Some("vonage") => Some(WebsocketAuthorization::Vonage),
        Some("none") => None,
        Some("custom") => {
            let value = config("auth_value").unwrap_or_default();
            let printable = value.bytes().all(|b| (0x20..0x7f).contains(&b));
            if printable && !value.is_empty() && value.len() <= MAX_CUSTOM_AUTHORIZATION_CHARS {
                Some(WebsocketAuthorization::Custom { value })
            } else {
                ncco_sdk::warn!(
                    "auth_value: custom authorization needs 1 to {MAX_CUSTOM_AUTHORIZATION_CHARS} printable ASCII characters; using vonage"
                );
                Some(WebsocketAuthorization::Vonage)
            }
        }
        Some(other) => {
            ncco_sdk::warn!("auth: {other:?} is not vonage, custom or none; using vonage");
            Some(WebsocketAuthorization::Vonage)
        }
    }
}
