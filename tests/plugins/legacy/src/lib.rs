//! Test fixture: a plugin built against `wit/ncco.wit`, a frozen copy of the `vonage:ncco@0.1.0`
//! contract (not the SDK's current one), as a customer's plugin built before 0.1.1 would be. It
//! counts its calls in app state with the 0.1.0 imports and answers `legacy call N`.

// The generated glue exports C-ABI functions, which needs `unsafe`.
#[allow(unsafe_code)]
mod bindings {
    wit_bindgen::generate!({ world: "plugin", path: "wit" });

    use super::Legacy;
    export!(Legacy with_types_in self);
}

use bindings::Guest;
use bindings::vonage::ncco::host;
use bindings::vonage::ncco::types::Context;

struct Legacy;

impl Guest for Legacy {
    fn answer(_ctx: Context, _request: String) -> Result<String, String> {
        let count = host::app_get("count").and_then(|b| String::from_utf8(b).ok()).and_then(|s| s.parse::<u64>().ok());
        let count = count.unwrap_or(0) + 1;
        host::app_set("count", count.to_string().as_bytes(), None);
        host::log(host::Level::Info, &format!("legacy call {count}"));
        Ok(format!(r#"[{{"action":"talk","text":"legacy call {count}"}}]"#))
    }

    fn event(_ctx: Context, _event: String) -> Result<Option<String>, String> {
        Ok(None)
    }
}
