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

/// The real `ncco-host` binary of this build profile, built with cargo once per test process.
pub fn ncco_host_bin() -> Result<PathBuf> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| build_host().map_err(|e| format!("{e:#}"))).clone().map_err(anyhow::Error::msg)
}

fn build_host() -> Result<PathBuf> {
    let dir = profile_dir()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root()).args(["build", "--quiet", "-p", "ncco-host", "--bin", "ncco-host"]);
    if dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let status = cmd.status().context("running cargo build for ncco-host")?;
    if !status.success() {
        bail!("cargo build -p ncco-host failed with {status}");
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
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut cmd = Command::new(cargo);
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
