//! The stored messages: one JSON list in app state (key `messages`), oldest first, capped in number
//! and age; and how they are read out to the owner.

use std::time::{SystemTime, UNIX_EPOCH};

use ncco_sdk::guest::host::{StateResult, app};
use ncco_sdk::webhook::{RecordEvent, unix_millis};
use serde::{Deserialize, Serialize};

use crate::settings::Settings;

/// The app-state key of the message list.
pub const MESSAGES: &str = "messages";

/// One voicemail message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Who left it (`from` of the answer request), when known.
    pub caller: Option<String>,
    /// Where the recording is (needs a JWT of the Vonage application to download).
    pub recording_url: String,
    /// The recording's id.
    pub recording_uuid: Option<String>,
    /// Its length in seconds, from `start_time` and `end_time`.
    pub duration_seconds: Option<u64>,
    /// When it ended (ISO-8601), else when it was reported.
    pub received_at: Option<String>,
    /// Its size in bytes.
    pub size: Option<u64>,
    /// The call that left it.
    pub conversation_uuid: Option<String>,
}

impl Message {
    /// The message a `record` event describes, left by `caller`; `None` without a recording URL.
    pub fn from_record(event: &RecordEvent, caller: Option<String>) -> Option<Message> {
        Some(Message {
            caller,
            recording_url: event.recording_url.clone()?,
            recording_uuid: event.recording_uuid.clone(),
            duration_seconds: event.duration_seconds(),
            received_at: event.end_time.clone().or_else(|| event.timestamp.clone()),
            size: event.size,
            conversation_uuid: event.conversation_uuid.clone(),
        })
    }
}

/// The stored messages, oldest first, without those older than the retention.
pub fn load(settings: &Settings) -> StateResult<Vec<Message>> {
    let mut messages: Vec<Message> = app::get_json(MESSAGES)?.unwrap_or_default();
    prune(settings, &mut messages);
    Ok(messages)
}

/// Adds `message` (once: a retried record event is not stored twice), keeping at most
/// `max_messages`, the newest, none older than the retention. Returns how many messages there are.
///
/// Atomic (compare-and-set, retried): two messages ending in the same instant are both kept.
pub fn store(settings: &Settings, message: &Message) -> StateResult<usize> {
    let ttl = Some(settings.retention_days.saturating_mul(86_400));
    let stored = app::update_json(MESSAGES, ttl, |messages: Option<Vec<Message>>| {
        let mut messages = messages.unwrap_or_default();
        if !messages.iter().any(|m| m.recording_url == message.recording_url) {
            messages.push(message.clone());
        }
        prune(settings, &mut messages);
        let excess = messages.len().saturating_sub(settings.max_messages);
        messages.drain(..excess);
        Some(messages)
    })?;
    Ok(stored.map_or(0, |m| m.len()))
}

/// Drops the messages older than `retention_days` (those without a readable time are kept).
fn prune(settings: &Settings, messages: &mut Vec<Message>) {
    let retention_ms = i64::from(settings.retention_days) * 86_400_000;
    let now = now_millis();
    messages.retain(|m| m.received_at.as_deref().and_then(unix_millis).is_none_or(|t| now - t <= retention_ms));
}

/// What the owner hears: how many messages there are, and who left the latest ones.
pub fn summary(settings: &Settings, messages: &[Message]) -> String {
    let mut text = match messages.len() {
        0 => "You have no messages.".to_owned(),
        1 => "You have 1 message.".to_owned(),
        n => format!("You have {n} messages."),
    };
    for (i, m) in messages.iter().rev().take(settings.latest).enumerate() {
        let who = m.caller.as_deref().map_or_else(|| "an unknown caller".to_owned(), spoken_caller);
        let length = match m.duration_seconds {
            Some(1) => "1 second long".to_owned(),
            Some(n) => format!("{n} seconds long"),
            None => "of unknown length".to_owned(),
        };
        let which = if i == 0 { "The latest message".to_owned() } else { format!("Message {}", i + 1) };
        text.push_str(&format!(" {which} is from {who}, {length}."));
    }
    text
}

/// A number read digit by digit ("4 4 7 7 …"); a Client SDK user name as it is.
fn spoken_caller(caller: &str) -> String {
    if caller.bytes().all(|b| b.is_ascii_digit()) {
        caller.chars().map(String::from).collect::<Vec<_>>().join(" ")
    } else {
        caller.to_owned()
    }
}

/// Now, in Unix milliseconds (0 if the clock is before 1970).
fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
