//! `ncco-host check`: validates NCCO files and prints every problem as `FILE: /pointer: message`,
//! or a JSON report with `--json`.

use std::io::{self, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use ncco_sdk::ncco::Validator;
use ncco_sdk::{Mode, Problem};
use serde::Serialize;

use crate::cli::CheckArgs;

/// Exit status when every file is a valid NCCO.
pub const EXIT_VALID: u8 = 0;
/// Exit status when at least one file is not a valid NCCO.
pub const EXIT_INVALID: u8 = 1;
/// Exit status when a file cannot be read (or the command line is wrong).
pub const EXIT_UNREADABLE: u8 = 2;

/// What `check` found in one file.
#[derive(Debug, Serialize)]
pub struct FileReport {
    /// The file name as given (`-` is shown as `<stdin>`).
    pub file: String,
    /// True when the file is a valid NCCO.
    pub valid: bool,
    /// Why the file could not be read, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_error: Option<String>,
    /// Problems that make the NCCO invalid.
    pub errors: Vec<Problem>,
    /// Problems that do not.
    pub warnings: Vec<Problem>,
}

/// Checks one file (or standard input for `-`).
pub fn check_file(path: &Path, validator: &Validator) -> FileReport {
    let is_stdin = path.as_os_str() == "-";
    let file = if is_stdin { "<stdin>".to_owned() } else { path.display().to_string() };
    let text = if is_stdin {
        let mut buf = String::new();
        io::stdin().read_to_string(&mut buf).map(|_| buf)
    } else {
        std::fs::read_to_string(path)
    };
    match text {
        Err(e) => FileReport {
            file,
            valid: false,
            read_error: Some(format!("cannot read: {e}")),
            errors: Vec::new(),
            warnings: Vec::new(),
        },
        Ok(text) => {
            let report = validator.check_str(&text).report;
            FileReport {
                file,
                valid: report.is_valid(),
                read_error: None,
                errors: report.errors,
                warnings: report.warnings,
            }
        }
    }
}

fn pointer(p: &Problem) -> &str {
    if p.pointer.is_empty() { "/" } else { &p.pointer }
}

fn print_text(out: &mut impl Write, reports: &[FileReport]) -> io::Result<()> {
    for r in reports {
        if let Some(e) = &r.read_error {
            writeln!(out, "{}: {e}", r.file)?;
            continue;
        }
        for p in &r.errors {
            writeln!(out, "{}: {}: {}", r.file, pointer(p), p.message)?;
        }
        for p in &r.warnings {
            writeln!(out, "{}: {}: warning: {}", r.file, pointer(p), p.message)?;
        }
        if r.valid {
            writeln!(out, "{}: valid", r.file)?;
        }
    }
    Ok(())
}

/// Runs `check` over every file and returns the exit status.
pub fn run(args: &CheckArgs) -> ExitCode {
    let validator = Validator { mode: if args.strict { Mode::Strict } else { Mode::Lenient }, ..Validator::default() };
    let reports: Vec<FileReport> = args.files.iter().map(|f| check_file(f, &validator)).collect();
    let mut out = io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &reports).map_err(io::Error::from).and_then(|()| writeln!(out))
    } else {
        print_text(&mut out, &reports)
    };
    if let Err(e) = written {
        eprintln!("ncco-host check: cannot write the report: {e}");
        return ExitCode::from(EXIT_UNREADABLE);
    }
    let status = if reports.iter().any(|r| r.read_error.is_some()) {
        EXIT_UNREADABLE
    } else if reports.iter().any(|r| !r.valid) {
        EXIT_INVALID
    } else {
        EXIT_VALID
    };
    ExitCode::from(status)
}
