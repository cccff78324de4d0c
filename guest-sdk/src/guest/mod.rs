//! The guest side of the plugin contract (feature `guest`): implement [`Plugin`] for a type and
//! export it with [`export_plugin!`](crate::export_plugin).
//!
//! ```no_run
//! use ncco_sdk::guest::{Context, Plugin, PluginError};
//! use ncco_sdk::ncco::Ncco;
//! use ncco_sdk::webhook::AnswerRequest;
//!
//! struct Hello;
//!
//! impl Plugin for Hello {
//!     fn answer(_ctx: &Context, request: AnswerRequest) -> Result<Ncco, PluginError> {
//!         Ok(Ncco::new().talk(format!("Hello {}", request.from.unwrap_or_default())))
//!     }
//! }
//!
//! ncco_sdk::export_plugin!(Hello);
//! ```
//!
//! # Building a small, fast plugin
//!
//! A plugin is a `cdylib` crate built with `cargo build --target wasm32-wasip2`. Rust's release
//! profile keeps debug information and optimises for speed, which makes even a hello-world plugin
//! several megabytes; the host compiles, caches and maps every distinct plugin, so size is load
//! time and memory. Outside this workspace, give your crate the profile this workspace uses and
//! build with `cargo build --profile plugin --target wasm32-wasip2`:
//!
//! ```toml
//! [profile.plugin]
//! inherits = "release"
//! debug = false        # no DWARF in the component (the largest part by far)
//! strip = true         # no symbol names either
//! opt-level = "s"      # size over speed: plugin code is a small part of a webhook's time
//! lto = true           # whole-program dead-code removal across the SDK and serde
//! codegen-units = 1
//! ```
//!
//! and a smaller stack than Rust's default 1 MiB, which each fresh instance would otherwise pay
//! for, in `.cargo/config.toml`:
//!
//! ```toml
//! [target.wasm32-wasip2]
//! rustflags = ["-C", "link-arg=-zstack-size=131072"]
//! ```
//!
//! For this workspace's `hello` that is 230 KB instead of 4.7 MB.

pub mod calls;
mod context;
pub mod host;
#[cfg(feature = "http")]
pub mod http;
pub mod vars;

use std::marker::PhantomData;

pub use context::{Claims, Context, Webhook};

use crate::ncco::Ncco;
use crate::webhook::{AnswerRequest, Event, RtcEvent};

/// The bindings generated from `wit/ncco.wit`; used by [`export_plugin!`](crate::export_plugin).
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "plugin",
        path: "wit",
        pub_export_macro: true,
        default_bindings_module: "ncco_sdk::guest::bindings",
    });
}

/// Why a plugin could not answer. The host logs it and answers with the app's fallback NCCO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginError(pub String);

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for PluginError {
    fn from(e: E) -> Self {
        PluginError(e.to_string())
    }
}

/// A call-control plugin. Only [`Plugin::answer`] is required.
///
/// A menu that routes the key press it receives on its `menu` callback:
///
/// ```no_run
/// use ncco_sdk::guest::{Context, Plugin, PluginError};
/// use ncco_sdk::ncco::{Dtmf, Input, Ncco, Talk};
/// use ncco_sdk::webhook::{AnswerRequest, Event};
///
/// struct Menu;
///
/// impl Plugin for Menu {
///     fn answer(ctx: &Context, _request: AnswerRequest) -> Result<Ncco, PluginError> {
///         Ok(Ncco::new()
///             .then(Talk::new("Press 1 for sales, 2 for support.").barge_in(true))
///             .then(Input::dtmf(Dtmf::new().max_digits(1)).event_url(ctx.callback_url("menu"))))
///     }
///
///     fn event(ctx: &Context, event: Event) -> Result<Option<Ncco>, PluginError> {
///         match (ctx.callback.as_deref(), event) {
///             (Some("menu"), Event::Input(input)) if input.digits() == Some("1") => {
///                 Ok(Some(Ncco::new().talk("Sales it is.")))
///             }
///             (Some("menu"), Event::Input(_)) => Ok(Some(Ncco::new().talk("Support it is."))),
///             _ => Ok(None),
///         }
///     }
/// }
///
/// ncco_sdk::export_plugin!(Menu);
/// ```
pub trait Plugin {
    /// The NCCO for a new call (answer_url), and for fallback_answer_url requests.
    fn answer(ctx: &Context, request: AnswerRequest) -> Result<Ncco, PluginError>;

    /// A call event. Return an NCCO to replace the running one (Vonage reads it only for input,
    /// notify, synchronous connect failures and websocket disconnects); `None` lets the call go on.
    fn event(ctx: &Context, event: Event) -> Result<Option<Ncco>, PluginError> {
        let _ = (ctx, event);
        Ok(None)
    }

    /// A Conversation API event (rtc event_url). Its response is never an NCCO.
    fn rtc(ctx: &Context, event: RtcEvent) -> Result<(), PluginError> {
        let _ = (ctx, event);
        Ok(())
    }
}

/// Adapts a [`Plugin`] to the generated bindings. Used by [`export_plugin!`](crate::export_plugin).
#[doc(hidden)]
#[derive(Debug)]
pub struct Adapter<P>(PhantomData<P>);

impl<P: Plugin> bindings::Guest for Adapter<P> {
    fn answer(ctx: bindings::vonage::ncco::types::Context, request: String) -> Result<String, String> {
        let ctx = Context::from(ctx);
        let request = AnswerRequest::from_json(request.as_bytes()).map_err(|e| e.to_string())?;
        let ncco = P::answer(&ctx, request).map_err(|e| e.0)?;
        Ok(ncco.to_json())
    }

    fn event(ctx: bindings::vonage::ncco::types::Context, event: String) -> Result<Option<String>, String> {
        let ctx = Context::from(ctx);
        if ctx.webhook == Webhook::Rtc {
            let event = RtcEvent::from_json(event.as_bytes()).map_err(|e| e.to_string())?;
            P::rtc(&ctx, event).map_err(|e| e.0)?;
            return Ok(None);
        }
        let event = Event::from_json(event.as_bytes()).map_err(|e| e.to_string())?;
        Ok(P::event(&ctx, event).map_err(|e| e.0)?.map(|ncco| ncco.to_json()))
    }
}

/// Exports a type implementing [`guest::Plugin`](crate::guest::Plugin) as the plugin's component
/// exports. Use it once, at the crate root of a `cdylib` built for `wasm32-wasip2`.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        type __NccoSdkExportedPlugin = $crate::guest::Adapter<$plugin>;
        $crate::guest::bindings::export!(__NccoSdkExportedPlugin with_types_in $crate::guest::bindings);
    };
}
