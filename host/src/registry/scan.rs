//! Reading the plugin tree into the next [`Snapshot`], reusing what did not change.
//!
//! The tree is operator and tenant input, so it is read defensively: only regular files are read
//! (a FIFO, device or socket named `*.wasm` or `*.toml` is refused without blocking), with a bounded
//! read off the async runtime under a timeout; a symlink is followed only when it stays inside its
//! tenant's own folder; a tenant folder that is a symlink is not served. Everything skipped is
//! reported in the admin view.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{App, Snapshot, Tenant};
use crate::config::{AppConfig, MAX_PLUGIN_BYTES, TenantConfig};
use crate::runtime::calls::ApplicationKey;
use crate::runtime::{LoadError, Runtime, Version};

/// Name of the per-tenant configuration file.
pub const TENANT_FILE: &str = "tenant.toml";
/// App names that are not served: `tenant` would make `tenant.toml` its own configuration.
pub const RESERVED_APP_NAMES: &[&str] = &["tenant"];
/// Largest configuration file read.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;
/// Longest a single file read may take before it is abandoned (a stalled disk or mount).
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// True for names usable as a tenant or app: letters, digits, `-`, `_` and `.`, not starting with `.`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of files already read, by stamp: a hard link or a copy of a served plugin that kept
/// its stamp is neither read nor hashed again, and shares the loaded version.
pub(super) type Digests = std::sync::Mutex<std::collections::HashMap<FileStamp, String>>;

/// How long a plugin file must have been left alone before a scan reads it, unless the watcher saw
/// it completed (closed after writing, or renamed into place).
pub const SETTLE: Duration = Duration::from_millis(250);

/// How a file being written is told from a finished one. The watcher reports each `.wasm` it sees
/// written to ([`Writes::writing`]) and each it sees closed after writing or renamed into place
/// ([`Writes::completed`]). A scan reads a changed `.wasm` only when no write is open on it and it
/// was either completed or last modified at least [`SETTLE`] ago (a file written before the host
/// started, a hard link); otherwise the app keeps its version and the file is read at a later scan
/// ([`Writes::take_deferred`]). So an atomic rename is served at once, and a file still being
/// written never goes live, however its writer pauses.
#[derive(Debug, Default)]
pub struct Writes {
    open: std::sync::Mutex<std::collections::HashSet<PathBuf>>,
    done: std::sync::Mutex<std::collections::HashSet<PathBuf>>,
    deferred: std::sync::atomic::AtomicBool,
    settling: std::sync::atomic::AtomicBool,
}

impl Writes {
    /// The watcher saw `path` written to.
    pub fn writing(&self, path: &Path) {
        if let Ok(mut open) = self.open.lock() {
            open.insert(path.to_path_buf());
        }
        if let Ok(mut done) = self.done.lock() {
            done.remove(path);
        }
    }

    /// The watcher saw `path` removed or renamed away: nothing is known of what comes there next.
    pub fn gone(&self, path: &Path) {
        if let Ok(mut open) = self.open.lock() {
            open.remove(path);
        }
        if let Ok(mut done) = self.done.lock() {
            done.remove(path);
        }
    }

    /// The watcher saw `path` closed after writing, or renamed into place.
    pub fn completed(&self, path: &Path) {
        if let Ok(mut open) = self.open.lock() {
            open.remove(path);
        }
        if let Ok(mut done) = self.done.lock() {
            done.insert(path.to_path_buf());
        }
    }

