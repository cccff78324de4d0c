//! The command line: one typed struct per subcommand, parsed once at start.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Hosts Vonage call-control plugins and validates NCCOs.
#[derive(Debug, Parser)]
#[command(name = "ncco-host", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate NCCO JSON files. Exit 0 when all are valid, 1 when any is invalid, 2 when a file
    /// cannot be read.
    Check(CheckArgs),
    /// Serve the plugins under a directory (`<tenant>/<app>.wasm`) as answer and event webhooks.
    Serve(ServeArgs),
    /// Build plugin crates for wasm32-wasip2, serve them as the tenant `dev`, and rebuild and
    /// hot-reload each one when its source changes.
    Dev(DevArgs),
    /// Play the Voice API's side of one call against an answer URL and print its timeline. Exit 0
    /// when the call ran and every expectation held, 1 when an NCCO was invalid or an expectation
    /// failed, 2 for bad usage or an unreachable answer server.
    Simulate(SimulateArgs),
    /// Upload a plugin (a `.wasm`, or a crate folder, built first) to a host's deploy API as a new
    /// version of an app, optionally with its config, and activate it.
    Deploy(DeployArgs),
    /// List an app's versions on a host's deploy API.
    Versions(VersionsArgs),
    /// Make an app's previously active version active again.
    Rollback(AppTarget),
}

/// Which host, credential, tenant and app a deploy command is about.
#[derive(Debug, Args)]
pub struct AppTarget {
    /// The host's admin base URL (`--admin-listen`, or its one port), e.g. `http://127.0.0.1:8080`.
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// The operator's or the tenant's API token.
    #[arg(long, value_name = "TOKEN", env = "NCCO_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The tenant.
    #[arg(long, value_name = "TENANT")]
    pub tenant: String,
    /// The app.
    #[arg(long, value_name = "APP")]
    pub app: String,
}

/// `ncco-host deploy --url URL --token TOKEN --tenant T --app A (FILE.wasm | CRATE_DIR) [--activate]
/// [--config app.toml]`
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Host, token, tenant and app.
    #[command(flatten)]
    pub target: AppTarget,
    /// The component (`.wasm`), or a plugin crate folder (built for wasm32-wasip2 first).
    #[arg(value_name = "FILE.wasm | CRATE_DIR")]
    pub path: PathBuf,
    /// Make the new version active.
    #[arg(long)]
    pub activate: bool,
    /// Set the app's configuration from this `app.toml` first.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `ncco-host versions --url URL --token TOKEN --tenant T --app A [--json]`
#[derive(Debug, Args)]
pub struct VersionsArgs {
    /// Host, token, tenant and app.
    #[command(flatten)]
    pub target: AppTarget,
    /// Print the API's JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// What `serve` and `dev` share: where to listen, the public URL, the data directory and state.
#[derive(Debug, Args)]
pub struct HostArgs {
    /// Address to listen on (loopback by default; port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Base URL Vonage reaches this host at (default `http://ADDR`); callback URLs are built from it.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Where compiled artifacts and state are kept (default `.ncco-host` in the working directory).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where plugin state and version pins live: `redis://HOST:PORT/DB` (several hosts), `memory`, or
    /// a redb file (default `<data-dir>/state.redb`).
    #[arg(long, value_name = "SPEC")]
    pub state: Option<String>,
    /// `text` (readable; the default) or `json` (one object a line, with tenant, app, version, call
    /// and kind as fields).
    #[arg(long, value_name = "FORMAT", value_parser = ["text", "json"])]
    pub log_format: Option<String>,
}

/// `ncco-host dev [PATH...] [--listen ADDR] [--public-url URL] [--data-dir DIR] [--state SPEC]`
#[derive(Debug, Args)]
pub struct DevArgs {
    /// Plugin crate folders (default: every crate in the workspace's `plugins/`).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Listening, data and state.
    #[command(flatten)]
    pub host: HostArgs,
}

/// `ncco-host serve --plugins DIR [--listen ADDR] [--public-url URL] [--data-dir DIR] [--state SPEC]
/// [--config FILE]`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The plugin tree: `<tenant>/<app>.wasm`, optional `<tenant>/<app>.toml` and `<tenant>/tenant.toml`.
    #[arg(long, value_name = "DIR")]
    pub plugins: Option<PathBuf>,
    /// Listening, data and state.
    #[command(flatten)]
    pub host: HostArgs,
    /// A TOML file with the same settings and operator limits; the command line wins.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Serve the admin, deploy and inspector routes on this address, and not on the webhook port.
    #[arg(long, value_name = "ADDR")]
    pub admin_listen: Option<SocketAddr>,
}

/// `ncco-host check [--strict] [--json] FILE...`
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Report lenient forms (numbers in strings, other key spellings, legacy shapes) and unknown keys
    /// as errors.
    #[arg(long)]
    pub strict: bool,
    /// Print a machine-readable JSON report instead of text.
    #[arg(long)]
    pub json: bool,
    /// NCCO files to check; `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// `ncco-host simulate --answer-url URL [--event-url URL] [--fallback-url URL] [--scenario FILE]
/// [--secret S] [--json] [--real-time]`
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The answer URL (any server that returns NCCOs).
    #[arg(long, value_name = "URL")]
    pub answer_url: String,
    /// The application's event URL (default: the answer URL with a trailing `/answer` replaced by
    /// `/event`; otherwise only actions' eventUrls get events).
    #[arg(long, value_name = "URL")]
    pub event_url: Option<String>,
    /// The fallback answer URL, tried when the answer URL or an instruction callback fails.
    #[arg(long, value_name = "URL")]
    pub fallback_url: Option<String>,
    /// The call's script and expectations (TOML or JSON; see examples/scenarios/README.md).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Sign every webhook with this signature secret (HS256 JWT in `Authorization: Bearer`).
    #[arg(long, value_name = "S")]
    pub secret: Option<String>,
    /// Print the timeline and the verdict as JSON.
    #[arg(long)]
    pub json: bool,
    /// Pace the call with the wall clock instead of virtual time.
    #[arg(long)]
    pub real_time: bool,
    /// Serve the Voice API's call-control endpoints for this call on ADDR (`/v1/calls`,
    /// `/v1/calls/{uuid}` and its `/talk`, `/stream`, `/dtmf`, `/input/dtmf`): a transfer replaces
    /// the NCCO, a hangup ends the call, a talk is heard. Give the host `vonage_api_url =
    /// "http://ADDR"`. In virtual time the simulator waits 150 ms after each webhook for requests;
    /// use `--real-time` for requests made later.
    #[arg(long, value_name = "ADDR", requires = "application_key")]
    pub api_listen: Option<SocketAddr>,
    /// The Vonage application's key (its public key, or the private key), in PEM: each API
    /// request's RS256 JWT must verify against it (else 401).
    #[arg(long, value_name = "FILE", requires = "api_listen")]
    pub application_key: Option<PathBuf>,
}
