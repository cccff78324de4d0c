//! Deploying without the filesystem: tenants, immutable plugin versions named by digest, an active
//! pointer per app, and its activation history (rollback walks it back).
//!
//! Two stores keep the same records ([`AppRecord`]):
//! - [`tree`]: the plugin tree itself (the embedded default). Versions and their blobs live in the
//!   tenant's hidden `.deploy/` folder; activating copies the version's bytes over `<app>.wasm` by
//!   rename, and config is `<app>.toml`, so hot reload serves API deploys and hand-dropped files
//!   alike, and a hand-dropped file that went live becomes a version of its own.
//! - [`shared`]: Redis, for several hosts. Every host mirrors the tenants and active versions into
//!   its own tree under the data directory (pub/sub, and a reconcile every second), compiles them
//!   itself, and serves them from there, also while Redis is away.
//!
//! Every operation reads the app's record, computes the next one and swaps it in only if the record
//! did not move meanwhile, so concurrent deploys through several hosts never lose one another.

pub mod shared;
pub mod tree;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::config::{AppConfig, MAX_PLUGIN_BYTES, TenantConfig};
use crate::registry::Registry;
use crate::runtime::LoadError;

/// Versions one app keeps at most (delete old ones to deploy more).
pub const MAX_VERSIONS: usize = 100;
/// Activations remembered per app, for rollback.
pub const MAX_HISTORY: usize = 100;
/// Attempts at swapping a record that other deploys keep moving.
const SWAP_ATTEMPTS: usize = 8;

/// One immutable version of an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRecord {
    /// Its number, from 1, never reused within the app.
    pub version: u64,
    /// SHA-256 of the component, hex.
    pub digest: String,
    /// Bytes.
    pub size: u64,
    /// When it was stored (ISO 8601, UTC).
    pub created_at: String,
    /// Who stored it: `operator`, a tenant token's name or hash prefix, or `file` (dropped into the
    /// plugin tree by hand).
    pub deployed_by: String,
}

/// Everything known of one app's deployments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRecord {
    /// Its versions, oldest first.
    #[serde(default)]
    pub versions: Vec<VersionRecord>,
    /// The version served.
    #[serde(default)]
    pub active: Option<u64>,
    /// The versions activated, oldest first; the last is the active one. Rollback pops it.
    #[serde(default)]
    pub history: Vec<u64>,
    /// The highest version number given so far.
    #[serde(default)]
    pub last_version: u64,
    /// The app's `<app>.toml`, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
}

impl AppRecord {
    fn version(&self, n: u64) -> Option<&VersionRecord> {
        self.versions.iter().find(|v| v.version == n)
    }

    fn by_digest(&self, digest: &str) -> Option<&VersionRecord> {
        self.versions.iter().find(|v| v.digest == digest)
    }

    /// The digest of the active version.
    pub fn active_digest(&self) -> Option<&str> {
        self.active.and_then(|n| self.version(n)).map(|v| v.digest.as_str())
    }

    fn activate(&mut self, n: u64) {
        if self.active != Some(n) {
            self.active = Some(n);
            self.history.push(n);
            if self.history.len() > MAX_HISTORY {
                let extra = self.history.len() - MAX_HISTORY;
                self.history.drain(..extra);
            }
        }
    }

    fn add(&mut self, digest: String, size: u64, deployed_by: String) -> u64 {
        self.last_version += 1;
        let version = self.last_version;
        let created_at = crate::simulate::clock::iso8601(now_ms());
        self.versions.push(VersionRecord { version, digest, size, created_at, deployed_by });
        version
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// An app's record as read, with what the swap compares against.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The record (empty when the app has none yet).
    pub record: AppRecord,
    /// The stored form it was read from (`None`: no record).
    pub raw: Option<String>,
}

/// Why a deploy operation did nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeployError {
    /// No such tenant, app or version.
    #[error("{0}")]
    NotFound(String),
    /// The request contradicts the current state (the active version moved, a version in use).
    #[error("{0}")]
    Conflict(String),
    /// What was sent cannot be used (not a component, a config over the ceilings).
    #[error("{0}")]
    Invalid(String),
    /// Too many fresh compiles for the tenant: try again later.
    #[error("{0}")]
    RateLimited(String),
    /// The store cannot be reached: nothing was changed.
    #[error("{0}")]
    Unavailable(String),
    /// The host failed (disk); the detail is logged.
    #[error("{0}")]
    Internal(String),
}

