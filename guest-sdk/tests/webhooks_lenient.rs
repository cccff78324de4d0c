//! The webhook model's lenient-parsing rules: unknown keys and values kept, legacy forms read, GET
//! query values, RTC types and bodies, clear errors for impossible input, and a property test.

#![allow(clippy::unwrap_used)]

use ncco_sdk::webhook::{
    AnswerRequest, CallStatus, Decimal, Direction, EndpointType, Event, ResponseNcco, RtcBody, RtcEvent, RtcEventType,
    StatusDetail, WebhookError,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

#[test]
fn unknown_keys_are_kept_and_serialized_back() {
    let body = json!({
        "status": "answered", "uuid": "u1", "brand_new": {"nested": [1, 2]}, "another": null,
    });
    let ev = Event::from_value(body.clone()).unwrap();
    assert_eq!(ev.extra()["brand_new"], json!({"nested": [1, 2]}));
    assert_eq!(serde_json::to_value(&ev).unwrap(), body);

    let input = json!({"dtmf": {"digits": "9", "timed_out": false, "mode": "x"}, "uuid": "u", "zz": 1});
    let ev = Event::from_value(input.clone()).unwrap();
    let Event::Input(i) = &ev else { panic!() };
    assert_eq!(i.dtmf.as_ref().unwrap().extra["mode"], "x");
    assert_eq!(serde_json::to_value(&ev).unwrap(), input);

    let answer = json!({"to": "1", "SipHeader_X-A": "b", "mystery": true});
    let req = AnswerRequest::from_value(answer.clone()).unwrap();
    assert_eq!(req.extra["mystery"], true);
    assert_eq!(serde_json::to_value(&req).unwrap(), answer);

    let unknown = json!({"something": "else", "timestamp": "t"});
    let ev = Event::from_value(unknown.clone()).unwrap();
    assert_eq!(ev.kind_name(), "unknown");
    assert_eq!(ev.timestamp(), Some("t"));
    assert_eq!(serde_json::to_value(&ev).unwrap(), unknown);
}

#[test]
fn unknown_values_are_kept_not_rejected() {
    let ev =
        Event::from_json(br#"{"status":"paused","direction":"sideways","detail":"weird","sub_state":"x"}"#).unwrap();
    let Event::Status(s) = &ev else { panic!() };
    assert_eq!(s.status, CallStatus::Other("paused".into()));
    assert_eq!(s.direction, Some(Direction::Other("sideways".into())));
    assert_eq!(s.detail, Some(StatusDetail::Other("weird".into())));
    assert_eq!(ev.kind_name(), "status:paused");
    assert_eq!(ev.response_ncco(), ResponseNcco::Ignored);
    assert_eq!(serde_json::to_value(&ev).unwrap()["status"], "paused");

    let req = AnswerRequest::from_query("endpoint_type=hologram").unwrap();
    assert_eq!(req.endpoint_type, Some(EndpointType::Other("hologram".into())));

    let rtc = RtcEvent::from_json(br#"{"type":"audio:teleport","body":{"a":1}}"#).unwrap();
    assert_eq!(rtc.kind, RtcEventType::Other("audio:teleport".into()));
    assert_eq!(rtc.kind.group(), "audio");
    assert_eq!(rtc.typed_body(), RtcBody::Other(json!({"a": 1})));
}

#[test]
fn legacy_flat_dtmf_input_parses_and_keeps_its_form() {
    let body = json!({"dtmf": "1234", "timed_out": true, "uuid": "u", "conversation_uuid": "CON-1"});
    let ev = Event::from_value(body.clone()).unwrap();
    let Event::Input(i) = &ev else { panic!("not input: {ev:?}") };
    let dtmf = i.dtmf.as_ref().unwrap();
    assert_eq!(dtmf.digits.as_deref(), Some("1234"));
    assert!(dtmf.timed_out && dtmf.legacy);
    assert_eq!(ev.response_ncco(), ResponseNcco::OptionalReplaces);
    assert_eq!(serde_json::to_value(&ev).unwrap(), body);

    let get = Event::from_query("dtmf=55&timed_out=false&uuid=u").unwrap();
    let Event::Input(i) = get else { panic!() };
    assert_eq!(i.digits(), Some("55"));
    assert!(!i.dtmf.unwrap().timed_out);
}

#[test]
fn custom_data_as_json_text_in_a_get_query_is_an_object() {
    let query = "from_user=alice&to=447700900001&custom_data=%7B%22device_name%22%3A%22Alice%20app%22%2C%22n%22%3A2%7D";
    let req = AnswerRequest::from_query(query).unwrap();
    let data = req.custom_data_object().unwrap();
    assert_eq!(data["device_name"], "Alice app");
    assert_eq!(data["n"], 2);

    // In a POST body too, and other values are kept as they are.
    let req = AnswerRequest::from_value(json!({"custom_data": "{\"a\":1}"})).unwrap();
    assert_eq!(req.custom_data, Some(json!({"a": 1})));
    let req = AnswerRequest::from_value(json!({"custom_data": "plain text"})).unwrap();
    assert_eq!(req.custom_data, Some(json!("plain text")));
}

#[test]
fn get_events_read_numbers_booleans_and_json_inside_strings() {
    let query = "status=completed&uuid=u&duration=12&price=0.5&sip_code=200&headers=%7B%22a%22%3A%22b%22%7D";
    let Event::Status(s) = Event::from_query(query).unwrap() else { panic!() };
    assert_eq!((s.duration, s.sip_code), (Some(12), Some(200)));
    assert_eq!(s.price.unwrap().value(), 0.5);
    assert_eq!(s.headers.unwrap()["a"], "b");

    let speech =
        "speech=%7B%22results%22%3A%5B%7B%22text%22%3A%22yes%22%2C%22confidence%22%3A%220.8%22%7D%5D%7D&uuid=u";
    let Event::Input(i) = Event::from_query(speech).unwrap() else { panic!() };
    assert_eq!(i.best_speech().unwrap().confidence, 0.8);

    // A text field keeps text that merely looks like JSON.
    let Event::Status(s) = Event::from_query("?status=ringing&from=%5Bpbx%5D").unwrap() else { panic!() };
    assert_eq!(s.from.as_deref(), Some("[pbx]"));
}

#[test]
fn numbers_and_decimals_arrive_either_way() {
    let Event::Status(s) =
        Event::from_value(json!({"status": "completed", "duration": 158, "price": 0.25, "rate": ""})).unwrap()
    else {
        panic!()
    };
    assert_eq!(s.duration, Some(158));
    assert_eq!(s.price.as_ref().unwrap().value(), 0.25);
    assert!(!s.price.as_ref().unwrap().is_quoted());
    assert_eq!(s.rate, None);
    assert_eq!(serde_json::to_value(&s).unwrap()["price"], json!(0.25));
    let d: Decimal = "0.00450000".parse().unwrap();
    assert_eq!(d.to_string(), "0.00450000");
}

#[test]
fn fallback_for_an_instruction_event_is_not_an_error_event() {
    let body = json!({
        "conversation_uuid": "CON-1", "payload": {"a": 1}, "reason": "Connection closed.",
        "original_request": {"url": "https://example.com/notify", "type": "event"},
    });
    let ev = Event::from_value(body).unwrap();
    assert_eq!(ev.kind_name(), "notify");
    assert!(ev.is_fallback());
    assert_eq!(ev.response_ncco(), ResponseNcco::OptionalReplaces);
}

#[test]
fn rtc_types_and_bodies() {
    for &wire in RtcEventType::KNOWN {
        let t = RtcEventType::from(wire);
        assert!(!t.is_other(), "{wire}");
        assert_eq!(t.as_str(), wire);
    }
    // Every type of the reference's §5 table is known.
    let table = [
        "leg:status:update",
        "app:knocking",
        "app:knocking:cancel",
        "event:delete",
        "ephemeral",
        "audio:dtmf",
        "audio:earmuff:on",
        "audio:earmuff:off",
        "audio:mute:on",
        "audio:mute:off",
        "audio:play",
        "audio:play:stop",
        "audio:play:done",
        "audio:say",
        "audio:say:stop",
        "audio:say:done",
        "audio:record",
        "audio:record:stop",
        "audio:record:done",
        "audio:asr:done",
        "audio:asr:record:done",
        "audio:speaking:on",
        "audio:speaking:off",
        "audio:ringing:start",
        "audio:ringing:stop",
        "member:invited",
        "member:joined",
        "member:left",
        "member:media",
        "conversation:created",
        "conversation:updated",
        "conversation:deleted",
        "message",
        "message:submitted",
        "message:delivered",
        "message:seen",
        "message:rejected",
        "message:undeliverable",
        "text",
        "text:seen",
        "text:delivered",
        "text:update",
        "text:typing:on",
        "text:typing:off",
        "image",
        "image:seen",
        "image:delivered",
        "rtc:status",
        "rtc:answer",
        "rtc:answered",
        "rtc:ringing",
        "rtc:hangup",
        "rtc:transfer",
        "rtc:terminate",
        "sip:status",
        "sip:ringing",
        "sip:answered",
        "sip:hangup",
        "sip:machine",
        "sip:amd_machine",
    ];
    for wire in table {
        assert!(RtcEventType::KNOWN.contains(&wire), "{wire} is not a known RTC type");
    }
    let custom = RtcEventType::from("custom:my-thing");
    assert_eq!(custom, RtcEventType::custom("my-thing"));
    assert_eq!(custom.custom_name(), Some("my-thing"));
    assert_eq!(custom.as_str(), "custom:my-thing");

    let hangup = RtcEvent::from_value(json!({
        "type": "rtc:hangup", "id": "12", "from": "MEM-1",
        "body": {"direction": "outbound", "reason": {"text": "bye", "code": "0", "sip_code": 200}, "quality": {"mos": 4.1}},
        "_embedded": {"from_member": {"id": "MEM-1"}},
    }))
    .unwrap();
    assert_eq!(hangup.id, Some(12));
    assert_eq!(hangup.embedded.as_ref().unwrap()["from_member"]["id"], "MEM-1");
    let RtcBody::Hangup(h) = hangup.typed_body() else { panic!() };
    assert_eq!(h.reason.unwrap().sip_code.as_deref(), Some("200"));
    assert_eq!(h.quality.unwrap()["mos"], 4.1);

    let say = RtcEvent::from_value(json!({"type": "audio:say", "body": {"text": "hi", "premium": "true", "style": 2}}));
    let RtcBody::Say(s) = say.unwrap().typed_body() else { panic!() };
    assert_eq!((s.text.as_deref(), s.premium, s.style), (Some("hi"), Some(true), Some(2)));

    let play = RtcEvent::from_value(json!({"type": "audio:play", "body": {"play_id": "p", "stream_url": ["a", "b"]}}));
    let RtcBody::Play(p) = play.unwrap().typed_body() else { panic!() };
    assert_eq!(p.stream_url.unwrap(), ["a", "b"]);

    let amd = RtcEvent::from_value(json!({"type": "sip:amd_machine", "body": {"type": "machine", "confidence": 90}}));
    let RtcBody::Machine(m) = amd.unwrap().typed_body() else { panic!() };
    assert_eq!((m.kind.as_deref(), m.confidence), (Some("machine"), Some(90.0)));

    let media = RtcEvent::from_value(json!({"type": "member:media", "body": {"media": {"audio": true,
        "audio_settings": {"enabled": true, "muted": false, "earmuffed": false}}}}));
    let RtcBody::Member(m) = media.unwrap().typed_body() else { panic!() };
    assert_eq!(m.media.unwrap().audio_settings.unwrap().muted, Some(false));

    // A body of an unexpected shape is kept raw, never an error.
    let odd = RtcEvent::from_value(json!({"type": "audio:dtmf", "body": {"digits": {"not": "text"}}})).unwrap();
    assert_eq!(odd.typed_body(), RtcBody::Other(json!({"digits": {"not": "text"}})));
    let bodiless = RtcEvent::from_value(json!({"type": "conversation:created"})).unwrap();
    assert_eq!(bodiless.typed_body(), RtcBody::Other(Value::Null));
}

/// The error's message.
fn msg(err: &WebhookError) -> String {
    err.to_string()
}

#[test]
fn impossible_input_gives_errors_that_name_the_problem() {
    let not_json = msg(&Event::from_json(b"status=answered").unwrap_err());
    assert!(not_json.starts_with("the body is not JSON: "), "{not_json}");
    assert!(not_json.contains("line 1 column"), "{not_json}");

    assert_eq!(msg(&Event::from_json(b"[1, 2]").unwrap_err()), "the body must be a JSON object, got an array");
    assert_eq!(msg(&AnswerRequest::from_json(b"\"x\"").unwrap_err()), "the body must be a JSON object, got a string");
    assert_eq!(msg(&RtcEvent::from_json(b"null").unwrap_err()), "the body must be a JSON object, got null");

    let dtmf = Event::from_value(json!({"dtmf": 5})).unwrap_err();
    assert_eq!(dtmf.field(), Some("dtmf"));
    assert!(msg(&dtmf).contains("`dtmf` must be an object"));

    let duration = Event::from_value(json!({"status": "completed", "duration": {}})).unwrap_err();
    assert_eq!(msg(&duration), "`duration` must be a non-negative whole number, got an object");

    let confidence = Event::from_value(json!({"speech": {"results": [{"text": "a", "confidence": "high"}]}}));
    assert_eq!(
        msg(&confidence.unwrap_err()),
        "`speech.results[0].confidence` must be a number, got the string \"high\""
    );

    let sip = AnswerRequest::from_value(json!({"SipHeader_X-A": {"x": 1}})).unwrap_err();
    assert_eq!(msg(&sip), "`SipHeader_X-A` must be a string, got an object");

    let no_type = RtcEvent::from_value(json!({"id": 1})).unwrap_err();
    assert!(msg(&no_type).starts_with("`type` is missing"));

    let via_serde = serde_json::from_str::<Event>(r#"{"status": "busy", "sip_code": [486]}"#).unwrap_err();
    assert!(via_serde.to_string().contains("`sip_code` must be"), "{via_serde}");
}

#[test]
fn serde_deserialize_uses_the_same_lenient_rules() {
    let ev: Event = serde_json::from_str(r#"{"status":"completed","duration":"7"}"#).unwrap();
    assert_eq!(ev.kind_name(), "status:completed");
    let req: AnswerRequest = serde_json::from_str(r#"{"SipHeader_X-B":"c"}"#).unwrap();
    assert_eq!(req.sip_header("X-B"), Some("c"));
    let rtc: RtcEvent = serde_json::from_str(r#"{"type":"custom:ping"}"#).unwrap();
    assert_eq!(rtc.kind.custom_name(), Some("ping"));
}

/// Values a key of an event may hold, from plausible to odd.
fn any_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u32>().prop_map(Value::from),
        "[a-z0-9_.:-]{0,8}".prop_map(Value::from),
        Just(json!({"digits": "1", "timed_out": false})),
        Just(json!({"results": [{"text": "x", "confidence": "0.5"}]})),
        Just(json!([1, "a"])),
    ]
}

fn any_event_map() -> impl Strategy<Value = Map<String, Value>> {
    let keys = prop_oneof![
        Just("status".to_owned()),
        Just("uuid".to_owned()),
        Just("dtmf".to_owned()),
        Just("speech".to_owned()),
        Just("payload".to_owned()),
        Just("reason".to_owned()),
        Just("duration".to_owned()),
        Just("price".to_owned()),
        Just("timed_out".to_owned()),
        Just("recording_url".to_owned()),
        Just("conversation_uuid_from".to_owned()),
        "[a-z_]{1,6}",
    ];
    proptest::collection::vec((keys, any_value()), 0..8).prop_map(|pairs| pairs.into_iter().collect())
}

proptest! {
    /// Whatever the keys and values, reading never panics, and what reads serializes to JSON that
    /// reads back equal.
    #[test]
    fn events_that_parse_round_trip(map in any_event_map()) {
        if let Ok(ev) = Event::from_map(map) {
            let again = Event::from_value(serde_json::to_value(&ev).unwrap()).unwrap();
            prop_assert_eq!(again, ev);
        }
    }

    /// Unknown keys of any value never make an answer request fail.
    #[test]
    fn answer_requests_keep_unknown_keys(map in proptest::collection::btree_map("[A-Z][a-z]{0,5}", any_value(), 0..6)) {
        let value = Value::Object(map.into_iter().collect());
        let req = AnswerRequest::from_value(value.clone()).unwrap();
        prop_assert_eq!(serde_json::to_value(&req).unwrap(), value);
    }
}
