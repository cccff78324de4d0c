//! The `connect` action: ring one endpoint and bridge it into the call.

use serde::Serialize;
use serde_json::{Map, Value};

use super::callback::{EventMethod, read_event_method, read_event_url};
use super::endpoint::{Endpoint, check_phone_number, read_endpoint};
use crate::problem::{Rule, child, index};
use crate::reader::{Cx, Obj};

/// What to do when a machine answers (`machineDetection`, `advanced_machine_detection.behavior`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MachineBehavior {
    /// Send a `machine` event and go on.
    Continue,
    /// End the call.
    Hangup,
}

/// Advanced machine detection mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AmdMode {
    /// Asynchronous: the NCCO runs at once, results arrive as events.
    Default,
    /// Synchronous: detect human or machine first.
    Detect,
    /// Synchronous: also wait for the voicemail beep.
    DetectBeep,
}

/// `advanced_machine_detection` of a connect (emitted in snake_case; `advancedMachineDetection` is read too).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct AdvancedMachineDetection {
    /// `continue` or `hangup`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub behavior: Option<MachineBehavior>,
    /// `default`, `detect` or `detect_beep`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<AmdMode>,
    /// Seconds to wait for the beep, 45 to 120.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beep_timeout: Option<u32>,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `eventType`: only `synchronous` exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// The connect is synchronous, and on failure states the `eventUrl` response replaces the NCCO.
    Synchronous,
}

/// `connect`: call one endpoint and join it to the current conversation.
///
/// ```
/// use ncco_sdk::ncco::{Connect, Endpoint};
/// let forward = Connect::to(Endpoint::phone("447700900001"))
///     .from("447700900000")
///     .timeout(20)
///     .synchronous("https://example.com/connect-events");
/// assert!(forward.event_type.is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Connect {
    /// Exactly one endpoint.
    pub endpoint: Vec<Endpoint>,
    /// Caller ID: one of your Vonage numbers, E.164 digits without `+`. Not with `randomFromNumber`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Use a random number linked to the application as caller ID. Not with `from`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub random_from_number: Option<bool>,
    /// `synchronous`: failure events on `eventUrl` may return a replacement NCCO.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<EventType>,
    /// Seconds to ring, 3 to 7200. Default 60.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    /// Longest call in seconds, 1 to 7200. Default 7200.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// What to do when a machine answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine_detection: Option<MachineBehavior>,
    /// Advanced machine detection; wins over `machineDetection`.
    #[serde(rename = "advanced_machine_detection", skip_serializing_if = "Option::is_none")]
    pub advanced_machine_detection: Option<AdvancedMachineDetection>,
    /// Where the new leg's call events go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_url: Option<Vec<String>>,
    /// Default POST.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_method: Option<EventMethod>,
    /// Audio played to the caller until the callee answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ringback_tone: Option<String>,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Connect {
    /// Connects to `endpoint`.
    pub fn to(endpoint: Endpoint) -> Self {
        Connect { endpoint: vec![endpoint], ..Connect::default() }
    }

    /// Sets the caller ID (`from`).
    pub fn from(mut self, number: impl Into<String>) -> Self {
        self.from = Some(number.into());
        self
    }

    /// Uses a random linked number as caller ID.
    pub fn random_from_number(mut self) -> Self {
        self.random_from_number = Some(true);
        self
    }

    /// Sets the ringing `timeout` (seconds).
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.timeout = Some(seconds);
        self
    }

    /// Sets the call length `limit` (seconds).
    pub fn limit(mut self, seconds: u32) -> Self {
        self.limit = Some(seconds);
        self
    }

    /// Sets `eventUrl`.
    pub fn event_url(mut self, url: impl Into<String>) -> Self {
        self.event_url = Some(vec![url.into()]);
        self
    }

    /// Makes the connect synchronous: on busy, unanswered, failed, rejected or timeout, `event_url`
    /// is asked for a replacement NCCO.
    pub fn synchronous(mut self, event_url: impl Into<String>) -> Self {
        self.event_type = Some(EventType::Synchronous);
        self.event_url(event_url)
    }

    /// Sets `machineDetection`.
    pub fn machine_detection(mut self, behavior: MachineBehavior) -> Self {
        self.machine_detection = Some(behavior);
        self
    }

    /// Sets `advanced_machine_detection`.
    pub fn advanced_machine_detection(mut self, amd: AdvancedMachineDetection) -> Self {
        self.advanced_machine_detection = Some(amd);
        self
    }

    /// Sets `ringbackTone`.
    pub fn ringback_tone(mut self, url: impl Into<String>) -> Self {
        self.ringback_tone = Some(url.into());
        self
    }
}

