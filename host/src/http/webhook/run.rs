//! Running a webhook's plugin: the app's in-flight cap, the fair scheduler's admission, the plugin's
//! environment (state, logs, outbound HTTP, call control), one run, and the NCCO's validation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ncco_sdk::ncco::Validator;

use super::request::Parsed;
use super::{AppState, Trail, micros};
use crate::registry::{App, Tenant};
use crate::runtime::calls;
use crate::runtime::{Ask, Context, GuestFailure, PluginEnv, Refusal, RunSpec, Version, held};
use crate::state::Namespace;

/// One webhook's claim on the runtime.
pub(super) struct Job<'a> {
    pub(super) tenant: &'a Tenant,
    pub(super) app: &'a App,
    pub(super) version: Option<Arc<Version>>,
    pub(super) deadline: Instant,
    pub(super) priority: bool,
    /// The answer request's `region_url` (for a tenant with call control): where call control on
    /// this call goes.
    pub(super) region_url: Option<String>,
}

/// One webhook counted in its app's in-flight webhooks while it lives.
struct InFlight(Arc<std::sync::atomic::AtomicUsize>);

impl InFlight {
    /// Counts one more, or `None` when the app is at `cap`.
    fn enter(count: &Arc<std::sync::atomic::AtomicUsize>, cap: Option<usize>) -> Option<InFlight> {
        use std::sync::atomic::Ordering;
        let entered = count.fetch_add(1, Ordering::AcqRel);
        if cap.is_some_and(|cap| entered >= cap) {
            count.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(InFlight(Arc::clone(count)))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Remembers, for a tenant with call control, the calls this webhook names (its own, with the
/// answer's `region_url`, and the legs of a Conversation API event), so later webhooks of the app
/// may control them; written off the webhook's path, whether or not the plugin then runs.
pub(super) fn remember_calls(
    shared: &AppState,
    tenant: &Tenant,
    app: &str,
    call_uuid: Option<&str>,
    region_url: Option<&str>,
    parsed: &Parsed,
) {
    if tenant.vonage.is_none() {
        return;
    }
    let own = call_uuid.map(|u| (u.to_owned(), region_url.map(str::to_owned)));
    let named: Vec<(String, Option<String>)> =
        own.into_iter().chain(parsed.legs().into_iter().map(|l| (l, None))).collect();
    shared.registry.runtime().voice().remember(&shared.state, &tenant.name, app, named);
}

/// What the webhook's plugin may do on the Voice API: nothing for a tenant without `[vonage]`.
fn call_control(
    shared: &AppState,
    tenant: &Tenant,
    app: &App,
    ctx: &Context,
    region_url: Option<String>,
) -> Option<calls::CallsEnv> {
    let key = tenant.vonage.as_ref()?;
    Some(calls::CallsEnv {
        api: Arc::clone(shared.registry.runtime().voice()),
        key: Arc::clone(key),
        state: Arc::clone(&shared.state),
        tenant: tenant.name.clone(),
        app: app.name.clone(),
        app_url: ctx.app_url.clone(),
        current: ctx.call_uuid.clone(),
        region_url,
        max_ncco_bytes: app.config.limits.max_ncco_bytes,
        shared_rates: shared.state_backend == "redis",
    })
}

/// How long before its deadline a webhook must start: a call admitted later would only be cut off.
fn start_margin(timeout: Duration) -> Duration {
    (timeout / 4).min(Duration::from_millis(100))
}

/// Runs the plugin once, when the fair scheduler admits it in time; the outcome is the plugin's NCCO
/// (or none), or why there is none (the caller answers with the fallback).
pub(super) async fn run(
    shared: &AppState,
    job: Job<'_>,
    ctx: Context,
    payload: &str,
    conversation: Option<&str>,
    trail: &mut Trail,
) -> Result<Option<String>, GuestFailure> {
    let Job { tenant, app, version, deadline, priority, region_url } = job;
    let Some(version) = version else {
        let why = app.last_error.clone().unwrap_or_else(|| "never loaded".into());
        return Err(GuestFailure::NotLoaded(why));
    };
    let start_by = deadline - start_margin(app.config.limits.timeout);
    let _inflight = match InFlight::enter(&app.inflight, app.config.max_concurrent) {
        Some(guard) => guard,
        None => {
            let full = Refusal::AppFull(app.config.max_concurrent.unwrap_or_default());
            return Err(GuestFailure::Overloaded(held(full, start_by).await.to_string()));
        }
    };
    let runtime = shared.registry.runtime();
    let shares = shared.config.shares(&tenant.config.ceilings());
    let ask = Ask { tenant_running: shares.max_running, tenant_queued: shares.max_queued, start_by, priority };
    let waiting = Instant::now();
    let admitted = runtime.scheduler().admit(&tenant.name, ask).await;
    trail.timings.wait = micros(waiting.elapsed());
    let _slot = admitted.map_err(|r| GuestFailure::Overloaded(r.to_string()))?;
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
        trace: Some(crate::runtime::HostTrace::new(Arc::clone(&shared.metrics), shared.state_backend)),
        http: crate::runtime::outbound::HttpEnv::for_app(
            runtime.outbound(),
            &tenant.name,
            &app.name,
            &app.config.outbound,
        ),
        calls: call_control(shared, tenant, app, &ctx, region_url),
    };
    let trace = env.trace.clone();
    let call_uuid = ctx.call_uuid.clone();
    let spec = RunSpec {
        env,
        limits: &app.config.limits,
        tenant_budget: runtime.tenant_budget(&tenant.name, shares.memory_bytes),
        deadline,
    };
    let (result, log, stats) = runtime.call(&version, spec, ctx, payload).await;
    let (text, dropped) = log.take();
    trail.ran = true;
    trail.timings.instantiate = micros(stats.instantiate);
    trail.timings.run = micros(stats.run);
    trail.peak_memory = Some(stats.peak_memory);
    trail.host_calls = trace.map(|t| t.take()).unwrap_or_default();
    trail.log_dropped = dropped;
    if !text.is_empty() || dropped > 0 {
        tracing::info!(
            tenant = %tenant.name,
            app = %app.name,
            version = %version.hash,
            call_uuid = %call_uuid.as_deref().unwrap_or("-"),
            dropped_bytes = dropped,
            // One quoted field, control characters escaped: caller-controlled text a plugin logs
            // can never forge a host log line.
            log = ?text.trim_end(),
            "plugin log"
        );
    }
    trail.logs = text;
    result
}

/// A plugin's NCCO that passed the model.
pub(super) struct Valid {
    /// The canonical JSON Vonage gets.
    pub(super) json: String,
    /// The model's warnings (lenient forms, unknown keys).
    pub(super) warnings: Vec<String>,
    /// The texts of its talk actions, for the inspector (empty when it records nothing).
    pub(super) heard: Vec<String>,
}

/// Checks the plugin's NCCO: size cap, then the model; its talk texts are kept when `recording`.
pub(super) fn validate(json: &str, max_bytes: u64, recording: bool) -> Result<Valid, GuestFailure> {
    if json.len() as u64 > max_bytes {
        return Err(GuestFailure::NccoTooLarge(json.len(), max_bytes));
    }
    let validator = Validator { max_bytes: usize::try_from(max_bytes).unwrap_or(usize::MAX), ..Validator::default() };
    let checked = validator.check_str(json);
    // Valid with nothing read leniently: the plugin's own JSON is already Vonage's, so it goes out
    // as it came (serializing the typed NCCO again cost a third of validating it).
    let as_written = checked.report.warnings.is_empty();
    let warnings: Vec<String> = checked.report.warnings.iter().map(ToString::to_string).collect();
    let ncco = checked.into_result().map_err(|report| GuestFailure::InvalidNcco(report.to_string()))?;
    let heard = ncco
        .actions()
        .iter()
        .filter(|_| recording)
        .filter_map(|a| match a {
            ncco_sdk::ncco::Action::Talk(talk) => Some(talk.text.clone()),
            _ => None,
        })
        .collect();
    let json = if as_written { json.to_owned() } else { ncco.to_json() };
    Ok(Valid { json, warnings, heard })
}
