//! Version pins: which plugin version answered a call, so the call's later events run on it.
//!
//! A pin is `c/<conversation> -> version hash` in the state backend (so several hosts agree), with an
//! index entry `v/<hash>/<conversation>` beside it, both kept for as long as a call can last and ended
//! by `completed`. The index answers "does any call still need this version?" by looking for one
//! entry, so a reload never lists every pin. Recording one is off the answer's hot path: pins
//! go through a queue to a writer task, because a durable write per answered call would cost more than
//! running the plugin. A pin lost in a crash only means that call's later events run on the live
//! version. The pins of one tenant's calls are bounded (the operator's `tenant_max_pinned_calls`,
//! kept by the state backend like a quota): past it, new calls are not pinned, and that is logged at most every
//! [`WARN_EVERY`].

use std::sync::Arc;

use tokio::sync::mpsc;

use super::App;
use crate::runtime::Version;
use crate::state::{Entry, MAX_CALL_STATE, Namespace, StateStore};

/// Pins waiting to be written; past this, the answer path writes its pin itself.
const QUEUE: usize = 4096;
/// Stale index entries removed in one check before a version is kept for the next sweep.
const STALE_PER_CHECK: usize = 64;
/// Most pins written in one batch.
const BATCH: usize = 512;
/// How long the pin writer gathers pins after the first one arrives: one state transaction per this
/// long under load instead of one per few answers (a pin lost in a crash only moves that call's
/// later events to the live version; events come seconds after the answer).
pub const LINGER: std::time::Duration = std::time::Duration::from_millis(5);
/// Least time between two warnings that pins could not be written.
pub const WARN_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// A warning logged at most every [`WARN_EVERY`], with how many were held back.
#[derive(Default)]
struct Throttle {
    last: std::sync::Mutex<Option<(std::time::Instant, u64)>>,
}

impl Throttle {
    fn warn(&self, what: &dyn std::fmt::Display) {
        let Ok(mut last) = self.last.lock() else { return };
        match &mut *last {
            Some((at, held)) if at.elapsed() < WARN_EVERY => *held += 1,
            _ => {
                let held = last.map_or(0, |(_, n)| n);
                tracing::warn!(held_back = held, "cannot pin calls to their versions: {what}");
                *last = Some((std::time::Instant::now(), 0));
            }
        }
    }
}

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
    warnings: Arc<Throttle>,
    /// Pins queued and not written yet (tenant, app, conversation -> hash), so this host's own
    /// reads never see an older pin while the writer gathers a batch.
    pending: Arc<Pending>,
}

type Pending = std::sync::Mutex<std::collections::HashMap<(String, String, String), String>>;

fn pending_key(tenant: &str, app: &str, conversation: &str) -> (String, String, String) {
    (tenant.to_owned(), app.to_owned(), conversation.to_owned())
}

/// The pin `key -> hash` is written: no longer pending, unless a newer pin of the call was queued
/// meanwhile.
fn written_pin(pending: &Pending, key: &(String, String, String), hash: &str) {
    if let Ok(mut pending) = pending.lock()
        && pending.get(key).is_some_and(|h| h == hash)
    {
        pending.remove(key);
    }
}

impl std::fmt::Debug for Pins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pins")
    }
}

fn namespace(tenant: &str, app: &str) -> Namespace {
    Namespace::Pins { tenant: tenant.to_owned(), app: app.to_owned() }
}

/// The pin of one call.
fn call_key(conversation: &str) -> String {
    format!("c/{conversation}")
}

/// The index entry of one call's pin under its version.
fn index_key(hash: &str, conversation: &str) -> String {
    format!("v/{hash}/{conversation}")
}

