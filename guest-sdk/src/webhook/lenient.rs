//! Lenient reading of webhook payloads: numbers and booleans inside strings, `null` as absent, JSON
//! objects arriving as strings (GET), unknown keys kept, and a [`WebhookError`] naming the field when a
//! value has a type no reading accepts.

use serde_json::{Map, Value};

use super::WebhookError;
use super::decimal::Decimal;

/// Reads a request body as a JSON object.
pub(crate) fn object_from_json(body: &[u8]) -> Result<Map<String, Value>, WebhookError> {
    let value: Value = serde_json::from_slice(body).map_err(WebhookError::NotJson)?;
    object_from_value(value)
}

/// Takes the object out of a JSON value.
pub(crate) fn object_from_value(value: Value) -> Result<Map<String, Value>, WebhookError> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(WebhookError::NotObject { got: type_name(&other) }),
    }
}

/// Reads a query string (`a=1&b=x%20y`, with or without a leading `?`) into an object of strings.
/// When `json_value(key)` says so, a value that parses as a JSON object or array is taken as that value
/// (how GET carries nested objects is not documented; JSON text is the likely encoding). When a key is
/// repeated, the last value wins.
pub(crate) fn object_from_query(raw_query: &str, json_value: impl Fn(&str) -> bool) -> Map<String, Value> {
    let raw = raw_query.strip_prefix('?').unwrap_or(raw_query);
    let mut map = Map::new();
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        let parsed = if json_value(&key) { json_container(&value) } else { None };
        map.insert(key.into_owned(), parsed.unwrap_or_else(|| Value::String(value.into_owned())));
    }
    map
}

/// Parses text that looks like a JSON object or array; anything else gives `None`.
pub(crate) fn json_container(text: &str) -> Option<Value> {
    let trimmed = text.trim_start();
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
        return None;
    }
    serde_json::from_str::<Value>(text).ok().filter(|v| v.is_object() || v.is_array())
}

pub(crate) use crate::reader::type_name;

/// A JSON value described for messages, with the value itself when it is a short scalar.
pub(crate) fn describe(value: &Value) -> String {
    const MAX_SHOWN: usize = 40;
    match value {
        Value::String(s) if s.chars().count() <= MAX_SHOWN => format!("the string {s:?}"),
        Value::Number(n) => format!("the number {n}"),
        Value::Bool(b) => format!("the boolean {b}"),
        other => type_name(other).to_owned(),
    }
}

/// A scalar as text: strings as they are, numbers and booleans as written. `None` for containers.
pub(crate) fn scalar_text(value: Value) -> Result<String, Value> {
    match value {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(other),
    }
}

/// The fields of one JSON object being read: each typed field is taken out; what is left is `extra`.
#[derive(Debug)]
pub(crate) struct Fields {
    map: Map<String, Value>,
    /// The dotted path of this object, ending with `.` (empty at the top level).
    path: String,
}

impl Fields {
    /// Top-level fields.
    pub(crate) fn new(map: Map<String, Value>) -> Self {
        Fields { map, path: String::new() }
    }

    /// The full name of one field, for messages.
    pub(crate) fn name(&self, key: &str) -> String {
        format!("{}{key}", self.path)
    }

    fn error(&self, key: &str, expected: &'static str, got: &Value) -> WebhookError {
        WebhookError::Type { field: self.name(key), expected, got: describe(got) }
    }

    /// Takes a value out; `null` counts as absent.
    pub(crate) fn take(&mut self, key: &str) -> Option<Value> {
        self.map.shift_remove(key).filter(|v| !v.is_null())
    }

