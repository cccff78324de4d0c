//! The webhook handlers: answer, fallback, event (with a callback name) and rtc. Each runs the app's
//! plugin in a fresh sandbox; any guest failure is answered with the app's fallback NCCO where Vonage
//! reads an NCCO, and with an empty 2xx elsewhere, so a caller is never left in silence.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ncco_sdk::ncco::Validator;
use ncco_sdk::webhook::{AnswerRequest, CallStatus, Event, ResponseNcco, RtcEvent};

use super::{AppError, AppState};
use crate::registry::{App, Tenant};
use crate::runtime::calls;
use crate::runtime::{Ask, Claims, Context, GuestFailure, PluginEnv, Refusal, RunSpec, Version, Webhook, held};
use crate::signature;
use crate::state::{CALL_STATE_GRACE, Namespace};

/// `GET|POST /{tenant}/{app}/answer`
pub async fn answer(State(s): State<AppState>, Path((tenant, app)): Path<(String, String)>, req: Request) -> Response {
    respond(handle(&s, tenant, app, Webhook::Answer, None, req).await)
}

/// `GET|POST /{tenant}/{app}/fallback`
pub async fn fallback(
    State(s): State<AppState>,
    Path((tenant, app)): Path<(String, String)>,
    req: Request,
) -> Response {
    respond(handle(&s, tenant, app, Webhook::Fallback, None, req).await)
}

/// `GET|POST /{tenant}/{app}/event`
pub async fn event(State(s): State<AppState>, Path((tenant, app)): Path<(String, String)>, req: Request) -> Response {
    respond(handle(&s, tenant, app, Webhook::Event, None, req).await)
}

/// `GET|POST /{tenant}/{app}/event/{callback}`
pub async fn event_callback(
    State(s): State<AppState>,
    Path((tenant, app, callback)): Path<(String, String, String)>,
    req: Request,
) -> Response {
    respond(handle(&s, tenant, app, Webhook::Event, Some(callback), req).await)
}

/// `POST /{tenant}/{app}/rtc`
pub async fn rtc(State(s): State<AppState>, Path((tenant, app)): Path<(String, String)>, req: Request) -> Response {
    respond(handle(&s, tenant, app, Webhook::Rtc, None, req).await)
}

fn respond(result: Result<Response, AppError>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

fn ncco_response(json: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], json).into_response()
}

fn empty() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// The webhook, parsed.
enum Parsed {
    Answer(AnswerRequest),
    Event(Event),
    Rtc(RtcEvent),
}

impl Parsed {
    fn response_ncco(&self) -> ResponseNcco {
        match self {
            Parsed::Answer(_) => ResponseNcco::Required,
            Parsed::Event(e) => e.response_ncco(),
            Parsed::Rtc(_) => ResponseNcco::Ignored,
        }
    }

    /// The answer request's `region_url`: where call control on its call goes.
    fn region_url(&self) -> Option<String> {
        match self {
            Parsed::Answer(a) => a.region_url.clone(),
            _ => None,
        }
    }

    /// Call legs a Conversation API event names (`body.channel.id` and `leg_ids` of a member
    /// event), which call control may then reach; ids not shaped like Vonage's are left out.
    fn legs(&self) -> Vec<String> {
        let Parsed::Rtc(r) = self else { return Vec::new() };
        let Some(channel) = r.body.as_ref().and_then(|b| b.get("channel")) else { return Vec::new() };
        let listed = channel.get("leg_ids").and_then(serde_json::Value::as_array).into_iter().flatten();
        let mut legs: Vec<String> = std::iter::once(channel.get("id"))
            .flatten()
            .chain(listed)
            .filter_map(serde_json::Value::as_str)
            .filter(|id| valid_id(id))
            .map(str::to_owned)
            .take(MAX_RTC_LEGS)
            .collect();
        legs.sort();
        legs.dedup();
        legs
    }

    fn ids(&self) -> (Option<String>, Option<String>) {
        match self {
            Parsed::Answer(a) => (a.uuid.clone(), a.conversation_uuid.clone()),
            Parsed::Event(e) => (e.call_uuid().map(str::to_owned), e.conversation_uuid().map(str::to_owned)),
            Parsed::Rtc(r) => (None, r.conversation_id.clone()),
        }
    }
}

