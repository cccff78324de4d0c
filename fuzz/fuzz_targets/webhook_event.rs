//! libFuzzer entry point of the `webhook_event` target; the body is `ncco_fuzz::webhook_event` (fuzz/src/lib.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ncco_fuzz::webhook_event(data));
