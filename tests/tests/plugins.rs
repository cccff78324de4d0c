//! The real plugins (ivr-menu, voicemail, call-forwarding, conference, websocket-bot, crm-lookup) through the real
//! host: each flow is driven with Vonage-shaped webhooks, posting to the eventUrls its NCCOs name, and
//! every NCCO answered must pass the model's strict validation.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use ncco_sdk::ncco::Validator;
use ncco_tests::{HostProcess, Reply, build_plugins, get, plugin_wasm, post};
use serde_json::{Value, json};

/// Every plugin of this file, built in one cargo invocation.
const PLUGINS: [&str; 6] = ["ivr-menu", "voicemail", "call-forwarding", "conference", "websocket-bot", "crm-lookup"];
/// The Vonage number callers dial.
const VONAGE_NUMBER: &str = "442079460000";
/// A caller.
const CALLER: &str = "447700900123";

/// A host serving apps of tenant `acme`, with its plugin tree and data directory.
struct Host {
    process: HostProcess,
    _plugins: tempfile::TempDir,
    _data: tempfile::TempDir,
}

impl Host {
    /// Lays out `acme/<app>.wasm` and `acme/<app>.toml` for each `(app, crate, toml)` and starts the host.
    fn start(apps: &[(&str, &str, &str)]) -> Host {
        build_plugins(&PLUGINS).unwrap();
        let plugins = tempfile::tempdir().unwrap();
        let tenant = plugins.path().join("acme");
        std::fs::create_dir_all(&tenant).unwrap();
        for (app, crate_name, toml) in apps {
            std::fs::copy(plugin_wasm(crate_name).unwrap(), tenant.join(format!("{app}.wasm"))).unwrap();
            // These check call flows, not deadlines: with eight hosts of this file starting (and
            // compiling their plugins) at once on two cores, a debug host has missed the 500 ms
            // default (a cold CI run answered two call-forwarding calls with the fallback).
            std::fs::write(
                tenant.join(format!("{app}.toml")),
                if toml.contains("timeout_ms") { (*toml).to_owned() } else { format!("timeout_ms = 4000\n{toml}") },
            )
            .unwrap();
        }
        let data = tempfile::tempdir().unwrap();
        let process = HostProcess::start(plugins.path(), data.path(), &[]).unwrap();
        let admin = get(&process.url("/_admin/apps")).unwrap().json().unwrap();
        for app in admin["apps"].as_array().unwrap() {
            assert!(app["last_error"].is_null(), "an app did not load: {app}");
        }
        Host { process, _plugins: plugins, _data: data }
    }

    /// `http://127.0.0.1:PORT/acme/<app><path>`.
    fn url(&self, app: &str, path: &str) -> String {
        self.process.url(&format!("/acme/{app}{path}"))
    }

    /// POSTs an answer request from `from` in `conversation` and returns the NCCO.
    fn answer(&self, app: &str, from: &str, conversation: &str) -> Value {
        let body = json!({
            "from": from,
            "to": VONAGE_NUMBER,
            "uuid": leg(conversation),
            "conversation_uuid": conversation,
            "endpoint_type": "phone",
            "region_url": "https://api-eu-1.vonage.com",
        });
        ncco(&post(&self.url(app, "/answer"), &body.to_string(), &[]).unwrap())
    }

    /// POSTs `event` to `url`: `Some(ncco)` for a 200 (strictly valid), `None` for a 204.
    fn event(&self, url: &str, event: &Value) -> Option<Value> {
        assert!(url.starts_with(&self.process.base_url), "{url} is not on this host");
        let reply = post(url, &event.to_string(), &[]).unwrap();
        match reply.status {
            204 => None,
            _ => Some(ncco(&reply)),
        }
    }

    /// Asserts the plain call events get an empty 204, on the app's event URL and on `callback`.
    fn plain_events_get_no_content(&self, app: &str, callback: &str, conversation: &str) {
        for url in [self.url(app, "/event"), callback.to_owned()] {
            for s in ["started", "ringing", "answered", "completed"] {
                assert_eq!(self.event(&url, &status(conversation, s)), None, "{s} on {url}");
            }
        }
    }

