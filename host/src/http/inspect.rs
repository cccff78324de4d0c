//! The call inspector's page and JSON API under `/_inspect`, and `/metrics`.
//!
//! The page is one file built into the binary (no build step, nothing fetched from elsewhere); it
//! reads the JSON API and follows new webhooks through server-sent events. The page itself holds no
//! data; the API answers the operator (everything) and tenant tokens (their own tenant's calls),
//! and with no operator token configured, loopback clients.

use std::convert::Infallible;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use super::auth::{Caller, Need, Peer, authorize};
use super::{AppError, AppState};
use crate::inspect::Filter;

/// The page, for `/_inspect` and `/_inspect/calls/{id}` alike.
const PAGE: &str = include_str!("../inspect/page.html");

/// `GET /_inspect`, `GET /_inspect/calls/{conversation_uuid}`.
pub async fn page() -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Html(PAGE)).into_response()
}

/// The tenant a caller may see (`None`: every tenant).
fn scope(caller: &Caller) -> Option<&str> {
    match caller {
        Caller::Operator => None,
        Caller::Tenant { tenant, .. } => Some(tenant),
    }
}

/// `GET /_inspect/api/calls?tenant=&app=&number=&uuid=&outcome=&limit=`.
pub async fn calls(
    State(s): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    query: Result<Query<Filter>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let caller = authorize(&s, &headers, peer, Need::AnyTenant, "GET /_inspect/api/calls")?;
    let Query(mut filter) = query.map_err(|e| AppError::BadRequest(format!("the query is not understood: {e}")))?;
    if let Some(own) = scope(&caller) {
        if filter.tenant.as_deref().is_some_and(|t| t != own) {
            return Err(AppError::Forbidden("this token does not reach that tenant".into()));
        }
        filter.tenant = Some(own.to_owned());
    }
    let calls = s.inspector.calls(&filter).await;
    let (records, bytes) = s.inspector.size();
    Ok(Json(json!({"calls": calls, "records": records, "record_bytes": bytes, "dropped": s.inspector.dropped()}))
        .into_response())
}

/// `GET /_inspect/api/calls/{conversation_uuid}`: the call's webhooks in arrival order.
pub async fn call(
    State(s): State<AppState>,
    Path(id): Path<String>,
    peer: Peer,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let caller = authorize(&s, &headers, peer, Need::AnyTenant, "GET /_inspect/api/calls/{id}")?;
    let mut webhooks = s.inspector.call(&id).await;
    if let Some(own) = scope(&caller) {
        webhooks.retain(|r| r.tenant == own);
    }
    let Some(first) = webhooks.first() else {
        return Err(AppError::NotFound(format!("no webhooks of the call `{id}` are recorded (or they were dropped)")));
    };
    Ok(Json(json!({
        "conversation_uuid": id,
        "tenant": first.tenant,
        "app": first.app,
        "started": first.received_at,
        "webhooks": webhooks.iter().map(|r| &**r).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// `GET /_inspect/api/live`: every new record, as a server-sent event `record` with its JSON.
pub async fn live(State(s): State<AppState>, peer: Peer, headers: HeaderMap) -> Result<Response, AppError> {
    let caller = authorize(&s, &headers, peer, Need::AnyTenant, "GET /_inspect/api/live")?;
    let own = scope(&caller).map(str::to_owned);
    let receiver = s.inspector.follow();
    let stream = futures_util::stream::unfold((receiver, own), |(mut rx, own)| async move {
        loop {
            match rx.recv().await {
                Ok(record) if own.as_ref().is_none_or(|t| *t == record.tenant) => {
                    let event = Event::default().event("record").json_data(&*record).unwrap_or_default();
                    return Some((Ok::<_, Infallible>(event), (rx, own)));
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

/// `GET /metrics` (the operator's): Prometheus text.
pub async fn metrics(State(s): State<AppState>, peer: Peer, headers: HeaderMap) -> Result<Response, AppError> {
    authorize(&s, &headers, peer, Need::Operator, "GET /metrics")?;
    s.metrics.records_dropped.inc_by(s.inspector.dropped().saturating_sub(s.metrics.records_dropped.get()));
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], s.metrics.encode()).into_response())
}
