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
}

/// `ncco-host serve --plugins DIR [--listen ADDR] [--public-url URL] [--data-dir DIR] [--config FILE]`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The plugin tree: `<tenant>/<app>.wasm`, optional `<tenant>/<app>.toml` and `<tenant>/tenant.toml`.
    #[arg(long, value_name = "DIR")]
    pub plugins: Option<PathBuf>,
    /// Address to listen on (loopback by default; port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Base URL Vonage reaches this host at (default `http://ADDR`); callback URLs are built from it.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Where compiled artifacts (and state) are kept (default `.ncco-host` in the working directory).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// A TOML file with the same settings and operator limits; the command line wins.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
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