/// Reads the body under the size cap and the body-read timeout. A body over the cap is 413; one that
/// stops arriving (a client gone mid-body, or one sending too slowly) is 408, never 413.
async fn read_body(headers: &HeaderMap, body: Body, limit: usize, timeout: Duration) -> Result<Bytes, AppError> {
    use http_body_util::BodyExt;
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(AppError::TooLarge(limit));
    }
    let read = async {
        let mut body = body;
        let mut out = bytes::BytesMut::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| AppError::BodyIncomplete)?;
            if let Some(data) = frame.data_ref() {
                if out.len() + data.len() > limit {
                    return Err(AppError::TooLarge(limit));
                }
                out.extend_from_slice(data);
            }
        }
        Ok(out.freeze())
    };
    tokio::time::timeout(timeout, read).await.map_err(|_| AppError::BodyIncomplete)?
}

/// Longest id (call, conversation or leg UUID) accepted from a webhook: Vonage's are 36 to 40 bytes.
pub const MAX_ID_BYTES: usize = 64;

/// True for ids shaped like Vonage's (`CON-<uuid>`, `<uuid>`, 32 hex digits, ...): 1 to 64 bytes of
/// letters, digits, `-` and `_`. Only such ids key state and pins.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_BYTES
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn check_id(what: &str, id: Option<&str>) -> Result<(), AppError> {
    match id {
        Some(id) if !valid_id(id) => Err(AppError::BadRequest(format!(
            "`{what}` is not a Vonage id (1 to {MAX_ID_BYTES} letters, digits, `-` or `_`; got {} bytes)",
            id.len()
        ))),
        _ => Ok(()),
    }
}

/// Parses the webhook and returns it with the JSON text the plugin gets: the body as Vonage sent it,
/// or the query's fields as JSON.
fn parse<'b>(
    webhook: Webhook,
    method: &Method,
    query: &str,
    body: &'b [u8],
) -> Result<(Parsed, Cow<'b, str>), AppError> {
    let from_body = method == Method::POST || !body.is_empty();
    let bad = |e: ncco_sdk::webhook::WebhookError| AppError::BadRequest(format!("malformed webhook: {e}"));
    let raw = || {
        std::str::from_utf8(body).map(Cow::Borrowed).map_err(|_| AppError::BadRequest("the body is not UTF-8".into()))
    };
    Ok(match webhook {
        Webhook::Answer | Webhook::Fallback => {
            let request = if from_body { AnswerRequest::from_json(body) } else { AnswerRequest::from_query(query) };
            let request = request.map_err(bad)?;
            let json = if from_body { raw()? } else { Cow::Owned(serde_json::to_string(&request).unwrap_or_default()) };
            (Parsed::Answer(request), json)
        }
        Webhook::Event => {
            let event = if from_body { Event::from_json(body) } else { Event::from_query(query) };
            let event = event.map_err(bad)?;
            let json = if from_body { raw()? } else { Cow::Owned(serde_json::to_string(&event).unwrap_or_default()) };
            (Parsed::Event(event), json)
        }
        Webhook::Rtc => (Parsed::Rtc(RtcEvent::from_json(body).map_err(bad)?), raw()?),
    })
}

/// What a webhook that names no app, or is not signed for it, gets: the same answer for an unknown
/// tenant, an unknown app and a refused signature, so an unauthenticated caller learns nothing about
/// which tenants and apps exist. The host log says which it was.
fn refused() -> AppError {
    AppError::NotFound("no app at this address accepts this request".into())
}

/// What one webhook leaves for the inspector and the metrics, filled in as it goes.
#[derive(Debug, Default)]
struct Trail {
    version: Option<String>,
    uuid: Option<String>,
    conversation: Option<String>,
    signature: &'static str,
    request: String,
    ncco: Option<String>,
    fallback: bool,
    outcome: Option<String>,
    failure: Option<String>,
    logs: String,
    log_dropped: usize,
    timings: crate::inspect::Timings,
    peak_memory: Option<u64>,
    host_calls: Vec<String>,
    warnings: Vec<String>,
    summary: Option<crate::inspect::RequestSummary>,
    heard: Option<Vec<String>>,
    ran: bool,
    shed: bool,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Why a webhook was refused before its plugin could run, as an outcome.
fn refusal_kind(e: &AppError) -> &'static str {
    match e {
        AppError::BadRequest(_) => "bad-request",
        AppError::TooLarge(_) => "body-too-large",
        AppError::BodyIncomplete => "body-incomplete",
        AppError::NotFound(_) => "signature-refused",
        _ => "refused",
    }
}

