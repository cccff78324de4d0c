//! The deploy API under `/v1/tenants`: JSON in and out, every refusal a JSON error that changed
//! nothing. The operations themselves are [`crate::deploy::Deployments`].

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::auth::{Caller, Need, Peer, authorize};
use super::{AppError, AppState};
use crate::config::MAX_PLUGIN_BYTES;
use crate::deploy::{DeployError, Outcome};
use crate::registry::scan::{NAME_RULE, RESERVED_APP_NAMES, valid_name};

/// Largest JSON body of a config route.
const MAX_JSON_BYTES: usize = 1 << 20;
/// Time an upload has to arrive whole.
const UPLOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

impl From<DeployError> for AppError {
    fn from(e: DeployError) -> Self {
        match e {
            DeployError::NotFound(m) => AppError::NotFound(m),
            DeployError::Conflict(m) => AppError::Conflict(m),
            DeployError::Invalid(m) => AppError::Unprocessable(m),
            DeployError::RateLimited(m) => AppError::TooManyRequests(m),
            DeployError::Unavailable(m) => AppError::Unavailable(m),
            DeployError::Internal(_) => AppError::Internal,
        }
    }
}

fn check_tenant(tenant: &str) -> Result<(), AppError> {
    if valid_name(tenant) {
        Ok(())
    } else {
        Err(AppError::BadRequest(format!("`{tenant}` is not a usable tenant name ({NAME_RULE})")))
    }
}

fn check_names(tenant: &str, app: &str) -> Result<(), AppError> {
    check_tenant(tenant)?;
    if !valid_name(app) {
        return Err(AppError::BadRequest(format!("`{app}` is not a usable app name ({NAME_RULE})")));
    }
    if RESERVED_APP_NAMES.iter().any(|r| r.eq_ignore_ascii_case(app)) {
        return Err(AppError::BadRequest(format!("`{app}` is reserved and cannot name an app")));
    }
    Ok(())
}

/// The tenant (and app) a `/v1/tenants/{tenant}[/apps/{app}...]` route is about, with names checked
/// and the caller accepted for it: the operator or that tenant's token. Refused before the handler
/// runs, with a JSON error.
#[derive(Debug)]
pub struct Access {
    tenant: String,
    app: String,
    caller: Caller,
}

impl axum::extract::FromRequestParts<AppState> for Access {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, s: &AppState) -> Result<Self, AppError> {
        let Path(params) = Path::<std::collections::HashMap<String, String>>::from_request_parts(parts, s)
            .await
            .map_err(|e| AppError::BadRequest(format!("the path is not understood: {e}")))?;
        let tenant = params.get("tenant").cloned().unwrap_or_default();
        let app = params.get("app").cloned();
        match &app {
            Some(app) => check_names(&tenant, app)?,
            None => check_tenant(&tenant)?,
        }
        let route = parts.extensions.get::<axum::extract::MatchedPath>().map_or("", |m| m.as_str());
        let route = format!("{} {route}", parts.method);
        let peer = Peer(parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0));
        let caller = authorize(s, &parts.headers, peer, Need::Tenant(&tenant), &route)?;
        Ok(Access { tenant, app: app.unwrap_or_default(), caller })
    }
}

async fn read_body(body: Body, max: usize) -> Result<bytes::Bytes, AppError> {
    match tokio::time::timeout(UPLOAD_TIMEOUT, axum::body::to_bytes(body, max)).await {
        Err(_) => Err(AppError::BodyIncomplete),
        Ok(Err(e)) => {
            if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>()) {
                Err(AppError::TooLarge(max))
            } else {
                Err(AppError::BodyIncomplete)
            }
        }
        Ok(Ok(b)) => Ok(b),
    }
}

async fn read_json(body: Body) -> Result<Value, AppError> {
    let bytes = read_body(body, MAX_JSON_BYTES).await?;
    serde_json::from_slice(&bytes).map_err(|e| AppError::BadRequest(format!("the body is not JSON: {e}")))
}

fn respond(outcome: Outcome) -> Response {
    let status = if outcome.created { StatusCode::CREATED } else { StatusCode::OK };
    let mut response = (status, Json(outcome.body)).into_response();
    if let Some(n) = outcome.active
        && let Ok(v) = HeaderValue::from_str(&format!("\"{n}\""))
    {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

/// `If-Match: "N"` (or `N`, `W/"N"`; `*` matches anything): the active version the caller expects.
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, AppError> {
    let Some(value) = headers.get(header::IF_MATCH) else { return Ok(None) };
    let text = value.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    let bare = text.trim_start_matches("W/").trim_matches('"');
    bare.parse()
        .map(Some)
        .map_err(|_| AppError::BadRequest(format!("If-Match must name the active version, as `\"N\"`; got `{text}`")))
}

/// Reads and drops up to [`DRAIN_BYTES`] of a refused request's body, for at most a second.
async fn drain(body: Body) {
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), axum::body::to_bytes(body, DRAIN_BYTES)).await;
}

/// Most of a refused upload read before answering.
const DRAIN_BYTES: usize = 1 << 20;

/// `GET /v1/tenants` (operator): every tenant and its apps.
pub async fn list_tenants(State(s): State<AppState>, peer: Peer, headers: HeaderMap) -> Result<Response, AppError> {
    authorize(&s, &headers, peer, Need::Operator, "GET /v1/tenants")?;
    let tenants = s.deploy.tenants().await?;
    let list: Vec<Value> =
        tenants.into_iter().map(|(t, apps)| serde_json::json!({"tenant": t, "apps": apps})).collect();
    Ok(Json(serde_json::json!({ "tenants": list })).into_response())
}

