//! Compiled artifacts on disk, keyed by the engine's compatibility hash and the plugin's content hash,
//! so a restart loads plugins in a fraction of a millisecond instead of recompiling them.
//!
//! Only artifacts this process wrote are ever deserialized: they live under the host's own data
//! directory, are published by write-then-rename, and are never tenant input.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// The artifact directory for one engine configuration.
#[derive(Debug)]
pub struct ArtifactCache {
    engine: Engine,
    dir: Option<PathBuf>,
}

impl ArtifactCache {
    /// The cache under `data_dir/artifacts/<engine compatibility hash>/`. Caching is off (with a
    /// warning) when the directory cannot be created.
    pub fn new(engine: &Engine, data_dir: &Path) -> Self {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let dir = data_dir.join("artifacts").join(format!("{:016x}", hasher.finish()));
        let dir = match std::fs::create_dir_all(&dir) {
            Ok(()) => Some(dir),
            Err(e) => {
                tracing::warn!("artifact cache off: cannot create {}: {e}", dir.display());
                None
            }
        };
        ArtifactCache { engine: engine.clone(), dir }
    }

    fn path(&self, hash: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("{hash}.cwasm")))
    }

    /// The compiled component for `hash`, if this host compiled it before.
    pub fn load(&self, hash: &str) -> Option<Component> {
        let path = self.path(hash)?;
        if !path.exists() {
            return None;
        }
        // SAFETY: the file was written by `store` below, from `Component::serialize` of this engine
        // configuration (the directory is keyed by its compatibility hash), published by an atomic
        // rename and never modified afterwards; it is not tenant input.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize_file(&self.engine, &path) };
        match loaded {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!("ignoring cached artifact {}: {e}", path.display());
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Saves `component` for `hash` (best effort).
    pub fn store(&self, hash: &str, component: &Component) {
        let Some(path) = self.path(hash) else { return };
        if let Err(e) = write_atomically(&path, component) {
            tracing::warn!("cannot cache the artifact {}: {e}", path.display());
        }
    }
}

fn write_atomically(path: &Path, component: &Component) -> anyhow::Result<()> {
    let bytes = component.serialize()?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
