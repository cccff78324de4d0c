//! The menu's variables (`[vars]` of the app's TOML), read with their defaults.

use ncco_sdk::guest::host::config;
use ncco_sdk::guest::vars;
use ncco_sdk::ncco::normalize_phone_number;

/// The departments when `departments` is not set: two examples in the UK's range for fiction.
pub const DEFAULT_DEPARTMENTS: &str = "Sales=447700900001, Support=447700900002";
/// Re-prompts after the first menu when `max_retries` is not set.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// Seconds a department rings when `ring_timeout` is not set.
pub const DEFAULT_RING_TIMEOUT: u32 = 30;
/// Seconds to wait for a key press or speech when `input_timeout` is not set.
pub const DEFAULT_INPUT_TIMEOUT: u32 = 5;
/// Said first when `greeting` is not set.
pub const DEFAULT_GREETING: &str = "Thank you for calling.";
/// Said last, after the maximum retries, when `goodbye` is not set.
pub const DEFAULT_GOODBYE: &str = "We are sorry we could not help you this time. Please call again later. Goodbye.";
/// Most departments in one menu: one per key, 1 to 9.
pub const MAX_DEPARTMENTS: usize = 9;

/// Where a department's calls go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Ring this number (E.164 digits).
    Phone(String),
    /// Transfer the call into this existing conversation (`CON-…`).
    Conversation(String),
}

/// One menu entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    /// The key that picks it, `1` to `9` in the order of `departments`.
    pub key: char,
    /// The name said in the menu and matched against speech.
    pub name: String,
    /// Where the call goes.
    pub target: Target,
}

/// Every variable of the menu, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The menu, in key order.
    pub departments: Vec<Department>,
    /// Re-prompts allowed after the first menu.
    pub max_retries: u32,
    /// Caller ID for connects; `None` uses the number the caller dialled.
    pub caller_id: Option<String>,
    /// Said once, before the first menu.
    pub greeting: String,
    /// Said after the maximum retries, before the call ends.
    pub goodbye: String,
    /// BCP-47 language of the talks and of speech recognition; Vonage's default when `None`.
    pub language: Option<String>,
    /// Seconds a department rings (3 to 7200).
    pub ring_timeout: u32,
    /// Seconds to wait for input (1 to 10).
    pub input_timeout: u32,
}

impl Settings {
    /// Reads the variables, logging (and replacing by defaults) the ones that cannot be used.
    pub fn load() -> Settings {
        let text = config("departments").unwrap_or_else(|| DEFAULT_DEPARTMENTS.to_owned());
        let (mut departments, rejected) = parse_departments(&text);
        for entry in rejected {
            ncco_sdk::warn!(
                "departments: ignoring {entry:?} (write Name=number or Name=CON-id, at most {MAX_DEPARTMENTS})"
            );
        }
        if departments.is_empty() {
            ncco_sdk::warn!("departments: nothing usable in {text:?}; using {DEFAULT_DEPARTMENTS:?}");
            departments = parse_departments(DEFAULT_DEPARTMENTS).0;
        }
        Settings {
            departments,
            caller_id: vars::phone_else("caller_id", "using the dialled number"),
            max_retries: vars::number("max_retries", DEFAULT_MAX_RETRIES, 0..=10),
            greeting: vars::text("greeting", DEFAULT_GREETING),
            goodbye: vars::text("goodbye", DEFAULT_GOODBYE),
            language: vars::optional_text("language", None),
            ring_timeout: vars::number("ring_timeout", DEFAULT_RING_TIMEOUT, 3..=7200),
            input_timeout: vars::number("input_timeout", DEFAULT_INPUT_TIMEOUT, 1..=10),
        }
    }
}

/// Reads `Name=target, Name=target, …` into departments keyed 1, 2, … in order; returns the entries
/// it could not use too. A target is a phone number or a conversation id (`CON-…`).
pub fn parse_departments(text: &str) -> (Vec<Department>, Vec<String>) {
    let mut departments = Vec::new();
    let mut rejected = Vec::new();
    for entry in text.split([',', ';', '\n']).map(str::trim).filter(|e| !e.is_empty()) {
        let parsed = entry.split_once('=').and_then(|(name, target)| {
            let (name, target) = (name.trim(), target.trim());
            let target = if target.starts_with("CON-") && target.len() > 4 {
                Target::Conversation(target.to_owned())
            } else {
                Target::Phone(normalize_phone_number(target)?)
            };
            (!name.is_empty()).then(|| (name.to_owned(), target))
        });
        match parsed {
            Some((name, target)) if departments.len() < MAX_DEPARTMENTS => {
                let key = char::from(b'1' + departments.len() as u8);
                departments.push(Department { key, name, target });
            }
            _ => rejected.push(entry.to_owned()),
        }
    }
    (departments, rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn departments_are_keyed_in_order_and_bad_entries_are_reported() {
        let (deps, rejected) =
            parse_departments("Sales=+44 7700 900001; Customer Service = 447700900002, Billing=CON-42, oops, X=abc");
        assert_eq!(deps.len(), 3);
        assert_eq!((deps[0].key, deps[0].name.as_str()), ('1', "Sales"));
        assert_eq!(deps[0].target, Target::Phone("447700900001".into()));
        assert_eq!((deps[1].key, deps[1].name.as_str()), ('2', "Customer Service"));
        assert_eq!(deps[2].target, Target::Conversation("CON-42".into()));
        assert_eq!(rejected, ["oops", "X=abc"]);
    }

    #[test]
    fn at_most_nine_departments() {
        let text: Vec<String> = (0..12).map(|i| format!("D{i}=4477009000{i:02}")).collect();
        let (deps, rejected) = parse_departments(&text.join(","));
        assert_eq!(deps.len(), MAX_DEPARTMENTS);
        assert_eq!(deps[8].key, '9');
        assert_eq!(rejected.len(), 3);
    }
}
