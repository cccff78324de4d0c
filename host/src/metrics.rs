//! `GET /metrics`: Prometheus text, from `prometheus-client`. Labels stay bounded: tenants and apps
//! come from the registry (a webhook for an unknown one is refused before it is counted), kinds and
//! outcomes from fixed lists; never a call id or a number.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// `tenant`, `app`, `webhook`, `outcome`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    /// Tenant.
    pub tenant: String,
    /// App.
    pub app: String,
    /// `answer`, `fallback`, `event`, `rtc`.
    pub webhook: String,
    /// `ok`, or the failure kind.
    pub outcome: String,
}

/// OpenTelemetry's HTTP server attributes: `http_request_method`, `http_route` (the route
/// pattern, never the path), `http_response_status_code`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// `GET`, `POST`, ...
    pub http_request_method: String,
    /// The matched route, e.g. `/{tenant}/{app}/answer`.
    pub http_route: String,
    /// The status answered.
    pub http_response_status_code: u16,
}

/// `tenant`, `app`, `webhook`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Webhook {
    /// Tenant.
    pub tenant: String,
    /// App.
    pub app: String,
    /// `answer`, `fallback`, `event`, `rtc`.
    pub webhook: String,
}

/// `tenant`, `app`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AppLabels {
    /// Tenant.
    pub tenant: String,
    /// App.
    pub app: String,
}

/// `tenant`, `app`, `reason`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    /// Tenant.
    pub tenant: String,
    /// App.
    pub app: String,
    /// The failure kind that made it.
    pub reason: String,
}

/// `tenant`, `kind`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantKind {
    /// Tenant.
    pub tenant: String,
    /// Which limit.
    pub kind: String,
}

/// `tenant`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabel {
    /// Tenant.
    pub tenant: String,
}

/// `result`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// `ok` or `error`.
    pub result: String,
}

/// `backend`, `op`, `result`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateOp {
    /// `embedded`, `redis`, `memory`.
    pub backend: String,
    /// `get`, `set`, `delete`, `increment`, ...
    pub op: String,
    /// `ok`, `quota-exceeded`, `unavailable`.
    pub result: String,
}

/// Labels of a plugin's outbound HTTP request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutboundLabels {
    /// Tenant.
    pub tenant: String,
    /// App.
    pub app: String,
    /// `response` (any status), or why there was none: `denied`, `prohibited`, `limit`, `timeout`,
    /// `too-large`, `error`.
    pub outcome: String,
}

/// Labels of a plugin's Voice API (call control) request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VoiceLabels {
    /// Tenant.
    pub tenant: String,
    /// App.
    pub app: String,
    /// `hangup`, `mute`, `transfer`, `talk`, `create`, `get`, ...
    pub op: String,
    /// `ok`, or why not: `not-configured`, `not-your-call`, `rate-limited`, `invalid`,
    /// `unauthorized`, `not-found`, `api`, `timeout`, `unavailable`.
    pub outcome: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn seconds() -> Histogram {
    // 100 µs to about 6.5 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

fn fast_seconds() -> Histogram {
    // 10 µs to about 0.3 s.
    Histogram::new(exponential_buckets(0.00001, 2.0, 16))
}

fn bytes() -> Histogram {
    // 64 KiB to 256 MiB.
    Histogram::new(exponential_buckets(65_536.0, 2.0, 13))
}

/// Limit kinds among failure kinds.
const LIMIT_KINDS: &[&str] = &[
    "deadline",
    "out-of-memory",
    "tenant-memory-share",
    "host-memory-budget",
    "stack-overflow",
    "ncco-too-large",
    "too-much-data",
    "overloaded",
];

/// Every metric the host keeps.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    webhooks: Family<Outcome, Counter>,
    duration: Histograms<Webhook>,
    wait: Histograms<AppLabels>,
    instantiate: Histograms<AppLabels>,
    run: Histograms<AppLabels>,
    validate: Histograms<AppLabels>,
    peak_memory: Histograms<AppLabels>,
    fallbacks: Family<Reason, Counter>,
    limits: Family<TenantKind, Counter>,
    signature_refusals: Family<TenantLabel, Counter>,
    shed: Family<TenantLabel, Counter>,
    /// Rescans of the plugin tree, by whether every app loaded.
    pub reloads: Family<ResultLabel, Counter>,
    /// Distinct compiled versions loaded.
    pub loaded_versions: Gauge,
    state: Histograms<StateOp>,
    /// Inspector records dropped because the recorder was behind.
    pub records_dropped: Counter,
    http: Histograms<HttpLabels>,
    outbound: Histograms<OutboundLabels>,
    voice: Histograms<VoiceLabels>,
}

/// One webhook's figures, for [`Metrics::webhook`].
#[derive(Debug)]
pub struct Observed<'a> {
    /// Tenant.
    pub tenant: &'a str,
    /// App.
    pub app: &'a str,
    /// Webhook kind.
    pub webhook: &'a str,
    /// `ok` or the failure kind.
    pub outcome: &'a str,
    /// The fallback NCCO was answered.
    pub fallback: bool,
    /// The webhook was shed with a 503.
    pub shed: bool,
    /// Step times, microseconds.
    pub timings: crate::inspect::Timings,
    /// True when the plugin ran (the instantiate and run times are real).
    pub ran: bool,
    /// Peak instance memory.
    pub peak_memory: Option<u64>,
}

