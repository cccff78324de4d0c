//! Checks the scenario's `[expect]` against what the call did.

use serde::Serialize;

use super::call::Facts;
use super::scenario::Expect;

/// One expectation and whether it held.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The expectation, as written.
    pub expect: String,
    /// Whether it held.
    pub ok: bool,
    /// What was seen instead, when it did not hold.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

fn check(expect: String, ok: bool, detail: impl FnOnce() -> String) -> Check {
    Check { expect, ok, detail: if ok { String::new() } else { detail() } }
}

/// Finds each of `wanted` in `seen` in order, where `matches(seen, wanted)`; returns the first missing.
fn in_order<'a>(wanted: &'a [String], seen: &[String], matches: impl Fn(&str, &str) -> bool) -> Option<&'a str> {
    let mut from = 0;
    for w in wanted {
        match seen[from..].iter().position(|s| matches(s, w)) {
            Some(i) => from += i + 1,
            None => return Some(w),
        }
    }
    None
}

fn contains(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

fn same_endpoint(seen: &str, wanted: &str) -> bool {
    seen.trim_start_matches('+') == wanted.trim_start_matches('+')
}

fn list(items: &[String]) -> String {
    if items.is_empty() { "nothing".to_owned() } else { format!("{items:?}") }
}

/// Every expectation of `e`, checked against `f`.
pub fn evaluate(e: &Expect, f: &Facts) -> Vec<Check> {
    let mut checks = Vec::new();
    if !e.heard.is_empty() {
        let missing = in_order(&e.heard, &f.heard, contains);
        let detail = || format!("{:?} was not heard (in order); heard {}", missing.unwrap_or_default(), list(&f.heard));
        checks.push(check(format!("heard {:?}", e.heard), missing.is_none(), detail));
    }
    for text in &e.not_heard {
        let ok = !f.heard.iter().any(|h| contains(h, text));
        checks.push(check(format!("not heard {text:?}"), ok, || format!("heard {}", list(&f.heard))));
    }
    if !e.connected.is_empty() {
        let missing = in_order(&e.connected, &f.connected, same_endpoint);
        let detail = || {
            format!("{:?} was not connected (in order); connected {}", missing.unwrap_or_default(), list(&f.connected))
        };
        checks.push(check(format!("connected {:?}", e.connected), missing.is_none(), detail));
    }
    if let Some(want) = e.recorded {
        checks.push(check(format!("recorded = {want}"), (f.recordings > 0) == want, || {
            format!("{} recordings", f.recordings)
        }));
    }
    if let Some(n) = e.recordings {
        checks.push(check(format!("{n} recordings"), f.recordings == n, || format!("{} recordings", f.recordings)));
    }
    let lasted = || match f.duration {
        Some(d) => format!("the call lasted {d:.1} s"),
        None => "the call never started".to_owned(),
    };
    if let Some(max) = e.ended_within {
        checks.push(check(format!("ended within {max} s"), f.duration.is_some_and(|d| d <= max), lasted));
    }
    if let Some(min) = e.lasted_at_least {
        checks.push(check(format!("lasted at least {min} s"), f.duration.is_some_and(|d| d >= min), lasted));
    }
    if let Some(by) = &e.disconnected_by {
        let ok = f.disconnected_by == Some(by.as_str());
        checks.push(check(format!("disconnected by {by}"), ok, || {
            format!("disconnected by {}", f.disconnected_by.unwrap_or("nobody"))
        }));
    }
    if let Some(to) = &e.transferred_to {
        let ok = f.transferred_to.as_deref() == Some(to.as_str());
        checks.push(check(format!("transferred to {to}"), ok, || {
            format!("transferred to {}", f.transferred_to.as_deref().unwrap_or("nothing"))
        }));
    }
    if !e.conversations.is_empty() {
        let missing = in_order(&e.conversations, &f.conversations, |s, w| s == w);
        let detail = || format!("joined {}", list(&f.conversations));
        checks.push(check(format!("joined conversations {:?}", e.conversations), missing.is_none(), detail));
    }
    if let Some(want) = e.webhooks_ok {
        let ok = (f.failed_webhooks == 0) == want;
        checks.push(check(format!("webhooks_ok = {want}"), ok, || format!("{} webhooks failed", f.failed_webhooks)));
    }
    if let Some(n) = e.nccos {
        checks.push(check(format!("{n} NCCOs received"), f.nccos == n, || format!("{} NCCOs received", f.nccos)));
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heard_is_checked_in_order_and_case_blind() {
        let facts = Facts {
            heard: vec!["Hello there.".into(), "Press 1.".into(), "You pressed 1.".into()],
            ..Facts::default()
        };
        let e = Expect { heard: vec!["hello".into(), "pressed 1".into()], ..Expect::default() };
        assert!(evaluate(&e, &facts)[0].ok);
        let e = Expect { heard: vec!["You pressed".into(), "Hello".into()], ..Expect::default() };
        let c = &evaluate(&e, &facts)[0];
        assert!(!c.ok && c.detail.contains("\"Hello\" was not heard"), "{c:?}");
    }
}
