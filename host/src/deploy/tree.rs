//! Deployments kept in the plugin tree (the embedded default).
//!
//! ```text
//! <root>/<tenant>/tenant.toml            the tenant's configuration (absent: none)
//! <root>/<tenant>/<app>.wasm             the active version (what hot reload serves)
//! <root>/<tenant>/<app>.toml             the app's configuration
//! <root>/<tenant>/.deploy/<app>.json     the app's record: versions, active, history
//! <root>/<tenant>/.deploy/<app>/<hex>.blob  each version's bytes, by SHA-256
//! ```
//!
//! Every file is written to a temporary name and renamed into place, so the scanner never reads half
//! of one. The caller ([`super::Deployments`]) runs one operation at a time. A `.wasm` dropped by
//! hand that the registry serves becomes a version of its own (`deployed_by: "file"`) the next time
//! the API looks at the app, so the API's view and what is served never disagree.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{AppRecord, DeployError, Loaded, digest};
use crate::config::MAX_PLUGIN_BYTES;
use crate::registry::scan::{RESERVED_APP_NAMES, TENANT_FILE, valid_name};

/// The hidden folder of records and blobs in each tenant's folder.
pub const DEPLOY_DIR: &str = ".deploy";

/// Deployments in the plugin tree under `root`.
#[derive(Debug)]
pub struct TreeStore {
    root: PathBuf,
}

fn internal(what: &str, path: &Path, e: &std::io::Error) -> DeployError {
    tracing::error!("deploy: cannot {what} {}: {e}", path.display());
    DeployError::Internal(format!("the host could not {what} a file of the plugin tree; nothing was changed"))
}

