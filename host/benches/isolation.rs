//! Tenant isolation under load, printed as figures (run: `cargo bench -p ncco-host --bench isolation`):
//!
//! 1. a good tenant's answers/s and p99 alone, then beside a tenant whose 300 callers each spin until
//!    their 4 s deadline (goal: at least 40% of the solo throughput, p99 at most 3x solo, no fallback);
//! 2. how far past their deadline the spinning callers got their fallback (goal: within 250 ms), for
//!    the 4 s app and for a 500 ms app at 300 concurrent calls;
//! 3. a good tenant's state-using app (two durable writes per answer) alone, then beside a tenant
//!    writing state from 64 connections (goal: p99 within a small factor of alone).
//!
//! The host runs in this process on its own 2-thread runtime; the load generator on another thread.
//! Loads are bounded in time and go to loopback only.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::{Load, Measured, build_plugins, percentile};
use ncco_host::config::ServeConfig;
use ncco_host::server::{Host, serve};

const GOOD: &str = "/good/hello/answer?from=447700900000&to=442079460000&uuid=u-1&conversation_uuid=CON-1";
const GOOD_CONNECTIONS: usize = 32;
const SPINNERS: usize = 300;
const WINDOW: Duration = Duration::from_secs(4);
const GOOD_STATE: &str = "/good/counter/answer?from=1&uuid=u-1&conversation_uuid=CON-1";
const STATE_CONNECTIONS: usize = 4;

fn tree(root: &Path, wasm: &Path) {
    let write = |tenant: &str, app: &str, plugin: &str, toml: &str| {
        let dir = root.join(tenant);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(wasm.join(format!("{plugin}.wasm")), dir.join(format!("{app}.wasm"))).unwrap();
        std::fs::write(dir.join(format!("{app}.toml")), toml).unwrap();
    };
    write("good", "hello", "hello", "[[fallback]]\naction = \"talk\"\ntext = \"good fallback\"\n");
    let counter =
        "timeout_ms = 4000\n[vars]\nmode = \"state\"\n[[fallback]]\naction = \"talk\"\ntext = \"state fallback\"\n";
    write("good", "counter", "hostile", counter);
    write("busy", "writer", "hostile", counter);
    for (app, ms) in [("spin", 4000), ("spin500", 500)] {
        write(
            "evil",
            app,
            "hostile",
            &format!(
                "timeout_ms = {ms}\n[vars]\nmode = \"loop\"\n[[fallback]]\naction = \"talk\"\ntext = \"evil fallback\"\n"
            ),
        );
    }
}

/// Starts the host on its own runtime and thread; returns its address.
fn start_host(plugins: &Path, data: &Path) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    let (plugins, data) = (plugins.to_path_buf(), data.to_path_buf());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async move {
            let mut config = ServeConfig::new(plugins);
            config.data_dir = data;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let host = Host::start(&config, format!("http://{addr}")).await.unwrap();
            tx.send(addr).unwrap();
            serve(listener, host.router(), std::future::pending(), host.connection_limits()).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

fn line(what: &str, m: &Measured) {
    println!(
        "  {what}: {:.0} answers/s, p50 {:.2} ms, p99 {:.2} ms, {} bad (fallback or not 200) of {}",
        m.rate(),
        percentile(&m.latencies, 0.5) / 1000.0,
        percentile(&m.latencies, 0.99) / 1000.0,
        m.bad,
        m.count
    );
}

fn overshoot(m: &Measured, deadline: Duration) -> String {
    let worst = m.latencies.last().copied().unwrap_or_default();
    format!(
        "{} fallbacks, p50 {:.0} ms, max {:.0} ms: {:+.0} ms past the {} ms deadline (goal: <= +250 ms)",
        m.count,
        percentile(&m.latencies, 0.5) / 1000.0,
        worst.as_secs_f64() * 1000.0,
        (worst.as_secs_f64() - deadline.as_secs_f64()) * 1000.0,
        deadline.as_millis()
    )
}

fn main() {
    let wasm = build_plugins(&["hello", "hostile"]);
    let scratch = std::env::temp_dir().join(format!("ncco-isolation-bench-{}", std::process::id()));
    let plugins = scratch.join("plugins");
    tree(&plugins, &wasm);
    let addr = start_host(&plugins, &scratch.join("data"));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async move {
        println!("good tenant, {GOOD_CONNECTIONS} keep-alive connections, {} s windows:", WINDOW.as_secs());
        let solo = Load::start(addr, GOOD, GOOD_CONNECTIONS, Some("fallback"));
        let alone = solo.measure(Duration::from_millis(500), WINDOW).await;
        solo.stop().await;
        line("alone", &alone);

        let spinning = Load::start(addr, "/evil/spin/answer", SPINNERS, None);
        spinning.record_all();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let beside = Load::start(addr, GOOD, GOOD_CONNECTIONS, Some("fallback"));
        let shared = beside.measure(Duration::from_millis(500), WINDOW).await;
        beside.stop().await;
        line(&format!("beside {SPINNERS} callers spinning to a 4 s deadline"), &shared);
        println!(
            "  throughput {:.0}% of alone (goal: >= 40%), p99 {:.1}x alone (goal: <= 3x)",
            shared.rate() / alone.rate() * 100.0,
            percentile(&shared.latencies, 0.99) / percentile(&alone.latencies, 0.99)
        );
        // Let every spinning call of the window end, then stop.
        tokio::time::sleep(Duration::from_secs(4)).await;
        let spun = spinning.stop().await;
        println!("spinning tenant, 4 s app, {SPINNERS} concurrent calls: {}", overshoot(&spun, Duration::from_secs(4)));

        let short = Load::start(addr, "/evil/spin500/answer", SPINNERS, None);
        let short = {
            let m = short.measure(Duration::from_secs(1), WINDOW).await;
            short.stop().await;
            m
        };
        println!(
            "spinning tenant, 500 ms app, {SPINNERS} concurrent calls: {}",
            overshoot(&short, Duration::from_millis(500))
        );

        println!("good tenant's state app (2 durable writes per answer), {STATE_CONNECTIONS} connections:");
        let alone = Load::start(addr, GOOD_STATE, STATE_CONNECTIONS, Some("fallback"));
        let solo = alone.measure(Duration::from_millis(500), WINDOW).await;
        alone.stop().await;
        line("alone", &solo);
        let writer = Load::start(addr, "/busy/writer/answer?from=1&uuid=u-2&conversation_uuid=CON-2", 64, None);
        writer.record_all();
        let beside = Load::start(addr, GOOD_STATE, STATE_CONNECTIONS, Some("fallback"));
        let shared = beside.measure(Duration::from_secs(1), WINDOW).await;
        beside.stop().await;
        let busy = writer.stop().await;
        line("beside a tenant writing from 64 connections", &shared);
        println!(
            "  p99 {:.1}x alone; the writing tenant did {:.0} answers/s",
            percentile(&shared.latencies, 0.99) / percentile(&solo.latencies, 0.99),
            busy.count as f64 / busy.seconds
        );
    });
    let _ = std::fs::remove_dir_all(&scratch);
}
