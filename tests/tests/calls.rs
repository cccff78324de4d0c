//! Call control on the Voice API through the real binary: the host signs requests with the
//! tenant's key (checked here against its public key), only calls the app's webhooks named can be
//! controlled, the API's rates and errors reach the plugin as typed errors; and the simulator's
//! Voice API (`simulate --api-listen`), used by our plugins through the host and by a client of its
//! own, applies transfers and hangups to the simulated call.

#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ncco_tests::{
    Backend, Canned, HostProcess, RedisServer, Seen, get, ncco_host_bin, plugin_wasm, post, workspace_root,
};
use serde_json::{Value, json};

/// The test application (its keys are in tests/fixtures/vonage).
const APP_ID: &str = "2b2f6d9e-1c4a-4e8b-9a57-0d1c2e3f4a5b";
/// The signature secret of the tenants with call control (which must sign their webhooks).
const SECRET: &str = "calls-test-signature-secret-0123456789";

fn fixture(name: &str) -> PathBuf {
    workspace_root().join("tests/fixtures/vonage").join(name)
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// A host whose tenants (`(tenant, with [vonage], apps)`, apps as `(app, crate, toml)`) send their
/// call control to `api_url`.
struct Served {
    host: HostProcess,
    plugins: tempfile::TempDir,
    _data: tempfile::TempDir,
}

type Apps<'a> = &'a [(&'a str, &'a str, &'a str)];

impl Served {
    fn start(api_url: &str, tenants: &[(&str, bool, Apps<'_>)]) -> Served {
        Self::start_with(api_url, tenants, &[])
    }

    /// As [`Served::start`], with more arguments for `serve`.
    fn start_with(api_url: &str, tenants: &[(&str, bool, Apps<'_>)], extra: &[&str]) -> Served {
        let plugins = tempfile::tempdir().unwrap();
        for (tenant, vonage, apps) in tenants {
            let dir = plugins.path().join(tenant);
            std::fs::create_dir_all(&dir).unwrap();
            if *vonage {
                std::fs::copy(fixture("application.key"), dir.join("private.key")).unwrap();
                let toml = format!(
                    "signature_secret = \"{SECRET}\"\n[vonage]\napplication_id = \"{APP_ID}\"\nprivate_key_file = \"private.key\"\n"
                );
                std::fs::write(dir.join("tenant.toml"), toml).unwrap();
            }
            for (app, crate_name, toml) in *apps {
                std::fs::copy(plugin_wasm(crate_name).unwrap(), dir.join(format!("{app}.wasm"))).unwrap();
                std::fs::write(dir.join(format!("{app}.toml")), toml).unwrap();
            }
        }
        let data = tempfile::tempdir().unwrap();
        let config = data.path().join("serve.toml");
        std::fs::write(&config, format!("vonage_api_url = \"{api_url}\"\n")).unwrap();
        let mut args = vec!["--config", config.to_str().unwrap()];
        args.extend_from_slice(extra);
        let host = HostProcess::start(plugins.path(), data.path(), &args).unwrap();
        Served { host, plugins, _data: data }
    }

    /// The NCCO `tenant`'s `app` answers a call `uuid` with.
    fn answer(&self, tenant: &str, app: &str, uuid: &str) -> Value {
        let url = self.host.url(&format!(
            "/{tenant}/{app}/answer?from=447700900000&to=442079460000&uuid={uuid}&conversation_uuid=CON-{uuid}"
        ));
        let r = ncco_tests::get_with(&url, &[("authorization", &bearer(b""))]).unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        r.json().unwrap()
    }

    /// What the controller said of each of its requests in an answer to call `uuid`.
    fn said(&self, tenant: &str, app: &str, uuid: &str) -> Vec<String> {
        let ncco = self.answer(tenant, app, uuid);
        let text = ncco[0]["text"].as_str().unwrap_or_else(|| panic!("not the controller's answer: {ncco}"));
        text.lines().map(str::to_owned).collect()
    }

    /// Posts a status event of call `uuid` to `tenant`'s `app`.
    fn event(&self, tenant: &str, app: &str, uuid: &str, status: &str) {
        let body = json!({ "uuid": uuid, "conversation_uuid": format!("CON-{uuid}"), "status": status,
            "direction": "inbound", "timestamp": "2026-12-02T10:00:00.000Z" });
        let body = body.to_string();
        let auth = bearer(body.as_bytes());
        let headers = [("content-type", "application/json"), ("authorization", auth.as_str())];
        let r = post(&self.host.url(&format!("/{tenant}/{app}/event")), &body, &headers).unwrap();
        assert!(r.status < 300, "{}", r.body);
    }
}

/// `Bearer <a webhook signature of body>`, as Vonage signs (tenants without a secret ignore it).
fn bearer(body: &[u8]) -> String {
    format!("Bearer {}", ncco_host::signature::sign(SECRET, body, now() as i64, "simulator", Some(APP_ID)))
}

/// The admin view of `tenant`.
fn admin_tenant(served: &Served, tenant: &str) -> Value {
    let all = get(&served.host.url("/_admin/apps")).unwrap().json().unwrap();
    all["tenants"].as_array().unwrap().iter().find(|t| t["tenant"] == tenant).cloned().unwrap()
}

/// Waits until `check` holds of `tenant`'s admin view.
fn until_tenant(served: &Served, tenant: &str, check: impl Fn(&Value) -> bool) -> Value {
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        let t = admin_tenant(served, tenant);
        if check(&t) {
            return t;
        }
        assert!(Instant::now() < until, "never: {t}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A fake Voice API that answers every request with `status` (and `body`).
fn fake_api(status: u16, body: &'static str) -> Backend {
    Backend::start(move |_: &Seen| Canned::json(status, body)).unwrap()
}

fn controller(vars: &str) -> String {
    format!("timeout_ms = 2000\n[vars]\n{vars}\n")
}

fn token_claims(seen: &Seen) -> (Header, Value) {
    let auth = seen.header("authorization").expect("no Authorization header");
    let token = auth.strip_prefix("Bearer ").expect("not a bearer token");
    let key = DecodingKey::from_rsa_pem(&std::fs::read(fixture("application.pub")).unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_required_spec_claims(&["exp", "iat"]);
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation).expect("the token does not verify");
    (data.header, data.claims)
}

#[test]
fn the_host_signs_each_request_with_an_rs256_application_token() {
    let api = fake_api(204, "");
    let served =
        Served::start(&api.base_url, &[("acme", true, &[("ctl", "controller", &controller("op = \"hangup\""))])]);
    assert_eq!(served.said("acme", "ctl", "aaaa0001-0000-4000-8000-000000000001"), ["ok"]);
    assert_eq!(served.said("acme", "ctl", "aaaa0001-0000-4000-8000-000000000002"), ["ok"]);

    let seen = api.requests();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].method, "PUT");
    assert_eq!(seen[0].path, "/v1/calls/aaaa0001-0000-4000-8000-000000000001");
    assert_eq!(serde_json::from_str::<Value>(&seen[0].body).unwrap(), json!({ "action": "hangup" }));
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    let (header, claims) = token_claims(&seen[0]);
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(claims["application_id"], APP_ID);
    let (iat, exp) = (claims["iat"].as_u64().unwrap(), claims["exp"].as_u64().unwrap());
    assert!(iat <= now() + 1 && exp > now() && exp - iat <= 15 * 60, "{claims}");
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()), "{claims}");
    // The token is cached: the second request carries the same one.
    assert_eq!(token_claims(&seen[1]).1, claims);

    // Neither the token nor the key shows in the call's record or the host's log.
    let token = seen[0].header("authorization").unwrap().strip_prefix("Bearer ").unwrap().to_owned();
    let pem = std::fs::read_to_string(fixture("application.key")).unwrap();
    let key_line = pem.lines().nth(1).unwrap().to_owned();
    let inspect = get(&served.host.url("/_inspect/api/calls/CON-aaaa0001-0000-4000-8000-000000000001")).unwrap();
    let record = inspect.json().unwrap();
    let calls = record["webhooks"][0]["host_calls"].to_string();
    assert!(calls.contains("voice hangup PUT /v1/calls/aaaa0001-0000-4000-8000-000000000001 -> ok"), "{calls}");
    // Timed in the metrics, by operation and outcome.
    let metrics = get(&served.host.url("/metrics")).unwrap().body;
    let line = r#"ncco_voice_api_request_duration_seconds_count{tenant="acme",app="ctl",op="hangup",outcome="ok"} 2"#;
    assert!(metrics.contains(line), "{metrics}");
    let everything = format!("{record}\n{}", served.host.log());
    let signature = token.rsplit('.').next().unwrap();
    assert!(!everything.contains(signature) && !everything.contains(&key_line), "the token or the key leaked");
}

#[test]
fn only_calls_the_apps_own_webhooks_named_can_be_controlled() {
    let api = fake_api(204, "");
    let victim = "bbbb0002-0000-4000-8000-00000000beef";
    let later = "bbbb0002-0000-4000-8000-00000000a7e2";
    let hangup_victim = controller(&format!("op = \"hangup\"\nuuid = \"{victim}\""));
    let hangup_later = controller(&format!("op = \"hangup\"\nuuid = \"{later}\""));
    let member = "bbbb0002-0000-4000-8000-0000000f00d5";
    let mute_member = controller(&format!("op = \"mute\"\nuuid = \"{member}\""));
    let mute_victim = controller(&format!("op = \"mute\"\nuuid = \"{victim}\""));
    let served = Served::start(
        &api.base_url,
        &[
            (
                "acme",
                true,
                &[
                    ("ctl", "controller", &hangup_victim),
                    ("later", "controller", &hangup_later),
                    ("other", "controller", &mute_victim),
                    ("member", "controller", &mute_member),
                ],
            ),
            ("globex", true, &[("sees", "controller", &mute_victim)]),
        ],
    );
    // Another tenant's app, and another app of this tenant, see the victim's call (each may then
    // control it: remembered off the webhook's path, so it may take a moment); this app never did.
    for (tenant, app) in [("globex", "sees"), ("acme", "other")] {
        served.event(tenant, app, victim, "ringing");
        let until = Instant::now() + Duration::from_secs(10);
        while served.said(tenant, app, "bbbb0002-0000-4000-8000-0000000000aa") != ["ok"] {
            assert!(Instant::now() < until, "{tenant}/{app} never got the call it saw");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let said = served.said("acme", "ctl", "bbbb0002-0000-4000-8000-000000000001");
    assert_eq!(said.len(), 1);
    assert!(said[0].starts_with("not-your-call: "), "{said:?}");
    let hangups = |api: &Backend| api.requests().iter().filter(|r| r.body.contains("hangup")).count();
    assert_eq!(hangups(&api), 0, "a refused call reached the API: {:?}", api.requests());

    // A call this app saw in an earlier webhook is its own (remembered off the webhook's path, so
    // it may take a moment).
    served.event("acme", "later", later, "ringing");
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let said = served.said("acme", "later", "bbbb0002-0000-4000-8000-000000000002");
        if said == ["ok"] {
            break;
        }
        assert!(said[0].starts_with("not-your-call"), "{said:?}");
        assert!(Instant::now() < until, "the seen call never became controllable: {said:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let seen: Vec<Seen> = api.requests().into_iter().filter(|r| r.body.contains("hangup")).collect();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].path, format!("/v1/calls/{later}"));

    // A leg named by a Conversation API member event is the app's too (a moderator's plugin may
    // mute a participant it saw join).
    let event =
        json!({ "type": "member:joined", "conversation_id": "CON-bbbb0002", "timestamp": "2026-12-02T10:00:00.000Z",
        "body": { "channel": { "type": "phone", "id": member, "leg_ids": [member] } } })
        .to_string();
    let auth = bearer(event.as_bytes());
    let headers = [("content-type", "application/json"), ("authorization", auth.as_str())];
    let r = post(&served.host.url("/acme/member/rtc"), &event, &headers).unwrap();
    assert!(r.status < 300, "{}", r.body);
    let until = Instant::now() + Duration::from_secs(10);
    while served.said("acme", "member", "bbbb0002-0000-4000-8000-000000000003") != ["ok"] {
        assert!(Instant::now() < until, "the member's leg never became controllable");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(api.requests().last().unwrap().path, format!("/v1/calls/{member}"));
}

#[test]
fn api_errors_reach_the_plugin_typed_and_the_webhook_still_answers() {
    let api = Backend::start(|seen: &Seen| match seen.path.rsplit('/').next().unwrap_or("") {
        "c401" => Canned::json(
            401,
            r#"{"type":"https://developer.nexmo.com/api-errors#unauthorized","title":"Unauthorized","detail":"You did not provide correct credentials."}"#,
        ),
        "c404" => Canned::json(404, r#"{"title":"Not Found","detail":"Call c404 was not found."}"#),
        "c429" => Canned::json(429, r#"{"title":"Too Many Requests"}"#),
        "c500" => Canned::json(500, "boom"),
        _ => Canned::json(204, "").after(Duration::from_secs(6)),
    })
    .unwrap();
    let toml = "timeout_ms = 1000\n[vars]\nop = \"hangup\"\n";
    let served = Served::start(&api.base_url, &[("acme", true, &[("ctl", "controller", toml)])]);
    assert_eq!(
        served.said("acme", "ctl", "c401"),
        ["unauthorized: 401 Unauthorized: You did not provide correct credentials."]
    );
    assert_eq!(served.said("acme", "ctl", "c404"), ["not-found: 404 Not Found: Call c404 was not found."]);
    assert_eq!(served.said("acme", "ctl", "c429"), ["rate-limited: the Voice API answered 429 Too Many Requests"]);
    assert_eq!(served.said("acme", "ctl", "c500"), ["api: 500 500 boom"]);
    // An API slower than the webhook's deadline: the plugin is told in time to answer itself.
    assert_eq!(served.said("acme", "ctl", "slow"), ["timeout"]);

    // A tenant without [vonage]: nothing is sent.
    let before = api.requests().len();
    let bare = Served::start(&api.base_url, &[("acme", false, &[("ctl", "controller", toml)])]);
    assert_eq!(bare.said("acme", "ctl", "c401"), ["not-configured"]);
    assert_eq!(api.requests().len(), before);
}

#[test]
fn the_voice_apis_rates_are_kept_per_application() {
    let api = Backend::start(|seen: &Seen| {
        if seen.method == "POST" {
            Canned::json(201, r#"{"uuid":"cccc0003-0000-4000-8000-000000000001","status":"started","direction":"outbound","conversation_uuid":"CON-new"}"#)
        } else {
            Canned::json(200, r#"{"message":"Talk started","uuid":"x"}"#)
        }
    })
    .unwrap();
    let talks = controller("op = \"talk\"\ntext = \"Still there?\"\nrepeat = 20");
    let creates = controller("op = \"create\"\nto = \"447700900123\"\nrepeat = 5");
    let served = Served::start(
        &api.base_url,
        &[("acme", true, &[("talks", "controller", &talks), ("creates", "controller", &creates)])],
    );
    let said = served.said("acme", "talks", "cccc0003-0000-4000-8000-00000000000a");
    assert_eq!(said.iter().filter(|s| *s == "ok").count(), 15, "{said:?}");
    let limited: Vec<&String> =
        said.iter().filter(|s| s.starts_with("rate-limited: over the Voice API's 15 requests")).collect();
    assert_eq!(limited.len(), 5, "{said:?}");
    let said = served.said("acme", "creates", "cccc0003-0000-4000-8000-00000000000b");
    assert_eq!(said.iter().filter(|s| s.starts_with("created cccc0003")).count(), 3, "{said:?}");
    assert_eq!(said.iter().filter(|s| s.starts_with("rate-limited: over the Voice API's 3 call creations")).count(), 2);
    let seen = api.requests();
    assert_eq!(seen.iter().filter(|s| s.method == "PUT").count(), 15);
    let created: Vec<&Seen> = seen.iter().filter(|s| s.method == "POST").collect();
    assert_eq!(created.len(), 3);
    let body: Value = serde_json::from_str(&created[0].body).unwrap();
    assert_eq!(body["to"], json!([{ "type": "phone", "number": "447700900123" }]));
    assert_eq!(body["random_from_number"], true);
    assert!(body["event_url"][0].as_str().unwrap().ends_with("/acme/creates/event"), "{body}");
    assert_eq!(body["ncco"][0]["action"], "talk");
}

#[test]
fn an_invalid_transfer_ncco_is_refused_with_the_models_pointer_and_never_sent() {
    let api = fake_api(204, "");
    let bad = controller("op = \"transfer\"\nncco = '[{\"action\":\"talk\"}]'");
    // A talk or stream into a live call is checked by the model's rules for the same action.
    let long = "x".repeat(1501);
    let talk = controller(&format!("op = \"talk\"\ntext = \"{long}\""));
    let stream = controller("op = \"stream\"\nurl = \"ftp://example.com/a.mp3\"");
    let apps = [("ctl", "controller", bad.as_str()), ("talk", "controller", &talk), ("stream", "controller", &stream)];
    let served = Served::start(&api.base_url, &[("acme", true, &apps)]);
    let said = served.said("acme", "ctl", "dddd0004-0000-4000-8000-000000000001");
    assert!(said[0].starts_with("invalid: the NCCO is invalid") && said[0].contains("/0"), "{said:?}");
    let said = served.said("acme", "talk", "dddd0004-0000-4000-8000-000000000002");
    assert!(said[0].starts_with("invalid: /text: ") && said[0].contains("1500"), "{said:?}");
    let said = served.said("acme", "stream", "dddd0004-0000-4000-8000-000000000003");
    assert!(said[0].starts_with("invalid: /streamUrl/0: "), "{said:?}");
    assert!(api.requests().is_empty());
}

/// A free loopback port (for a server the host must be told about before it starts).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `ncco-host simulate --json` with `args`; its report and exit status.
fn simulate(args: &[&str]) -> (Value, Option<i32>, String) {
    let out = Command::new(ncco_host_bin().unwrap()).arg("simulate").arg("--json").args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}"));
    (report, out.status.code(), stderr)
}

fn heard(report: &Value) -> Vec<String> {
    report["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "hear")
        .filter_map(|e| e["text"].as_str().map(str::to_owned))
        .collect()
}

fn api_entries(report: &Value) -> Vec<(String, u64)> {
    report["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "api")
        .map(|e| (e["request"].as_str().unwrap().to_owned(), e["status"].as_u64().unwrap()))
        .collect()
}

#[test]
fn a_plugin_transfers_and_hangs_up_simulated_calls_through_the_host() {
    let port = free_port();
    let api_url = format!("http://127.0.0.1:{port}");
    let transfer = controller(
        "on = \"answered\"\nop = \"transfer\"\nncco = '[{\"action\":\"talk\",\"text\":\"An agent will take your call now.\"}]'",
    );
    let hangup = controller("on = \"answered\"\nop = \"hangup\"");
    let again = controller(
        "on = \"answered\"\nop = \"transfer-to-app\"\npath = \"/answer?step=again\"\nanswer_ncco = '[{\"action\":\"talk\",\"text\":\"From the answer route.\"}]'",
    );
    let apps =
        [("xfer", "controller", transfer.as_str()), ("bye", "controller", &hangup), ("again", "controller", &again)];
    let served = Served::start(&api_url, &[("acme", true, &apps)]);
    let listen = format!("127.0.0.1:{port}");
    let key = fixture("application.pub");
    let common = ["--api-listen", &listen, "--application-key", key.to_str().unwrap(), "--secret", SECRET];

    let answer = served.host.url("/acme/xfer/answer");
    let (report, code, stderr) = simulate(&[&["--answer-url", answer.as_str()][..], &common[..]].concat());
    assert_eq!(code, Some(0), "{report:#}\n{stderr}");
    let heard = heard(&report);
    assert!(heard.iter().any(|h| h == "An agent will take your call now."), "{heard:?}\n{report:#}");
    let uuid = report["call"]["uuid"].as_str().unwrap();
    assert!(api_entries(&report).contains(&(format!("PUT /v1/calls/{uuid}"), 204)), "{report:#}");

    let answer = served.host.url("/acme/bye/answer");
    let (report, code, stderr) = simulate(&[&["--answer-url", answer.as_str()][..], &common[..]].concat());
    assert_eq!(code, Some(0), "{report:#}\n{stderr}");
    assert_eq!(report["result"]["ended"], "hung up by call control (the Voice API)", "{report:#}");
    assert!(!heard_any(&report, "Please hold."), "the hangup came before the NCCO ran: {report:#}");

    // A transfer to the app's own answer route: Vonage (here the simulator) fetches its NCCO.
    let answer = served.host.url("/acme/again/answer");
    let (report, code, stderr) = simulate(&[&["--answer-url", answer.as_str()][..], &common[..]].concat());
    assert_eq!(code, Some(0), "{report:#}\n{stderr}");
    let fetched = report["timeline"].as_array().unwrap().iter().any(|e| {
        e["kind"] == "webhook"
            && e["label"] == "transfer"
            && e["url"].as_str().is_some_and(|u| u.contains("/acme/again/answer?step=again"))
    });
    assert!(fetched, "{report:#}");
    assert_eq!(report["result"]["nccos"], 2, "{report:#}");
}

fn heard_any(report: &Value, text: &str) -> bool {
    heard(report).iter().any(|h| h == text)
}

/// A token for the API signed with `key_file`, with these claims.
fn token(key_file: &str, claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(&std::fs::read(fixture(key_file)).unwrap()).unwrap();
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &key).unwrap()
}

fn good_claims() -> Value {
    json!({ "application_id": APP_ID, "iat": now(), "exp": now() + 600, "jti": uuid_like() })
}

fn uuid_like() -> String {
    format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos())
}

fn call_api(port: u16, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(b) = &bearer {
        headers.push(("authorization", b.as_str()));
    }
    let body = body.map(Value::to_string).unwrap_or_default();
    let r = ncco_tests::send(method, &format!("http://127.0.0.1:{port}{path}"), body.as_bytes(), &headers).unwrap();
    (r.status, serde_json::from_str(&r.body).unwrap_or(Value::Null))
}

/// Waits for a simulator's API to accept connections.
fn wait_for_port(port: u16, child: &mut Child) {
    let until = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(child.try_wait().unwrap().is_none(), "the simulator exited before its API listened");
        assert!(Instant::now() < until, "the simulator's API never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn finish(child: Child) -> (Value, Option<i32>) {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    (report, out.status.code())
}

#[test]
fn the_simulators_api_checks_tokens_calls_and_nccos_as_vonage_does() {
    // The answer server only holds the call; the requests come from this test, a client of its own.
    let served = Served::start("http://127.0.0.1:9", &[("acme", false, &[("hold", "controller", &controller(""))])]);
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("hold.toml");
    let uuid = "eeee0005-0000-4000-8000-000000000001";
    std::fs::write(
        &scenario,
        format!("[call]\nuuid = \"{uuid}\"\nhangup_after = 20\n[signing]\napplication_id = \"{APP_ID}\"\n"),
    )
    .unwrap();
    let port = free_port();
    let mut child = Command::new(ncco_host_bin().unwrap())
        .args(["simulate", "--json", "--real-time", "--answer-url"])
        .arg(served.host.url("/acme/hold/answer"))
        .arg("--scenario")
        .arg(&scenario)
        .args(["--api-listen", &format!("127.0.0.1:{port}"), "--application-key"])
        // The private key: the simulator checks against its public half.
        .arg(fixture("application.key"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_port(port, &mut child);
    let talk = json!({ "text": "Hello from a client." });
    let path = format!("/v1/calls/{uuid}/talk");

    let (status, body) = call_api(port, "PUT", &path, None, Some(&talk));
    assert_eq!((status, body["title"].as_str()), (401, Some("Unauthorized")), "{body}");
    let forged = token("forger.key", &good_claims());
    assert_eq!(call_api(port, "PUT", &path, Some(&forged), Some(&talk)).0, 401);
    let expired = token(
        "application.key",
        &json!({ "application_id": APP_ID, "iat": now() - 7200, "exp": now() - 3600, "jti": "x1" }),
    );
    assert_eq!(call_api(port, "PUT", &path, Some(&expired), Some(&talk)).0, 401);
    let other_app = token(
        "application.key",
        &json!({ "application_id": "00000000-0000-4000-8000-000000000000", "iat": now(), "jti": "x2" }),
    );
    assert_eq!(call_api(port, "PUT", &path, Some(&other_app), Some(&talk)).0, 401);

    let good = token("application.key", &good_claims());
    let (status, body) = call_api(
        port,
        "PUT",
        "/v1/calls/ffffffff-0000-4000-8000-000000000000",
        Some(&good),
        Some(&json!({ "action": "hangup" })),
    );
    assert_eq!((status, body["title"].as_str()), (404, Some("Not Found")), "{body}");
    let (status, body) = call_api(port, "GET", &format!("/v1/calls/{uuid}"), Some(&good), None);
    assert_eq!((status, body["uuid"].as_str()), (200, Some(uuid)), "{body}");

    let invalid = json!({ "action": "transfer", "destination": { "type": "ncco", "ncco": [{ "action": "talk" }] } });
    let (status, body) = call_api(port, "PUT", &format!("/v1/calls/{uuid}"), Some(&good), Some(&invalid));
    assert_eq!(status, 400, "{body}");
    let name = body["invalid_parameters"][0]["name"].as_str().unwrap_or_default();
    assert!(name.starts_with("/destination/ncco/0"), "{body}");

    assert_eq!(call_api(port, "PUT", &path, Some(&good), Some(&talk)).0, 200);
    // A call created through the API is known, and not the simulated one: hanging it up leaves
    // the simulated call be.
    let create = json!({ "to": [{ "type": "phone", "number": "447700900123" }], "from": { "type": "phone", "number": "447700900000" },
        "ncco": [{ "action": "talk", "text": "Hi" }] });
    let (status, created) = call_api(port, "POST", "/v1/calls", Some(&good), Some(&create));
    assert_eq!(status, 201, "{created}");
    let created = created["uuid"].as_str().unwrap().to_owned();
    let hangup = json!({ "action": "hangup" });
    assert_eq!(call_api(port, "PUT", &format!("/v1/calls/{created}"), Some(&good), Some(&hangup)).0, 204);
    let transfer = json!({ "action": "transfer", "destination": { "type": "ncco",
        "ncco": [{ "action": "talk", "text": "Transferred by a client of its own." }] } });
    assert_eq!(call_api(port, "PUT", &format!("/v1/calls/{uuid}"), Some(&good), Some(&transfer)).0, 204);

    let (report, code) = finish(child);
    assert_eq!(code, Some(0), "{report:#}");
    let heard = heard(&report);
    assert!(heard.iter().any(|h| h == "Hello from a client."), "{heard:?}");
    assert!(heard.iter().any(|h| h == "Transferred by a client of its own."), "{heard:?}");
    let refused = api_entries(&report).iter().filter(|(_, s)| *s == 401).count();
    assert_eq!(refused, 4, "{report:#}");
    // The transfer ended the hold (its NCCO then ran out), long before the caller's hangup.
    assert_eq!(report["result"]["ended"], "the NCCO ran out", "{report:#}");
}

#[test]
fn the_queue_plugin_takes_the_waiting_caller_to_the_agent() {
    let port = free_port();
    let queue = "timeout_ms = 3000\n[vars]\nagents = \"447700900100\"\n";
    let served =
        Served::start(&format!("http://127.0.0.1:{port}"), &[("acme", true, &[("support", "call-queue", queue)])]);
    let scenarios = workspace_root().join("examples/scenarios");
    let mut caller = Command::new(ncco_host_bin().unwrap())
        .args(["simulate", "--json", "--real-time", "--answer-url"])
        .arg(served.host.url("/acme/support/answer"))
        .arg("--scenario")
        .arg(scenarios.join("queue-caller.toml"))
        .args(["--api-listen", &format!("127.0.0.1:{port}"), "--application-key"])
        .arg(fixture("application.pub"))
        .args(["--secret", SECRET])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_port(port, &mut caller);
    // The caller is in the queue once the host has answered them.
    let conversation = "CON-a1a1a1a1-0000-4000-8000-00000000c0de";
    let until = Instant::now() + Duration::from_secs(20);
    while get(&served.host.url(&format!("/_inspect/api/calls/{conversation}"))).unwrap().json().unwrap()["webhooks"][0]
        .is_null()
    {
        assert!(Instant::now() < until, "the caller never reached the host");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let (agent, code, stderr) = simulate(&[
        "--answer-url",
        &served.host.url("/acme/support/answer"),
        "--scenario",
        scenarios.join("queue-agent.toml").to_str().unwrap(),
        "--secret",
        SECRET,
    ]);
    assert_eq!(code, Some(0), "{agent:#}\n{stderr}\n{}", served.host.log());
    let (caller, code) = finish(caller);
    assert_eq!(code, Some(0), "{caller:#}\n{}", served.host.log());
    assert!(heard_any(&caller, "An agent is ready. Connecting you now."), "{caller:#}");
    assert!(api_entries(&caller).contains(&("PUT /v1/calls/a1a1a1a1-0000-4000-8000-00000000c0de".to_owned(), 204)));
}

#[test]
fn a_key_that_cannot_sign_keeps_the_last_good_one_and_a_new_key_is_live_without_a_restart() {
    let api = fake_api(204, "");
    let served =
        Served::start(&api.base_url, &[("acme", true, &[("ctl", "controller", &controller("op = \"hangup\""))])]);
    let tenant = served.plugins.path().join("acme");
    assert_eq!(admin_tenant(&served, "acme")["call_control"], APP_ID);
    // A broken key (renamed into place): refused, named in the tenant's error, the loaded key kept.
    std::fs::write(tenant.join("next.tmp"), "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n")
        .unwrap();
    std::fs::rename(tenant.join("next.tmp"), tenant.join("private.key")).unwrap();
    let t = until_tenant(&served, "acme", |t| t["config_error"].is_string());
    let error = t["config_error"].as_str().unwrap();
    assert!(error.contains("`vonage.private_key_file`") && error.contains("keeping the key loaded before"), "{error}");
    assert!(!error.contains("not base64"), "the key's text is echoed: {error}");
    assert_eq!(served.said("acme", "ctl", "abab0006-0000-4000-8000-000000000001"), ["ok"]);
    // Another application's key: the tenant now signs with it.
    let other = "3c3c3c3c-1c4a-4e8b-9a57-0d1c2e3f4a5b";
    std::fs::copy(fixture("forger.key"), tenant.join("next.tmp")).unwrap();
    std::fs::rename(tenant.join("next.tmp"), tenant.join("private.key")).unwrap();
    std::fs::write(
        tenant.join("tenant.toml"),
        format!(
            "signature_secret = \"{SECRET}\"\n[vonage]\napplication_id = \"{other}\"\nprivate_key_file = \"private.key\"\n"
        ),
    )
    .unwrap();
    until_tenant(&served, "acme", |t| t["call_control"] == other && t["config_error"].is_null());
    assert_eq!(served.said("acme", "ctl", "abab0006-0000-4000-8000-000000000002"), ["ok"]);
    let seen = api.requests();
    let last = seen.last().unwrap();
    let auth = last.header("authorization").unwrap().strip_prefix("Bearer ").unwrap();
    let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(auth).unwrap().claims;
    assert_eq!(claims["application_id"], other);
    let old = DecodingKey::from_rsa_pem(&std::fs::read(fixture("application.pub")).unwrap()).unwrap();
    assert!(
        jsonwebtoken::decode::<Value>(auth, &old, &Validation::new(Algorithm::RS256)).is_err(),
        "the old key signed it"
    );
}

#[test]
fn hosts_on_one_redis_share_the_applications_rate() {
    let redis = RedisServer::start().unwrap();
    let api = fake_api(200, r#"{"message":"Talk started","uuid":"x"}"#);
    let talks = controller("op = \"talk\"\ntext = \"Still there?\"\nrepeat = 10");
    let warm = controller("");
    let apps = [("talks", "controller", talks.as_str()), ("warm", "controller", warm.as_str())];
    let tenants = [("acme", true, &apps[..])];
    let (a, b) = (
        Served::start_with(&api.base_url, &tenants, &["--state", &redis.url]),
        Served::start_with(&api.base_url, &tenants, &["--state", &redis.url]),
    );
    // Both hosts have their plugins loaded (no requests), then both answer within one second.
    for host in [&a, &b] {
        host.answer("acme", "warm", "fafa0007-0000-4000-8000-000000000000");
        host.answer("acme", "talks", "fafa0007-0000-4000-8000-0000000000ff");
    }
    std::thread::sleep(Duration::from_millis(1100));
    let into_second = Duration::from_nanos(u64::from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos(),
    ));
    std::thread::sleep(Duration::from_secs(1).saturating_sub(into_second) + Duration::from_millis(20));
    let first = a.said("acme", "talks", "fafa0007-0000-4000-8000-000000000001");
    let second = b.said("acme", "talks", "fafa0007-0000-4000-8000-000000000002");
    let ok = |said: &[String]| said.iter().filter(|s| *s == "ok").count();
    assert_eq!(ok(&first), 10, "{first:?}");
    assert_eq!(ok(&second), 5, "the second host counted only its own: {second:?}");
    assert!(second.iter().filter(|s| s.starts_with("rate-limited")).count() == 5, "{second:?}");
}
