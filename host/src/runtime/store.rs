//! What one sandboxed call holds (`HostState`), the locked-down linker, and the host imports a plugin
//! may call: log, config, and call- and app-scoped state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Result};
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::random::{WasiRandom, WasiRandomView};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::bindings::{self, Level};
use super::calls::Calls;
use super::limiter::Limiter;
use super::outbound::Hooks;
use super::output::CallLog;
use crate::state::{MemoryStore, Namespace, StateStore};

/// Longest state key a plugin may use.
pub const MAX_STATE_KEY_BYTES: usize = 512;
/// Largest state value a plugin may store.
pub const MAX_STATE_VALUE_BYTES: usize = 256 * 1024;

/// What a call may reach: its app's variables and state, and its log.
#[derive(Debug, Clone)]
pub struct PluginEnv {
    /// The app's variables.
    pub vars: Arc<BTreeMap<String, String>>,
    /// The state backend.
    pub state: Arc<dyn StateStore>,
    /// App-scoped namespace.
    pub app_ns: Namespace,
    /// Call-scoped namespace, when the webhook names a conversation.
    pub call_ns: Option<Namespace>,
    /// The call's log.
    pub log: CallLog,
    /// Where its host calls are noted, for the inspector and the metrics.
    pub trace: Option<HostTrace>,
    /// What it may reach over HTTP (`None`: nothing); handed to the store's outbound hooks.
    pub http: Option<super::outbound::HttpEnv>,
    /// What it may do on the Voice API (`None`, for a tenant without `[vonage]`: every request is
    /// `not-configured`).
    pub calls: Option<super::calls::CallsEnv>,
}

/// Host calls noted per webhook at most (the rest are counted, not listed).
const MAX_TRACED: usize = 64;

/// What one call asked the host for (state operations), noted for the inspector and timed for the
/// metrics.
#[derive(Debug, Clone)]
pub struct HostTrace {
    calls: Arc<std::sync::Mutex<(Vec<String>, usize)>>,
    metrics: Arc<crate::metrics::Metrics>,
    backend: &'static str,
}

impl HostTrace {
    /// A trace timing state operations on `backend` into `metrics`.
    pub fn new(metrics: Arc<crate::metrics::Metrics>, backend: &'static str) -> Self {
        HostTrace { calls: Arc::default(), metrics, backend }
    }

    fn note(&self, op: &str, scope: Scope, key: &str, result: &str, took: Duration) {
        let kind = if result.starts_with("quota") || result.starts_with("unavailable") || result.starts_with("invalid")
        {
            result.split(':').next().unwrap_or(result)
        } else {
            "ok"
        };
        self.metrics.state_op(self.backend, op, kind, took);
        let scope = match scope {
            Scope::Call => "call",
            Scope::App => "app",
        };
        let key: String = key.chars().take(80).collect();
        self.push(format!("state.{op} {scope} {key:?} -> {result} ({:.3} ms)", took.as_secs_f64() * 1e3));
    }

    /// Notes one outbound HTTP request (`line`) and times it for `tenant`'s `app`.
    pub fn outbound(&self, tenant: &str, app: &str, outcome: &str, took: Duration, line: String) {
        self.metrics.outbound(tenant, app, outcome, took);
        self.push(line);
    }

    /// Notes one call-control request (`line`) and times it for `tenant`'s `app`.
    pub fn voice(&self, tenant: &str, app: &str, op: &str, outcome: &str, took: Duration, line: String) {
        self.metrics.voice(tenant, app, op, outcome, took);
        self.push(line);
    }

    /// Notes `line` (a request of a plugin its app gives no outbound access, not timed).
    pub fn note_line(&self, line: String) {
        self.push(line);
    }

    fn push(&self, line: String) {
        if let Ok(mut calls) = self.calls.lock() {
            if calls.0.len() < MAX_TRACED {
                calls.0.push(line);
            } else {
                calls.1 += 1;
            }
        }
    }

    /// The calls noted so far (and a line for those over the cap).
    pub fn take(&self) -> Vec<String> {
        let Ok(mut calls) = self.calls.lock() else { return Vec::new() };
        let (mut list, over) = (std::mem::take(&mut calls.0), std::mem::take(&mut calls.1));
        if over > 0 {
            list.push(format!("... and {over} more"));
        }
        list
    }
}

