//! Plugins' outbound HTTP (`wasi:http/outgoing-handler`, from wasmtime-wasi-http): the send hook
//! that decides every request a plugin makes, and the pooled clients that carry them.
//!
//! A request goes out only when its app's `allowed_outbound_hosts` names its URL, the webhook has
//! requests left (`max_outbound_requests`), and there is time left before the webhook's deadline;
//! otherwise the plugin gets the `wasi:http` error code saying why. The client dials only addresses
//! plugins may reach ([`dial`]), follows no redirects, and gives up at the deadline; response
//! bodies are cut at the webhook's byte budget ([`body`]). Each tenant has its own connection pool.
//! Every request is noted on its call (the inspector's host calls) and timed in the metrics.

mod body;
mod dial;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper::http::{HeaderName, Request, Response};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use wasmtime_wasi_http::{DEFAULT_FORBIDDEN_HEADERS, Error, ForbiddenHeaderFilter, RequestOptions, WasiBody};

use body::Budget;
use dial::{DialError, Dialer};

use super::store::HostTrace;
use crate::config::OutboundPolicy;
use crate::config::outbound::{Target, TargetHost};

/// How long an idle pooled connection is kept.
pub const POOL_IDLE: Duration = Duration::from_secs(30);
/// Idle connections kept per tenant and host.
pub const POOL_IDLE_PER_HOST: usize = 8;

type Pooled = Client<Bounded, WasiBody>;

/// How long a tenant's client is kept after its last request.
const CLIENT_IDLE: Duration = Duration::from_secs(600);

/// The host's outbound side: one pooled client per tenant, all dialling through the same address
/// rules.
pub struct Outbound {
    allow_private: bool,
    tls: rustls::ClientConfig,
    /// Address lookups at once, over all tenants (each blocks a thread of the blocking pool).
    lookups: Arc<tokio::sync::Semaphore>,
    clients: Mutex<Clients>,
}

#[derive(Default)]
struct Clients {
    by_tenant: HashMap<String, (Pooled, Instant)>,
    pruned: Option<Instant>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound").field("allow_private", &self.allow_private).finish_non_exhaustive()
    }
}

impl Outbound {
    /// Clients that verify servers against the Mozilla roots (webpki-roots) and dial private
    /// addresses only when `allow_private`.
    pub fn new(allow_private: bool) -> anyhow::Result<Self> {
        let tls = client_tls()?;
        let lookups = Arc::new(tokio::sync::Semaphore::new(dial::MAX_LOOKUPS));
        Ok(Outbound { allow_private, tls, lookups, clients: Mutex::default() })
    }

    /// `tenant`'s client: its connections are never used for another tenant's requests. Clients
    /// unused for [`CLIENT_IDLE`] are dropped, with their pools.
    fn client(&self, tenant: &str) -> Pooled {
        let mut clients = self.clients.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if clients.pruned.is_none_or(|t| now.duration_since(t) > Duration::from_secs(60)) {
            clients.by_tenant.retain(|_, (_, used)| now.duration_since(*used) < CLIENT_IDLE);
            clients.pruned = Some(now);
        }
        if let Some((c, used)) = clients.by_tenant.get_mut(tenant) {
            *used = now;
            return c.clone();
        }
        let dialer = Dialer::new(self.allow_private, Arc::clone(&self.lookups));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(self.tls.clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(dialer);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_max_idle_per_host(POOL_IDLE_PER_HOST)
            .build(Bounded(https));
        clients.by_tenant.insert(tenant.to_owned(), (client.clone(), now));
        client
    }
}

/// The TLS settings of the host's clients: servers verified against the Mozilla roots
/// (webpki-roots), crypto by aws-lc-rs.
pub fn client_tls() -> anyhow::Result<rustls::ClientConfig> {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The TLS connector with one limit on the whole connection set-up (lookup, TCP, TLS): hyper-util
/// finishes a connection in the background when a pooled one served the request first, outside
/// the request's own deadline.
#[derive(Clone)]
pub struct Bounded(HttpsConnector<Dialer>);

impl std::fmt::Debug for Bounded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bounded")
    }
}

