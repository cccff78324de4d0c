//! Sending webhooks as Vonage does (§4 of the reference): 1 s to connect, 5 s to answer the answer
//! URL and 10 s for events; one retry on a timeout, a connection failure or 429/503/504; then, for
//! webhooks whose response is an NCCO, the fallback URL (tried twice the same way) with `reason` and
//! `original_request`. GET puts the fields in the query; every request is signed when a secret is set.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::Url;
use serde_json::{Map, Value};

use super::scenario::HttpMethod;
use super::timeline::Webhook;
use crate::signature;

/// Time to connect to any webhook server.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
/// Time for the answer (and fallback answer) URL to respond.
pub const ANSWER_TIMEOUT: Duration = Duration::from_millis(5000);
/// Time for an event URL to respond.
pub const EVENT_TIMEOUT: Duration = Duration::from_millis(10_000);

/// What a webhook's response means to Vonage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The answer request: the response must be an NCCO.
    Answer,
    /// An instruction event (input, notify, synchronous connect failure, websocket disconnect): an
    /// NCCO in the response replaces the rest of the call's NCCO.
    Instruction,
    /// A notification: the response is ignored; retried, never sent to the fallback.
    Notification,
}

/// One webhook to send.
#[derive(Debug, Clone)]
pub struct Request {
    /// What it is, for the timeline (`status started`, `input`, ...).
    pub label: String,
    /// Where it goes.
    pub url: String,
    /// GET (fields in the query) or POST (a JSON body).
    pub method: HttpMethod,
    /// The fields.
    pub payload: Map<String, Value>,
    /// How its response is read.
    pub kind: Kind,
}

/// How a webhook ended up, after retries and the fallback.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A 2xx response (from the fallback URL when `fallback` is true).
    Delivered {
        /// The response body.
        body: String,
        /// Whether it came from the fallback URL.
        fallback: bool,
    },
    /// No 2xx response from anywhere.
    Failed {
        /// Why the last attempt failed.
        reason: String,
        /// True when no attempt got any HTTP response (the server cannot be reached).
        unreachable: bool,
    },
}

/// Every attempt made for one webhook, and the outcome.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Each attempt, in order, as timeline entries.
    pub attempts: Vec<Webhook>,
    /// How it ended.
    pub outcome: Outcome,
}

/// Sends webhooks: the HTTP client, the signing secret and claims, and the fallback URL.
#[derive(Debug)]
pub struct Sender {
    http: reqwest::Client,
    secret: Option<String>,
    api_key: String,
    application_id: Option<String>,
    fallback_url: Option<String>,
}

enum Try {
    Success(String),
    Retryable(String),
    Fatal(String),
}

