//! `ncco-host deploy`, `versions` and `rollback`: the deploy API from the command line. Progress and
//! errors are printed the way cargo prints them (a right-aligned verb, `error:` and the reason).

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use serde_json::Value;

use crate::cli::{AppTarget, DeployArgs, VersionsArgs};

/// A status line: `{verb:>12} {message}`, the verb in bold green on a terminal.
fn status(verb: &str, message: &str) {
    if std::io::stderr().is_terminal() {
        eprintln!("\x1b[1;32m{verb:>12}\x1b[0m {message}");
    } else {
        eprintln!("{verb:>12} {message}");
    }
}

fn error(message: &str) -> ExitCode {
    if std::io::stderr().is_terminal() {
        eprintln!("\x1b[1;31merror\x1b[0m: {message}");
    } else {
        eprintln!("error: {message}");
    }
    ExitCode::FAILURE
}

/// Talks to one host's deploy API as one caller.
struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
    tenant: String,
    app: String,
}

impl Api {
    fn new(target: &AppTarget) -> Result<Self, String> {
        let token =
            target.token.clone().filter(|t| !t.is_empty()).ok_or("no token: give --token TOKEN or set NCCO_TOKEN")?;
        if target.url.starts_with("https://") {
            return Err("this build speaks plain HTTP only: reach the host's admin address over a tunnel or a TLS proxy's http side".into());
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(180))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Api {
            http,
            base: target.url.trim_end_matches('/').to_owned(),
            token,
            tenant: target.tenant.clone(),
            app: target.app.clone(),
        })
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/v1/tenants/{}/apps/{}{tail}", self.base, self.tenant, self.app)
    }

    /// Sends `request` and returns the JSON body of a 2xx answer, or the host's error message.
    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> Result<Value, String> {
        let response =
            request.bearer_auth(&self.token).send().await.map_err(|e| format!("cannot reach {}: {e}", self.base))?;
        let code = response.status();
        let text = response.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if code.is_success() {
            return Ok(body);
        }
        let message = body["error"]["message"].as_str().map_or_else(|| text.trim().to_owned(), str::to_owned);
        Err(format!("{what} was refused ({} {}): {message}", code.as_u16(), code.canonical_reason().unwrap_or("")))
    }
}

fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &hex[..hex.len().min(12)]
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("cannot start: {e}"))
}

/// `ncco-host deploy`.
pub fn deploy(args: &DeployArgs) -> ExitCode {
    match runtime().and_then(|rt| rt.block_on(run_deploy(args))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => error(&e),
    }
}

async fn run_deploy(args: &DeployArgs) -> Result<(), String> {
    let api = Api::new(&args.target)?;
    let wasm_path = if args.path.is_dir() { build(&args.path)? } else { args.path.clone() };
    let wasm = std::fs::read(&wasm_path).map_err(|e| format!("cannot read {}: {e}", wasm_path.display()))?;
    if let Some(config) = &args.config {
        let text = std::fs::read_to_string(config).map_err(|e| format!("cannot read {}: {e}", config.display()))?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| format!("{} is not TOML: {e}", config.display()))?;
        status("Configuring", &format!("{}/{} from {}", api.tenant, api.app, config.display()));
        api.send(api.http.put(api.url("/config")).json(&table), "the config").await?;
    }
    status("Uploading", &format!("{} to {}/{} ({} bytes)", wasm_path.display(), api.tenant, api.app, wasm.len()));
    let request = api
        .http
        .put(format!("{}?activate={}", api.url("/versions"), args.activate))
        .header("Content-Type", "application/wasm")
        .body(wasm);
    let body = api.send(request, "the upload").await?;
    let version = body["version"].as_u64().unwrap_or(0);
    let digest = short(body["digest"].as_str().unwrap_or(""));
    let fresh = if body["created"].as_bool() == Some(true) { "" } else { " (these bytes were deployed before)" };
    let active = if body["active"].as_bool() == Some(true) {
        ", active"
    } else {
        ", not active (activate it with --activate or POST .../activate)"
    };
    status("Deployed", &format!("{}/{} version {version} (sha256:{digest}){fresh}{active}", api.tenant, api.app));
    Ok(())
}

/// Builds the plugin crate at `dir` for wasm32-wasip2 and returns its `.wasm`.
fn build(dir: &Path) -> Result<std::path::PathBuf, String> {
    let plugins = crate::dev::discover(&[dir.to_path_buf()]).map_err(|e| e.to_string())?;
    let plugin = plugins.first().ok_or_else(|| format!("{} holds no plugin crate", dir.display()))?;
    status("Building", &format!("{} ({})", plugin.name, dir.display()));
    crate::dev::ensure_wasm_target();
    crate::dev::build(plugin, crate::dev::Profile::Deploy)
}

/// `ncco-host versions`.
pub fn versions(args: &VersionsArgs) -> ExitCode {
    let run = async {
        let api = Api::new(&args.target)?;
        let body = api.send(api.http.get(api.url("/versions")), "the listing").await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
            return Ok(());
        }
        println!("{}/{}", api.tenant, api.app);
        println!("  {:>7}  {:6}  {:19}  {:>9}  {:24}  by", "version", "active", "digest", "bytes", "deployed");
        for v in body["versions"].as_array().into_iter().flatten() {
            println!(
                "  {:>7}  {:6}  sha256:{:12}  {:>9}  {:24}  {}",
                v["version"].as_u64().unwrap_or(0),
                if v["active"].as_bool() == Some(true) { "*" } else { "" },
                short(v["digest"].as_str().unwrap_or("")),
                v["size"].as_u64().unwrap_or(0),
                v["created_at"].as_str().unwrap_or(""),
                v["deployed_by"].as_str().unwrap_or(""),
            );
        }
        Ok::<_, String>(())
    };
    match runtime().and_then(|rt| rt.block_on(run)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => error(&e),
    }
}

/// `ncco-host rollback`.
pub fn rollback(target: &AppTarget) -> ExitCode {
    let run = async {
        let api = Api::new(target)?;
        let body = api.send(api.http.post(api.url("/rollback")), "the rollback").await?;
        let active = body["active"].as_u64().unwrap_or(0);
        status("Rolled back", &format!("{}/{} to version {active}", api.tenant, api.app));
        Ok::<_, String>(())
    };
    match runtime().and_then(|rt| rt.block_on(run)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => error(&e),
    }
}
