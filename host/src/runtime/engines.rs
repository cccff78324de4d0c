//! The engines: the serving one (Cranelift's code, pooled), Winch's for fresh compiles, the
//! one-thread Cranelift compiler behind it, their shared epoch ticker, and what artifacts of one
//! must match to load into another.

use std::sync::{Arc, Mutex};

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Strategy};

use super::EPOCH_TICK;
use crate::config::MAX_MEMORY_MIB;

/// The serving engine's configuration: the pooling allocator sized for `instances`, keeping at most
/// `warm_slots` idle slots resident; epoch interruption; WASIp2 only.
pub(super) fn engine_config(instances: u32, warm_slots: u32) -> anyhow::Result<Config> {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(instances)
        .total_stacks(instances)
        .total_memories(instances.saturating_mul(2))
        .total_core_instances(instances.saturating_mul(8))
        .total_tables(instances.saturating_mul(8))
        .max_memory_size(usize::try_from(MAX_MEMORY_MIB << 20)?)
        .max_memories_per_component(2)
        .max_core_instances_per_component(16)
        .max_tables_per_component(16)
        .table_elements(20_000)
        .max_unused_warm_slots(warm_slots)
        .linear_memory_keep_resident(1 << 20)
        .table_keep_resident(64 << 10)
        .async_stack_keep_resident(128 << 10);
    let mut config = Config::new();
    config
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        .epoch_interruption(true)
        .concurrency_support(false)
        .memory_init_cow(false)
        .max_wasm_stack(512 << 10)
        .async_stack_size(2 << 20);
    Ok(config)
}

/// Idle slots Winch's pool keeps resident: it serves a version only until Cranelift's code is ready.
const QUICK_WARM_SLOTS: u32 = 8;

/// The engine that serves fresh compiles with Winch's code, limited as the serving one.
pub(super) fn quick_engine(instances: u32) -> anyhow::Result<Engine> {
    let mut config = engine_config(instances, instances.min(QUICK_WARM_SLOTS))?;
    config.strategy(Strategy::Winch);
    Ok(Engine::new(&config)?)
}

/// A compile-only Cranelift engine on one thread whose artifacts the serving engine loads (the two
/// configurations differ only in parallelism, which artifacts do not record); `None` when that does
/// not hold here.
pub(super) fn optimizer_engine(serving: &Engine) -> Option<Engine> {
    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .concurrency_support(false)
        .memory_init_cow(false)
        .max_wasm_stack(512 << 10)
        .async_stack_size(2 << 20)
        .parallel_compilation(false);
    let engine = Engine::new(&config).ok()?;
    if compatibility(&engine) == compatibility(serving) {
        return Some(engine);
    }
    // The allocator's settings may enter the artifacts' compatibility: try the serving one's.
    let mut config = engine_config(1, 0).ok()?;
    config.parallel_compilation(false);
    let engine = Engine::new(&config).ok()?;
    let same = compatibility(&engine) == compatibility(serving);
    if !same {
        tracing::warn!("no single-threaded compiler engine matches the serving one; Cranelift compiles use both cores");
    }
    same.then_some(engine)
}

/// What an engine's artifacts must match to load into another.
pub(super) fn compatibility(engine: &Engine) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.finish()
}

/// One thread advancing the epoch of every engine that runs plugins, while the first (the serving
/// engine) lives.
pub(super) fn spawn_epoch_ticker(engines: Arc<Mutex<Vec<wasmtime::EngineWeak>>>) {
    let spawned = std::thread::Builder::new().name("epoch-ticker".into()).spawn(move || {
        loop {
            std::thread::sleep(EPOCH_TICK);
            let engines = engines.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if engines.first().and_then(wasmtime::EngineWeak::upgrade).is_none() {
                break;
            }
            for engine in engines.iter().filter_map(wasmtime::EngineWeak::upgrade) {
                engine.increment_epoch();
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!("cannot start the epoch ticker thread: {e}; plugin deadlines will not be enforced");
    }
}
