//! Deployments in Redis, shared by every host on it.
//!
//! ```text
//! ncco:/deploy/tenants               set of tenant names
//! ncco:/deploy/tenant/<t>            the tenant's tenant.toml text
//! ncco:/deploy/apps/<t>              set of the tenant's app names
//! ncco:/deploy/app/<t>/<a>           the app's record (JSON): versions, active, history, config
//! ncco:/deploy/blob/<t>/<a>/<hex>    a version's bytes, by SHA-256 (per app: deleting one app's
//!                                    versions never touches another's)
//! ncco:/deploy/generation            bumped by every change, published on ncco:/deploy/changed
//! ```
//!
//! Every change is one script that checks what it replaces, so two hosts never overwrite each
//! other. Each host mirrors the tenants and active versions into `<data-dir>/deployed/` (a tree the
//! registry scans after the plugin directory): at once on a change it makes, on the pub/sub message
//! of a change another host made, and by comparing the generation every second (pub/sub loses
//! messages while a connection is down). Blobs are checked against their digest before they are
//! mirrored; each host compiles them itself. While Redis is away the mirror stays as it is, so the
//! host keeps serving, and every deploy answers 503.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::tree::write_atomic;
use super::{AppRecord, DeployError, Loaded, digest};
use crate::registry::Registry;
use crate::registry::scan::{TENANT_FILE, valid_name};

const PREFIX: &str = "ncco:/deploy";
/// The channel every change is announced on.
pub const CHANNEL: &str = "ncco:/deploy/changed";
/// Where the mirror remembers the generation it holds.
const GENERATION_FILE: &str = ".generation";
/// How often the generation is compared, in case a message was lost.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(1);

fn tenants_key() -> String {
    format!("{PREFIX}/tenants")
}
fn tenant_key(t: &str) -> String {
    format!("{PREFIX}/tenant/{t}")
}
fn apps_key(t: &str) -> String {
    format!("{PREFIX}/apps/{t}")
}
fn app_key(t: &str, a: &str) -> String {
    format!("{PREFIX}/app/{t}/{a}")
}
fn blob_key(t: &str, a: &str, hex: &str) -> String {
    format!("{PREFIX}/blob/{t}/{a}/{hex}")
}
fn generation_key() -> String {
    format!("{PREFIX}/generation")
}

/// Replaces an app record if it still is what was read. KEYS: record, apps set, generation,
/// tenant. ARGV: expected ("" = none), new ("" = delete), app name, channel. Returns 1 (swapped),
/// 0 (moved), -1 (no such tenant).
const SWAP: &str = r"
if redis.call('EXISTS', KEYS[4]) == 0 then return -1 end
local cur = redis.call('GET', KEYS[1])
if cur == false then cur = '' end
if cur ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('SADD', KEYS[2], ARGV[3])
end
redis.call('PUBLISH', ARGV[4], redis.call('INCR', KEYS[3]))
return 1
";

/// Creates or replaces a tenant. KEYS: tenant, tenants set, generation. ARGV: text, name, channel.
/// Returns 1 when the tenant is new.
const PUT_TENANT: &str = r"
local new = redis.call('EXISTS', KEYS[1]) == 0
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('PUBLISH', ARGV[3], redis.call('INCR', KEYS[3]))
if new then return 1 else return 0 end
";

/// Deletes a tenant with no apps. KEYS: tenant, tenants set, generation, apps set. ARGV: name,
/// channel. Returns 1 (deleted), 0 (apps left), -1 (no such tenant).
const DELETE_TENANT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('SCARD', KEYS[4]) > 0 then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[2], redis.call('INCR', KEYS[3]))
return 1
";

