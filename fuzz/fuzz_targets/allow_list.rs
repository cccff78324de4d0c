//! libFuzzer entry point of the `allow_list` target; the body is `ncco_fuzz::allow_list` (fuzz/src/lib.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ncco_fuzz::allow_list(data));
