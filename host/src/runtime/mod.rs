//! The sandbox: one wasmtime `Engine` (pooling allocator, epoch interruption), the locked-down linker,
//! compiling plugins into versions, and running one webhook in a fresh, limited store.
//!
//! Knows nothing of HTTP.

pub mod bindings;
mod cache;
pub mod calls;
mod engines;
mod lanes;
mod limiter;
mod loading;
pub mod outbound;
mod output;
mod scheduler;
mod store;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use std::collections::HashMap;
use std::sync::Mutex;

use arc_swap::ArcSwap;
use tokio::sync::Semaphore;
use wasmtime::component::Linker;
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

pub use bindings::{Claims, Context, Webhook};
pub use lanes::{LONG_CALL, Lanes};
pub use limiter::{Exhausted, MemoryBudget};
pub use output::CallLog;
pub use scheduler::{Ask, Refusal, Scheduler, Slot, TenantLoad, held};
pub use store::{HostState, HostTrace, PluginEnv};

use crate::config::Limits;
use bindings::{Plugin, PluginPre};
use cache::ArtifactCache;
use engines::{engine_config, optimizer_engine, spawn_epoch_ticker};
use limiter::Limiter;

/// How often the epoch ticker thread advances the engine's epoch.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);
/// Extra time after the deadline before a call blocked in a host import is abandoned (the fallback
/// still goes out within deadline + 250 ms).
pub const HOST_CALL_GRACE: Duration = Duration::from_millis(100);
/// Instance slots kept beyond the scheduler's for load-time smoke instantiations.
pub const LOAD_SLOTS: usize = 8;
/// Largest data one call may pass into host imports.
pub const HOSTCALL_FUEL: usize = 2 << 20;
/// Interfaces a plugin may import; anything else is refused at load time.
pub const ALLOWED_IMPORTS: &[&str] =
    &["wasi:io/", "wasi:cli/", "wasi:clocks/", "wasi:random/", "wasi:http/", "vonage:ncco/"];
/// The imports that make HTTP requests: only for apps whose `allowed_outbound_hosts` names a host.
pub const HTTP_IMPORTS: &str = "wasi:http/";

/// Why a plugin call produced no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuestFailure {
    /// The plugin returned an error.
    #[error("plugin error: {0}")]
    Error(String),
    /// The plugin trapped (panic, unreachable, ...).
    #[error("trap: {0}")]
    Trap(String),
    /// The wall-clock deadline passed.
    #[error("deadline of {0} ms exceeded")]
    Deadline(u128),
    /// The webhook could not start in time: the host or the tenant is at its share.
    #[error("not run: {0}")]
    Overloaded(String),
    /// The plugin wanted more memory than its app's cap.
    #[error("out of memory: {0}")]
    OutOfMemory(String),
    /// The tenant's other running calls hold its whole share of the host's memory.
    #[error("tenant memory share exhausted: {0}")]
    TenantMemory(String),
    /// Every tenant's running calls together hold the host's whole memory budget.
    #[error("host memory budget exhausted: {0}")]
    HostMemory(String),
    /// The plugin overflowed its stack.
    #[error("stack overflow")]
    StackOverflow,
    /// The plugin's NCCO is not valid.
    #[error("invalid NCCO: {0}")]
    InvalidNcco(String),
    /// The plugin's NCCO is larger than allowed.
    #[error("NCCO of {0} bytes is larger than the {1}-byte cap")]
    NccoTooLarge(usize, u64),
    /// The plugin passed more data to the host in one call than allowed.
    #[error("more than {0} bytes passed to the host in one call")]
    TooMuchData(usize),
    /// The app has no loadable version.
    #[error("no loadable plugin version: {0}")]
    NotLoaded(String),
}

impl GuestFailure {
    /// A short machine-friendly name of the failure kind, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            GuestFailure::Error(_) => "error",
            GuestFailure::Trap(_) => "trap",
            GuestFailure::Deadline(_) => "deadline",
            GuestFailure::Overloaded(_) => "overloaded",
            GuestFailure::OutOfMemory(_) => "out-of-memory",
            GuestFailure::TenantMemory(_) => "tenant-memory-share",
            GuestFailure::HostMemory(_) => "host-memory-budget",
            GuestFailure::StackOverflow => "stack-overflow",
            GuestFailure::InvalidNcco(_) => "invalid-ncco",
            GuestFailure::NccoTooLarge(..) => "ncco-too-large",
            GuestFailure::TooMuchData(_) => "too-much-data",
            GuestFailure::NotLoaded(_) => "not-loaded",
        }
    }
}