async fn handle(
    shared: &AppState,
    tenant_name: String,
    app_name: String,
    webhook: Webhook,
    callback: Option<String>,
    req: Request,
) -> Result<Response, AppError> {
    // Deadlines count from here: the wait for a slot is part of the plugin's time.
    let arrived = Instant::now();
    let received = SystemTime::now();
    if req.method() == Method::HEAD {
        // A HEAD would run the plugin for a response nobody reads.
        return Err(AppError::MethodNotAllowed("GET, POST"));
    }
    let (tenant, app) = lookup(shared, &tenant_name, &app_name, webhook)?;
    let mut trail = Trail { signature: "unsigned", ..Trail::default() };
    let result = handle_known(shared, (&tenant, &app), webhook, callback.clone(), req, arrived, &mut trail).await;
    trail.timings.total = micros(arrived.elapsed());
    observe(shared, (tenant_name, app_name), (webhook, callback), received, &result, trail);
    result
}

/// The last step of every webhook to a known app: it is counted in the metrics and its record goes
/// to the inspector (handed over, never waited on).
fn observe(
    shared: &AppState,
    (tenant, app): (String, String),
    (webhook, callback): (Webhook, Option<String>),
    received: SystemTime,
    result: &Result<Response, AppError>,
    mut trail: Trail,
) {
    let (status, outcome) = match result {
        Ok(r) => (r.status().as_u16(), trail.outcome.take().unwrap_or_else(|| "ok".into())),
        Err(e) => {
            if trail.failure.is_none() {
                trail.failure = Some(e.to_string());
            }
            let kind = trail.outcome.take().unwrap_or_else(|| refusal_kind(e).to_owned());
            (e.status().as_u16(), kind)
        }
    };
    let kind = webhook_name(webhook);
    if outcome == "signature-refused" {
        trail.signature = "refused";
        shared.metrics.signature_refused(&tenant);
    }
    shared.metrics.webhook(&crate::metrics::Observed {
        tenant: &tenant,
        app: &app,
        webhook: kind,
        outcome: &outcome,
        fallback: trail.fallback,
        shed: trail.shed,
        timings: trail.timings,
        ran: trail.ran,
        peak_memory: trail.peak_memory,
    });
    if !shared.inspector.enabled() {
        return;
    }
    shared.inspector.submit(crate::inspect::Draft {
        tenant,
        app,
        version: trail.version,
        webhook: kind,
        callback,
        uuid: trail.uuid,
        conversation_uuid: trail.conversation,
        signature: trail.signature,
        received,
        http_status: status,
        outcome,
        failure: trail.failure,
        request: trail.request,
        ncco: trail.ncco,
        fallback: trail.fallback,
        logs: trail.logs,
        log_dropped_bytes: trail.log_dropped,
        timings_us: trail.timings,
        peak_memory_bytes: trail.peak_memory,
        host_calls: trail.host_calls,
        warnings: trail.warnings,
        summary: trail.summary,
        heard: trail.heard,
    });
}

/// The inspector's and the metrics' name of a webhook kind.
fn webhook_name(webhook: Webhook) -> &'static str {
    match webhook {
        Webhook::Answer => "answer",
        Webhook::Fallback => "fallback",
        Webhook::Event => "event",
        Webhook::Rtc => "rtc",
    }
}