    /// Waits until the host's log contains `needle` (plugin logs arrive through the host's stderr).
    fn wait_for_log(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.process.log().contains(needle) {
            assert!(Instant::now() < deadline, "no {needle:?} in the log:\n{}", self.process.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A 200 whose body is a strictly valid NCCO, as JSON.
fn ncco(reply: &Reply) -> Value {
    assert_eq!(reply.status, 200, "{}", reply.body);
    let checked = Validator::strict().check_str(&reply.body);
    assert!(checked.report.is_valid(), "invalid NCCO {}: {}", reply.body, checked.report);
    reply.json().unwrap()
}

fn leg(conversation: &str) -> String {
    format!("{}-leg", conversation.trim_start_matches("CON-"))
}

/// The action names of an NCCO.
fn actions(ncco: &Value) -> Vec<&str> {
    ncco.as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect()
}

/// The first action named `name`.
fn action<'a>(ncco: &'a Value, name: &str) -> &'a Value {
    ncco.as_array().unwrap().iter().find(|a| a["action"] == name).unwrap_or_else(|| panic!("no {name} in {ncco}"))
}

/// Every talk's text, joined by spaces.
fn talks(ncco: &Value) -> String {
    let texts: Vec<&str> = ncco
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "talk")
        .map(|a| a["text"].as_str().unwrap())
        .collect();
    texts.join(" ")
}

/// The eventUrl of the first action named `name`.
fn event_url(ncco: &Value, name: &str) -> String {
    let urls = action(ncco, name)["eventUrl"].as_array().unwrap();
    assert_eq!(urls.len(), 1);
    urls[0].as_str().unwrap().to_owned()
}

fn timestamp() -> &'static str {
    "2026-05-04T09:15:20.331Z"
}

/// A call-status event, with the extra fields Vonage sends for that status.
fn status(conversation: &str, status: &str) -> Value {
    let mut event = json!({
        "from": VONAGE_NUMBER,
        "to": "447700900001",
        "uuid": format!("{}-out", leg(conversation)),
        "conversation_uuid": conversation,
        "status": status,
        "direction": "outbound",
        "timestamp": timestamp(),
    });
    let extra = match status {
        "busy" => json!({"sip_code": 486}),
        "unanswered" => json!({"detail": "unavailable", "sip_code": 480}),
        "rejected" => json!({"detail": "declined", "sip_code": 603}),
        "failed" => json!({"detail": "cannot_route", "sip_code": 404}),
        "answered" => json!({"start_time": null, "rate": null, "network": null}),
        "completed" => json!({
            "start_time": "2026-05-04T09:15:00.000Z", "end_time": "2026-05-04T09:16:00.000Z", "duration": "60",
            "rate": "0.00450000", "price": "0.00450000", "network": "GB-FIXED", "disconnected_by": "user",
        }),
        _ => json!({}),
    };
    event.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    event
}

/// An input result with `digits` pressed.
fn dtmf(conversation: &str, digits: &str) -> Value {
    json!({
        "speech": {"results": []},
        "dtmf": {"digits": digits, "timed_out": false},
        "from": CALLER, "to": VONAGE_NUMBER, "uuid": leg(conversation), "conversation_uuid": conversation,
        "timestamp": timestamp(),
    })
}

/// An input result where nothing was pressed or said.
fn nothing(conversation: &str) -> Value {
    json!({
        "speech": {"results": [], "timeout_reason": "start_timeout"},
        "dtmf": {"digits": null, "timed_out": true},
        "from": CALLER, "to": VONAGE_NUMBER, "uuid": leg(conversation), "conversation_uuid": conversation,
        "timestamp": timestamp(),
    })
}

