//! Compiled artifacts on disk, keyed by the engine's compatibility hash and the plugin's content hash,
//! so a restart loads plugins in a fraction of a millisecond instead of recompiling them.
//!
//! Only artifacts this process wrote are ever deserialized: they live under the host's own data
//! directory, are published by write-then-rename, and are never tenant input.
//!
//! The cache is bounded: past its byte cap, the least recently used artifacts go first (a load
//! touches its file), never one a loaded version was built from. A failed write removes its
//! temporary file, and leftovers of a crash are removed at start.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use wasmtime::Engine;
use wasmtime::component::Component;

/// The artifact directory for one engine configuration.
#[derive(Debug)]
pub struct ArtifactCache {
    engine: Engine,
    dir: Option<PathBuf>,
    max_bytes: u64,
}

/// The extension of temporary files being written.
const TMP_MARK: &str = ".tmp";

impl ArtifactCache {
    /// The cache under `data_dir/artifacts/<engine compatibility hash>/`. Caching is off (with a
    /// warning) when the directory cannot be created.
    pub fn new(engine: &Engine, data_dir: &Path, max_bytes: u64) -> Self {
        let dir = data_dir.join("artifacts").join(format!("{:016x}", super::engines::compatibility(engine)));
        let dir = match std::fs::create_dir_all(&dir) {
            Ok(()) => Some(dir),
            Err(e) => {
                tracing::warn!("artifact cache off: cannot create {}: {e}", dir.display());
                None
            }
        };
        let cache = ArtifactCache { engine: engine.clone(), dir, max_bytes };
        cache.remove_leftovers();
        cache
    }

    /// Removes partial artifacts a crashed or failed write left behind.
    fn remove_leftovers(&self) {
        for (path, _, _) in self.entries(true) {
            match std::fs::remove_file(&path) {
                Ok(()) => tracing::info!("removed the partial artifact {}", path.display()),
                Err(e) => tracing::warn!("cannot remove the partial artifact {}: {e}", path.display()),
            }
        }
    }

    /// `(path, bytes, last used)` of the finished artifacts (or, with `partial`, the temporary files).
    fn entries(&self, partial: bool) -> Vec<(PathBuf, u64, SystemTime)> {
        let Some(dir) = &self.dir else { return Vec::new() };
        let Ok(read) = std::fs::read_dir(dir) else { return Vec::new() };
        read.filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                if partial { name.contains(TMP_MARK) } else { name.ends_with(".cwasm") }
            })
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                Some((e.path(), meta.len(), meta.modified().unwrap_or(SystemTime::UNIX_EPOCH)))
            })
            .collect()
    }

    /// Deletes the least recently used artifacts until the cache fits its cap, never one of `keep`
    /// (the hashes of loaded versions). Returns the bytes freed.
    pub fn trim(&self, keep: &HashSet<String>) -> u64 {
        let mut entries = self.entries(false);
        let mut total: u64 = entries.iter().map(|(_, n, _)| n).sum();
        if total <= self.max_bytes {
            return 0;
        }
        entries.sort_by_key(|(_, _, used)| *used);
        let mut freed = 0;
        for (path, bytes, _) in entries {
            if total <= self.max_bytes {
                break;
            }
            let hash = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            if keep.contains(&hash) {
                continue;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= bytes;
                freed += bytes;
            }
        }
        if freed > 0 {
            tracing::info!("artifact cache trimmed by {freed} bytes to {total} (cap {})", self.max_bytes);
        }
        freed
    }

    fn path(&self, hash: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("{hash}.cwasm")))
    }

    /// True when an artifact for `hash` is cached.
    pub fn has(&self, hash: &str) -> bool {
        self.path(hash).is_some_and(|p| p.exists())
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
            Ok(c) => {
                // Marks it recently used for the cache's trimming.
                if let Ok(f) = std::fs::File::options().append(true).open(&path) {
                    let _ = f.set_modified(SystemTime::now());
                }
                Some(c)
            }
            Err(e) => {
                tracing::warn!("ignoring cached artifact {}: {e}", path.display());
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Saves `component` for `hash` (best effort).
    pub fn store(&self, hash: &str, component: &Component) {
        match component.serialize() {
            Ok(bytes) => self.store_bytes(hash, &bytes),
            Err(e) => tracing::warn!("cannot serialize the artifact of {hash}: {e}"),
        }
    }

    /// Saves an artifact compiled for this engine's configuration for `hash` (best effort).
    pub fn store_bytes(&self, hash: &str, artifact: &[u8]) {
        let Some(path) = self.path(hash) else { return };
        if let Err(e) = write_atomically(&path, artifact) {
            tracing::warn!("cannot cache the artifact {}: {e}", path.display());
        }
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension(format!("cwasm{TMP_MARK}{}", std::process::id()));
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        // A full disk must not keep the partial file.
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(written?)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::{Duration, SystemTime};

    use super::*;

    /// The smallest component: the header alone.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    #[test]
    fn trimming_drops_the_least_recently_used_but_never_what_a_loaded_version_needs() {
        let engine = Engine::default();
        let component = Component::new(&engine, EMPTY_COMPONENT).expect("the empty component compiles");
        let data = tempfile::tempdir().expect("tempdir");
        let one = component.serialize().expect("serialize").len() as u64;
        let cache = ArtifactCache::new(&engine, data.path(), 2 * one);
        let old = SystemTime::now() - Duration::from_secs(3600);
        for (i, hash) in ["a", "b", "c"].iter().enumerate() {
            cache.store(hash, &component);
            let path = cache.path(hash).expect("path");
            let file = std::fs::File::options().append(true).open(&path).expect("open");
            file.set_modified(old + Duration::from_secs(i as u64)).expect("touch");
        }
        // "a" is the oldest but loaded: "b" goes instead.
        let keep: HashSet<String> = ["a".to_owned()].into();
        assert_eq!(cache.trim(&keep), one);
        assert!(cache.has("a") && !cache.has("b") && cache.has("c"));
        assert_eq!(cache.trim(&keep), 0, "within the cap now");
    }
}