/// Where deployments are kept.
#[derive(Debug)]
enum Store {
    Tree(tree::TreeStore),
    Redis(Arc<shared::RedisDeploy>),
}

/// The deploy API's operations, over the store this host uses.
#[derive(Debug)]
pub struct Deployments {
    store: Store,
    registry: Arc<Registry>,
    /// One operation at a time on this host (the tree store's files, the mirror's sync).
    serial: tokio::sync::Mutex<()>,
}

/// The digest of `bytes`, hex.
pub fn digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A JSON object of config keys, as the TOML text of the file it stands for.
fn json_to_toml(what: &str, value: &Value) -> Result<String, DeployError> {
    let Value::Object(map) = value else {
        return Err(DeployError::Invalid(format!("the {what} must be a JSON object of its keys")));
    };
    if let Some(path) = find_null(value, String::new()) {
        return Err(DeployError::Invalid(format!("`{path}` is null: leave the key out instead")));
    }
    if map.is_empty() {
        return Ok(String::new());
    }
    toml::to_string(value).map_err(|e| DeployError::Invalid(format!("the {what} cannot be written as TOML: {e}")))
}

fn find_null(value: &Value, at: String) -> Option<String> {
    match value {
        Value::Null => Some(if at.is_empty() { "(the body)".into() } else { at }),
        Value::Object(m) => {
            m.iter().find_map(|(k, v)| find_null(v, if at.is_empty() { k.clone() } else { format!("{at}.{k}") }))
        }
        Value::Array(a) => a.iter().enumerate().find_map(|(i, v)| find_null(v, format!("{at}[{i}]"))),
        _ => None,
    }
}

/// TOML text as the JSON object of its keys.
fn toml_to_json(text: &str) -> Value {
    toml::from_str::<toml::Table>(text).ok().and_then(|t| serde_json::to_value(t).ok()).unwrap_or_else(|| json!({}))
}

/// The JSON view of an app's record.
fn record_view(tenant: &str, app: &str, r: &AppRecord) -> Value {
    json!({
        "tenant": tenant,
        "app": app,
        "active": r.active,
        "versions": r.versions.iter().map(|v| version_view(v, r.active == Some(v.version))).collect::<Vec<_>>(),
        "history": r.history,
    })
}

fn version_view(v: &VersionRecord, active: bool) -> Value {
    json!({
        "version": v.version,
        "digest": format!("sha256:{}", v.digest),
        "size": v.size,
        "created_at": v.created_at,
        "deployed_by": v.deployed_by,
        "active": active,
    })
}

/// What an activation, rollback or upload answers.
#[derive(Debug)]
pub struct Outcome {
    /// True when something new was stored (an upload: `201`).
    pub created: bool,
    /// The JSON body.
    pub body: Value,
    /// The active version after it, for the `ETag`.
    pub active: Option<u64>,
}

impl Deployments {
    /// The deploy API over the plugin tree of `registry`.
    pub fn in_tree(registry: Arc<Registry>) -> Self {
        let store = Store::Tree(tree::TreeStore::new(registry.root().clone()));
        Deployments { store, registry, serial: Default::default() }
    }

    /// The deploy API over Redis, mirrored into the store's mirror (which `registry` must scan).
    pub fn in_redis(registry: Arc<Registry>, store: Arc<shared::RedisDeploy>) -> Self {
        Deployments { store: Store::Redis(store), registry, serial: Default::default() }
    }

    /// The Redis store, when deployments are shared.
    pub fn shared(&self) -> Option<&shared::RedisDeploy> {
        match &self.store {
            Store::Redis(r) => Some(r),
            Store::Tree(_) => None,
        }
    }

    /// Makes what the store now says live on this host: the tree store's files were written (they
    /// are rescanned), the Redis store is mirrored.
    async fn apply(&self, written: Vec<PathBuf>) {
        if let Store::Redis(r) = &self.store {
            if let Err(e) = r.sync(&self.registry).await {
                tracing::warn!("deploy: cannot mirror the shared deployments now ({e}); the reconcile retries");
            }
            return;
        }
        for path in &written {
            self.registry.writes().completed(path);
        }
        self.registry.reload().await;
    }