    /// A text field. Numbers and booleans are kept as their text.
    pub(crate) fn string(&mut self, key: &str) -> Result<Option<String>, WebhookError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => scalar_text(v).map(Some).map_err(|v| self.error(key, "a string", &v)),
        }
    }

    /// A string enum field ([`wire_enum!`]): unknown values are kept.
    pub(crate) fn wire<T: From<String>>(&mut self, key: &str) -> Result<Option<T>, WebhookError> {
        Ok(self.string(key)?.map(T::from))
    }

    /// A boolean, or `"true"`/`"false"` in any case.
    pub(crate) fn bool(&mut self, key: &str) -> Result<Option<bool>, WebhookError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(v) => Err(self.error(key, "a boolean", &v)),
        }
    }

    /// A finite number, or a number in a string. An empty string is absent.
    pub(crate) fn f64(&mut self, key: &str) -> Result<Option<f64>, WebhookError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => match number(&v) {
                Some(n) => Ok(n),
                None => Err(self.error(key, "a number", &v)),
            },
        }
    }

    /// A non-negative whole number, or one in a string. An empty string is absent. With `round`, a
    /// fractional value is rounded to the nearest whole number instead of refused.
    pub(crate) fn u64(&mut self, key: &str, round: bool) -> Result<Option<u64>, WebhookError> {
        let Some(v) = self.take(key) else { return Ok(None) };
        if let Value::Number(n) = &v
            && let Some(u) = n.as_u64()
        {
            return Ok(Some(u));
        }
        match number(&v) {
            Some(None) => Ok(None),
            Some(Some(f)) if (0.0..1.8e19).contains(&f) && (round || f.fract() == 0.0) => Ok(Some(f.round() as u64)),
            _ => Err(self.error(key, "a non-negative whole number", &v)),
        }
    }

    /// A whole number (possibly negative), or one in a string. An empty string is absent.
    pub(crate) fn i64(&mut self, key: &str) -> Result<Option<i64>, WebhookError> {
        let Some(v) = self.take(key) else { return Ok(None) };
        if let Value::Number(n) = &v
            && let Some(i) = n.as_i64()
        {
            return Ok(Some(i));
        }
        match number(&v) {
            Some(None) => Ok(None),
            Some(Some(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(Some(f as i64)),
            _ => Err(self.error(key, "a whole number", &v)),
        }
    }

    /// A decimal amount (a number, or a number in a string), keeping the text as written.
    pub(crate) fn decimal(&mut self, key: &str) -> Result<Option<Decimal>, WebhookError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(v) => match Decimal::from_value(&v) {
                Some(d) => Ok(Some(d)),
                None => Err(self.error(key, "a number", &v)),
            },
        }
    }

    /// An object, or JSON text holding one.
    pub(crate) fn object(&mut self, key: &str) -> Result<Option<Map<String, Value>>, WebhookError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(Value::String(s)) => match json_container(&s) {
                Some(Value::Object(m)) => Ok(Some(m)),
                _ => Err(self.error(key, "an object", &Value::String(s))),
            },
            Some(v) => Err(self.error(key, "an object", &v)),
        }
    }

    /// An object read by `read` with its own [`Fields`], whose messages name `key.<field>`.
    pub(crate) fn nested<T>(
        &mut self,
        key: &str,
        read: impl FnOnce(Fields) -> Result<T, WebhookError>,
    ) -> Result<Option<T>, WebhookError> {
        let path = format!("{}.", self.name(key));
        match self.object(key)? {
            None => Ok(None),
            Some(map) => read(Fields { map, path }).map(Some),
        }
    }

    /// An array of objects, each read by `read`; messages name `key[i].<field>`. Absent is empty.
    pub(crate) fn objects<T>(
        &mut self,
        key: &str,
        mut read: impl FnMut(Fields) -> Result<T, WebhookError>,
    ) -> Result<Vec<T>, WebhookError> {
        let items = match self.take(key) {
            None => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(Value::String(s)) => match json_container(&s) {
                Some(Value::Array(items)) => items,
                _ => return Err(self.error(key, "an array", &Value::String(s))),
            },
            Some(v) => return Err(self.error(key, "an array", &v)),
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let name = format!("{}[{i}]", self.name(key));
            match item {
                Value::Object(map) => out.push(read(Fields { map, path: format!("{name}.") })?),
                other => {
                    return Err(WebhookError::Type { field: name, expected: "an object", got: describe(&other) });
                }
            }
        }
        Ok(out)
    }

    /// An array of strings (a single string is a one-element list). Absent is empty.
    pub(crate) fn strings(&mut self, key: &str) -> Result<Vec<String>, WebhookError> {
        let items = match self.take(key) {
            None => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(v) => return scalar_text(v).map(|s| vec![s]).map_err(|v| self.error(key, "an array of strings", &v)),
        };
        let name = self.name(key);
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                scalar_text(item).map_err(|v| WebhookError::Type {
                    field: format!("{name}[{i}]"),
                    expected: "a string",
                    got: describe(&v),
                })
            })
            .collect()
    }

    /// True when the key is present and not `null`.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|v| !v.is_null())
    }

    /// The value under a key, without taking it.
    pub(crate) fn peek(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// The keys not taken yet, in order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &String> {
        self.map.keys()
    }

    /// The keys left over: the `extra` map.
    pub(crate) fn finish(self) -> Map<String, Value> {
        self.map
    }
}

/// A number or a number in a string: `Some(Some(n))`; an empty string: `Some(None)`; otherwise `None`.
fn number(value: &Value) -> Option<Option<f64>> {
    match value {
        Value::Number(n) => n.as_f64().map(Some),
        Value::String(s) if s.trim().is_empty() => Some(None),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()).map(Some),
        _ => None,
    }
}
