//! The forwarding's variables (`[vars]` of the app's TOML), read with their defaults.

use ncco_sdk::guest::vars;

/// Seconds the forwarded call rings when `ring_timeout` is not set.
pub const DEFAULT_RING_TIMEOUT: u32 = 20;
/// Said while the call is forwarded when `hold_message` is not set.
pub const DEFAULT_HOLD_MESSAGE: &str = "Please hold while we connect your call.";
/// Said before the beep, after the reason, when `greeting` is not set.
pub const DEFAULT_GREETING: &str = "Please leave a message after the beep, and press the hash key when you are done.";
/// Said after the recording when `goodbye` is not set.
pub const DEFAULT_GOODBYE: &str = "Thank you for your message. Goodbye.";
/// Longest message in seconds when `max_length` is not set.
pub const DEFAULT_MAX_LENGTH: u32 = 120;
/// Messages kept when `max_messages` is not set (the oldest go first).
pub const DEFAULT_MAX_MESSAGES: usize = 100;
/// Days the message list is kept after its last change (Vonage keeps recordings for 30 days).
pub const RETENTION_DAYS: u32 = 30;
/// Latest messages read out to the owner.
pub const LATEST: usize = 3;

/// Every variable of the forwarding, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The number calls are forwarded to; `None` sends every call to voicemail.
    pub forward_to: Option<String>,
    /// Caller ID of the forwarded call; `None` uses the number the caller dialled.
    pub caller_id: Option<String>,
    /// Seconds the forwarded call rings (3 to 7200).
    pub ring_timeout: u32,
    /// Said while the call is forwarded; `None` when the variable is set empty.
    pub hold_message: Option<String>,
    /// The number whose calls hear the messages (default `forward_to`).
    pub owner: Option<String>,
    /// Said before the beep, after the reason.
    pub greeting: String,
    /// Said after the recording.
    pub goodbye: String,
    /// BCP-47 language of the talks; Vonage's default when `None`.
    pub language: Option<String>,
    /// Longest message, seconds (3 to 7200).
    pub max_length: u32,
    /// Most messages kept.
    pub max_messages: usize,
}

impl Settings {
    /// Reads the variables, logging (and replacing by defaults) the ones that cannot be used.
    pub fn load() -> Settings {
        let forward_to = vars::phone("forward_to");
        if forward_to.is_none() {
            ncco_sdk::error!("forward_to is not set to a phone number: every call goes to voicemail");
        }
        let owner = vars::phone("owner").or_else(|| forward_to.clone());
        Settings {
            caller_id: vars::phone("caller_id"),
            ring_timeout: vars::number("ring_timeout", DEFAULT_RING_TIMEOUT, 3..=7200),
            hold_message: vars::optional_text("hold_message", Some(DEFAULT_HOLD_MESSAGE)),
            forward_to,
            owner,
            greeting: vars::text("greeting", DEFAULT_GREETING),
            goodbye: vars::text("goodbye", DEFAULT_GOODBYE),
            language: vars::optional_text("language", None),
            max_length: vars::number("max_length", DEFAULT_MAX_LENGTH, 3..=7200),
            max_messages: vars::number("max_messages", DEFAULT_MAX_MESSAGES, 1..=500),
        }
    }
}
