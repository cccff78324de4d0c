//! Loading plugins into versions: identical modules shared by digest, the artifact cache, Winch's
//! quick compile served at once and Cranelift's pass in the background, the import policy and the
//! smoke test.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use super::bindings::PluginPre;
use super::engines::quick_engine;
use super::{
    ALLOWED_IMPORTS, COMPILES_PER_MINUTE, Code, Compiler, HTTP_IMPORTS, HostState, LoadError, MemoryBudget, PluginEnv,
    Runtime, Version, store,
};
use crate::config::Limits;

impl Runtime {
    /// The version loaded from the module with this SHA-256, if one is loaded (for any app of any
    /// tenant): identical modules are compiled, linked and held once.
    pub fn loaded(&self, hash: &str) -> Option<Arc<Version>> {
        self.loaded.lock().ok()?.get(hash).and_then(std::sync::Weak::upgrade)
    }

    /// Compiles (or loads from the artifact cache), checks the imports, links and smoke-instantiates
    /// `wasm` for `tenant`, off the async runtime; a module already loaded (same SHA-256) is shared,
    /// not loaded again. A fresh compile counts against the tenant's [`COMPILES_PER_MINUTE`]; past it
    /// the load is deferred (tried again at a later rescan).
    ///
    /// A fresh compile is done by Winch, which takes a third of Cranelift's time, and the version is
    /// served with that code at once; Cranelift then compiles it in the background (into the
    /// artifact cache) and the version switches to Cranelift's code for the calls that start after.
    pub async fn load(self: &Arc<Self>, tenant: &str, wasm: Vec<u8>, hash: String) -> Result<Arc<Version>, LoadError> {
        if let Some(shared) = self.loaded(&hash) {
            return Ok(shared);
        }
        if !self.cache.has(&hash) {
            self.take_compile(tenant)?;
        }
        let _loading = Loading::enter(&self.loading);
        let _compiling = self.compile_gate.acquire().await.map_err(|e| e.to_string())?;
        // Loaded by another app while this one waited for the gate.
        if let Some(shared) = self.loaded(&hash) {
            return Ok(shared);
        }
        let rt = Arc::clone(self);
        let started = Instant::now();
        let task_hash = hash.clone();
        let (component, from_cache, wasm) = tokio::task::spawn_blocking(move || {
            let (component, from_cache) = rt.compile(&wasm, &task_hash)?;
            Ok::<_, String>((component, from_cache, wasm))
        })
        .await
        .map_err(|e| format!("compiler task failed: {e}"))??;
        let compile_time = started.elapsed();
        let imports_http = self.check_imports(&component)?;
        let code = self.link(&component)?;
        self.smoke(&code).await?;
        let compiler = code.compiler;
        let version = Arc::new(Version {
            hash,
            loaded_at: SystemTime::now(),
            compile_time,
            from_cache,
            imports_http,
            code: ArcSwap::from_pointee(code),
        });
        if let Ok(mut loaded) = self.loaded.lock() {
            loaded.retain(|_, v| v.strong_count() > 0);
            loaded.insert(version.hash.clone(), Arc::downgrade(&version));
        }
        if compiler == Compiler::Winch {
            let rt = Arc::clone(self);
            let weak = Arc::downgrade(&version);
            tokio::spawn(async move { rt.optimize(weak, wasm).await });
        }
        Ok(version)
    }

    /// Winch's engine and linker, made on first use.
    fn quick(&self) -> Option<&(Engine, Linker<HostState>)> {
        self.quick
            .get_or_init(|| {
                let made = quick_engine(self.instances)
                    .and_then(|engine| Ok((store::linker(&engine)?, engine)))
                    .map(|(linker, engine)| (engine, linker));
                match made {
                    Ok((engine, linker)) => {
                        self.ticked.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(engine.weak());
                        Some((engine, linker))
                    }
                    Err(e) => {
                        tracing::warn!("fresh compiles are served only once Cranelift has compiled them: {e:#}");
                        None
                    }
                }
            })
            .as_ref()
    }

