//! Fair admission of plugin instances: a bounded number run at once (near the core count), and a
//! queue in front of them that is fair between tenants.
//!
//! Each tenant has its own FIFO queue and a cap on the instances it may run at once; a freed slot goes
//! to the next tenant in round-robin order that is under its cap, so a tenant's backlog waits behind
//! its own share and never in front of another tenant. Every waiter carries the instant by which it
//! must start (derived from its webhook's deadline, measured from arrival); one that cannot start in
//! time is refused at once, so the caller gets the fallback NCCO before Vonage's deadline.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::oneshot;

/// Why an instance could not be admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The tenant's queue is full.
    TenantQueueFull,
    /// The host-wide queue is full.
    HostQueueFull,
    /// No slot came free before the webhook had to start to meet its deadline.
    NoSlotInTime,
    /// The app has its `max_concurrent` webhooks in flight.
    AppFull(usize),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::TenantQueueFull => "the tenant has as many webhooks waiting as its queue holds",
            Refusal::HostQueueFull => "the host has as many webhooks waiting as its queue holds",
            Refusal::NoSlotInTime => "no instance slot came free in time to meet the webhook's deadline",
            Refusal::AppFull(cap) => return write!(f, "the app has its max_concurrent of {cap} webhooks in flight"),
        })
    }
}

/// Answers a refusal made before the webhook could queue (a full queue, a full app) only at
/// `start_by`, when a queued webhook would have been refused too: a flood gets its answers no sooner
/// than its queue would give them, so its callers cannot spin on instant refusals.
pub async fn held(refusal: Refusal, start_by: Instant) -> Refusal {
    tokio::time::sleep_until(start_by.into()).await;
    refusal
}

/// What one admission asks for.
#[derive(Debug, Clone, Copy)]
pub struct Ask {
    /// Instances this tenant may run at once.
    pub tenant_running: usize,
    /// Webhooks of this tenant that may wait at once.
    pub tenant_queued: usize,
    /// The instant by which the instance must start.
    pub start_by: Instant,
    /// Queue past the tenant's cap, up to twice it (a `completed` event: the plugin's clean-up).
    pub priority: bool,
}

struct Waiter {
    tx: oneshot::Sender<Slot>,
    start_by: Instant,
    cap: usize,
}

impl Waiter {
    fn dead(&self, now: Instant) -> bool {
        self.tx.is_closed() || self.start_by <= now
    }
}

#[derive(Default)]
struct TenantQueue {
    running: usize,
    waiters: VecDeque<Waiter>,
}

impl TenantQueue {
    /// Drops waiters that gave up or can no longer start in time; returns how many.
    fn prune(&mut self, now: Instant) -> usize {
        let before = self.waiters.len();
        self.waiters.retain(|w| !w.dead(now));
        before - self.waiters.len()
    }
}

#[derive(Default)]
struct Inner {
    running: usize,
    queued: usize,
    tenants: HashMap<Arc<str>, TenantQueue>,
    /// Tenants with waiters, in the order their turn comes.
    ring: VecDeque<Arc<str>>,
}

struct Shared {
    slots: usize,
    max_queued: usize,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while holding the lock; recover the data if something ever did.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The fair scheduler of plugin instances.
#[derive(Clone)]
pub struct Scheduler {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.shared.lock();
        f.debug_struct("Scheduler")
            .field("slots", &self.shared.slots)
            .field("running", &inner.running)
            .field("queued", &inner.queued)
            .finish()
    }
}

/// A running instance's slot; dropping it hands the slot to the next waiter.
pub struct Slot {
    shared: Arc<Shared>,
    tenant: Arc<str>,
    /// How long the webhook waited for it.
    pub waited: std::time::Duration,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot").field("tenant", &self.tenant).field("waited", &self.waited).finish()
    }
}

/// Counts of one tenant, for the admin view.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct TenantLoad {
    /// Instances running now.
    pub running: usize,
    /// Webhooks waiting for a slot now.
    pub queued: usize,
}

impl Scheduler {
    /// `slots` instances at once; at most `max_queued` webhooks waiting over all tenants.
    pub fn new(slots: usize, max_queued: usize) -> Self {
        Scheduler { shared: Arc::new(Shared { slots: slots.max(1), max_queued, inner: Mutex::new(Inner::default()) }) }
    }

    /// Instances that may run at once.
    pub fn slots(&self) -> usize {
        self.shared.slots
    }

    /// Running and waiting webhooks of `tenant`.
    pub fn load(&self, tenant: &str) -> TenantLoad {
        let inner = self.shared.lock();
        inner
            .tenants
            .get(tenant)
            .map(|t| TenantLoad { running: t.running, queued: t.waiters.len() })
            .unwrap_or_default()
    }

