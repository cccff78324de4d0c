//! `simulate --api-listen`: the Voice API's call-control endpoints for the simulated call, as any
//! Vonage client uses them (`POST /v1/calls`, `GET`/`PUT /v1/calls/{uuid}`, `/talk`, `/stream`,
//! `/dtmf`, `/input/dtmf`). Each request's RS256 application JWT is checked against the
//! application's public key; an accepted request is queued for the call, which applies it at once
//! (a transfer replaces the NCCO, a hangup ends the call, a talk is heard) and shows it on the
//! timeline.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use ncco_sdk::ncco::{Ncco, Validator};
use serde_json::{Value, json};
use tokio::sync::Notify;

/// Longest a token may be used without `exp`: Vonage's default lifetime, counted from `iat`.
pub const DEFAULT_TOKEN_SECONDS: u64 = 15 * 60;
/// Clock skew allowed on `iat`, `nbf` and `exp`.
pub const LEEWAY_SECONDS: u64 = 60;

/// What a request asks of the call.
#[derive(Debug, Clone)]
pub enum Command {
    /// End the call.
    Hangup,
    /// Replace the NCCO.
    Transfer(Ncco),
    /// Replace the NCCO with the one this URL answers.
    TransferUrl(String),
    /// Speak into the call.
    Talk(String),
    /// Play audio into the call.
    Stream(String),
    /// Anything else, noted on the timeline only (mute, earmuff, DTMF, stops, subscriptions).
    Note,
}

impl Command {
    /// True when it changes what the call runs (the current action is cut).
    pub fn interrupts(&self) -> bool {
        matches!(self, Command::Hangup | Command::Transfer(_) | Command::TransferUrl(_))
    }
}

/// One request as the call sees it: the request line, the status answered, what it said, and the
/// command when it was accepted.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// `PUT /v1/calls/{uuid}`.
    pub request: String,
    /// Status answered.
    pub status: u16,
    /// What it asked, or why not.
    pub text: String,
    /// For the call to apply.
    pub command: Option<Command>,
}

/// The call's side, shared with the API's handlers.
#[derive(Debug)]
pub struct Control {
    key: DecodingKey,
    application_id: Option<String>,
    inner: Mutex<Inner>,
    /// Woken on each arrival.
    pub notify: Notify,
}

#[derive(Debug, Default)]
struct Inner {
    leg: Option<LegView>,
    ended: bool,
    created: Vec<String>,
    arrivals: VecDeque<Arrival>,
}

/// What `GET /v1/calls/{uuid}` shows of the call.
#[derive(Debug, Clone)]
pub struct LegView {
    /// The leg.
    pub uuid: String,
    /// Its conversation.
    pub conversation_uuid: String,
    /// Caller.
    pub from: String,
    /// Called.
    pub to: String,
    /// `inbound` or `outbound`.
    pub direction: &'static str,
    /// `started`, `answered`, `completed`.
    pub status: String,
}

