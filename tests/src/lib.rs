//! Shared helpers for the end-to-end tests: where the shared conformance cases are, and the real
//! `ncco-host` binary, built by cargo on first use.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// `../shared` beside the workspace root: the design docs and the conformance cases.
pub fn shared_dir() -> PathBuf {
    workspace_root().join("../shared")
}

/// The sorted JSON files of one conformance folder (`ncco`, `ncco-invalid`, `webhooks`).
pub fn conformance_files(folder: &str) -> Result<Vec<PathBuf>> {
    let dir = shared_dir().join("conformance").join(folder);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no conformance cases in {}", dir.display());
    }
    Ok(files)
}

/// The cargo target directory the tests run from (`target/debug` or `target/release`).
fn profile_dir() -> Result<PathBuf> {
    // The test executable lives in <target>/<profile>/deps/.
    let exe = std::env::current_exe()?;
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .context("cannot locate the target directory from the test executable")
}

/// The real `ncco-host` binary of this build profile, built with cargo (if it is not already) once
/// per test process.
pub fn ncco_host_bin() -> Result<PathBuf> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| build_host().map_err(|e| format!("{e:#}"))).clone().map_err(anyhow::Error::msg)
}

/// A `cargo` command as from a shell, without this test process's cargo variables
/// ([`ncco_host::dev::cargo_command`]).
pub fn cargo_command() -> Command {
    ncco_host::dev::cargo_command()
}