/// An input result where `said` was heard (best first), confidences as strings as Vonage sends them.
fn speech(conversation: &str, said: &[&str]) -> Value {
    let results: Vec<Value> =
        said.iter().enumerate().map(|(i, t)| json!({"text": t, "confidence": format!("0.{}", 9 - i)})).collect();
    json!({
        "speech": {"timeout_reason": "end_on_silence_timeout", "results": results},
        "dtmf": {"digits": null, "timed_out": false},
        "from": CALLER, "to": VONAGE_NUMBER, "uuid": leg(conversation), "conversation_uuid": conversation,
        "timestamp": timestamp(),
    })
}

/// A record event (no `from`: the plugin knows the caller from call state).
fn record(conversation: &str, file: &str, start: &str, end: &str) -> Value {
    json!({
        "start_time": start,
        "recording_url": format!("https://api.nexmo.com/v1/files/{file}"),
        "size": 61234,
        "recording_uuid": format!("rec-{file}"),
        "end_time": end,
        "conversation_uuid": conversation,
        "timestamp": end,
    })
}

/// Asserts `ncco` prompts again: talks, then an input posting to `menu_url`.
fn assert_prompt(ncco: &Value, menu_url: &str) {
    assert_eq!(actions(ncco).last(), Some(&"input"), "{ncco}");
    assert_eq!(event_url(ncco, "input"), menu_url);
}

#[test]
fn ivr_menu_routes_by_key_and_by_spoken_name() {
    let vars = r#"[vars]
departments = "Sales=447700900001, Support=+44 7700 900002, Billing=CON-billing-queue"
caller_id = "442079460999"
language = "en-GB"
ring_timeout = 25
"#;
    let host = Host::start(&[("ivr", "ivr-menu", vars)]);

    // The answer, by GET as Vonage does by default.
    let query = format!("to={VONAGE_NUMBER}&from={CALLER}&uuid=a-leg&conversation_uuid=CON-ivr-a");
    let menu = ncco(&get(&host.url("ivr", &format!("/answer?{query}"))).unwrap());
    assert_eq!(actions(&menu), ["talk", "talk", "input"]);
    assert_eq!(menu[0]["text"], "Thank you for calling.");
    assert_eq!(menu[0]["language"], "en-GB");
    assert!(menu[0].get("bargeIn").is_none(), "the greeting is not interruptible: {menu}");
    assert_eq!(menu[1]["bargeIn"], true);
    let options = menu[1]["text"].as_str().unwrap();
    for option in ["For Sales, press 1 or say Sales.", "For Support, press 2", "For Billing, press 3"] {
        assert!(options.contains(option), "{options}");
    }
    let input = &menu[2];
    assert_eq!(input["type"], json!(["dtmf", "speech"]));
    assert_eq!(input["dtmf"]["maxDigits"], 1);
    assert_eq!(input["speech"]["language"], "en-GB");
    assert!(input["speech"]["context"].as_array().unwrap().contains(&json!("Billing")));
    let menu_url = event_url(&menu, "input");
    assert_eq!(menu_url, host.url("ivr", "/event/menu"));

    // Key 2: Support, by a synchronous connect from the configured caller ID.
    let routed = host.event(&menu_url, &dtmf("CON-ivr-a", "2")).unwrap();
    assert_eq!(actions(&routed), ["talk", "connect"]);
    assert_eq!(routed[0]["text"], "Connecting you to Support.");
    let connect = &routed[1];
    assert_eq!(connect["endpoint"], json!([{"type": "phone", "number": "447700900002"}]));
    assert_eq!(connect["from"], "442079460999");
    assert_eq!(connect["timeout"], 25);
    assert_eq!(connect["eventType"], "synchronous");
    let route_url = event_url(&routed, "connect");
    assert_eq!(route_url, host.url("ivr", "/event/route"));

    // The department's leg: plain events get nothing; busy gets an apology and the menu again.
    host.plain_events_get_no_content("ivr", &route_url, "CON-ivr-a");
    let busy = host.event(&route_url, &status("CON-ivr-a", "busy")).unwrap();
    assert!(talks(&busy).starts_with("Sorry, Support is not available right now."), "{busy}");
    assert_prompt(&busy, &menu_url);

    // A spoken department name (in the second hypothesis): Billing, by a talk and a transfer.
    host.answer("ivr", CALLER, "CON-ivr-b");
    let routed = host.event(&menu_url, &speech("CON-ivr-b", &["I'd like bill in please", "billing please"])).unwrap();
    assert_eq!(actions(&routed), ["talk", "transfer"]);
    assert_eq!(routed[0]["text"], "Transferring you to Billing.");
    assert_eq!(routed[1]["conversationId"], "CON-billing-queue");

    // A department's name said alone.
    host.answer("ivr", CALLER, "CON-ivr-c");
    let routed = host.event(&menu_url, &speech("CON-ivr-c", &["sales"])).unwrap();
    assert_eq!(routed[1]["endpoint"][0]["number"], "447700900001");
}

