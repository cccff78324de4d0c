//! Call control on the Voice REST API for plugins: the `calls` interface of the contract.
//!
//! The tenant's Vonage application key stays in the host ([`jwt`]): the host signs each request
//! with a cached RS256 application token. A plugin may control only calls its app has seen in its
//! own webhooks (the webhook's `uuid`, remembered per app for as long as call state lives, and
//! calls it created); anything else is `not-your-call` and never reaches the API. Requests are
//! counted against the Voice API's rates per application ([`rate`]; on Redis, by all hosts), end before the webhook's
//! deadline, and are noted on the call and timed in the metrics. A transfer's NCCO is validated by
//! the model exactly as an answer is.

mod jwt;
mod rate;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::http::{Method, Request, header};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use ncco_sdk::ncco::Validator;
use serde_json::{Value, json};

pub use jwt::{ApplicationKey, Claims, KeyError, TOKEN_LIFETIME, now_secs};
pub use rate::{CREATES_PER_SECOND, Class, OTHERS_PER_SECOND};

use super::bindings::vonage::ncco::calls::{
    ApiError, CallError, Created, Host as CallsHost, NewCall, StreamOptions, TalkOptions,
};
use super::store::{HostState, HostTrace};
use crate::state::{Namespace, StateStore};

/// The Voice API when the serve config names none (and the call's `region_url` is not a Vonage
/// host).
pub const DEFAULT_API_URL: &str = "https://api.nexmo.com";
/// Longest one request may take, whatever is left of the webhook.
pub const MAX_REQUEST_TIME: Duration = Duration::from_secs(10);
/// Largest answer read from the Voice API.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

type ApiClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The host's side of the Voice API: where it is, the client, and the rates of each application.
pub struct VoiceApi {
    /// `vonage_api_url` of the serve config, without a trailing slash.
    configured: Option<String>,
    client: ApiClient,
    rates: rate::Rates,
    /// Calls this host remembered lately (`tenant/app/uuid`), not written again for each of their
    /// events; emptied when it reaches [`RECENT_CALLS`].
    recent: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

/// Calls [`VoiceApi::remember`] keeps in mind before it starts again.
const RECENT_CALLS: usize = 65_536;

impl std::fmt::Debug for VoiceApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceApi").field("configured", &self.configured).finish_non_exhaustive()
    }
}

impl VoiceApi {
    /// The API at `configured` (the serve config's `vonage_api_url`), else Vonage's: the call's
    /// `region_url` when it is a Vonage host, or [`DEFAULT_API_URL`].
    pub fn new(configured: Option<&str>, tls: rustls::ClientConfig) -> Self {
        let https =
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http().enable_http1().build();
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(16)
            .build(https);
        VoiceApi {
            configured: configured.map(|u| u.trim_end_matches('/').to_owned()),
            client,
            rates: rate::Rates::default(),
            recent: Arc::default(),
        }
    }

    /// Remembers, in a task of its own, that `tenant`'s `app` saw the calls `named` (each with its
    /// `region_url` when the webhook gave one). A call this host stored lately is stored again only
    /// with a region.
    pub fn remember(&self, state: &Arc<dyn StateStore>, tenant: &str, app: &str, named: Vec<(String, Option<String>)>) {
        let key = |uuid: &str| format!("{tenant}/{app}/{uuid}");
        let named: Vec<(String, Option<String>)> = {
            let recent = self.recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            named.into_iter().filter(|(uuid, region)| region.is_some() || !recent.contains(&key(uuid))).collect()
        };
        if named.is_empty() {
            return;
        }
        let (state, recent) = (Arc::clone(state), Arc::clone(&self.recent));
        let (tenant, app) = (tenant.to_owned(), app.to_owned());
        tokio::spawn(async move {
            for (uuid, region) in named {
                if remember(state.as_ref(), &tenant, &app, &uuid, region.as_deref()).await {
                    let mut recent = recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    if recent.len() >= RECENT_CALLS {
                        recent.clear();
                    }
                    recent.insert(format!("{tenant}/{app}/{uuid}"));
                }
            }
        });
    }