    /// The served tenant's config, when the plugin tree (not the API's store) holds it.
    fn in_plugin_tree(&self, tenant: &str) -> bool {
        matches!(self.store, Store::Redis(_)) && self.registry.root().join(tenant).is_dir()
    }

    async fn tenant_text(&self, tenant: &str) -> Result<Option<String>, DeployError> {
        match &self.store {
            Store::Tree(t) => t.tenant(tenant),
            Store::Redis(r) => r.tenant(tenant).await,
        }
    }

    async fn require_tenant(&self, tenant: &str) -> Result<TenantConfig, DeployError> {
        if self.in_plugin_tree(tenant) {
            // Its tokens are the plugin tree's: they must not reach a shared tenant of that name.
            return Err(DeployError::Conflict(format!(
                "the tenant `{tenant}` is served from this host's plugin directory, not from the shared deploy store"
            )));
        }
        let text = self.tenant_text(tenant).await?.ok_or_else(|| no_tenant(tenant))?;
        if text.trim().is_empty() {
            return Ok(TenantConfig::default());
        }
        TenantConfig::parse(std::path::Path::new("tenant.toml"), &text)
            .map_err(|e| DeployError::Conflict(format!("the tenant's own configuration does not load: {e}")))
    }

    async fn app_names(&self, tenant: &str) -> Result<Vec<String>, DeployError> {
        match &self.store {
            Store::Tree(t) => Ok(t.apps(tenant)),
            Store::Redis(r) => r.apps(tenant).await,
        }
    }

    /// `PUT /v1/tenants/{tenant}`: creates or replaces the tenant's configuration.
    pub async fn put_tenant(&self, tenant: &str, body: &Value) -> Result<Outcome, DeployError> {
        let text = json_to_toml("tenant configuration", body)?;
        if !text.trim().is_empty() {
            TenantConfig::parse(std::path::Path::new("tenant.toml"), &text)
                .map_err(|e| DeployError::Invalid(e.message))?;
        }
        if self.in_plugin_tree(tenant) {
            return Err(DeployError::Conflict(format!(
                "the tenant `{tenant}` is served from this host's plugin directory; it cannot be managed through the shared deploy store"
            )));
        }
        let _one = self.serial.lock().await;
        let (created, written) = match &self.store {
            Store::Tree(t) => t.put_tenant(tenant, &text)?,
            Store::Redis(r) => (r.put_tenant(tenant, &text).await?, Vec::new()),
        };
        self.apply(written).await;
        tracing::info!(tenant, created, "deploy: tenant configuration stored");
        let body = self.tenant_view(tenant, &text).await?;
        Ok(Outcome { created, body, active: None })
    }

    async fn tenant_view(&self, tenant: &str, text: &str) -> Result<Value, DeployError> {
        let mut view = toml_to_json(text);
        let secret = view.as_object_mut().and_then(|m| m.remove("signature_secret")).is_some();
        view["signature_secret_set"] = json!(secret);
        view["tenant"] = json!(tenant);
        view["apps"] = json!(self.app_names(tenant).await?);
        Ok(view)
    }

    /// `GET /v1/tenants/{tenant}`: the configuration without its secret, and the tenant's apps.
    pub async fn get_tenant(&self, tenant: &str) -> Result<Value, DeployError> {
        let text = self.tenant_text(tenant).await?.ok_or_else(|| no_tenant(tenant))?;
        self.tenant_view(tenant, &text).await
    }

    /// `DELETE /v1/tenants/{tenant}`, once its apps are gone.
    pub async fn delete_tenant(&self, tenant: &str) -> Result<Value, DeployError> {
        let _one = self.serial.lock().await;
        self.tenant_text(tenant).await?.ok_or_else(|| no_tenant(tenant))?;
        let apps = self.app_names(tenant).await?;
        if !apps.is_empty() {
            return Err(DeployError::Conflict(format!(
                "the tenant still has apps ({}); delete them first",
                apps.join(", ")
            )));
        }
        let written = match &self.store {
            Store::Tree(t) => t.delete_tenant(tenant)?,
            Store::Redis(r) => {
                r.delete_tenant(tenant).await?;
                Vec::new()
            }
        };
        self.apply(written).await;
        tracing::info!(tenant, "deploy: tenant deleted");
        Ok(json!({"tenant": tenant, "deleted": true}))
    }