async fn handle_known(
    shared: &AppState,
    (tenant, app): (&Arc<Tenant>, &Arc<App>),
    webhook: Webhook,
    callback: Option<String>,
    req: Request,
    arrived: Instant,
    trail: &mut Trail,
) -> Result<Response, AppError> {
    let (tenant_name, app_name) = (tenant.name.clone(), app.name.clone());
    let (parts, body) = req.into_parts();
    let body = read_body(&parts.headers, body, shared.max_body_bytes, shared.config.body_read_timeout).await?;
    let query = parts.uri.query().unwrap_or("");
    // Kept for the inspector only (a copy per webhook is not made when it records nothing).
    let recording = shared.inspector.enabled();
    if recording {
        trail.request = if body.is_empty() { query.to_owned() } else { String::from_utf8_lossy(&body).into_owned() };
    }
    let claims = authenticate(shared, tenant, &app_name, &parts.headers, &body).await?;
    if claims.is_some() {
        trail.signature = "verified";
    }
    let (parsed, payload) = parse(webhook, &parts.method, query, &body)?;
    if recording {
        if !matches!(payload, Cow::Borrowed(_)) {
            trail.request = payload.to_string();
        }
        // The inspector's list needs these; read here, they are not read again from the text.
        if let Parsed::Answer(a) = &parsed {
            trail.summary =
                Some(crate::inspect::RequestSummary { from: a.from.clone(), to: a.to.clone(), status: None });
        }
    }
    let (call_uuid, conversation_uuid) = parsed.ids();
    check_id("uuid", call_uuid.as_deref())?;
    check_id("conversation_uuid", conversation_uuid.as_deref())?;
    trail.uuid.clone_from(&call_uuid);
    trail.conversation.clone_from(&conversation_uuid);
    let answering = matches!(webhook, Webhook::Answer | Webhook::Fallback);
    let pins = shared.registry.pins();
    let version = match (&conversation_uuid, answering) {
        (Some(conversation), false) => pins.version_for(&tenant_name, app, conversation).await,
        _ => app.version.clone(),
    };
    trail.version = version.as_ref().map(|v| v.hash.clone());
    let completed = matches!(&parsed, Parsed::Event(Event::Status(status)) if status.status == CallStatus::Completed);
    let ctx = Context {
        tenant: tenant_name.clone(),
        app: app_name.clone(),
        version: version.as_ref().map(|v| v.hash.clone()).unwrap_or_default(),
        webhook,
        callback,
        call_uuid: call_uuid.clone(),
        conversation_uuid: conversation_uuid.clone(),
        app_url: format!("{}/{tenant_name}/{app_name}", shared.public_url),
        claims,
    };
    let deadline = arrived + app.config.limits.timeout;
    let region_url = tenant.vonage.as_ref().and_then(|_| parsed.region_url());
    remember_calls(shared, tenant, &app_name, call_uuid.as_deref(), region_url.as_deref(), &parsed);
    let job = Job { tenant, app, version: version.clone(), deadline, priority: completed, region_url };
    let outcome = run(shared, job, ctx, &payload, conversation_uuid.as_deref(), trail).await;
    if let (Some(conversation), Some(v), true) = (&conversation_uuid, &version, answering) {
        // This call's later events and callbacks go to the version that answered it.
        pins.record(&tenant_name, &app_name, conversation, v).await;
    }
    if completed && let Some(conversation) = &conversation_uuid {
        // The call's clean-up runs whether or not its plugin could.
        end_call(shared, &tenant_name, &app_name, conversation).await;
    }
    let wants = parsed.response_ncco();
    let validating = Instant::now();
    let checked = outcome.and_then(|ncco| match ncco {
        None if wants == ResponseNcco::Required => Err(GuestFailure::InvalidNcco("the plugin returned no NCCO".into())),
        None => Ok(None),
        Some(_) if wants == ResponseNcco::Ignored => Ok(None),
        Some(json) => validate(&json, app.config.limits.max_ncco_bytes, recording).map(Some),
    });
    trail.timings.validate = micros(validating.elapsed());
    match checked {
        Ok(Some(Valid { json, warnings, heard })) => {
            if recording {
                trail.ncco = Some(json.clone());
                trail.heard = Some(heard);
            }
            trail.warnings = warnings;
            Ok(ncco_response(json))
        }
        Ok(None) => Ok(empty()),
        Err(failure) => {
            tracing::error!(
                tenant = %tenant_name,
                app = %app_name,
                version = %version.as_ref().map_or("-", |v| v.hash.as_str()),
                call_uuid = %call_uuid.as_deref().unwrap_or("-"),
                kind = %failure.kind(),
                "plugin failed: {failure}"
            );
            trail.outcome = Some(failure.kind().to_owned());
            trail.failure = Some(failure.to_string());
            match wants {
                // Where Vonage reads an NCCO, the caller always hears the fallback.
                ResponseNcco::Required | ResponseNcco::OptionalReplaces => {
                    trail.fallback = true;
                    trail.ncco = Some(app.config.fallback_ncco.clone());
                    Ok(ncco_response(app.config.fallback_ncco.clone()))
                }
                // A plain event that could not run is shed: Vonage may send it again.
                ResponseNcco::Ignored if matches!(failure, GuestFailure::Overloaded(_)) => {
                    trail.shed = true;
                    Err(AppError::Unavailable("the tenant is at its share of the host; retry".into()))
                }
                ResponseNcco::Ignored => Ok(empty()),
            }
        }
    }
}

