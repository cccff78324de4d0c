//! CPU shares of long-running calls: a call that has run past [`LONG_CALL`] needs a lane to go on,
//! and gives it back at every epoch tick, queueing behind the other long-running calls (first come,
//! first served). With half the cores as lanes, calls that spin or compute for long, of every tenant
//! together, use at most half the machine; short calls (nearly all webhooks) never wait for a lane.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a call runs before it needs a lane.
pub const LONG_CALL: Duration = Duration::from_millis(10);

/// The lanes long-running calls share.
#[derive(Debug, Clone)]
pub struct Lanes {
    lanes: Arc<Semaphore>,
}

impl Lanes {
    /// `n` lanes (at least one).
    pub fn new(n: usize) -> Self {
        Lanes { lanes: Arc::new(Semaphore::new(n.max(1))) }
    }

    /// Half the available cores, at least one.
    pub fn for_this_machine() -> Self {
        Lanes::new(std::thread::available_parallelism().map_or(1, |n| n.get() / 2))
    }
}

/// One call's place in the lanes: when it started, and the lane it holds until its next tick.
#[derive(Debug)]
pub struct LaneSlot {
    started: Instant,
    held: Arc<Mutex<Option<OwnedSemaphorePermit>>>,
}

impl LaneSlot {
    /// A call starting now, holding no lane.
    pub fn new() -> Self {
        LaneSlot { started: Instant::now(), held: Arc::default() }
    }

    /// True once the call has run past [`LONG_CALL`].
    pub fn is_long(&self) -> bool {
        self.started.elapsed() >= LONG_CALL
    }

    /// At an epoch tick of a long call: gives its lane back and returns the wait for its next turn.
    pub fn next_turn(&self, lanes: &Lanes) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let held = Arc::clone(&self.held);
        drop(held.lock().ok().and_then(|mut h| h.take()));
        let lanes = Arc::clone(&lanes.lanes);
        Box::pin(async move {
            if let Ok(permit) = lanes.acquire_owned().await
                && let Ok(mut h) = held.lock()
            {
                *h = Some(permit);
            }
        })
    }
}

impl Default for LaneSlot {
    fn default() -> Self {
        LaneSlot::new()
    }
}
