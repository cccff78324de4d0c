//! `ncco-host check` as a process: exit codes, the text and JSON formats, standard input.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use ncco_tests::{conformance_files, ncco_host_bin};
use serde_json::Value;

fn check(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(ncco_host_bin().unwrap())
        .arg("check")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn every_valid_conformance_file_exits_zero() {
    let files: Vec<String> = conformance_files("ncco").unwrap().iter().map(|p| p.display().to_string()).collect();
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    let out = check(&args, None);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(stdout(&out).lines().filter(|l| l.ends_with(": valid")).count(), files.len());
}

#[test]
fn an_invalid_file_exits_one_and_prints_file_pointer_message() {
    let file = conformance_files("ncco-invalid")
        .unwrap()
        .into_iter()
        .find(|p| p.ends_with("inv-06-dtmf-maxdigits-too-large.json"))
        .unwrap();
    let file = file.display().to_string();
    let out = check(&[&file], None);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let line = text.lines().next().unwrap();
    assert_eq!(line, format!("{file}: /0/dtmf/maxDigits: `maxDigits` must be between 1 and 20, got 25"));
}

#[test]
fn one_invalid_among_valid_files_exits_one() {
    let valid = conformance_files("ncco").unwrap()[0].display().to_string();
    let invalid = conformance_files("ncco-invalid").unwrap()[0].display().to_string();
    let out = check(&[&valid, &invalid], None);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains(&format!("{valid}: valid")), "{text}");
    assert!(text.contains(&format!("{invalid}: /0/level: ")), "{text}");
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
    let ncco = r#"[{"action":"talk","level":3},{"action":"record","format":"flac","endOnSilence":1}]"#;
    let out = check(&["-"], Some(ncco));
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    for expected in
        ["<stdin>: /0: talk needs `text`", "<stdin>: /0/level: ", "<stdin>: /1/format: ", "<stdin>: /1/endOnSilence: "]
    {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn standard_input_is_read_for_dash() {
    let out = check(&["-"], Some(r#"[{"action":"talk","text":"hello"}]"#));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out).trim(), "<stdin>: valid");
}

#[test]
fn unreadable_file_exits_two_even_next_to_invalid_ones() {
    let invalid = conformance_files("ncco-invalid").unwrap()[0].display().to_string();
    let out = check(&["/nonexistent/ncco.json", &invalid], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).contains("/nonexistent/ncco.json: cannot read:"), "{}", stdout(&out));
}

#[test]
fn no_files_is_a_usage_error() {
    let out = check(&[], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage"));
}

#[test]
fn not_json_is_invalid_with_a_syntax_error() {
    let out = check(&["--json", "-"], Some("[{\"action\": \"talk\""));
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report[0]["errors"][0]["rule"], "syntax");
}

#[test]
fn json_report_has_file_valid_errors_and_warnings() {
    let lenient = r#"[{"action":"talk","text":"hi","loop":"2"},{"action":"stream","streamUrl":["https://example.com/a.mp3"],"level":5}]"#;
    let out = check(&["--json", "-"], Some(lenient));
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let file = &report[0];
    assert_eq!(file["file"], "<stdin>");
    assert_eq!(file["valid"], false);
    assert_eq!(file["errors"][0]["pointer"], "/1/level");
    assert_eq!(file["errors"][0]["rule"], "range");
    assert!(file["errors"][0]["message"].as_str().unwrap().contains("between -1 and 1"));
    assert_eq!(file["warnings"][0]["pointer"], "/0/loop");
    assert_eq!(file["warnings"][0]["rule"], "lenient");
}

#[test]
fn strict_mode_turns_lenient_forms_into_errors() {
    let lenient = r#"[{"action":"talk","text":"hi","bargeIn":"false"}]"#;
    assert_eq!(check(&["-"], Some(lenient)).status.code(), Some(0));
    let out = check(&["--strict", "-"], Some(lenient));
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("<stdin>: /0/bargeIn: "), "{}", stdout(&out));
}