impl Pins {
    /// Pins in `state`, with a writer task on the current tokio runtime.
    pub fn new(state: Arc<dyn StateStore>) -> Self {
        let (queue, mut rx) = mpsc::channel::<Pin>(QUEUE);
        let writer = Arc::clone(&state);
        let warnings = Arc::new(Throttle::default());
        let warn = Arc::clone(&warnings);
        let pending: Arc<Pending> = Arc::default();
        let written = Arc::clone(&pending);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                tokio::time::sleep(LINGER).await;
                while batch.len() < BATCH
                    && let Ok(pin) = rx.try_recv()
                {
                    batch.push(pin);
                }
                // A pin whose call completed while it waited (or that a newer pin of the call
                // replaced) is not written, and a call pinned twice to one version is written once.
                if let Ok(pending) = written.lock() {
                    let mut seen = std::collections::HashSet::new();
                    batch.retain(|p| match &p.ns {
                        Namespace::Pins { tenant, app } => {
                            let key = pending_key(tenant, app, &p.conversation);
                            pending.get(&key) == Some(&p.hash) && seen.insert(key)
                        }
                        _ => true,
                    });
                }
                if batch.is_empty() {
                    continue;
                }
                let done: Vec<((String, String, String), String)> = batch
                    .iter()
                    .filter_map(|p| match &p.ns {
                        Namespace::Pins { tenant, app } => {
                            Some((pending_key(tenant, app, &p.conversation), p.hash.clone()))
                        }
                        _ => None,
                    })
                    .collect();
                let entries = batch
                    .drain(..)
                    .flat_map(|p| {
                        [
                            Entry {
                                ns: p.ns.clone(),
                                key: index_key(&p.hash, &p.conversation),
                                value: Vec::new(),
                                ttl: Some(MAX_CALL_STATE),
                            },
                            Entry {
                                ns: p.ns,
                                key: call_key(&p.conversation),
                                value: p.hash.into_bytes(),
                                ttl: Some(MAX_CALL_STATE),
                            },
                        ]
                    })
                    .collect();
                if let Err(e) = writer.set_batch(entries).await {
                    warn.warn(&e);
                }
                for (key, hash) in done {
                    written_pin(&written, &key, &hash);
                }
            }
        });
        Pins { state, queue, warnings, pending }
    }

    /// Pins the call `conversation` of `tenant`/`app` to `version`.
    pub async fn record(&self, tenant: &str, app: &str, conversation: &str, version: &Version) {
        let pin = Pin { ns: namespace(tenant, app), conversation: conversation.to_owned(), hash: version.hash.clone() };
        if let Ok(mut pending) = self.pending.lock() {
            pending.insert(pending_key(tenant, app, conversation), version.hash.clone());
        }
        if let Err(mpsc::error::TrySendError::Full(pin) | mpsc::error::TrySendError::Closed(pin)) =
            self.queue.try_send(pin)
        {
            let (index, call) = (index_key(&pin.hash, &pin.conversation), call_key(&pin.conversation));
            let written = match self.state.set(&pin.ns, &index, Vec::new(), Some(MAX_CALL_STATE)).await {
                Ok(()) => self.state.set(&pin.ns, &call, pin.hash.into_bytes(), Some(MAX_CALL_STATE)).await,
                Err(e) => Err(e),
            };
            if let Err(e) = written {
                self.warnings.warn(&format_args!("{tenant}/{app}: {e}"));
            }
            written_pin(&self.pending, &pending_key(tenant, app, conversation), &version.hash);
        }
    }

    /// The version the call is pinned to, if it is still loaded here; else the app's live version.
    pub async fn version_for(&self, tenant: &str, app: &App, conversation: &str) -> Option<Arc<Version>> {
        let queued =
            self.pending.lock().ok().and_then(|p| p.get(&pending_key(tenant, &app.name, conversation)).cloned());
        if let Some(hash) = queued {
            return app.version_by_hash(&hash).or_else(|| app.version.clone());
        }
        match self.state.get(&namespace(tenant, &app.name), &call_key(conversation)).await {
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

    /// Ends the call's pin (it completed): the pin and its index entry.
    pub async fn end(&self, tenant: &str, app: &str, conversation: &str) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.remove(&pending_key(tenant, app, conversation));
        }
        let ns = namespace(tenant, app);
        let ended = async {
            if let Some(hash) = self.state.get(&ns, &call_key(conversation)).await? {
                let hash = String::from_utf8_lossy(&hash).into_owned();
                self.state.delete(&ns, &index_key(&hash, conversation)).await?;
            }
            self.state.delete(&ns, &call_key(conversation)).await
        };
        if let Err(e) = ended.await {
            tracing::warn!(tenant, app, "cannot end the call's version pin: {e}");
        }
    }

    /// True while a live call of `tenant`/`app` is pinned to the version `hash`: one index entry
    /// whose call is still pinned to `hash` is enough, none is listed. Entries left behind by a call
    /// pinned again to another version are removed on the way.
    pub async fn is_pinned(&self, tenant: &str, app: &str, hash: &str) -> Result<bool, crate::state::StateError> {
        let ns = namespace(tenant, app);
        let prefix = format!("v/{hash}/");
        for _ in 0..STALE_PER_CHECK {
            let Some(entry) = self.state.first_live(&ns, &prefix).await? else { return Ok(false) };
            let conversation = &entry[prefix.len()..];
            if self.state.get(&ns, &call_key(conversation)).await?.is_some_and(|h| h == hash.as_bytes()) {
                return Ok(true);
            }
            self.state.delete(&ns, &entry).await?;
        }
        // Many stale entries: keep the version until the next sweep clears more of them.
        Ok(true)
    }
}