/// The shared deploy store and this host's mirror of it.
pub struct RedisDeploy {
    client: redis::Client,
    conn: ConnectionManager,
    /// The tree the registry scans for API-deployed tenants.
    mirror: PathBuf,
    /// Blobs fetched (checked against their digest), by digest.
    blobs: PathBuf,
    /// The generation last mirrored.
    seen: std::sync::Mutex<Option<i64>>,
    /// The SHA-256 of each mirror file as last written or read, so a sync compares digests instead
    /// of reading every plugin again.
    mirrored: Arc<std::sync::Mutex<HashMap<PathBuf, String>>>,
    /// One sync at a time.
    syncing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for RedisDeploy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisDeploy").field("mirror", &self.mirror).finish_non_exhaustive()
    }
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(unavailable)`
fn unavailable(e: redis::RedisError) -> DeployError {
    DeployError::Unavailable(format!("the shared deploy store (Redis) cannot be reached: {e}; nothing was changed"))
}

impl RedisDeploy {
    /// Connects to `url`; the mirror and fetched blobs go under `data_dir`.
    pub async fn connect(url: &str, data_dir: &Path) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_secs(10)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_with_config(client.clone(), config).await?;
        let mirror = data_dir.join("deployed");
        // The generation mirrored before a restart: a Redis that has gone back since does not wipe it.
        let seen = std::fs::read_to_string(mirror.join(GENERATION_FILE)).ok().and_then(|t| t.trim().parse().ok());
        Ok(RedisDeploy {
            client,
            conn,
            mirror,
            blobs: data_dir.join("blobs"),
            seen: std::sync::Mutex::new(seen),
            mirrored: Arc::default(),
            syncing: tokio::sync::Mutex::new(()),
        })
    }

    /// The tree the registry scans for API-deployed tenants.
    pub fn mirror(&self) -> &Path {
        &self.mirror
    }

    /// The tenant's `tenant.toml` text, if the tenant exists.
    pub async fn tenant(&self, tenant: &str) -> Result<Option<String>, DeployError> {
        self.conn.clone().get(tenant_key(tenant)).await.map_err(unavailable)
    }

    /// Every tenant.
    pub async fn tenants(&self) -> Result<Vec<String>, DeployError> {
        let mut names: Vec<String> = self.conn.clone().smembers(tenants_key()).await.map_err(unavailable)?;
        names.sort();
        Ok(names)
    }

    /// The tenant's apps.
    pub async fn apps(&self, tenant: &str) -> Result<Vec<String>, DeployError> {
        let mut names: Vec<String> = self.conn.clone().smembers(apps_key(tenant)).await.map_err(unavailable)?;
        names.sort();
        Ok(names)
    }

    /// Creates or replaces a tenant; true when it is new.
    pub async fn put_tenant(&self, tenant: &str, text: &str) -> Result<bool, DeployError> {
        let created: i64 = redis::Script::new(PUT_TENANT)
            .key(tenant_key(tenant))
            .key(tenants_key())
            .key(generation_key())
            .arg(text)
            .arg(tenant)
            .arg(CHANNEL)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(created == 1)
    }

    /// Deletes a tenant without apps.
    pub async fn delete_tenant(&self, tenant: &str) -> Result<(), DeployError> {
        let done: i64 = redis::Script::new(DELETE_TENANT)
            .key(tenant_key(tenant))
            .key(tenants_key())
            .key(generation_key())
            .key(apps_key(tenant))
            .arg(tenant)
            .arg(CHANNEL)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        match done {
            1 => Ok(()),
            0 => Err(DeployError::Conflict("the tenant still has apps; delete them first".into())),
            _ => Err(super::no_tenant(tenant)),
        }
    }

    /// The app's record as stored.
    pub async fn app(&self, tenant: &str, app: &str) -> Result<Loaded, DeployError> {
        let raw: Option<String> = self.conn.clone().get(app_key(tenant, app)).await.map_err(unavailable)?;
        let record = match &raw {
            Some(text) => serde_json::from_str(text)
                .map_err(|e| DeployError::Internal(format!("the app's deploy record does not parse: {e}")))?,
            None => AppRecord::default(),
        };
        Ok(Loaded { record, raw })
    }

    /// Replaces the record `before` with `next` (`None`: deletes the app); false when it moved.
    pub async fn swap_app(
        &self,
        tenant: &str,
        app: &str,
        before: &Loaded,
        next: Option<&AppRecord>,
    ) -> Result<bool, DeployError> {
        let new = match next {
            Some(r) => serde_json::to_string(r).map_err(|e| DeployError::Internal(e.to_string()))?,
            None => String::new(),
        };
        let done: i64 = redis::Script::new(SWAP)
            .key(app_key(tenant, app))
            .key(apps_key(tenant))
            .key(generation_key())
            .key(tenant_key(tenant))
            .arg(before.raw.as_deref().unwrap_or(""))
            .arg(new)
            .arg(app)
            .arg(CHANNEL)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        match done {
            -1 => Err(super::no_tenant(tenant)),
            n => Ok(n == 1),
        }
    }

    /// Keeps a version's bytes (already checked) by digest.
    pub async fn put_blob(&self, tenant: &str, app: &str, hex: &str, bytes: Vec<u8>) -> Result<(), DeployError> {
        let _: () = self.conn.clone().set(blob_key(tenant, app, hex), bytes).await.map_err(unavailable)?;
        Ok(())
    }

    /// Forgets a version's bytes (best effort: an orphan blob only costs space).
    pub async fn delete_blob(&self, tenant: &str, app: &str, hex: &str) {
        let deleted: Result<(), _> = self.conn.clone().del(blob_key(tenant, app, hex)).await;
        if let Err(e) = deleted {
            tracing::warn!(tenant, "deploy: cannot delete the blob {hex}: {e}");
        }
    }

    /// The local copy of a blob, fetched and checked if this host does not have it yet.
    async fn local_blob(&self, tenant: &str, app: &str, hex: &str) -> Result<PathBuf, String> {
        let path = self.blobs.join(format!("{hex}.blob"));
        if path.is_file() {
            return Ok(path);
        }
        let bytes: Option<Vec<u8>> =
            self.conn.clone().get(blob_key(tenant, app, hex)).await.map_err(|e| e.to_string())?;
        let bytes = bytes.ok_or_else(|| format!("the blob of {tenant}'s version {hex} is missing"))?;
        if digest(&bytes) != hex {
            return Err(format!("the blob of {tenant}'s version {hex} does not match its digest: not used"));
        }
        let target = path.clone();
        tokio::task::spawn_blocking(move || write_atomic(&target, &bytes))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(path)
    }

    /// Mirrors the shared deployments into this host's tree and rescans it when anything changed.
    pub async fn sync(&self, registry: &Registry) -> Result<(), String> {
        let _one = self.syncing.lock().await;
        let mut conn = self.conn.clone();
        let generation: Option<i64> = conn.get(generation_key()).await.map_err(|e| e.to_string())?;
        let seen = self.seen.lock().ok().and_then(|s| *s);
        if let Some(seen) = seen
            && generation.is_none_or(|g| g < seen)
        {
            // A Redis that lost its data (restarted without persistence, flushed): what this host
            // mirrors stays served rather than being wiped.
            return Err(format!(
                "the shared deploy store went back from generation {seen} to {generation:?}; keeping the mirror as it is"
            ));
        }
        let names: Vec<String> = conn.smembers(tenants_key()).await.map_err(|e| e.to_string())?;
        let mut wanted: BTreeMap<String, Tenant> = BTreeMap::new();
        let mut previous: Vec<(String, String, String)> = Vec::new();
        for name in names.into_iter().filter(|n| valid_name(n)) {
            let Some(text): Option<String> = conn.get(tenant_key(&name)).await.map_err(|e| e.to_string())? else {
                continue;
            };
            let apps: Vec<String> = conn.smembers(apps_key(&name)).await.map_err(|e| e.to_string())?;
            let apps: Vec<String> = apps.into_iter().filter(|a| valid_name(a)).collect();
            let mut tenant = Tenant { config: text, apps: BTreeMap::new() };
            if !apps.is_empty() {
                let keys: Vec<String> = apps.iter().map(|a| app_key(&name, a)).collect();
                let records: Vec<Option<String>> =
                    redis::cmd("MGET").arg(&keys).query_async(&mut conn).await.map_err(|e| e.to_string())?;
                for (app, raw) in apps.into_iter().zip(records) {
                    let Some(raw) = raw else { continue };
                    let record: AppRecord = match serde_json::from_str(&raw) {
                        Ok(r) => r,
                        Err(e) => {
                            // Served as mirrored until a record this host reads replaces it.
                            tracing::error!(tenant = %name, app, "deploy: the shared record does not parse: {e}");
                            tenant.apps.insert(app, MirroredApp { wasm: Wasm::Keep, config: Keep::Keep });
                            continue;
                        }
                    };
                    let wasm = match record.active_digest() {
                        Some(hex) => match self.local_blob(&name, &app, hex).await {
                            Ok(path) => Wasm::Blob(hex.to_owned(), path),
                            Err(e) => {
                                tracing::error!(tenant = %name, app, "deploy: {e}; keeping what is mirrored");
                                Wasm::Keep
                            }
                        },
                        None => Wasm::Absent,
                    };
                    if let Some(hex) = previous_digest(&record) {
                        previous.push((name.clone(), app.clone(), hex));
                    }
                    tenant.apps.insert(app, MirroredApp { wasm, config: Keep::Set(record.config) });
                }
            }
            wanted.insert(name, tenant);
        }
        let (mirror, mirrored) = (self.mirror.clone(), Arc::clone(&self.mirrored));
        let written = tokio::task::spawn_blocking(move || {
            let mut known = mirrored.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            write_mirror(&mirror, &wanted, &mut known)
        })
        .await
        .map_err(|e| e.to_string())??;
        if let Ok(mut seen) = self.seen.lock() {
            *seen = generation;
        }
        if let Some(g) = generation {
            let _ = write_atomic(&self.mirror.join(GENERATION_FILE), g.to_string().as_bytes());
        }
        if !written.is_empty() {
            for path in &written {
                registry.writes().completed(path);
            }
            registry.reload().await;
            self.keep_pinned(registry, &previous).await;
        }
        Ok(())
    }

    /// Loads, for each app, the version active before the current one when this host does not
    /// have it and calls in progress are pinned to it (they were answered on another host, or
    /// before this one started), so their events run on the version that answered them.
    pub async fn keep_pinned(&self, registry: &Registry, previous: &[(String, String, String)]) {
        for (tenant, app, hex) in previous {
            let snapshot = registry.snapshot();
            let Some((_, served)) = snapshot.app(tenant, app) else { continue };
            if served.version_by_hash(hex).is_some() {
                continue;
            }
            match registry.pins().is_pinned(tenant, app, hex).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::debug!(tenant, app, "deploy: cannot read pins: {e}");
                    continue;
                }
            }
            let loaded = async {
                let blob = self.local_blob(tenant, app, hex).await?;
                let bytes = tokio::fs::read(&blob).await.map_err(|e| e.to_string())?;
                registry.runtime().load(tenant, bytes, hex.clone()).await.map_err(|e| e.to_string())
            };
            match loaded.await {
                Ok(version) => registry.keep_retired(tenant, app, version).await,
                Err(e) => {
                    tracing::warn!(tenant, app, version = %hex, "deploy: cannot load a version calls are pinned to: {e}")
                }
            }
        }
    }

    /// Every app's previously active version: `(tenant, app, digest)`.
    pub async fn previous_versions(&self) -> Result<Vec<(String, String, String)>, String> {
        let mut conn = self.conn.clone();
        let tenants: Vec<String> = conn.smembers(tenants_key()).await.map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for tenant in tenants.into_iter().filter(|n| valid_name(n)) {
            let apps: Vec<String> = conn.smembers(apps_key(&tenant)).await.map_err(|e| e.to_string())?;
            for app in apps.into_iter().filter(|a| valid_name(a)) {
                let raw: Option<String> = conn.get(app_key(&tenant, &app)).await.map_err(|e| e.to_string())?;
                if let Some(hex) =
                    raw.and_then(|r| serde_json::from_str::<AppRecord>(&r).ok()).and_then(|r| previous_digest(&r))
                {
                    out.push((tenant.clone(), app, hex));
                }
            }
        }
        Ok(out)
    }

    /// True when the shared generation is not the one last mirrored.
    async fn behind(&self) -> Result<bool, String> {
        let generation: Option<i64> = self.conn.clone().get(generation_key()).await.map_err(|e| e.to_string())?;
        Ok(self.seen.lock().map_or(true, |s| *s != generation))
    }

    /// Follows the shared store until the process ends: a sync on every published change, and
    /// whenever the generation moved without one.
    pub fn follow(self: Arc<Self>, registry: Arc<Registry>) {
        tokio::spawn(async move {
            let mut complaining = false;
            loop {
                let subscribed = async {
                    let mut pubsub = self.client.get_async_pubsub().await?;
                    pubsub.subscribe(CHANNEL).await?;
                    Ok::<_, redis::RedisError>(pubsub)
                };
                let pubsub = tokio::time::timeout(Duration::from_secs(2), subscribed).await;
                let mut messages = match pubsub {
                    Ok(Ok(p)) => Some(p.into_on_message()),
                    _ => None,
                };
                loop {
                    let message = async {
                        match messages.as_mut() {
                            Some(m) => futures_util::StreamExt::next(m).await.map(|_| ()),
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        got = message => if got.is_none() {
                            // The subscription's connection closed: reconcile, then subscribe again.
                            messages = None;
                        },
                        () = tokio::time::sleep(RECONCILE_EVERY) => {}
                    }
                    let outcome = match self.behind().await {
                        Ok(false) => Ok(()),
                        Ok(true) => self.sync(&registry).await,
                        Err(e) => Err(e),
                    };
                    match outcome {
                        Ok(()) if complaining => {
                            tracing::info!("deploy: the shared deploy store is reachable again");
                            complaining = false;
                        }
                        Ok(()) => {}
                        Err(e) if !complaining => {
                            tracing::warn!(
                                "deploy: cannot follow the shared deploy store ({e}); serving what is mirrored"
                            );
                            complaining = true;
                        }
                        Err(_) => {}
                    }
                    if messages.is_none() {
                        // Not subscribed: try again (at most once per reconcile period).
                        break;
                    }
                }
            }
        });
    }
}

/// The digest of the version active before the current one, if it is still a version.
fn previous_digest(record: &AppRecord) -> Option<String> {
    let active = record.active?;
    let before = record.history.iter().rev().find(|n| **n != active)?;
    record.versions.iter().find(|v| v.version == *before).map(|v| v.digest.clone())
}

/// One tenant as the mirror should hold it: its config, and its apps.
struct Tenant {
    config: String,
    apps: BTreeMap<String, MirroredApp>,
}

/// An app as the mirror should hold it.
struct MirroredApp {
    wasm: Wasm,
    config: Keep<Option<String>>,
}

/// The active version of a mirrored app.
enum Wasm {
    /// None is active.
    Absent,
    /// This digest, from this local blob.
    Blob(String, PathBuf),
    /// Whatever is mirrored now (its record or blob could not be read).
    Keep,
}

/// A value to write, or what is there now.
enum Keep<T> {
    Set(T),
    Keep,
}

/// What one mirror file should hold.
enum Want {
    Absent,
    Text(String),
    /// A blob, by digest.
    Blob(String, PathBuf),
    /// Left as it is.
    Keep,
}

/// Makes `mirror` hold exactly `wanted`, writing only what differs (by digest: `known` remembers the
/// digest of every file written or read); returns the paths written or removed.
fn write_mirror(
    mirror: &Path,
    wanted: &BTreeMap<String, Tenant>,
    known: &mut HashMap<PathBuf, String>,
) -> Result<Vec<PathBuf>, String> {
    let io = |what: &str, p: &Path, e: std::io::Error| format!("cannot {what} {}: {e}", p.display());
    std::fs::create_dir_all(mirror).map_err(|e| io("create", mirror, e))?;
    let mut written = Vec::new();
    for (name, tenant) in wanted {
        let dir = mirror.join(name);
        std::fs::create_dir_all(&dir).map_err(|e| io("create", &dir, e))?;
        let text = |t: &Option<String>| t.clone().filter(|t| !t.trim().is_empty()).map_or(Want::Absent, Want::Text);
        let mut files: BTreeMap<PathBuf, Want> = BTreeMap::new();
        files.insert(dir.join(TENANT_FILE), text(&Some(tenant.config.clone())));
        for (app, mirrored) in &tenant.apps {
            let wasm = match &mirrored.wasm {
                Wasm::Absent => Want::Absent,
                Wasm::Blob(hex, path) => Want::Blob(hex.clone(), path.clone()),
                Wasm::Keep => Want::Keep,
            };
            files.insert(dir.join(format!("{app}.wasm")), wasm);
            let config = match &mirrored.config {
                Keep::Set(c) => text(c),
                Keep::Keep => Want::Keep,
            };
            files.insert(dir.join(format!("{app}.toml")), config);
        }
        // Files of apps no longer there.
        for entry in std::fs::read_dir(&dir).map_err(|e| io("read", &dir, e))?.filter_map(Result::ok) {
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "wasm" || x == "toml") {
                files.entry(path).or_insert(Want::Absent);
            }
        }
        // Configs before plugins, so a version goes live with its config.
        let mut paths: Vec<&PathBuf> = files.keys().collect();
        paths.sort_by_key(|p| p.extension().is_some_and(|x| x == "wasm"));
        for path in paths {
            if matches!(files[path], Want::Keep) {
                continue;
            }
            let have = match known.get(path) {
                Some(d) => Some(d.clone()),
                None => std::fs::read(path).ok().map(|b| digest(&b)),
            };
            let want = match &files[path] {
                Want::Absent | Want::Keep => None,
                Want::Text(t) => Some(digest(t.as_bytes())),
                Want::Blob(hex, _) => Some(hex.clone()),
            };
            if have == want {
                if let Some(d) = want {
                    known.insert(path.clone(), d);
                }
                continue;
            }
            match &files[path] {
                Want::Keep => {}
                Want::Absent => {
                    std::fs::remove_file(path).map_err(|e| io("remove", path, e))?;
                    known.remove(path);
                }
                Want::Text(t) => write_atomic(path, t.as_bytes()).map_err(|e| io("write", path, e))?,
                Want::Blob(_, blob) => {
                    let bytes = std::fs::read(blob).map_err(|e| io("read", blob, e))?;
                    write_atomic(path, &bytes).map_err(|e| io("write", path, e))?;
                }
            }
            if let Some(d) = want {
                known.insert(path.clone(), d);
            }
            written.push(path.clone());
        }
    }
    for entry in std::fs::read_dir(mirror).map_err(|e| io("read", mirror, e))?.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().is_ok_and(|t| t.is_dir()) && !wanted.contains_key(&name) {
            std::fs::remove_dir_all(entry.path()).map_err(|e| io("remove", &entry.path(), e))?;
            known.retain(|p, _| !p.starts_with(entry.path()));
            written.push(entry.path());
        }
    }
    Ok(written)
}
