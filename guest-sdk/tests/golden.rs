//! Golden JSON for the builders: each NCCO built in Rust must serialize to exactly the JSON in
//! `tests/golden/<name>.json` (and be valid). Set `UPDATE_GOLDEN=1` to rewrite the files after a
//! deliberate change, then review the diff.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use ncco_sdk::ncco::*;
use serde_json::{Value, json};

fn cases() -> Vec<(&'static str, Ncco)> {
    let ivr = Ncco::new()
        .talk("Welcome to Example Bank.")
        .then(Talk::new("Press 1 for balances, 2 for cards.").barge_in(true).language("en-GB").style(2))
        .then(
            Input::dtmf_and_speech(
                Dtmf::new().max_digits(1).time_out(5).submit_on_hash(true),
                Speech::new().language("en-GB").context(["balances", "cards"]).end_on_silence(1.5),
            )
            .event_url("https://example.com/ivr/menu")
            .event_method(EventMethod::Post),
        );
    let voicemail = Ncco::new()
        .talk("Please leave a message after the tone.")
        .then(Record::voicemail("https://example.com/recordings").format(RecordFormat::Wav))
        .talk("Thank you. Goodbye.");
    let forward = Ncco::new().then(
        Connect::to(Endpoint::phone("447700900001"))
            .from("447700900000")
            .timeout(20)
            .limit(3600)
            .synchronous("https://example.com/connect-events")
            .advanced_machine_detection(AdvancedMachineDetection {
                behavior: Some(MachineBehavior::Continue),
                mode: Some(AmdMode::DetectBeep),
                beep_timeout: Some(60),
                ..AdvancedMachineDetection::default()
            }),
    );
    let mut headers = serde_json::Map::new();
    headers.insert("caller".into(), json!("447700900123"));
    let websocket = Ncco::new().then(Connect::to(Endpoint::Websocket(WebsocketEndpoint {
        uri: "wss://bot.example.com/socket".into(),
        content_type: Some(ContentType::L16Rate16000),
        headers: Some(headers),
        authorization: Some(WebsocketAuthorization::Custom { value: "Bearer abc".into() }),
        ..WebsocketEndpoint::default()
    })));
    let conference = Ncco::new()
        .then(Conversation::new("standup").moderator().record(true).event_url("https://example.com/conf-rec"))
        .then(Conversation::new("standup").attendee("https://example.com/hold.mp3"));
    let misc = Ncco::new()
        .then(Notify::new("https://example.com/notify").field("step", "greeted").field("attempt", 1))
        .then(Stream::new("https://example.com/hold.mp3").forever().level(0.3))
        .then(Wait::seconds(0.5))
        .then(Input::asynchronous_dtmf("https://example.com/dtmf"))
        .then(Transfer::to("CON-f972836a-550f-45fa-956c-12a2ab5b7d22"));
    vec![
        ("ivr", ivr),
        ("voicemail", voicemail),
        ("forward", forward),
        ("websocket", websocket),
        ("conference", conference),
        ("misc", misc),
    ]
}

#[test]
fn builders_match_golden_json() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for (name, ncco) in cases() {
        let report = ncco.validate();
        assert!(report.is_valid(), "{name}: {report}");
        assert!(report.warnings.is_empty(), "{name}: {:?}", report.warnings);
        let path = dir.join(format!("{name}.json"));
        let actual = serde_json::to_string_pretty(&ncco).unwrap() + "\n";
        if update {
            std::fs::write(&path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1 to create it)", path.display()));
        assert_eq!(actual, expected, "{name}: builder output differs from {}", path.display());
        let value: Value = serde_json::from_str(&expected).unwrap();
        assert_eq!(Ncco::from_value(&value).unwrap(), ncco, "{name}: golden JSON does not parse back");
    }
}