impl Control {
    /// Checks tokens against `key` (and their `application_id` against `application_id`, when set).
    pub fn new(key: DecodingKey, application_id: Option<String>) -> Arc<Self> {
        Arc::new(Control { key, application_id, inner: Mutex::default(), notify: Notify::new() })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The call the API controls.
    pub fn set_leg(&self, leg: LegView) {
        self.lock().leg = Some(leg);
    }

    /// The call's status changed.
    pub fn set_status(&self, status: &str) {
        let mut inner = self.lock();
        if let Some(leg) = inner.leg.as_mut() {
            status.clone_into(&mut leg.status);
        }
        inner.ended |= status == "completed";
    }

    /// The requests that arrived since the last look, oldest first.
    pub fn take(&self) -> Vec<Arrival> {
        self.lock().arrivals.drain(..).collect()
    }

    /// True when an arrival waiting to be applied changes what the call runs.
    pub fn interrupt_pending(&self) -> bool {
        self.lock().arrivals.iter().any(|a| a.command.as_ref().is_some_and(Command::interrupts))
    }

    fn arrive(&self, arrival: Arrival) {
        self.lock().arrivals.push_back(arrival);
        self.notify.notify_one();
    }

    /// Checks the request's `Authorization: Bearer` token: RS256 under the application's key, not
    /// expired (`exp`, or `iat` plus 15 minutes), not issued in the future, with a `jti` and the
    /// application's id.
    fn authorize(&self, headers: &HeaderMap) -> Result<(), String> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .ok_or("no `Authorization: Bearer` token")?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.required_spec_claims.clear();
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let data = jsonwebtoken::decode::<Value>(token.trim(), &self.key, &validation)
            .map_err(|e| format!("the token is refused: {e}"))?;
        let claims = data.claims;
        let now = crate::runtime::calls::now_secs();
        let iat = claims.get("iat").and_then(Value::as_u64).ok_or("the token has no `iat`")?;
        if iat > now + LEEWAY_SECONDS {
            return Err("the token's `iat` is in the future".into());
        }
        if claims.get("exp").is_none() && iat + DEFAULT_TOKEN_SECONDS + LEEWAY_SECONDS < now {
            return Err("the token expired (no `exp`, issued more than 15 minutes ago)".into());
        }
        if claims.get("jti").and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err("the token has no `jti`".into());
        }
        let app = claims.get("application_id").and_then(Value::as_str).ok_or("the token has no `application_id`")?;
        if let Some(expected) = &self.application_id
            && !expected.eq_ignore_ascii_case(app)
        {
            return Err(format!("the token is for application {app}, not this call's"));
        }
        Ok(())
    }
}

/// The key tokens are checked against, from a PEM file: an RSA public key (`PUBLIC KEY` or `RSA
/// PUBLIC KEY`) or the application's private key (PKCS#8 or PKCS#1), whose public half is used.
pub fn decoding_key(pem: &[u8]) -> Result<DecodingKey, String> {
    use rustls_pki_types::PrivateKeyDer;
    use rustls_pki_types::pem::PemObject as _;
    let text = String::from_utf8_lossy(pem);
    if text.contains("PRIVATE KEY-----") {
        let der = PrivateKeyDer::from_pem_slice(pem).map_err(|e| format!("not a PEM private key: {e}"))?;
        let pair = match &der {
            PrivateKeyDer::Pkcs8(k) => aws_lc_rs::rsa::KeyPair::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => aws_lc_rs::rsa::KeyPair::from_der(k.secret_pkcs1_der()),
            _ => return Err("not an RSA private key".into()),
        }
        .map_err(|e| format!("not an RSA private key: {e}"))?;
        use aws_lc_rs::signature::KeyPair as _;
        return Ok(DecodingKey::from_rsa_der(pair.public_key().as_ref()));
    }
    DecodingKey::from_rsa_pem(pem).map_err(|e| format!("not an RSA public key: {e}"))
}

/// Serves the API on `addr` until the process ends; returns the address bound.
pub async fn serve(addr: SocketAddr, control: Arc<Control>) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new()
        .route("/v1/calls", post(create))
        .route("/v1/calls/{uuid}", get(describe).put(modify))
        .route("/v1/calls/{uuid}/talk", put(on_call(Put::Talk)).delete(stop))
        .route("/v1/calls/{uuid}/stream", put(on_call(Put::Stream)).delete(stop))
        .route("/v1/calls/{uuid}/dtmf", put(on_call(Put::Dtmf)))
        .route("/v1/calls/{uuid}/input/dtmf", put(on_call(Put::SubscribeDtmf)).delete(stop))
        .fallback(|| async { problem(StatusCode::NOT_FOUND, "not-found", "Not Found", "No such endpoint.") })
        .with_state(control);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("ncco-host simulate: the API server stopped: {e}");
        }
    });
    Ok(bound)
}

type Shared = State<Arc<Control>>;

/// The handler of one [`Put`] endpoint.
fn on_call(
    put: Put,
) -> impl Fn(Shared, Path<String>, HeaderMap, axum::body::Bytes) -> std::pin::Pin<Box<dyn Future<Output = Response> + Send>>
+ Clone
+ Send
+ Sync
+ 'static {
    move |State(c), Path(uuid), headers, body| {
        Box::pin(async move { put_on_call(&c, &uuid, &headers, &body, put).await })
    }
}