    /// The base URL for a call in `region` (its `region_url`).
    fn base(&self, region: Option<&str>) -> String {
        if let Some(url) = &self.configured {
            return url.clone();
        }
        region.filter(|r| is_vonage_api(r)).unwrap_or(DEFAULT_API_URL).trim_end_matches('/').to_owned()
    }
}

/// True for the Voice API's own hosts: `https://api.nexmo.com`, `https://api.vonage.com`, or a
/// regional `https://api-<region>.vonage.com` (or `.nexmo.com`), with no port, user, path or query.
pub fn is_vonage_api(url: &str) -> bool {
    let Ok(uri) = url.parse::<hyper::Uri>() else { return false };
    let host = uri.host().unwrap_or("").to_ascii_lowercase();
    let regional = ["vonage.com", "nexmo.com"].iter().any(|domain| {
        host.strip_suffix(domain)
            .and_then(|h| h.strip_suffix('.'))
            .and_then(|h| h.strip_prefix("api-"))
            .is_some_and(|region| !region.is_empty() && region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    });
    uri.scheme_str() == Some("https")
        && uri.port().is_none()
        && uri.path_and_query().is_none_or(|p| p.as_str() == "/" || p.as_str().is_empty())
        && (host == "api.nexmo.com" || host == "api.vonage.com" || regional)
        && !url.contains('@')
}

/// The host's records of the calls an app has seen (never reachable by plugins).
pub fn seen(tenant: &str, app: &str) -> Namespace {
    Namespace::Seen { tenant: tenant.to_owned(), app: app.to_owned() }
}

/// Stores that `tenant`'s `app` saw call `uuid` in a webhook, for as long as call state lives,
/// with its `region_url` when the webhook gave one (an answer): a webhook without one (an event,
/// which may come first) leaves a region already known. True when it is stored.
async fn remember(state: &dyn StateStore, tenant: &str, app: &str, uuid: &str, region: Option<&str>) -> bool {
    let (ns, ttl) = (seen(tenant, app), Some(crate::state::MAX_CALL_STATE));
    let done = match region {
        Some(region) => state.set(&ns, uuid, region.as_bytes().to_vec(), ttl).await,
        None => state.insert_new(&ns, uuid, Vec::new(), ttl).await.map(drop),
    };
    if let Err(e) = &done {
        tracing::warn!(tenant, app, call_uuid = uuid, "cannot remember the call for call control: {e}");
    }
    done.is_ok()
}

/// What one webhook's plugin may do on the Voice API.
#[derive(Debug, Clone)]
pub struct CallsEnv {
    /// The host's API client.
    pub api: Arc<VoiceApi>,
    /// The tenant's application.
    pub key: Arc<ApplicationKey>,
    /// Where seen calls are remembered.
    pub state: Arc<dyn StateStore>,
    /// Tenant.
    pub tenant: String,
    /// App.
    pub app: String,
    /// `{public-url}/{tenant}/{app}`: where transfers and new calls send their webhooks.
    pub app_url: String,
    /// This webhook's call, which it may always control.
    pub current: Option<String>,
    /// This webhook's `region_url`, when it has one.
    pub region_url: Option<String>,
    /// The app's NCCO size cap, for transfers and new calls.
    pub max_ncco_bytes: u64,
    /// True when the state backend is shared by several hosts (Redis): the rates are then counted
    /// there too, so they hold for the application, not for each host.
    pub shared_rates: bool,
}

/// One webhook's call control: its environment, when every request must be done, and its notes.
#[derive(Debug)]
pub struct Calls {
    env: Option<CallsEnv>,
    ends_by: Instant,
    trace: Option<HostTrace>,
}

/// One request to the Voice API.
struct Op {
    name: &'static str,
    method: Method,
    uuid: Option<String>,
    path: String,
    body: Option<Value>,
}

impl Op {
    fn on(name: &'static str, method: Method, uuid: &str, rest: &str, body: Option<Value>) -> Self {
        Op { name, method, uuid: Some(uuid.to_owned()), path: format!("/v1/calls/{uuid}{rest}"), body }
    }
}

impl Calls {
    /// The call control of a webhook whose requests must end by `ends_by`; `env` is `None` for a
    /// store that may not use it (a load-time check).
    pub fn new(env: Option<CallsEnv>, trace: Option<HostTrace>, ends_by: Instant) -> Self {
        Calls { env, ends_by, trace }
    }

    async fn send(&mut self, op: Op) -> Result<Bytes, CallError> {
        let started = Instant::now();
        let result = self.try_send(&op).await;
        if let (Some(trace), Some(env)) = (&self.trace, &self.env) {
            let (outcome, said) = match &result {
                Ok(_) => ("ok", "ok".to_owned()),
                Err(e) => (kind(e), describe(e)),
            };
            let took = started.elapsed();
            let line =
                format!("voice {} {} {} -> {said} ({:.1} ms)", op.name, op.method, op.path, took.as_secs_f64() * 1e3);
            trace.voice(&env.tenant, &env.app, op.name, outcome, took, line);
        }
        result
    }

    async fn try_send(&self, op: &Op) -> Result<Bytes, CallError> {
        let env = self.env.as_ref().ok_or(CallError::NotConfigured)?;
        let key = &env.key;
        let looked_up = match &op.uuid {
            Some(uuid) => {
                let left = self.ends_by.saturating_duration_since(Instant::now());
                tokio::time::timeout(left, self.authorize(env, uuid)).await.map_err(|_| CallError::Timeout)?
            }
            None => Ok(env.region_url.clone()),
        };
        let region = looked_up?;
        let class = if op.method == Method::POST && op.uuid.is_none() { Class::Create } else { Class::Other };
        let cap = if class == Class::Create { CREATES_PER_SECOND } else { OTHERS_PER_SECOND };
        let what = if class == Class::Create { "call creations" } else { "requests" };
        let limited = |wait: Duration| {
            CallError::RateLimited(format!(
                "over the Voice API's {cap} {what} a second for this application: try again in {} ms",
                wait.as_millis().max(1)
            ))
        };
        env.api.rates.admit(&env.tenant, key.application_id(), class).map_err(limited)?;
        if env.shared_rates {
            self.admit_shared(env, key.application_id(), class, cap).await.map_err(limited)?;
        }
        let left = self.ends_by.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(CallError::Timeout);
        }
        let token = key.token().map_err(|e| CallError::Unavailable(format!("cannot sign the request: {e}")))?;
        let url = format!("{}{}", env.api.base(region.as_deref()), op.path);
        let body = op.body.as_ref().map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
        let mut request = Request::builder()
            .method(op.method.clone())
            .uri(&url)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, concat!("ncco-host/", env!("CARGO_PKG_VERSION")));
        if op.body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request.body(Full::new(body)).map_err(|e| CallError::Invalid(format!("bad request: {e}")))?;
        let exchange = async {
            let response = env
                .api
                .client
                .request(request)
                .await
                .map_err(|e| CallError::Unavailable(super::outbound::describe(&e)))?;
            let status = response.status().as_u16();
            let body = http_body_util::Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map(http_body_util::Collected::to_bytes)
                .map_err(|e| CallError::Unavailable(format!("reading the answer: {e}")))?;
            Ok::<_, CallError>((status, body))
        };
        let (status, body) =
            tokio::time::timeout(left.min(MAX_REQUEST_TIME), exchange).await.map_err(|_| CallError::Timeout)??;
        match status {
            200..=299 => Ok(body),
            401 | 403 => Err(CallError::Unauthorized(detail(status, &body))),
            404 => Err(CallError::NotFound(detail(status, &body))),
            429 => Err(CallError::RateLimited(format!("the Voice API answered {}", detail(status, &body)))),
            _ => Err(CallError::Api(ApiError { status, detail: detail(status, &body) })),
        }
    }

    /// Counts the request in this second's count of the application, shared by every host on the
    /// backend; how long until the next second when the count is over `cap`. A backend that cannot
    /// count lets the request go (this host's own count still holds).
    async fn admit_shared(&self, env: &CallsEnv, application: &str, class: Class, cap: usize) -> Result<(), Duration> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let second = now.as_secs();
        let key = format!("{application}/{}/{second}", if class == Class::Create { "create" } else { "other" });
        let ns = Namespace::Rate { tenant: env.tenant.clone() };
        let left = self.ends_by.saturating_duration_since(Instant::now());
        let counted = tokio::time::timeout(left, env.state.increment(&ns, &key, 1, Some(Duration::from_secs(5)))).await;
        match counted {
            Ok(Ok(Some(n))) if usize::try_from(n).unwrap_or(usize::MAX) > cap => {
                Err(Duration::from_secs(1).saturating_sub(Duration::from_nanos(u64::from(now.subsec_nanos()))))
            }
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => {
                tracing::warn!(tenant = %env.tenant, "cannot count the Voice API rate on the shared backend: {e}");
                Ok(())
            }
            Err(_) => Ok(()),
        }
    }

    /// The region of call `uuid` when this app may control it.
    async fn authorize(&self, env: &CallsEnv, uuid: &str) -> Result<Option<String>, CallError> {
        if uuid.is_empty() || uuid.len() > 64 || !uuid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(CallError::Invalid("a call uuid is 1 to 64 letters, digits and dashes".into()));
        }
        let current = env.current.as_deref() == Some(uuid);
        if current && env.region_url.is_some() {
            return Ok(env.region_url.clone());
        }
        match env.state.get(&seen(&env.tenant, &env.app), uuid).await {
            Ok(Some(region)) => Ok(String::from_utf8(region).ok().filter(|r| !r.is_empty())),
            // This webhook's own call, not remembered yet: Vonage's API at large.
            Ok(None) | Err(_) if current => Ok(None),
            Ok(None) => Err(CallError::NotYourCall(format!("call {uuid} is not one this app's webhooks named"))),
            Err(e) => Err(CallError::Unavailable(format!("cannot check the call: {e}"))),
        }
    }

    fn env(&self) -> Result<&CallsEnv, CallError> {
        self.env.as_ref().ok_or(CallError::NotConfigured)
    }

    /// An NCCO for a transfer or a new call: valid by the model under the app's size cap, as
    /// canonical JSON.
    fn ncco(&self, json: &str) -> Result<Value, CallError> {
        let max = self.env()?.max_ncco_bytes;
        if json.len() as u64 > max {
            return Err(CallError::Invalid(format!("the NCCO is {} bytes, over the app's {max}", json.len())));
        }
        let validator = Validator { max_bytes: usize::try_from(max).unwrap_or(usize::MAX), ..Validator::default() };
        match validator.check_str(json).into_result() {
            Ok(ncco) => serde_json::from_str(&ncco.to_json()).map_err(|e| CallError::Invalid(e.to_string())),
            Err(report) => Err(CallError::Invalid(format!("the NCCO is invalid: {report}"))),
        }
    }

    /// `{app-url}/event/{name}`, or why `name` cannot be a callback.
    fn callback_url(&self, name: &str) -> Result<String, CallError> {
        if name.is_empty()
            || name.len() > 64
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(CallError::Invalid(format!("callback {name:?}: 1 to 64 letters, digits, `-` and `_`")));
        }
        Ok(format!("{}/event/{name}", self.env()?.app_url))
    }

    async fn action(&mut self, name: &'static str, uuid: &str) -> Result<(), CallError> {
        self.send(Op::on(name, Method::PUT, uuid, "", Some(json!({ "action": name })))).await.map(drop)
    }
}