/// One compiled, linked plugin version.
pub struct Version {
    /// SHA-256 of the `.wasm`, hex.
    pub hash: String,
    /// When it was loaded.
    pub loaded_at: SystemTime,
    /// Compile (or artifact load) time.
    pub compile_time: Duration,
    /// True when the compiled artifact came from the on-disk cache.
    pub from_cache: bool,
    /// True when it imports `wasi:http` (it may run only for apps that allow outbound hosts).
    pub imports_http: bool,
    /// The code it runs: Winch's at first after a fresh compile, then Cranelift's.
    code: ArcSwap<Code>,
}

/// Which compiler built the code a version runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compiler {
    /// Wasmtime's baseline compiler: a third of Cranelift's compile time, slower code. A freshly
    /// compiled version is served with it until Cranelift's code is ready.
    Winch,
    /// Wasmtime's optimizing compiler.
    Cranelift,
}

impl Compiler {
    /// Its name, for `/_admin/apps` and the logs.
    pub fn name(self) -> &'static str {
        match self {
            Compiler::Winch => "winch",
            Compiler::Cranelift => "cranelift",
        }
    }
}

/// One version's linked code, on the engine that compiled it.
struct Code {
    pre: PluginPre<HostState>,
    compiler: Compiler,
}

impl Version {
    /// Which compiler built the code it runs now.
    pub fn compiler(&self) -> Compiler {
        self.code.load().compiler
    }

    /// Whether this version may serve an app with `config`: one importing `wasi:http` only where
    /// the app allows an outbound host.
    pub fn may_serve(&self, config: &crate::config::AppConfig) -> bool {
        !self.imports_http || config.outbound.enabled()
    }
}

impl std::fmt::Debug for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Version")
            .field("hash", &self.hash)
            .field("compile_time", &self.compile_time)
            .field("compiler", &self.compiler())
            .finish()
    }
}

/// The engine, the linker and the shared limits of every sandbox.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    /// Winch's engine and linker, for serving a fresh compile at once, made at the first fresh
    /// compile (a restart with every artifact cached never makes it: it holds memory); `None`
    /// where Winch cannot run with this configuration.
    quick: std::sync::OnceLock<Option<(Engine, Linker<HostState>)>>,
    /// Instance slots of each engine's pool.
    instances: u32,
    /// The engines whose epoch the ticker thread advances (the serving one first).
    ticked: Arc<Mutex<Vec<wasmtime::EngineWeak>>>,
    /// Cranelift on one thread, for compiling versions Winch serves meanwhile, so a serving core
    /// and a fresh compile's Winch pass keep the other (`None`: the serving engine compiles them).
    optimizer: Option<Engine>,
    /// One Cranelift compile behind Winch-served versions at a time.
    optimize_gate: Semaphore,
    budget: MemoryBudget,
    tenant_budgets: Mutex<HashMap<String, MemoryBudget>>,
    scheduler: Scheduler,
    lanes: Lanes,
    compile_gate: Semaphore,
    /// Loads waiting for or holding `compile_gate`: the background compiler starts only at zero.
    loading: tokio::sync::watch::Sender<usize>,
    cache: ArtifactCache,
    /// Versions handed out, by hash: the artifacts they were built from stay in the cache.
    loaded: Mutex<HashMap<String, std::sync::Weak<Version>>>,
    /// Each tenant's fresh compiles in the last minute.
    compiles: Mutex<HashMap<String, std::collections::VecDeque<Instant>>>,
    outbound: Arc<outbound::Outbound>,
    voice: Arc<calls::VoiceApi>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("budget_used", &self.budget.used()).finish()
    }
}

/// Fresh compiles (not from the artifact cache) one tenant may cause per minute.
pub const COMPILES_PER_MINUTE: usize = 10;

/// Why a plugin did not load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// These bytes cannot be a version (do not compile, link or instantiate): not tried again.
    #[error("{0}")]
    Refused(String),
    /// Not now (the tenant's compile rate): tried again at a later rescan.
    #[error("{0}")]
    Deferred(String),
}

impl From<String> for LoadError {
    fn from(e: String) -> Self {
        LoadError::Refused(e)
    }
}

/// How the runtime is sized.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Instances running at once.
    pub slots: usize,
    /// Webhooks waiting for a slot at once, over all tenants.
    pub max_queued: usize,
    /// Memory all running instances may hold together, bytes.
    pub memory_budget: u64,
    /// Where compiled artifacts are cached.
    pub data_dir: std::path::PathBuf,
    /// Most bytes of cached artifacts.
    pub artifact_cache_bytes: u64,
    /// Plugins' HTTP requests may reach private, loopback and link-local addresses.
    pub allow_private_networks: bool,
    /// Where plugins' call-control requests go (`None`: Vonage's API).
    pub vonage_api_url: Option<String>,
}

