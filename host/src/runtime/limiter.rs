//! Memory limits of one instance: a per-memory cap for the app, the tenant's share of the host's
//! budget, and the host's budget shared by every running instance; all refunded when the instance's
//! store is dropped. A refused growth records which limit refused it, so the failure names the real
//! cause (and the right tenant).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The memory all running instances may hold together.
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    used: Arc<AtomicU64>,
    cap: u64,
}

impl MemoryBudget {
    /// A budget of `cap` bytes.
    pub fn new(cap: u64) -> Self {
        MemoryBudget { used: Arc::new(AtomicU64::new(0)), cap }
    }

    /// Bytes charged right now.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// The cap, bytes.
    pub fn cap(&self) -> u64 {
        self.cap
    }

    fn try_charge(&self, bytes: u64) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| u.checked_add(bytes).filter(|n| *n <= self.cap))
            .is_ok()
    }

    fn refund(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// Which limit refused a memory growth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exhausted {
    /// The app's own per-instance cap (`memory_mib`).
    Instance,
    /// The tenant's share of the host budget, held by its other running calls.
    TenantShare,
    /// The host's budget, held by every tenant's running calls.
    Host,
}

/// The limiter of one store.
#[derive(Debug)]
pub struct Limiter {
    tenant: MemoryBudget,
    host: MemoryBudget,
    per_memory: u64,
    charged: u64,
    /// Set when a growth was refused, so the failure can be reported as out of memory.
    pub exhausted: Option<Exhausted>,
}

impl Limiter {
    /// A limiter capping each memory at `per_memory` bytes, charging the tenant's share and the host.
    pub fn new(tenant: MemoryBudget, host: MemoryBudget, per_memory: u64) -> Self {
        Limiter { tenant, host, per_memory, charged: 0, exhausted: None }
    }

    /// The tenant's share, bytes.
    pub fn tenant_cap(&self) -> u64 {
        self.tenant.cap()
    }

    /// The host's budget, bytes.
    pub fn host_cap(&self) -> u64 {
        self.host.cap()
    }

    /// The memory this instance holds (linear memory only grows: also its peak), bytes.
    pub fn charged(&self) -> u64 {
        self.charged
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let desired = desired as u64;
        if desired > self.per_memory || maximum.is_some_and(|m| desired > m as u64) {
            self.exhausted = Some(Exhausted::Instance);
            return Ok(false);
        }
        let delta = desired.saturating_sub(current as u64);
        if !self.tenant.try_charge(delta) {
            self.exhausted = Some(Exhausted::TenantShare);
            return Ok(false);
        }
        if !self.host.try_charge(delta) {
            self.tenant.refund(delta);
            self.exhausted = Some(Exhausted::Host);
            return Ok(false);
        }
        self.charged += delta;
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000 && maximum.is_none_or(|m| desired <= m))
    }

    fn instances(&self) -> usize {
        16
    }

    fn tables(&self) -> usize {
        16
    }

    fn memories(&self) -> usize {
        2
    }
}

impl Drop for Limiter {
    fn drop(&mut self) {
        self.tenant.refund(self.charged);
        self.host.refund(self.charged);
    }
}
