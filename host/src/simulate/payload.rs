//! The bodies of the webhooks the simulator sends, built with the model's webhook types so they are
//! exactly what Vonage sends (§2 and §3 of the reference): the answer request and every event.

use serde::Serialize;
use serde_json::{Map, Value};

use ncco_sdk::webhook::{
    AnswerRequest, CallStatus, Direction, DisconnectedBy, DtmfResult, EndpointType, ErrorEvent, InputEvent,
    NotifyEvent, RecordEvent, SpeechResult, StatusEvent, SubState, TranscriptionEvent, TransferEvent,
};

/// Where recordings are said to be stored.
pub const FILES_URL: &str = "https://api.nexmo.com/v1/files";
/// Vonage's reason for an NCCO it cannot run.
pub const INVALID_NCCO_REASON: &str = "Syntax error in NCCO. Invalid value type or action.";

/// One call leg: the caller's, or a leg a `connect` created.
#[derive(Debug, Clone)]
pub struct Leg {
    /// `from` of its events.
    pub from: String,
    /// `to` of its events.
    pub to: String,
    /// The leg's UUID.
    pub uuid: String,
    /// The conversation it is in.
    pub conversation_uuid: String,
    /// `inbound` or `outbound`.
    pub direction: &'static str,
}

fn object(value: &impl Serialize) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// The answer request of the caller's leg.
pub fn answer(
    leg: &Leg,
    from_user: Option<&str>,
    endpoint_type: &str,
    region_url: &str,
    custom_data: Option<&Map<String, Value>>,
    sip_headers: &std::collections::BTreeMap<String, String>,
) -> Map<String, Value> {
    let request = AnswerRequest {
        to: Some(leg.to.clone()),
        from: if from_user.is_some() { None } else { Some(leg.from.clone()) },
        from_user: from_user.map(str::to_owned),
        uuid: Some(leg.uuid.clone()),
        conversation_uuid: Some(leg.conversation_uuid.clone()),
        endpoint_type: Some(EndpointType::from(endpoint_type)),
        region_url: Some(region_url.to_owned()),
        custom_data: custom_data.map(|m| Value::Object(m.clone())),
        // Vonage never forwards headers starting `X-Nexmo` (voice-api.md §2.2).
        sip_headers: sip_headers
            .iter()
            .filter(|(name, _)| !name.to_ascii_lowercase().starts_with("x-nexmo"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        ..AnswerRequest::default()
    };
    object(&request)
}

/// A call-status event with the common fields; `extra` adds the status's own fields.
pub fn status(leg: &Leg, status: &str, timestamp: String) -> StatusEvent {
    StatusEvent {
        from: Some(leg.from.clone()),
        to: Some(leg.to.clone()),
        uuid: Some(leg.uuid.clone()),
        call_uuid: None,
        conversation_uuid: Some(leg.conversation_uuid.clone()),
        status: CallStatus::from(status),
        direction: Some(Direction::from(leg.direction)),
        timestamp: Some(timestamp),
        detail: None,
        sip_code: None,
        start_time: None,
        end_time: None,
        duration: None,
        rate: None,
        price: None,
        network: None,
        disconnected_by: None,
        sub_state: None,
        headers: None,
        extra: Map::new(),
    }
}

/// `answered`: `start_time`, `rate` and `network` are present but null at this point.
pub fn answered(leg: &Leg, timestamp: String) -> Map<String, Value> {
    let mut event = status(leg, "answered", timestamp);
    for key in ["start_time", "rate", "network"] {
        event.extra.insert(key.into(), Value::Null);
    }
    object(&event)
}

/// What `completed` reports about a finished leg.
#[derive(Debug, Clone)]
pub struct Completion {
    /// When it was answered.
    pub start_time: String,
    /// When it ended.
    pub end_time: String,
    /// Whole seconds it lasted.
    pub duration: u64,
    /// EUR per minute.
    pub rate: f64,
    /// The network.
    pub network: String,
    /// `user` or `platform`.
    pub disconnected_by: &'static str,
}

/// `completed`, with Vonage's number-in-a-string `duration`, `rate` and `price`.
pub fn completed(leg: &Leg, timestamp: String, c: &Completion) -> Map<String, Value> {
    let mut event = status(leg, "completed", timestamp);
    event.start_time = Some(c.start_time.clone());
    event.end_time = Some(c.end_time.clone());
    event.network = Some(c.network.clone());
    event.disconnected_by = Some(DisconnectedBy::from(c.disconnected_by));
    event.sip_code = Some(200);
    let minutes = (c.duration as f64 / 60.0).ceil();
    event.rate = format!("{:.8}", c.rate).parse().ok();
    event.price = format!("{:.8}", c.rate * minutes).parse().ok();
    event.extra.insert("duration".into(), Value::String(c.duration.to_string()));
    object(&event)
}

/// A failure status of a connect's leg (`busy`, `unanswered`, ...), with `detail` and `sip_code`.
pub fn failure(
    leg: &Leg,
    status_name: &str,
    timestamp: String,
    detail: Option<&str>,
    sip_code: Option<u64>,
) -> Map<String, Value> {
    let mut event = status(leg, status_name, timestamp);
    event.detail = detail.map(Into::into);
    event.sip_code = sip_code;
    object(&event)
}

/// `human` or `machine`: machine detection names the leg `call_uuid`.
pub fn machine_detection(leg: &Leg, machine: bool, beep: bool, timestamp: String) -> Map<String, Value> {
    let mut event = status(leg, if machine { "machine" } else { "human" }, timestamp);
    event.call_uuid = event.uuid.take();
    if machine && beep {
        event.sub_state = Some(SubState::BeepStart);
    }
    object(&event)
}

/// `disconnected`: the application side closed a websocket; `headers` are echoed, no `direction`.
pub fn disconnected(leg: &Leg, timestamp: String, headers: Option<Map<String, Value>>) -> Map<String, Value> {
    let mut event = status(leg, "disconnected", timestamp);
    event.direction = None;
    event.headers = headers;
    object(&event)
}

/// An input result.
pub fn input(leg: &Leg, timestamp: String, dtmf: DtmfResult, speech: SpeechResult) -> Map<String, Value> {
    let event = InputEvent {
        from: Some(leg.from.clone()),
        to: Some(leg.to.clone()),
        uuid: Some(leg.uuid.clone()),
        conversation_uuid: Some(leg.conversation_uuid.clone()),
        timestamp: Some(timestamp),
        dtmf: Some(dtmf),
        speech: Some(speech),
        extra: Map::new(),
    };
    object(&event)
}

/// A recording's event.
pub fn record(
    leg: &Leg,
    start_time: String,
    end_time: String,
    recording_uuid: String,
    file_id: &str,
    size: u64,
    timestamp: String,
) -> Map<String, Value> {
    object(&RecordEvent {
        start_time: Some(start_time),
        end_time: Some(end_time),
        recording_url: Some(format!("{FILES_URL}/{file_id}")),
        recording_uuid: Some(recording_uuid),
        size: Some(size),
        conversation_uuid: Some(leg.conversation_uuid.clone()),
        timestamp: Some(timestamp),
        extra: Map::new(),
    })
}

/// The transcription-ready event of a recording.
pub fn transcription(leg: &Leg, recording_uuid: &str, file_id: &str, timestamp: String) -> Map<String, Value> {
    object(&TranscriptionEvent {
        conversation_uuid: Some(leg.conversation_uuid.clone()),
        recording_uuid: Some(recording_uuid.to_owned()),
        transcription_url: Some(format!("{FILES_URL}/{file_id}")),
        kind: Some("record".into()),
        timestamp: Some(timestamp),
        extra: Map::new(),
    })
}

/// The `notify` callback: the action's payload echoed.
pub fn notify(leg: &Leg, payload: &Map<String, Value>, timestamp: String) -> Map<String, Value> {
    object(&NotifyEvent {
        conversation_uuid: Some(leg.conversation_uuid.clone()),
        payload: Value::Object(payload.clone()),
        timestamp: Some(timestamp),
        extra: Map::new(),
    })
}

/// The `transfer` event.
pub fn transfer(leg: &Leg, to_conversation: &str, timestamp: String) -> Map<String, Value> {
    object(&TransferEvent {
        conversation_uuid_from: Some(leg.conversation_uuid.clone()),
        conversation_uuid_to: Some(to_conversation.to_owned()),
        uuid: Some(leg.uuid.clone()),
        timestamp: Some(timestamp),
        extra: Map::new(),
    })
}

/// The `error` event.
pub fn error(leg: &Leg, reason: &str, timestamp: String) -> Map<String, Value> {
    object(&ErrorEvent {
        reason: reason.to_owned(),
        conversation_uuid: Some(leg.conversation_uuid.clone()),
        timestamp: Some(timestamp),
        extra: Map::new(),
    })
}

/// Serializes a status event built with [`status`].
pub fn status_object(event: &StatusEvent) -> Map<String, Value> {
    object(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_request_never_forwards_x_nexmo_sip_headers() {
        let leg = Leg {
            from: "447700900000".into(),
            to: "442079460000".into(),
            uuid: "u-1".into(),
            conversation_uuid: "CON-1".into(),
            direction: "inbound",
        };
        let headers: std::collections::BTreeMap<String, String> = [
            ("X-UserId".to_owned(), "1938ND9".to_owned()),
            ("X-Nexmo-Trace".to_owned(), "internal".to_owned()),
            ("x-nexmo-lower".to_owned(), "internal".to_owned()),
        ]
        .into();
        let request = answer(&leg, None, "sip", "https://api-us-3.vonage.com", None, &headers);
        let keys: Vec<&String> = request.keys().filter(|k| k.starts_with("SipHeader_")).collect();
        assert_eq!(keys, ["SipHeader_X-UserId"], "{request:?}");
    }
}