    /// A file appeared that the next settle check should look at.
    pub fn look_later(&self) {
        self.deferred.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Forgets completed files that are no longer there (a completion mark stays until the file is
    /// written to again, removed or renamed away, so later scans read it without waiting).
    pub fn prune(&self) {
        if let Ok(mut done) = self.done.lock() {
            done.retain(|p| p.exists());
        }
    }

    /// True (once) when a scan left a file for later.
    pub fn take_deferred(&self) -> bool {
        self.deferred.swap(false, std::sync::atomic::Ordering::Relaxed)
    }

    /// True (once) when a scan left a file for later only because it was modified less than
    /// [`SETTLE`] ago (it will be ready soon, unlike a file a writer keeps open).
    pub fn take_settling(&self) -> bool {
        self.settling.swap(false, std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether a scan may read `path` now. (A file open for writing needs no rescan to be looked at
    /// again: its close makes one.)
    fn ready(&self, path: &Path) -> bool {
        if self.open.lock().is_ok_and(|o| o.contains(path)) {
            return false;
        }
        if self.done.lock().is_ok_and(|d| d.contains(path)) {
            return true;
        }
        let age = std::fs::metadata(path).and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
        let settled = age.is_none_or(|a| a >= SETTLE);
        if !settled {
            self.deferred.store(true, std::sync::atomic::Ordering::Relaxed);
            self.settling.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        settled
    }
}

/// Reads the trees under `roots` into a new snapshot.
pub(super) async fn scan(
    roots: &[PathBuf],
    runtime: &Arc<Runtime>,
    previous: &Snapshot,
    digests: &Digests,
    writes: &Writes,
) -> Snapshot {
    let mut tenants = BTreeMap::new();
    let mut ignored = Vec::new();
    let mut dirs: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (i, root) in roots.iter().enumerate() {
        let entries = match std::fs::read_dir(root) {
            Ok(e) => e,
            // The deploy sync's trees appear with their first tenant.
            Err(e) if i > 0 && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                tracing::error!("cannot read the plugin directory {}: {e}", root.display());
                return previous.clone();
            }
        };
        for entry in entries.filter_map(Result::ok) {
            let Ok(kind) = entry.file_type() else { continue };
            let name = entry.file_name().to_string_lossy().into_owned();
            if kind.is_symlink() {
                ignored
                    .push(format!("{name}: a tenant folder that is a symlink is not served (make it a real folder)"));
                continue;
            }
            if !kind.is_dir() {
                continue;
            }
            if !valid_name(&name) {
                if !name.starts_with('.') {
                    ignored.push(format!("{name}: not a usable tenant name ({NAME_RULE})"));
                }
                continue;
            }
            if let Some(first) = dirs.get(&name) {
                ignored.push(format!(
                    "{}: not served: the tenant `{name}` is served from {}",
                    entry.path().display(),
                    first.display()
                ));
                continue;
            }
            dirs.insert(name, entry.path());
        }
    }
    for (name, dir) in dirs {
        let before = previous.tenants.get(&name);
        let tenant = scan_tenant(&name, &dir, runtime, before.map(Arc::as_ref), &mut ignored, (digests, writes)).await;
        tenants.insert(name, Arc::new(tenant));
    }
    // A tenant folder deleted or renamed: its apps' calls in progress keep their versions until they
    // end, as for a replaced file.
    for (name, before) in &previous.tenants {
        if tenants.contains_key(name) {
            continue;
        }
        let apps: BTreeMap<String, Arc<App>> =
            before.apps.iter().filter_map(|(n, a)| departed(a).map(|a| (n.clone(), Arc::new(a)))).collect();
        if !apps.is_empty() {
            tenants.insert(name.clone(), Arc::new(Tenant { apps, removed: true, ..(**before).clone() }));
        }
    }
    ignored.sort();
    Snapshot { tenants, ignored }
}

/// What a usable tenant or app name is, for messages.
pub const NAME_RULE: &str = "1 to 128 ASCII letters, digits, `-`, `_` or `.`, not starting with `.`";

async fn scan_tenant(
    name: &str,
    dir: &Path,
    runtime: &Arc<Runtime>,
    before: Option<&Tenant>,
    ignored: &mut Vec<String>,
    shared: (&Digests, &Writes),
) -> Tenant {
    let file = dir.join(TENANT_FILE);
    let (config, mut config_error, unusable) = match read_settled(dir, &file, shared.1).await {
        Err(ReadError::Missing) => (Arc::new(TenantConfig::default()), None, false),
        Err(ReadError::Refused(e)) => keep_tenant(before, format!("{}: {e}", file.display())),
        Ok(text) => match TenantConfig::parse(&file, &text) {
            Ok(c) => (Arc::new(c), None, false),
            Err(e) => keep_tenant(before, e.to_string()),
        },
    };
    let vonage = match vonage_key(dir, &file, &config, before, shared.1).await {
        Ok(key) => key,
        Err((kept, e)) => {
            config_error = Some(config_error.map_or(e.clone(), |c| format!("{c}; {e}")));
            kept
        }
    };
    if let Some(e) = &config_error {
        tracing::error!(tenant = name, "{e}");
    }
    let ceilings = config.ceilings();
    let mut apps = BTreeMap::new();
    let mut wasm_files: Vec<(String, PathBuf)> = Vec::new();
    for path in std::fs::read_dir(dir).into_iter().flatten().filter_map(Result::ok).map(|e| e.path()) {
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let Some(ext) = path.extension().map(|x| x.to_string_lossy().into_owned()) else { continue };
        if !ext.eq_ignore_ascii_case("wasm") {
            continue;
        }
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if ext != "wasm" {
            ignored.push(format!("{name}/{file_name}: not served (the extension must be `.wasm`, in lower case)"));
        } else if !valid_name(&stem) {
            ignored.push(format!("{name}/{file_name}: not served: not a usable app name ({NAME_RULE})"));
        } else if RESERVED_APP_NAMES.contains(&stem.as_str()) {
            ignored.push(format!("{name}/{file_name}: not served: `{stem}` is reserved (its `.toml` is the tenant's)"));
        } else {
            wasm_files.push((stem, path));
        }
    }
    wasm_files.sort();
    for (app_name, wasm_path) in wasm_files {
        let prev = before.and_then(|t| t.apps.get(&app_name)).map(Arc::as_ref);
        let app = scan_app(name, &app_name, dir, &wasm_path, &ceilings, runtime, prev, shared).await;
        apps.insert(app_name, Arc::new(app));
    }
    // Apps whose file is gone stay, answering nothing new, while calls may be pinned to them.
    if let Some(before) = before {
        for (app_name, app) in &before.apps {
            if !apps.contains_key(app_name)
                && let Some(kept) = departed(app)
            {
                apps.insert(app_name.clone(), Arc::new(kept));
            }
        }
    }
    Tenant { name: name.to_owned(), config, config_error, unusable, vonage, apps, removed: false }
}

/// The key of the tenant's `[vonage]` application: the one already loaded when the file is the
/// same, else read and checked. When it cannot be used, why, with the previous key of the same
/// application kept.
async fn vonage_key(
    dir: &Path,
    file: &Path,
    config: &TenantConfig,
    before: Option<&Tenant>,
    writes: &Writes,
) -> Result<Option<Arc<ApplicationKey>>, (Option<Arc<ApplicationKey>>, String)> {
    let Some(app) = &config.vonage else { return Ok(None) };
    let previous = before.and_then(|t| t.vonage.clone());
    let kept = previous.clone().filter(|k| k.application_id() == app.application_id);
    let path = dir.join(&app.private_key_file);
    let refused = |why: String| {
        let keeping = if kept.is_some() { " (keeping the key loaded before)" } else { "" };
        (kept.clone(), format!("{}: `vonage.private_key_file` {}: {why}{keeping}", file.display(), path.display()))
    };
    if path.exists() && !writes.ready(&path) {
        return Err(refused("is still being written".into()));
    }
    // The key may sit in a subfolder: a symlinked folder on the way must not lead to another
    // tenant's key (the read below checks only the file itself).
    if let (Ok(real), Ok(home)) = (std::fs::canonicalize(&path), std::fs::canonicalize(dir))
        && !real.starts_with(&home)
    {
        return Err(refused("leads out of the tenant's folder: not read".into()));
    }
    let pem = match read_bounded(dir, &path, MAX_CONFIG_BYTES).await {
        Ok((bytes, _)) => bytes,
        Err(ReadError::Missing) => return Err(refused("does not exist".into())),
        Err(ReadError::Refused(e)) => return Err(refused(e)),
    };
    if let Some(k) = previous.filter(|k| k.same_as(&app.application_id, &pem)) {
        return Ok(Some(k));
    }
    match ApplicationKey::from_pem(&app.application_id, &pem) {
        Ok(k) => Ok(Some(Arc::new(k))),
        Err(e) => Err(refused(e.to_string())),
    }
}

fn keep_tenant(before: Option<&Tenant>, error: String) -> (Arc<TenantConfig>, Option<String>, bool) {
    match before {
        Some(t) if !t.unusable => {
            (Arc::clone(&t.config), Some(format!("{error} (keeping the previous tenant.toml)")), false)
        }
        _ => (Arc::new(TenantConfig::default()), Some(error), true),
    }
}

#[allow(clippy::too_many_arguments)] // one app of one tenant, and the scan's shared parts
async fn scan_app(
    tenant: &str,
    name: &str,
    dir: &Path,
    wasm_path: &Path,
    ceilings: &crate::config::Ceilings,
    runtime: &Arc<Runtime>,
    prev: Option<&App>,
    (digests, writes): (&Digests, &Writes),
) -> App {
    let mut errors = Vec::new();
    let toml_path = wasm_path.with_extension("toml");
    // The last good configuration, when the file cannot be used now: within the tenant's current
    // outbound cap, which may have narrowed since.
    let kept = || {
        prev.map_or_else(
            || Arc::new(AppConfig::default()),
            |p| {
                let outbound = p.config.outbound.clamped(ceilings);
                if outbound == *p.config.outbound {
                    Arc::clone(&p.config)
                } else {
                    Arc::new(AppConfig { outbound: Arc::new(outbound), ..(*p.config).clone() })
                }
            },
        )
    };
    let config = match read_settled(dir, &toml_path, writes).await {
        Err(ReadError::Missing) => Arc::new(AppConfig::default()),
        Err(ReadError::Refused(e)) => {
            errors.push(format!("{}: {e}", toml_path.display()));
            kept()
        }
        Ok(text) => match AppConfig::parse(&toml_path, &text, ceilings) {
            Ok(c) => {
                let c = Arc::new(c);
                if prev.is_some_and(|p| p.config != c) {
                    tracing::info!(tenant, app = name, "configuration reloaded from {}", toml_path.display());
                }
                c
            }
            Err(e) => {
                errors.push(e.to_string());
                kept()
            }
        },
    };
    let mut version = prev.and_then(|p| p.version.clone());
    // A version this scan found for the file, before the app's permission is checked.
    let mut fresh: Option<Arc<Version>> = None;
    let mut rejected = None;
    let mut stamp = FileStamp::of(wasm_path);
    // An untouched file is neither read nor hashed again: a rescan costs a stat per plugin.
    // A refusal is looked at again when the configuration changed (it may now allow what the
    // plugin imports).
    let config_changed = prev.is_some_and(|p| p.config != config);
    let unchanged = stamp.is_some()
        && prev.is_some_and(|p| {
            p.stamp == stamp
                && (p.version.is_some() || p.rejected.is_some())
                && !(config_changed && p.rejected.is_some())
        });
    // Another app's file with this stamp (a hard link) was read already: if its version is loaded,
    // this app shares it without reading a byte. Only for a regular file: a symlink always goes
    // through the read, which confines it to its tenant's folder.
    // (The stamp is taken without following links, so it is always the file at this path.)
    let shared = (!unchanged).then(|| shared_version(wasm_path, prev, runtime, digests)).flatten();
    if unchanged {
        if let Some((hash, e)) = prev.and_then(|p| p.rejected.clone()) {
            errors.push(e.clone());
            rejected = Some((hash, e));
        }
    } else if let Some(v) = shared {
        tracing::debug!(tenant, app = name, version = %v.hash, "plugin shares a loaded version");
        fresh = Some(v);
    } else if !writes.ready(wasm_path) {
        // Still being written (or just written, by no one the watcher saw finish): read later.
        tracing::debug!(tenant, app = name, "{} is not settled yet", wasm_path.display());
        stamp = None;
    } else {
        match read_bounded(dir, wasm_path, MAX_PLUGIN_BYTES).await {
            Err(ReadError::Missing) => errors.push(format!("{}: the file is gone", wasm_path.display())),
            Err(ReadError::Refused(e)) => errors.push(format!("{}: {e}", wasm_path.display())),
            Ok((wasm, read_stamp)) => {
                let hash = hex(&Sha256::digest(&wasm));
                if let (Some(s), Ok(mut d)) = (read_stamp, digests.lock()) {
                    d.insert(s, hash.clone());
                }
                let rejected_before =
                    prev.and_then(|p| p.rejected.as_ref()).filter(|(h, _)| *h == hash && !config_changed);
                // A version swapped back in may still be loaded, retired, for its pinned calls.
                let loaded = prev.and_then(|p| p.version_by_hash(&hash));
                if let Some((_, e)) = rejected_before {
                    // The same bytes failed before: report it again without recompiling.
                    errors.push(e.clone());
                    rejected = Some((hash, e.clone()));
                } else if let Some(v) = loaded {
                    fresh = Some(v);
                } else {
                    match runtime.load(tenant, wasm, hash.clone()).await {
                        Ok(v) => {
                            tracing::info!(
                                tenant,
                                app = name,
                                version = %v.hash,
                                compile_ms = v.compile_time.as_secs_f64() * 1000.0,
                                from_cache = v.from_cache,
                                compiler = v.compiler().name(),
                                "plugin loaded"
                            );
                            fresh = Some(v);
                        }
                        Err(e) => {
                            let message = format!("{}: {e}{}", wasm_path.display(), keeping(version.as_ref()));
                            errors.push(message.clone());
                            match e {
                                LoadError::Refused(_) => rejected = Some((hash, message)),
                                // Read again at the next rescan, when the tenant may compile again.
                                LoadError::Deferred(_) => stamp = None,
                            }
                        }
                    }
                }
            }
        }
    }
    // One gate for every way a new version arrives (shared with another app, retired, loaded): a
    // plugin importing wasi:http serves only an app that allows an outbound host.
    if let Some(v) = fresh {
        if v.may_serve(&config) {
            version = Some(v);
        } else {
            let message = format!("{}{}", not_allowed_http(wasm_path, &toml_path), keeping(version.as_ref()));
            errors.push(message.clone());
            rejected = Some((v.hash.clone(), message));
        }
    } else if rejected.is_none() && version.as_ref().is_some_and(|v| !v.may_serve(&config)) {
        // A live version whose app no longer allows the HTTP it imports keeps serving; its requests
        // are refused (the policy is read on every request).
        errors.push(format!("{}; its requests are refused until then", not_allowed_http(wasm_path, &toml_path)));
    }
    // A replaced version stays loaded, retired, while calls may be pinned to it.
    let mut retired = prev.map(|p| p.retired.clone()).unwrap_or_default();
    if let (Some(old), Some(new)) = (prev.and_then(|p| p.version.as_ref()), version.as_ref())
        && old.hash != new.hash
    {
        retired.retain(|(v, _)| v.hash != new.hash);
        retired.push((Arc::clone(old), std::time::SystemTime::now()));
    }
    let last_error = (!errors.is_empty()).then(|| errors.join("; "));
    // Logged once when it appears, not again on every rescan.
    if let Some(e) = &last_error
        && prev.is_none_or(|p| p.last_error.as_ref() != Some(e))
    {
        tracing::error!(tenant, app = name, "load failed: {e}");
    }
    let inflight = prev.map_or_else(Default::default, |p| Arc::clone(&p.inflight));
    App { name: name.to_owned(), config, version, last_error, rejected, retired, stamp, removed: false, inflight }
}

/// Why a plugin importing `wasi:http` does not serve an app that allows no outbound host.
fn not_allowed_http(wasm_path: &Path, toml_path: &Path) -> String {
    format!(
        "{}: the plugin imports wasi:http (outgoing HTTP requests), which this app does not allow; list the hosts it may reach in `allowed_outbound_hosts` in {}",
        wasm_path.display(),
        toml_path.display()
    )
}

/// What a refused file leaves live, said after the refusal.
fn keeping(live: Option<&Arc<Version>>) -> String {
    live.map_or_else(
        || " (no version of this app is live)".to_owned(),
        |v| format!(" (keeping version {})", &v.hash[..12.min(v.hash.len())]),
    )
}

/// An app whose file is gone: its live version joins the retired ones (kept while pinned calls may
/// need them); `None` when nothing is left to keep.
fn departed(app: &App) -> Option<App> {
    let mut retired = app.retired.clone();
    if let Some(v) = &app.version {
        retired.push((Arc::clone(v), std::time::SystemTime::now()));
    }
    if retired.is_empty() {
        return None;
    }
    if !app.removed {
        tracing::info!(app = %app.name, "app removed; its versions stay for calls in progress");
    }
    Some(App { version: None, retired, removed: true, stamp: None, rejected: None, ..app.clone() })
}

/// The loaded version of the regular file at `path` when a file with its stamp was read before
/// (the stamp is taken without following links, so it is always the file at this path).
fn shared_version(path: &Path, prev: Option<&App>, runtime: &Runtime, digests: &Digests) -> Option<Arc<Version>> {
    let own = std::fs::symlink_metadata(path).ok().filter(|m| m.file_type().is_file())?;
    let hash = digests.lock().ok()?.get(&FileStamp::from_meta(&own)).cloned()?;
    prev.and_then(|p| p.version_by_hash(&hash)).or_else(|| runtime.loaded(&hash))
}

/// What identifies a file's contents without reading it: size, modification time and, on Unix, the
/// device, inode and status-change time (a publish by rename is a new inode; hard links share one;
/// the change time cannot be set back by a writer, unlike the modification time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileStamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
    device: u64,
    changed: (i64, i64),
}

impl FileStamp {
    fn of(path: &Path) -> Option<Self> {
        std::fs::metadata(path).ok().map(|m| Self::from_meta(&m))
    }

    fn from_meta(meta: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        let (inode, device, changed) = {
            use std::os::unix::fs::MetadataExt;
            (meta.ino(), meta.dev(), (meta.ctime(), meta.ctime_nsec()))
        };
        #[cfg(not(unix))]
        let (inode, device, changed) = (0, 0, (0, 0));
        FileStamp { len: meta.len(), modified: meta.modified().ok(), inode, device, changed }
    }
}

/// Why a file of the tree was not read.
#[derive(Debug)]
enum ReadError {
    /// There is no such file (an optional file may be absent).
    Missing,
    /// It exists but is not read, and why.
    Refused(String),
}

/// [`read_text`] for a file the watcher does not see being written (see [`Writes`]): one still being
/// written is refused for now: its tenant or app keeps the previous configuration (a new tenant is
/// not served yet, a new app runs with the defaults) and a later scan reads it.
async fn read_settled(dir: &Path, path: &Path, writes: &Writes) -> Result<String, ReadError> {
    if path.exists() && !writes.ready(path) {
        return Err(ReadError::Refused("is still being written; read again once it is complete".into()));
    }
    read_text(dir, path).await
}

/// Reads a configuration file as UTF-8 text, like [`read_bounded`].
async fn read_text(dir: &Path, path: &Path) -> Result<String, ReadError> {
    let (bytes, _) = read_bounded(dir, path, MAX_CONFIG_BYTES).await?;
    String::from_utf8(bytes).map_err(|_| ReadError::Refused("is not UTF-8 text".into()))
}

/// Reads `path` inside the tenant folder `dir`: only a regular file whose real location is inside
/// `dir`, at most `max` bytes, off the async runtime and under [`READ_TIMEOUT`]. With the bytes, the
/// stamp of the very file they were read from (taken on the open file), when `path` is a regular
/// file and not a symlink: what the digest cache may remember them under.
async fn read_bounded(dir: &Path, path: &Path, max: u64) -> Result<(Vec<u8>, Option<FileStamp>), ReadError> {
    let (dir, path) = (dir.to_path_buf(), path.to_path_buf());
    let task = tokio::task::spawn_blocking(move || read_bounded_blocking(&dir, &path, max));
    match tokio::time::timeout(READ_TIMEOUT, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(ReadError::Refused(format!("the read failed: {e}"))),
        Err(_) => Err(ReadError::Refused(format!("not read: the read took longer than {READ_TIMEOUT:?}"))),
    }
}

fn read_bounded_blocking(dir: &Path, path: &Path, max: u64) -> Result<(Vec<u8>, Option<FileStamp>), ReadError> {
    let refused = |m: String| Err(ReadError::Refused(m));
    let link = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ReadError::Missing),
        Err(e) => return refused(format!("cannot read: {e}")),
        Ok(m) => m,
    };
    if link.file_type().is_symlink() {
        // Followed only when it stays inside this tenant's own folder.
        let (Ok(real), Ok(home)) = (std::fs::canonicalize(path), std::fs::canonicalize(dir)) else {
            return refused("is a symlink to nothing (dangling)".into());
        };
        if !real.starts_with(&home) {
            return refused("is a symlink out of the tenant's folder: not followed".into());
        }
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        // Opening a FIFO without O_NONBLOCK waits for a writer; with it, the check below refuses it.
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| ReadError::Refused(format!("cannot open: {e}")))?;
    let meta = file.metadata().map_err(|e| ReadError::Refused(format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return refused("is not a regular file (a FIFO, device or socket is never read)".into());
    }
    if meta.len() > max {
        return refused(format!("{} bytes is over the {max}-byte limit", meta.len()));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    (&file).take(max + 1).read_to_end(&mut bytes).map_err(|e| ReadError::Refused(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > max {
        return refused(format!("grew past the {max}-byte limit while being read"));
    }
    // Taken on the open file after the read: a file changed meanwhile has another stamp (its
    // modification and change times moved), so what is remembered is what was read.
    let read_stamp = file.metadata().ok().filter(|_| link.file_type().is_file()).map(|m| FileStamp::from_meta(&m));
    Ok((bytes, read_stamp))
}
