//! The lenient, problem-collecting reader over `serde_json` values: the one place that decides which
//! JSON shapes the NCCO model accepts, coerces (numbers and booleans in strings, other key spellings),
//! and reports, each problem with the JSON pointer of the offending value.

use serde_json::{Map, Value};

use crate::problem::{Report, Rule, child, index};

/// How forgiving parsing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Accept what Vonage accepts in practice (numbers and booleans in strings, both key spellings,
    /// legacy shapes) and report those forms as warnings.
    #[default]
    Lenient,
    /// Report every non-canonical form, and every unknown key, as an error.
    Strict,
}

/// The parsing context: the mode and everything found so far.
#[derive(Debug)]
pub(crate) struct Cx {
    pub mode: Mode,
    pub report: Report,
}

impl Cx {
    pub fn new(mode: Mode) -> Self {
        Cx { mode, report: Report::default() }
    }

    pub fn error(&mut self, pointer: &str, rule: Rule, message: impl Into<String>) {
        self.report.error(pointer, rule, message);
    }

    pub fn warn(&mut self, pointer: &str, rule: Rule, message: impl Into<String>) {
        self.report.warn(pointer, rule, message);
    }

    /// A form accepted in lenient mode (with a warning) and refused in strict mode.
    pub fn lenient(&mut self, pointer: &str, message: impl Into<String>) {
        match self.mode {
            Mode::Lenient => self.report.warn(pointer, Rule::Lenient, message),
            Mode::Strict => self.report.error(pointer, Rule::Lenient, message),
        }
    }

    /// A key the model does not know: kept, with a warning in lenient mode; an error in strict mode.
    pub fn unknown_key(&mut self, pointer: &str, message: impl Into<String>) {
        match self.mode {
            Mode::Lenient => self.report.warn(pointer, Rule::UnknownKey, message),
            Mode::Strict => self.report.error(pointer, Rule::UnknownKey, message),
        }
    }
}

/// One value found under a key, with its pointer and its key as written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field<'v, 'p> {
    pub value: &'v Value,
    pub pointer: &'p str,
    pub key: &'v str,
}

/// Describes a JSON value's type for messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn int_of(v: &Value) -> Option<(i64, bool)> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(|i| (i, false))
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| (f as i64, true))),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>().ok().map(|i| (i, true)).or_else(|| {
                s.parse::<f64>().ok().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| (f as i64, true))
            })
        }
        _ => None,
    }
}

impl Field<'_, '_> {
    pub fn bool(&self, cx: &mut Cx) -> Option<bool> {
        match self.value {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => {
                cx.lenient(self.pointer, format!("`{}` is a boolean written as a string ({s:?})", self.key));
                Some(s.eq_ignore_ascii_case("true"))
            }
            other => {
                cx.error(
                    self.pointer,
                    Rule::Type,
                    format!("`{}` must be a boolean (true or false), got {}", self.key, type_name(other)),
                );
                None
            }
        }
    }

    /// An integer within `min..=max`. Out of range is reported; the value is still returned when it fits.
    pub fn int(&self, cx: &mut Cx, min: i64, max: i64) -> Option<u32> {
        let Some((n, coerced)) = int_of(self.value) else {
            let got = match self.value {
                Value::Number(n) => format!("{n}"),
                other => type_name(other).to_owned(),
            };
            cx.error(self.pointer, Rule::Type, format!("`{}` must be an integer, got {got}", self.key));
            return None;
        };
        if coerced {
            let shown = match self.value {
                Value::String(s) => format!("{s:?}"),
                v => v.to_string(),
            };
            cx.lenient(self.pointer, format!("`{}` is an integer written as {shown}", self.key));
        }
        if n < min || n > max {
            cx.error(self.pointer, Rule::Range, range_message(self.key, min as f64, max as f64, &n.to_string()));
        }
        u32::try_from(n).ok()
    }

