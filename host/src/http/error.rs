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
    /// The credential is valid but does not reach this.
    #[error("{0}")]
    Forbidden(String),
    /// The request contradicts the current state.
    #[error("{0}")]
    Conflict(String),
    /// What was sent cannot be used.
    #[error("{0}")]
    Unprocessable(String),
    /// The body is not of a type this route takes.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Too many of these lately: try again later.
    #[error("{0}")]
    TooManyRequests(String),
}

impl AppError {
    /// The HTTP status it answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::BodyIncomplete => StatusCode::REQUEST_TIMEOUT,
            AppError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
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
            AppError::Forbidden(_) => "forbidden",
            AppError::Conflict(_) => "conflict",
            AppError::Unprocessable(_) => "unprocessable",
            AppError::UnsupportedMediaType(_) => "unsupported_media_type",
            AppError::TooManyRequests(_) => "too_many_requests",
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
        if matches!(self, AppError::Unavailable(_) | AppError::TooManyRequests(_)) {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        }
        response
    }
}