fn outcome<T>(result: &Result<T, WitStateError>, ok: impl FnOnce(&T) -> String) -> String {
    match result {
        Ok(v) => ok(v),
        Err(WitStateError::QuotaExceeded(m)) => format!("quota-exceeded: {m}"),
        Err(WitStateError::Unavailable(m)) => format!("unavailable: {m}"),
        Err(WitStateError::Invalid(m)) => format!("invalid: {m}"),
        Err(WitStateError::NoCall) => "invalid: no call state in this webhook".into(),
    }
}

impl PluginEnv {
    /// The environment of a load-time smoke instantiation: no variables, throwaway state.
    pub fn smoke() -> Self {
        PluginEnv {
            vars: Arc::default(),
            state: Arc::new(MemoryStore::new()),
            app_ns: Namespace::App { tenant: String::new(), app: String::new() },
            call_ns: None,
            log: CallLog::new(0),
            trace: None,
            http: None,
            calls: None,
        }
    }
}

/// The data of one store: WASI (locked down), limits, deadline and the plugin's environment.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// Memory limits of this store.
    pub limiter: Limiter,
    /// Wall-clock deadline of this call.
    pub deadline: Instant,
    /// Its place in the long-call lanes.
    pub lane: super::lanes::LaneSlot,
    env: PluginEnv,
    http: WasiHttpCtx,
    hooks: Hooks,
    calls: Calls,
}

impl std::fmt::Debug for HostState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostState").field("deadline", &self.deadline).field("env", &self.env).finish_non_exhaustive()
    }
}