    /// Links `component` on the engine that compiled it.
    fn link(&self, component: &Component) -> Result<Code, String> {
        let (linker, compiler) = match self.quick.get().and_then(Option::as_ref) {
            Some((quick, linker)) if Engine::same(component.engine(), quick) => (linker, Compiler::Winch),
            _ => (&self.linker, Compiler::Cranelift),
        };
        let instance_pre = linker.instantiate_pre(component).map_err(|e| format!("cannot link: {e:#}"))?;
        let pre = PluginPre::new(instance_pre).map_err(|e| format!("not an ncco plugin: {e:#}"))?;
        Ok(Code { pre, compiler })
    }

    /// Compiles a Winch-served version with Cranelift (one at a time, after any fresh compile
    /// waiting), caches the artifact, and switches the version to it; nothing when the version is
    /// gone meanwhile. On failure the version keeps Winch's code.
    async fn optimize(self: Arc<Self>, version: std::sync::Weak<Version>, wasm: Vec<u8>) {
        let Ok(_turn) = self.optimize_gate.acquire().await else { return };
        // Loads first, waiting ones too: a fresh compile is what a swap waits for.
        if self.loading.subscribe().wait_for(|n| *n == 0).await.is_err() {
            return;
        }
        let Some(hash) = version.upgrade().map(|v| v.hash.clone()) else { return };
        let rt = Arc::clone(&self);
        let started = Instant::now();
        let task_hash = hash.clone();
        let compiled = tokio::task::spawn_blocking(move || rt.compile_optimized(&wasm, &task_hash))
            .await
            .map_err(|e| format!("compiler task failed: {e}"))
            .and_then(|r| r);
        let code = compiled.and_then(|component| self.link(&component));
        let outcome = match code {
            Ok(code) => self.smoke(&code).await.map(|()| code),
            Err(e) => Err(e),
        };
        let Some(version) = version.upgrade() else { return };
        let outcome = outcome.map(|code| version.code.store(Arc::new(code)));
        match outcome {
            Ok(()) => tracing::info!(
                hash = %hash,
                compile_ms = started.elapsed().as_secs_f64() * 1000.0,
                "optimized: new calls run Cranelift's code"
            ),
            Err(e) => {
                tracing::warn!(hash = %hash, "Cranelift could not compile a version Winch serves; it keeps Winch's code: {e}")
            }
        }
    }

    /// Cranelift's compile of `wasm` for the serving engine, cached (and mapped from the cache).
    fn compile_optimized(&self, wasm: &[u8], hash: &str) -> Result<Component, String> {
        let Some(optimizer) = &self.optimizer else {
            let component = Component::new(&self.engine, wasm).map_err(|e| format!("cannot compile: {e:#}"))?;
            self.cache.store(hash, &component);
            self.trim_cache(hash);
            return Ok(component);
        };
        let artifact = optimizer.precompile_component(wasm).map_err(|e| format!("cannot compile: {e:#}"))?;
        self.cache.store_bytes(hash, &artifact);
        self.trim_cache(hash);
        if let Some(component) = self.cache.load(hash) {
            return Ok(component);
        }
        // SAFETY: `artifact` was compiled just now by this process, by an engine whose artifacts
        // the serving engine accepts (`optimizer_engine` checked their compatibility); it is not
        // tenant input.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize(&self.engine, &artifact) };
        component.map_err(|e| format!("cannot load the compiled artifact: {e:#}"))
    }

