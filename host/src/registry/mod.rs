//! Tenants, apps and their live plugin versions, read from the plugin tree `<tenant>/<app>.wasm`
//! (+ optional `<tenant>/<app>.toml` and `<tenant>/tenant.toml`).
//!
//! The live view is an immutable [`Snapshot`] behind an `ArcSwap`: a request loads it once and keeps
//! the `Arc` of the version it started with, while a reload builds the next snapshot off to the side
//! and swaps it in atomically. A file that does not load never replaces a working version.

mod pins;
pub mod scan;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;
use serde::Serialize;

use crate::config::{AppConfig, TenantConfig};
use crate::runtime::{Runtime, Version};
use crate::state::{MAX_CALL_STATE, StateStore};

pub use pins::Pins;

/// One app: its configuration and its live version.
#[derive(Debug, Clone)]
pub struct App {
    /// The app name (the `.wasm` file stem).
    pub name: String,
    /// The configuration in force.
    pub config: Arc<AppConfig>,
    /// The live version, if one ever loaded.
    pub version: Option<Arc<Version>>,
    /// The last load error of the `.wasm` or `.toml`, if the last attempt failed.
    pub last_error: Option<String>,
    /// The content hash and error of the last `.wasm` that failed to load, so unchanged bytes are not
    /// compiled again on every reload.
    pub rejected: Option<(String, String)>,
    /// Earlier versions kept loaded while calls pinned to them are alive, with when they were retired.
    pub retired: Vec<(Arc<Version>, SystemTime)>,
    /// The `.wasm` file as last read, so a rescan skips files that did not change.
    pub stamp: Option<scan::FileStamp>,
    /// True when its file (or its tenant's folder) is gone: it answers no new calls, and stays only
    /// while calls pinned to its versions may still send events.
    pub removed: bool,
    /// Its webhooks in flight now (for `max_concurrent`); shared by every snapshot of the app.
    pub inflight: Arc<std::sync::atomic::AtomicUsize>,
}

impl App {
    /// The live version or a retired one with this content hash.
    pub fn version_by_hash(&self, hash: &str) -> Option<Arc<Version>> {
        self.version.iter().chain(self.retired.iter().map(|(v, _)| v)).find(|v| v.hash == hash).cloned()
    }
}

/// One tenant: its configuration and its apps.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// The tenant name (the directory name).
    pub name: String,
    /// The configuration in force.
    pub config: Arc<TenantConfig>,
    /// Why `tenant.toml` could not be used, if it could not.
    pub config_error: Option<String>,
    /// True when `tenant.toml` never loaded: the tenant is not served.
    pub unusable: bool,
    /// The key of its `[vonage]` application, which call control signs with.
    pub vonage: Option<Arc<crate::runtime::calls::ApplicationKey>>,
    /// The apps by name.
    pub apps: BTreeMap<String, Arc<App>>,
    /// True when the tenant's folder is gone: kept only for its apps' calls in progress.
    pub removed: bool,
}

/// Everything served, at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Tenants by name.
    pub tenants: BTreeMap<String, Arc<Tenant>>,
    /// What the last scan found and did not serve, and why (for the admin view).
    pub ignored: Vec<String>,
}

impl Snapshot {
    /// Looks up a tenant and one of its apps.
    pub fn app(&self, tenant: &str, app: &str) -> Option<(Arc<Tenant>, Arc<App>)> {
        let t = self.tenants.get(tenant)?;
        let a = t.apps.get(app)?;
        Some((Arc::clone(t), Arc::clone(a)))
    }
}

/// The registry of everything the host serves.
#[derive(Debug)]
pub struct Registry {
    /// The plugin tree, then the trees written by the deploy API's sync (a tenant in an earlier
    /// tree hides one of the same name in a later one).
    roots: Vec<PathBuf>,
    runtime: Arc<Runtime>,
    pins: Pins,
    /// The state backend, whose quotas follow the tenants' configuration.
    state: Arc<dyn StateStore>,
    live: ArcSwap<Snapshot>,
    reloading: tokio::sync::Mutex<()>,
    /// Digests of the files the last scans read, by stamp (pruned to the files still served).
    digests: scan::Digests,
    /// Files of the tree the watcher saw being written, and files it saw completed.
    writes: scan::Writes,
    reloads: std::sync::atomic::AtomicU64,
    /// When the rescan in progress started, if one is.
    reload_started: std::sync::Mutex<Option<std::time::Instant>>,
    /// Rescans and loaded versions are counted here.
    metrics: Arc<crate::metrics::Metrics>,
}