/// Vonage's problem JSON.
fn problem(status: StatusCode, kind: &str, title: &str, detail: &str) -> Response {
    let body = json!({
        "type": format!("https://developer.nexmo.com/api-errors#{kind}"),
        "title": title,
        "detail": detail,
        "instance": uuid::Uuid::new_v4().to_string(),
    });
    (status, Json(body)).into_response()
}

/// A refused request: answered, and shown on the timeline.
fn refuse(c: &Control, line: String, status: StatusCode, kind: &str, title: &str, detail: &str) -> Response {
    c.arrive(Arrival { request: line, status: status.as_u16(), text: detail.to_owned(), command: None });
    problem(status, kind, title, detail)
}

fn line(method: &Method, path: &str) -> String {
    format!("{method} {path}")
}

/// The checks every request on a call goes through: the token, then the call. True when it is the
/// simulated call (a call created through the API is known, not simulated).
fn admit(c: &Control, headers: &HeaderMap, uuid: &str, line: &str) -> Result<bool, Box<Response>> {
    if let Err(why) = c.authorize(headers) {
        return Err(Box::new(refuse(
            c,
            line.to_owned(),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            &why,
        )));
    }
    let inner = c.lock();
    let known = inner.leg.as_ref().is_some_and(|l| l.uuid == uuid);
    let created = inner.created.iter().any(|u| u == uuid);
    let ended = inner.ended;
    drop(inner);
    if !known && !created {
        let detail = format!("Call {uuid} was not found or has been terminated.");
        return Err(Box::new(refuse(c, line.to_owned(), StatusCode::NOT_FOUND, "not-found", "Not Found", &detail)));
    }
    if known && ended {
        let detail = format!("Call {uuid} has been terminated.");
        return Err(Box::new(refuse(c, line.to_owned(), StatusCode::NOT_FOUND, "not-found", "Not Found", &detail)));
    }
    Ok(known)
}

/// A bad request, with the model's pointers as `invalid_parameters`.
fn bad(c: &Control, line: String, detail: &str, invalid: &[Value]) -> Response {
    c.arrive(Arrival { request: line, status: 400, text: detail.to_owned(), command: None });
    let body = json!({
        "type": "https://developer.nexmo.com/api-errors#bad-request",
        "title": "Bad Request",
        "detail": detail,
        "invalid_parameters": invalid,
        "instance": uuid::Uuid::new_v4().to_string(),
    });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// Reads `value` (at `at`, a JSON pointer of the request body) as an NCCO, or the 400 saying why.
fn read_ncco(c: &Control, line: &str, value: &Value, at: &str) -> Result<Ncco, Box<Response>> {
    let checked = Validator::default().check_value(value);
    if let Some(ncco) = checked.ncco.filter(|_| checked.report.is_valid()) {
        return Ok(ncco);
    }
    let invalid: Vec<Value> = checked
        .report
        .errors
        .iter()
        .map(|p| json!({ "name": format!("{at}{}", p.pointer), "reason": p.message }))
        .collect();
    let detail = format!("the NCCO at {at} is invalid: {}", checked.report);
    Err(Box::new(bad(c, line.to_owned(), &detail, &invalid)))
}

/// An accepted request: applied to the simulated call when it is `own`, else only noted.
fn accepted(c: &Control, line: String, status: StatusCode, text: String, command: Command, own: bool) {
    let (text, command) =
        if own { (text, command) } else { (format!("{text} (a created call, not simulated)"), Command::Note) };
    c.arrive(Arrival { request: line, status: status.as_u16(), text, command: Some(command) });
}

fn body_json(c: &Control, line: &str, body: &[u8]) -> Result<Value, Box<Response>> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| Box::new(bad(c, line.to_owned(), "the body must be a JSON object", &[])))
}