impl Runtime {
    /// Builds the engine (pooling allocator sized for the scheduler's slots), starts its epoch ticker
    /// thread, and links the allowed imports.
    pub fn new(rc: &RuntimeConfig) -> anyhow::Result<Self> {
        let data_dir: &Path = &rc.data_dir;
        let instances = u32::try_from(rc.slots.max(1) + LOAD_SLOTS).unwrap_or(u32::MAX);
        let engine = Engine::new(&engine_config(instances, instances.min(100))?)?;
        let optimizer = optimizer_engine(&engine);
        let ticked = Arc::new(Mutex::new(vec![engine.weak()]));
        spawn_epoch_ticker(Arc::clone(&ticked));
        let linker = store::linker(&engine)?;
        let cache = ArtifactCache::new(&engine, data_dir, rc.artifact_cache_bytes);
        Ok(Runtime {
            engine,
            linker,
            quick: std::sync::OnceLock::new(),
            instances,
            ticked,
            optimizer,
            optimize_gate: Semaphore::new(1),
            budget: MemoryBudget::new(rc.memory_budget),
            tenant_budgets: Mutex::default(),
            scheduler: Scheduler::new(rc.slots, rc.max_queued),
            lanes: Lanes::for_this_machine(),
            compile_gate: Semaphore::new(1),
            loading: tokio::sync::watch::Sender::new(0),
            cache,
            loaded: Mutex::default(),
            compiles: Mutex::default(),
            outbound: Arc::new(outbound::Outbound::new(rc.allow_private_networks)?),
            voice: Arc::new(calls::VoiceApi::new(rc.vonage_api_url.as_deref(), outbound::client_tls()?)),
        })
    }

    /// The Voice API plugins' call-control requests go to.
    pub fn voice(&self) -> &Arc<calls::VoiceApi> {
        &self.voice
    }

    /// The clients plugins' HTTP requests go out through.
    pub fn outbound(&self) -> &Arc<outbound::Outbound> {
        &self.outbound
    }

    /// Memory charged to running instances right now.
    pub fn memory_in_use(&self) -> u64 {
        self.budget.used()
    }

    /// The host's memory budget, bytes.
    pub fn memory_budget(&self) -> u64 {
        self.budget.cap()
    }

    /// The fair scheduler of instances.
    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    /// The memory share of `tenant` (`cap` bytes of the host budget); a changed cap takes effect for
    /// calls that start after the change.
    pub fn tenant_budget(&self, tenant: &str, cap: u64) -> MemoryBudget {
        let mut budgets = self.tenant_budgets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match budgets.get(tenant) {
            Some(b) if b.cap() == cap => b.clone(),
            _ => {
                // In-flight calls keep refunding the budget they charged.
                let b = MemoryBudget::new(cap);
                budgets.insert(tenant.to_owned(), b.clone());
                b
            }
        }
    }

    /// Memory the running calls of `tenant` hold, bytes.
    pub fn tenant_memory_in_use(&self, tenant: &str) -> u64 {
        let budgets = self.tenant_budgets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        budgets.get(tenant).map_or(0, MemoryBudget::used)
    }

    fn store(
        &self,
        engine: &Engine,
        env: PluginEnv,
        limits: &Limits,
        tenant: MemoryBudget,
        deadline: Instant,
    ) -> Store<HostState> {
        let limiter = Limiter::new(tenant, self.budget.clone(), limits.memory_bytes);
        let http_ends_by = deadline.checked_sub(outbound::reserve(limits.timeout)).unwrap_or(deadline);
        let mut store = Store::new(engine, HostState::new(env, limiter, deadline, http_ends_by));
        store.limiter(|s| &mut s.limiter);
        store.set_hostcall_fuel(HOSTCALL_FUEL);
        store.set_epoch_deadline(1);
        let lanes = self.lanes.clone();
        store.epoch_deadline_callback(move |cx| {
            let data = cx.data();
            Ok(if Instant::now() >= data.deadline {
                UpdateDeadline::Interrupt
            } else if data.lane.is_long() {
                // A long-running call shares the long-call lanes (a CPU share), one tick at a time.
                UpdateDeadline::YieldCustom(1, data.lane.next_turn(&lanes))
            } else {
                UpdateDeadline::YieldCustom(1, Box::pin(tokio::task::yield_now()))
            })
        });
        store
    }

