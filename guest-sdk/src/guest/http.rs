//! Outbound HTTP for plugins (feature `http`): a small blocking client over the standard
//! `wasi:http/outgoing-handler`, so a handler can ask its own backend (a CRM, a booking system)
//! before it answers. The host serves the standard interface, not this client: a plugin may use
//! another `wasi:http` client instead.
//!
//! The host sends a request only when the app's `allowed_outbound_hosts` (in its `app.toml`) names
//! the URL's scheme, host and port; a plugin importing `wasi:http` is refused at load when the app
//! allows no host. Each webhook may make `max_outbound_requests` requests (default 8) and receive
//! `max_outbound_response_bytes` of bodies (default 1 MiB), and every request ends a little before
//! the webhook's deadline (`timeout_ms`), so a slow backend gets an [`HttpError::Timeout`] while
//! there is still time to answer without it. Redirects are returned, not followed.
//!
//! ```no_run
//! use ncco_sdk::guest::http::{HttpError, Request};
//! # fn main() -> Result<(), HttpError> {
//! #[derive(serde::Deserialize)]
//! struct Caller {
//!     name: String,
//! }
//! let response = Request::get("https://crm.example.com/callers/447700900000")
//!     .header("accept", "application/json")
//!     .timeout(std::time::Duration::from_millis(800))
//!     .send()?;
//! if response.status == 200 {
//!     let caller: Caller = response.json()?;
//!     ncco_sdk::info!("calling: {}", caller.name);
//! }
//! // Posting JSON.
//! Request::post("https://hooks.example.com/voicemail").json(&serde_json::json!({"from": "447700900000"})).send()?;
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasi::io::streams::StreamError;

/// Most bytes written to the request body stream in one call (what `wasi:io` guarantees).
const WRITE_CHUNK: usize = 4096;
/// Most bytes read from the response body in one call.
const READ_CHUNK: u64 = 64 * 1024;

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The app's `allowed_outbound_hosts` does not name this URL's scheme, host and port.
    Denied,
    /// The host resolved to a private, loopback or link-local address, which plugins may not reach
    /// unless the operator allows it.
    Prohibited,
    /// This webhook made its `max_outbound_requests` requests already.
    LimitReached,
    /// No response (or no whole body) before the timeout, or before the webhook's deadline.
    Timeout,
    /// The response body is over what this webhook may still receive
    /// (`max_outbound_response_bytes`).
    TooLarge,
    /// The URL is not `http(s)://host[:port][/path][?query]`.
    InvalidUrl(String),
    /// A header name or value is not allowed (hop-by-hop headers and `host` are the host's).
    InvalidHeader(String),
    /// The body is not what [`Response::json`] or [`Response::text`] was asked to read, or the
    /// request's JSON body could not be made.
    Body(String),
    /// Anything else: DNS, connection, TLS or protocol failures, by their `wasi:http` error code.
    Failed(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Denied => f.write_str("the app's allowed_outbound_hosts does not allow this URL"),
            HttpError::Prohibited => f.write_str("the destination address is private, loopback or link-local"),
            HttpError::LimitReached => f.write_str("this webhook made all the requests it may make"),
            HttpError::Timeout => f.write_str("the request timed out"),
            HttpError::TooLarge => f.write_str("the response body is over the webhook's byte limit"),
            HttpError::InvalidUrl(m) => write!(f, "invalid URL: {m}"),
            HttpError::InvalidHeader(m) => write!(f, "invalid header: {m}"),
            HttpError::Body(m) => write!(f, "unexpected response body: {m}"),
            HttpError::Failed(m) => write!(f, "request failed: {m}"),
        }
    }
}

impl std::error::Error for HttpError {}

impl From<ErrorCode> for HttpError {
    fn from(code: ErrorCode) -> Self {
        match code {
            ErrorCode::HttpRequestDenied => HttpError::Denied,
            ErrorCode::DestinationIpProhibited => HttpError::Prohibited,
            ErrorCode::ConnectionLimitReached => HttpError::LimitReached,
            ErrorCode::DnsTimeout
            | ErrorCode::ConnectionTimeout
            | ErrorCode::ConnectionReadTimeout
            | ErrorCode::ConnectionWriteTimeout
            | ErrorCode::HttpResponseTimeout => HttpError::Timeout,
            ErrorCode::HttpResponseBodySize(_) => HttpError::TooLarge,
            ErrorCode::HttpRequestUriInvalid => HttpError::InvalidUrl("refused by the host".into()),
            other => HttpError::Failed(format!("{other:?}")),
        }
    }
}

/// A request to build and [`send`](Request::send).
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Option<Vec<u8>>,
    timeout: Option<Duration>,
    /// A body that could not be made ([`Request::json`]), reported by [`Request::send`].
    invalid: Option<String>,
}