    async fn load(&self, tenant: &str, app: &str) -> Result<Loaded, DeployError> {
        match &self.store {
            Store::Tree(t) => {
                let live = self
                    .registry
                    .snapshot()
                    .app(tenant, app)
                    .and_then(|(_, a)| (!a.removed).then(|| a.version.as_ref().map(|v| v.hash.clone())).flatten());
                t.app(tenant, app, live.as_deref())
            }
            Store::Redis(r) => r.app(tenant, app).await,
        }
    }

    async fn swap(
        &self,
        tenant: &str,
        app: &str,
        before: &Loaded,
        next: Option<&AppRecord>,
    ) -> Result<Option<Vec<PathBuf>>, DeployError> {
        match &self.store {
            Store::Tree(t) => t.swap_app(tenant, app, before, next),
            Store::Redis(r) => Ok(r.swap_app(tenant, app, before, next).await?.then(Vec::new)),
        }
    }

    /// Reads the app's record, lets `change` compute the next one, and swaps it in unless another
    /// deploy moved it meanwhile (then tries again). `change` returns an error to change nothing.
    async fn update<R>(
        &self,
        tenant: &str,
        app: &str,
        mut change: impl FnMut(&mut AppRecord) -> Result<R, DeployError>,
    ) -> Result<(R, AppRecord), DeployError> {
        for _ in 0..SWAP_ATTEMPTS {
            let before = self.load(tenant, app).await?;
            let mut next = before.record.clone();
            let result = change(&mut next)?;
            if next == before.record && before.raw.is_some() {
                return Ok((result, next));
            }
            if let Some(written) = self.swap(tenant, app, &before, Some(&next)).await? {
                self.apply(written).await;
                return Ok((result, next));
            }
        }
        Err(DeployError::Conflict("the app kept changing while this request was applied; try again".into()))
    }

    async fn existing(&self, tenant: &str, app: &str) -> Result<AppRecord, DeployError> {
        self.require_tenant(tenant).await?;
        let loaded = self.load(tenant, app).await?;
        if loaded.raw.is_none() && loaded.record.versions.is_empty() && loaded.record.config.is_none() {
            return Err(DeployError::NotFound(format!("the tenant `{tenant}` has no app `{app}`")));
        }
        Ok(loaded.record)
    }

    /// `PUT .../apps/{app}/versions`: checks the component (size, digest, compile, imports, a smoke
    /// instantiation) and stores it as a new version, or returns the version with these bytes.
    pub async fn upload(
        &self,
        tenant: &str,
        app: &str,
        wasm: Vec<u8>,
        activate: bool,
        deployed_by: &str,
    ) -> Result<Outcome, DeployError> {
        let ceilings = self.require_tenant(tenant).await?.ceilings();
        if wasm.len() as u64 > MAX_PLUGIN_BYTES {
            return Err(DeployError::Invalid(format!(
                "{} bytes is over the {MAX_PLUGIN_BYTES}-byte limit",
                wasm.len()
            )));
        }
        let hex = digest(&wasm);
        let size = wasm.len() as u64;
        let _one = self.serial.lock().await;
        let before = self.load(tenant, app).await?.record;
        let known = before.by_digest(&hex).is_some();
        if !known && before.versions.len() >= MAX_VERSIONS {
            return Err(too_many_versions());
        }
        // Held until the version is live, so the rescan shares this compile.
        let mut _checked = None;
        if !known {
            let checked =
                self.registry.runtime().load(tenant, wasm.clone(), hex.clone()).await.map_err(|e| match e {
                    LoadError::Refused(m) => DeployError::Invalid(format!("the component was not stored: {m}")),
                    LoadError::Deferred(m) => DeployError::RateLimited(m),
                })?;
            if checked.imports_http {
                let text = before.config.as_deref().unwrap_or("");
                let config = AppConfig::parse(std::path::Path::new(&format!("{app}.toml")), text, &ceilings);
                if !config.is_ok_and(|c| checked.may_serve(&c)) {
                    return Err(DeployError::Invalid(
                        "the component was not stored: it imports wasi:http (outgoing HTTP requests), which this app does not allow; set `allowed_outbound_hosts` in the app's configuration first (PUT .../config)".into(),
                    ));
                }
            }
            _checked = Some(checked);
        }
        // Stored every time (it is idempotent): a version deleted meanwhile by another host takes
        // its bytes with it, and this upload may add it again.
        match &self.store {
            Store::Tree(t) => t.put_blob(tenant, app, &hex, &wasm)?,
            Store::Redis(r) => r.put_blob(tenant, app, &hex, wasm).await?,
        }
        let mut created = false;
        let (number, record) = self
            .update(tenant, app, |r| {
                let n = match r.by_digest(&hex) {
                    Some(v) => v.version,
                    None => {
                        if r.versions.len() >= MAX_VERSIONS {
                            return Err(too_many_versions());
                        }
                        created = true;
                        r.add(hex.clone(), size, deployed_by.to_owned())
                    }
                };
                if activate {
                    r.activate(n);
                }
                Ok(n)
            })
            .await?;
        if created {
            tracing::info!(tenant, app, version = number, digest = %hex, activate, deployed_by, "deploy: version stored");
        }
        let v = record.version(number).ok_or_else(|| DeployError::Internal("the stored version vanished".into()))?;
        let mut body = version_view(v, record.active == Some(number));
        body["tenant"] = json!(tenant);
        body["app"] = json!(app);
        body["created"] = json!(created);
        Ok(Outcome { created, body, active: record.active })
    }

