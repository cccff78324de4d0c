//! The voicemail a forwarded call falls back to: the greeting and record NCCO, the message list in
//! app state (key `messages`, oldest first) and what the owner hears about it.

use ncco_sdk::guest::Context;
use ncco_sdk::guest::host::{StateResult, app};
use ncco_sdk::ncco::{Ncco, Record, Talk};
use ncco_sdk::webhook::RecordEvent;
use serde::{Deserialize, Serialize};

use crate::RECORDING_CALLBACK;
use crate::settings::{LATEST, RETENTION_DAYS, Settings};

/// The app-state key of the message list.
pub const MESSAGES: &str = "messages";

/// One voicemail message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Who left it, when known.
    pub caller: Option<String>,
    /// Where the recording is.
    pub recording_url: String,
    /// The recording's id.
    pub recording_uuid: Option<String>,
    /// Its length in seconds, from `start_time` and `end_time`.
    pub duration_seconds: Option<u64>,
    /// When it ended (ISO-8601), else when it was reported.
    pub received_at: Option<String>,
    /// Why the call was not taken (`busy`, `unanswered`, …).
    pub reason: Option<String>,
}

impl Message {
    /// The message a `record` event describes; `None` without a recording URL.
    pub fn from_record(event: &RecordEvent, caller: Option<String>, reason: Option<String>) -> Option<Message> {
        Some(Message {
            caller,
            recording_url: event.recording_url.clone()?,
            recording_uuid: event.recording_uuid.clone(),
            duration_seconds: event.duration_seconds(),
            received_at: event.end_time.clone().or_else(|| event.timestamp.clone()),
            reason,
        })
    }
}

/// `reason`, the greeting, a beep and a recording that ends on `#`, then the goodbye.
pub fn ncco(settings: &Settings, ctx: &Context, reason: &str) -> Ncco {
    let record = Record::new(ctx.callback_url(RECORDING_CALLBACK))
        .beep_start(true)
        .end_on_key('#')
        .end_on_silence(5)
        .time_out(settings.max_length);
    Ncco::new()
        .then(say(settings, format!("{reason} {}", settings.greeting)))
        .then(record)
        .then(say(settings, settings.goodbye.clone()))
}

/// The stored messages, oldest first.
pub fn load() -> StateResult<Vec<Message>> {
    Ok(app::get_json(MESSAGES)?.unwrap_or_default())
}

/// Adds `message` once (a retried record event is not stored twice), keeping the newest
/// `max_messages`. Returns how many there are. Atomic: messages left at the same instant by two
/// callers are both kept.
pub fn store(settings: &Settings, message: &Message) -> StateResult<usize> {
    let stored = app::update_json(MESSAGES, Some(RETENTION_DAYS * 86_400), |messages: Option<Vec<Message>>| {
        let mut messages = messages.unwrap_or_default();
        if !messages.iter().any(|m| m.recording_url == message.recording_url) {
            messages.push(message.clone());
        }
        let excess = messages.len().saturating_sub(settings.max_messages);
        messages.drain(..excess);
        Some(messages)
    })?;
    Ok(stored.map_or(0, |m| m.len()))
}

/// What the owner hears: the number of messages and who left the latest ones.
pub fn summary(messages: &[Message]) -> String {
    let mut text = match messages.len() {
        1 => "You have 1 message.".to_owned(),
        n => format!("You have {n} messages."),
    };
    for m in messages.iter().rev().take(LATEST) {
        let who = match m.caller.as_deref() {
            Some(c) if c.bytes().all(|b| b.is_ascii_digit()) => {
                c.chars().map(String::from).collect::<Vec<_>>().join(" ")
            }
            Some(c) => c.to_owned(),
            None => "an unknown caller".to_owned(),
        };
        let length = m.duration_seconds.map_or_else(|| "unknown length".to_owned(), |s| format!("{s} seconds"));
        text.push_str(&format!(" From {who}, {length}."));
    }
    text
}

/// A talk in the configured language.
pub fn say(settings: &Settings, text: impl Into<String>) -> Talk {
    Talk { language: settings.language.clone(), ..Talk::new(text) }
}
