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
