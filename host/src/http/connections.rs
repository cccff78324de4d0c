//! Accepting connections: HTTP/1 with a header-read timeout (which also bounds idle keep-alive time),
//! bounded per-connection buffers, a cap on open connections, and eviction of idle connections when
//! the cap comes near, so a flood of silent or slow clients never locks the port (health checks and
//! admin still get in). Graceful shutdown finishes the requests in flight.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

/// Largest buffer hyper keeps per connection for reading a request head.
pub const MAX_HEAD_BUFFER: usize = 64 * 1024;
/// Descriptors kept free for the state store, plugin files, artifacts and logs.
pub const RESERVED_DESCRIPTORS: u64 = 128;
/// How long an evicted idle connection may take to close by itself (a response just finished may
/// still be on its way out); then it is cut.
pub const EVICT_GRACE: Duration = Duration::from_millis(50);
/// How long shutdown waits for requests in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

/// How connections are bounded.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Time to send a request head; also the most idle time between two requests.
    pub header_read_timeout: Duration,
    /// Most open connections.
    pub max_connections: usize,
}

impl ConnectionLimits {
    /// Lowers `max_connections` to what the process's descriptor limit allows (after raising the
    /// soft limit to the hard one), keeping descriptors free for everything else.
    pub fn fit_descriptor_limit(mut self) -> Self {
        let limit = raise_descriptor_limit();
        if let Some(limit) = limit {
            let reserve = RESERVED_DESCRIPTORS.min(limit / 4);
            let fit = usize::try_from(limit.saturating_sub(reserve)).unwrap_or(usize::MAX).max(1);
            if fit < self.max_connections {
                tracing::info!(
                    "at most {fit} open connections (descriptor limit {limit}, {reserve} kept for the host)"
                );
                self.max_connections = fit;
            }
        }
        self
    }

    /// Past this many open connections, idle ones are closed to make room.
    fn evict_above(&self) -> usize {
        self.max_connections - self.max_connections / 8
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit in force.
fn raise_descriptor_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::warn!("cannot read or raise the descriptor limit: {e}");
                rlimit::getrlimit(rlimit::Resource::NOFILE).ok().map(|(soft, _)| soft)
            }
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// One open connection, as the accept loop sees it.
#[derive(Debug, Default)]
struct Conn {
    /// Requests being handled now (HTTP/1: 0 or 1).
    busy: AtomicUsize,
    /// When the connection last finished a request (or opened), in ms since the loop started.
    idle_since: AtomicU64,
    /// Told to close when idle.
    evict: Notify,
}

#[derive(Debug, Default)]
struct Tracker {
    open: Mutex<HashMap<u64, Arc<Conn>>>,
    next: AtomicU64,
    started: std::sync::OnceLock<std::time::Instant>,
}

impl Tracker {
    fn now_ms(&self) -> u64 {
        let started = self.started.get_or_init(std::time::Instant::now);
        u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn count(&self) -> usize {
        self.open.lock().map_or(0, |m| m.len())
    }

    fn add(&self) -> (u64, Arc<Conn>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn { idle_since: AtomicU64::new(self.now_ms()), ..Conn::default() });
        if let Ok(mut m) = self.open.lock() {
            m.insert(id, Arc::clone(&conn));
        }
        (id, conn)
    }

    fn remove(&self, id: u64) {
        if let Ok(mut m) = self.open.lock() {
            m.remove(&id);
        }
    }

    /// Tells up to `n` of the longest-idle connections (none busy) to close; returns how many.
    fn evict_idle(&self, n: usize) -> usize {
        let Ok(m) = self.open.lock() else { return 0 };
        let mut idle: Vec<&Arc<Conn>> = m.values().filter(|c| c.busy.load(Ordering::Acquire) == 0).collect();
        idle.sort_by_key(|c| c.idle_since.load(Ordering::Relaxed));
        for c in idle.iter().take(n) {
            c.evict.notify_one();
        }
        idle.len().min(n)
    }
}

/// Counts a request in flight on its connection.
struct Busy(Arc<Conn>, Arc<Tracker>);

impl Busy {
    fn new(conn: &Arc<Conn>, tracker: &Arc<Tracker>) -> Self {
        conn.busy.fetch_add(1, Ordering::AcqRel);
        Busy(Arc::clone(conn), Arc::clone(tracker))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.idle_since.store(self.1.now_ms(), Ordering::Relaxed);
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

fn too_many_files(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24))
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in flight finish
/// (for at most [`SHUTDOWN_GRACE`]). Connections are bounded by `limits`, fitted to the descriptor
/// limit first.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: ConnectionLimits,
) -> std::io::Result<()> {
    let limits = limits.fit_descriptor_limit();
    let tracker = Arc::new(Tracker::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        // Reap finished connection tasks so the set does not grow.
        while tasks.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) if too_many_files(&e) => {
                let closed = tracker.evict_idle(64);
                tracing::warn!("accept: {e}; closing {closed} idle connections");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
            // Per-connection errors (reset before accept, ...): go on.
            Err(e) => {
                tracing::debug!("accept: {e}");
                continue;
            }
        };
        let open = tracker.count();
        let mut evicted = 0;
        if open >= limits.evict_above() {
            // Make room before the cap: the longest-idle connections go first.
            evicted = tracker.evict_idle((open + 1).saturating_sub(limits.evict_above()).max(8));
        }
        // At the cap, a new connection is taken only when idle ones are on their way out (they close
        // within EVICT_GRACE; the descriptors kept in reserve cover the overlap).
        if open >= limits.max_connections && evicted == 0 {
            tracing::warn!("{open} connections open, all busy, at the cap: refusing a new one");
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let (id, conn) = tracker.add();
        let (tracker, router, mut stop) = (Arc::clone(&tracker), router.clone(), stop_rx.clone());
        tasks.spawn(async move {
            let service = {
                let (conn, tracker) = (Arc::clone(&conn), Arc::clone(&tracker));
                hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                    // Who is calling, for routes that answer loopback clients only.
                    req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                    let busy = Busy::new(&conn, &tracker);
                    let router = router.clone();
                    async move {
                        let response = router.oneshot(req).await;
                        drop(busy);
                        response
                    }
                })
            };
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .max_buf_size(MAX_HEAD_BUFFER);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                r = connection.as_mut() => r,
                () = conn.evict.notified() => {
                    // Idle: nothing is lost. A client mid-head does not finish a graceful close, so
                    // it is cut after a moment.
                    connection.as_mut().graceful_shutdown();
                    tokio::time::timeout(EVICT_GRACE, connection).await.unwrap_or(Ok(()))
                }
                () = async { let _ = stop.wait_for(|s| *s).await; } => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                tracing::debug!("connection: {e}");
            }
            tracker.remove(id);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("{} connections still open after {SHUTDOWN_GRACE:?}; closing them", tasks.len());
    }
    Ok(())
}
