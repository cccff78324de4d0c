//! The conference's variables (`[vars]` of the app's TOML), read with their defaults.

use ncco_sdk::guest::host::config;
use ncco_sdk::guest::vars;

/// The room when `room` is not set.
pub const DEFAULT_ROOM: &str = "conference";
/// Hold music for attendees when `music_on_hold_url` is not set (Vonage's public example audio).
pub const DEFAULT_MUSIC_ON_HOLD_URL: &str =
    "https://nexmo-community.github.io/ncco-examples/assets/voice_api_audio_streaming.mp3";
/// Said first when `welcome` is not set.
pub const DEFAULT_WELCOME: &str = "Welcome to the conference.";
/// PIN retries after the first when `max_retries` is not set.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// Seconds to wait after the last key when `input_timeout` is not set.
pub const DEFAULT_INPUT_TIMEOUT: u32 = 5;
/// Longest PIN: DTMF input takes at most 20 digits.
pub const MAX_PIN_DIGITS: usize = 20;

/// Every variable of the conference, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The conversation name.
    pub room: String,
    /// The PIN that makes a caller moderator.
    pub moderator_pin: Option<String>,
    /// The PIN that makes a caller attendee.
    pub attendee_pin: Option<String>,
    /// PIN retries after the first.
    pub max_retries: u32,
    /// Music attendees hear until the moderator joins; `None` when set empty.
    pub music_on_hold_url: Option<String>,
    /// Record the conference.
    pub record: bool,
    /// Attendees join muted.
    pub mute_attendees: bool,
    /// Said first.
    pub welcome: String,
    /// BCP-47 language of the talks; Vonage's default when `None`.
    pub language: Option<String>,
    /// Seconds to wait after the last key (1 to 10).
    pub input_timeout: u32,
}

impl Settings {
    /// Reads the variables, logging (and replacing by defaults) the ones that cannot be used.
    pub fn load() -> Settings {
        let music_on_hold_url = match config("music_on_hold_url") {
            None => Some(DEFAULT_MUSIC_ON_HOLD_URL.to_owned()),
            Some(url) if url.trim().is_empty() => None,
            Some(url) if ncco_sdk::is_http_url(url.trim()) => Some(url.trim().to_owned()),
            Some(url) => {
                ncco_sdk::warn!("music_on_hold_url: {url:?} is not an http(s) URL; using the default");
                Some(DEFAULT_MUSIC_ON_HOLD_URL.to_owned())
            }
        };
        Settings {
            room: vars::text("room", DEFAULT_ROOM).trim().to_owned(),
            moderator_pin: pin("moderator_pin"),
            attendee_pin: pin("attendee_pin"),
            max_retries: vars::number("max_retries", DEFAULT_MAX_RETRIES, 0..=10),
            music_on_hold_url,
            record: vars::flag("record", false),
            mute_attendees: vars::flag("mute_attendees", false),
            welcome: vars::text("welcome", DEFAULT_WELCOME),
            language: vars::optional_text("language", None),
            input_timeout: vars::number("input_timeout", DEFAULT_INPUT_TIMEOUT, 1..=10),
        }
    }

    /// The most digits a PIN has (at least 1).
    pub fn pin_digits(&self) -> u32 {
        let longest =
            [&self.moderator_pin, &self.attendee_pin].iter().filter_map(|p| p.as_ref().map(String::len)).max();
        u32::try_from(longest.unwrap_or(1)).unwrap_or(1)
    }
}

/// A PIN variable: 1 to 20 digits, or `None` (with a warning when it is set but not one).
fn pin(name: &str) -> Option<String> {
    let raw = config(name)?;
    let pin = raw.trim();
    if !pin.is_empty() && pin.len() <= MAX_PIN_DIGITS && pin.bytes().all(|b| b.is_ascii_digit()) {
        return Some(pin.to_owned());
    }
    ncco_sdk::warn!("{name}: a PIN is 1 to {MAX_PIN_DIGITS} digits; ignoring the one set");
    None
}
