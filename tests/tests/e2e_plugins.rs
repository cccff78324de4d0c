//! Every plugin of `plugins/` driven through whole calls by `ncco-host simulate` against the running
//! host, with the scenario files of `examples/scenarios/`: the happy paths and the failure paths
//! (timeouts, wrong input, a busy or unreachable callee, a hangup mid-flow).

#![allow(clippy::unwrap_used)]

use std::process::Command;

use ncco_tests::{HostProcess, build_plugins, ncco_host_bin, plugin_wasm, workspace_root};
use serde_json::Value;

/// The plugins of this file, built in one cargo invocation.
const PLUGINS: [&str; 5] = ["ivr-menu", "voicemail", "call-forwarding", "conference", "websocket-bot"];

/// A host serving one app of tenant `acme`.
struct Host {
    process: HostProcess,
    app: String,
    _plugins: tempfile::TempDir,
    _data: tempfile::TempDir,
}

impl Host {
    /// Serves plugin crate `crate_name` as `acme/<app>` with the `[vars]` of `vars`.
    fn start(app: &str, crate_name: &str, vars: &str) -> Host {
        build_plugins(&PLUGINS).unwrap();
        let plugins = tempfile::tempdir().unwrap();
        let tenant = plugins.path().join("acme");
        std::fs::create_dir_all(&tenant).unwrap();
        std::fs::copy(plugin_wasm(crate_name).unwrap(), tenant.join(format!("{app}.wasm"))).unwrap();
        // These check call flows, not deadlines: a debug host on a loaded 2-core machine (the other
        // tests of this file compiling their plugins) once took over the 500 ms default.
        // voicemail can post new messages to a backend (it imports wasi:http): its app names one.
        let allow =
            if crate_name == "voicemail" { "allowed_outbound_hosts = [\"https://hooks.example.com\"]\n" } else { "" };
        std::fs::write(tenant.join(format!("{app}.toml")), format!("{allow}timeout_ms = 4000\n[vars]\n{vars}"))
            .unwrap();
        let data = tempfile::tempdir().unwrap();
        let process = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
        Host { process, app: app.to_owned(), _plugins: plugins, _data: data }
    }

    /// Runs `examples/scenarios/<name>.toml` against this app and returns the JSON report, after
    /// checking that the call passed (exit 0, every expectation held).
    fn run(&self, name: &str) -> Value {
        let scenario = workspace_root().join("examples/scenarios").join(format!("{name}.toml"));
        let out = Command::new(ncco_host_bin().unwrap())
            .args(["simulate", "--json", "--answer-url"])
            .arg(self.process.url(&format!("/acme/{}/answer", self.app)))
            .arg("--scenario")
            .arg(&scenario)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let report: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
        let failed: Vec<&Value> =
            report["result"]["expectations"].as_array().unwrap().iter().filter(|c| c["ok"] != true).collect();
        assert!(
            out.status.code() == Some(0) && report["result"]["ok"] == true,
            "{name} failed: {failed:?} {}\nhost log:\n{}",
            report["result"],
            self.process.log()
        );
        report
    }
}

fn entries<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["timeline"].as_array().unwrap().iter().filter(|e| e["kind"] == kind).collect()
}

/// The webhooks whose label starts with `label`.
fn webhooks<'a>(report: &'a Value, label: &str) -> Vec<&'a Value> {
    entries(report, "webhook").into_iter().filter(|w| w["label"].as_str().unwrap().starts_with(label)).collect()
}

#[test]
fn ivr_menu_routes_by_key_and_speech_and_survives_wrong_input_timeouts_busy_and_hangup() {
    let host = Host::start("ivr", "ivr-menu", "");
    let report = host.run("ivr-sales-by-key");
    let menu =
        entries(&report, "hear").into_iter().find(|h| h["text"].as_str().unwrap().starts_with("For Sales")).unwrap();
    assert_eq!(menu["cut"], "barge_in", "the key cut the menu: {menu}");
    let route = webhooks(&report, "connect status");
    assert!(route.iter().all(|w| w["url"].as_str().unwrap().ends_with("/acme/ivr/event/route")), "{route:?}");

    let report = host.run("ivr-support-by-speech");
    let input = &webhooks(&report, "input")[0]["request"];
    assert_eq!(input["speech"]["results"][0]["text"], "support please");
    assert_eq!(webhooks(&report, "answer")[0]["method"], "POST");

    host.run("ivr-wrong-input");
    let report = host.run("ivr-timeout");
    let inputs = webhooks(&report, "input");
    assert_eq!(inputs.len(), 3);
    assert!(inputs.iter().all(|w| w["request"]["speech"]["timeout_reason"] == "start_timeout"), "{inputs:?}");

    let report = host.run("ivr-busy-department");
    let busy = webhooks(&report, "connect status busy")[0];
    assert_eq!(busy["request"]["sip_code"], 486);
    assert_eq!(entries(&report, "ncco")[2]["from"], "connect status busy");

    let report = host.run("ivr-hangup");
    assert!(webhooks(&report, "input").is_empty());
}