    /// A number within `min..=max`. Out of range is reported; the value is still returned.
    pub fn num(&self, cx: &mut Cx, min: f64, max: f64) -> Option<f64> {
        let n = match self.value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => {
                let parsed = s.trim().parse::<f64>().ok().filter(|f| f.is_finite());
                if parsed.is_some() {
                    cx.lenient(self.pointer, format!("`{}` is a number written as a string ({s:?})", self.key));
                }
                parsed
            }
            _ => None,
        };
        let Some(n) = n else {
            cx.error(
                self.pointer,
                Rule::Type,
                format!("`{}` must be a number, got {}", self.key, type_name(self.value)),
            );
            return None;
        };
        if n < min || n > max {
            cx.error(self.pointer, Rule::Range, range_message(self.key, min, max, &n.to_string()));
        }
        Some(n)
    }

    /// A string; a number is accepted leniently (`"number": 447700900001`).
    pub fn string(&self, cx: &mut Cx) -> Option<String> {
        match self.value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => {
                cx.lenient(self.pointer, format!("`{}` is a string written as the number {n}", self.key));
                Some(n.to_string())
            }
            other => {
                cx.error(
                    self.pointer,
                    Rule::Type,
                    format!("`{}` must be a string, got {}", self.key, type_name(other)),
                );
                None
            }
        }
    }

    /// A string that must not be empty.
    pub fn non_empty_string(&self, cx: &mut Cx) -> Option<String> {
        let s = self.string(cx)?;
        if s.trim().is_empty() {
            cx.error(self.pointer, Rule::Empty, format!("`{}` must not be empty", self.key));
        }
        Some(s)
    }

    /// One of `options`, matched exactly.
    pub fn choice<T: Copy>(&self, cx: &mut Cx, options: &[(&str, T)]) -> Option<T> {
        let s = self.string(cx)?;
        if let Some((_, t)) = options.iter().find(|(name, _)| *name == s) {
            return Some(*t);
        }
        let names: Vec<String> = options.iter().map(|(n, _)| format!("{n:?}")).collect();
        cx.error(self.pointer, Rule::Enum, format!("`{}` must be one of {}, got {s:?}", self.key, names.join(", ")));
        None
    }

    /// An array of strings (`min_len` or more elements).
    pub fn strings(&self, cx: &mut Cx, min_len: usize) -> Option<Vec<String>> {
        let Value::Array(items) = self.value else {
            cx.error(
                self.pointer,
                Rule::Type,
                format!("`{}` must be an array of strings, got {}", self.key, type_name(self.value)),
            );
            return None;
        };
        if items.len() < min_len {
            cx.error(self.pointer, Rule::Empty, format!("`{}` must hold at least {min_len} element(s)", self.key));
        }
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(s) => out.push(s.clone()),
                other => {
                    ok = false;
                    cx.error(
                        &index(self.pointer, i),
                        Rule::Type,
                        format!("`{}` must hold only strings, element {i} is {}", self.key, type_name(other)),
                    );
                }
            }
        }
        ok.then_some(out)
    }

    /// An array of absolute http(s) URLs, exactly as `eventUrl` and `streamUrl` want it.
    pub fn url_list(&self, cx: &mut Cx) -> Option<Vec<String>> {
        let urls = self.strings(cx, 1)?;
        for (i, u) in urls.iter().enumerate() {
            check_url(cx, &index(self.pointer, i), self.key, u);
        }
        Some(urls)
    }

    /// A single absolute http(s) URL.
    pub fn url(&self, cx: &mut Cx) -> Option<String> {
        let u = self.string(cx)?;
        check_url(cx, self.pointer, self.key, &u);
        Some(u)
    }

    /// Any JSON object, kept as is.
    pub fn map(&self, cx: &mut Cx) -> Option<Map<String, Value>> {
        match self.value {
            Value::Object(m) => Some(m.clone()),
            other => {
                cx.error(
                    self.pointer,
                    Rule::Type,
                    format!("`{}` must be an object, got {}", self.key, type_name(other)),
                );
                None
            }
        }
    }
}

fn range_message(key: &str, min: f64, max: f64, got: &str) -> String {
    if max >= u32::MAX as f64 {
        format!("`{key}` must be at least {min}, got {got}")
    } else {
        format!("`{key}` must be between {min} and {max}, got {got}")
    }
}

/// Reports `url` unless it is an absolute http or https URL with a host.
pub(crate) fn check_url(cx: &mut Cx, pointer: &str, key: &str, url: &str) {
    if !is_http_url(url) {
        cx.error(pointer, Rule::Pattern, format!("`{key}` must be an absolute http:// or https:// URL, got {url:?}"));
    }
}

/// True for an absolute http or https URL with a non-empty host and no whitespace.
pub fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .or_else(|| url.get(..8).filter(|p| p.eq_ignore_ascii_case("https://")).map(|_| &url[8..]))
        .or_else(|| url.get(..7).filter(|p| p.eq_ignore_ascii_case("http://")).map(|_| &url[7..]));
    let Some(rest) = rest else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or("");
    !host.is_empty() && !host.starts_with(':') && !url.chars().any(char::is_whitespace)
}

/// The value under `key` when `value` is an object (see [`Obj::find`] for why it is not hashed).
pub(crate) fn field<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    match value {
        Value::Object(map) if map.len() <= 16 => map.iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| v),
        Value::Object(map) => map.get(key),
        _ => None,
    }
}

/// An object being read: which keys were used, so the rest can be reported and kept.
#[derive(Debug)]
pub(crate) struct Obj<'v> {
    map: &'v Map<String, Value>,
    pub pointer: String,
    /// What this object is, for messages: "talk", "the dtmf settings", "a websocket endpoint".
    pub what: &'static str,
    used: Vec<&'static str>,
}

