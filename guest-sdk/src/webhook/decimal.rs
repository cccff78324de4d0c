//! [`Decimal`]: a money amount as Vonage sends it, either a JSON number or a number in a string
//! (`"0.00450000"`), readable as `f64` while keeping the exact text for re-serialization.

use std::fmt;

use serde::{Serialize, Serializer};
use serde_json::{Number, Value};

/// A decimal amount (the `rate` and `price` of a completed call) with its text as written.
///
/// Vonage writes amounts in strings (`"0.01185000"`); some senders use plain numbers. Both are read.
/// [`Decimal::value`] gives the amount as `f64`; [`Decimal::as_str`] the exact text, which is what
/// serialization writes back (as a string if it arrived as one, else as a number).
///
/// ```
/// use ncco_sdk::webhook::Decimal;
/// let price: Decimal = "0.01185000".parse()?;
/// assert_eq!(price.value(), 0.01185);
/// assert_eq!(price.as_str(), "0.01185000");
/// assert_eq!(serde_json::to_string(&price)?, r#""0.01185000""#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Decimal {
    value: f64,
    text: String,
    quoted: bool,
}

impl Decimal {
    /// The amount as a number.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// The amount's text, exactly as it was written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when the amount arrived inside a JSON string (Vonage's usual form).
    pub fn is_quoted(&self) -> bool {
        self.quoted
    }

    /// Reads a number, or a string holding a finite number. Anything else gives `None`.
    pub(crate) fn from_value(value: &Value) -> Option<Decimal> {
        match value {
            Value::Number(n) => n.as_f64().map(|value| Decimal { value, text: n.to_string(), quoted: false }),
            Value::String(s) => {
                let mut d: Decimal = s.parse().ok()?;
                d.text.clone_from(s);
                Some(d)
            }
            _ => None,
        }
    }
}

impl From<f64> for Decimal {
    /// An unquoted amount. Serializes as a JSON number (or `null` if not finite, as `serde_json` does).
    fn from(value: f64) -> Self {
        Decimal { value, text: value.to_string(), quoted: false }
    }
}

/// The text is not a finite decimal number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a decimal number: {0:?}")]
pub struct ParseDecimalError(String);

impl std::str::FromStr for Decimal {
    type Err = ParseDecimalError;

    /// Reads text such as `"0.00450000"` as a quoted amount (surrounding spaces allowed).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().parse::<f64>() {
            Ok(value) if value.is_finite() => Ok(Decimal { value, text: s.to_owned(), quoted: true }),
            _ => Err(ParseDecimalError(s.to_owned())),
        }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.quoted {
            return serializer.serialize_str(&self.text);
        }
        match self.text.parse::<Number>() {
            Ok(n) => n.serialize(serializer),
            Err(_) => serializer.serialize_f64(self.value),
        }
    }
}
