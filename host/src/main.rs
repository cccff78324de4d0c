//! The `ncco-host` binary.
fn main() {}
