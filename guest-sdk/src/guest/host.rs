//! What the host offers a plugin: logging, the app's variables, and call- and app-scoped state.
//!
//! ```no_run
//! use ncco_sdk::guest::host::{app, call, config};
//!
//! // The app's variable `departments` from `[vars]` in its TOML, with a default.
//! let departments = config("departments").unwrap_or_else(|| "sales,support".to_owned());
//!
//! // Call state: counts attempts within this call only; gone after the call completes.
//! let attempts: u32 = call::get_json("attempts").unwrap_or(0) + 1;
//! call::set_json("attempts", &attempts);
//! // Text is stored as its UTF-8 bytes.
//! call::set_str("department", "Sales");
//! assert_eq!(call::get_string("department").as_deref(), Some("Sales"));
//!
//! // App state: shared by every call of the app; this key lives one day.
//! app::set_json("last-departments", &departments, Some(86_400));
//! ncco_sdk::info!("attempt {attempts} with {departments}");
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::bindings::vonage::ncco::host as wit;

pub use wit::Level;

/// Writes `message` to the call's log at `level`.
pub fn log(level: Level, message: &str) {
    wit::log(level, message);
}

/// The app's variable `name` (`[vars]` in the app's TOML), if set.
pub fn config(name: &str) -> Option<String> {
    wit::config(name)
}

/// Call-scoped state: keyed by the call's conversation, gone after the call completes (plus a grace
/// period).
pub mod call {
    use super::*;

    /// The bytes stored under `key` for this call.
    pub fn get(key: &str) -> Option<Vec<u8>> {
        wit::call_get(key)
    }

    /// Stores `value` under `key` for this call.
    pub fn set(key: &str, value: &[u8]) {
        wit::call_set(key, value);
    }

    /// Deletes `key` for this call.
    pub fn delete(key: &str) {
        wit::call_delete(key);
    }

    /// Reads `key` as UTF-8 text; `None` when absent or not UTF-8.
    pub fn get_string(key: &str) -> Option<String> {
        get(key).and_then(|b| String::from_utf8(b).ok())
    }

    /// Stores the text `value` (as its UTF-8 bytes) under `key` for this call.
    pub fn set_str(key: &str, value: &str) {
        set(key, value.as_bytes());
    }

    /// Reads `key` as JSON into `T`; `None` when absent or unreadable.
    pub fn get_json<T: DeserializeOwned>(key: &str) -> Option<T> {
        get(key).and_then(|b| serde_json::from_slice(&b).ok())
    }

    /// Stores `value` as JSON under `key`.
    pub fn set_json<T: Serialize>(key: &str, value: &T) {
        if let Ok(bytes) = serde_json::to_vec(value) {
            set(key, &bytes);
        }
    }
}

/// App-scoped state: shared by every call of this app, optionally with a time to live.
pub mod app {
    use super::*;

    /// The bytes stored under `key`.
    pub fn get(key: &str) -> Option<Vec<u8>> {
        wit::app_get(key)
    }

    /// Stores `value` under `key`, for `ttl_seconds` or until deleted.
    pub fn set(key: &str, value: &[u8], ttl_seconds: Option<u32>) {
        wit::app_set(key, value, ttl_seconds);
    }

    /// Deletes `key`.
    pub fn delete(key: &str) {
        wit::app_delete(key);
    }

    /// Reads `key` as UTF-8 text; `None` when absent or not UTF-8.
    pub fn get_string(key: &str) -> Option<String> {
        get(key).and_then(|b| String::from_utf8(b).ok())
    }

    /// Stores the text `value` (as its UTF-8 bytes) under `key`, for `ttl_seconds` or until deleted.
    pub fn set_str(key: &str, value: &str, ttl_seconds: Option<u32>) {
        set(key, value.as_bytes(), ttl_seconds);
    }

    /// Reads `key` as JSON into `T`; `None` when absent or unreadable.
    pub fn get_json<T: DeserializeOwned>(key: &str) -> Option<T> {
        get(key).and_then(|b| serde_json::from_slice(&b).ok())
    }

    /// Stores `value` as JSON under `key`.
    pub fn set_json<T: Serialize>(key: &str, value: &T, ttl_seconds: Option<u32>) {
        if let Ok(bytes) = serde_json::to_vec(value) {
            set(key, &bytes, ttl_seconds);
        }
    }
}

/// Logs at info level: `ncco_sdk::info!("caller {}", from)`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::guest::host::log($crate::guest::host::Level::Info, &format!($($arg)*)) };
}

/// Logs at warn level.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::guest::host::log($crate::guest::host::Level::Warn, &format!($($arg)*)) };
}

/// Logs at error level.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::guest::host::log($crate::guest::host::Level::Error, &format!($($arg)*)) };
}

/// Logs at debug level.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::guest::host::log($crate::guest::host::Level::Debug, &format!($($arg)*)) };
}