impl tower::Service<hyper::Uri> for Bounded {
    type Response = <HttpsConnector<Dialer> as tower::Service<hyper::Uri>>::Response;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: hyper::Uri) -> Self::Future {
        let connecting = self.0.call(uri);
        Box::pin(async move {
            match tokio::time::timeout(dial::SETUP_TIMEOUT, connecting).await {
                Ok(done) => done,
                Err(_) => Err(Box::new(DialError::SetupTimeout) as Self::Error),
            }
        })
    }
}

/// What one webhook's plugin may reach over HTTP: its app's policy and the host's clients.
#[derive(Debug, Clone)]
pub struct HttpEnv {
    /// The host's outbound side.
    pub outbound: Arc<Outbound>,
    /// The tenant (whose pool carries the requests) and the app, for the metrics.
    pub tenant: Arc<str>,
    /// The app.
    pub app: Arc<str>,
    /// The app's allow-list and caps.
    pub policy: Arc<OutboundPolicy>,
}

impl HttpEnv {
    /// What `tenant`'s `app` may reach, or `None` when its `policy` allows no host (the store then
    /// gets no outbound state at all).
    pub fn for_app(outbound: &Arc<Outbound>, tenant: &str, app: &str, policy: &Arc<OutboundPolicy>) -> Option<Self> {
        policy.enabled().then(|| HttpEnv {
            outbound: Arc::clone(outbound),
            tenant: tenant.into(),
            app: app.into(),
            policy: Arc::clone(policy),
        })
    }
}

/// The part of a webhook's deadline kept for the plugin after its last request: outbound requests
/// end this much earlier, so a plugin whose backend is slow still answers in time.
pub fn reserve(timeout: Duration) -> Duration {
    (timeout / 10).clamp(Duration::from_millis(20), Duration::from_millis(200))
}

/// One webhook's outbound state: the `wasi:http` hooks wasmtime-wasi-http calls.
pub struct Hooks {
    env: Option<HttpEnv>,
    trace: Option<HostTrace>,
    /// When every request must be done.
    ends_by: Instant,
    made: u32,
    /// The response bytes left to the webhook (only when it may make requests).
    budget: Option<Budget>,
    /// The notes of requests sent (at most `max_outbound_requests`), so those still pending when the
    /// webhook ends are written before its record is taken (a pending request's task is dropped
    /// later, on another thread).
    sent: Vec<Arc<NoteLine>>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks").field("made", &self.made).finish_non_exhaustive()
    }
}

impl Hooks {
    /// The hooks of a webhook whose requests must end by `ends_by`; `env` is `None` for a plugin
    /// that may reach nothing.
    pub fn new(env: Option<HttpEnv>, trace: Option<HostTrace>, ends_by: Instant) -> Self {
        let budget = env.as_ref().map(|e| Budget::new(e.policy.max_response_bytes));
        Hooks { env, trace, ends_by, made: 0, budget, sent: Vec::new() }
    }

    fn note(&self, method: &str, url: String) -> Note {
        let line = Arc::new(NoteLine {
            trace: self.trace.clone(),
            labels: self.env.as_ref().map(|e| (Arc::clone(&e.tenant), Arc::clone(&e.app))),
            method: method.to_owned(),
            url,
            started: Instant::now(),
            written: AtomicBool::new(false),
        });
        Note { line, status: None }
    }

