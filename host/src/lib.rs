//! `ncco-host`: the server that answers Vonage's answer and event webhooks by running customers'
//! WebAssembly plugins, and the command line around it.
//!
//! Layers, top down: [`http`] (routes, signature check, errors; no wasmtime), [`runtime`] (engine,
//! linker, per-webhook sandbox; no axum), [`registry`] (tenants, apps, versions, hot reload with
//! [`watch`]), [`state`] (plugin key-value state), and the model from `ncco-sdk`.

pub mod check;
pub mod cli;
pub mod config;
pub mod dev;
pub mod http;
pub mod registry;
pub mod runtime;
pub mod server;
pub mod signature;
pub mod simulate;
pub mod state;
pub mod watch;
