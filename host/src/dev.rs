//! `ncco-host dev`: the development loop. Builds plugin crates for `wasm32-wasip2` with cargo (its own
//! progress output), serves them as the tenant `dev`, watches their sources, and rebuilds and
//! hot-reloads a plugin when a source file is saved. A failed build is shown and the last good
//! version keeps serving.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use tokio::sync::mpsc;

/// The tenant dev plugins are served as.
pub const DEV_TENANT: &str = "dev";
/// The guest target.
pub const WASM_TARGET: &str = "wasm32-wasip2";
/// A plugin crate's optional variables file, copied next to its `.wasm` as `<app>.toml`.
pub const APP_CONFIG_FILE: &str = "app.toml";

/// One plugin crate under development.
#[derive(Debug, Clone)]
pub struct DevPlugin {
    /// The package name; also the app name.
    pub name: String,
    /// The crate directory.
    pub dir: PathBuf,
}

/// The workspace root: the nearest ancestor of `from` whose `Cargo.toml` has `[workspace]`.
pub fn workspace_root(from: &Path) -> Option<PathBuf> {
    from.ancestors()
        .find(|d| std::fs::read_to_string(d.join("Cargo.toml")).is_ok_and(|t| t.contains("[workspace]")))
        .map(Path::to_path_buf)
}

fn package_name(dir: &Path) -> anyhow::Result<String> {
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).with_context(|| format!("{} is not a crate", dir.display()))?;
    let value: toml::Table = toml::from_str(&text).with_context(|| format!("reading {}", manifest.display()))?;
    value
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(toml::Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("{} has no [package] name", manifest.display()))
}

/// The plugin crates to serve: `paths`, or every crate under `<workspace>/plugins/`.
pub fn discover(paths: &[PathBuf]) -> anyhow::Result<Vec<DevPlugin>> {
    let dirs: Vec<PathBuf> = if paths.is_empty() {
        let cwd = std::env::current_dir()?;
        let root = workspace_root(&cwd).context("not inside a cargo workspace; give plugin crate paths")?;
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("plugins"))
            .with_context(|| format!("no plugins/ folder in {}", root.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.join("Cargo.toml").is_file())
            .collect();
        dirs.sort();
        dirs
    } else {
        paths.to_vec()
    };
    if dirs.is_empty() {
        bail!("no plugin crates to serve");
    }
    dirs.into_iter()
        .map(|dir| {
            let dir = dir.canonicalize().with_context(|| format!("{} does not exist", dir.display()))?;
            Ok(DevPlugin { name: package_name(&dir)?, dir })
        })
        .collect()
}

/// A `cargo` command with the environment a shell would give it. A program run by cargo (`cargo
/// run -- dev`, a test, a bench) inherits `CARGO_PKG_NAME`, `CARGO_MANIFEST_DIR`, `OUT_DIR`, ...,
/// and a build script that reruns when those change (ring's does) would then be rebuilt, with all
/// that depends on it, each time this build and one from a shell take turns.
pub fn cargo_command() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    for (name, _) in std::env::vars_os() {
        let text = name.to_string_lossy();
        let set_for_a_run =
            ["CARGO_PKG_", "CARGO_BIN_", "CARGO_MANIFEST_", "CARGO_CRATE_NAME"].iter().any(|p| text.starts_with(p))
                || matches!(&*text, "OUT_DIR" | "CARGO_TARGET_TMPDIR" | "CARGO_PRIMARY_PACKAGE");
        if set_for_a_run {
            cmd.env_remove(&name);
        }
    }
    cmd
}

/// Adds the `wasm32-wasip2` target with rustup when the toolchain lacks it.
pub fn ensure_wasm_target() {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    match installed {
        Ok(out) if String::from_utf8_lossy(&out.stdout).lines().any(|l| l.trim() == WASM_TARGET) => {}
        Ok(_) => {
            eprintln!("ncco-host dev: adding the {WASM_TARGET} target (rustup target add {WASM_TARGET})");
            let added = Command::new("rustup").args(["target", "add", WASM_TARGET]).status();
            if !added.is_ok_and(|s| s.success()) {
                eprintln!("ncco-host dev: could not add {WASM_TARGET}; builds will fail until it is installed");
            }
        }
        Err(_) => eprintln!("ncco-host dev: rustup not found; assuming the {WASM_TARGET} target is installed"),
    }
}

/// Which cargo profile a plugin is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `--release`: quick rebuilds while developing.
    Dev,
    /// For a deploy: the workspace's `plugin` profile (small and stripped) when it defines one,
    /// else `--release`.
    Deploy,
}

