//! `ncco-sdk`: the typed model of Vonage's Voice API call-control surface, and the guest SDK for
//! plugins of `ncco-host`.
//!
//! - [`ncco`]: every NCCO action, builders, and one-pass lenient or strict parsing and validation that
//!   reports every problem with its JSON pointer.
//! - [`webhook`]: the answer request, every call event, and Conversation API (RTC) events, parsed
//!   leniently (unknown keys kept, numbers inside strings accepted).
//!
//! The model has no wasm, tokio or axum dependency, so the host uses it natively.

#![warn(missing_docs)]

#[cfg(feature = "guest")]
pub mod guest;
pub mod ncco;
pub mod problem;
mod reader;
pub mod webhook;

pub use ncco::{Action, Ncco, Validator};
pub use problem::{Problem, Report, Rule};
pub use reader::{Mode, is_http_url};