/// The label of an error in the metrics.
fn kind(e: &CallError) -> &'static str {
    match e {
        CallError::NotConfigured => "not-configured",
        CallError::NotYourCall(_) => "not-your-call",
        CallError::RateLimited(_) => "rate-limited",
        CallError::Invalid(_) => "invalid",
        CallError::Unauthorized(_) => "unauthorized",
        CallError::NotFound(_) => "not-found",
        CallError::Api(_) => "api",
        CallError::Timeout => "timeout",
        CallError::Unavailable(_) => "unavailable",
    }
}

/// An error as noted on the call.
fn describe(e: &CallError) -> String {
    match e {
        CallError::NotConfigured => "not-configured (no [vonage] in tenant.toml)".into(),
        CallError::Timeout => "timeout".into(),
        CallError::Api(a) => format!("api error {}: {}", a.status, a.detail),
        CallError::NotYourCall(m)
        | CallError::RateLimited(m)
        | CallError::Invalid(m)
        | CallError::Unauthorized(m)
        | CallError::NotFound(m)
        | CallError::Unavailable(m) => format!("{}: {m}", kind(e)),
    }
}

/// What an error answer says: `status title: detail` from Vonage's problem JSON, else the text cut
/// short.
fn detail(status: u16, body: &[u8]) -> String {
    let said = serde_json::from_slice::<Value>(body).ok().and_then(|v| {
        let title = v.get("title").and_then(Value::as_str);
        let detail = v.get("detail").and_then(Value::as_str);
        match (title, detail) {
            (Some(t), Some(d)) => Some(format!("{t}: {d}")),
            (Some(s), None) | (None, Some(s)) => Some(s.to_owned()),
            (None, None) => None,
        }
    });
    let said = said.unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect());
    if said.is_empty() { status.to_string() } else { format!("{status} {said}") }
}

