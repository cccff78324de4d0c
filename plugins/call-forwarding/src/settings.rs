//! The forwarding's variables (`[vars]` of the app's TOML), read with their defaults.

use ncco_sdk::guest::host::config;

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
pub const DEFAULT_MAX_MESSAGES: u32 = 100;
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
        let forward_to = number_var("forward_to");
        if forward_to.is_none() {
            ncco_sdk::error!("forward_to is not set to a phone number: every call goes to voicemail");
        }
        let owner = number_var("owner").or_else(|| forward_to.clone());
        Settings {
            caller_id: number_var("caller_id"),
            ring_timeout: whole("ring_timeout", DEFAULT_RING_TIMEOUT, 3, 7200),
            hold_message: match config("hold_message") {
                None => Some(DEFAULT_HOLD_MESSAGE.to_owned()),
                Some(text) if text.trim().is_empty() => None,
                Some(text) => Some(text),
            },
            forward_to,
            owner,
            greeting: text_var("greeting", DEFAULT_GREETING),
            goodbye: text_var("goodbye", DEFAULT_GOODBYE),
            language: config("language").filter(|l| !l.trim().is_empty()),
            max_length: whole("max_length", DEFAULT_MAX_LENGTH, 3, 7200),
            max_messages: whole("max_messages", DEFAULT_MAX_MESSAGES, 1, 500) as usize,
        }
    }
}

/// A phone-number variable, or `None` (with a warning when it is set but not a number).
fn number_var(name: &str) -> Option<String> {
    let raw = config(name)?;
    let number = phone_number(&raw);
    if number.is_none() {
        ncco_sdk::warn!("{name}: {raw:?} is not a phone number; ignored");
    }
    number
}

/// A text variable, or `default` when unset or blank.
fn text_var(name: &str, default: &str) -> String {
    config(name).filter(|t| !t.trim().is_empty()).unwrap_or_else(|| default.to_owned())
}

/// A whole-number variable within `min..=max`, or `default` (with a warning) when it is not one.
fn whole(name: &str, default: u32, min: u32, max: u32) -> u32 {
    let Some(raw) = config(name) else { return default };
    match raw.trim().parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => n,
        _ => {
            ncco_sdk::warn!("{name}: {raw:?} is not a whole number from {min} to {max}; using {default}");
            default
        }
    }
}

/// E.164 digits from a number as people write it (`+44 7700 900001`).
pub fn phone_number(raw: &str) -> Option<String> {
    let digits: String = raw.trim().trim_start_matches('+').chars().filter(|c| !matches!(c, ' ' | '-' | '.')).collect();
    let ok = (1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(digits)
}