    /// `GET .../apps/{app}/versions`.
    pub async fn versions(&self, tenant: &str, app: &str) -> Result<Outcome, DeployError> {
        let _one = self.serial.lock().await;
        let record = self.existing(tenant, app).await?;
        Ok(Outcome { created: false, body: record_view(tenant, app, &record), active: record.active })
    }

    fn check_if_match(record: &AppRecord, if_match: Option<u64>) -> Result<(), DeployError> {
        match if_match {
            Some(expected) if record.active != Some(expected) => Err(DeployError::Conflict(format!(
                "the active version is {}, not {expected} (If-Match)",
                record.active.map_or_else(|| "none".to_owned(), |n| n.to_string())
            ))),
            _ => Ok(()),
        }
    }

    /// `POST .../apps/{app}/activate` with `{"version": N}`.
    pub async fn activate(
        &self,
        tenant: &str,
        app: &str,
        version: u64,
        if_match: Option<u64>,
    ) -> Result<Outcome, DeployError> {
        let _one = self.serial.lock().await;
        self.existing(tenant, app).await?;
        let ((), record) = self
            .update(tenant, app, |r| {
                Self::check_if_match(r, if_match)?;
                if r.version(version).is_none() {
                    return Err(DeployError::NotFound(format!("the app `{app}` has no version {version}")));
                }
                r.activate(version);
                Ok(())
            })
            .await?;
        tracing::info!(tenant, app, version, "deploy: version activated");
        Ok(Outcome { created: false, body: record_view(tenant, app, &record), active: record.active })
    }

    /// `POST .../apps/{app}/rollback`: back to the version active before the current one.
    pub async fn rollback(&self, tenant: &str, app: &str, if_match: Option<u64>) -> Result<Outcome, DeployError> {
        let _one = self.serial.lock().await;
        self.existing(tenant, app).await?;
        let (to, record) = self
            .update(tenant, app, |r| {
                Self::check_if_match(r, if_match)?;
                let current = r.active.ok_or_else(|| DeployError::Conflict("the app has no active version".into()))?;
                while r.history.last() == Some(&current) {
                    r.history.pop();
                }
                while let Some(&previous) = r.history.last() {
                    if previous != current && r.version(previous).is_some() {
                        r.active = Some(previous);
                        return Ok(previous);
                    }
                    r.history.pop();
                }
                Err(DeployError::Conflict(format!(
                    "version {current} is the earliest activation left: nothing to roll back to"
                )))
            })
            .await?;
        tracing::info!(tenant, app, version = to, "deploy: rolled back");
        Ok(Outcome { created: false, body: record_view(tenant, app, &record), active: record.active })
    }