/// The live tenant and app a webhook is for. An unknown tenant or app, an answer for a removed app
/// and a tenant whose configuration never loaded all get the same refusal.
fn lookup(
    shared: &AppState,
    tenant_name: &str,
    app_name: &str,
    webhook: Webhook,
) -> Result<(Arc<Tenant>, Arc<App>), AppError> {
    let Some((tenant, app)) = shared.registry.snapshot().app(tenant_name, app_name) else {
        tracing::debug!(tenant = %tenant_name, app = %app_name, "webhook for an unknown tenant or app");
        return Err(refused());
    };
    if (tenant.removed || app.removed) && matches!(webhook, Webhook::Answer | Webhook::Fallback) {
        // Gone from the tree: no new calls; events of calls in progress still reach their version.
        tracing::debug!(tenant = %tenant_name, app = %app_name, "answer for a removed app");
        return Err(refused());
    }
    if tenant.unusable {
        tracing::warn!(tenant = %tenant_name, app = %app_name, "webhook refused: the tenant's configuration is not usable");
        return Err(refused());
    }
    Ok((tenant, app))
}

/// The verified claims of a signed webhook (`None` when the tenant does not sign): HS256 with the
/// body's hash and the time window, the tenant's `application_id`, and a `jti` never seen before.
async fn authenticate(
    shared: &AppState,
    tenant: &Tenant,
    app_name: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<Claims>, AppError> {
    let Some(secret) = &tenant.config.signature_secret else { return Ok(None) };
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let checked = match signature::verify(authorization, secret, body, shared.signature_window, SystemTime::now()) {
        Err(e) => Err(e.to_string()),
        Ok(v) if tenant.config.application_id.as_ref().is_some_and(|id| v.application_id.as_ref() != Some(id)) => {
            Err("its `application_id` is not the tenant's".to_owned())
        }
        Ok(v) => first_use(shared, &tenant.name, v.jti.as_deref()).await.map(|()| v),
    };
    match checked {
        Ok(v) => Ok(Some(Claims { api_key: v.api_key, application_id: v.application_id, jti: v.jti, iat: v.iat })),
        Err(why) => {
            tracing::warn!(tenant = %tenant.name, app = %app_name, "signed webhook refused: {why}");
            Err(refused())
        }
    }
}

/// A call's clean-up on `completed`: its state expires after the grace period and its pin ends.
async fn end_call(shared: &AppState, tenant: &str, app: &str, conversation: &str) {
    let ns = Namespace::Call { tenant: tenant.to_owned(), app: app.to_owned(), conversation: conversation.to_owned() };
    if let Err(e) = shared.state.expire_all(&ns, CALL_STATE_GRACE).await {
        tracing::warn!(tenant, app, "cannot expire call state: {e}");
    }
    shared.registry.pins().end(tenant, app, conversation).await;
    tracing::info!(
        tenant,
        app,
        "call {conversation} completed: its state expires in {} s, its pin ended",
        CALL_STATE_GRACE.as_secs()
    );
}

/// Longest `jti` remembered.
const MAX_JTI_BYTES: usize = 128;

/// Remembers a signed webhook's token id for as long as the token could be accepted (its `iat`
/// window either way), in the state backend so every host behind a load balancer agrees: a token is
/// good for one webhook only.
async fn first_use(shared: &AppState, tenant: &str, jti: Option<&str>) -> Result<(), String> {
    let jti = jti.filter(|j| !j.is_empty()).ok_or("the token has no `jti` claim")?;
    if jti.len() > MAX_JTI_BYTES {
        return Err(format!("the token's `jti` is longer than {MAX_JTI_BYTES} bytes"));
    }
    let ns = Namespace::Replay { tenant: tenant.to_owned() };
    let remember = shared.signature_window * 2 + Duration::from_secs(60);
    match shared.state.insert_new(&ns, jti, Vec::new(), Some(remember)).await {
        Ok(true) => Ok(()),
        Ok(false) => Err("the token was used before (replayed `jti`)".into()),
        // Fail closed: without the record, a replay could not be told apart.
        Err(e) => Err(format!("cannot check the token for replay: {e}")),
    }
}

/// One webhook's claim on the runtime.
struct Job<'a> {
    tenant: &'a Tenant,
    app: &'a App,
    version: Option<Arc<Version>>,
    deadline: Instant,
    priority: bool,
    /// The answer request's `region_url` (for a tenant with call control): where call control on
    /// this call goes.
    region_url: Option<String>,
}

