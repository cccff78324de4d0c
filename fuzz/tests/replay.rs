//! Replays every committed input through its target's function on the stable toolchain:
//! `fuzz/corpus/<target>/*` (the minimized seed corpus) and `fuzz/regressions/<target>/*` (inputs
//! of past findings). Run with `cargo test --manifest-path fuzz/Cargo.toml --no-default-features`.
//!
//! A regression input whose file name starts with `open-` is a finding not fixed yet: it is run
//! under `catch_unwind` and reported (still failing or fixed), without failing the test, so the
//! corpus replay stays green while the finding is open. Once fixed, drop the `open-` prefix and the
//! input guards against the bug coming back.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("webhook_answer", ncco_fuzz::webhook_answer),
    ("webhook_event", ncco_fuzz::webhook_event),
    ("ncco_validate", ncco_fuzz::ncco_validate),
    ("signature_verify", ncco_fuzz::signature_verify),
    ("config_tenant_app", ncco_fuzz::config_tenant_app),
    ("allow_list", ncco_fuzz::allow_list),
];

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn corpus_replays_without_findings() {
    let mut total = 0;
    for (name, target) in TARGETS {
        let inputs = files(&root().join("corpus").join(name));
        assert!(!inputs.is_empty(), "fuzz/corpus/{name}/ has no inputs");
        for path in inputs {
            let data = std::fs::read(&path).unwrap();
            let outcome = catch_unwind(AssertUnwindSafe(|| target(&data)));
            assert!(outcome.is_ok(), "{name}: {} panics", path.display());
            total += 1;
        }
    }
    eprintln!("replayed {total} corpus inputs");
}

#[test]
fn regressions_replay() {
    let mut fixed_but_open = Vec::new();
    for (name, target) in TARGETS {
        for path in files(&root().join("regressions").join(name)) {
            let data = std::fs::read(&path).unwrap();
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            let outcome = catch_unwind(AssertUnwindSafe(|| target(&data)));
            if file.starts_with("open-") {
                match outcome {
                    Ok(()) => fixed_but_open.push(format!("{name}/{file}")),
                    Err(_) => eprintln!("{name}/{file}: open finding, still reproduces"),
                }
            } else {
                assert!(outcome.is_ok(), "{name}: regression {} panics again", path.display());
            }
        }
    }
    if !fixed_but_open.is_empty() {
        eprintln!("no longer reproduce (drop the `open-` prefix): {fixed_but_open:?}");
    }
}
