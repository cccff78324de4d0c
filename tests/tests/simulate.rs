//! `ncco-host simulate` as a process: whole calls against the real host running the hello plugin
//! (happy path, timeout, barge-in, hangup, signed webhooks, a wrong secret), against a tiny Python
//! answer server that is not ours (speech, DTMF, an invalid NCCO, retry, fallback), and bad usage.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use ncco_tests::{HostProcess, get, ncco_host_bin, plugin_wasm, workspace_root};
use serde_json::Value;

const SECRET: &str = "simulator-test-secret-0123456789abcdef";

/// What one `ncco-host simulate` run printed and returned.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

fn simulate(args: &[&str]) -> Run {
    let out = Command::new(ncco_host_bin().unwrap()).arg("simulate").args(args).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A host serving `acme/hello` (unsigned) and `signed/hello` (with a signature secret).
struct Host {
    process: HostProcess,
    _plugins: tempfile::TempDir,
    _data: tempfile::TempDir,
}

impl Host {
    fn start() -> Host {
        let plugins = tempfile::tempdir().unwrap();
        for tenant in ["acme", "signed"] {
            let dir = plugins.path().join(tenant);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::copy(plugin_wasm("hello").unwrap(), dir.join("hello.wasm")).unwrap();
        }
        std::fs::write(plugins.path().join("signed/tenant.toml"), format!("signature_secret = \"{SECRET}\"\n"))
            .unwrap();
        let data = tempfile::tempdir().unwrap();
        let process = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
        Host { process, _plugins: plugins, _data: data }
    }

    fn answer_url(&self, tenant: &str) -> String {
        self.process.url(&format!("/{tenant}/hello/answer"))
    }
}

/// `tests/fixtures/answer_server.py`, started with `python3` on a free port, killed when dropped.
struct PythonServer {
    child: Child,
    base: String,
}

impl PythonServer {
    fn start() -> PythonServer {
        let script = workspace_root().join("tests/fixtures/answer_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 is needed for the foreign answer server test");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let base =
            line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected: {line:?}")).to_owned();
        PythonServer { child, base }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Every request the server received.
    fn log(&self) -> Vec<Value> {
        get(&self.url("/log")).unwrap().json().unwrap().as_array().unwrap().clone()
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn scenario(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn example(name: &str) -> String {
    workspace_root().join("examples/scenarios").join(name).display().to_string()
}

/// The timeline entries of one kind.
fn entries<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["timeline"].as_array().unwrap().iter().filter(|e| e["kind"] == kind).collect()
}

/// The labels of the webhooks sent, in order.
fn webhook_labels(report: &Value) -> Vec<String> {
    entries(report, "webhook").iter().map(|w| w["label"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn hello_happy_path_presses_a_key_and_hears_it_back() {
    let host = Host::start();
    let run = simulate(&["--answer-url", &host.answer_url("acme"), "--scenario", &example("hello-press-1.toml")]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let text = &run.stdout;
    for line in ["hears    \"Hello 447700900000.\"", "presses  1", "You pressed 1. Goodbye.", "result: PASS (exit 0)"] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(text.contains("input dtmf=1 POST /acme/hello/event/menu -> 200"), "{text}");

    let run =
        simulate(&["--answer-url", &host.answer_url("acme"), "--scenario", &example("hello-press-1.toml"), "--json"]);
    assert_eq!(run.code, 0);
    let report = run.json();
    assert_eq!(
        webhook_labels(&report),
        ["answer", "status started", "status ringing", "status answered", "input dtmf=1", "status completed"]
    );
    let webhooks = entries(&report, "webhook");
    // GET answer with Vonage's query fields; events are JSON posts to the derived event URL.
    assert_eq!(webhooks[0]["method"], "GET");
    assert!(webhooks[0]["url"].as_str().unwrap().contains("from=447700900000&"), "{}", webhooks[0]);
    assert_eq!(webhooks[1]["url"], host.process.url("/acme/hello/event"));
    let input = &webhooks[4]["request"];
    assert_eq!(input["dtmf"], serde_json::json!({"digits": "1", "timed_out": false}));
    assert_eq!(input["uuid"], report["call"]["uuid"]);
    let completed = &webhooks[5]["request"];
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["disconnected_by"], "platform");
    assert!(completed["duration"].as_str().unwrap().parse::<u64>().unwrap() >= 3, "{completed}");
    let nccos = entries(&report, "ncco");
    assert_eq!(nccos.len(), 2);
    assert_eq!(nccos[1]["replaces"], true);
    assert_eq!(report["result"]["ok"], true);
    // The greeting plays whole; the bargeIn prompt plays whole too (the key comes 1 s after it).
    let heard = entries(&report, "hear");
    assert_eq!(heard.len(), 3, "{heard:?}");
    assert!(heard.iter().all(|h| h["cut"].is_null()));
}

#[test]
fn hello_barge_in_cuts_the_prompt() {
    let host = Host::start();
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(
        dir.path(),
        "barge.toml",
        "[[inputs]]\ndtmf = \"7\"\nafter = 0.3\n[expect]\nheard = [\"You pressed 7\"]\n",
    );
    let run = simulate(&["--answer-url", &host.answer_url("acme"), "--scenario", s.to_str().unwrap(), "--json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let report = run.json();
    let prompt = entries(&report, "hear").into_iter().find(|h| h["text"] == "Press any key.").unwrap().clone();
    assert_eq!(prompt["cut"], "barge_in", "{prompt}");
    assert_eq!(prompt["played"], 0.3);
    let press = entries(&report, "press")[0];
    assert!((press["t"].as_f64().unwrap() - (prompt["t"].as_f64().unwrap() + 0.3)).abs() < 0.002, "{press}");
}

#[test]
fn hello_timeout_path_reports_nothing_pressed() {
    let host = Host::start();
    let run =
        simulate(&["--answer-url", &host.answer_url("acme"), "--scenario", &example("hello-timeout.toml"), "--json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let report = run.json();
    let input = entries(&report, "webhook")
        .into_iter()
        .find(|w| w["label"].as_str().unwrap().starts_with("input"))
        .unwrap()
        .clone();
    assert_eq!(input["request"]["dtmf"], serde_json::json!({"digits": null, "timed_out": true}));
    // The input's timeOut (5 s) runs from the end of the prompt.
    let prompt_end = entries(&report, "hear")
        .iter()
        .find(|h| h["text"] == "Press any key.")
        .map(|h| h["t"].as_f64().unwrap() + h["seconds"].as_f64().unwrap())
        .unwrap();
    assert!((input["t"].as_f64().unwrap() - (prompt_end + 5.0)).abs() < 0.002, "{input}");
    assert!(run.json()["result"]["expectations"].as_array().unwrap().iter().all(|c| c["ok"] == true));
}

#[test]
fn hello_hangup_mid_flow_ends_the_call_without_an_input_event() {
    let host = Host::start();
    let run =
        simulate(&["--answer-url", &host.answer_url("acme"), "--scenario", &example("hello-hangup.toml"), "--json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let report = run.json();
    assert_eq!(
        webhook_labels(&report),
        ["answer", "status started", "status ringing", "status answered", "status completed"]
    );
    let completed = &entries(&report, "webhook")[4]["request"];
    assert_eq!(completed["disconnected_by"], "user");
    assert_eq!(report["result"]["disconnected_by"], "user");
    assert!(entries(&report, "hear").iter().any(|h| h["cut"] == "hangup"));
}

#[test]
fn an_expectation_that_fails_fails_the_run() {
    let host = Host::start();
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(
        dir.path(),
        "wrong.toml",
        "[[inputs]]\ndtmf = \"2\"\n[expect]\nheard = [\"You pressed 3\"]\nended_within = 1\n",
    );
    let run = simulate(&["--answer-url", &host.answer_url("acme"), "--scenario", s.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("expect heard [\"You pressed 3\"]: FAILED"), "{}", run.stdout);
    assert!(run.stdout.contains("expect ended within 1 s: FAILED: the call lasted"), "{}", run.stdout);
    assert!(run.stdout.contains("result: FAIL (0 problems, 2 expectations failed) (exit 1)"), "{}", run.stdout);
}

#[test]
fn signed_webhooks_pass_and_a_wrong_secret_is_refused() {
    let host = Host::start();
    let run = simulate(&[
        "--answer-url",
        &host.answer_url("signed"),
        "--secret",
        SECRET,
        "--scenario",
        &example("hello-press-1.toml"),
        "--json",
    ]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, host.process.log());
    let report = run.json();
    let webhooks = entries(&report, "webhook");
    assert!(webhooks.iter().all(|w| w["signed"] == true && w["status"].as_u64().unwrap() < 300), "{webhooks:?}");
    // Unsigned, the signed tenant refuses the answer request (as if there were no such app).
    let run = simulate(&["--answer-url", &host.answer_url("signed")]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("-> HTTP 404 Not Found"), "{}", run.stdout);

    let run = simulate(&[
        "--answer-url",
        &host.answer_url("signed"),
        "--secret",
        "not-the-secret-000000000000000000",
        "--json",
    ]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.json();
    let answer = entries(&report, "webhook")[0].clone();
    assert_eq!(answer["status"], 404);
    assert!(report["result"]["problems"][0].as_str().unwrap().contains("404"), "{}", report["result"]);
    // The reason is the operator's to read, in the host's log.
    assert!(host.process.wait_for_log("JWT signature does not match"), "{}", host.process.log());
}

#[test]
fn a_foreign_python_answer_server_is_driven_like_ours() {
    let server = PythonServer::start();
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(
        dir.path(),
        "yes.json",
        r#"{"call": {"answer_method": "POST"}, "inputs": [{"speech": "yes", "confidence": 0.82, "after": 0.5}],
            "expect": {"heard": ["Welcome to the Python answer server", "You chose yes"], "webhooks_ok": true}}"#,
    );
    let run = simulate(&["--answer-url", &server.url("/answer"), "--scenario", s.to_str().unwrap(), "--json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let report = run.json();
    assert_eq!(entries(&report, "say")[0]["text"], "yes");
    let log = server.log();
    let paths: Vec<&str> = log.iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["/answer", "/event", "/event", "/event", "/input", "/event"]);
    assert_eq!(log[0]["method"], "POST");
    assert_eq!(log[0]["body"]["endpoint_type"], "phone");
    let statuses: Vec<&str> = log.iter().filter_map(|r| r["body"]["status"].as_str()).collect();
    assert_eq!(statuses, ["started", "ringing", "answered", "completed"]);
    let speech = &log[4]["body"]["speech"];
    assert_eq!(speech["results"][0]["text"], "yes");
    assert_eq!(speech["results"][0]["confidence"], "0.82");
    assert_eq!(speech["timeout_reason"], "end_on_silence_timeout");
    assert!(log.iter().all(|r| r["authorization"].is_null()));

    // A key instead of speech, signed: the Python server sees Bearer tokens.
    let s = scenario(dir.path(), "one.toml", "[[inputs]]\ndtmf = \"1\"\n[expect]\nheard = [\"You chose yes\"]\n");
    let run =
        simulate(&["--answer-url", &server.url("/answer"), "--scenario", s.to_str().unwrap(), "--secret", SECRET]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(server.log().last().unwrap()["authorization"].as_str().unwrap().starts_with("Bearer ey"));

    // Retries a 503 once; falls back on a 500.
    let run = simulate(&["--answer-url", &server.url("/busy/answer"), "--json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let attempts: Vec<Value> = entries(&run.json(), "webhook").iter().take(2).map(|w| w["attempt"].clone()).collect();
    assert_eq!(attempts, ["primary", "retry"]);
    let run = simulate(&[
        "--answer-url",
        &server.url("/broken/answer"),
        "--fallback-url",
        &server.url("/fallback"),
        "--json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let report = run.json();
    let fallback = entries(&report, "webhook")[1].clone();
    assert_eq!(fallback["attempt"], "fallback");
    assert_eq!(fallback["request"]["reason"], "HTTP 500 Internal Server Error");
    assert_eq!(fallback["request"]["original_request"]["type"], "answer");
    assert!(entries(&report, "hear")[0]["text"] == "This is the fallback.");
}

#[test]
fn an_invalid_ncco_is_reported_with_an_error_event_and_fails_the_run() {
    let server = PythonServer::start();
    let run =
        simulate(&["--answer-url", &server.url("/invalid/answer"), "--event-url", &server.url("/event"), "--json"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.json();
    let problem = entries(&report, "problem")[0]["text"].as_str().unwrap().to_owned();
    assert!(problem.contains("/0: talk needs `text`"), "{problem}");
    let error = entries(&report, "webhook").into_iter().find(|w| w["label"] == "error").unwrap().clone();
    assert_eq!(error["request"]["reason"], "Syntax error in NCCO. Invalid value type or action.");
    let received = server.log();
    assert_eq!(received.last().unwrap()["body"]["reason"], "Syntax error in NCCO. Invalid value type or action.");
    let text = simulate(&["--answer-url", &server.url("/invalid/answer")]).stdout;
    assert!(text.contains("PROBLEM  NCCO #1 from answer is invalid"), "{text}");
}

#[test]
fn an_unreachable_answer_server_and_bad_usage_exit_2() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/answer", closed.local_addr().unwrap());
    drop(closed);
    let run = simulate(&["--answer-url", &url]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stdout.contains("[retry] -> failed: Connection refused."), "{}", run.stdout);
    assert!(run.stdout.contains("ERROR: the answer server cannot be reached"), "{}", run.stdout);

    let dir = tempfile::tempdir().unwrap();
    let bad = scenario(dir.path(), "bad.toml", "[call]\nfrom = \"1\"\nhangup_afterr = 3\n");
    let run = simulate(&["--answer-url", "http://127.0.0.1:9/answer", "--scenario", bad.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("bad.toml") && run.stderr.contains("hangup_afterr"), "{}", run.stderr);
    let run = simulate(&["--answer-url", "not a url"]);
    assert_eq!(run.code, 2);
    let run = simulate(&["--scenario", "x.toml"]);
    assert_eq!(run.code, 2, "clap usage error: {}", run.stderr);
}

#[test]
fn every_example_scenario_parses() {
    let dir = workspace_root().join("examples/scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml" || e == "json") {
            ncco_host::simulate::Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 4, "only {n} example scenarios");
}
