//! The command line: one typed struct per subcommand, parsed once at start.

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