/// `action` (a talk or a stream into a live call) checked by the model's rules for the same NCCO
/// action: the text's length, the level's range, the URLs.
fn check_action(action: impl Into<ncco_sdk::ncco::Action>) -> Result<(), CallError> {
    let report = ncco_sdk::ncco::Ncco::new().then(action).validate();
    if report.is_valid() {
        return Ok(());
    }
    let problems: Vec<String> = report
        .errors
        .iter()
        .map(|p| format!("{}: {}", p.pointer.strip_prefix("/0").unwrap_or(&p.pointer), p.message))
        .collect();
    Err(CallError::Invalid(problems.join("; ")))
}

impl CallsHost for HostState {
    async fn hangup(&mut self, uuid: String) -> Result<(), CallError> {
        self.calls().action("hangup", &uuid).await
    }

    async fn mute(&mut self, uuid: String) -> Result<(), CallError> {
        self.calls().action("mute", &uuid).await
    }

    async fn unmute(&mut self, uuid: String) -> Result<(), CallError> {
        self.calls().action("unmute", &uuid).await
    }

    async fn earmuff(&mut self, uuid: String) -> Result<(), CallError> {
        self.calls().action("earmuff", &uuid).await
    }

    async fn unearmuff(&mut self, uuid: String) -> Result<(), CallError> {
        self.calls().action("unearmuff", &uuid).await
    }