#[test]
fn ivr_menu_retries_then_hangs_up_politely_counting_per_conversation() {
    // Default departments (Sales, Support) and caller ID (the dialled number).
    let host = Host::start(&[("ivr", "ivr-menu", "[vars]\nmax_retries = 2\n")]);
    let menu = host.answer("ivr", CALLER, "CON-retry-a");
    assert!(menu[1]["text"].as_str().unwrap().contains("For Support, press 2 or say Support."), "{menu}");
    let menu_url = event_url(&menu, "input");

    // Conversation A: a timeout, then a key that is not in the menu: the menu again each time.
    let again = host.event(&menu_url, &nothing("CON-retry-a")).unwrap();
    assert_eq!(again[0]["text"], "Sorry, I did not hear your choice.");
    assert_prompt(&again, &menu_url);
    let again = host.event(&menu_url, &dtmf("CON-retry-a", "7")).unwrap();
    assert_eq!(again[0]["text"], "Sorry, that is not one of the options.");
    assert_prompt(&again, &menu_url);

    // Conversation B starts now: A's two failures are not B's.
    host.answer("ivr", "447700900777", "CON-retry-b");
    let b = host.event(&menu_url, &speech("CON-retry-b", &["pizza"])).unwrap();
    assert_prompt(&b, &menu_url);

    // A's third failure is past max_retries: the apology, the goodbye, and nothing after (the call ends).
    let bye = host.event(&menu_url, &speech("CON-retry-a", &["pizza"])).unwrap();
    assert_eq!(actions(&bye), ["talk", "talk"]);
    assert_eq!(
        talks(&bye),
        "Sorry, that is not one of the options. We are sorry we could not help you this time. Please call again later. Goodbye."
    );

    // B still has one retry left, then it ends politely too.
    assert_prompt(&host.event(&menu_url, &nothing("CON-retry-b")).unwrap(), &menu_url);
    let bye = host.event(&menu_url, &nothing("CON-retry-b")).unwrap();
    assert!(!actions(&bye).contains(&"input"), "{bye}");
    assert!(talks(&bye).ends_with("Goodbye."), "{bye}");

    // A fresh call in A's place starts counting again; a valid choice connects from the dialled number.
    let c = host.answer("ivr", CALLER, "CON-retry-c");
    let routed = host.event(&event_url(&c, "input"), &dtmf("CON-retry-c", "1")).unwrap();
    assert_eq!(routed[1]["from"], VONAGE_NUMBER);
    assert_eq!(routed[1]["timeout"], 30);

    host.plain_events_get_no_content("ivr", &menu_url, "CON-retry-c");
}

