//! Hot reload: a watch over the whole plugin tree, without a debounce. A `.wasm`, `.toml`, `.key`
//! or `.pem` file closed after writing, renamed into place or removed (and a tenant folder created,
//! renamed or removed) triggers a rescan at once; writes to a file only mark it as being written, so a scan never reads
//! it half-written (`registry::scan::Writes`). Events arriving while a rescan runs make one more
//! rescan, which sees them all. A periodic rescan catches missed events; files left for later by a
//! scan are looked at again every [`SETTLE_CHECK`].

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind, RenameMode};
use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

use crate::registry::Registry;

/// Rescan period, for events the watcher missed.
pub const RESCAN_EVERY: Duration = Duration::from_secs(30);
/// How often files a scan left for later (not settled yet) are looked at again.
pub const SETTLE_CHECK: Duration = Duration::from_millis(100);

/// Keeps the watcher alive; dropping it stops hot reload.
pub struct Watcher {
    _watcher: RecommendedWatcher,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Watcher")
    }
}

/// What an event means for the tree.
#[derive(Debug, PartialEq, Eq)]
enum Change {
    /// Nothing the registry serves.
    None,
    /// A plugin or config file is being written: not to be read yet.
    Writing,
    /// A file is complete (closed after writing, renamed into place) or gone, or a folder changed:
    /// rescan now.
    Done,
}

fn classify(kind: &EventKind, path: &Path) -> Change {
    match path.extension().and_then(|e| e.to_str()) {
        // `.key` and `.pem`: a tenant's Vonage application key (`[vonage] private_key_file`).
        Some("wasm" | "toml" | "key" | "pem") => match kind {
            EventKind::Modify(ModifyKind::Data(_)) => Change::Writing,
            EventKind::Create(_)
            | EventKind::Remove(_)
            | EventKind::Modify(ModifyKind::Name(_))
            | EventKind::Access(AccessKind::Close(AccessMode::Write)) => Change::Done,
            _ => Change::None,
        },
        Some(_) => Change::None,
        // Tenant folders come and go.
        None => match kind {
            EventKind::Create(_) | EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_)) => Change::Done,
            _ => Change::None,
        },
    }
}

/// Watches the registry's tree and reloads it on changes, until the returned watcher is dropped.
pub fn spawn(registry: Arc<Registry>) -> anyhow::Result<Watcher> {
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let events = Arc::clone(&registry);
    let mut watcher = notify::recommended_watcher(move |result: notify::Result<notify::Event>| match result {
        Ok(event) => {
            let mut rescan = false;
            for path in &event.paths {
                match classify(&event.kind, path) {
                    Change::None => {}
                    Change::Writing => events.writes().writing(path),
                    Change::Done => {
                        // A file renamed away is gone from that path, like a removed one. A file
                        // created (not renamed) is usually still being written: its close makes
                        // the rescan; one never written (a hard link) is seen by the settle check.
                        match event.kind {
                            EventKind::Create(_) if path.extension().is_some() => {
                                events.writes().look_later();
                                continue;
                            }
                            EventKind::Create(_) => {}
                            EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(RenameMode::From)) => {
                                events.writes().gone(path);
                            }
                            _ => events.writes().completed(path),
                        }
                        rescan = true;
                    }
                }
            }
            if rescan {
                // A full channel already holds a pending rescan, which will see this change too.
                let _ = tx.try_send(());
            }
        }
        Err(e) => {
            tracing::warn!("file watcher: {e}");
            let _ = tx.try_send(());
        }
    })?;
    watcher.watch(registry.root(), RecursiveMode::Recursive)?;
    tokio::spawn(async move {
        let mut rescan = tokio::time::interval(RESCAN_EVERY);
        rescan.tick().await;
        let mut settle = tokio::time::interval(SETTLE_CHECK);
        loop {
            tokio::select! {
                changed = rx.recv() => {
                    if changed.is_none() {
                        break;
                    }
                }
                _ = rescan.tick() => {}
                _ = settle.tick() => {
                    if !registry.writes().take_deferred() {
                        continue;
                    }
                }
            }
            registry.reload().await;
        }
    });
    Ok(Watcher { _watcher: watcher })
}
