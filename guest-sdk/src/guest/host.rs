//! What the host offers a plugin: logging, the app's variables, and call- and app-scoped state.
//!
//! Every state operation returns a [`Result`]: a full disk or an unreachable Redis is a
//! [`StateError::Unavailable`] the plugin can act on (answer without the state, or fail and let the
//! host speak the fallback), never a silent no-op. Counters and shared lists use the atomic
//! [`app::increment`] and [`app::compare_and_set`] (or [`app::update_json`]), so concurrent calls never
//! lose each other's updates.
//!
//! ```no_run
//! use ncco_sdk::guest::host::{app, call, config};
//! # fn main() -> Result<(), ncco_sdk::guest::host::StateError> {
//!
//! // The app's variable `departments` from `[vars]` in its TOML, with a default.
//! let departments = config("departments").unwrap_or_else(|| "sales,support".to_owned());
//!
//! // Call state: counts attempts within this call only; gone after the call completes.
//! let attempts = call::increment("attempts", 1)?;
//! // Text is stored as its UTF-8 bytes.
//! call::set_str("department", "Sales")?;
//! assert_eq!(call::get_string("department")?.as_deref(), Some("Sales"));
//!
//! // App state: shared by every call of the app; this counter lives one day from its first call.
//! let calls_today = app::increment("calls-today", 1, Some(86_400))?;
//! app::set_json("last-departments", &departments, Some(86_400))?;
//! ncco_sdk::info!("attempt {attempts} with {departments}; call {calls_today} today");
//! # Ok(())
//! # }
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::bindings::vonage::ncco::host as wit;
use super::bindings::vonage::ncco::state as wit_state;

pub use wit::Level;
use wit_state::Scope;

/// Writes `message` to the call's log at `level`.
pub fn log(level: Level, message: &str) {
    wit::log(level, message);
}

/// The app's variable `name` (`[vars]` in the app's TOML), if set.
pub fn config(name: &str) -> Option<String> {
    wit::config(name)
}

/// Why a state operation did not happen; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateError {
    /// The host's state backend failed (a full disk, an unreachable Redis). Answer without the
    /// state, or return an error and let the host answer with the app's fallback NCCO.
    Unavailable(String),
    /// The key or value is out of bounds (keys 1 to 512 bytes, values up to 256 KiB), or a stored
    /// value is not what was asked for (not an integer, not UTF-8, not the JSON type).
    Invalid(String),
    /// The tenant's state quota is used up.
    QuotaExceeded(String),
    /// This webhook names no conversation, so it has no call state.
    NoCall,
}

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateError::Unavailable(m) => write!(f, "state unavailable: {m}"),
            StateError::Invalid(m) => write!(f, "invalid state operation: {m}"),
            StateError::QuotaExceeded(m) => write!(f, "state quota exceeded: {m}"),
            StateError::NoCall => f.write_str("this webhook names no conversation, so it has no call state"),
        }
    }
}

impl std::error::Error for StateError {}

impl From<wit_state::StateError> for StateError {
    fn from(e: wit_state::StateError) -> Self {
        match e {
            wit_state::StateError::Unavailable(m) => StateError::Unavailable(m),
            wit_state::StateError::Invalid(m) => StateError::Invalid(m),
            wit_state::StateError::QuotaExceeded(m) => StateError::QuotaExceeded(m),
            wit_state::StateError::NoCall => StateError::NoCall,
        }
    }
}

/// What a state operation returns.
pub type StateResult<T> = Result<T, StateError>;

/// For state a webhook can do without: logs the error as a warning and goes on without the value.
///
/// ```no_run
/// use ncco_sdk::guest::host::{OrWarn, call};
/// let caller = call::get_string("caller").or_warn("reading the caller").flatten();
/// ```
pub trait OrWarn<T> {
    /// The value, or `None` after logging `what` failed and why.
    fn or_warn(self, what: &str) -> Option<T>;
}

impl<T> OrWarn<T> for StateResult<T> {
    fn or_warn(self, what: &str) -> Option<T> {
        match self {
            Ok(v) => Some(v),
            Err(e) => {
                log(Level::Warn, &format!("{what}: {e}"));
                None
            }
        }
    }
}

fn utf8(key: &str, bytes: Option<Vec<u8>>) -> StateResult<Option<String>> {
    bytes
        .map(|b| String::from_utf8(b).map_err(|_| StateError::Invalid(format!("`{key}` does not hold UTF-8 text"))))
        .transpose()
}

fn from_json<T: DeserializeOwned>(key: &str, bytes: Option<Vec<u8>>) -> StateResult<Option<T>> {
    bytes
        .map(|b| {
            serde_json::from_slice(&b).map_err(|e| StateError::Invalid(format!("`{key}` does not hold that JSON: {e}")))
        })
        .transpose()
}

fn to_json<T: Serialize>(value: &T) -> StateResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| StateError::Invalid(format!("cannot serialize the value: {e}")))
}

/// How many times [`app::update_json`] retries when other calls keep changing the key.
pub const UPDATE_ATTEMPTS: usize = 16;

fn update_json<T: Serialize + DeserializeOwned>(
    scope: Scope,
    key: &str,
    ttl_seconds: Option<u32>,
    mut f: impl FnMut(Option<T>) -> Option<T>,
) -> StateResult<Option<T>> {
    for _ in 0..UPDATE_ATTEMPTS {
        let current = wit_state::get(scope, key)?;
        let next = f(from_json(key, current.clone())?);
        let bytes = next.as_ref().map(to_json).transpose()?;
        if wit_state::compare_and_set(scope, key, current.as_deref(), bytes.as_deref(), ttl_seconds)? {
            return Ok(next);
        }
    }
    Err(StateError::Unavailable(format!("`{key}` kept changing under {UPDATE_ATTEMPTS} attempts to update it")))
}

