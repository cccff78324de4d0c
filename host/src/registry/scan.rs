//! Reading the plugin tree into the next [`Snapshot`], reusing what did not change.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{App, Snapshot, Tenant};
use crate::config::{AppConfig, MAX_PLUGIN_BYTES, TenantConfig};
use crate::runtime::Runtime;

/// Name of the per-tenant configuration file.
pub const TENANT_FILE: &str = "tenant.toml";

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

/// Reads the tree under `root` into a new snapshot.
pub(super) async fn scan(root: &Path, runtime: &Arc<Runtime>, previous: &Snapshot) -> Snapshot {
    let mut tenants = BTreeMap::new();
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!("cannot read the plugin directory {}: {e}", root.display());
            return previous.clone();
        }
    };
    let mut dirs: Vec<(String, std::path::PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok().map(|n| (n, e.path())))
        .filter(|(n, _)| valid_name(n))
        .collect();
    dirs.sort();
    for (name, dir) in dirs {
        let before = previous.tenants.get(&name);
        let tenant = scan_tenant(&name, &dir, runtime, before.map(Arc::as_ref)).await;
        tenants.insert(name, Arc::new(tenant));
    }
    Snapshot { tenants }
}

async fn scan_tenant(name: &str, dir: &Path, runtime: &Arc<Runtime>, before: Option<&Tenant>) -> Tenant {
    let file = dir.join(TENANT_FILE);
    let (config, config_error, unusable) = match std::fs::read_to_string(&file) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Arc::new(TenantConfig::default()), None, false),
        Err(e) => keep_tenant(before, format!("{}: cannot read: {e}", file.display())),
        Ok(text) => match TenantConfig::parse(&file, &text) {
            Ok(c) => (Arc::new(c), None, false),
            Err(e) => keep_tenant(before, e.to_string()),
        },
    };
    if let Some(e) = &config_error {
        tracing::error!(tenant = name, "{e}");
    }
    let ceilings = config.ceilings();
    let mut apps = BTreeMap::new();
    let mut wasm_files: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
                .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(|s| (s.to_owned(), p.clone())))
                .filter(|(s, _)| valid_name(s))
                .collect()
        })
        .unwrap_or_default();
    wasm_files.sort();
    for (app_name, wasm_path) in wasm_files {
        let prev = before.and_then(|t| t.apps.get(&app_name)).map(Arc::as_ref);
        let app = scan_app(name, &app_name, &wasm_path, &ceilings, runtime, prev).await;
        apps.insert(app_name, Arc::new(app));
    }
    Tenant { name: name.to_owned(), config, config_error, unusable, apps }
}

fn keep_tenant(before: Option<&Tenant>, error: String) -> (Arc<TenantConfig>, Option<String>, bool) {
    match before {
        Some(t) if !t.unusable => {
            (Arc::clone(&t.config), Some(format!("{error} (keeping the previous tenant.toml)")), false)
        }
        _ => (Arc::new(TenantConfig::default()), Some(error), true),
    }
}

async fn scan_app(
    tenant: &str,
    name: &str,
    wasm_path: &Path,
    ceilings: &crate::config::Ceilings,
    runtime: &Arc<Runtime>,
    prev: Option<&App>,
) -> App {
    let mut errors = Vec::new();
    let toml_path = wasm_path.with_extension("toml");
    let config = match std::fs::read_to_string(&toml_path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Arc::new(AppConfig::default()),
        Err(e) => {
            errors.push(format!("{}: cannot read: {e}", toml_path.display()));
            prev.map_or_else(|| Arc::new(AppConfig::default()), |p| Arc::clone(&p.config))
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
                prev.map_or_else(|| Arc::new(AppConfig::default()), |p| Arc::clone(&p.config))
            }
        },
    };
    let mut version = prev.and_then(|p| p.version.clone());
    let mut rejected = None;
    let stamp = FileStamp::of(wasm_path);
    // An untouched file is neither read nor hashed again: a rescan costs a stat per plugin.
    let unchanged =
        stamp.is_some() && prev.is_some_and(|p| p.stamp == stamp && (p.version.is_some() || p.rejected.is_some()));
    if unchanged {
        if let Some((hash, e)) = prev.and_then(|p| p.rejected.clone()) {
            errors.push(e.clone());
            rejected = Some((hash, e));
        }
    } else {
        match read_plugin(wasm_path) {
            Err(e) => errors.push(e),
            Ok(wasm) => {
                let hash = hex(&Sha256::digest(&wasm));
                let rejected_before = prev.and_then(|p| p.rejected.as_ref()).filter(|(h, _)| *h == hash);
                // A version swapped back in may still be loaded, retired, for its pinned calls.
                let loaded = prev.and_then(|p| p.version_by_hash(&hash));
                if let Some((_, e)) = rejected_before {
                    // The same bytes failed before: report it again without recompiling.
                    errors.push(e.clone());
                    rejected = Some((hash, e.clone()));
                } else if let Some(v) = loaded {
                    version = Some(v);
                } else {
                    match runtime.load(wasm, hash.clone()).await {
                        Ok(v) => {
                            tracing::info!(
                                tenant,
                                app = name,
                                version = %v.hash,
                                compile_ms = v.compile_time.as_secs_f64() * 1000.0,
                                from_cache = v.from_cache,
                                "plugin loaded"
                            );
                            version = Some(v);
                        }
                        Err(e) => {
                            let kept = version.as_ref().map_or_else(
                                || " (no version of this app is live)".to_owned(),
                                |v| format!(" (keeping version {})", &v.hash[..12.min(v.hash.len())]),
                            );
                            let e = format!("{}: {e}{kept}", wasm_path.display());
                            errors.push(e.clone());
                            rejected = Some((hash, e));
                        }
                    }
                }
            }
        }
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
    App { name: name.to_owned(), config, version, last_error, rejected, retired, stamp }
}

/// What identifies a file's contents without reading it: size, modification time and, on Unix, the
/// inode (a publish by rename is a new inode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
}

impl FileStamp {
    fn of(path: &Path) -> Option<Self> {
        let meta = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some(FileStamp { len: meta.len(), modified: meta.modified().ok(), inode })
    }
}

fn read_plugin(path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    if meta.len() > MAX_PLUGIN_BYTES {
        return Err(format!(
            "{}: {} bytes is over the {MAX_PLUGIN_BYTES}-byte plugin limit",
            path.display(),
            meta.len()
        ));
    }
    std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))
}
