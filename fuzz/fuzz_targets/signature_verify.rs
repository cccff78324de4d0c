//! libFuzzer entry point of the `signature_verify` target; the body is `ncco_fuzz::signature_verify` (fuzz/src/lib.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ncco_fuzz::signature_verify(data));
