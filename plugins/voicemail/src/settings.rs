//! The mailbox's variables (`[vars]` of the app's TOML), read with their defaults.

use ncco_sdk::guest::host::config;
use ncco_sdk::guest::vars;

/// Said before the beep when `greeting` is not set.
pub const DEFAULT_GREETING: &str = "The person you are calling is not available. Please leave a message after the beep, and press the hash key when you are done.";
/// Said after the recording when `goodbye` is not set.
pub const DEFAULT_GOODBYE: &str = "Thank you for your message. Goodbye.";
/// Longest message in seconds when `max_length` is not set.
pub const DEFAULT_MAX_LENGTH: u32 = 120;
/// Seconds of silence that end a message when `end_on_silence` is not set.
pub const DEFAULT_END_ON_SILENCE: u32 = 5;
/// The key that ends a message when `end_on_key` is not set.
pub const DEFAULT_END_ON_KEY: char = '#';
/// Days a message is kept when `retention_days` is not set (Vonage keeps recordings for 30 days).
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// Messages kept when `max_messages` is not set (the oldest go first).
pub const DEFAULT_MAX_MESSAGES: usize = 100;
/// Latest messages read out to the owner when `latest` is not set.
pub const DEFAULT_LATEST: usize = 3;

/// Every variable of the mailbox, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The owner's number: calling from it reads out the messages instead of recording one.
    pub owner: Option<String>,
    /// Said before the beep.
    pub greeting: String,
    /// Said after the recording, before the call ends.
    pub goodbye: String,
    /// BCP-47 language of the talks; Vonage's default when `None`.
    pub language: Option<String>,
    /// Longest message, seconds (3 to 7200).
    pub max_length: u32,
    /// Seconds of silence ending a message (3 to 10), or `None` (variable set to 0).
    pub end_on_silence: Option<u32>,
    /// The key ending a message.
    pub end_on_key: char,
    /// Days a message is kept.
    pub retention_days: u32,
    /// Most messages kept.
    pub max_messages: usize,
    /// Latest messages read out to the owner.
    pub latest: usize,
    /// Where each new message is posted, as JSON.
    pub notify_url: Option<String>,
}

impl Settings {
    /// Reads the variables, logging (and replacing by defaults) the ones that cannot be used.
    pub fn load() -> Settings {
        let owner = vars::phone_else("owner", "nobody hears the messages");
        let end_on_key = match config("end_on_key") {
            None => DEFAULT_END_ON_KEY,
            Some(raw) => match raw.trim().chars().collect::<Vec<_>>()[..] {
                [c] if c.is_ascii_digit() || c == '*' || c == '#' => c,
                _ => {
                    ncco_sdk::warn!("end_on_key: {raw:?} is not one of 0-9, * or #; using {DEFAULT_END_ON_KEY}");
                    DEFAULT_END_ON_KEY
                }
            },
        };
        let end_on_silence = match vars::number("end_on_silence", DEFAULT_END_ON_SILENCE, 0..=10) {
            0 => None,
            n @ 1..=2 => {
                ncco_sdk::warn!("end_on_silence: {n} is below Vonage's 3 seconds; using 3");
                Some(3)
            }
            n => Some(n),
        };
        Settings {
            owner,
            greeting: vars::text("greeting", DEFAULT_GREETING),
            goodbye: vars::text("goodbye", DEFAULT_GOODBYE),
            language: vars::optional_text("language", None),
            max_length: vars::number("max_length", DEFAULT_MAX_LENGTH, 3..=7200),
            end_on_silence,
            end_on_key,
            retention_days: vars::number("retention_days", DEFAULT_RETENTION_DAYS, 1..=3650),
            max_messages: vars::number("max_messages", DEFAULT_MAX_MESSAGES, 1..=500),
            latest: vars::number("latest", DEFAULT_LATEST, 0..=10),
            notify_url: vars::optional_text("notify_url", None).filter(|u| {
                let ok = u.starts_with("https://") || u.starts_with("http://");
                if !ok {
                    ncco_sdk::warn!("notify_url: {u:?} is not an http(s) URL; no message is posted");
                }
                ok
            }),
        }
    }
}
