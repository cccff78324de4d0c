//! The `wait` action: silence for a while.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::problem::{Rule, child};
use crate::reader::{Cx, Obj};

/// Default `wait.timeout` in seconds.
pub const DEFAULT_WAIT_SECONDS: f64 = 10.0;
/// Shortest wait Vonage honours; shorter values are clamped.
pub const MIN_WAIT_SECONDS: f64 = 0.1;
/// Longest wait Vonage honours; longer values are clamped.
pub const MAX_WAIT_SECONDS: f64 = 7200.0;

/// `wait`: pause the NCCO for `timeout` seconds (fractions allowed, default 10).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Wait {
    /// Seconds, 0.1 to 7200; Vonage clamps values outside that range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Wait {
    /// A wait of `seconds`.
    pub fn seconds(seconds: f64) -> Self {
        Wait { timeout: Some(seconds), ..Wait::default() }
    }

    /// The wait Vonage will actually make, after the default and clamping.
    pub fn effective_seconds(&self) -> f64 {
        self.timeout.unwrap_or(DEFAULT_WAIT_SECONDS).clamp(MIN_WAIT_SECONDS, MAX_WAIT_SECONDS)
    }
}

pub(crate) fn read(cx: &mut Cx, mut obj: Obj<'_>) -> Option<Wait> {
    let timeout = obj.num(cx, "timeout", f64::NEG_INFINITY, f64::INFINITY);
    if let Some(t) = timeout
        && !(MIN_WAIT_SECONDS..=MAX_WAIT_SECONDS).contains(&t)
    {
        let clamped = t.clamp(MIN_WAIT_SECONDS, MAX_WAIT_SECONDS);
        cx.warn(
            &child(&obj.pointer, "timeout"),
            Rule::Clamped,
            format!("`timeout` {t} is outside 0.1..7200; Vonage waits {clamped} s"),
        );
    }
    let extra = obj.finish(cx);
    Some(Wait { timeout, extra })
}