impl<'v> Obj<'v> {
    /// Reads `value` as an object, or reports it.
    pub fn new(cx: &mut Cx, value: &'v Value, pointer: String, what: &'static str) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Obj { map, pointer, what, used: Vec::with_capacity(map.len() + 4) }),
            other => {
                cx.error(&pointer, Rule::Type, format!("{what} must be a JSON object, got {}", type_name(other)));
                None
            }
        }
    }

    /// True when `key` is present (even as null). Does not mark it used.
    pub fn has(&self, key: &str) -> bool {
        self.find(key).is_some()
    }

    /// The entry under `key`. Objects of an NCCO hold a handful of keys, and comparing them is
    /// cheaper than hashing the key (a third of checking an NCCO, measured).
    fn find(&self, key: &str) -> Option<(&'v String, &'v Value)> {
        if self.map.len() <= 16 {
            self.map.iter().find(|(k, _)| k.as_str() == key)
        } else {
            self.map.get_key_value(key)
        }
    }

    /// Looks a key up; null counts as absent (with a lenient-form note).
    pub fn get(&mut self, cx: &mut Cx, key: &'static str) -> Option<(&'v Value, String, &'v str)> {
        self.used.push(key);
        let (k, v) = self.find(key)?;
        let pointer = child(&self.pointer, key);
        if v.is_null() {
            cx.lenient(&pointer, format!("`{key}` is null; treated as absent"));
            return None;
        }
        Some((v, pointer, k.as_str()))
    }

    /// Looks up `key`, or else one of its other spellings (noted as a lenient form).
    pub fn get_alias(
        &mut self,
        cx: &mut Cx,
        key: &'static str,
        aliases: &[&'static str],
    ) -> Option<(&'v Value, String, &'v str)> {
        let found = self.get(cx, key);
        for alias in aliases {
            if let Some((v, p, k)) = self.get(cx, alias) {
                if found.is_some() {
                    cx.error(
                        &p,
                        Rule::Exclusive,
                        format!("`{alias}` and `{key}` are two spellings of one key; give one"),
                    );
                } else {
                    cx.lenient(&p, format!("`{alias}` is another spelling of `{key}`"));
                    return Some((v, p, k));
                }
            }
        }
        found
    }

    /// Runs `f` on the field under `key` if it is present.
    pub fn with<T>(
        &mut self,
        cx: &mut Cx,
        key: &'static str,
        f: impl FnOnce(&mut Cx, Field<'_, '_>) -> Option<T>,
    ) -> Option<T> {
        let (value, pointer, key) = self.get(cx, key)?;
        f(cx, Field { value, pointer: &pointer, key })
    }

    /// Like [`Obj::with`], but reports a missing key.
    pub fn required<T>(
        &mut self,
        cx: &mut Cx,
        key: &'static str,
        f: impl FnOnce(&mut Cx, Field<'_, '_>) -> Option<T>,
    ) -> Option<T> {
        match self.find(key).map(|(_, v)| v) {
            None | Some(Value::Null) => {
                self.used.push(key);
                self.missing(cx, key);
                None
            }
            Some(_) => self.with(cx, key, f),
        }
    }

    /// Reports that `key` is missing from this object.
    pub fn missing(&self, cx: &mut Cx, key: &str) {
        cx.error(&self.pointer, Rule::Required, format!("{} needs `{key}`", self.what));
    }

    pub fn bool(&mut self, cx: &mut Cx, key: &'static str) -> Option<bool> {
        self.with(cx, key, |cx, f| f.bool(cx))
    }

    pub fn int(&mut self, cx: &mut Cx, key: &'static str, min: i64, max: i64) -> Option<u32> {
        self.with(cx, key, |cx, f| f.int(cx, min, max))
    }

    pub fn num(&mut self, cx: &mut Cx, key: &'static str, min: f64, max: f64) -> Option<f64> {
        self.with(cx, key, |cx, f| f.num(cx, min, max))
    }

    pub fn string(&mut self, cx: &mut Cx, key: &'static str) -> Option<String> {
        self.with(cx, key, |cx, f| f.string(cx))
    }

    pub fn strings(&mut self, cx: &mut Cx, key: &'static str) -> Option<Vec<String>> {
        self.with(cx, key, |cx, f| f.strings(cx, 0))
    }

    pub fn map(&mut self, cx: &mut Cx, key: &'static str) -> Option<Map<String, Value>> {
        self.with(cx, key, |cx, f| f.map(cx))
    }

    pub fn choice<T: Copy>(&mut self, cx: &mut Cx, key: &'static str, options: &[(&str, T)]) -> Option<T> {
        self.with(cx, key, |cx, f| f.choice(cx, options))
    }

    /// Reads the nested object under `key` with `f`.
    pub fn object<T>(
        &mut self,
        cx: &mut Cx,
        key: &'static str,
        what: &'static str,
        f: impl FnOnce(&mut Cx, Obj<'v>) -> Option<T>,
    ) -> Option<T> {
        let (value, pointer, _) = self.get(cx, key)?;
        let obj = Obj::new(cx, value, pointer, what)?;
        f(cx, obj)
    }

    /// Reports the keys nobody read and returns them, to be kept as they are.
    pub fn finish(self, cx: &mut Cx) -> Map<String, Value> {
        let mut extra = Map::new();
        for (k, v) in self.map {
            if self.used.iter().any(|u| u == k) {
                continue;
            }
            let pointer = child(&self.pointer, k);
            cx.unknown_key(&pointer, format!("{} has no key `{k}`; it is kept as is", self.what));
            extra.insert(k.clone(), v.clone());
        }
        extra
    }
}
