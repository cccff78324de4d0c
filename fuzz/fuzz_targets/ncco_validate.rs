//! libFuzzer entry point of the `ncco_validate` target; the body is `ncco_fuzz::ncco_validate` (fuzz/src/lib.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ncco_fuzz::ncco_validate(data));
