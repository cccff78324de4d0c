//! What the benchmarks share: building plugins, a keep-alive HTTP/1.1 load generator that records
//! every response's latency, and percentiles. Loads go to loopback only and stop by themselves.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Builds plugin crates for wasm32-wasip2 (the `plugin` profile) and returns where their `.wasm` files are.
pub fn build_plugins(crates: &[&str]) -> PathBuf {
    let mut cmd = cargo_command();
    cmd.current_dir(workspace()).args(["build", "--quiet", "--profile", "plugin", "--target", "wasm32-wasip2"]);
    for c in crates {
        cmd.args(["-p", c]);
    }
    assert!(cmd.status().unwrap().success(), "building {crates:?} failed");
    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| workspace().join("target"));
    target.join("wasm32-wasip2/plugin")
}

/// A `cargo` command as from a shell, without this bench process's cargo variables.
pub fn cargo_command() -> std::process::Command {
    ncco_host::dev::cargo_command()
}

/// The `p` percentile of sorted durations, in microseconds.
pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

/// What one load measured.
#[derive(Debug, Default)]
pub struct Measured {
    /// Responses in the measured window.
    pub count: usize,
    /// Seconds of the measured window.
    pub seconds: f64,
    /// Every response's latency in the window, sorted.
    pub latencies: Vec<Duration>,
    /// Responses whose status was not 200, or whose body contained `unwanted`.
    pub bad: usize,
}

impl Measured {
    /// Responses per second.
    pub fn rate(&self) -> f64 {
        self.count as f64 / self.seconds
    }
}

/// A running load: `connections` keep-alive connections sending `GET path` until stopped.
pub struct Load {
    stop: Arc<AtomicBool>,
    record: Arc<AtomicBool>,
    results: Arc<Mutex<Measured>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    started: Instant,
}

impl Load {
    /// Starts the load; nothing is recorded until [`Load::measure`]. A body containing `unwanted`
    /// (say, a fallback's text) counts as bad.
    pub fn start(addr: std::net::SocketAddr, path: &str, connections: usize, unwanted: Option<&str>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let record = Arc::new(AtomicBool::new(false));
        let results = Arc::new(Mutex::new(Measured::default()));
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes();
        let unwanted = unwanted.map(|u| u.as_bytes().to_vec());
        let tasks = (0..connections)
            .map(|_| {
                let (stop, record, results, request, unwanted) =
                    (stop.clone(), record.clone(), results.clone(), request.clone(), unwanted.clone());
                tokio::spawn(async move {
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    stream.set_nodelay(true).unwrap();
                    let mut buf = vec![0u8; 64 * 1024];
                    while !stop.load(Ordering::Relaxed) {
                        let sent = Instant::now();
                        stream.write_all(&request).await.unwrap();
                        let (status, body) = read_response(&mut stream, &mut buf).await;
                        let took = sent.elapsed();
                        if record.load(Ordering::Relaxed) {
                            let bad = status != 200
                                || unwanted.as_ref().is_some_and(|u| body.windows(u.len()).any(|w| w == u.as_slice()));
                            let mut r = results.lock().unwrap();
                            r.count += 1;
                            r.bad += usize::from(bad);
                            r.latencies.push(took);
                        }
                    }
                })
            })
            .collect();
        Load { stop, record, results, tasks, started: Instant::now() }
    }

    /// Waits `warmup`, records for `window`, and returns what was recorded (the load keeps going).
    pub async fn measure(&self, warmup: Duration, window: Duration) -> Measured {
        tokio::time::sleep(warmup.saturating_sub(self.started.elapsed())).await;
        self.record.store(true, Ordering::Relaxed);
        let from = Instant::now();
        tokio::time::sleep(window).await;
        self.record.store(false, Ordering::Relaxed);
        let mut r = std::mem::take(&mut *self.results.lock().unwrap());
        r.seconds = from.elapsed().as_secs_f64();
        r.latencies.sort();
        r
    }

    /// Records everything from now until it stops.
    pub fn record_all(&self) {
        self.record.store(true, Ordering::Relaxed);
    }

    /// Stops every connection (each finishes its request in flight) and returns what was recorded.
    pub async fn stop(self) -> Measured {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        let mut r = std::mem::take(&mut *self.results.lock().unwrap());
        r.seconds = self.started.elapsed().as_secs_f64();
        r.latencies.sort();
        r
    }
}

/// Reads one HTTP/1.1 response with a Content-Length body: its status and body.
pub async fn read_response(stream: &mut TcpStream, buf: &mut [u8]) -> (u16, Vec<u8>) {
    let mut filled = 0;
    loop {
        let n = stream.read(&mut buf[filled..]).await.unwrap();
        assert!(n > 0, "connection closed");
        filled += n;
        let text = &buf[..filled];
        if let Some(end) = text.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&text[..end]).unwrap();
            let status: u16 = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
            let len: usize = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                .unwrap_or(0);
            while filled < end + 4 + len {
                let n = stream.read(&mut buf[filled..]).await.unwrap();
                assert!(n > 0);
                filled += n;
            }
            return (status, buf[end + 4..end + 4 + len].to_vec());
        }
    }
}