#[test]
fn voicemail_stores_messages_in_app_state_and_reads_them_to_the_owner() {
    // The plugin can post new messages to a backend (it imports wasi:http), so its app names one.
    let vars = r#"allowed_outbound_hosts = ["https://hooks.example.com"]
[vars]
owner = "+44 7700 900999"
retention_days = 3650
latest = 2
max_length = 60
"#;
    let host = Host::start(&[("voicemail", "voicemail", vars)]);
    let owner = "447700900999";

    let empty = host.answer("voicemail", owner, "CON-vm-owner-0");
    assert_eq!(talks(&empty), "You have no messages. Goodbye.");

    // A caller: greeting, a beep-started record ending on #, then the goodbye.
    let mailbox = host.answer("voicemail", CALLER, "CON-vm-1");
    assert_eq!(actions(&mailbox), ["talk", "record", "talk"]);
    assert!(mailbox[0]["text"].as_str().unwrap().contains("leave a message after the beep"), "{mailbox}");
    let rec = &mailbox[1];
    assert_eq!(rec["beepStart"], true);
    assert_eq!(rec["endOnKey"], "#");
    assert_eq!(rec["endOnSilence"], 5);
    assert_eq!(rec["timeOut"], 60);
    assert_eq!(mailbox[2]["text"], "Thank you for your message. Goodbye.");
    let recording_url = event_url(&mailbox, "record");
    assert_eq!(recording_url, host.url("voicemail", "/event/recording"));
    host.plain_events_get_no_content("voicemail", &recording_url, "CON-vm-1");

    // Its record event (sent twice, as a retry would) is stored once.
    let first = record("CON-vm-1", "file-1", "2026-05-04T09:16:00Z", "2026-05-04T09:16:42Z");
    assert_eq!(host.event(&recording_url, &first), None);
    assert_eq!(host.event(&recording_url, &first), None);
    host.wait_for_log("voicemail from 447700900123: 42 s at https://api.nexmo.com/v1/files/file-1 (1 in the mailbox)");

    // A second caller, in another conversation: the caller comes from that conversation's state.
    host.answer("voicemail", "447700900456", "CON-vm-2");
    let second = record("CON-vm-2", "file-2", "2026-05-04T10:00:00.400Z", "2026-05-04T10:00:07.300Z");
    assert_eq!(host.event(&recording_url, &second), None);
    host.wait_for_log("voicemail from 447700900456: 7 s at https://api.nexmo.com/v1/files/file-2 (2 in the mailbox)");

    // A message older than the retention is not kept.
    let old = record("CON-vm-3", "file-old", "2001-01-01T00:00:00Z", "2001-01-01T00:00:10Z");
    assert_eq!(host.event(&recording_url, &old), None);
    host.wait_for_log(
        "voicemail from unknown caller: 10 s at https://api.nexmo.com/v1/files/file-old (2 in the mailbox)",
    );

    // The owner hears the count and the latest two callers, newest first.
    let summary = host.answer("voicemail", owner, "CON-vm-owner-1");
    assert_eq!(actions(&summary), ["talk", "talk"]);
    assert_eq!(
        talks(&summary),
        "You have 2 messages. \
         The latest message is from 4 4 7 7 0 0 9 0 0 4 5 6, 7 seconds long. \
         Message 2 is from 4 4 7 7 0 0 9 0 0 1 2 3, 42 seconds long. Goodbye."
    );
}

