//! The webhook handlers: answer, fallback, event (with a callback name) and rtc. Each runs the app's
//! plugin in a fresh sandbox; any guest failure is answered with the app's fallback NCCO where Vonage
//! reads an NCCO, and with an empty 2xx elsewhere, so a caller is never left in silence.

mod request;
mod run;
mod signed;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{Path, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ncco_sdk::webhook::{CallStatus, Event, ResponseNcco};

use super::{AppError, AppState};
use crate::registry::{App, Tenant};
use crate::runtime::{Context, GuestFailure, Webhook};
use crate::state::{CALL_STATE_GRACE, Namespace};
use request::{Parsed, check_id, parse, read_body};
use run::{Job, Valid, remember_calls, run, validate};
use signed::authenticate;

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
