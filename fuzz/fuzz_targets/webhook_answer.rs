//! libFuzzer entry point of the `webhook_answer` target; the body is `ncco_fuzz::webhook_answer` (fuzz/src/lib.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ncco_fuzz::webhook_answer(data));
