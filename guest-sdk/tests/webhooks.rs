//! The webhook model against the shared conformance cases (`shared/conformance/webhooks`), plus the
//! lenient-parsing rules: unknown keys and values kept, legacy forms read, clear errors, round trips.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::PathBuf;

use ncco_sdk::webhook::{
    AnswerRequest, CallStatus, Decimal, Direction, DisconnectedBy, EndpointType, Event, OriginalRequestType,
    ResponseNcco, RtcBody, RtcEvent, RtcEventType, StatusDetail, SubState, TimeoutReason, WebhookError,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const CASES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/conformance/webhooks");

/// One conformance case file.
struct Case {
    id: String,
    kind: String,
    doc: Value,
}

impl Case {
    fn method(&self) -> &str {
        self.doc["request"]["method"].as_str().unwrap()
    }

    fn raw_query(&self) -> &str {
        self.doc["request"]["raw_query"].as_str().unwrap()
    }

    /// The body bytes: `raw_body` when the case has one (exact bytes), else `body` serialized.
    fn body(&self) -> Vec<u8> {
        match self.doc["request"]["raw_body"].as_str() {
            Some(raw) => raw.as_bytes().to_vec(),
            None => serde_json::to_vec(&self.doc["request"]["body"]).unwrap(),
        }
    }

    fn expected_response(&self) -> &str {
        self.doc["expect"]["response_ncco"].as_str().unwrap()
    }
}

fn cases() -> Vec<Case> {
    let dir = PathBuf::from(CASES_DIR);
    let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("conformance cases at {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 30, "expected at least 30 webhook cases in {}, found {}", dir.display(), paths.len());
    paths
        .into_iter()
        .map(|path| {
            let doc: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
            Case {
                id: doc["case_id"].as_str().unwrap().to_owned(),
                kind: doc["kind"].as_str().unwrap().to_owned(),
                doc,
            }
        })
        .collect()
}

fn case(prefix: &str) -> Case {
    cases().into_iter().find(|c| c.id.starts_with(prefix)).unwrap_or_else(|| panic!("no case {prefix}"))
}

fn answer(case: &Case) -> AnswerRequest {
    match case.method() {
        "GET" => AnswerRequest::from_query(case.raw_query()),
        _ => AnswerRequest::from_json(&case.body()),
    }
    .unwrap_or_else(|e| panic!("{}: {e}", case.id))
}

fn event(case: &Case) -> Event {
    match case.method() {
        "GET" => Event::from_query(case.raw_query()),
        _ => Event::from_json(&case.body()),
    }
    .unwrap_or_else(|e| panic!("{}: {e}", case.id))
}

fn rtc(case: &Case) -> RtcEvent {
    RtcEvent::from_json(&case.body()).unwrap_or_else(|e| panic!("{}: {e}", case.id))
}

#[test]
fn every_case_parses_to_its_kind_with_the_expected_response() {
    for case in cases() {
        let response = match case.kind.as_str() {
            "answer" | "fallback_answer" => {
                let req = answer(&case);
                assert_eq!(req.is_fallback(), case.kind == "fallback_answer", "{}", case.id);
                req.response_ncco()
            }
            "event" => {
                let ev = event(&case);
                assert!(!matches!(ev, Event::Unknown(_)), "{}: classified as unknown", case.id);
                ev.response_ncco()
            }
            "rtc_event" => rtc(&case).response_ncco(),
            other => panic!("{}: unexpected kind {other}", case.id),
        };
        assert_eq!(response.as_str(), case.expected_response(), "{}", case.id);
    }
}

#[test]
fn every_case_round_trips_through_json() {
    for case in cases() {
        match case.kind.as_str() {
            "answer" | "fallback_answer" => {
                let req = answer(&case);
                let again = AnswerRequest::from_value(serde_json::to_value(&req).unwrap()).unwrap();
                assert_eq!(again, req, "{}", case.id);
            }
            "event" => {
                let ev = event(&case);
                let again = Event::from_value(serde_json::to_value(&ev).unwrap()).unwrap();
                assert_eq!(again, ev, "{}", case.id);
                assert_eq!(again.kind_name(), ev.kind_name(), "{}", case.id);
            }
            _ => {
                let ev = rtc(&case);
                let json = serde_json::to_value(&ev).unwrap();
                assert_eq!(json, case.doc["request"]["body"], "{}: RTC events serialize back unchanged", case.id);
                assert_eq!(RtcEvent::from_value(json).unwrap(), ev, "{}", case.id);
            }
        }
    }
}

#[test]
fn post_events_serialize_back_to_the_same_keys() {
    for case in cases().into_iter().filter(|c| c.kind == "event" && c.method() == "POST") {
        let ev = event(&case);
        let json = serde_json::to_value(&ev).unwrap();
        let sent = case.doc["request"]["body"].as_object().unwrap();
        let mut sent_keys: Vec<&String> = sent.iter().filter(|(_, v)| !v.is_null()).map(|(k, _)| k).collect();
        let mut out_keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        sent_keys.sort();
        out_keys.sort();
        assert_eq!(out_keys, sent_keys, "{}", case.id);
    }
}

#[test]
fn wh01_get_answer_has_the_classic_fields() {
    let req = answer(&case("wh-01"));
    assert_eq!(req.from.as_deref(), Some("447700900000"));
    assert_eq!(req.to.as_deref(), Some("442079460000"));
    assert_eq!(req.caller(), Some("447700900000"));
    assert_eq!(req.conversation_uuid.as_deref(), Some("CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab"));
    assert!(req.extra.is_empty() && req.sip_headers.is_empty());
}

#[test]
fn wh02_sip_headers_are_collected_without_prefix() {
    let req = answer(&case("wh-02"));
    assert_eq!(req.sip_header("X-UserId"), Some("1938ND9"));
    assert_eq!(req.sip_header("User-to-User"), Some("342342ef34;encoding=hex"));
    assert_eq!(req.sip_headers.len(), 2);
    assert_eq!(req.from.as_deref(), Some("sip:alice@pbx.example.com"));
    assert_eq!(req.endpoint_type, Some(EndpointType::Sip));
    assert_eq!(req.region_url.as_deref(), Some("https://api-eu-1.vonage.com"));
    assert!(req.extra.is_empty());
    // Serializing restores Vonage's keys: the same object as the decoded query.
    assert_eq!(serde_json::to_value(&req).unwrap(), case("wh-02").doc["request"]["query"]);
}

#[test]
fn wh03_client_sdk_answer_has_custom_data_and_from_user() {
    let req = answer(&case("wh-03"));
    assert_eq!(req.from, None);
    assert_eq!(req.from_user.as_deref(), Some("alice"));
    assert_eq!(req.caller(), Some("alice"));
    assert_eq!(req.endpoint_type, Some(EndpointType::App));
    let data = req.custom_data_object().unwrap();
    assert_eq!(data["device_name"], "Alice app");
    assert_eq!(data["callType"], "phone");
}

#[test]
fn wh04_fallback_answer_has_reason_and_original_request() {
    let req = answer(&case("wh-04"));
    assert!(req.is_fallback());
    assert_eq!(req.reason.as_deref(), Some("Connection closed."));
    let original = req.original_request.as_ref().unwrap();
    assert_eq!(original.url.as_deref(), Some("https://api.example.com/webhooks/answer"));
    assert_eq!(original.kind, Some(OriginalRequestType::Answer));
    assert_eq!(req.response_ncco(), ResponseNcco::Required);
}

#[test]
fn status_cases_have_their_status_and_extras() {
    let expected = [
        ("wh-05", CallStatus::Started),
        ("wh-06", CallStatus::Ringing),
        ("wh-07", CallStatus::Answered),
        ("wh-08", CallStatus::Busy),
        ("wh-09", CallStatus::Cancelled),
        ("wh-10", CallStatus::Unanswered),
        ("wh-11", CallStatus::Rejected),
        ("wh-12", CallStatus::Failed),
        ("wh-13", CallStatus::Timeout),
        ("wh-14", CallStatus::Disconnected),
        ("wh-15", CallStatus::Machine),
        ("wh-16", CallStatus::Human),
        ("wh-17", CallStatus::Completed),
        ("wh-30", CallStatus::Answered),
    ];
    for (id, status) in expected {
        let Event::Status(ev) = event(&case(id)) else { panic!("{id} is not a status event") };
        assert_eq!(ev.status, status, "{id}");
        assert!(ev.extra.is_empty(), "{id}: unexpected extras {:?}", ev.extra);
        assert_eq!(ev.leg_uuid(), Some("aaaaaaaa-bbbb-cccc-dddd-0123456789ab"), "{id}");
    }
    let Event::Status(busy) = event(&case("wh-08")) else { panic!() };
    assert_eq!(busy.sip_code, Some(486));
    let Event::Status(unanswered) = event(&case("wh-10")) else { panic!() };
    assert_eq!(unanswered.detail, Some(StatusDetail::Unavailable));
    let Event::Status(rejected) = event(&case("wh-11")) else { panic!() };
    assert_eq!((rejected.detail, rejected.sip_code), (Some(StatusDetail::Declined), Some(603)));
    let Event::Status(failed) = event(&case("wh-12")) else { panic!() };
    assert_eq!(failed.detail, Some(StatusDetail::CannotRoute));
    let Event::Status(ws) = event(&case("wh-14")) else { panic!() };
    assert_eq!(ws.direction, None);
    assert_eq!(ws.headers.unwrap()["caller-id"], "447700900123");
}

#[test]
fn wh07_and_wh30_accept_nulls_as_absent() {
    for id in ["wh-07", "wh-30"] {
        let Event::Status(ev) = event(&case(id)) else { panic!("{id}") };
        assert_eq!((ev.start_time, ev.rate, ev.network), (None, None, None), "{id}");
        assert_eq!(ev.direction, Some(Direction::Inbound));
    }
}

#[test]
fn wh15_machine_event_keeps_call_uuid_and_sub_state() {
    let ev = event(&case("wh-15"));
    assert_eq!(ev.call_uuid(), Some("aaaaaaaa-bbbb-cccc-dddd-0123456789ab"));
    assert_eq!(ev.kind_name(), "status:machine");
    let Event::Status(status) = &ev else { panic!() };
    assert_eq!(status.uuid, None);
    assert_eq!(status.call_uuid.as_deref(), Some("aaaaaaaa-bbbb-cccc-dddd-0123456789ab"));
    assert_eq!(status.sub_state, Some(SubState::BeepStart));
    let json = serde_json::to_value(&ev).unwrap();
    assert!(json.get("call_uuid").is_some() && json.get("uuid").is_none());
}

#[test]
fn wh17_completed_reads_numbers_inside_strings() {
    let Event::Status(ev) = event(&case("wh-17")) else { panic!() };
    assert_eq!(ev.duration, Some(158));
    let price = ev.price.as_ref().unwrap();
    assert_eq!(price.value(), 0.01185);
    assert_eq!(price.as_str(), "0.01185000");
    assert_eq!(ev.rate.as_ref().unwrap().value(), 0.0045);
    assert_eq!(ev.network.as_deref(), Some("GB-FIXED"));
    assert_eq!(ev.disconnected_by, Some(DisconnectedBy::User));
    assert_eq!(ev.sip_code, Some(200));
    // The decimal text survives re-serialization; the duration becomes a number.
    let json = serde_json::to_value(&ev).unwrap();
    assert_eq!(json["price"], "0.01185000");
    assert_eq!(json["duration"], 158);
}

#[test]
fn wh18_record_event() {
    let Event::Record(ev) = event(&case("wh-18")) else { panic!() };
    assert_eq!(ev.size, Some(61234));
    assert_eq!(ev.recording_uuid.as_deref(), Some("cccccccc-dddd-eeee-ffff-0123456789ab"));
    assert!(ev.recording_url.unwrap().starts_with("https://api.nexmo.com/v1/files/"));
}

#[test]
fn wh19_and_wh20_dtmf_input() {
    let ev = event(&case("wh-19"));
    assert_eq!(ev.kind_name(), "input");
    let Event::Input(input) = &ev else { panic!() };
    assert_eq!(input.digits(), Some("1"));
    assert!(!input.dtmf.as_ref().unwrap().timed_out);
    assert!(input.speech.as_ref().unwrap().results.is_empty());

    let Event::Input(partial) = event(&case("wh-20")) else { panic!() };
    assert_eq!(partial.digits(), Some("12"));
    assert!(partial.dtmf.unwrap().timed_out);
}

#[test]
fn wh21_to_wh23_speech_input() {
    let Event::Input(ev) = event(&case("wh-21")) else { panic!() };
    let speech = ev.speech.as_ref().unwrap();
    assert_eq!(speech.results.len(), 2);
    assert_eq!(speech.results[0].text, "billing");
    assert_eq!(speech.results[0].confidence, 0.9405097);
    assert_eq!(speech.results[1].confidence, 0.70543784);
    assert_eq!(speech.timeout_reason, Some(TimeoutReason::EndOnSilenceTimeout));
    assert!(speech.recording_url.is_some());
    assert_eq!(ev.digits(), None);
    assert_eq!(ev.best_speech().unwrap().text, "billing");

    let Event::Input(none) = event(&case("wh-22")) else { panic!() };
    assert_eq!(none.speech.unwrap().timeout_reason, Some(TimeoutReason::StartTimeout));

    let Event::Input(failed) = event(&case("wh-23")) else { panic!() };
    assert_eq!(failed.speech.unwrap().error.as_deref(), Some("ERR1: Failed to analyze audio"));
}

#[test]
fn wh24_transfer() {
    let ev = event(&case("wh-24"));
    let Event::Transfer(t) = &ev else { panic!() };
    assert_eq!(t.conversation_uuid_to.as_deref(), Some("CON-bbbbbbbb-cccc-dddd-eeee-0123456789ab"));
    assert_eq!(ev.conversation_uuid(), Some("CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab"));
    assert_eq!(ev.call_uuid(), Some("aaaaaaaa-bbbb-cccc-dddd-0123456789ab"));
}

#[test]
fn wh25_is_an_error_event() {
    let ev = event(&case("wh-25"));
    assert_eq!(ev.kind_name(), "error");
    let Event::Error(err) = &ev else { panic!() };
    assert_eq!(err.reason, "Syntax error in NCCO. Invalid value type or action.");
    assert_eq!(ev.call_uuid(), None);
    assert_eq!(ev.response_ncco(), ResponseNcco::Ignored);
}

#[test]
fn wh26_notify_payload() {
    let ev = event(&case("wh-26"));
    let Event::Notify(n) = &ev else { panic!() };
    assert_eq!(n.payload, json!({"step": "greeting-played", "attempt": 1, "context": {"campaign": "spring-renewals"}}));
    assert_eq!(n.payload_object().unwrap()["attempt"], 1);
    assert_eq!(ev.response_ncco(), ResponseNcco::OptionalReplaces);
}

#[test]
fn wh27_transcription() {
    let ev = event(&case("wh-27"));
    assert_eq!(ev.kind_name(), "transcription");
    let Event::Transcription(t) = &ev else { panic!() };
    assert_eq!(t.kind.as_deref(), Some("record"));
    assert_eq!(t.recording_uuid.as_deref(), Some("cccccccc-dddd-eeee-ffff-0123456789ab"));
    assert!(t.transcription_url.as_deref().unwrap().ends_with("dddddddd-aaaa-cccc-dddd-0123456789ab"));
    assert_eq!(serde_json::to_value(&ev).unwrap(), case("wh-27").doc["request"]["body"]);
}

#[test]
fn wh28_get_event_is_ringing() {
    let c = case("wh-28");
    let ev = event(&c);
    let Event::Status(s) = &ev else { panic!() };
    assert_eq!(s.status, CallStatus::Ringing);
    assert_eq!(s.timestamp.as_deref(), Some("2026-05-04T09:15:00.730Z"));
    assert_eq!(s.direction, Some(Direction::Outbound));
    assert_eq!(serde_json::to_value(&ev).unwrap(), c.doc["request"]["query"]);
}

#[test]
fn wh29_member_joined_has_a_typed_member_body() {
    let ev = rtc(&case("wh-29"));
    assert_eq!(ev.kind, RtcEventType::MemberJoined);
    assert_eq!(ev.kind_name(), "member:joined");
    assert_eq!(ev.id, Some(4));
    assert_eq!(ev.conversation_id.as_deref(), Some("CON-bc643220-2542-499a-892e-c982c4150c06"));
    assert_eq!(ev.application_id.as_deref(), Some("e2dd57b5-5071-4506-8827-8efa5b96fc9d"));
    let RtcBody::Member(member) = ev.typed_body() else { panic!("not a member body") };
    let user = member.user.unwrap();
    assert_eq!(user.name.as_deref(), Some("alice"));
    assert_eq!(user.id.as_deref(), Some("USR-b9948493-be4a-4b36-bb4d-c96bcc2af85b"));
    let channel = member.channel.unwrap();
    assert_eq!(channel.kind.as_deref(), Some("phone"));
    assert_eq!(channel.leg_ids.unwrap(), ["30cecc87-7ac9-4d03-910a-e9d69558263c"]);
    assert_eq!(channel.from.unwrap()["number"], "447700000001");
    let ts = member.timestamp.unwrap();
    assert_eq!(ts.joined.as_deref(), Some("2026-05-04T09:26:30.270Z"));
    assert_eq!(ts.left, None);
}

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
    assert!(!event(&case("wh-25")).is_fallback());
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