/// One row of `GET /_admin/apps`.
#[derive(Debug, Serialize)]
pub struct AppStatus {
    /// Tenant.
    pub tenant: String,
    /// App.
    pub app: String,
    /// SHA-256 of the live version.
    pub version: Option<String>,
    /// When the live version was loaded (Unix seconds, fractional).
    pub loaded_at: Option<f64>,
    /// Its compile (or cached artifact load) time, milliseconds.
    pub compile_ms: Option<f64>,
    /// True when the compiled artifact came from the on-disk cache.
    pub from_cache: Option<bool>,
    /// Which compiler built the code it runs: `winch` just after a fresh compile, `cranelift` once
    /// the optimized code is ready (or from the cache).
    pub compiler: Option<&'static str>,
    /// The last load error, if the last attempt failed.
    pub last_error: Option<String>,
    /// Earlier versions still loaded for calls pinned to them.
    pub pinned_versions: Vec<String>,
    /// True when its file or tenant folder is gone and it stays only for calls in progress.
    pub removed: bool,
}

impl Registry {
    /// A registry over the trees `roots` (the plugin tree first), empty until [`Registry::reload`].
    /// `state` holds the version pins.
    pub fn new(
        roots: Vec<PathBuf>,
        runtime: Arc<Runtime>,
        state: Arc<dyn StateStore>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Self {
        Registry {
            roots,
            runtime,
            pins: Pins::new(Arc::clone(&state)),
            state,
            live: ArcSwap::from_pointee(Snapshot::default()),
            reloading: Default::default(),
            digests: Default::default(),
            writes: Default::default(),
            reloads: Default::default(),
            reload_started: Default::default(),
            metrics,
        }
    }

    /// How long the rescan in progress has been running, if one is (a slow disk shows here).
    pub fn reload_running_for(&self) -> Option<std::time::Duration> {
        self.reload_started.lock().ok().and_then(|s| s.map(|t| t.elapsed()))
    }

    /// How many times the tree was rescanned since start.
    pub fn reloads(&self) -> u64 {
        self.reloads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// What the watcher knows of files being written (see [`scan::Writes`]).
    pub fn writes(&self) -> &scan::Writes {
        &self.writes
    }

    /// The plugin tree (the one the watcher watches).
    pub fn root(&self) -> &PathBuf {
        &self.roots[0]
    }

    /// The runtime plugins run in.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The live snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.live.load_full()
    }

    /// Re-reads the whole tree and swaps in the result. Unchanged plugins (same content hash) keep
    /// their compiled version; changed ones are compiled off the async runtime; broken ones keep the
    /// previous version and record the error.
    pub async fn reload(&self) {
        let _one_at_a_time = self.reloading.lock().await;
        if let Ok(mut started) = self.reload_started.lock() {
            *started = Some(std::time::Instant::now());
        }
        let previous = self.live.load_full();
        let mut next = scan::scan(&self.roots, &self.runtime, &previous, &self.digests, &self.writes).await;
        self.writes.prune();
        // Each tenant's state quota as its tenant.toml now says (tenants gone are dropped).
        self.state.quotas().set_tenants(next.tenants.values().map(|t| {
            let c = t.config.ceilings();
            (t.name.as_str(), c.state_keys, c.state_mib)
        }));
        let served: std::collections::HashSet<scan::FileStamp> =
            next.tenants.values().flat_map(|t| t.apps.values().filter_map(|a| a.stamp)).collect();
        if let Ok(mut d) = self.digests.lock() {
            d.retain(|s, _| served.contains(s));
        }
        self.release_unpinned(&mut next).await;
        let failing =
            next.tenants.values().any(|t| t.config_error.is_some() || t.apps.values().any(|a| a.last_error.is_some()));
        let versions: std::collections::HashSet<&str> = next
            .tenants
            .values()
            .flat_map(|t| t.apps.values())
            .flat_map(|a| a.version.iter().chain(a.retired.iter().map(|(v, _)| v)))
            .map(|v| v.hash.as_str())
            .collect();
        self.metrics.loaded_versions.set(i64::try_from(versions.len()).unwrap_or(i64::MAX));
        let result = if failing { "error" } else { "ok" };
        self.metrics.reloads.get_or_create(&crate::metrics::ResultLabel { result: result.into() }).inc();
        self.live.store(Arc::new(next));
        if let Ok(mut started) = self.reload_started.lock() {
            *started = None;
        }
        let n = self.reloads.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        tracing::debug!(reloads = n, "plugin tree rescanned");
    }

    /// Drops retired versions no call is pinned to any more (or retired longer than a call can last).
    async fn release_unpinned(&self, snapshot: &mut Snapshot) {
        let now = SystemTime::now();
        for tenant in snapshot.tenants.values_mut() {
            if tenant.apps.values().all(|a| a.retired.is_empty()) {
                continue;
            }
            let tenant = Arc::make_mut(tenant);
            for app in tenant.apps.values_mut() {
                if app.retired.is_empty() {
                    continue;
                }
                let mut pinned = Vec::new();
                let mut unknown = false;
                for (v, _) in &app.retired {
                    match self.pins.is_pinned(&tenant.name, &app.name, &v.hash).await {
                        Ok(true) => pinned.push(v.hash.clone()),
                        Ok(false) => {}
                        Err(e) => {
                            tracing::warn!(tenant = %tenant.name, app = %app.name, "cannot read version pins: {e}");
                            unknown = true;
                        }
                    }
                }
                // Without the pins, keep everything until the next sweep.
                if unknown {
                    continue;
                }
                let app = Arc::make_mut(app);
                app.retired.retain(|(v, at)| {
                    let young = now.duration_since(*at).unwrap_or_default() < MAX_CALL_STATE;
                    let keep = young && pinned.iter().any(|h| *h == v.hash);
                    if !keep {
                        tracing::info!(tenant = %tenant.name, app = %app.name, version = %v.hash, "retired version unloaded");
                    }
                    keep
                });
            }
        }
        // Removed apps and tenants go once no call needs their versions.
        for tenant in snapshot.tenants.values_mut() {
            if tenant.apps.values().any(|a| a.removed && a.retired.is_empty()) {
                Arc::make_mut(tenant).apps.retain(|_, a| !(a.removed && a.retired.is_empty()));
            }
        }
        snapshot.tenants.retain(|_, t| !(t.removed && t.apps.is_empty()));
    }

    /// Keeps `version` loaded for `tenant/app`'s calls in progress that are pinned to it (a version
    /// this host never served, deployed and replaced while it was not running): retired, as if it
    /// had been replaced here, and unloaded the same way once no pin names it.
    pub async fn keep_retired(&self, tenant: &str, app: &str, version: Arc<Version>) {
        let _one_at_a_time = self.reloading.lock().await;
        let mut next = (*self.live.load_full()).clone();
        let Some(t) = next.tenants.get_mut(tenant) else { return };
        let Some(a) = Arc::make_mut(t).apps.get_mut(app) else { return };
        if a.version_by_hash(&version.hash).is_some() {
            return;
        }
        tracing::info!(tenant, app, version = %version.hash, "version loaded for calls in progress pinned to it");
        Arc::make_mut(a).retired.push((version, SystemTime::now()));
        self.live.store(Arc::new(next));
    }

    /// Sweeps retired versions without pins, outside of a reload.
    pub async fn sweep(&self) {
        let _one_at_a_time = self.reloading.lock().await;
        let mut next = (*self.live.load_full()).clone();
        self.release_unpinned(&mut next).await;
        self.live.store(Arc::new(next));
    }

    /// The calls' version pins.
    pub fn pins(&self) -> &Pins {
        &self.pins
    }

    /// Every app with its version and last error, for `GET /_admin/apps`.
    pub fn status(&self) -> Vec<AppStatus> {
        let snapshot = self.snapshot();
        let mut rows = Vec::new();
        for tenant in snapshot.tenants.values() {
            for app in tenant.apps.values() {
                let v = app.version.as_deref();
                let last_error = match (&tenant.config_error, &app.last_error) {
                    (Some(t), Some(a)) => Some(format!("{t}; {a}")),
                    (Some(t), None) => Some(t.clone()),
                    (None, a) => a.clone(),
                };
                rows.push(AppStatus {
                    tenant: tenant.name.clone(),
                    app: app.name.clone(),
                    version: v.map(|v| v.hash.clone()),
                    loaded_at: v
                        .and_then(|v| v.loaded_at.duration_since(SystemTime::UNIX_EPOCH).ok())
                        .map(|d| d.as_secs_f64()),
                    compile_ms: v.map(|v| v.compile_time.as_secs_f64() * 1000.0),
                    from_cache: v.map(|v| v.from_cache),
                    compiler: v.map(|v| v.compiler().name()),
                    last_error,
                    pinned_versions: app.retired.iter().map(|(v, _)| v.hash.clone()).collect(),
                    removed: app.removed || tenant.removed,
                });
            }
        }
        rows
    }
}
