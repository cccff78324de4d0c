//! Problems found while parsing or validating: where (a JSON pointer), which rule, and why.

use std::fmt;

use serde::Serialize;

/// The rule a [`Problem`] breaks. Serialized in kebab-case (`"range"`, `"one-endpoint"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Rule {
    /// The text is not JSON at all.
    Syntax,
    /// An NCCO must be a JSON array of action objects.
    NotArray,
    /// An array that must hold at least one element is empty.
    Empty,
    /// A value has the wrong JSON type.
    Type,
    /// A required key is missing (the pointer names the object that lacks it).
    Required,
    /// A number is outside its allowed range, or a string or list is too long or too short.
    Range,
    /// A string is not one of the allowed values.
    Enum,
    /// A string does not have the allowed form (a phone number, a URL, DTMF digits, ...).
    Pattern,
    /// Two keys that must not be used together.
    Exclusive,
    /// A key that only makes sense together with another one.
    Requires,
    /// `connect.endpoint` must hold exactly one endpoint.
    OneEndpoint,
    /// `bargeIn: true` must be followed by an `input` action.
    BargeIn,
    /// The `action` is not one of the nine NCCO actions.
    UnknownAction,
    /// A key the model does not know (kept as is in lenient mode).
    UnknownKey,
    /// A size cap is exceeded.
    Size,
    /// A form Vonage accepts but does not document as canonical (a number in a string,
    /// the other spelling of a key, a legacy shape). A warning in lenient mode, an error in strict mode.
    Lenient,
    /// A deprecated field.
    Deprecated,
    /// A language code outside the list the SDKs know (a warning).
    UnknownLanguage,
    /// A value Vonage clamps into range instead of rejecting (a warning).
    Clamped,
}

impl Rule {
    /// The kebab-case name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Syntax => "syntax",
            Rule::NotArray => "not-array",
            Rule::Empty => "empty",
            Rule::Type => "type",
            Rule::Required => "required",
            Rule::Range => "range",
            Rule::Enum => "enum",
            Rule::Pattern => "pattern",
            Rule::Exclusive => "exclusive",
            Rule::Requires => "requires",
            Rule::OneEndpoint => "one-endpoint",
            Rule::BargeIn => "barge-in",
            Rule::UnknownAction => "unknown-action",
            Rule::UnknownKey => "unknown-key",
            Rule::Size => "size",
            Rule::Lenient => "lenient",
            Rule::Deprecated => "deprecated",
            Rule::UnknownLanguage => "unknown-language",
            Rule::Clamped => "clamped",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing wrong (or worth a warning) in a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// RFC 6901 JSON pointer to the offending value; for a missing key, the object that lacks it.
    pub pointer: String,
    /// The rule broken.
    pub rule: Rule,
    /// What is wrong, in words a plugin author understands.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pointer = if self.pointer.is_empty() { "/" } else { &self.pointer };
        write!(f, "{pointer}: {}", self.message)
    }
}

/// Every error and warning found in one document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct Report {
    /// Problems that make the document invalid.
    pub errors: Vec<Problem>,
    /// Problems that do not: lenient forms (in lenient mode), unknown keys, deprecated fields.
    pub warnings: Vec<Problem>,
}

impl Report {
    /// True when there are no errors (warnings allowed).
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    pub(crate) fn error(&mut self, pointer: &str, rule: Rule, message: impl Into<String>) {
        self.errors.push(Problem { pointer: pointer.to_owned(), rule, message: message.into() });
    }

    pub(crate) fn warn(&mut self, pointer: &str, rule: Rule, message: impl Into<String>) {
        self.warnings.push(Problem { pointer: pointer.to_owned(), rule, message: message.into() });
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errors.len() {
            0 => f.write_str("no errors"),
            1 => write!(f, "{}", self.errors[0]),
            n => {
                write!(f, "{n} errors: ")?;
                for (i, e) in self.errors.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{e}")?;
                }
                Ok(())
            }
        }
    }
}

/// Appends a key to a JSON pointer, escaping `~` and `/` as RFC 6901 says.
pub(crate) fn child(pointer: &str, key: &str) -> String {
    let mut out = String::with_capacity(pointer.len() + key.len() + 1);
    out.push_str(pointer);
    out.push('/');
    for c in key.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
    out
}

/// Appends an array index to a JSON pointer.
pub(crate) fn index(pointer: &str, i: usize) -> String {
    format!("{pointer}/{i}")
}
