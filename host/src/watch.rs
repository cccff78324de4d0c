//! Hot reload: a debounced watch over the whole plugin tree. Changes to `.wasm` and `.toml` files (and
//! new or removed tenant folders) trigger a registry reload; the host's own reads never do, because
//! only creates, renames, writes-on-close and removals count. A periodic rescan catches missed events.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use notify::RecursiveMode;
use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio::sync::mpsc;

use crate::registry::Registry;

/// Quiet time before a burst of file events becomes one reload.
pub const DEBOUNCE: Duration = Duration::from_millis(150);
/// Rescan period, for events the watcher missed.
pub const RESCAN_EVERY: Duration = Duration::from_secs(30);

/// Keeps the watcher alive; dropping it stops hot reload.
pub struct Watcher {
    _debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Watcher")
    }
}

fn relevant(kind: &EventKind, path: &Path) -> bool {
    let interesting_kind = matches!(
        kind,
        EventKind::Create(_)
            | EventKind::Remove(_)
            | EventKind::Modify(ModifyKind::Name(_))
            | EventKind::Access(AccessKind::Close(AccessMode::Write))
    );
    let interesting_path = match path.extension().and_then(|e| e.to_str()) {
        Some("wasm" | "toml") => true,
        Some(_) => false,
        // Tenant folders come and go.
        None => matches!(kind, EventKind::Create(_) | EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_))),
    };
    interesting_kind && interesting_path
}

/// Watches the registry's tree and reloads it on changes, until the returned watcher is dropped.
pub fn spawn(registry: Arc<Registry>) -> anyhow::Result<Watcher> {
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let mut debouncer = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| match result {
        Ok(events) => {
            if events.iter().any(|e| e.paths.iter().any(|p| relevant(&e.kind, p))) {
                // A full channel already holds a pending reload, which will see this change too.
                let _ = tx.try_send(());
            }
        }
        Err(errors) => {
            for e in errors {
                tracing::warn!("file watcher: {e}");
            }
            let _ = tx.try_send(());
        }
    })?;
    debouncer.watch(registry.root(), RecursiveMode::Recursive)?;
    tokio::spawn(async move {
        let mut rescan = tokio::time::interval(RESCAN_EVERY);
        rescan.tick().await;
        loop {
            tokio::select! {
                changed = rx.recv() => {
                    if changed.is_none() {
                        break;
                    }
                }
                _ = rescan.tick() => {}
            }
            registry.reload().await;
        }
    });
    Ok(Watcher { _debouncer: debouncer })
}