    /// Counts one fresh compile for `tenant`, or says when it may compile again.
    fn take_compile(&self, tenant: &str) -> Result<(), LoadError> {
        let mut budget = self.compiles.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let recent = budget.entry(tenant.to_owned()).or_default();
        while recent.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60)) {
            recent.pop_front();
        }
        if recent.len() >= COMPILES_PER_MINUTE {
            let wait = recent.front().map_or(60, |t| 60 - now.duration_since(*t).as_secs());
            return Err(LoadError::Deferred(format!(
                "the tenant compiled {COMPILES_PER_MINUTE} new plugins in the last minute; this one is compiled in about {wait} s"
            )));
        }
        recent.push_back(now);
        Ok(())
    }

    /// The cached artifact for `hash`, or a fresh compile: Winch's when it can compile `wasm`,
    /// else Cranelift's (cached). Says whether it came from the cache.
    fn compile(&self, wasm: &[u8], hash: &str) -> Result<(Component, bool), String> {
        if let Some(component) = self.cache.load(hash) {
            return Ok((component, true));
        }
        if !is_component(wasm) {
            return Err("not a WebAssembly component (build the plugin for wasm32-wasip2)".to_owned());
        }
        if let Some((quick, _)) = self.quick() {
            match Component::new(quick, wasm) {
                Ok(component) => return Ok((component, false)),
                // Features Winch lacks (tail calls, GC, ...): Cranelift compiles it, or says why not.
                Err(e) => tracing::debug!("Winch cannot compile {hash}: {e:#}"),
            }
        }
        let component = Component::new(&self.engine, wasm).map_err(|e| format!("cannot compile: {e:#}"))?;
        self.cache.store(hash, &component);
        self.trim_cache(hash);
        Ok((component, false))
    }

    /// Trims the artifact cache, keeping what loaded versions and `hash` need.
    fn trim_cache(&self, hash: &str) {
        let mut keep: std::collections::HashSet<String> = self
            .loaded
            .lock()
            .map(|l| l.iter().filter(|(_, v)| v.strong_count() > 0).map(|(h, _)| h.clone()).collect())
            .unwrap_or_default();
        keep.insert(hash.to_owned());
        self.cache.trim(&keep);
    }

    /// Refuses imports outside [`ALLOWED_IMPORTS`]; says whether `wasi:http` is imported.
    fn check_imports(&self, component: &Component) -> Result<bool, String> {
        let ty = component.component_type();
        let names: Vec<String> = ty.imports(component.engine()).map(|(name, _)| name.to_owned()).collect();
        let refused: Vec<&String> =
            names.iter().filter(|name| !ALLOWED_IMPORTS.iter().any(|p| name.starts_with(p))).collect();
        if refused.is_empty() {
            return Ok(names.iter().any(|n| n.starts_with(HTTP_IMPORTS)));
        }
        let refused: Vec<&str> = refused.iter().map(|s| s.as_str()).collect();
        Err(format!(
            "the plugin imports {}, which plugins may not use (allowed: {}; no filesystem or sockets)",
            refused.join(", "),
            ALLOWED_IMPORTS.iter().map(|p| format!("{p}*")).collect::<Vec<_>>().join(", ")
        ))
    }

    /// Instantiates `code` once in a throwaway store: what does not instantiate is never served.
    async fn smoke(&self, code: &Code) -> Result<(), String> {
        let env = PluginEnv::smoke();
        let limits = Limits::default();
        let budget = MemoryBudget::new(limits.memory_bytes);
        let mut store = self.store(code.pre.engine(), env, &limits, budget, Instant::now() + limits.timeout);
        code.pre.instantiate_async(&mut store).await.map_err(|e| format!("does not instantiate: {e:#}"))?;
        Ok(())
    }
}

/// One load counted in [`Runtime`]'s `loading` while it lives.
struct Loading<'a>(&'a tokio::sync::watch::Sender<usize>);

impl<'a> Loading<'a> {
    fn enter(count: &'a tokio::sync::watch::Sender<usize>) -> Self {
        count.send_modify(|n| *n += 1);
        Loading(count)
    }
}

impl Drop for Loading<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

/// A component starts with the wasm magic and a component-model layer (version 0x0d, layer 1).
fn is_component(wasm: &[u8]) -> bool {
    wasm.len() >= 8 && wasm[..4] == *b"\0asm" && wasm[6..8] == [0x01, 0x00]
}