async fn modify(State(c): Shared, Path(uuid): Path<String>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let line = line(&Method::PUT, &format!("/v1/calls/{uuid}"));
    let own = match admit(&c, &headers, &uuid, &line) {
        Ok(own) => own,
        Err(r) => return *r,
    };
    let body = match body_json(&c, &line, &body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let action = body.get("action").and_then(Value::as_str).unwrap_or_default();
    let (text, command) = match action {
        "hangup" => ("hangup".to_owned(), Command::Hangup),
        "mute" | "unmute" | "earmuff" | "unearmuff" => (action.to_owned(), Command::Note),
        "transfer" => {
            let destination = body.get("destination").cloned().unwrap_or(Value::Null);
            if destination.get("type").and_then(Value::as_str) != Some("ncco") {
                let reason = json!({ "name": "destination.type", "reason": "must be \"ncco\"" });
                return bad(&c, line, "a transfer needs a destination of type ncco", &[reason]);
            }
            if let Some(ncco) = destination.get("ncco") {
                match read_ncco(&c, &line, ncco, "/destination/ncco") {
                    Ok(n) => {
                        (format!("transfer to an inline NCCO ({} actions)", n.actions().len()), Command::Transfer(n))
                    }
                    Err(r) => return *r,
                }
            } else if let Some(url) =
                destination.get("url").and_then(|u| u.get(0)).and_then(Value::as_str).filter(|u| u.starts_with("http"))
            {
                (format!("transfer to the NCCO of {url}"), Command::TransferUrl(url.to_owned()))
            } else {
                let reason = json!({ "name": "destination", "reason": "needs `ncco` or `url`" });
                return bad(&c, line, "a transfer needs `destination.ncco` or `destination.url`", &[reason]);
            }
        }
        _ => {
            let reason = json!({ "name": "action", "reason": "hangup, mute, unmute, earmuff, unearmuff or transfer" });
            return bad(&c, line, &format!("unknown action {action:?}"), &[reason]);
        }
    };
    accepted(&c, line, StatusCode::NO_CONTENT, text, command, own);
    StatusCode::NO_CONTENT.into_response()
}

fn message(uuid: &str, text: &str) -> Response {
    (StatusCode::OK, Json(json!({ "message": text, "uuid": uuid }))).into_response()
}

/// The `PUT` requests on a call that carry one required field: what each needs and does.
#[derive(Debug, Clone, Copy)]
enum Put {
    Talk,
    Stream,
    Dtmf,
    SubscribeDtmf,
}

impl Put {
    /// The path after `/v1/calls/{uuid}`.
    fn path(self) -> &'static str {
        match self {
            Put::Talk => "/talk",
            Put::Stream => "/stream",
            Put::Dtmf => "/dtmf",
            Put::SubscribeDtmf => "/input/dtmf",
        }
    }

    /// The required field, and whether it is a list (whose first entry is used).
    fn field(self) -> (&'static str, bool) {
        match self {
            Put::Talk => ("text", false),
            Put::Stream => ("stream_url", true),
            Put::Dtmf => ("digits", false),
            Put::SubscribeDtmf => ("event_url", true),
        }
    }

    /// What the call gets for `value`, the timeline's words, and the answer's message.
    fn apply(self, value: &str) -> (Command, String, &'static str) {
        match self {
            Put::Talk => (Command::Talk(value.to_owned()), format!("talk {value:?}"), "Talk started"),
            Put::Stream => (Command::Stream(value.to_owned()), format!("stream {value}"), "Stream started"),
            Put::Dtmf => (Command::Note, format!("DTMF {value:?} played into the call"), "DTMF sent"),
            Put::SubscribeDtmf => (Command::Note, format!("asynchronous DTMF to {value}"), "DTMF subscribed"),
        }
    }
}