    /// Waits for a slot for `tenant`, fairly, until `ask.start_by`. A webhook refused because its
    /// tenant's (or the host's) queue is full is held until `start_by` before the refusal: a tenant
    /// flooding the host gets its answers no sooner than a queued webhook would, so its callers cannot
    /// turn instant refusals into a CPU-eating loop. (Held webhooks cost a sleeping task each.)
    pub async fn admit(&self, tenant: &str, ask: Ask) -> Result<Slot, Refusal> {
        match self.try_admit(tenant, ask).await {
            Err(r @ (Refusal::TenantQueueFull | Refusal::HostQueueFull)) => Err(held(r, ask.start_by).await),
            other => other,
        }
    }

    async fn try_admit(&self, tenant: &str, ask: Ask) -> Result<Slot, Refusal> {
        let arrived = Instant::now();
        let rx = {
            let mut inner = self.shared.lock();
            let inner = &mut *inner;
            let slots = self.shared.slots;
            let cap = ask.tenant_running.clamp(1, slots);
            let key: Arc<str> = match inner.tenants.get_key_value(tenant) {
                Some((k, _)) => Arc::clone(k),
                None => Arc::from(tenant),
            };
            let queue = inner.tenants.entry(Arc::clone(&key)).or_default();
            let pruned = queue.prune(arrived);
            inner.queued -= pruned;
            if inner.running < slots && queue.running < cap && queue.waiters.is_empty() {
                queue.running += 1;
                inner.running += 1;
                return Ok(Slot { shared: Arc::clone(&self.shared), tenant: key, waited: Default::default() });
            }
            // A priority webhook may queue past its tenant's cap, up to twice it, never unbounded: a
            // flood of `completed` events cannot grow the queue without limit.
            let tenant_cap = if ask.priority { ask.tenant_queued.saturating_mul(2).max(1) } else { ask.tenant_queued };
            if queue.waiters.len() >= tenant_cap {
                return Err(Refusal::TenantQueueFull);
            }
            if inner.queued >= self.shared.max_queued && !Self::push_out(inner, &key) {
                return Err(Refusal::HostQueueFull);
            }
            if ask.start_by <= arrived {
                return Err(Refusal::NoSlotInTime);
            }
            let (tx, rx) = oneshot::channel();
            let queue = inner.tenants.entry(Arc::clone(&key)).or_default();
            if queue.waiters.is_empty() {
                inner.ring.push_back(Arc::clone(&key));
            }
            queue.waiters.push_back(Waiter { tx, start_by: ask.start_by, cap });
            inner.queued += 1;
            rx
        };
        match tokio::time::timeout_at(ask.start_by.into(), rx).await {
            Ok(Ok(mut slot)) => {
                slot.waited = arrived.elapsed();
                Ok(slot)
            }
            // Timed out (the waiter is pruned as dead), or the scheduler dropped the sender.
            _ => Err(Refusal::NoSlotInTime),
        }
    }

    /// With the host queue full, makes room for `tenant` by refusing the newest waiter of the tenant
    /// with the longest queue, when that queue is longer than `tenant`'s own by more than one: a full
    /// host queue is shared out evenly, never held by one tenant's backlog.
    fn push_out(inner: &mut Inner, tenant: &Arc<str>) -> bool {
        let own = inner.tenants.get(tenant).map_or(0, |q| q.waiters.len());
        let longest = inner.tenants.iter_mut().filter(|(k, _)| *k != tenant).max_by_key(|(_, q)| q.waiters.len());
        match longest {
            Some((_, q)) if q.waiters.len() > own + 1 => {
                // Its sender dropped, that waiter is answered at once as not admitted in time.
                q.waiters.pop_back();
                inner.queued -= 1;
                true
            }
            _ => false,
        }
    }

    /// Hands freed capacity to the next tenant in turn that is under its cap.
    fn dispatch(shared: &Arc<Shared>) {
        let handoff = {
            let mut inner = shared.lock();
            Self::next_waiter(shared, &mut inner)
        };
        if let Some((tx, slot)) = handoff {
            // A waiter that gave up since it was checked gets nothing: dropping the returned slot
            // releases it, which dispatches again (rare: the waiter is checked just before).
            let _ = tx.send(slot);
        }
    }

    fn next_waiter(shared: &Arc<Shared>, inner: &mut Inner) -> Option<(oneshot::Sender<Slot>, Slot)> {
        if inner.running >= shared.slots {
            return None;
        }
        let now = Instant::now();
        for _ in 0..inner.ring.len() {
            let tenant = inner.ring.pop_front()?;
            let Some(queue) = inner.tenants.get_mut(&tenant) else { continue };
            let pruned = queue.prune(now);
            inner.queued -= pruned;
            let Some(front) = queue.waiters.front() else { continue };
            if queue.running >= front.cap {
                inner.ring.push_back(tenant);
                continue;
            }
            let waiter = queue.waiters.pop_front()?;
            inner.queued -= 1;
            queue.running += 1;
            if !queue.waiters.is_empty() {
                inner.ring.push_back(Arc::clone(&tenant));
            }
            inner.running += 1;
            let slot = Slot { shared: Arc::clone(shared), tenant, waited: Default::default() };
            return Some((waiter.tx, slot));
        }
        None
    }

