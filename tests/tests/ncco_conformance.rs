//! The shared NCCO conformance cases through the model: every valid case is accepted (also in strict
//! mode) and round-trips; every invalid case is rejected at the offending pointer for the right rule.

#![allow(clippy::unwrap_used)]

use ncco_sdk::ncco::{Ncco, Validator};
use ncco_sdk::{Mode, Rule};
use ncco_tests::conformance_files;
use serde_json::Value;

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn every_valid_case_is_accepted_in_both_modes_and_round_trips() {
    for path in conformance_files("ncco").unwrap() {
        let text = read(&path);
        let name = path.file_name().unwrap().to_string_lossy();
        for validator in [Validator::default(), Validator::strict()] {
            let checked = validator.check_str(&text);
            assert!(checked.report.is_valid(), "{name} ({:?}): {}", validator.mode, checked.report);
        }
        let ncco = Ncco::parse(&text).unwrap();
        let again = Ncco::parse(&ncco.to_json()).unwrap();
        assert_eq!(ncco, again, "{name}: parse, serialize, parse changed the value");
        // The canonical cases are already in Vonage's form: serializing gives the same JSON value.
        let original: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(ncco.to_value(), original, "{name}: serialization differs from the case");
    }
}

/// Each invalid case, the pointer of the offending value (or of the object lacking a key), and the rule.
const INVALID: &[(&str, &str, Rule)] = &[
    ("inv-01-talk-level-out-of-range.json", "/0/level", Rule::Range),
    ("inv-02-record-format-flac.json", "/0/format", Rule::Enum),
    ("inv-03-connect-two-endpoints.json", "/0/endpoint", Rule::OneEndpoint),
    ("inv-04-eventurl-not-array.json", "/0/eventUrl", Rule::Type),
    ("inv-05-input-missing-type.json", "/0", Rule::Required),
    ("inv-06-dtmf-maxdigits-too-large.json", "/0/dtmf/maxDigits", Rule::Range),
    ("inv-07-connect-from-and-randomfrom.json", "/0/randomFromNumber", Rule::Exclusive),
    ("inv-08-conversation-mute-with-canspeak.json", "/0/mute", Rule::Exclusive),
    ("inv-09-ncco-not-array.json", "", Rule::NotArray),
    ("inv-10-bargein-without-following-input.json", "/0/bargeIn", Rule::BargeIn),
    ("inv-11-unknown-action.json", "/0/action", Rule::UnknownAction),
    ("inv-12-websocket-bad-content-type.json", "/0/endpoint/0/content-type", Rule::Enum),
    ("inv-13-record-endonsilence-too-short.json", "/0/endOnSilence", Rule::Range),
    ("inv-14-stream-missing-streamurl.json", "/0", Rule::Required),
    ("inv-15-talk-missing-text.json", "/0", Rule::Required),
    ("inv-16-notify-missing-eventurl.json", "/0", Rule::Required),
];

#[test]
fn every_invalid_case_is_rejected_at_its_pointer() {
    let files = conformance_files("ncco-invalid").unwrap();
    assert_eq!(files.len(), INVALID.len(), "a conformance case has no expectation here");
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let (_, pointer, rule) = INVALID.iter().find(|(n, _, _)| *n == name).unwrap();
        for mode in [Mode::Lenient, Mode::Strict] {
            let checked = Validator { mode, ..Validator::default() }.check_str(&read(&path));
            assert!(checked.ncco.is_none(), "{name} was accepted");
            assert!(
                checked.report.errors.iter().any(|e| e.pointer == *pointer && e.rule == *rule),
                "{name} ({mode:?}): expected {rule} at {pointer:?}, got {:#?}",
                checked.report.errors
            );
        }
    }
}
