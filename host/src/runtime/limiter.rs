//! Memory limits of one instance: a per-memory cap for the app, and a global budget shared by every
//! running instance, refunded when the instance's store is dropped.

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

    fn try_charge(&self, bytes: u64) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| u.checked_add(bytes).filter(|n| *n <= self.cap))
            .is_ok()
    }

    fn refund(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// The limiter of one store.
#[derive(Debug)]
pub struct Limiter {
    budget: MemoryBudget,
    per_memory: u64,
    charged: u64,
    /// Set when a growth was refused, so the failure can be reported as out of memory.
    pub exhausted: bool,
}

impl Limiter {
    /// A limiter capping each memory at `per_memory` bytes, charging `budget`.
    pub fn new(budget: MemoryBudget, per_memory: u64) -> Self {
        Limiter { budget, per_memory, charged: 0, exhausted: false }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let desired = desired as u64;
        if desired > self.per_memory || maximum.is_some_and(|m| desired > m as u64) {
            self.exhausted = true;
            return Ok(false);
        }
        let delta = desired.saturating_sub(current as u64);
        if !self.budget.try_charge(delta) {
            self.exhausted = true;
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
        self.budget.refund(self.charged);
    }
}