fn build_host() -> Result<PathBuf> {
    let dir = profile_dir()?;
    let mut cmd = cargo_command();
    // What `cargo test --workspace` builds (host/tests/ makes it build the binary too), so under
    // `cargo test --workspace` this is already done. `cargo build -p ncco-host` would resolve fewer
    // features of shared dependencies (indexmap, regex-syntax, ...) and build wasmtime and
    // cranelift a second time: 8.4 of the 12 minutes of a cold CI run's tests.
    cmd.current_dir(workspace_root()).args(["test", "--quiet", "--workspace", "--no-run"]);
    if dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let status = cmd.status().context("running cargo to build ncco-host")?;
    if !status.success() {
        bail!("cargo test --workspace --no-run (building ncco-host) failed with {status}");
    }
    let bin = dir.join(format!("ncco-host{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        bail!("{} was not built", bin.display());
    }
    Ok(bin)
}

/// Builds plugin crates for `wasm32-wasip2` (the `plugin` profile: size-optimised, stripped) and returns the directory holding the
/// `.wasm` files, named after the crates with `-` turned into `_`.
pub fn build_plugins(crates: &[&str]) -> Result<PathBuf> {
    static BUILT: OnceLock<std::sync::Mutex<Vec<String>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut done = built.lock().map_err(|_| anyhow::anyhow!("plugin build lock poisoned"))?;
    let missing: Vec<&str> = crates.iter().copied().filter(|c| !done.iter().any(|d| d == c)).collect();
    if !missing.is_empty() {
        let mut cmd = cargo_command();
        cmd.current_dir(workspace_root()).args([
            "build",
            "--quiet",
            "--profile",
            "plugin",
            "--target",
            "wasm32-wasip2",
        ]);
        for c in &missing {
            cmd.args(["-p", c]);
        }
        let status = cmd.status().context("running cargo build for the plugins")?;
        if !status.success() {
            bail!(
                "building plugins {missing:?} for wasm32-wasip2 failed with {status} (is the target installed? rustup target add wasm32-wasip2)"
            );
        }
        done.extend(missing.iter().map(|s| (*s).to_owned()));
    }
    Ok(target_dir()?.join("wasm32-wasip2").join("plugin"))
}

/// The built `.wasm` of plugin crate `name`.
pub fn plugin_wasm(name: &str) -> Result<PathBuf> {
    let dir = build_plugins(&[name])?;
    let path = dir.join(format!("{}.wasm", name.replace('-', "_")));
    if !path.exists() {
        bail!("{} was not built", path.display());
    }
    Ok(path)
}

fn target_dir() -> Result<PathBuf> {
    profile_dir()?.parent().map(Path::to_path_buf).context("no target directory")
}

/// A running `ncco-host serve` on a free loopback port, killed when dropped.
#[derive(Debug)]
pub struct HostProcess {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
    /// The admin routes' own `http://ADDR`, when started with `--admin-listen`.
    pub admin_url: Option<String>,
    /// What the host wrote to stderr so far is collected here by a reader thread.
    pub stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl HostProcess {
    /// Starts `ncco-host serve --plugins <plugins> --listen 127.0.0.1:0 <extra...>` and waits for
    /// `listening on http://ADDR`.
    pub fn start(plugins: &Path, data_dir: &Path, extra: &[&str]) -> Result<HostProcess> {
        Self::start_under(&[], plugins, data_dir, extra)
    }

    /// Like [`HostProcess::start`], with the binary run by `wrapper` (`["prlimit", "--nofile=256:256",
    /// "--"]`, say).
    pub fn start_under(wrapper: &[&str], plugins: &Path, data_dir: &Path, extra: &[&str]) -> Result<HostProcess> {
        use std::io::{BufRead, BufReader};
        let bin = ncco_host_bin()?;
        let mut cmd = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(&bin);
                c
            }
            None => Command::new(&bin),
        };
        let mut child = cmd
            .args(["serve", "--listen", "127.0.0.1:0", "--plugins"])
            .arg(plugins)
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .context("starting ncco-host serve")?;
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        if let Some(err) = child.stderr.take() {
            let sink = std::sync::Arc::clone(&stderr);
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    if let Ok(mut s) = sink.lock() {
                        s.push_str(&line);
                        s.push('\n');
                    }
                }
            });
        }
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut admin_url = None;
        let base_url = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.strip_prefix("admin listening on ") {
                        admin_url = Some(url.trim().to_owned());
                    } else if let Some(url) = line.strip_prefix("listening on ") {
                        break url.trim().to_owned();
                    }
                }
                _ => {
                    let _ = child.kill();
                    let log = stderr.lock().map(|s| s.clone()).unwrap_or_default();
                    bail!("ncco-host serve exited before listening:\n{log}");
                }
            }
        };
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Ok(HostProcess { child, base_url, admin_url, stderr })
    }

    /// The URL of `path` on this host.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Everything the host logged so far.
    pub fn log(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits (up to 10 s) until the host's log contains `needle`; true when it does. Log lines arrive
    /// through a reader thread, a moment after the response that caused them.
    pub fn wait_for_log(&self, needle: &str) -> bool {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !self.log().contains(needle) {
            if std::time::Instant::now() > until {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        true
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> Result<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        Ok(self.child.wait()?)
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP response.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Body text.
    pub body: String,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_str(&self.body).with_context(|| format!("not JSON: {}", self.body))
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into()
}

fn reply(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Reply> {
    let mut r = r?;
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_string()?;
    Ok(Reply { status, body })
}

/// GET `url`.
pub fn get(url: &str) -> Result<Reply> {
    reply(agent().get(url).call())
}

/// POST `body` as JSON to `url`, with extra headers.
pub fn post(url: &str, body: &str, headers: &[(&str, &str)]) -> Result<Reply> {
    let mut req = agent().post(url).header("Content-Type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    reply(req.send(body))
}

/// Sends `method` to `url` with a body and headers.
pub fn send(method: &str, url: &str, body: &[u8], headers: &[(&str, &str)]) -> Result<Reply> {
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    reply(agent().run(req.body(body.to_vec())?))
}

/// GET `url` with headers.
pub fn get_with(url: &str, headers: &[(&str, &str)]) -> Result<Reply> {
    let mut req = agent().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    reply(req.call())
}

/// A throwaway `redis-server` on a free loopback port, stopped when dropped: without persistence,
/// or ([`RedisServer::start_durable`]) with an fsynced append-only file, to be stopped and started
/// again.
#[derive(Debug)]
pub struct RedisServer {
    child: std::process::Child,
    /// `redis://127.0.0.1:PORT/0`
    pub url: String,
    port: u16,
    durable: Option<PathBuf>,
}

impl RedisServer {
    /// Starts `redis-server` (installed by `.ci/run` from Debian's packages) and waits for PONG.
    pub fn start() -> Result<RedisServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        Self::spawn(port, None)
    }

    /// Starts one that writes every change to an append-only file in `dir` before answering.
    pub fn start_durable(dir: &Path) -> Result<RedisServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        Self::spawn(port, Some(dir.to_path_buf()))
    }

    /// Stops the server (SIGKILL: what is not on disk is lost).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port, with the same files.
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        let again = Self::spawn(self.port, self.durable.clone())?;
        *self = again;
        Ok(())
    }

    fn spawn(port: u16, durable: Option<PathBuf>) -> Result<RedisServer> {
        use std::io::{Read, Write};
        let mut cmd = Command::new("redis-server");
        cmd.args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", ""]);
        match &durable {
            Some(dir) => cmd.args(["--appendonly", "yes", "--appendfsync", "always", "--dir"]).arg(dir),
            None => cmd.args(["--appendonly", "no"]),
        };
        let child = cmd
            .stdout(std::process::Stdio::null())
            .spawn()
            .context("starting redis-server (apt-get install redis-server; .ci/run does)")?;
        let server = RedisServer { child, url: format!("redis://127.0.0.1:{port}/0"), port, durable };
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                let mut buf = [0u8; 7];
                if s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n" {
                    return Ok(server);
                }
            }
            if std::time::Instant::now() > until {
                bail!("redis-server did not answer on port {port}");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a [`Backend`] answers to one request.
#[derive(Debug, Clone)]
pub struct Canned {
    /// Status code.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// How long to wait before answering.
    pub delay: std::time::Duration,
}

impl Canned {
    /// `status` with a JSON `body`.
    pub fn json(status: u16, body: &str) -> Canned {
        Canned {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
            delay: std::time::Duration::ZERO,
        }
    }

    /// The same answer, after `delay`.
    pub fn after(mut self, delay: std::time::Duration) -> Canned {
        self.delay = delay;
        self
    }
}

/// One request a [`Backend`] received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body, as text.
    pub body: String,
}

impl Seen {
    /// The value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

type Respond = dyn Fn(&Seen) -> Canned + Send + Sync;

/// A plugin's backend on loopback (a CRM, a webhook receiver): a small HTTP/1.1 server, a thread
/// per connection, that answers what `respond` says and keeps every connection and request it got,
/// so a test can show a request never arrived. Stopped when dropped.
pub struct Backend {
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
    /// The port.
    pub port: u16,
    seen: std::sync::Arc<std::sync::Mutex<Vec<Seen>>>,
    connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

impl Backend {
    /// Starts on a free loopback port.
    pub fn start(respond: impl Fn(&Seen) -> Canned + Send + Sync + 'static) -> Result<Backend> {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let respond: std::sync::Arc<Respond> = std::sync::Arc::new(respond);
        let (s, c, st) = (seen.clone(), connections.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if st.load(Ordering::Acquire) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                c.fetch_add(1, Ordering::AcqRel);
                let (s, respond, st) = (s.clone(), respond.clone(), st.clone());
                std::thread::spawn(move || {
                    let _ = serve_one(stream, &s, &*respond, &st);
                });
            }
        });
        Ok(Backend { base_url: format!("http://127.0.0.1:{port}"), port, seen, connections, stop })
    }

    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Connections accepted so far (with or without a request).
    pub fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::Acquire)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        // Wakes the accept loop.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve_one(
    mut stream: std::net::TcpStream,
    seen: &std::sync::Mutex<Vec<Seen>>,
    respond: &Respond,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<()> {
    use std::io::{BufRead, BufReader, Read, Write};
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    // Keep-alive: answer requests on this connection until the client closes it.
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let length: usize =
            headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let request = Seen { method, path, headers, body: String::from_utf8_lossy(&body).into_owned() };
        if let Ok(mut s) = seen.lock() {
            s.push(request.clone());
        }
        let canned = respond(&request);
        let until = std::time::Instant::now() + canned.delay;
        while std::time::Instant::now() < until {
            if stop.load(std::sync::atomic::Ordering::Acquire) {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let mut head = format!("HTTP/1.1 {} X\r\ncontent-length: {}\r\n", canned.status, canned.body.len());
        for (n, v) in &canned.headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(&canned.body)?;
        stream.flush()?;
    }
}