#[test]
fn call_forwarding_takes_a_voicemail_on_every_failure_status() {
    let vars = r#"[vars]
forward_to = "447700900001"
ring_timeout = 15
"#;
    let host = Host::start(&[("forward", "call-forwarding", vars)]);
    let reasons = [
        ("busy", "The line is busy."),
        ("unanswered", "Nobody is answering."),
        ("timeout", "Nobody is answering."),
        ("rejected", "The call could not be connected."),
        ("failed", "The call could not be connected."),
    ];
    let mut recording_url = String::new();
    for (i, (failure, reason)) in reasons.iter().enumerate() {
        let conversation = format!("CON-fwd-{failure}");
        let caller = format!("44770090010{i}");
        let forward = host.answer("forward", &caller, &conversation);
        assert_eq!(actions(&forward), ["talk", "connect"]);
        assert_eq!(forward[0]["text"], "Please hold while we connect your call.");
        let connect = &forward[1];
        assert_eq!(connect["endpoint"], json!([{"type": "phone", "number": "447700900001"}]));
        assert_eq!(connect["from"], VONAGE_NUMBER, "the default caller ID is the dialled number");
        assert_eq!(connect["timeout"], 15);
        assert_eq!(connect["eventType"], "synchronous");
        let forward_url = event_url(&forward, "connect");
        assert_eq!(forward_url, host.url("forward", "/event/forward"));

        // The forwarded leg's progress gets nothing; its failure gets the voicemail NCCO.
        assert_eq!(host.event(&forward_url, &status(&conversation, "started")), None);
        assert_eq!(host.event(&forward_url, &status(&conversation, "ringing")), None);
        let voicemail = host.event(&forward_url, &status(&conversation, failure)).unwrap();
        assert_eq!(actions(&voicemail), ["talk", "record", "talk"], "{failure}");
        assert!(voicemail[0]["text"].as_str().unwrap().starts_with(reason), "{failure}: {voicemail}");
        assert!(voicemail[0]["text"].as_str().unwrap().contains("after the beep"), "{voicemail}");
        assert_eq!(voicemail[1]["beepStart"], true);
        assert_eq!(voicemail[1]["endOnKey"], "#");
        recording_url = event_url(&voicemail, "record");
        assert_eq!(recording_url, host.url("forward", "/event/recording"));
    }

    // A forward that was answered goes on: nothing replaces the NCCO.
    host.answer("forward", CALLER, "CON-fwd-ok");
    host.plain_events_get_no_content("forward", &host.url("forward", "/event/forward"), "CON-fwd-ok");
    assert_eq!(host.event(&host.url("forward", "/event/forward"), &status("CON-fwd-ok", "cancelled")), None);

    // Two messages, each from its own conversation's caller.
    let busy = record("CON-fwd-busy", "fwd-1", "2026-05-04T09:16:00Z", "2026-05-04T09:16:42Z");
    assert_eq!(host.event(&recording_url, &busy), None);
    let failed = record("CON-fwd-failed", "fwd-2", "2026-05-04T09:20:00Z", "2026-05-04T09:20:05Z");
    assert_eq!(host.event(&recording_url, &failed), None);
    host.wait_for_log("voicemail from 447700900100: 42 s at https://api.nexmo.com/v1/files/fwd-1 (1 in the mailbox)");
    host.wait_for_log("voicemail from 447700900104: 5 s at https://api.nexmo.com/v1/files/fwd-2 (2 in the mailbox)");

    // The owner (by default the forwarding number) calling in hears them instead of being forwarded.
    let owner = host.answer("forward", "447700900001", "CON-fwd-owner");
    assert_eq!(
        talks(&owner),
        "You have 2 messages. From 4 4 7 7 0 0 9 0 0 1 0 4, 5 seconds. From 4 4 7 7 0 0 9 0 0 1 0 0, 42 seconds. Goodbye."
    );
}

#[test]
fn call_forwarding_without_a_number_goes_straight_to_voicemail() {
    let host = Host::start(&[("forward", "call-forwarding", "[vars]\nhold_message = \"\"\n")]);
    let ncco = host.answer("forward", CALLER, "CON-fwd-none");
    assert_eq!(actions(&ncco), ["talk", "record", "talk"]);
    assert!(ncco[0]["text"].as_str().unwrap().starts_with("Nobody is available to take your call."), "{ncco}");
    host.wait_for_log("forward_to is not set to a phone number");
}

