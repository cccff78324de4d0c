//! `AppError`: every error the HTTP layer answers with, as a JSON body `{"error": {...}}` naming what
//! was wrong. Internal detail never reaches the response.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An HTTP error response.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Unknown tenant or app.
    #[error("{0}")]
    NotFound(String),
    /// The webhook is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The body is larger than allowed.
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    /// The body did not arrive whole in time (the client stopped sending, or sent too slowly).
    #[error("the request body did not arrive whole in time")]
    BodyIncomplete,
    /// The host failed; the detail is in its log.
    #[error("the host failed to handle this request")]
    Internal,
    /// The method is not served on this route.
    #[error("method not allowed here (allowed: {0})")]
    MethodNotAllowed(&'static str),
    /// The signed-webhook check failed.
    #[error("{0}")]
    Unauthorized(String),
    /// The host is at its concurrency limit, or the tenant cannot be served right now.
    #[error("{0}")]
    Unavailable(String),
}

impl AppError {
    fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::BodyIncomplete => StatusCode::REQUEST_TIMEOUT,
            AppError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            AppError::NotFound(_) => "not_found",
            AppError::BadRequest(_) => "bad_request",
            AppError::TooLarge(_) => "payload_too_large",
            AppError::BodyIncomplete => "request_timeout",
            AppError::Internal => "internal",
            AppError::MethodNotAllowed(_) => "method_not_allowed",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Unavailable(_) => "unavailable",
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code(), "message": self.to_string() } });
        let mut response = (self.status(), Json(body)).into_response();
        if matches!(self, AppError::Unauthorized(_)) {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
        }
        if let AppError::MethodNotAllowed(allowed) = &self {
            response.headers_mut().insert(axum::http::header::ALLOW, axum::http::HeaderValue::from_static(allowed));
        }
        if matches!(self, AppError::Unavailable(_)) {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        }
        response
    }
}
