//! The HTTP layer: routes, body and signature checks, and turning a plugin's outcome into the
//! response Vonage expects. Knows nothing of wasmtime beyond the runtime's call interface.

pub mod auth;
pub mod connections;
mod deploy;
mod error;
mod inspect;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Json};
use axum::routing::{get, post, put};

pub use connections::ConnectionLimits;
pub use error::AppError;

use crate::registry::Registry;
use crate::state::StateStore;

/// What every handler shares.
#[derive(Debug)]
pub struct Shared {
    /// Tenants, apps and live versions.
    pub registry: Arc<Registry>,
    /// Plugin state.
    pub state: Arc<dyn StateStore>,
    /// Public base URL, without a trailing slash.
    pub public_url: String,
    /// Largest webhook body.
    pub max_body_bytes: usize,
    /// Accepted `iat` skew of signed webhooks.
    pub signature_window: Duration,
    /// The server's settings (tenant shares, timeouts).
    pub config: crate::config::ServeConfig,
    /// The deploy API's store.
    pub deploy: Arc<crate::deploy::Deployments>,
    /// Every metric.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The call records.
    pub inspector: Arc<crate::inspect::Inspector>,
    /// The state backend's name for the metrics (`embedded`, `redis`, `memory`).
    pub state_backend: &'static str,
}

/// The router's state.
pub type AppState = Arc<Shared>;

fn webhook_routes() -> Router<AppState> {
    Router::new()
        .route("/{tenant}/{app}/answer", get(webhook::answer).post(webhook::answer))
        .route("/{tenant}/{app}/fallback", get(webhook::fallback).post(webhook::fallback))
        .route("/{tenant}/{app}/event", get(webhook::event).post(webhook::event))
        .route("/{tenant}/{app}/event/{callback}", get(webhook::event_callback).post(webhook::event_callback))
        .route("/{tenant}/{app}/rtc", post(webhook::rtc))
}

fn admin_routes() -> Router<AppState> {
    Router::new()
        .route("/_admin/apps", get(admin_apps))
        .route("/v1/tenants", get(deploy::list_tenants))
        .route("/v1/tenants/{tenant}", put(deploy::put_tenant).get(deploy::get_tenant).delete(deploy::delete_tenant))
        .route("/v1/tenants/{tenant}/apps/{app}", axum::routing::delete(deploy::delete_app))
        .route("/v1/tenants/{tenant}/apps/{app}/versions", put(deploy::upload).get(deploy::versions))
        .route("/v1/tenants/{tenant}/apps/{app}/versions/{version}", axum::routing::delete(deploy::delete_version))
        .route("/v1/tenants/{tenant}/apps/{app}/activate", post(deploy::activate))
        .route("/v1/tenants/{tenant}/apps/{app}/rollback", post(deploy::rollback))
        .route("/v1/tenants/{tenant}/apps/{app}/config", put(deploy::put_config).get(deploy::get_config))
        .route("/_inspect", get(inspect::page))
        .route("/_inspect/calls/{id}", get(inspect::page))
        .route("/_inspect/api/calls", get(inspect::calls))
        .route("/_inspect/api/calls/{id}", get(inspect::call))
        .route("/_inspect/api/live", get(inspect::live))
        .route("/metrics", get(inspect::metrics))
}

fn finish(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .route("/healthz", get(healthz))
        .route_layer(axum::middleware::from_fn_with_state(Arc::clone(&state), timed))
        .with_state(state)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
}

/// Times every routed request for `http_server_request_duration_seconds` (by route pattern).
async fn timed(
    State(shared): State<AppState>,
    route: axum::extract::MatchedPath,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    shared.metrics.http(&method, route.as_str(), response.status().as_u16(), started.elapsed());
    response
}

/// The webhook routes (and `/healthz`), for when the admin routes listen apart.
pub fn webhook_router(state: AppState) -> Router {
    finish(webhook_routes(), state)
}

/// The admin and deploy routes (and `/healthz`), behind tokens (see [`auth`]).
pub fn admin_router(state: AppState) -> Router {
    finish(admin_routes(), state)
}

/// Every route on one port.
pub fn router(state: AppState) -> Router {
    finish(webhook_routes().merge(admin_routes()), state)
}

/// A handler that panicked still answers: a JSON 500, never a dropped connection.
fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    tracing::error!("a request handler panicked; answered 500");
    AppError::Internal.into_response()
}

/// `ok` (200) while the host can do everything it promises; `degraded` (503, with why) while its
/// state backend is faulted: it still answers every webhook (plugins see the state errors, callers
/// hear the plugin's answer or its fallback), and a load balancer can move traffic elsewhere.
async fn healthz(State(shared): State<AppState>) -> axum::response::Response {
    match shared.state.fault() {
        None => "ok".into_response(),
        Some(fault) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "degraded", "state": fault})),
        )
            .into_response(),
    }
}

async fn admin_apps(
    State(shared): State<AppState>,
    peer: auth::Peer,
    headers: axum::http::HeaderMap,
) -> Result<impl IntoResponse, AppError> {
    auth::authorize(&shared, &headers, peer, auth::Need::Operator, "GET /_admin/apps")?;
    let snapshot = shared.registry.snapshot();
    let runtime = shared.registry.runtime();
    let mut tenants: Vec<serde_json::Value> = snapshot
        .tenants
        .values()
        .map(|t| {
            let shares = shared.config.shares(&t.config.ceilings());
            let load = runtime.scheduler().load(&t.name);
            serde_json::json!({
                "tenant": t.name,
                "signing": t.config.signature_secret.is_some(),
                "application_id": t.config.application_id,
                "call_control": t.vonage.as_ref().map(|k| k.application_id()),
                "served": !t.unusable,
                "config_error": t.config_error,
                "running": load.running,
                "queued": load.queued,
                "max_running": shares.max_running,
                "max_queued": shares.max_queued,
                "memory_in_use_bytes": runtime.tenant_memory_in_use(&t.name),
                "memory_share_bytes": shares.memory_bytes,
                "state_quota": shared.state.quotas().limits(&t.name),
            })
        })
        .collect();
    for (entry, t) in tenants.iter_mut().zip(snapshot.tenants.values()) {
        entry["state_usage"] = match shared.state.usage(&t.name).await {
            Ok(usage) => serde_json::json!(usage),
            Err(e) => serde_json::json!({"error": e.to_string()}),
        };
        entry["pinned_calls"] = match shared.state.usage(&crate::state::pins_ledger(&t.name)).await {
            Ok(usage) => serde_json::json!(usage.keys.div_ceil(2)),
            Err(e) => serde_json::json!({"error": e.to_string()}),
        };
        entry["max_pinned_calls"] = serde_json::json!(shared.config.tenant_max_pinned_calls);
    }
    Ok(Json(serde_json::json!({
        "apps": shared.registry.status(),
        "tenants": tenants,
        "ignored": snapshot.ignored,
        "state_fault": shared.state.fault(),
        "reloads": shared.registry.reloads(),
        "reload_running_ms": shared.registry.reload_running_for().map(|d| d.as_millis()),
        "memory_in_use_bytes": runtime.memory_in_use(),
        "memory_budget_bytes": runtime.memory_budget(),
        "instance_slots": runtime.scheduler().slots(),
    })))
}