#[allow(clippy::cast_precision_loss)] // microseconds to seconds
fn secs(us: u64) -> f64 {
    us as f64 / 1e6
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric, registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        // OpenTelemetry's `http.server.request.duration`, under its Prometheus name.
        let http: Histograms<HttpLabels> = Family::new_with_constructor(seconds);
        registry.register_with_unit(
            "http_server_request_duration",
            "HTTP requests served",
            Unit::Seconds,
            http.clone(),
        );

        let webhooks = Family::<Outcome, Counter>::default();
        registry.register("ncco_webhooks", "Webhooks answered, by outcome (ok or the failure kind)", webhooks.clone());
        let duration: Histograms<Webhook> = Family::new_with_constructor(seconds);
        registry.register_with_unit(
            "ncco_webhook_duration",
            "Webhook time from arrival to answer",
            Unit::Seconds,
            duration.clone(),
        );
        let wait: Histograms<AppLabels> = Family::new_with_constructor(fast_seconds);
        registry.register_with_unit(
            "ncco_slot_wait_duration",
            "Time waiting for an instance slot",
            Unit::Seconds,
            wait.clone(),
        );
        let instantiate: Histograms<AppLabels> = Family::new_with_constructor(fast_seconds);
        registry.register_with_unit(
            "ncco_instantiate_duration",
            "Plugin instantiation time",
            Unit::Seconds,
            instantiate.clone(),
        );
        let run: Histograms<AppLabels> = Family::new_with_constructor(fast_seconds);
        registry.register_with_unit("ncco_run_duration", "Plugin handler run time", Unit::Seconds, run.clone());
        let validate: Histograms<AppLabels> = Family::new_with_constructor(fast_seconds);
        registry.register_with_unit("ncco_validate_duration", "NCCO validation time", Unit::Seconds, validate.clone());
        let peak_memory: Histograms<AppLabels> = Family::new_with_constructor(bytes);
        registry.register_with_unit(
            "ncco_instance_peak_memory",
            "Peak linear memory of an instance",
            Unit::Bytes,
            peak_memory.clone(),
        );
        let fallbacks = Family::<Reason, Counter>::default();
        registry.register(
            "ncco_fallbacks",
            "Fallback NCCOs answered, by the failure that made them",
            fallbacks.clone(),
        );
        let limits = Family::<TenantKind, Counter>::default();
        registry.register("ncco_limits_exceeded", "Webhooks stopped by a limit, by limit", limits.clone());
        let signature_refusals = Family::<TenantLabel, Counter>::default();
        registry.register("ncco_signature_refusals", "Signed webhooks refused", signature_refusals.clone());
        let shed = Family::<TenantLabel, Counter>::default();
        registry.register("ncco_shed", "Plain events answered 503 because the tenant was at its share", shed.clone());
        let reloads = Family::<ResultLabel, Counter>::default();
        registry.register("ncco_reloads", "Rescans of the plugin tree, by result", reloads.clone());
        let loaded_versions = Gauge::default();
        registry.register("ncco_loaded_versions", "Distinct compiled plugin versions loaded", loaded_versions.clone());
        let state: Histograms<StateOp> = Family::new_with_constructor(fast_seconds);
        registry.register_with_unit(
            "ncco_state_operation_duration",
            "Plugin state operations, by backend",
            Unit::Seconds,
            state.clone(),
        );
        let records_dropped = Counter::default();
        registry.register(
            "ncco_inspector_records_dropped",
            "Inspector records dropped (recorder behind)",
            records_dropped.clone(),
        );
        let outbound: Histograms<OutboundLabels> = Family::new_with_constructor(seconds);
        registry.register_with_unit(
            "ncco_outbound_request_duration",
            "Plugins' outbound HTTP requests, by outcome",
            Unit::Seconds,
            outbound.clone(),
        );
        let voice: Histograms<VoiceLabels> = Family::new_with_constructor(seconds);
        registry.register_with_unit(
            "ncco_voice_api_request_duration",
            "Plugins' call-control requests to the Voice API, by operation and outcome",
            Unit::Seconds,
            voice.clone(),
        );
        Metrics {
            registry,
            webhooks,
            duration,
            wait,
            instantiate,
            run,
            validate,
            peak_memory,
            fallbacks,
            limits,
            signature_refusals,
            shed,
            reloads,
            loaded_versions,
            state,
            records_dropped,
            http,
            outbound,
            voice,
        }
    }

    /// Times one HTTP request.
    pub fn http(&self, method: &str, route: &str, status: u16, took: std::time::Duration) {
        // OpenTelemetry's rule: methods outside the known set are `_OTHER` (a label stays bounded).
        const KNOWN: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"];
        let method = if KNOWN.contains(&method) { method } else { "_OTHER" };
        let labels = HttpLabels {
            http_request_method: method.to_owned(),
            http_route: route.to_owned(),
            http_response_status_code: status,
        };
        self.http.get_or_create(&labels).observe(took.as_secs_f64());
    }

    /// Counts one webhook.
    pub fn webhook(&self, o: &Observed<'_>) {
        let app = AppLabels { tenant: o.tenant.to_owned(), app: o.app.to_owned() };
        self.webhooks
            .get_or_create(&Outcome {
                tenant: o.tenant.to_owned(),
                app: o.app.to_owned(),
                webhook: o.webhook.to_owned(),
                outcome: o.outcome.to_owned(),
            })
            .inc();
        self.duration
            .get_or_create(&Webhook {
                tenant: o.tenant.to_owned(),
                app: o.app.to_owned(),
                webhook: o.webhook.to_owned(),
            })
            .observe(secs(o.timings.total));
        if o.ran {
            self.wait.get_or_create(&app).observe(secs(o.timings.wait));
            self.instantiate.get_or_create(&app).observe(secs(o.timings.instantiate));
            self.run.get_or_create(&app).observe(secs(o.timings.run));
        }
        if o.outcome == "ok" || o.outcome.starts_with("invalid") || o.outcome == "ncco-too-large" {
            self.validate.get_or_create(&app).observe(secs(o.timings.validate));
        }
        #[allow(clippy::cast_precision_loss)]
        if let Some(peak) = o.peak_memory {
            self.peak_memory.get_or_create(&app).observe(peak as f64);
        }
        if o.fallback {
            self.fallbacks
                .get_or_create(&Reason {
                    tenant: o.tenant.to_owned(),
                    app: o.app.to_owned(),
                    reason: o.outcome.to_owned(),
                })
                .inc();
        }
        if LIMIT_KINDS.contains(&o.outcome) {
            self.limits.get_or_create(&TenantKind { tenant: o.tenant.to_owned(), kind: o.outcome.to_owned() }).inc();
        }
        if o.shed {
            self.shed.get_or_create(&TenantLabel { tenant: o.tenant.to_owned() }).inc();
        }
    }

    /// Counts a refused signed webhook.
    pub fn signature_refused(&self, tenant: &str) {
        self.signature_refusals.get_or_create(&TenantLabel { tenant: tenant.to_owned() }).inc();
    }

    /// Times one outbound HTTP request of a plugin.
    pub fn outbound(&self, tenant: &str, app: &str, outcome: &str, took: std::time::Duration) {
        let labels = OutboundLabels { tenant: tenant.to_owned(), app: app.to_owned(), outcome: outcome.to_owned() };
        self.outbound.get_or_create(&labels).observe(took.as_secs_f64());
    }

    /// Times one call-control request of a plugin.
    pub fn voice(&self, tenant: &str, app: &str, op: &str, outcome: &str, took: std::time::Duration) {
        let labels = VoiceLabels {
            tenant: tenant.to_owned(),
            app: app.to_owned(),
            op: op.to_owned(),
            outcome: outcome.to_owned(),
        };
        self.voice.get_or_create(&labels).observe(took.as_secs_f64());
    }

    /// Times one state operation.
    pub fn state_op(&self, backend: &str, op: &str, result: &str, took: std::time::Duration) {
        self.state
            .get_or_create(&StateOp { backend: backend.to_owned(), op: op.to_owned(), result: result.to_owned() })
            .observe(took.as_secs_f64());
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!("cannot encode the metrics: {e}");
        }
        prometheus_text(&out)
    }
}