/// Builds one plugin with cargo (progress and errors on this terminal) and returns its `.wasm`.
pub fn build(plugin: &DevPlugin, profile: Profile) -> Result<PathBuf, String> {
    let has_plugin_profile = workspace_root(&plugin.dir)
        .or_else(|| Some(plugin.dir.clone()))
        .and_then(|root| std::fs::read_to_string(root.join("Cargo.toml")).ok())
        .is_some_and(|t| t.contains("[profile.plugin]"));
    let profile_args: &[&str] =
        if profile == Profile::Deploy && has_plugin_profile { &["--profile", "plugin"] } else { &["--release"] };
    let output = cargo_command()
        .arg("build")
        .args(profile_args)
        .args(["--target", WASM_TARGET, "--message-format", "json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(plugin.dir.join("Cargo.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!("the build of {} failed (see above)", plugin.name));
    }
    let lib = plugin.name.replace('-', "_");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == lib.as_str())
        .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(PathBuf::from))
        .find(|f| f.extension().is_some_and(|x| x == "wasm"))
        .ok_or_else(|| format!("{} built no .wasm: is it a cdylib crate?", plugin.name))
}

/// Copies `src` to `dst` through a temporary file and a rename, so the host never sees half a file.
fn publish(src: &Path, dst: &Path) -> std::io::Result<()> {
    let tmp = dst.with_extension("publishing");
    std::fs::copy(src, &tmp)?;
    std::fs::rename(&tmp, dst)
}

/// Builds `plugin` and publishes its `.wasm` (and `app.toml`) into the tenant folder `tenant_dir`.
pub fn build_and_publish(plugin: &DevPlugin, tenant_dir: &Path) -> Result<(), String> {
    sync_config(plugin, tenant_dir);
    let wasm = build(plugin, Profile::Dev)?;
    publish(&wasm, &tenant_dir.join(format!("{}.wasm", plugin.name)))
        .map_err(|e| format!("cannot publish {}: {e}", plugin.name))
}

fn sync_config(plugin: &DevPlugin, tenant_dir: &Path) {
    let src = plugin.dir.join(APP_CONFIG_FILE);
    let dst = tenant_dir.join(format!("{}.toml", plugin.name));
    if src.is_file() {
        if let Err(e) = publish(&src, &dst) {
            eprintln!("ncco-host dev: cannot copy {}: {e}", src.display());
        }
    } else if dst.exists() {
        let _ = std::fs::remove_file(dst);
    }
}

/// Prints where to point Vonage (or the simulator).
pub fn print_urls(public_url: &str, plugins: &[DevPlugin]) {
    println!("ncco-host dev: {} plugin(s) as tenant `{DEV_TENANT}`", plugins.len());
    for p in plugins {
        let base = format!("{public_url}/{DEV_TENANT}/{}", p.name);
        println!("  {:<16} answer_url   {base}/answer", p.name);
        println!("  {:<16} event_url    {base}/event", "");
        println!("  {:<16} fallback_url {base}/fallback", "");
        println!("  {:<16} rtc event    {base}/rtc", "");
    }
    if let Some(first) = plugins.first() {
        println!(
            "Try a call: cargo run -p ncco-host -- simulate --answer-url {public_url}/{DEV_TENANT}/{}/answer",
            first.name
        );
    }
    println!("Watch each call in the inspector: {public_url}/_inspect");
}

fn relevant(path: &Path) -> bool {
    let in_target = path.components().any(|c| c.as_os_str() == "target");
    let kind = matches!(path.extension().and_then(|e| e.to_str()), Some("rs" | "toml" | "wit"));
    !in_target && kind
}

/// Watches the plugins' sources and rebuilds the one that changed, until the returned guard drops.
pub fn watch(plugins: Vec<DevPlugin>, tenant_dir: PathBuf) -> anyhow::Result<impl Drop> {
    let (tx, mut rx) = mpsc::unbounded_channel::<usize>();
    let dirs: Vec<PathBuf> = plugins.iter().map(|p| p.dir.clone()).collect();
    let mut debouncer = new_debouncer(Duration::from_millis(300), None, move |result: DebounceEventResult| {
        let Ok(events) = result else { return };
        let mut changed: Vec<usize> = events
            .iter()
            .filter(|e| e.kind.is_create() || e.kind.is_modify() || e.kind.is_remove())
            .flat_map(|e| e.paths.iter())
            .filter(|p| relevant(p))
            .filter_map(|p| dirs.iter().position(|d| p.starts_with(d)))
            .collect();
        changed.sort_unstable();
        changed.dedup();
        for i in changed {
            let _ = tx.send(i);
        }
    })?;
    for p in &plugins {
        debouncer.watch(&p.dir, RecursiveMode::Recursive)?;
    }
    let plugins = Arc::new(plugins);
    tokio::spawn(async move {
        while let Some(i) = rx.recv().await {
            let (plugin, dir) = (plugins[i].clone(), tenant_dir.clone());
            eprintln!("ncco-host dev: {} changed, rebuilding", plugin.name);
            let built = tokio::task::spawn_blocking(move || build_and_publish(&plugin, &dir)).await;
            match built {
                Ok(Ok(())) => eprintln!("ncco-host dev: {} rebuilt; the new version is live", plugins[i].name),
                Ok(Err(e)) => eprintln!("ncco-host dev: {e}; the last good version keeps serving"),
                Err(e) => eprintln!("ncco-host dev: build task failed: {e}"),
            }
        }
    });
    Ok(debouncer)
}
