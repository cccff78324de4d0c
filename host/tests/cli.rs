//! The binary's own command line, run as built. (Having an integration test also makes
//! `cargo test --workspace` build the `ncco-host` binary with the workspace's features, which the
//! end-to-end tests in `tests/` then run without another build.)

use std::process::Command;

#[test]
fn the_binary_names_its_version_and_its_commands() {
    let bin = env!("CARGO_BIN_EXE_ncco-host");
    let out = Command::new(bin).arg("--version").output().expect("runs");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("ncco-host {}", env!("CARGO_PKG_VERSION")));
    let out = Command::new(bin).arg("--help").output().expect("runs");
    let help = String::from_utf8_lossy(&out.stdout);
    for command in ["serve", "dev", "check", "simulate", "deploy", "versions", "rollback"] {
        assert!(help.lines().any(|l| l.trim_start().starts_with(command)), "{command} missing from:\n{help}");
    }
    // An unknown command is an error that says so, not a server started.
    let out = Command::new(bin).arg("serv").output().expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized subcommand"), "{out:?}");
}
