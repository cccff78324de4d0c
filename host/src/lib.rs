//! `ncco-host`: the command line and server that host Vonage call-control plugins.
//!
//! - [`cli`]: the command line (`check`, ...).
//! - [`check`]: `ncco-host check`, validating NCCO files with the `ncco-sdk` model.

pub mod check;
pub mod cli;