    /// Decides a request: the error it gets when it may not go out.
    fn decide(
        &mut self,
        request: &Request<WasiBody>,
    ) -> Result<(HttpEnv, Budget, Instant), (Error, &'static str, String)> {
        let (Some(env), Some(budget)) = (self.env.clone(), self.budget.clone()) else {
            return Err((Error::HttpRequestDenied, "denied", "denied: the app has no `allowed_outbound_hosts`".into()));
        };
        self.made += 1;
        if self.made > env.policy.max_requests {
            let max = env.policy.max_requests;
            return Err((
                Error::ConnectionLimitReached,
                "limit",
                format!("refused: the webhook's {max} requests (`max_outbound_requests`) are used"),
            ));
        }
        let uri = request.uri();
        // `user:password@host` would be sent as the Host header and noted on the call.
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err((Error::HttpRequestUriInvalid, "error", "refused: the URL has a user or password".into()));
        }
        let https = uri.scheme() == Some(&hyper::http::uri::Scheme::HTTPS);
        let target = uri.host().and_then(|h| Target::new(https, h, uri.port_u16()));
        let Some(target) = target else {
            return Err((Error::HttpRequestUriInvalid, "error", "refused: the URL has no host".into()));
        };
        if env.policy.allowing(&target).is_none() {
            let host = match &target.host {
                TargetHost::Name(n) => n.clone(),
                TargetHost::Ip(ip) => ip.to_string(),
            };
            return Err((
                Error::HttpRequestDenied,
                "denied",
                format!("denied: {host}:{} is not in the app's `allowed_outbound_hosts`", target.port),
            ));
        }
        let now = Instant::now();
        if self.ends_by <= now {
            return Err((Error::ConnectionTimeout, "timeout", "refused: no time left before the deadline".into()));
        }
        Ok((env, budget, now))
    }
}

/// The URL as noted on the call: scheme, host, port and path, never the query (it may carry keys)
/// or a user and password.
fn url_without_query(uri: &hyper::Uri) -> String {
    let authority = uri.authority().map_or("", hyper::http::uri::Authority::as_str);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    format!("{}://{authority}{}", uri.scheme_str().unwrap_or("http"), uri.path())
}

/// Headers a plugin may not set: hop-by-hop ones and `host` (the host sets it from the URL).
fn forbidden(name: &HeaderName) -> bool {
    DEFAULT_FORBIDDEN_HEADERS.contains(name) || matches!(name.as_str(), "te" | "trailer" | "proxy-authorization")
}

type Sent = Result<(Response<WasiBody>, Box<dyn Future<Output = Result<(), Error>> + Send>), Error>;

impl wasmtime_wasi_http::WasiHttpHooks for Hooks {
    fn forbidden_header_filter(&mut self) -> ForbiddenHeaderFilter {
        Arc::new(forbidden)
    }