    async fn transfer(&mut self, uuid: String, ncco: String) -> Result<(), CallError> {
        let calls = self.calls();
        let ncco = calls.ncco(&ncco)?;
        let body = json!({ "action": "transfer", "destination": { "type": "ncco", "ncco": ncco } });
        calls.send(Op::on("transfer", Method::PUT, &uuid, "", Some(body))).await.map(drop)
    }

    async fn transfer_to_app(&mut self, uuid: String, path: String) -> Result<(), CallError> {
        let calls = self.calls();
        // Vonage fetches a transfer's URL as an answer URL: only the app's answer route answers it
        // with an NCCO. A query tells the plugin's `answer` why it was called.
        let (route, query) = path.split_once('?').unwrap_or((path.as_str(), ""));
        let query_ok = query.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~=&%+".contains(&b));
        if route != "/answer" || !query_ok || path.len() > 512 {
            return Err(CallError::Invalid(format!(
                "path {path:?}: a transfer goes to this app's `/answer`, with an optional query (`/answer?step=agent`)"
            )));
        }
        let url = format!("{}{path}", calls.env()?.app_url);
        let body = json!({ "action": "transfer", "destination": { "type": "ncco", "url": [url] } });
        calls.send(Op::on("transfer", Method::PUT, &uuid, "", Some(body))).await.map(drop)
    }