/// A response, its body read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code (a redirect is returned as it is, not followed).
    pub status: u16,
    /// The headers, names in lower case.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (any case), if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str, HttpError> {
        std::str::from_utf8(&self.body).map_err(|e| HttpError::Body(e.to_string()))
    }

    /// The body as JSON of type `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|e| HttpError::Body(e.to_string()))
    }

    /// True for a 2xx status.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl Request {
    /// A request with `method` (`GET`, `POST`, ... or any token) to `url`.
    pub fn new(method: &str, url: impl Into<String>) -> Self {
        let method = match method.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            "OPTIONS" => Method::Options,
            other => Method::Other(other.to_owned()),
        };
        Request { method, url: url.into(), headers: Vec::new(), body: None, timeout: None, invalid: None }
    }

    /// `GET url`.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    /// `POST url`.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new("POST", url)
    }

    /// `PUT url`.
    pub fn put(url: impl Into<String>) -> Self {
        Self::new("PUT", url)
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.as_ref().to_vec()));
        self
    }

    /// The body, as it is.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// `value` as a JSON body, with `content-type: application/json`. A value that cannot be
    /// JSON (a map with non-string keys) makes [`Request::send`] fail with [`HttpError::Body`],
    /// sending nothing.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => self.header("content-type", "application/json").body(body),
            Err(e) => {
                self.invalid = Some(format!("the request body is not JSON: {e}"));
                self
            }
        }
    }

    /// Gives up when no response has come after `timeout` (and when the body stalls that long).
    /// The host ends every request before the webhook's deadline in any case.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request and reads the whole response.
    pub fn send(self) -> Result<Response, HttpError> {
        if let Some(why) = self.invalid {
            return Err(HttpError::Body(why));
        }
        let (scheme, authority, path) = split_url(&self.url)?;
        let mut headers = self.headers;
        if let Some(body) = &self.body {
            headers.push(("content-length".into(), body.len().to_string().into_bytes()));
        }
        let fields = Fields::from_list(&headers).map_err(|e| HttpError::InvalidHeader(format!("{e:?}")))?;
        let request = OutgoingRequest::new(fields);
        let invalid = |what: &str| HttpError::InvalidUrl(format!("the host refused the {what}"));
        request.set_method(&self.method).map_err(|()| invalid("method"))?;
        request.set_scheme(Some(&scheme)).map_err(|()| invalid("scheme"))?;
        request.set_authority(Some(authority)).map_err(|()| invalid("host"))?;
        request.set_path_with_query(Some(path)).map_err(|()| invalid("path"))?;
        let outgoing = request.body().map_err(|()| HttpError::Failed("no request body".into()))?;
        let options = self.timeout.map(|t| {
            let options = RequestOptions::new();
            let nanos = u64::try_from(t.as_nanos()).unwrap_or(u64::MAX);
            // Refused options are left to the host's own deadline.
            let _ = options.set_first_byte_timeout(Some(nanos));
            let _ = options.set_between_bytes_timeout(Some(nanos));
            options
        });
        let future = outgoing_handler::handle(request, options)?;
        if let Some(body) = &self.body {
            let stream = outgoing.write().map_err(|()| HttpError::Failed("no request body stream".into()))?;
            for chunk in body.chunks(WRITE_CHUNK) {
                stream.blocking_write_and_flush(chunk).map_err(|e| stream_error(&e))?;
            }
        }
        OutgoingBody::finish(outgoing, None)?;
        let response = loop {
            match future.get() {
                Some(done) => break done.map_err(|()| HttpError::Failed("the response was taken twice".into()))??,
                None => future.subscribe().block(),
            }
        };
        let status = response.status();
        let headers = response.headers().entries();
        let incoming = response.consume().map_err(|()| HttpError::Failed("no response body".into()))?;
        let mut body = Vec::new();
        {
            let stream = incoming.stream().map_err(|()| HttpError::Failed("no response body stream".into()))?;
            loop {
                match stream.blocking_read(READ_CHUNK) {
                    Ok(chunk) => body.extend_from_slice(&chunk),
                    Err(StreamError::Closed) => break,
                    Err(e) => return Err(stream_error(&e)),
                }
            }
        }
        drop(IncomingBody::finish(incoming));
        Ok(Response { status, headers, body })
    }
}

fn stream_error(e: &StreamError) -> HttpError {
    match e {
        StreamError::Closed => HttpError::Failed("the stream closed early".into()),
        StreamError::LastOperationFailed(io) => match wasi::http::types::http_error_code(io) {
            Some(code) => code.into(),
            None => HttpError::Failed(io.to_debug_string()),
        },
    }
}

/// `scheme://authority/path?query` in its three parts (the path defaults to `/`).
fn split_url(url: &str) -> Result<(Scheme, &str, &str), HttpError> {
    let (scheme, rest) =
        url.split_once("://").ok_or_else(|| HttpError::InvalidUrl(format!("`{url}` has no scheme")))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => return Err(HttpError::InvalidUrl(format!("the scheme `{other}` is not http or https"))),
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    if authority.is_empty() || authority.contains('@') {
        return Err(HttpError::InvalidUrl(format!("`{url}` has no host (or has a user, which is not supported)")));
    }
    let path = if path.is_empty() { "/" } else { path };
    Ok((scheme, authority, path))
}
