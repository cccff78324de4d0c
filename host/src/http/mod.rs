//! The HTTP layer: routes, body and signature checks, and turning a plugin's outcome into the
//! response Vonage expects. Knows nothing of wasmtime beyond the runtime's call interface.

mod error;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Json};
use axum::routing::{get, post};

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
}

/// The router's state.
pub type AppState = Arc<Shared>;

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/_admin/apps", get(admin_apps))
        .route("/{tenant}/{app}/answer", get(webhook::answer).post(webhook::answer))
        .route("/{tenant}/{app}/fallback", get(webhook::fallback).post(webhook::fallback))
        .route("/{tenant}/{app}/event", get(webhook::event).post(webhook::event))
        .route("/{tenant}/{app}/event/{callback}", get(webhook::event_callback).post(webhook::event_callback))
        .route("/{tenant}/{app}/rtc", post(webhook::rtc))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn admin_apps(State(shared): State<AppState>) -> impl IntoResponse {
    Json(serde_json::json!({
        "apps": shared.registry.status(),
        "reloads": shared.registry.reloads(),
        "memory_in_use_bytes": shared.registry.runtime().memory_in_use(),
    }))
}
