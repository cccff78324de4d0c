//! The webhook handlers: answer, fallback, event (with a callback name) and rtc. Each runs the app's
//! plugin in a fresh sandbox; any guest failure is answered with the app's fallback NCCO where Vonage
//! reads an NCCO, and with an empty 2xx elsewhere, so a caller is never left in silence.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ncco_sdk::ncco::Validator;
use ncco_sdk::webhook::{AnswerRequest, CallStatus, Event, ResponseNcco, RtcEvent};

use super::{AppError, AppState};
use crate::registry::{App, Tenant};
use crate::runtime::{Claims, Context, GuestFailure, PluginEnv, Version, Webhook};
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

    fn ids(&self) -> (Option<String>, Option<String>) {
        match self {
            Parsed::Answer(a) => (a.uuid.clone(), a.conversation_uuid.clone()),
            Parsed::Event(e) => (e.call_uuid().map(str::to_owned), e.conversation_uuid().map(str::to_owned)),
            Parsed::Rtc(r) => (None, r.conversation_id.clone()),
        }
    }
}

async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, AppError> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(AppError::TooLarge(limit));
    }
    axum::body::to_bytes(body, limit).await.map_err(|_| AppError::TooLarge(limit))
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

async fn handle(
    shared: &AppState,
    tenant_name: String,
    app_name: String,
    webhook: Webhook,
    callback: Option<String>,
    req: Request,
) -> Result<Response, AppError> {
    let snapshot = shared.registry.snapshot();
    let Some((tenant, app)) = snapshot.app(&tenant_name, &app_name) else {
        let what = if snapshot.tenants.contains_key(&tenant_name) {
            format!("tenant {tenant_name:?} has no app {app_name:?}")
        } else {
            format!("no tenant {tenant_name:?}")
        };
        return Err(AppError::NotFound(what));
    };
    if tenant.unusable {
        return Err(AppError::Unavailable(format!("tenant {tenant_name:?} is not configured correctly")));
    }
    let (parts, body) = req.into_parts();
    let body = read_body(&parts.headers, body, shared.max_body_bytes).await?;
    let claims = match &tenant.config.signature_secret {
        None => None,
        Some(secret) => {
            let authorization = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
            let verified = signature::verify(authorization, secret, &body, shared.signature_window, SystemTime::now())
                .map_err(|e| AppError::Unauthorized(format!("signed webhook refused: {e}")))?;
            Some(Claims {
                api_key: verified.api_key,
                application_id: verified.application_id,
                jti: verified.jti,
                iat: verified.iat,
            })
        }
    };
    let query = parts.uri.query().unwrap_or("");
    let (parsed, payload) = parse(webhook, &parts.method, query, &body)?;
    let (call_uuid, conversation_uuid) = parsed.ids();
    let answering = matches!(webhook, Webhook::Answer | Webhook::Fallback);
    let pins = shared.registry.pins();
    let version = match (&conversation_uuid, answering) {
        (Some(conversation), false) => pins.version_for(&tenant_name, &app, conversation).await,
        _ => app.version.clone(),
    };
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
    let outcome = run(shared, &tenant, &app, version.clone(), ctx, &payload, conversation_uuid.as_deref()).await?;
    if let (Some(conversation), Some(v), true) = (&conversation_uuid, &version, answering) {
        // This call's later events and callbacks go to the version that answered it.
        pins.record(&tenant_name, &app_name, conversation, v).await;
    }
    if let Parsed::Event(Event::Status(status)) = &parsed
        && status.status == CallStatus::Completed
        && let Some(conversation) = &conversation_uuid
    {
        let ns =
            Namespace::Call { tenant: tenant_name.clone(), app: app_name.clone(), conversation: conversation.clone() };
        if let Err(e) = shared.state.expire_all(&ns, CALL_STATE_GRACE).await {
            tracing::warn!(tenant = %tenant_name, app = %app_name, "cannot expire call state: {e}");
        }
        pins.end(&tenant_name, &app_name, conversation).await;
    }
    let wants = parsed.response_ncco();
    let checked = outcome.and_then(|ncco| match ncco {
        None if wants == ResponseNcco::Required => Err(GuestFailure::InvalidNcco("the plugin returned no NCCO".into())),
        None => Ok(None),
        Some(_) if wants == ResponseNcco::Ignored => Ok(None),
        Some(json) => validate(&json, app.config.limits.max_ncco_bytes).map(Some),
    });
    match checked {
        Ok(Some(ncco)) => Ok(ncco_response(ncco)),
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
            if wants == ResponseNcco::Ignored {
                Ok(empty())
            } else {
                Ok(ncco_response(app.config.fallback_ncco.clone()))
            }
        }
    }
}

/// Runs the plugin once; `Ok(outcome)` even when the plugin failed (the caller answers with the
/// fallback), `Err` only when the host cannot run it at all right now.
async fn run(
    shared: &AppState,
    tenant: &Tenant,
    app: &App,
    version: Option<Arc<Version>>,
    ctx: Context,
    payload: &str,
    conversation: Option<&str>,
) -> Result<Result<Option<String>, GuestFailure>, AppError> {
    let Some(version) = version else {
        let why = app.last_error.clone().unwrap_or_else(|| "never loaded".into());
        return Ok(Err(GuestFailure::NotLoaded(why)));
    };
    let runtime = shared.registry.runtime();
    let Some(_permit) = runtime.try_permit() else {
        return Err(AppError::Unavailable("the host is at its concurrency limit; retry".into()));
    };
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
    };
    let call_uuid = ctx.call_uuid.clone();
    let (result, log) = runtime.call(&version, env, &app.config.limits, ctx, payload).await;
    let (text, dropped) = log.take();
    if !text.is_empty() || dropped > 0 {
        tracing::info!(
            tenant = %tenant.name,
            app = %app.name,
            version = %version.hash,
            call_uuid = %call_uuid.as_deref().unwrap_or("-"),
            dropped_bytes = dropped,
            "plugin log:\n{}",
            text.trim_end()
        );
    }
    Ok(result)
}

/// Checks the plugin's NCCO: size cap, then the model. Returns the canonical JSON Vonage gets.
fn validate(json: &str, max_bytes: u64) -> Result<String, GuestFailure> {
    if json.len() as u64 > max_bytes {
        return Err(GuestFailure::NccoTooLarge(json.len(), max_bytes));
    }
    let validator = Validator { max_bytes: usize::try_from(max_bytes).unwrap_or(usize::MAX), ..Validator::default() };
    validator.check_str(json).into_result().map(|n| n.to_json()).map_err(|r| GuestFailure::InvalidNcco(r.to_string()))
}