/// Writes `bytes` to `path` by a temporary file in the same folder and a rename.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // Neither `.wasm` nor `.toml`: the watcher does not take it for a plugin being written.
    let tmp = dir.join(format!(".{name}.{}.deploying", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut file, bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn read_optional(path: &Path, max: u64) -> std::io::Result<Option<Vec<u8>>> {
    match std::fs::File::open(path) {
        Ok(f) => {
            if !f.metadata()?.is_file() {
                return Ok(None);
            }
            let mut bytes = Vec::new();
            f.take(max + 1).read_to_end(&mut bytes)?;
            Ok(Some(bytes))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl TreeStore {
    /// The store over the plugin tree `root`.
    pub fn new(root: PathBuf) -> Self {
        TreeStore { root }
    }

    fn dir(&self, tenant: &str) -> PathBuf {
        self.root.join(tenant)
    }

    fn record_path(&self, tenant: &str, app: &str) -> PathBuf {
        self.dir(tenant).join(DEPLOY_DIR).join(format!("{app}.json"))
    }

    fn blob_path(&self, tenant: &str, app: &str, hex: &str) -> PathBuf {
        self.dir(tenant).join(DEPLOY_DIR).join(app).join(format!("{hex}.blob"))
    }

    /// The tenant's `tenant.toml` text (empty without one), if the tenant's folder exists.
    pub fn tenant(&self, tenant: &str) -> Result<Option<String>, DeployError> {
        let dir = self.dir(tenant);
        if !std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
            return Ok(None);
        }
        let file = dir.join(TENANT_FILE);
        match read_optional(&file, crate::registry::scan::MAX_CONFIG_BYTES) {
            Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes.unwrap_or_default()).into_owned())),
            Err(e) => Err(internal("read", &file, &e)),
        }
    }

    /// Every tenant folder.
    pub fn tenants(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| valid_name(n))
            .collect();
        names.sort();
        names
    }

    /// Writes the tenant's configuration (none: `tenant.toml` removed). True when the tenant is new.
    pub fn put_tenant(&self, tenant: &str, text: &str) -> Result<(bool, Vec<PathBuf>), DeployError> {
        let dir = self.dir(tenant);
        let created = !dir.is_dir();
        std::fs::create_dir_all(&dir).map_err(|e| internal("create", &dir, &e))?;
        let file = dir.join(TENANT_FILE);
        if text.trim().is_empty() {
            match std::fs::remove_file(&file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(internal("remove", &file, &e)),
                _ => {}
            }
        } else {
            write_atomic(&file, text.as_bytes()).map_err(|e| internal("write", &file, &e))?;
        }
        Ok((created, vec![file]))
    }

    /// Removes the tenant's folder: its `tenant.toml` and deploy records, then the folder, which must
    /// then be empty (files left by hand are not deleted).
    pub fn delete_tenant(&self, tenant: &str) -> Result<Vec<PathBuf>, DeployError> {
        let dir = self.dir(tenant);
        let file = dir.join(TENANT_FILE);
        let deploy = dir.join(DEPLOY_DIR);
        let leftover: Vec<String> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != TENANT_FILE && n != DEPLOY_DIR)
            .collect();
        if !leftover.is_empty() {
            return Err(DeployError::Conflict(format!(
                "the tenant's folder holds other files ({}); remove them first",
                leftover.join(", ")
            )));
        }
        let _ = std::fs::remove_file(&file);
        let _ = std::fs::remove_dir_all(&deploy);
        std::fs::remove_dir(&dir).map_err(|e| internal("remove", &dir, &e))?;
        Ok(vec![dir])
    }

    /// The tenant's apps: every `.wasm` in its folder and every app with a record.
    pub fn apps(&self, tenant: &str) -> Vec<String> {
        let dir = self.dir(tenant);
        let mut names = std::collections::BTreeSet::new();
        for entry in std::fs::read_dir(&dir).into_iter().flatten().filter_map(Result::ok) {
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "wasm")
                && let Some(stem) = path.file_stem().map(|s| s.to_string_lossy().into_owned())
                && valid_name(&stem)
                && !RESERVED_APP_NAMES.contains(&stem.as_str())
            {
                names.insert(stem);
            }
        }
        for entry in std::fs::read_dir(dir.join(DEPLOY_DIR)).into_iter().flatten().filter_map(Result::ok) {
            let path = entry.path();
            // Records are files; the folders beside them hold blobs (an app may be named `a.json`).
            if entry.file_type().is_ok_and(|t| t.is_file())
                && path.extension().is_some_and(|x| x == "json")
                && let Some(stem) = path.file_stem().map(|s| s.to_string_lossy().into_owned())
            {
                names.insert(stem);
            }
        }
        names.into_iter().collect()
    }

    /// The app's record, with `<app>.toml` as its config. `live` is the SHA-256 the registry serves
    /// for the app: when that is not the record's active version (a file dropped by hand went live),
    /// the file becomes the active version here (a new one, `deployed_by: "file"`, unless its bytes
    /// are a version already), and is recorded so.
    pub fn app(&self, tenant: &str, app: &str, live: Option<&str>) -> Result<Loaded, DeployError> {
        let path = self.record_path(tenant, app);
        let raw = match read_optional(&path, 16 << 20) {
            Ok(bytes) => bytes.map(|b| String::from_utf8_lossy(&b).into_owned()),
            Err(e) => return Err(internal("read", &path, &e)),
        };
        let mut record: AppRecord = match &raw {
            Some(text) => serde_json::from_str(text).map_err(|e| {
                tracing::error!("deploy: {} does not parse: {e}", path.display());
                DeployError::Internal(format!("the app's deploy record does not parse: {e}"))
            })?,
            None => AppRecord::default(),
        };
        let config_path = self.dir(tenant).join(format!("{app}.toml"));
        record.config = match read_optional(&config_path, crate::registry::scan::MAX_CONFIG_BYTES) {
            Ok(bytes) => bytes.map(|b| String::from_utf8_lossy(&b).into_owned()),
            Err(e) => return Err(internal("read", &config_path, &e)),
        };
        let wasm_path = self.dir(tenant).join(format!("{app}.wasm"));
        if let Some(live) = live
            && record.active_digest() != Some(live)
        {
            // Adopted only if the file still holds what the registry serves.
            let bytes = read_optional(&wasm_path, MAX_PLUGIN_BYTES).map_err(|e| internal("read", &wasm_path, &e))?;
            if let Some(bytes) = bytes.filter(|b| digest(b) == live) {
                let n = match record.by_digest(live) {
                    Some(v) => v.version,
                    None => {
                        self.put_blob(tenant, app, live, &bytes)?;
                        record.add(live.to_owned(), bytes.len() as u64, "file".to_owned())
                    }
                };
                record.activate(n);
                let text = self.write_record(tenant, app, &record)?;
                tracing::info!(
                    tenant,
                    app,
                    version = n,
                    "deploy: a plugin file dropped into the tree is now version {n}"
                );
                return Ok(Loaded { record, raw: Some(text) });
            }
        } else if live.is_none() && record.active.is_some() && !wasm_path.exists() {
            // The file was removed by hand: nothing is active.
            record.active = None;
            let text = self.write_record(tenant, app, &record)?;
            return Ok(Loaded { record, raw: Some(text) });
        }
        let raw = raw.map(|_| serde_json::to_string(&AppRecord { config: None, ..record.clone() }).unwrap_or_default());
        Ok(Loaded { record, raw })
    }

    fn write_record(&self, tenant: &str, app: &str, record: &AppRecord) -> Result<String, DeployError> {
        let path = self.record_path(tenant, app);
        // The config lives in `<app>.toml`, not in the record.
        let text = serde_json::to_string(&AppRecord { config: None, ..record.clone() })
            .map_err(|e| DeployError::Internal(e.to_string()))?;
        write_atomic(&path, text.as_bytes()).map_err(|e| internal("write", &path, &e))?;
        Ok(text)
    }

    /// Keeps a version's bytes (already checked) by digest.
    pub fn put_blob(&self, tenant: &str, app: &str, hex: &str, bytes: &[u8]) -> Result<(), DeployError> {
        let path = self.blob_path(tenant, app, hex);
        if path.is_file() {
            return Ok(());
        }
        write_atomic(&path, bytes).map_err(|e| internal("write", &path, &e))
    }

    /// Forgets a version's bytes.
    pub fn delete_blob(&self, tenant: &str, app: &str, hex: &str) {
        let _ = std::fs::remove_file(self.blob_path(tenant, app, hex));
    }

    /// Replaces the record `before` with `next` (`None`: the app is deleted) and makes the files of
    /// the tree say the same: the active version's bytes as `<app>.wasm`, the config as
    /// `<app>.toml`. `None` when the record moved since `before` was read; else the paths written.
    pub fn swap_app(
        &self,
        tenant: &str,
        app: &str,
        before: &Loaded,
        next: Option<&AppRecord>,
    ) -> Result<Option<Vec<PathBuf>>, DeployError> {
        let dir = self.dir(tenant);
        if !dir.is_dir() {
            return Err(super::no_tenant(tenant));
        }
        let current = self.app(tenant, app, None)?;
        if current.raw != before.raw || current.record.config != before.record.config {
            return Ok(None);
        }
        let wasm = dir.join(format!("{app}.wasm"));
        let toml = dir.join(format!("{app}.toml"));
        let mut written = Vec::new();
        let Some(next) = next else {
            for path in [&wasm, &toml] {
                if path.exists() {
                    std::fs::remove_file(path).map_err(|e| internal("remove", path, &e))?;
                    written.push(path.clone());
                }
            }
            let record = self.record_path(tenant, app);
            let _ = std::fs::remove_file(&record);
            let _ = std::fs::remove_dir_all(dir.join(DEPLOY_DIR).join(app));
            return Ok(Some(written));
        };
        // Config first, so the version that goes live runs with it.
        if next.config != current.record.config {
            match &next.config {
                Some(text) => write_atomic(&toml, text.as_bytes()).map_err(|e| internal("write", &toml, &e))?,
                None => std::fs::remove_file(&toml).map_err(|e| internal("remove", &toml, &e))?,
            }
            written.push(toml);
        }
        let live = read_optional(&wasm, MAX_PLUGIN_BYTES).map_err(|e| internal("read", &wasm, &e))?.map(|b| digest(&b));
        match next.active_digest() {
            Some(hex) if live.as_deref() != Some(hex) => {
                let blob = self.blob_path(tenant, app, hex);
                let bytes = std::fs::read(&blob).map_err(|e| internal("read", &blob, &e))?;
                if digest(&bytes) != hex {
                    tracing::error!("deploy: {} does not hold what its name says", blob.display());
                    return Err(DeployError::Internal("a stored version is damaged; nothing was changed".into()));
                }
                write_atomic(&wasm, &bytes).map_err(|e| internal("write", &wasm, &e))?;
                written.push(wasm);
            }
            None if live.is_some() => {
                std::fs::remove_file(&wasm).map_err(|e| internal("remove", &wasm, &e))?;
                written.push(wasm);
            }
            _ => {}
        }
        self.write_record(tenant, app, next)?;
        Ok(Some(written))
    }
}
