//! libFuzzer entry point of the `config_tenant_app` target; the body is `ncco_fuzz::config_tenant_app` (fuzz/src/lib.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ncco_fuzz::config_tenant_app(data));