/// Call-scoped state: keyed by the call's conversation, gone after the call completes (plus a grace
/// period). Every function fails with [`StateError::NoCall`] when the webhook names no conversation.
pub mod call {
    use super::*;

    /// The bytes stored under `key` for this call.
    pub fn get(key: &str) -> StateResult<Option<Vec<u8>>> {
        Ok(wit_state::get(Scope::Call, key)?)
    }

    /// Stores `value` under `key` for this call.
    pub fn set(key: &str, value: &[u8]) -> StateResult<()> {
        Ok(wit_state::set(Scope::Call, key, value, None)?)
    }

    /// Deletes `key` for this call.
    pub fn delete(key: &str) -> StateResult<()> {
        Ok(wit_state::delete(Scope::Call, key)?)
    }

    /// Reads `key` as UTF-8 text.
    pub fn get_string(key: &str) -> StateResult<Option<String>> {
        utf8(key, get(key)?)
    }

    /// Stores the text `value` (as its UTF-8 bytes) under `key` for this call.
    pub fn set_str(key: &str, value: &str) -> StateResult<()> {
        set(key, value.as_bytes())
    }

    /// Reads `key` as JSON into `T`.
    pub fn get_json<T: DeserializeOwned>(key: &str) -> StateResult<Option<T>> {
        from_json(key, get(key)?)
    }

    /// Stores `value` as JSON under `key`.
    pub fn set_json<T: Serialize>(key: &str, value: &T) -> StateResult<()> {
        set(key, &to_json(value)?)
    }

    /// Adds `delta` to the integer under `key` (absent: 0) atomically; returns the new value.
    pub fn increment(key: &str, delta: i64) -> StateResult<i64> {
        Ok(wit_state::increment(Scope::Call, key, delta, None)?)
    }

    /// Sets `key` to `new` (deletes it, for `None`) only if it holds `expected` (`None`: absent).
    pub fn compare_and_set(key: &str, expected: Option<&[u8]>, new: Option<&[u8]>) -> StateResult<bool> {
        Ok(wit_state::compare_and_set(Scope::Call, key, expected, new, None)?)
    }

    /// Reads `key` as JSON, applies `f`, and stores the result (deletes the key for `None`),
    /// atomically: retried when another webhook of the call changed it in between.
    pub fn update_json<T: Serialize + DeserializeOwned>(
        key: &str,
        f: impl FnMut(Option<T>) -> Option<T>,
    ) -> StateResult<Option<T>> {
        super::update_json(Scope::Call, key, None, f)
    }
}

/// App-scoped state: shared by every call of this app, optionally with a time to live.
pub mod app {
    use super::*;

    /// The bytes stored under `key`.
    pub fn get(key: &str) -> StateResult<Option<Vec<u8>>> {
        Ok(wit_state::get(Scope::App, key)?)
    }

    /// Stores `value` under `key`, for `ttl_seconds` or until deleted.
    pub fn set(key: &str, value: &[u8], ttl_seconds: Option<u32>) -> StateResult<()> {
        Ok(wit_state::set(Scope::App, key, value, ttl_seconds)?)
    }

    /// Deletes `key`.
    pub fn delete(key: &str) -> StateResult<()> {
        Ok(wit_state::delete(Scope::App, key)?)
    }

    /// Reads `key` as UTF-8 text.
    pub fn get_string(key: &str) -> StateResult<Option<String>> {
        utf8(key, get(key)?)
    }

    /// Stores the text `value` (as its UTF-8 bytes) under `key`, for `ttl_seconds` or until deleted.
    pub fn set_str(key: &str, value: &str, ttl_seconds: Option<u32>) -> StateResult<()> {
        set(key, value.as_bytes(), ttl_seconds)
    }

    /// Reads `key` as JSON into `T`.
    pub fn get_json<T: DeserializeOwned>(key: &str) -> StateResult<Option<T>> {
        from_json(key, get(key)?)
    }

    /// Stores `value` as JSON under `key`.
    pub fn set_json<T: Serialize>(key: &str, value: &T, ttl_seconds: Option<u32>) -> StateResult<()> {
        set(key, &to_json(value)?, ttl_seconds)
    }

    /// Adds `delta` to the integer under `key` (absent: 0) atomically and returns the new value;
    /// `ttl_seconds` applies when the key is created.
    pub fn increment(key: &str, delta: i64, ttl_seconds: Option<u32>) -> StateResult<i64> {
        Ok(wit_state::increment(Scope::App, key, delta, ttl_seconds)?)
    }

    /// Sets `key` to `new` (deletes it, for `None`) only if it holds `expected` (`None`: absent).
    pub fn compare_and_set(
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
        ttl_seconds: Option<u32>,
    ) -> StateResult<bool> {
        Ok(wit_state::compare_and_set(Scope::App, key, expected, new, ttl_seconds)?)
    }

    /// Reads `key` as JSON, applies `f`, and stores the result (deletes the key for `None`) with
    /// `ttl_seconds`, atomically: retried (up to [`UPDATE_ATTEMPTS`] times) when another call changed
    /// it in between. Use it for lists and maps that several calls update at once.
    pub fn update_json<T: Serialize + DeserializeOwned>(
        key: &str,
        ttl_seconds: Option<u32>,
        f: impl FnMut(Option<T>) -> Option<T>,
    ) -> StateResult<Option<T>> {
        super::update_json(Scope::App, key, ttl_seconds, f)
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
