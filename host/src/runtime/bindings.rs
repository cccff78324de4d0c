//! The host side of `guest-sdk/wit/ncco.wit`: the one `bindgen!` of the host.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../guest-sdk/wit",
    imports: { default: async },
    exports: { default: async },
});

pub use vonage::ncco::host::Level;
pub use vonage::ncco::types::{Claims, Webhook};
