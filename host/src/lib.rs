//! `ncco-host`: the server that answers Vonage's answer and event webhooks by running customers'
//! WebAssembly plugins, and the command line around it.
//!
//! Layers, top down: [`http`] (routes, signature check, errors; no wasmtime), [`runtime`] (engine,
//! linker, per-webhook sandbox; no axum), [`registry`] (tenants, apps, versions, hot reload with
//! [`watch`]), [`deploy`] (versions, activation and rollback through the API), [`state`] (plugin
//! key-value state), and the model from `ncco-sdk`. [`client`] is the command line's side of the
//! deploy API.

pub mod check;
pub mod cli;
pub mod client;
pub mod config;
pub mod deploy;
pub mod dev;
pub mod http;
pub mod inspect;
pub mod logs;
pub mod metrics;
pub mod registry;
pub mod runtime;
pub mod server;
pub mod signature;
pub mod simulate;
pub mod state;
pub mod watch;