/// The crate writes OpenMetrics; Prometheus's text format differs in three ways that its tools
/// check: a counter's `HELP` and `TYPE` name the `_total` series, and there are no `UNIT` or `EOF`
/// lines.
fn prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let meta = line
            .strip_prefix("# HELP ")
            .map(|r| ("# HELP ", r))
            .or_else(|| line.strip_prefix("# TYPE ").map(|r| ("# TYPE ", r)));
        match meta {
            Some((tag, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let name = if counters.contains(name) { format!("{name}_total") } else { name.to_owned() };
                out.push_str(&format!("{tag}{name} {tail}"));
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn unknown_methods_share_one_label() {
        let m = super::Metrics::new();
        for method in ["BREW", "WHEN", "GET"] {
            m.http(method, "/healthz", 405, std::time::Duration::from_millis(1));
        }
        let text = m.encode();
        assert!(text.contains(r#"http_request_method="_OTHER""#), "{text}");
        assert!(!text.contains("BREW") && !text.contains("WHEN"), "{text}");
    }

    #[test]
    fn counters_are_named_by_their_total_series() {
        let text = "# HELP a_b Things.\n# TYPE a_b counter\na_b_total 1\n# HELP c Time.\n# TYPE c histogram\n# UNIT c seconds\nc_count 0\n# EOF\n";
        assert_eq!(
            super::prometheus_text(text),
            "# HELP a_b_total Things.\n# TYPE a_b_total counter\na_b_total 1\n# HELP c Time.\n# TYPE c histogram\nc_count 0\n"
        );
    }
}