/// `PUT /v1/tenants/{tenant}` (operator).
pub async fn put_tenant(
    State(s): State<AppState>,
    Path(tenant): Path<String>,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    authorize(&s, &headers, peer, Need::Operator, "PUT /v1/tenants/{tenant}")?;
    check_tenant(&tenant)?;
    let config = read_json(body).await?;
    Ok(respond(s.deploy.put_tenant(&tenant, &config).await?))
}

/// `GET /v1/tenants/{tenant}`: the configuration without its secret.
pub async fn get_tenant(State(s): State<AppState>, access: Access) -> Result<Response, AppError> {
    Ok(Json(s.deploy.get_tenant(&access.tenant).await?).into_response())
}

/// `DELETE /v1/tenants/{tenant}` (operator), once its apps are gone.
pub async fn delete_tenant(
    State(s): State<AppState>,
    Path(tenant): Path<String>,
    peer: Peer,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    authorize(&s, &headers, peer, Need::Operator, "DELETE /v1/tenants/{tenant}")?;
    check_tenant(&tenant)?;
    Ok(Json(s.deploy.delete_tenant(&tenant).await?).into_response())
}

/// The query of an upload.
#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    /// Make it the active version too.
    #[serde(default)]
    activate: bool,
}

/// `PUT /v1/tenants/{tenant}/apps/{app}/versions` with the component as the body.
pub async fn upload(
    State(s): State<AppState>,
    access: Result<Access, AppError>,
    query: Result<Query<UploadQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let admitted = access.and_then(|access| {
        let Query(query) = query.map_err(|e| {
            AppError::BadRequest(format!("the query is not understood: {e} (only `activate=true|false`)"))
        })?;
        let kind = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if kind.split(';').next().map(str::trim) != Some("application/wasm") {
            return Err(AppError::UnsupportedMediaType(format!(
                "the body must be the component, sent as `Content-Type: application/wasm` (got `{kind}`)"
            )));
        }
        Ok((access, query))
    });
    let (access, query) = match admitted {
        Ok(a) => a,
        Err(e) => {
            // A client still sending its upload reads the refusal only if the host reads on a bit.
            drain(body).await;
            return Err(e);
        }
    };
    let Access { tenant, app, caller } = access;
    let max = usize::try_from(MAX_PLUGIN_BYTES).unwrap_or(usize::MAX);
    // Refused before a byte of it is read when it says it is too large.
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_PLUGIN_BYTES) {
        return Err(AppError::TooLarge(max));
    }
    let wasm = read_body(body, max).await?;
    if wasm.is_empty() {
        return Err(AppError::Unprocessable("the body is empty: send the component's bytes".into()));
    }
    Ok(respond(s.deploy.upload(&tenant, &app, wasm.to_vec(), query.activate, &caller.label()).await?))
}

/// `GET /v1/tenants/{tenant}/apps/{app}/versions`.
pub async fn versions(State(s): State<AppState>, a: Access) -> Result<Response, AppError> {
    Ok(respond(s.deploy.versions(&a.tenant, &a.app).await?))
}

/// `POST /v1/tenants/{tenant}/apps/{app}/activate` with `{"version": N}`.
pub async fn activate(
    State(s): State<AppState>,
    a: Access,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let expected = if_match(&headers)?;
    let request = read_json(body).await?;
    let version = request
        .get("version")
        .and_then(Value::as_u64)
        .ok_or_else(|| AppError::BadRequest("the body must be `{\"version\": N}` with N a version number".into()))?;
    Ok(respond(s.deploy.activate(&a.tenant, &a.app, version, expected).await?))
}

/// `POST /v1/tenants/{tenant}/apps/{app}/rollback`.
pub async fn rollback(State(s): State<AppState>, a: Access, headers: HeaderMap) -> Result<Response, AppError> {
    let expected = if_match(&headers)?;
    Ok(respond(s.deploy.rollback(&a.tenant, &a.app, expected).await?))
}

/// `DELETE /v1/tenants/{tenant}/apps/{app}/versions/{version}`.
pub async fn delete_version(
    State(s): State<AppState>,
    a: Access,
    Path((_, _, version)): Path<(String, String, String)>,
) -> Result<Response, AppError> {
    let version: u64 =
        version.parse().map_err(|_| AppError::BadRequest(format!("`{version}` is not a version number")))?;
    Ok(respond(s.deploy.delete_version(&a.tenant, &a.app, version).await?))
}

/// `PUT /v1/tenants/{tenant}/apps/{app}/config`: the keys of `<app>.toml`.
pub async fn put_config(State(s): State<AppState>, a: Access, body: Body) -> Result<Response, AppError> {
    let config = read_json(body).await?;
    Ok(Json(s.deploy.put_config(&a.tenant, &a.app, &config).await?).into_response())
}

/// `GET /v1/tenants/{tenant}/apps/{app}/config`.
pub async fn get_config(State(s): State<AppState>, a: Access) -> Result<Response, AppError> {
    Ok(Json(s.deploy.get_config(&a.tenant, &a.app).await?).into_response())
}

/// `DELETE /v1/tenants/{tenant}/apps/{app}`.
pub async fn delete_app(State(s): State<AppState>, a: Access) -> Result<Response, AppError> {
    Ok(Json(s.deploy.delete_app(&a.tenant, &a.app).await?).into_response())
}