const BEHAVIORS: &[(&str, MachineBehavior)] =
    &[("continue", MachineBehavior::Continue), ("hangup", MachineBehavior::Hangup)];

fn read_amd(cx: &mut Cx, mut obj: Obj<'_>) -> Option<AdvancedMachineDetection> {
    let behavior = obj.choice(cx, "behavior", BEHAVIORS);
    let mode = obj.choice(
        cx,
        "mode",
        &[("default", AmdMode::Default), ("detect", AmdMode::Detect), ("detect_beep", AmdMode::DetectBeep)],
    );
    let beep_timeout = obj
        .get_alias(cx, "beep_timeout", &["beepTimeout"])
        .and_then(|(value, pointer, key)| crate::reader::Field { value, pointer: &pointer, key }.int(cx, 45, 120));
    let extra = obj.finish(cx);
    Some(AdvancedMachineDetection { behavior, mode, beep_timeout, extra })
}

pub(crate) fn read(cx: &mut Cx, mut obj: Obj<'_>) -> Option<Connect> {
    let endpoint = match obj.get(cx, "endpoint") {
        None => {
            obj.missing(cx, "endpoint");
            None
        }
        Some((Value::Array(items), pointer, _)) => {
            if items.len() != 1 {
                cx.error(
                    &pointer,
                    Rule::OneEndpoint,
                    format!(
                        "`endpoint` must hold exactly one endpoint, got {}; use one connect per endpoint",
                        items.len()
                    ),
                );
            }
            let parsed: Vec<Option<Endpoint>> =
                items.iter().enumerate().map(|(i, item)| read_endpoint(cx, item, index(&pointer, i))).collect();
            parsed.into_iter().collect::<Option<Vec<_>>>()
        }
        Some((other, pointer, _)) => {
            cx.error(
                &pointer,
                Rule::Type,
                format!(
                    "`endpoint` must be an array holding one endpoint object, got {}",
                    crate::reader::type_name(other)
                ),
            );
            None
        }
    };
    let from = obj.with(cx, "from", |cx, f| {
        let number = f.string(cx)?;
        check_phone_number(cx, f.pointer, "from", &number);
        Some(number)
    });
    let random_from_number = obj.bool(cx, "randomFromNumber");
    if from.is_some() && random_from_number == Some(true) {
        cx.error(
            &child(&obj.pointer, "randomFromNumber"),
            Rule::Exclusive,
            "`from` and `randomFromNumber` cannot be used together: give a caller ID or ask for a random one",
        );
    }
    let event_type = obj.choice(cx, "eventType", &[("synchronous", EventType::Synchronous)]);
    let timeout = obj.int(cx, "timeout", 3, 7200);
    let limit = obj.int(cx, "limit", 1, 7200);
    let machine_detection = obj.choice(cx, "machineDetection", BEHAVIORS);
    let advanced_machine_detection = obj
        .get_alias(cx, "advanced_machine_detection", &["advancedMachineDetection"])
        .and_then(|(value, pointer, _)| {
            let amd = Obj::new(cx, value, pointer, "advanced machine detection")?;
            read_amd(cx, amd)
        });
    let event_url = read_event_url(cx, &mut obj, "eventUrl");
    let event_method = read_event_method(cx, &mut obj, "eventMethod");
    let ringback_tone = obj.with(cx, "ringbackTone", |cx, f| {
        if let Value::Array(items) = f.value {
            cx.lenient(f.pointer, "`ringbackTone` is an array; Vonage documents a single URL string");
            if items.len() != 1 {
                cx.error(f.pointer, Rule::Range, "`ringbackTone` takes one URL");
            }
            let urls = f.url_list(cx)?;
            return urls.into_iter().next();
        }
        f.url(cx)
    });
    let extra = obj.finish(cx);
    Some(Connect {
        endpoint: endpoint?,
        from,
        random_from_number,
        event_type,
        timeout,
        limit,
        machine_detection,
        advanced_machine_detection,
        event_url,
        event_method,
        ringback_tone,
        extra,
    })
}
