//! Putting the host together: runtime, registry, first load, hot reload, and serving HTTP until a
//! shutdown signal.

use std::sync::Arc;

use axum::Router;

use crate::config::ServeConfig;
pub use crate::http::connections::serve;
use crate::http::{self, ConnectionLimits, Shared};
use crate::registry::Registry;
use crate::runtime::{Runtime, RuntimeConfig};
use crate::state::StateStore;
use crate::watch::{self, Watcher};

/// A running host: its registry and its router. Dropping it stops hot reload.
#[derive(Debug)]
pub struct Host {
    /// Tenants, apps and versions.
    pub registry: Arc<Registry>,
    shared: Arc<Shared>,
    _watcher: Watcher,
}

impl Host {
    /// Builds the runtime, loads every plugin under `config.plugins`, and starts watching the tree.
    /// `public_url` is the base URL Vonage reaches this host at.
    pub async fn start(config: &ServeConfig, public_url: String) -> anyhow::Result<Host> {
        if !config.plugins.is_dir() {
            anyhow::bail!("the plugin directory {} does not exist", config.plugins.display());
        }
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| anyhow::anyhow!("cannot create the data directory {}: {e}", config.data_dir.display()))?;
        let runtime = Arc::new(Runtime::new(&RuntimeConfig {
            slots: config.max_running,
            max_queued: config.max_concurrent,
            memory_budget: config.memory_budget_bytes,
            data_dir: config.data_dir.clone(),
            artifact_cache_bytes: config.artifact_cache_bytes,
            allow_private_networks: config.allow_private_networks,
            vonage_api_url: config.vonage_api_url.clone(),
        })?);
        let backend = config.state_backend();
        let state: Arc<dyn StateStore> =
            backend.open().await.map_err(|e| anyhow::anyhow!("cannot open the state backend {backend:?}: {e}"))?;
        tracing::info!("plugin state in {backend:?}");
        state.quotas().set_default(config.tenant_state);
        state.quotas().set_pinned_calls(config.tenant_max_pinned_calls);
        // With Redis, deployments are shared: this host mirrors them into its data directory.
        let shared_deploys = match &backend {
            crate::state::StateBackend::Redis(url) => {
                Some(crate::deploy::shared::RedisDeploy::connect(url, &config.data_dir).await.map_err(|e| {
                    anyhow::anyhow!("cannot reach the shared deploy store {}: {e}", crate::state::without_password(url))
                })?)
            }
            _ => None,
        };
        let mut roots = vec![config.plugins.clone()];
        roots.extend(shared_deploys.as_ref().map(|d| d.mirror().to_path_buf()));
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let registry = Arc::new(Registry::new(roots, runtime, Arc::clone(&state), Arc::clone(&metrics)));
        let watcher = watch::spawn(Arc::clone(&registry))?;
        let deploy = match shared_deploys {
            Some(d) => {
                let d = Arc::new(d);
                // The mirror as Redis has it now (or, while Redis is away, as last mirrored).
                if let Err(e) = d.sync(&registry).await {
                    tracing::warn!(
                        "deploy: cannot mirror the shared deployments at start ({e}); serving the last mirror"
                    );
                }
                Arc::clone(&d).follow(Arc::clone(&registry));
                crate::deploy::Deployments::in_redis(Arc::clone(&registry), d)
            }
            None => crate::deploy::Deployments::in_tree(Arc::clone(&registry)),
        };
        registry.reload().await;
        if let Some(shared) = deploy.shared() {
            // Calls answered elsewhere on versions this host never served.
            match shared.previous_versions().await {
                Ok(previous) => shared.keep_pinned(&registry, &previous).await,
                Err(e) => tracing::warn!("deploy: cannot read the shared versions at start: {e}"),
            }
        }
        // Files written just before the start are served once settled, before the first request
        // (a file a writer keeps open waits for its close, as always, without holding the start).
        for _ in 0..50 {
            if !registry.writes().take_settling() {
                break;
            }
            tokio::time::sleep(watch::SETTLE_CHECK).await;
            registry.reload().await;
        }
        // With Redis, every host shows the whole call.
        let shared_records = match &backend {
            crate::state::StateBackend::Redis(url) if config.inspect => {
                // A tenth of the records as calls (each of a few records, usually).
                let calls = (config.inspect_records / 10).max(100);
                match crate::inspect::shared::SharedRecords::connect(url, calls).await {
                    Ok(r) => Some(r),
                    Err(e) => {
                        tracing::warn!(
                            "inspector: cannot share records through {} ({e}); this host shows its own",
                            crate::state::without_password(url)
                        );
                        None
                    }
                }
            }
            _ => None,
        };
        let shared = Arc::new(Shared {
            registry: Arc::clone(&registry),
            state,
            public_url: public_url.trim_end_matches('/').to_owned(),
            max_body_bytes: config.max_body_bytes,
            signature_window: config.signature_window,
            config: config.clone(),
            deploy: Arc::new(deploy),
            metrics,
            inspector: crate::inspect::Inspector::start(
                config.inspect_records,
                config.inspect_bytes,
                config.inspect_redaction,
                config.inspect,
                shared_records,
            ),
            state_backend: match backend {
                crate::state::StateBackend::Embedded(_) => "embedded",
                crate::state::StateBackend::Redis(_) => "redis",
                crate::state::StateBackend::Memory => "memory",
            },
        });
        Ok(Host { registry, shared, _watcher: watcher })
    }

    /// How this host's connections are bounded.
    pub fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: self.shared.config.header_read_timeout,
            max_connections: self.shared.config.max_connections,
        }
    }

    /// The HTTP surface of this host: every route, or only the webhooks when the admin routes
    /// listen apart (`admin_listen`).
    pub fn router(&self) -> Router {
        if self.shared.config.admin_listen.is_some() {
            http::webhook_router(Arc::clone(&self.shared))
        } else {
            http::router(Arc::clone(&self.shared))
        }
    }

    /// The admin, deploy and inspector routes, for their own listener.
    pub fn admin_router(&self) -> Router {
        http::admin_router(Arc::clone(&self.shared))
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
