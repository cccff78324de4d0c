//! The host's speed, printed as figures (run: `cargo bench -p ncco-host --bench webhook`):
//!
//! 1. per-webhook cost in process: fresh store + instantiate + answer call + NCCO validation, p50/p99;
//! 2. HTTP answers per second of the host running the `hello` plugin, against a native axum handler
//!    returning the same NCCO, measured in the same run on the same machine, and their ratio.
//!
//! `cargo bench -p ncco-host --bench webhook -- in-process` runs only the first part (for profiling).
//!
//! It builds the `hello` plugin for wasm32-wasip2 first. Loads are bounded in count and time and go to
//! loopback only.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Load, build_plugins, percentile};

use axum::Router;
use axum::routing::get;
use ncco_host::config::{AppConfig, Limits, ServeConfig};
use ncco_host::runtime::{CallLog, Context, PluginEnv, RunSpec, Runtime, RuntimeConfig, Webhook};
use ncco_host::server::{Host, serve};
use ncco_host::state::{MemoryStore, Namespace};
use ncco_sdk::ncco::Validator;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const IN_PROCESS_CALLS: usize = 20_000;
const HTTP_CONNECTIONS: usize = 32;
const HTTP_SECONDS: u64 = 4;
const QUERY: &str = "to=442079460000&from=447700900000&uuid=aaaaaaaa-bbbb-cccc-dddd-0123456789ab&conversation_uuid=CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab";

fn build_hello() -> PathBuf {
    build_plugins(&["hello"]).join("hello.wasm")
}

async fn in_process(wasm: &Path, data_dir: &Path) -> (f64, f64) {
    let runtime = Arc::new(
        Runtime::new(&RuntimeConfig {
            slots: 64,
            max_queued: 64,
            memory_budget: 4 << 30,
            data_dir: data_dir.into(),
            artifact_cache_bytes: 1 << 30,
        })
        .unwrap(),
    );
    let version = runtime.load("bench", std::fs::read(wasm).unwrap(), "bench".into()).await.unwrap();
    let limits = Limits::default();
    let config = AppConfig::default();
    let state: Arc<MemoryStore> = Arc::new(MemoryStore::new());
    let payload = serde_json::json!({"to":"442079460000","from":"447700900000","uuid":"u","conversation_uuid":"CON-1"})
        .to_string();
    let validator = Validator::default();
    let mut times = Vec::with_capacity(IN_PROCESS_CALLS);
    for i in 0..IN_PROCESS_CALLS + 1000 {
        let started = Instant::now();
        let env = PluginEnv {
            vars: Arc::clone(&config.vars),
            state: state.clone(),
            app_ns: Namespace::App { tenant: "bench".into(), app: "hello".into() },
            call_ns: None,
            log: CallLog::new(4096),
        };
        let ctx = Context {
            tenant: "bench".into(),
            app: "hello".into(),
            version: version.hash.clone(),
            webhook: Webhook::Answer,
            callback: None,
            call_uuid: Some("u".into()),
            conversation_uuid: Some("CON-1".into()),
            app_url: "http://127.0.0.1/bench/hello".into(),
            claims: None,
        };
        let spec = RunSpec {
            env,
            limits: &limits,
            tenant_budget: runtime.tenant_budget("bench", 2 << 30),
            deadline: started + limits.timeout,
        };
        let (result, _log) = runtime.call(&version, spec, ctx, &payload).await;
        let ncco = result.unwrap().unwrap();
        assert!(validator.check_str(&ncco).report.is_valid());
        if i >= 1000 {
            times.push(started.elapsed());
        }
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

/// Requests per second against `path` on `addr`, from `HTTP_CONNECTIONS` keep-alive connections.
async fn load(addr: std::net::SocketAddr, path: &str) -> f64 {
    let load = Load::start(addr, path, HTTP_CONNECTIONS, None);
    let measured = load.measure(Duration::from_millis(500), Duration::from_secs(HTTP_SECONDS)).await;
    load.stop().await;
    assert_eq!(measured.bad, 0, "responses other than 200");
    measured.rate()
}

async fn http(wasm: &Path, data_dir: &Path) -> (f64, f64) {
    let plugins = data_dir.join("plugins");
    std::fs::create_dir_all(plugins.join("bench")).unwrap();
    std::fs::copy(wasm, plugins.join("bench/hello.wasm")).unwrap();
    let mut config = ServeConfig::new(plugins);
    config.data_dir = data_dir.join("data");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let host = Host::start(&config, format!("http://{addr}")).await.unwrap();
    let (router, limits) = (host.router(), host.connection_limits());
    tokio::spawn(async move { serve(listener, router, std::future::pending(), limits).await.unwrap() });

    // The native baseline returns exactly the NCCO the plugin returns.
    let path = format!("/bench/hello/answer?{QUERY}");
    let ncco = reqwest_like_get(addr, &path).await;
    let native_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let native_addr = native_listener.local_addr().unwrap();
    let native = Router::new().route(
        "/bench/hello/answer",
        get(move || {
            let ncco = ncco.clone();
            async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], ncco) }
        }),
    );
    tokio::spawn(async move { axum::serve(native_listener, native).await.unwrap() });

    let native_rps = load(native_addr, &path).await;
    let host_rps = load(addr, &path).await;
    drop(host);
    (host_rps, native_rps)
}

async fn reqwest_like_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_owned()
}

fn main() {
    let wasm = build_hello();
    let scratch = std::env::temp_dir().join(format!("ncco-bench-{}", std::process::id()));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let (p50, p99) = in_process(&wasm, &scratch.join("inproc")).await;
        println!("per-webhook cost in process (store + instantiate + answer + validate), {IN_PROCESS_CALLS} calls:");
        println!("  p50 {p50:.1} us   p99 {p99:.1} us   (goal: p50 < 20 us)");
        if std::env::args().any(|a| a == "in-process") {
            return;
        }
        let (host_rps, native_rps) = http(&wasm, &scratch).await;
        println!("HTTP answers/s, {HTTP_CONNECTIONS} keep-alive connections, {HTTP_SECONDS} s each, same process and machine:");
        println!("  host + hello plugin {host_rps:.0}/s   native axum handler {native_rps:.0}/s   ratio {:.2} (goal: >= 0.70)", host_rps / native_rps);
    });
    let _ = std::fs::remove_dir_all(&scratch);
}