#[test]
fn conference_pins_pick_moderator_or_attendee_and_a_wrong_pin_retries() {
    let vars = r#"[vars]
room = "standup"
moderator_pin = "98765"
attendee_pin = "1234"
max_retries = 1
music_on_hold_url = "https://example.com/hold.mp3"
"#;
    let host = Host::start(&[("conf", "conference", vars)]);

    let prompt = host.answer("conf", CALLER, "CON-conf-mod");
    assert_eq!(actions(&prompt), ["talk", "talk", "input"]);
    assert_eq!(prompt[0]["text"], "Welcome to the conference.");
    assert_eq!(prompt[1]["bargeIn"], true);
    assert_eq!(prompt[2]["type"], json!(["dtmf"]));
    assert_eq!(prompt[2]["dtmf"]["maxDigits"], 5, "as many digits as the longest PIN");
    assert_eq!(prompt[2]["dtmf"]["submitOnHash"], true);
    let pin_url = event_url(&prompt, "input");
    assert_eq!(pin_url, host.url("conf", "/event/pin"));

    // The moderator starts the conference and ends it on leaving.
    let moderator = host.event(&pin_url, &dtmf("CON-conf-mod", "98765")).unwrap();
    assert_eq!(actions(&moderator), ["talk", "conversation"]);
    let room = action(&moderator, "conversation");
    assert_eq!(room["name"], "standup");
    assert_eq!(room["startOnEnter"], true);
    assert_eq!(room["endOnExit"], true);
    assert!(room.get("musicOnHoldUrl").is_none(), "{room}");

    // An attendee waits with music, and leaving does not end the conference.
    host.answer("conf", "447700900456", "CON-conf-att");
    let attendee = host.event(&pin_url, &dtmf("CON-conf-att", "1234")).unwrap();
    let room = action(&attendee, "conversation");
    assert_eq!(room["name"], "standup");
    assert_eq!(room["startOnEnter"], false);
    assert_eq!(room["endOnExit"], false);
    assert_eq!(room["musicOnHoldUrl"], json!(["https://example.com/hold.mp3"]));

    // A wrong PIN gets a retry, and the right one then gets in.
    host.answer("conf", "447700900789", "CON-conf-retry");
    let retry = host.event(&pin_url, &dtmf("CON-conf-retry", "0000")).unwrap();
    assert_eq!(retry[0]["text"], "That PIN is not valid. Please try again.");
    assert_prompt(&retry, &pin_url);
    let attendee = host.event(&pin_url, &dtmf("CON-conf-retry", "1234")).unwrap();
    assert_eq!(action(&attendee, "conversation")["startOnEnter"], false);

    // Past max_retries (1), the caller is turned away politely; the other calls' counters are their own.
    host.answer("conf", "447700900321", "CON-conf-bad");
    assert_prompt(&host.event(&pin_url, &dtmf("CON-conf-bad", "1111")).unwrap(), &pin_url);
    let bye = host.event(&pin_url, &nothing("CON-conf-bad")).unwrap();
    assert_eq!(actions(&bye), ["talk"]);
    assert_eq!(bye[0]["text"], "I did not get a PIN. Sorry, you cannot join this conference. Goodbye.");

    host.plain_events_get_no_content("conf", &pin_url, "CON-conf-mod");
}