    fn send_request(
        &mut self,
        request: Request<WasiBody>,
        options: Option<RequestOptions>,
        _request_done: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = Sent> + Send> {
        let mut note = self.note(request.method().as_str(), url_without_query(request.uri()));
        let (env, budget, now) = match self.decide(&request) {
            Ok(go) => go,
            Err((error, outcome, why)) => {
                note.finish(outcome, &why);
                return Box::new(async move { Err(error) });
            }
        };
        // Only requests that go out are tracked (at most `max_outbound_requests`): a refused one is
        // noted at once, and a plugin looping on refusals allocates nothing that stays.
        self.sent.push(Arc::clone(&note.line));
        let ends_by = self.ends_by;
        // The plugin's own timeouts, within what is left of the webhook.
        let left = ends_by - now;
        let options = options.unwrap_or_default();
        // The plugin's own wait for the response head (its connect and first-byte timeouts), else
        // all that is left.
        let first_byte = match (options.connect_timeout, options.first_byte_timeout) {
            (None, None) => left,
            (connect, first) => connect.unwrap_or(Duration::ZERO).saturating_add(first.unwrap_or(left)).min(left),
        };
        let between = options.between_bytes_timeout.unwrap_or(left).min(left);
        let bodiless = request.method() == hyper::Method::HEAD;
        let client = env.outbound.client(&env.tenant);
        Box::new(async move {
            let sent = tokio::time::timeout(first_byte, client.request(request)).await;
            let response = match sent {
                Err(_) => {
                    note.finish("timeout", &format!("timed out after {} ms", first_byte.as_millis()));
                    return Err(Error::HttpResponseTimeout);
                }
                Ok(Err(e)) => {
                    let (error, outcome) = classify(&e);
                    note.finish(outcome, &format!("failed: {}", describe(&e)));
                    return Err(error);
                }
                Ok(Ok(response)) => response,
            };
            note.status = Some(response.status().as_u16());
            let length = response
                .headers()
                .get(hyper::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let no_body = bodiless || matches!(response.status().as_u16(), 204 | 304);
            if !no_body && length.is_some_and(|n| n > budget.left()) {
                let cap = budget.cap;
                note.finish(
                    "too-large",
                    &format!(
                        "{}, refused: {} bytes is over the webhook's {cap}-byte cap",
                        response.status().as_u16(),
                        length.unwrap_or(0)
                    ),
                );
                return Err(Error::HttpResponseBodySize(Some(cap)));
            }
            let response =
                response.map(|incoming| body::Capped::new(incoming, budget, ends_by, between, note).boxed_unsync());
            let done: Box<dyn Future<Output = Result<(), Error>> + Send> = Box::new(async { Ok(()) });
            Ok((response, done))
        })
    }
}

/// The `wasi:http` error code of a client failure, and its metric outcome.
fn classify(e: &hyper_util::client::legacy::Error) -> (Error, &'static str) {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(dial) = s.downcast_ref::<DialError>() {
            return match dial {
                DialError::Prohibited(_) => (Error::DestinationIpProhibited, "prohibited"),
                DialError::Dns(..) => {
                    (Error::DnsError { rcode: Some("address lookup failed".into()), info_code: None }, "error")
                }
                DialError::NotFound(_) | DialError::NoHost => (Error::DestinationNotFound, "error"),
                DialError::Timeout(_) | DialError::SetupTimeout => (Error::ConnectionTimeout, "timeout"),
                DialError::Io(_, io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                    (Error::ConnectionRefused, "error")
                }
                DialError::Io(..) => (Error::DestinationUnavailable, "error"),
            };
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return match tls {
                rustls::Error::InvalidCertificate(_) => (Error::TlsCertificateError, "error"),
                rustls::Error::AlertReceived(_) => {
                    (Error::TlsAlertReceived { alert_id: None, alert_message: Some(tls.to_string()) }, "error")
                }
                _ => (Error::TlsProtocolError, "error"),
            };
        }
        if let Some(h) = s.downcast_ref::<hyper::Error>() {
            return if h.is_timeout() {
                (Error::HttpResponseTimeout, "timeout")
            } else if h.is_incomplete_message() || h.is_canceled() {
                (Error::HttpResponseIncomplete, "error")
            } else {
                (Error::HttpProtocolError, "error")
            };
        }
        source = s.source();
    }
    (Error::HttpProtocolError, "error")
}

/// A client failure in one line, its causes joined.
pub(crate) fn describe(e: &hyper_util::client::legacy::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// One request as noted on its call and in the metrics; written once, when the request ends
/// (refused, failed, or its body done or dropped), or as abandoned if the plugin dropped it or its
/// webhook ended first.
pub struct Note {
    line: Arc<NoteLine>,
    /// The response status, once there is one.
    pub status: Option<u16>,
}

/// What a [`Note`] writes, shared with the webhook's [`Hooks`].
struct NoteLine {
    trace: Option<HostTrace>,
    labels: Option<(Arc<str>, Arc<str>)>,
    method: String,
    url: String,
    started: Instant,
    written: AtomicBool,
}

impl std::fmt::Debug for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Note").field("method", &self.line.method).field("url", &self.line.url).finish_non_exhaustive()
    }
}

impl NoteLine {
    /// Writes `http GET https://crm.example.com/callers/1 -> 200, 45 bytes (12.3 ms)`, once.
    fn write(&self, outcome: &str, detail: &str) {
        if self.written.swap(true, Ordering::AcqRel) {
            return;
        }
        let took = self.started.elapsed();
        let Some(trace) = &self.trace else { return };
        let line = format!("http {} {} -> {detail} ({:.1} ms)", self.method, self.url, took.as_secs_f64() * 1e3);
        match &self.labels {
            Some((tenant, app)) => trace.outbound(tenant, app, outcome, took, line),
            None => trace.note_line(line),
        }
    }
}

