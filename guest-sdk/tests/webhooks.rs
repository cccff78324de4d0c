//! The webhook model against the shared conformance cases (`shared/conformance/webhooks`), plus the
//! lenient-parsing rules: unknown keys and values kept, legacy forms read, clear errors, round trips.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::PathBuf;

use ncco_sdk::webhook::{
    AnswerRequest, CallStatus, Direction, DisconnectedBy, EndpointType, Event, OriginalRequestType, ResponseNcco,
    RtcBody, RtcEvent, RtcEventType, StatusDetail, SubState, TimeoutReason,
};
use serde_json::{Value, json};

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
    // An error event carries `reason` but is no fallback request.
    assert!(!event(&case("wh-25")).is_fallback());
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