/// `PUT /v1/calls/{uuid}/talk`, `/stream`, `/dtmf` and `/input/dtmf`.
async fn put_on_call(c: &Control, uuid: &str, headers: &HeaderMap, body: &[u8], put: Put) -> Response {
    let line = line(&Method::PUT, &format!("/v1/calls/{uuid}{}", put.path()));
    let own = match admit(c, headers, uuid, &line) {
        Ok(own) => own,
        Err(r) => return *r,
    };
    let body = match body_json(c, &line, body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let (field, listed) = put.field();
    let value = body.get(field).and_then(|v| if listed { v.get(0) } else { Some(v) }).and_then(Value::as_str);
    let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
        let detail = format!("`{field}` is required");
        return bad(c, line, &detail, &[json!({ "name": field, "reason": "required" })]);
    };
    let (command, text, said) = put.apply(value);
    accepted(c, line, StatusCode::OK, text, command, own);
    message(uuid, said)
}

/// `DELETE` of `/talk`, `/stream` and `/input/dtmf`.
async fn stop(
    State(c): Shared,
    Path(uuid): Path<String>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let line = line(&method, uri.path());
    let own = match admit(&c, &headers, &uuid, &line) {
        Ok(own) => own,
        Err(r) => return *r,
    };
    let what = uri.path().rsplit('/').next().unwrap_or_default().to_owned();
    let (text, said) = match what.as_str() {
        "talk" => ("talk stopped", "Talk stopped"),
        "stream" => ("stream stopped", "Stream stopped"),
        _ => ("asynchronous DTMF stopped", "DTMF unsubscribed"),
    };
    accepted(&c, line, StatusCode::OK, text.to_owned(), Command::Note, own);
    message(&uuid, said)
}

async fn describe(State(c): Shared, Path(uuid): Path<String>, headers: HeaderMap) -> Response {
    let line = line(&Method::GET, &format!("/v1/calls/{uuid}"));
    if let Err(why) = c.authorize(&headers) {
        return refuse(&c, line, StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized", &why);
    }
    let leg = c.lock().leg.clone().filter(|l| l.uuid == uuid);
    let Some(leg) = leg else {
        let detail = format!("Call {uuid} was not found.");
        return refuse(&c, line, StatusCode::NOT_FOUND, "not-found", "Not Found", &detail);
    };
    c.arrive(Arrival { request: line, status: 200, text: format!("status {}", leg.status), command: None });
    let body = json!({
        "_links": { "self": { "href": format!("/v1/calls/{}", leg.uuid) } },
        "uuid": leg.uuid,
        "conversation_uuid": leg.conversation_uuid,
        "to": { "type": "phone", "number": leg.to },
        "from": { "type": "phone", "number": leg.from },
        "status": leg.status,
        "direction": leg.direction,
    });
    (StatusCode::OK, Json(body)).into_response()
}

async fn create(State(c): Shared, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let line = line(&Method::POST, "/v1/calls");
    if let Err(why) = c.authorize(&headers) {
        return refuse(&c, line, StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized", &why);
    }
    let body = match body_json(&c, &line, &body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let Some(to) = body.get("to").and_then(|t| t.get(0)) else {
        return bad(&c, line, "a call needs `to`", &[json!({ "name": "to", "reason": "required" })]);
    };
    let whom = to
        .get("number")
        .or_else(|| to.get("uri"))
        .or_else(|| to.get("user"))
        .map_or(to.to_string(), ToString::to_string);
    match (body.get("ncco"), body.get("answer_url")) {
        (Some(ncco), _) => {
            if let Err(r) = read_ncco(&c, &line, ncco, "/ncco") {
                return *r;
            }
        }
        (None, Some(_)) => {}
        (None, None) => {
            return bad(
                &c,
                line,
                "a call needs `ncco` or `answer_url`",
                &[json!({ "name": "ncco", "reason": "required" })],
            );
        }
    }
    let uuid = uuid::Uuid::new_v4().to_string();
    let conversation = format!("CON-{}", uuid::Uuid::new_v4());
    c.lock().created.push(uuid.clone());
    let text = format!("outbound call {uuid} to {whom} created (the simulator does not follow it)");
    accepted(&c, line, StatusCode::CREATED, text, Command::Note, true);
    let answer =
        json!({ "uuid": uuid, "status": "started", "direction": "outbound", "conversation_uuid": conversation });
    (StatusCode::CREATED, Json(answer)).into_response()
}