impl Note {
    /// Writes the note (only the first call does).
    pub fn finish(&mut self, outcome: &str, detail: &str) {
        self.line.write(outcome, detail);
    }
}

const ABANDONED: &str = "abandoned before the response (the plugin dropped the request, or its webhook ended)";

impl Drop for Note {
    fn drop(&mut self) {
        self.line.write("error", ABANDONED);
    }
}

impl Drop for Hooks {
    fn drop(&mut self) {
        for line in &self.sent {
            line.write("error", ABANDONED);
        }
    }
}

/// A body that is `bytes`, for tests of the hooks.
#[cfg(test)]
fn body(bytes: &'static [u8]) -> WasiBody {
    http_body_util::Full::new(bytes::Bytes::from_static(bytes)).map_err(|e| match e {}).boxed_unsync()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime_wasi_http::WasiHttpHooks;

    fn env(allowed: &[&str], max_requests: u32, allow_private: bool) -> HttpEnv {
        let allowed = allowed.iter().map(|a| crate::config::AllowedHost::parse(a).expect("entry")).collect();
        HttpEnv {
            outbound: Arc::new(Outbound::new(allow_private).expect("outbound")),
            tenant: "acme".into(),
            app: "crm".into(),
            policy: Arc::new(OutboundPolicy { allowed, max_requests, ..OutboundPolicy::default() }),
        }
    }

    async fn send(hooks: &mut Hooks, url: &str) -> Result<u16, Error> {
        let request = Request::get(url).body(body(b"")).expect("request");
        let sent = Box::into_pin(hooks.send_request(request, None, Box::new(async { Ok(()) }))).await;
        sent.map(|(r, _)| r.status().as_u16())
    }

    #[tokio::test]
    async fn refusals_get_their_error_codes() {
        let later = Instant::now() + Duration::from_secs(5);
        let mut none = Hooks::new(None, None, later);
        assert!(matches!(send(&mut none, "http://example.com/").await, Err(Error::HttpRequestDenied)));

        let mut hooks = Hooks::new(Some(env(&["http://127.0.0.1:9", "http://localhost:9"], 3, false)), None, later);
        assert!(matches!(send(&mut hooks, "http://example.com/").await, Err(Error::HttpRequestDenied)));
        assert!(matches!(send(&mut hooks, "http://127.0.0.1:9/").await, Err(Error::DestinationIpProhibited)));
        assert!(matches!(send(&mut hooks, "http://localhost:9/").await, Err(Error::DestinationIpProhibited)));
        assert!(matches!(send(&mut hooks, "http://127.0.0.1:9/").await, Err(Error::ConnectionLimitReached)));

        // A user and password in the URL would be sent as the Host header and noted on the call.
        let mut hooks = Hooks::new(Some(env(&["http://127.0.0.1:9"], 3, true)), None, later);
        assert!(matches!(send(&mut hooks, "http://user:pw@127.0.0.1:9/").await, Err(Error::HttpRequestUriInvalid)));

        let mut late = Hooks::new(Some(env(&["http://127.0.0.1:9"], 3, true)), None, Instant::now());
        assert!(matches!(send(&mut late, "http://127.0.0.1:9/").await, Err(Error::ConnectionTimeout)));
    }

    #[test]
    fn hop_by_hop_headers_and_host_are_forbidden() {
        for name in ["host", "connection", "keep-alive", "transfer-encoding", "upgrade", "te", "trailer"] {
            assert!(forbidden(&HeaderName::from_static(name)), "{name}");
        }
        for name in ["authorization", "content-type", "accept", "x-api-key"] {
            assert!(!forbidden(&HeaderName::from_static(name)), "{name}");
        }
    }

    #[test]
    fn the_noted_url_has_no_query() {
        let uri: hyper::Uri = "https://crm.example.com:8443/callers/447700900000?key=secret".parse().expect("uri");
        assert_eq!(url_without_query(&uri), "https://crm.example.com:8443/callers/447700900000");
        let uri: hyper::Uri = "https://me:pw@crm.example.com/x".parse().expect("uri");
        assert_eq!(url_without_query(&uri), "https://crm.example.com/x");
    }
}
