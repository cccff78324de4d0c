//! The menu's NCCOs (the prompt, a route to a department, the goodbye) and how an input result picks a
//! department.

use ncco_sdk::guest::Context;
use ncco_sdk::ncco::{Connect, Dtmf, Endpoint, Input, Ncco, Speech, Talk, Transfer};
use ncco_sdk::webhook::InputEvent;

use crate::settings::{Department, Settings, Target};
use crate::{MENU_CALLBACK, ROUTE_CALLBACK};

/// Number words a caller may say instead of pressing a key.
const KEY_WORDS: [&str; 9] = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

/// What an input result asked for.
#[derive(Debug, PartialEq, Eq)]
pub enum Choice<'a> {
    /// A department of the menu.
    Department(&'a Department),
    /// Something that is not in the menu.
    Unknown,
    /// No key and no speech (the input timed out, or recognition failed).
    Nothing,
}

/// A talk in the menu's language.
pub fn say(settings: &Settings, text: impl Into<String>) -> Talk {
    Talk { language: settings.language.clone(), ..Talk::new(text) }
}

/// `lead` (not interruptible), then the menu (interruptible), then the input posting to `menu`.
pub fn prompt(settings: &Settings, ctx: &Context, lead: &str) -> Ncco {
    let options: Vec<String> =
        settings.departments.iter().map(|d| format!("For {0}, press {1} or say {0}.", d.name, d.key)).collect();
    let mut hints: Vec<String> = settings.departments.iter().map(|d| d.name.clone()).collect();
    hints.extend(KEY_WORDS.iter().take(settings.departments.len()).map(|w| (*w).to_owned()));
    let mut speech = Speech::new().context(hints).start_timeout(settings.input_timeout).end_on_silence(1.0);
    if let Some(language) = &settings.language {
        speech = speech.language(language.clone());
    }
    let dtmf = Dtmf::new().max_digits(1).time_out(settings.input_timeout);
    Ncco::new()
        .then(say(settings, lead))
        .then(say(settings, options.join(" ")).barge_in(true))
        .then(Input::dtmf_and_speech(dtmf, speech).event_url(ctx.callback_url(MENU_CALLBACK)))
}

/// The NCCO sending the caller to `department`: a talk and a synchronous connect whose failures post
/// to `route`, or a talk and a transfer.
pub fn route(settings: &Settings, ctx: &Context, department: &Department, dialled: Option<&str>) -> Ncco {
    match &department.target {
        Target::Phone(number) => {
            let mut connect = Connect::to(Endpoint::phone(number.clone()))
                .timeout(settings.ring_timeout)
                .synchronous(ctx.callback_url(ROUTE_CALLBACK));
            if let Some(from) = settings.caller_id.as_deref().or(dialled) {
                connect = connect.from(from);
            }
            Ncco::new().then(say(settings, format!("Connecting you to {}.", department.name))).then(connect)
        }
        Target::Conversation(id) => Ncco::new()
            .then(say(settings, format!("Transferring you to {}.", department.name)))
            .then(Transfer::to(id.clone())),
    }
}

/// The department an input result names: by key, else by the first speech hypothesis that names one.
pub fn choose<'a>(departments: &'a [Department], input: &InputEvent) -> Choice<'a> {
    let by_key = |key: Option<char>| departments.iter().find(|d| Some(d.key) == key);
    if let Some(digits) = input.digits().filter(|d| !d.is_empty()) {
        return by_key(digits.chars().next()).map_or(Choice::Unknown, Choice::Department);
    }
    let heard: Vec<&str> =
        input.speech.iter().flat_map(|s| s.results.iter()).map(|a| a.text.trim()).filter(|t| !t.is_empty()).collect();
    if heard.is_empty() {
        return Choice::Nothing;
    }
    for text in heard {
        let spoken = words(text);
        if let Some(d) = departments.iter().find(|d| contains_words(&spoken, &words(&d.name))) {
            return Choice::Department(d);
        }
        let key = KEY_WORDS
            .iter()
            .zip('1'..='9')
            .find(|(word, key)| spoken.iter().any(|w| w == *word || w.len() == 1 && w.starts_with(*key)));
        if let Some(d) = key.and_then(|(_, key)| by_key(Some(key))) {
            return Choice::Department(d);
        }
    }
    Choice::Unknown
}

/// Lower-case alphanumeric words.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// True when `needle` occurs in `haystack` as consecutive words.
fn contains_words(haystack: &[String], needle: &[String]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use ncco_sdk::webhook::Event;

    use super::*;
    use crate::settings::parse_departments;

    fn input(json: &str) -> InputEvent {
        match Event::from_json(json.as_bytes()) {
            Ok(Event::Input(input)) => input,
            other => panic!("not an input: {other:?}"),
        }
    }

    #[test]
    fn keys_names_and_number_words_pick_departments() {
        let (deps, _) = parse_departments("Sales=447700900001, Customer Service=447700900002");
        let pick = |json: &str| match choose(&deps, &input(json)) {
            Choice::Department(d) => Some(d.name.clone()),
            _ => None,
        };
        assert_eq!(pick(r#"{"dtmf":{"digits":"2","timed_out":false}}"#).as_deref(), Some("Customer Service"));
        assert_eq!(choose(&deps, &input(r#"{"dtmf":{"digits":"7","timed_out":false}}"#)), Choice::Unknown);
        let speech = concat!(
            r#"{"dtmf":{"digits":null,"timed_out":false},"speech":{"results":["#,
            r#"{"text":"um","confidence":"0.9"},{"text":"I want customer service please","confidence":"0.5"}]}}"#
        );
        assert_eq!(pick(speech).as_deref(), Some("Customer Service"));
        assert_eq!(pick(r#"{"speech":{"results":[{"text":"One","confidence":"0.8"}]}}"#).as_deref(), Some("Sales"));
        assert_eq!(
            pick(r#"{"speech":{"results":[{"text":"2","confidence":"0.8"}]}}"#).as_deref(),
            Some("Customer Service")
        );
        let nothing =
            r#"{"dtmf":{"digits":null,"timed_out":true},"speech":{"results":[],"timeout_reason":"start_timeout"}}"#;
        assert_eq!(choose(&deps, &input(nothing)), Choice::Nothing);
        assert_eq!(
            choose(&deps, &input(r#"{"speech":{"results":[{"text":"pizza","confidence":"0.9"}]}}"#)),
            Choice::Unknown
        );
    }
}