#[test]
fn voicemail_records_messages_and_reads_them_to_the_owner() {
    let host = Host::start("voicemail", "voicemail", "owner = \"447700900555\"\n");
    let report = host.run("voicemail-leave-message");
    let record = webhooks(&report, "record")[0];
    assert!(record["url"].as_str().unwrap().ends_with("/acme/voicemail/event/recording"));
    assert_eq!(record["request"]["size"], 48_000, "12 s of MP3 at 32 kbps");
    // The synchronous record's event comes before the goodbye.
    let goodbye =
        entries(&report, "hear").into_iter().find(|h| h["text"].as_str().unwrap().contains("Goodbye")).unwrap();
    assert!(record["t"].as_f64().unwrap() <= goodbye["t"].as_f64().unwrap());

    let report = host.run("voicemail-owner");
    let summary = entries(&report, "hear")[0]["text"].as_str().unwrap().to_owned();
    assert!(summary.starts_with("You have 1 message."), "{summary}");
    assert!(summary.contains("12 seconds long"), "{summary}");

    let report = host.run("voicemail-hangup");
    let labels: Vec<&str> = entries(&report, "webhook").iter().map(|w| w["label"].as_str().unwrap()).collect();
    assert_eq!(&labels[labels.len() - 2..], ["status completed", "record"], "the record event comes after the end");
}

#[test]
fn call_forwarding_connects_and_takes_voicemail_when_busy_or_unanswered() {
    let host = Host::start("forward", "call-forwarding", "forward_to = \"447700900999\"\n");
    let report = host.run("forward-answered");
    let answered = webhooks(&report, "connect status answered")[0];
    assert_eq!(answered["request"]["to"], "447700900999");
    assert!(answered["url"].as_str().unwrap().ends_with("/acme/forward/event/forward"));

    let report = host.run("forward-busy");
    assert_eq!(entries(&report, "ncco")[1]["from"], "connect status busy");
    assert_eq!(webhooks(&report, "record").len(), 1);

    let report = host.run("forward-timeout");
    let timeout = webhooks(&report, "connect status timeout")[0];
    assert!(
        (timeout["t"].as_f64().unwrap() - webhooks(&report, "connect status started")[0]["t"].as_f64().unwrap() - 20.0)
            .abs()
            < 0.002
    );
}

#[test]
fn conference_admits_by_pin_and_refuses_wrong_pins() {
    let host = Host::start("conference", "conference", "moderator_pin = \"1234\"\nattendee_pin = \"5678\"\n");
    let report = host.run("conference-moderator");
    assert_eq!(webhooks(&report, "input")[0]["request"]["dtmf"]["digits"], "1234");
    let report = host.run("conference-attendee-hangup");
    assert!(entries(&report, "hear").iter().any(|h| h["source"] == "music_on_hold"));
    let report = host.run("conference-wrong-pin");
    let digits: Vec<&Value> = webhooks(&report, "input").iter().map(|w| &w["request"]["dtmf"]["digits"]).collect();
    assert_eq!(digits, [&Value::from("9999"), &Value::from("12"), &Value::Null]);
}

#[test]
fn websocket_bot_reconnects_once_and_handles_failure_and_hangup() {
    let host = Host::start("bot", "websocket-bot", "uri = \"wss://bot.example.com/socket\"\n");
    let report = host.run("bot-reconnect");
    let disconnected = webhooks(&report, "connect status disconnected");
    assert_eq!(disconnected.len(), 2);
    assert_eq!(disconnected[0]["request"]["headers"]["attempt"], 1);
    assert!(disconnected[0]["request"].get("direction").is_none(), "disconnected has no direction");
    host.run("bot-unavailable");
    let report = host.run("bot-hangup");
    assert!(webhooks(&report, "connect status disconnected").is_empty());
    assert_eq!(webhooks(&report, "connect status completed").len(), 1);
}
