//! Version pins: which plugin version answered a call, so the call's later events run on it.
//!
//! A pin is `conversation -> version hash` in the state backend (so several hosts agree), kept for as
//! long as a call can last and ended by `completed`. Recording one is off the answer's hot path: pins
//! go through a queue to a writer task, because a durable write per answered call would cost more than
//! running the plugin. A pin lost in a crash only means that call's later events run on the live
//! version.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::App;
use crate::runtime::Version;
use crate::state::{Entry, MAX_CALL_STATE, Namespace, StateStore};

/// Pins waiting to be written; past this, the answer path writes its pin itself.
const QUEUE: usize = 4096;
/// Most pins written in one batch.
const BATCH: usize = 512;

struct Pin {
    ns: Namespace,
    conversation: String,
    hash: String,
}

/// Records, reads and ends version pins.
#[derive(Clone)]
pub struct Pins {
    state: Arc<dyn StateStore>,
    queue: mpsc::Sender<Pin>,
}

impl std::fmt::Debug for Pins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pins")
    }
}

fn namespace(tenant: &str, app: &str) -> Namespace {
    Namespace::Pins { tenant: tenant.to_owned(), app: app.to_owned() }
}

impl Pins {
    /// Pins in `state`, with a writer task on the current tokio runtime.
    pub fn new(state: Arc<dyn StateStore>) -> Self {
        let (queue, mut rx) = mpsc::channel::<Pin>(QUEUE);
        let writer = Arc::clone(&state);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                let entries = batch
                    .drain(..)
                    .map(|p| Entry {
                        ns: p.ns,
                        key: p.conversation,
                        value: p.hash.into_bytes(),
                        ttl: Some(MAX_CALL_STATE),
                    })
                    .collect();
                if let Err(e) = writer.set_batch(entries).await {
                    tracing::warn!("cannot pin calls to their versions: {e}");
                }
            }
        });
        Pins { state, queue }
    }

    /// Pins the call `conversation` of `tenant`/`app` to `version`.
    pub async fn record(&self, tenant: &str, app: &str, conversation: &str, version: &Version) {
        let pin = Pin { ns: namespace(tenant, app), conversation: conversation.to_owned(), hash: version.hash.clone() };
        if let Err(mpsc::error::TrySendError::Full(pin) | mpsc::error::TrySendError::Closed(pin)) =
            self.queue.try_send(pin)
        {
            let written = self.state.set(&pin.ns, &pin.conversation, pin.hash.into_bytes(), Some(MAX_CALL_STATE)).await;
            if let Err(e) = written {
                tracing::warn!(tenant, app, "cannot pin the call to its version: {e}");
            }
        }
    }

    /// The version the call is pinned to, if it is still loaded here; else the app's live version.
    pub async fn version_for(&self, tenant: &str, app: &App, conversation: &str) -> Option<Arc<Version>> {
        match self.state.get(&namespace(tenant, &app.name), conversation).await {
            Ok(Some(hash)) => {
                let hash = String::from_utf8_lossy(&hash);
                let pinned = app.version_by_hash(&hash);
                if pinned.is_none() {
                    tracing::debug!(app = %app.name, version = %hash, "pinned version not loaded here; using the live one");
                }
                pinned.or_else(|| app.version.clone())
            }
            Ok(None) => app.version.clone(),
            Err(e) => {
                tracing::warn!(app = %app.name, "cannot read the call's version pin: {e}");
                app.version.clone()
            }
        }
    }

    /// Ends the call's pin (it completed).
    pub async fn end(&self, tenant: &str, app: &str, conversation: &str) {
        if let Err(e) = self.state.delete(&namespace(tenant, app), conversation).await {
            tracing::warn!(tenant, app, "cannot end the call's version pin: {e}");
        }
    }

    /// The version hashes pinned by live calls of `tenant`/`app`.
    pub async fn pinned_hashes(&self, tenant: &str, app: &str) -> Result<Vec<String>, crate::state::StateError> {
        let pins = self.state.list(&namespace(tenant, app)).await?;
        Ok(pins.into_iter().map(|(_, hash)| String::from_utf8_lossy(&hash).into_owned()).collect())
    }
}