    /// `DELETE .../apps/{app}/versions/{N}`: any version but the active one.
    pub async fn delete_version(&self, tenant: &str, app: &str, version: u64) -> Result<Outcome, DeployError> {
        let _one = self.serial.lock().await;
        self.existing(tenant, app).await?;
        let (gone, record) = self
            .update(tenant, app, |r| {
                if r.active == Some(version) {
                    return Err(DeployError::Conflict(format!(
                        "version {version} is active; activate another one before deleting it"
                    )));
                }
                let at = r
                    .versions
                    .iter()
                    .position(|v| v.version == version)
                    .ok_or_else(|| DeployError::NotFound(format!("the app `{app}` has no version {version}")))?;
                let gone = r.versions.remove(at);
                r.history.retain(|n| *n != version);
                Ok(gone)
            })
            .await?;
        if record.by_digest(&gone.digest).is_none() {
            match &self.store {
                Store::Tree(t) => t.delete_blob(tenant, app, &gone.digest),
                Store::Redis(r) => r.delete_blob(tenant, app, &gone.digest).await,
            }
        }
        tracing::info!(tenant, app, version, "deploy: version deleted");
        Ok(Outcome { created: false, body: record_view(tenant, app, &record), active: record.active })
    }

    /// `PUT .../apps/{app}/config`: the keys of `<app>.toml`, checked as the file is.
    pub async fn put_config(&self, tenant: &str, app: &str, body: &Value) -> Result<Value, DeployError> {
        let ceilings = self.require_tenant(tenant).await?.ceilings();
        let text = json_to_toml("app configuration", body)?;
        AppConfig::parse(std::path::Path::new(&format!("{app}.toml")), &text, &ceilings)
            .map_err(|e| DeployError::Invalid(e.to_string()))?;
        let _one = self.serial.lock().await;
        let config = (!text.trim().is_empty()).then_some(text.clone());
        self.update(tenant, app, |r| {
            r.config.clone_from(&config);
            Ok(())
        })
        .await?;
        tracing::info!(tenant, app, "deploy: app configuration stored");
        Ok(json!({"tenant": tenant, "app": app, "config": toml_to_json(&text)}))
    }

    /// `GET .../apps/{app}/config`.
    pub async fn get_config(&self, tenant: &str, app: &str) -> Result<Value, DeployError> {
        let _one = self.serial.lock().await;
        let record = self.existing(tenant, app).await?;
        Ok(json!({"tenant": tenant, "app": app, "config": toml_to_json(record.config.as_deref().unwrap_or(""))}))
    }

    /// `DELETE .../apps/{app}`: the app, its versions and its config (calls in progress keep their
    /// version until they end).
    pub async fn delete_app(&self, tenant: &str, app: &str) -> Result<Value, DeployError> {
        let _one = self.serial.lock().await;
        self.existing(tenant, app).await?;
        for _ in 0..SWAP_ATTEMPTS {
            let before = self.load(tenant, app).await?;
            if let Some(written) = self.swap(tenant, app, &before, None).await? {
                let digests: std::collections::BTreeSet<&str> =
                    before.record.versions.iter().map(|v| v.digest.as_str()).collect();
                for d in digests {
                    match &self.store {
                        Store::Tree(t) => t.delete_blob(tenant, app, d),
                        Store::Redis(r) => r.delete_blob(tenant, app, d).await,
                    }
                }
                self.apply(written).await;
                tracing::info!(tenant, app, "deploy: app deleted");
                return Ok(json!({"tenant": tenant, "app": app, "deleted": true}));
            }
        }
        Err(DeployError::Conflict("the app kept changing while this request was applied; try again".into()))
    }

    /// Every tenant's apps, by tenant (for the operator's listing).
    pub async fn tenants(&self) -> Result<BTreeMap<String, Vec<String>>, DeployError> {
        let names = match &self.store {
            Store::Tree(t) => t.tenants(),
            Store::Redis(r) => r.tenants().await?,
        };
        let mut out = BTreeMap::new();
        for name in names {
            let apps = self.app_names(&name).await?;
            out.insert(name, apps);
        }
        Ok(out)
    }
}

fn too_many_versions() -> DeployError {
    DeployError::Conflict(format!("the app has {MAX_VERSIONS} versions, the most kept; delete old ones first"))
}

fn no_tenant(tenant: &str) -> DeployError {
    DeployError::NotFound(format!(
        "there is no tenant `{tenant}` (the operator creates it with PUT /v1/tenants/{tenant})"
    ))
}