    fn release(shared: &Arc<Shared>, tenant: &Arc<str>) {
        {
            let mut inner = shared.lock();
            inner.running = inner.running.saturating_sub(1);
            if let Some(queue) = inner.tenants.get_mut(tenant) {
                queue.running = queue.running.saturating_sub(1);
                if queue.running == 0 && queue.waiters.is_empty() {
                    inner.tenants.remove(tenant);
                }
            }
        }
        Self::dispatch(shared);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        Scheduler::release(&self.shared, &self.tenant);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ask(running: usize, start_in: Duration) -> Ask {
        Ask { tenant_running: running, tenant_queued: 100, start_by: Instant::now() + start_in, priority: false }
    }

    #[tokio::test]
    async fn a_tenant_at_its_cap_waits_while_another_runs() {
        let s = Scheduler::new(4, 100);
        let a1 = s.admit("a", ask(2, Duration::from_secs(1))).await;
        let a2 = s.admit("a", ask(2, Duration::from_secs(1))).await;
        assert!(a1.is_ok() && a2.is_ok());
        // a is at its cap of 2: its third waits, and times out.
        let a3 = s.admit("a", ask(2, Duration::from_millis(30))).await;
        assert_eq!(a3.err(), Some(Refusal::NoSlotInTime));
        // b still gets a slot at once.
        let b = s.admit("b", ask(2, Duration::from_millis(30))).await.expect("b runs");
        assert_eq!(b.waited, Duration::ZERO);
        assert_eq!(s.load("a").running, 2);
    }

    #[tokio::test]
    async fn freed_slots_go_round_robin_between_tenants() {
        let s = Scheduler::new(1, 100);
        let first = s.admit("a", ask(1, Duration::from_secs(5))).await.expect("slot");
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // a queues three, then b queues one: b must run second, not fourth.
        for (i, tenant) in ["a", "a", "a", "b"].into_iter().enumerate() {
            let (s, order) = (s.clone(), Arc::clone(&order));
            tasks.push(tokio::spawn(async move {
                let slot = s.admit(tenant, ask(1, Duration::from_secs(5))).await.expect("slot");
                order.lock().expect("lock").push(tenant);
                tokio::time::sleep(Duration::from_millis(5)).await;
                drop(slot);
            }));
            tokio::time::sleep(Duration::from_millis(5 + i as u64)).await;
        }
        drop(first);
        for t in tasks {
            t.await.expect("task");
        }
        assert_eq!(*order.lock().expect("lock"), vec!["a", "b", "a", "a"]);
    }

    #[tokio::test]
    async fn a_full_host_queue_is_shared_out_not_held_by_one_backlog() {
        let s = Scheduler::new(1, 4);
        let _held = s.admit("a", ask(1, Duration::from_secs(5))).await.expect("slot");
        let mut backlog = Vec::new();
        for _ in 0..4 {
            let s = s.clone();
            backlog.push(tokio::spawn(async move { s.admit("a", ask(1, Duration::from_secs(5))).await.map(drop) }));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        // The host queue is full of a's backlog; b still gets in line, and a's newest waiter is told.
        let b = {
            let s = s.clone();
            tokio::spawn(async move { s.admit("b", ask(1, Duration::from_millis(200))).await.map(drop) })
        };
        let newest = backlog.pop().expect("task").await.expect("join");
        assert_eq!(newest, Err(Refusal::NoSlotInTime));
        assert_eq!(s.load("b").queued, 1);
        drop(b);
    }

    #[tokio::test]
    async fn queue_caps_refuse_at_the_start_by_time_but_priority_queues() {
        let s = Scheduler::new(1, 100);
        let _held = s.admit("a", ask(1, Duration::from_secs(5))).await.expect("slot");
        let full = Ask { tenant_queued: 0, ..ask(1, Duration::from_millis(50)) };
        let asked = Instant::now();
        assert_eq!(s.admit("a", full).await.err(), Some(Refusal::TenantQueueFull));
        // Held until it had to start, not refused at once: a flood cannot spin on refusals.
        assert!(asked.elapsed() >= Duration::from_millis(45), "{:?}", asked.elapsed());
        let urgent = Ask { priority: true, start_by: Instant::now() + Duration::from_millis(20), ..full };
        assert_eq!(s.admit("a", urgent).await.err(), Some(Refusal::NoSlotInTime));
    }
}