#[test]
fn websocket_bot_sends_headers_and_authorization_and_reconnects_once() {
    let custom = r#"[vars]
uri = "wss://bot.example.com/socket"
sample_rate = 8000
auth = "custom"
auth_value = "Bearer s3cr3t-token"
headers = '{"bot": "support-v2"}'
language = "en-GB"
"#;
    let host = Host::start(&[
        ("bot", "websocket-bot", custom),
        ("vonagebot", "websocket-bot", "[vars]\nuri = \"wss://bot.example.com/v\"\ngreeting = \"\"\nreconnects = 0\n"),
        ("nobot", "websocket-bot", "[vars]\n"),
    ]);

    let answer = host.answer("bot", CALLER, "CON-ws-1");
    assert_eq!(actions(&answer), ["talk", "connect"]);
    assert_eq!(answer[0]["text"], "Please wait while we connect you to our assistant.");
    let connect = &answer[1];
    assert_eq!(connect["eventType"], "synchronous");
    let endpoint = &connect["endpoint"][0];
    assert_eq!(endpoint["type"], "websocket");
    assert_eq!(endpoint["uri"], "wss://bot.example.com/socket");
    assert_eq!(endpoint["content-type"], "audio/l16;rate=8000");
    assert_eq!(endpoint["authorization"], json!({"type": "custom", "value": "Bearer s3cr3t-token"}));
    assert_eq!(
        endpoint["headers"],
        json!({
            "bot": "support-v2", "caller": CALLER, "called": VONAGE_NUMBER,
            "conversation_uuid": "CON-ws-1", "language": "en-GB", "attempt": 1,
        })
    );
    let socket_url = event_url(&answer, "connect");
    assert_eq!(socket_url, host.url("bot", "/event/socket"));
    host.plain_events_get_no_content("bot", &socket_url, "CON-ws-1");

    // The bot closes the websocket (Vonage echoes the headers): one reconnection, then the goodbye.
    let disconnected = |conversation: &str| {
        let mut event = status(conversation, "disconnected");
        event["to"] = json!("wss://bot.example.com/socket");
        event["headers"] = json!({"caller": CALLER});
        event.as_object_mut().unwrap().remove("direction");
        event
    };
    let again = host.event(&socket_url, &disconnected("CON-ws-1")).unwrap();
    assert_eq!(actions(&again), ["talk", "connect"]);
    assert_eq!(again[0]["text"], "Sorry, we lost the connection to our assistant. Reconnecting.");
    assert_eq!(again[1]["endpoint"][0]["headers"]["attempt"], 2);
    assert_eq!(again[1]["endpoint"][0]["headers"]["caller"], CALLER);
    assert_eq!(event_url(&again, "connect"), socket_url);
    let bye = host.event(&socket_url, &disconnected("CON-ws-1")).unwrap();
    assert_eq!(actions(&bye), ["talk"]);
    assert_eq!(bye[0]["text"], "Thank you for calling. Goodbye.");

    // Another call has its own reconnection.
    host.answer("bot", "447700900456", "CON-ws-2");
    let again = host.event(&socket_url, &disconnected("CON-ws-2")).unwrap();
    assert_eq!(action(&again, "connect")["endpoint"][0]["headers"]["caller"], "447700900456");

    // A bot that cannot be reached: the apology.
    host.answer("bot", CALLER, "CON-ws-3");
    let sorry = host.event(&socket_url, &status("CON-ws-3", "failed")).unwrap();
    assert_eq!(actions(&sorry), ["talk"]);
    assert!(sorry[0]["text"].as_str().unwrap().starts_with("Sorry, our assistant is not available"), "{sorry}");

    // Defaults: Vonage's JWT as authorization, 16 kHz, no greeting when set empty; no reconnection.
    let answer = host.answer("vonagebot", CALLER, "CON-ws-4");
    assert_eq!(actions(&answer), ["connect"]);
    let endpoint = &answer[0]["endpoint"][0];
    assert_eq!(endpoint["authorization"], json!({"type": "vonage"}));
    assert_eq!(endpoint["content-type"], "audio/l16;rate=16000");
    let bye = host.event(&event_url(&answer, "connect"), &disconnected("CON-ws-4")).unwrap();
    assert_eq!(talks(&bye), "Thank you for calling. Goodbye.");

    // No uri: the caller is told at once rather than left in silence.
    let none = host.answer("nobot", CALLER, "CON-ws-5");
    assert_eq!(actions(&none), ["talk"]);
    assert!(none[0]["text"].as_str().unwrap().starts_with("Sorry, our assistant is not available"), "{none}");
}

#[test]
fn every_example_app_toml_loads_and_answers_a_valid_ncco() {
    let root = ncco_tests::workspace_root().join("plugins");
    let tomls: Vec<String> =
        PLUGINS.iter().map(|p| std::fs::read_to_string(root.join(p).join("app.toml")).unwrap()).collect();
    let apps: Vec<(&str, &str, &str)> = PLUGINS.iter().zip(&tomls).map(|(p, toml)| (*p, *p, toml.as_str())).collect();
    let host = Host::start(&apps);
    let expected = [
        ("ivr-menu", "input"),
        ("voicemail", "record"),
        ("call-forwarding", "connect"),
        ("conference", "input"),
        ("websocket-bot", "connect"),
        // Its example CRM (crm.example.com) is not reached from here: the generic greeting and the menu.
        ("crm-lookup", "input"),
    ];
    for (app, last) in expected {
        let ncco = host.answer(app, CALLER, &format!("CON-example-{app}"));
        assert_eq!(actions(&ncco).iter().find(|a| **a != "talk"), Some(&last), "{app}: {ncco}");
    }
}