impl Sender {
    /// A sender; `secret` signs every request.
    pub fn new(
        secret: Option<String>,
        api_key: String,
        application_id: Option<String>,
        fallback_url: Option<String>,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .no_proxy()
            .user_agent(concat!("ncco-host-simulate/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Sender { http, secret, api_key, application_id, fallback_url })
    }

    /// Sends `req` with Vonage's retries and fallback.
    pub async fn deliver(&self, req: &Request) -> Delivery {
        let timeout = if req.kind == Kind::Answer { ANSWER_TIMEOUT } else { EVENT_TIMEOUT };
        let mut attempts = Vec::new();
        let mut result = self.attempt(req, &req.url, &req.payload, "primary", timeout, &mut attempts).await;
        if matches!(result, Try::Retryable(_)) {
            result = self.attempt(req, &req.url, &req.payload, "retry", timeout, &mut attempts).await;
        }
        if let (Try::Retryable(reason) | Try::Fatal(reason), true, Some(fallback)) =
            (&result, req.kind != Kind::Notification, &self.fallback_url)
        {
            let mut payload = req.payload.clone();
            payload.insert("reason".into(), Value::String(reason.clone()));
            let kind = if req.kind == Kind::Answer { "answer" } else { "event" };
            payload.insert("original_request".into(), serde_json::json!({ "url": req.url, "type": kind }));
            let fb_timeout = if req.kind == Kind::Answer { ANSWER_TIMEOUT } else { EVENT_TIMEOUT };
            result = self.attempt(req, fallback, &payload, "fallback", fb_timeout, &mut attempts).await;
            if matches!(result, Try::Retryable(_)) {
                result = self.attempt(req, fallback, &payload, "fallback retry", fb_timeout, &mut attempts).await;
            }
            if let Try::Success(body) = result {
                return Delivery { attempts, outcome: Outcome::Delivered { body, fallback: true } };
            }
        }
        let outcome = match result {
            Try::Success(body) => Outcome::Delivered { body, fallback: false },
            Try::Retryable(reason) | Try::Fatal(reason) => {
                Outcome::Failed { reason, unreachable: attempts.iter().all(|a| a.status.is_none()) }
            }
        };
        Delivery { attempts, outcome }
    }

    async fn attempt(
        &self,
        req: &Request,
        url: &str,
        payload: &Map<String, Value>,
        attempt: &'static str,
        timeout: Duration,
        log: &mut Vec<Webhook>,
    ) -> Try {
        let mut entry = Webhook {
            label: req.label.clone(),
            attempt,
            method: req.method.as_str(),
            url: url.to_owned(),
            request: Value::Object(payload.clone()),
            signed: self.secret.is_some(),
            status: None,
            response: None,
            error: None,
            ms: 0,
        };
        let started = Instant::now();
        let result = self.send(req.method, url, payload, timeout, &mut entry).await;
        entry.ms = started.elapsed().as_millis() as u64;
        match &result {
            Try::Success(body) => entry.response = Webhook::body(body),
            Try::Retryable(reason) | Try::Fatal(reason) => {
                entry.error = Some(reason.clone());
            }
        }
        log.push(entry);
        result
    }

    async fn send(
        &self,
        method: HttpMethod,
        url: &str,
        payload: &Map<String, Value>,
        timeout: Duration,
        entry: &mut Webhook,
    ) -> Try {
        let mut parsed = match Url::parse(url) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => u,
            Ok(u) => return Try::Fatal(format!("not an http(s) URL: {}", u.scheme())),
            Err(e) => return Try::Fatal(format!("invalid URL: {e}")),
        };
        let body = match method {
            HttpMethod::Get => {
                {
                    let mut query = parsed.query_pairs_mut();
                    for (key, value) in payload {
                        match value {
                            Value::Null => {}
                            Value::String(s) => {
                                query.append_pair(key, s);
                            }
                            other => {
                                query.append_pair(key, &other.to_string());
                            }
                        }
                    }
                }
                entry.url = parsed.to_string();
                Vec::new()
            }
            HttpMethod::Post => serde_json::to_vec(payload).unwrap_or_default(),
        };
        let mut builder = match method {
            HttpMethod::Get => self.http.get(parsed),
            HttpMethod::Post => {
                self.http.post(parsed).header(reqwest::header::CONTENT_TYPE, "application/json").body(body.clone())
            }
        };
        if let Some(secret) = &self.secret {
            let iat = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
            let jwt = signature::sign(secret, &body, iat, &self.api_key, self.application_id.as_deref());
            builder = builder.bearer_auth(jwt);
        }
        let response = match builder.timeout(timeout).send().await {
            Ok(r) => r,
            Err(e) => return Try::Retryable(describe(&e, timeout)),
        };
        let status = response.status();
        entry.status = Some(status.as_u16());
        let text = match response.text().await {
            Ok(t) => t,
            Err(e) => return Try::Retryable(describe(&e, timeout)),
        };
        if status.is_success() {
            return Try::Success(text);
        }
        entry.response = Webhook::body(&text);
        let reason = format!("HTTP {status}");
        if matches!(status.as_u16(), 429 | 503 | 504) { Try::Retryable(reason) } else { Try::Fatal(reason) }
    }
}

/// A short reason for a failed request, in the style of Vonage's `reason` (`Connection closed.`).
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        if e.is_connect() {
            format!("Connection timed out after {} ms.", CONNECT_TIMEOUT.as_millis())
        } else {
            format!("Read timed out after {} ms.", timeout.as_millis())
        }
    } else if e.is_connect() {
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                return match io.kind() {
                    std::io::ErrorKind::ConnectionRefused => "Connection refused.".to_owned(),
                    _ => format!("Connection failed ({io})."),
                };
            }
            source = s.source();
        }
        "Connection failed.".to_owned()
    } else {
        "Connection closed.".to_owned()
    }
}
