//! The `ncco-host` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;
use ncco_host::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => ncco_host::check::run(&args),
    }
}