    /// Runs one webhook: a fresh store and instance of `version`, one call, then the store is dropped.
    /// `deadline` is measured from the webhook's arrival; memory is charged to `tenant` and the host.
    pub async fn call(
        &self,
        version: &Version,
        run: RunSpec<'_>,
        ctx: Context,
        payload: &str,
    ) -> (Result<Option<String>, GuestFailure>, CallLog, CallStats) {
        let RunSpec { env, limits, tenant_budget, deadline } = run;
        let log = env.log.clone();
        // The code is taken once: a switch to Cranelift's code during the call applies to the next.
        let code = version.code.load_full();
        let mut store = self.store(code.pre.engine(), env, limits, tenant_budget, deadline);
        let answer = ctx.webhook == Webhook::Answer || ctx.webhook == Webhook::Fallback;
        let started = Instant::now();
        let mut instantiated = None;
        let run = async {
            let plugin: Plugin = code.pre.instantiate_async(&mut store).await?;
            instantiated = Some(Instant::now());
            if answer {
                plugin.call_answer(&mut store, &ctx, payload).await.map(|r| r.map(Some))
            } else {
                plugin.call_event(&mut store, &ctx, payload).await
            }
        };
        let outcome = tokio::time::timeout_at((deadline + HOST_CALL_GRACE).into(), run).await;
        let ended = Instant::now();
        let stats = CallStats {
            instantiate: instantiated.unwrap_or(ended).duration_since(started),
            run: instantiated.map(|i| ended.duration_since(i)).unwrap_or_default(),
            peak_memory: store.data().limiter.charged(),
        };
        let limiter = &store.data().limiter;
        let result = match outcome {
            Err(_) => Err(GuestFailure::Deadline(limits.timeout.as_millis())),
            Ok(Ok(Ok(ncco))) => Ok(ncco),
            Ok(Ok(Err(message))) => Err(GuestFailure::Error(message)),
            Ok(Err(e)) => Err(classify_trap(&e, limiter, limits)),
        };
        (result, log, stats)
    }
}

/// How one run went, for the inspector and the metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallStats {
    /// Instantiating the plugin.
    pub instantiate: Duration,
    /// Running its handler.
    pub run: Duration,
    /// The instance's memory at its peak, bytes.
    pub peak_memory: u64,
}

/// What one run gets besides the webhook: its environment, limits, memory share and deadline.
#[derive(Debug)]
pub struct RunSpec<'a> {
    /// What the plugin may reach.
    pub env: PluginEnv,
    /// The app's limits.
    pub limits: &'a Limits,
    /// The tenant's memory share.
    pub tenant_budget: MemoryBudget,
    /// The webhook's deadline, from its arrival.
    pub deadline: Instant,
}

/// How many identical innermost frames make an out-of-bounds access a stack overflow.
const RECURSION_FRAMES: usize = 16;

/// True when an out-of-bounds memory access happened deep in a recursion: the plugin ran out of its
/// shadow stack (Rust puts the stack first in linear memory, so overrunning it leaves the memory).
fn shadow_stack_overflow(e: &wasmtime::Error) -> bool {
    e.downcast_ref::<wasmtime::WasmBacktrace>().is_some_and(|bt| {
        let frames = bt.frames();
        frames.len() >= RECURSION_FRAMES
            && frames[..RECURSION_FRAMES].iter().all(|f| f.func_index() == frames[0].func_index())
    })
}

fn classify_trap(e: &wasmtime::Error, limiter: &Limiter, limits: &Limits) -> GuestFailure {
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => GuestFailure::Deadline(limits.timeout.as_millis()),
        Some(Trap::StackOverflow) => GuestFailure::StackOverflow,
        Some(Trap::MemoryOutOfBounds) if shadow_stack_overflow(e) => GuestFailure::StackOverflow,
        _ if limiter.exhausted == Some(Exhausted::Instance) => {
            GuestFailure::OutOfMemory(format!("the app's {} MiB limit was reached ({e})", limits.memory_bytes >> 20))
        }
        _ if limiter.exhausted == Some(Exhausted::TenantShare) => GuestFailure::TenantMemory(format!(
            "the tenant's other running calls hold its {} MiB share of the host's memory ({e})",
            limiter.tenant_cap() >> 20
        )),
        _ if limiter.exhausted == Some(Exhausted::Host) => GuestFailure::HostMemory(format!(
            "running calls hold the host's whole {} MiB budget ({e})",
            limiter.host_cap() >> 20
        )),
        _ if format!("{e:#}").contains("fuel allocated for hostcalls has been exhausted") => {
            GuestFailure::TooMuchData(HOSTCALL_FUEL)
        }
        _ => {
            // The trap itself, then the top of the guest backtrace.
            let causes: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            let reason = causes.iter().rev().find(|c| !c.starts_with("error while executing")).cloned();
            let frames = format!("{e:#}").lines().skip(1).take(3).map(str::trim).collect::<Vec<_>>().join(" | ");
            GuestFailure::Trap(format!("{} | {frames}", reason.unwrap_or_else(|| e.to_string())))
        }
    }
}