    async fn start_talk(&mut self, uuid: String, o: TalkOptions) -> Result<(), CallError> {
        let talk = ncco_sdk::ncco::Talk {
            text: o.text,
            r#loop: o.loop_count,
            level: o.level,
            language: o.language,
            style: o.style,
            premium: o.premium,
            ..Default::default()
        };
        // The REST body's keys are the NCCO action's (`text`, `loop`, `level`, `language`, ...).
        let body = serde_json::to_value(&talk).map_err(|e| CallError::Invalid(e.to_string()))?;
        check_action(talk)?;
        self.calls().send(Op::on("talk", Method::PUT, &uuid, "/talk", Some(body))).await.map(drop)
    }

    async fn stop_talk(&mut self, uuid: String) -> Result<(), CallError> {
        self.calls().send(Op::on("stop-talk", Method::DELETE, &uuid, "/talk", None)).await.map(drop)
    }

    async fn start_stream(&mut self, uuid: String, o: StreamOptions) -> Result<(), CallError> {
        let stream = ncco_sdk::ncco::Stream {
            stream_url: o.stream_url,
            r#loop: o.loop_count,
            level: o.level,
            ..Default::default()
        };
        check_action(stream.clone())?;
        // The REST body spells the URL list `stream_url` (the NCCO action, `streamUrl`).
        let mut body = json!({ "stream_url": stream.stream_url });
        if let Some(times) = stream.r#loop {
            body["loop"] = json!(times);
        }
        if let Some(level) = stream.level {
            body["level"] = json!(level);
        }
        self.calls().send(Op::on("stream", Method::PUT, &uuid, "/stream", Some(body))).await.map(drop)
    }

    async fn stop_stream(&mut self, uuid: String) -> Result<(), CallError> {
        self.calls().send(Op::on("stop-stream", Method::DELETE, &uuid, "/stream", None)).await.map(drop)
    }

    async fn send_dtmf(&mut self, uuid: String, digits: String) -> Result<(), CallError> {
        if digits.is_empty() || digits.len() > 64 || !digits.bytes().all(|b| b.is_ascii_digit() || b"*#p".contains(&b))
        {
            return Err(CallError::Invalid("DTMF digits are 1 to 64 of 0-9, *, # and p".into()));
        }
        let body = json!({ "digits": digits });
        self.calls().send(Op::on("dtmf", Method::PUT, &uuid, "/dtmf", Some(body))).await.map(drop)
    }

    async fn subscribe_dtmf(&mut self, uuid: String, callback: String) -> Result<(), CallError> {
        let calls = self.calls();
        let body = json!({ "event_url": [calls.callback_url(&callback)?] });
        calls.send(Op::on("subscribe-dtmf", Method::PUT, &uuid, "/input/dtmf", Some(body))).await.map(drop)
    }

    async fn unsubscribe_dtmf(&mut self, uuid: String) -> Result<(), CallError> {
        self.calls().send(Op::on("unsubscribe-dtmf", Method::DELETE, &uuid, "/input/dtmf", None)).await.map(drop)
    }

    async fn create(&mut self, call: NewCall) -> Result<Created, CallError> {
        let calls = self.calls();
        let to: Value = serde_json::from_str(&call.to)
            .map_err(|e| CallError::Invalid(format!("`to` is not a JSON endpoint object: {e}")))?;
        // The endpoint is checked by the model as a connect endpoint is.
        let probe = json!([{ "action": "connect", "endpoint": [to] }]).to_string();
        // What is sent is the endpoint as the model reads it (numbers as digits, known spellings).
        let to = match calls.ncco(&probe) {
            Ok(checked) => checked[0]["endpoint"][0].clone(),
            Err(CallError::Invalid(m)) => {
                return Err(CallError::Invalid(format!("`to`: {}", m.replace("/0/endpoint/0", "to"))));
            }
            Err(e) => return Err(e),
        };
        let ncco = calls.ncco(&call.ncco)?;
        let event_url = match &call.event_callback {
            Some(name) => calls.callback_url(name)?,
            None => format!("{}/event", calls.env()?.app_url),
        };
        let mut body = json!({ "to": [to], "ncco": ncco, "event_url": [event_url], "event_method": "POST" });
        match &call.from_number {
            Some(n) if n.is_empty() || n.len() > 20 || !n.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(CallError::Invalid("`from-number` is 1 to 20 digits (E.164 without `+`)".into()));
            }
            Some(n) => body["from"] = json!({ "type": "phone", "number": n }),
            None => body["random_from_number"] = json!(true),
        }
        if let Some(t) = call.ringing_timer {
            if !(1..=120).contains(&t) {
                return Err(CallError::Invalid(format!("`ringing-timer` is 1 to 120 seconds, got {t}")));
            }
            body["ringing_timer"] = json!(t);
        }
        if let Some(t) = call.length_timer {
            if !(1..=7200).contains(&t) {
                return Err(CallError::Invalid(format!("`length-timer` is 1 to 7200 seconds, got {t}")));
            }
            body["length_timer"] = json!(t);
        }
        let op = Op { name: "create", method: Method::POST, uuid: None, path: "/v1/calls".into(), body: Some(body) };
        let answer = calls.send(op).await?;
        let v: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
        let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        let created =
            Created { uuid: field("uuid"), conversation_uuid: field("conversation_uuid"), status: field("status") };
        if created.uuid.is_empty() {
            return Err(CallError::Api(ApiError { status: 201, detail: "the answer names no call `uuid`".into() }));
        }
        let env = calls.env()?;
        // The new call is this app's: its events come here, and it may be controlled.
        let region = env.region_url.clone();
        remember(env.state.as_ref(), &env.tenant, &env.app, &created.uuid, region.as_deref()).await;
        Ok(created)
    }

    async fn get(&mut self, uuid: String) -> Result<String, CallError> {
        let answer = self.calls().send(Op::on("get", Method::GET, &uuid, "", None)).await?;
        Ok(String::from_utf8_lossy(&answer).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_vonage_hosts_are_taken_from_region_url() {
        assert!(is_vonage_api("https://api-eu-1.vonage.com"));
        assert!(is_vonage_api("https://api-us-3.vonage.com/"));
        assert!(is_vonage_api("https://api.nexmo.com"));
        assert!(!is_vonage_api("https://developer.vonage.com"), "a Vonage site, not the API");
        assert!(!is_vonage_api("https://api-.vonage.com"));
        assert!(!is_vonage_api("http://api-eu-1.vonage.com"), "not TLS");
        assert!(!is_vonage_api("https://api-eu-1.vonage.com.evil.example"));
        assert!(!is_vonage_api("https://evilvonage.com"));
        assert!(!is_vonage_api("https://api-eu-1.vonage.com:8443"));
        assert!(!is_vonage_api("https://api-eu-1.vonage.com/steal"));
        assert!(!is_vonage_api("https://user@api-eu-1.vonage.com"));
    }

    #[test]
    fn error_answers_are_read_from_problem_json() {
        let body = br#"{"type":"https://developer.nexmo.com/api-errors#unauthorized","title":"Unauthorized","detail":"You did not provide correct credentials."}"#;
        assert_eq!(detail(401, body), "401 Unauthorized: You did not provide correct credentials.");
        assert_eq!(detail(502, b"bad gateway"), "502 bad gateway");
        assert_eq!(detail(500, b""), "500");
    }
}