/// Legs of one Conversation API event remembered for call control, at most.
const MAX_RTC_LEGS: usize = 8;

/// One webhook counted in its app's in-flight webhooks while it lives.
struct InFlight(Arc<std::sync::atomic::AtomicUsize>);

impl InFlight {
    /// Counts one more, or `None` when the app is at `cap`.
    fn enter(count: &Arc<std::sync::atomic::AtomicUsize>, cap: Option<usize>) -> Option<InFlight> {
        use std::sync::atomic::Ordering;
        let entered = count.fetch_add(1, Ordering::AcqRel);
        if cap.is_some_and(|cap| entered >= cap) {
            count.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(InFlight(Arc::clone(count)))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Remembers, for a tenant with call control, the calls this webhook names (its own, with the
/// answer's `region_url`, and the legs of a Conversation API event), so later webhooks of the app
/// may control them; written off the webhook's path, whether or not the plugin then runs.
fn remember_calls(
    shared: &AppState,
    tenant: &Tenant,
    app: &str,
    call_uuid: Option<&str>,
    region_url: Option<&str>,
    parsed: &Parsed,
) {
    if tenant.vonage.is_none() {
        return;
    }
    let own = call_uuid.map(|u| (u.to_owned(), region_url.map(str::to_owned)));
    let named: Vec<(String, Option<String>)> =
        own.into_iter().chain(parsed.legs().into_iter().map(|l| (l, None))).collect();
    shared.registry.runtime().voice().remember(&shared.state, &tenant.name, app, named);
}

/// What the webhook's plugin may do on the Voice API: nothing for a tenant without `[vonage]`.
fn call_control(
    shared: &AppState,
    tenant: &Tenant,
    app: &App,
    ctx: &Context,
    region_url: Option<String>,
) -> Option<calls::CallsEnv> {
    let key = tenant.vonage.as_ref()?;
    Some(calls::CallsEnv {
        api: Arc::clone(shared.registry.runtime().voice()),
        key: Arc::clone(key),
        state: Arc::clone(&shared.state),
        tenant: tenant.name.clone(),
        app: app.name.clone(),
        app_url: ctx.app_url.clone(),
        current: ctx.call_uuid.clone(),
        region_url,
        max_ncco_bytes: app.config.limits.max_ncco_bytes,
        shared_rates: shared.state_backend == "redis",
    })
}

/// How long before its deadline a webhook must start: a call admitted later would only be cut off.
fn start_margin(timeout: Duration) -> Duration {
    (timeout / 4).min(Duration::from_millis(100))
}

/// Runs the plugin once, when the fair scheduler admits it in time; the outcome is the plugin's NCCO
/// (or none), or why there is none (the caller answers with the fallback).
async fn run(
    shared: &AppState,
    job: Job<'_>,
    ctx: Context,
    payload: &str,
    conversation: Option<&str>,
    trail: &mut Trail,
) -> Result<Option<String>, GuestFailure> {
    let Job { tenant, app, version, deadline, priority, region_url } = job;
    let Some(version) = version else {
        let why = app.last_error.clone().unwrap_or_else(|| "never loaded".into());
        return Err(GuestFailure::NotLoaded(why));
    };
    let start_by = deadline - start_margin(app.config.limits.timeout);
    let _inflight = match InFlight::enter(&app.inflight, app.config.max_concurrent) {
        Some(guard) => guard,
        None => {
            let full = Refusal::AppFull(app.config.max_concurrent.unwrap_or_default());
            return Err(GuestFailure::Overloaded(held(full, start_by).await.to_string()));
        }
    };
    let runtime = shared.registry.runtime();
    let shares = shared.config.shares(&tenant.config.ceilings());
    let ask = Ask { tenant_running: shares.max_running, tenant_queued: shares.max_queued, start_by, priority };
    let waiting = Instant::now();
    let admitted = runtime.scheduler().admit(&tenant.name, ask).await;
    trail.timings.wait = micros(waiting.elapsed());
    let _slot = admitted.map_err(|r| GuestFailure::Overloaded(r.to_string()))?;
    let env = PluginEnv {
        vars: Arc::clone(&app.config.vars),
        state: Arc::clone(&shared.state),
        app_ns: Namespace::App { tenant: tenant.name.clone(), app: app.name.clone() },
        call_ns: conversation.map(|c| Namespace::Call {
            tenant: tenant.name.clone(),
            app: app.name.clone(),
            conversation: c.to_owned(),
        }),
        log: crate::runtime::CallLog::new(usize::try_from(app.config.limits.log_bytes).unwrap_or(usize::MAX)),
        trace: Some(crate::runtime::HostTrace::new(Arc::clone(&shared.metrics), shared.state_backend)),
        http: crate::runtime::outbound::HttpEnv::for_app(
            runtime.outbound(),
            &tenant.name,
            &app.name,
            &app.config.outbound,
        ),
        calls: call_control(shared, tenant, app, &ctx, region_url),
    };
    let trace = env.trace.clone();
    let call_uuid = ctx.call_uuid.clone();
    let spec = RunSpec {
        env,
        limits: &app.config.limits,
        tenant_budget: runtime.tenant_budget(&tenant.name, shares.memory_bytes),
        deadline,
    };
    let (result, log, stats) = runtime.call(&version, spec, ctx, payload).await;
    let (text, dropped) = log.take();
    trail.ran = true;
    trail.timings.instantiate = micros(stats.instantiate);
    trail.timings.run = micros(stats.run);
    trail.peak_memory = Some(stats.peak_memory);
    trail.host_calls = trace.map(|t| t.take()).unwrap_or_default();
    trail.log_dropped = dropped;
    if !text.is_empty() || dropped > 0 {
        tracing::info!(
            tenant = %tenant.name,
            app = %app.name,
            version = %version.hash,
            call_uuid = %call_uuid.as_deref().unwrap_or("-"),
            dropped_bytes = dropped,
            // One quoted field, control characters escaped: caller-controlled text a plugin logs
            // can never forge a host log line.
            log = ?text.trim_end(),
            "plugin log"
        );
    }
    trail.logs = text;
    result
}

/// A plugin's NCCO that passed the model.
struct Valid {
    /// The canonical JSON Vonage gets.
    json: String,
    /// The model's warnings (lenient forms, unknown keys).
    warnings: Vec<String>,
    /// The texts of its talk actions, for the inspector (empty when it records nothing).
    heard: Vec<String>,
}

/// Checks the plugin's NCCO: size cap, then the model; its talk texts are kept when `recording`.
fn validate(json: &str, max_bytes: u64, recording: bool) -> Result<Valid, GuestFailure> {
    if json.len() as u64 > max_bytes {
        return Err(GuestFailure::NccoTooLarge(json.len(), max_bytes));
    }
    let validator = Validator { max_bytes: usize::try_from(max_bytes).unwrap_or(usize::MAX), ..Validator::default() };
    let checked = validator.check_str(json);
    // Valid with nothing read leniently: the plugin's own JSON is already Vonage's, so it goes out
    // as it came (serializing the typed NCCO again cost a third of validating it).
    let as_written = checked.report.warnings.is_empty();
    let warnings: Vec<String> = checked.report.warnings.iter().map(ToString::to_string).collect();
    let ncco = checked.into_result().map_err(|report| GuestFailure::InvalidNcco(report.to_string()))?;
    let heard = ncco
        .actions()
        .iter()
        .filter(|_| recording)
        .filter_map(|a| match a {
            ncco_sdk::ncco::Action::Talk(talk) => Some(talk.text.clone()),
            _ => None,
        })
        .collect();
    let json = if as_written { json.to_owned() } else { ncco.to_json() };
    Ok(Valid { json, warnings, heard })
}