impl HostState {
    /// A fresh state: no environment variables, no preopened directories, no sockets; HTTP only as
    /// its app's policy allows and call control only on its tenant's application, with every
    /// request done by `http_ends_by`; stdout and stderr go to the call's log.
    pub fn new(env: PluginEnv, limiter: Limiter, deadline: Instant, http_ends_by: Instant) -> Self {
        let wasi = WasiCtxBuilder::new()
            .stdout(env.log.clone())
            .stderr(env.log.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .max_random_size(64 << 10)
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(1000);
        let mut env = env;
        let hooks = Hooks::new(env.http.take(), env.trace.clone(), http_ends_by);
        // Only a webhook that may use call control gets a handle on its notes for it.
        let calls_trace = env.calls.as_ref().and(env.trace.clone());
        let calls = Calls::new(env.calls.take(), calls_trace, http_ends_by);
        HostState {
            wasi,
            table,
            limiter,
            deadline,
            lane: super::lanes::LaneSlot::new(),
            env,
            http: WasiHttpCtx::new(),
            hooks,
            calls,
        }
    }

    /// The webhook's call control.
    pub(super) fn calls(&mut self) -> &mut Calls {
        &mut self.calls
    }

    fn write_log(&self, level: Level, message: &str) {
        let tag = match level {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        self.env.log.append(format!("[{tag}] {message}\n").as_bytes());
    }

    fn report(&self, e: &crate::state::StateError) {
        self.write_log(Level::Error, &e.to_string());
        tracing::warn!(namespace = ?self.env.app_ns, "plugin state: {e}");
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

impl bindings::vonage::ncco::types::Host for HostState {}

impl bindings::vonage::ncco::host::Host for HostState {
    async fn log(&mut self, level: Level, message: String) {
        self.write_log(level, &message);
    }

    async fn config(&mut self, name: String) -> Option<String> {
        self.env.vars.get(&name).cloned()
    }

    // The 0.1.0 state imports are the 0.1.1 ones with their failures written to the call's log
    // (0.1.0 had no way to return them): one set of rules for keys, values, TTLs and errors.
    async fn call_get(&mut self, key: String) -> Option<Vec<u8>> {
        let r = <Self as StateHost>::get(self, Scope::Call, key).await;
        self.logged(r).flatten()
    }

    async fn call_set(&mut self, key: String, value: Vec<u8>) {
        let r = <Self as StateHost>::set(self, Scope::Call, key, value, None).await;
        self.logged(r);
    }

    async fn call_delete(&mut self, key: String) {
        let r = <Self as StateHost>::delete(self, Scope::Call, key).await;
        self.logged(r);
    }

    async fn app_get(&mut self, key: String) -> Option<Vec<u8>> {
        let r = <Self as StateHost>::get(self, Scope::App, key).await;
        self.logged(r).flatten()
    }

    async fn app_set(&mut self, key: String, value: Vec<u8>, ttl_seconds: Option<u32>) {
        let r = <Self as StateHost>::set(self, Scope::App, key, value, ttl_seconds).await;
        self.logged(r);
    }

    async fn app_delete(&mut self, key: String) {
        let r = <Self as StateHost>::delete(self, Scope::App, key).await;
        self.logged(r);
    }
}

use bindings::vonage::ncco::state::{Host as StateHost, Scope, StateError as WitStateError};

impl HostState {
    /// The namespace of `scope`, or why there is none.
    fn scope_ns(&self, scope: Scope) -> Result<Namespace, WitStateError> {
        match scope {
            Scope::App => Ok(self.env.app_ns.clone()),
            Scope::Call => self.env.call_ns.clone().ok_or(WitStateError::NoCall),
        }
    }

    fn check_key(key: &str) -> Result<(), WitStateError> {
        if key.is_empty() || key.len() > MAX_STATE_KEY_BYTES {
            return Err(WitStateError::Invalid(format!(
                "a state key is 1 to {MAX_STATE_KEY_BYTES} bytes, this one is {}",
                key.len()
            )));
        }
        Ok(())
    }

    fn check_value(value: &[u8]) -> Result<(), WitStateError> {
        if value.len() > MAX_STATE_VALUE_BYTES {
            return Err(WitStateError::Invalid(format!(
                "a state value is at most {MAX_STATE_VALUE_BYTES} bytes, this one is {}",
                value.len()
            )));
        }
        Ok(())
    }

    /// The time to live of a write: call state never outlives its call.
    fn ttl(scope: Scope, ttl_seconds: Option<u32>) -> Option<Duration> {
        let asked = ttl_seconds.map(|s| Duration::from_secs(s.into()));
        match scope {
            Scope::Call => Some(asked.map_or(crate::state::MAX_CALL_STATE, |t| t.min(crate::state::MAX_CALL_STATE))),
            Scope::App => asked,
        }
    }

    /// The value of a state operation made through a 0.1.0 import, its failure written to the call's
    /// log (a backend failure already is, by [`HostState::unavailable`]).
    fn logged<T>(&self, result: Result<T, WitStateError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(WitStateError::Unavailable(_)) => None,
            Err(WitStateError::Invalid(m) | WitStateError::QuotaExceeded(m)) => {
                self.write_log(Level::Warn, &format!("state operation refused: {m}"));
                None
            }
            Err(WitStateError::NoCall) => {
                self.write_log(Level::Warn, "call state is unavailable: this webhook names no conversation");
                None
            }
        }
    }

    /// A failed operation as the plugin sees it: a quota refusal as `quota-exceeded`, a backend
    /// failure (also logged for the operator) as `unavailable`.
    fn unavailable(&self, e: &crate::state::StateError) -> WitStateError {
        if let crate::state::StateError::Quota(q) = e {
            return WitStateError::QuotaExceeded(q.to_string());
        }
        self.report(e);
        WitStateError::Unavailable(e.to_string())
    }
}

impl HostState {
    fn traced(&self, op: &str, scope: Scope, key: &str, started: Instant, result: &str) {
        if let Some(trace) = &self.env.trace {
            trace.note(op, scope, key, result, started.elapsed());
        }
    }
}

impl bindings::vonage::ncco::state::Host for HostState {
    async fn get(&mut self, scope: Scope, key: String) -> Result<Option<Vec<u8>>, WitStateError> {
        let started = Instant::now();
        let result = match self.scope_ns(scope).and_then(|ns| Self::check_key(&key).map(|()| ns)) {
            Err(e) => Err(e),
            Ok(ns) => {
                let state = Arc::clone(&self.env.state);
                let got = state.get(&ns, &key).await;
                got.map_err(|e| self.unavailable(&e))
            }
        };
        let said = outcome(&result, |v| v.as_ref().map_or("absent".into(), |v| format!("{} bytes", v.len())));
        self.traced("get", scope, &key, started, &said);
        result
    }

    async fn set(
        &mut self,
        scope: Scope,
        key: String,
        value: Vec<u8>,
        ttl_seconds: Option<u32>,
    ) -> Result<(), WitStateError> {
        let started = Instant::now();
        let size = value.len();
        let checked =
            self.scope_ns(scope).and_then(|ns| Self::check_key(&key).and(Self::check_value(&value)).map(|()| ns));
        let result = match checked {
            Err(e) => Err(e),
            Ok(ns) => {
                let state = Arc::clone(&self.env.state);
                let done = state.set(&ns, &key, value, Self::ttl(scope, ttl_seconds)).await;
                done.map_err(|e| self.unavailable(&e))
            }
        };
        self.traced("set", scope, &key, started, &outcome(&result, |()| format!("stored {size} bytes")));
        result
    }

    async fn delete(&mut self, scope: Scope, key: String) -> Result<(), WitStateError> {
        let started = Instant::now();
        let result = match self.scope_ns(scope).and_then(|ns| Self::check_key(&key).map(|()| ns)) {
            Err(e) => Err(e),
            Ok(ns) => {
                let state = Arc::clone(&self.env.state);
                let done = state.delete(&ns, &key).await;
                done.map_err(|e| self.unavailable(&e))
            }
        };
        self.traced("delete", scope, &key, started, &outcome(&result, |()| "deleted".into()));
        result
    }

    async fn increment(
        &mut self,
        scope: Scope,
        key: String,
        delta: i64,
        ttl_seconds: Option<u32>,
    ) -> Result<i64, WitStateError> {
        let started = Instant::now();
        let result = match self.scope_ns(scope).and_then(|ns| Self::check_key(&key).map(|()| ns)) {
            Err(e) => Err(e),
            Ok(ns) => {
                let state = Arc::clone(&self.env.state);
                match state.increment(&ns, &key, delta, Self::ttl(scope, ttl_seconds)).await {
                    Ok(Some(n)) => Ok(n),
                    Ok(None) => Err(WitStateError::Invalid(format!(
                        "`{key}` does not hold an integer (decimal text), or adding {delta} overflows"
                    ))),
                    Err(e) => Err(self.unavailable(&e)),
                }
            }
        };
        self.traced("increment", scope, &key, started, &outcome(&result, |n| format!("now {n}")));
        result
    }

    async fn compare_and_set(
        &mut self,
        scope: Scope,
        key: String,
        expected: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
        ttl_seconds: Option<u32>,
    ) -> Result<bool, WitStateError> {
        let started = Instant::now();
        let checked = self.scope_ns(scope).and_then(|ns| {
            Self::check_key(&key)?;
            if let Some(v) = &new {
                Self::check_value(v)?;
            }
            Ok(ns)
        });
        let result = match checked {
            Err(e) => Err(e),
            Ok(ns) => {
                let state = Arc::clone(&self.env.state);
                let done = state.compare_and_set(&ns, &key, expected, new, Self::ttl(scope, ttl_seconds)).await;
                done.map_err(|e| self.unavailable(&e))
            }
        };
        let said =
            outcome(&result, |swapped| if *swapped { "swapped".into() } else { "not swapped (value moved)".into() });
        self.traced("compare_and_set", scope, &key, started, &said);
        result
    }
}

/// The linker: the plugin world plus the WASI interfaces a Rust `wasm32-wasip2` guest needs (I/O
/// streams, clocks, random, stdio, an empty environment, exit), and `wasi:http` (outgoing-handler
/// and types), whose every request the app's policy decides. No filesystem, no sockets: a plugin
/// importing those is refused when it is loaded (and one importing `wasi:http` when its app allows
/// no host).
pub fn linker(engine: &Engine) -> Result<Linker<HostState>> {
    use wasmtime_wasi::p2::bindings::{cli, random};

    let mut l = Linker::<HostState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_proxy_interfaces_async(&mut l)?;
    cli::environment::add_to_linker::<HostState, WasiCli>(&mut l, HostState::cli)?;
    cli::exit::add_to_linker::<HostState, WasiCli>(&mut l, HostState::cli)?;
    cli::terminal_input::add_to_linker::<HostState, WasiCli>(&mut l, HostState::cli)?;
    cli::terminal_output::add_to_linker::<HostState, WasiCli>(&mut l, HostState::cli)?;
    cli::terminal_stdin::add_to_linker::<HostState, WasiCli>(&mut l, HostState::cli)?;
    cli::terminal_stdout::add_to_linker::<HostState, WasiCli>(&mut l, HostState::cli)?;
    cli::terminal_stderr::add_to_linker::<HostState, WasiCli>(&mut l, HostState::cli)?;
    random::insecure::add_to_linker::<HostState, WasiRandom>(&mut l, |t| t.random())?;
    random::insecure_seed::add_to_linker::<HostState, WasiRandom>(&mut l, |t| t.random())?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut l)?;
    bindings::Plugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut l, |s| s)?;
    Ok(l)
}
