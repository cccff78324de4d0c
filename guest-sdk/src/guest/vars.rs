//! Typed app variables (`[vars]` of the app's TOML): text, numbers in a range, flags and phone
//! numbers, each falling back to its default, with a warning in the call's log when a value is set
//! but cannot be used.
//!
//! ```no_run
//! use ncco_sdk::guest::vars;
//!
//! let greeting = vars::text("greeting", "Thank you for calling.");
//! let language = vars::optional_text("language", None);
//! let max_retries: u32 = vars::number("max_retries", 2, 0..=10);
//! let record = vars::flag("record", false);
//! let owner = vars::phone("owner");
//! ncco_sdk::info!("{greeting} {language:?} {max_retries} {record} {owner:?}");
//! ```

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;

use super::host::config;
use crate::ncco::normalize_phone_number;

/// The text variable `name`, or `default` when it is unset or blank.
///
/// ```no_run
/// let goodbye = ncco_sdk::guest::vars::text("goodbye", "Goodbye.");
/// # let _ = goodbye;
/// ```
pub fn text(name: &str, default: &str) -> String {
    config(name).filter(|t| !t.trim().is_empty()).unwrap_or_else(|| default.to_owned())
}

/// The text variable `name` where setting it blank means "none": `default` when it is unset,
/// `None` when it is blank, else its text.
///
/// ```no_run
/// use ncco_sdk::guest::vars;
/// // Said while connecting, unless the app sets `hold_message = ""`.
/// let hold = vars::optional_text("hold_message", Some("Please hold."));
/// // Vonage's default language unless one is set.
/// let language = vars::optional_text("language", None);
/// # let _ = (hold, language);
/// ```
pub fn optional_text(name: &str, default: Option<&str>) -> Option<String> {
    match config(name) {
        None => default.map(str::to_owned),
        Some(text) if text.trim().is_empty() => None,
        Some(text) => Some(text),
    }
}

/// The number variable `name` within `range`, or `default` when it is unset. When it is set but is
/// not a number in `range`, a warning is logged (`max_retries: "many" is not a whole number from 0
/// to 10; using 2`; "whole number" for types that do not read `0.5`) and `default` is used.
///
/// ```no_run
/// use ncco_sdk::guest::vars;
/// let ring_timeout: u32 = vars::number("ring_timeout", 30, 3..=7200);
/// let level: f64 = vars::number("level", 0.0, -1.0..=1.0);
/// # let _ = (ring_timeout, level);
/// ```
pub fn number<T: FromStr + PartialOrd + Display + Copy>(name: &str, default: T, range: RangeInclusive<T>) -> T {
    let Some(raw) = config(name) else { return default };
    parse_number(&raw, &range).unwrap_or_else(|| {
        let what = if "0.5".parse::<T>().is_ok() { "number" } else { "whole number" };
        let (min, max) = (range.start(), range.end());
        crate::warn!("{name}: {raw:?} is not a {what} from {min} to {max}; using {default}");
        default
    })
}

/// The boolean variable `name`: `true`, `yes`, `1` or `on`; `false`, `no`, `0` or `off` (in any
/// case); `default` when unset or blank, and `default` with a warning when it is something else.
///
/// ```no_run
/// let record = ncco_sdk::guest::vars::flag("record", false);
/// # let _ = record;
/// ```
pub fn flag(name: &str, default: bool) -> bool {
    let Some(raw) = config(name) else { return default };
    parse_flag(&raw, default).unwrap_or_else(|| {
        crate::warn!("{name}: {raw:?} is not true or false; using {default}");
        default
    })
}

/// The phone-number variable `name` as E.164 digits ([`normalize_phone_number`]), or `None` when it
/// is unset, or (with a warning ending in "ignored") set but not a phone number.
///
/// ```no_run
/// let forward_to = ncco_sdk::guest::vars::phone("forward_to");
/// # let _ = forward_to;
/// ```
pub fn phone(name: &str) -> Option<String> {
    phone_else(name, "ignored")
}

/// [`phone`], with a warning that says what happens instead when the variable is set but is not a
/// phone number: `owner: "me" is not a phone number; nobody hears the messages`.
///
/// ```no_run
/// let owner = ncco_sdk::guest::vars::phone_else("owner", "nobody hears the messages");
/// # let _ = owner;
/// ```
pub fn phone_else(name: &str, consequence: &str) -> Option<String> {
    let raw = config(name)?;
    let number = normalize_phone_number(&raw);
    if number.is_none() {
        crate::warn!("{name}: {raw:?} is not a phone number; {consequence}");
    }
    number
}

/// `raw` (trimmed) as a number within `range`.
fn parse_number<T: FromStr + PartialOrd>(raw: &str, range: &RangeInclusive<T>) -> Option<T> {
    raw.trim().parse::<T>().ok().filter(|n| range.contains(n))
}

/// `raw` as a boolean; `default` when blank, `None` when it is not one.
fn parse_flag(raw: &str, default: bool) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Some(true),
        "false" | "no" | "0" | "off" => Some(false),
        "" => Some(default),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_range() {
        assert_eq!(parse_number(" 7 ", &(3u32..=7200)), Some(7));
        assert_eq!(parse_number("2", &(3u32..=7200)), None);
        assert_eq!(parse_number("-1", &(0u32..=10)), None);
        assert_eq!(parse_number("ten", &(0u32..=10)), None);
        assert_eq!(parse_number("0.5", &(0.0f64..=1.0)), Some(0.5));
        assert_eq!(parse_number("NaN", &(0.0f64..=1.0)), None);
    }

    #[test]
    fn flags() {
        for on in ["true", "YES", " 1 ", "On"] {
            assert_eq!(parse_flag(on, false), Some(true), "{on}");
        }
        for off in ["false", "No", "0", "OFF"] {
            assert_eq!(parse_flag(off, true), Some(false), "{off}");
        }
        assert_eq!(parse_flag("  ", true), Some(true));
        assert_eq!(parse_flag("maybe", false), None);
    }
}
