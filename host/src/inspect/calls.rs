//! Records grouped into calls, for the inspector's list, and the list's filter.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Serialize;

/// One call in the list.
#[derive(Debug, Clone, Serialize)]
pub struct CallSummary {
    /// The call's key (its conversation).
    pub conversation_uuid: String,
    /// Tenant.
    pub tenant: String,
    /// App.
    pub app: String,
    /// Its first webhook's arrival.
    pub started: String,
    /// Its last webhook's arrival.
    pub last: String,
    /// Webhooks recorded.
    pub webhooks: usize,
    /// `ok`, or the kind of its first failure.
    pub outcome: String,
    /// Failed webhooks.
    pub failures: usize,
    /// Caller and called number, from the answer.
    pub from: Option<String>,
    /// The number called.
    pub to: Option<String>,
    /// The call legs seen.
    pub uuids: Vec<String>,
    /// What the caller heard first.
    pub heard: Vec<String>,
}

/// Which calls to list.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Filter {
    /// Only this tenant's.
    pub tenant: Option<String>,
    /// Only this app's.
    pub app: Option<String>,
    /// A number the call was from or to (digits compared).
    pub number: Option<String>,
    /// A call leg or conversation id.
    pub uuid: Option<String>,
    /// `ok`, `failed`, or a failure kind.
    pub outcome: Option<String>,
    /// At most this many (default 100, at most 500).
    pub limit: Option<usize>,
}

impl Filter {
    /// True when `call` passes every filter given.
    pub fn keeps(&self, call: &CallSummary) -> bool {
        let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
        self.tenant.as_ref().is_none_or(|t| *t == call.tenant)
            && self.app.as_ref().is_none_or(|a| *a == call.app)
            && self.uuid.as_ref().is_none_or(|u| *u == call.conversation_uuid || call.uuids.contains(u))
            && self.number.as_ref().is_none_or(|n| {
                let n = digits(n);
                !n.is_empty() && [&call.from, &call.to].into_iter().flatten().any(|x| digits(x).contains(&n))
            })
            && self.outcome.as_ref().is_none_or(|o| match o.as_str() {
                "ok" => call.failures == 0,
                "failed" => call.failures > 0,
                kind => call.outcome == kind,
            })
    }
}

/// What the call list needs of a record.
pub trait Listed {
    /// Its tenant.
    fn tenant(&self) -> &str;
    /// Its app.
    fn app(&self) -> &str;
    /// The call it belongs to.
    fn key(&self) -> Cow<'_, str>;
    /// Its arrival, Unix milliseconds.
    fn received_ms(&self) -> i64;
    /// `ok`, or the failure kind.
    fn outcome(&self) -> &str;
    /// The call leg.
    fn uuid(&self) -> Option<&str>;
    /// The caller's and the called number, redacted as configured.
    fn numbers(&self) -> (Option<String>, Option<String>);
    /// The texts the caller hears from its NCCO.
    fn heard(&self) -> Vec<String>;
}

/// A call being summed up, with its first and last arrival.
struct Summing {
    call: CallSummary,
    started: i64,
    last: i64,
}

/// The calls `records` make up, in the order of their first record.
pub fn summarize<L: Listed>(records: impl IntoIterator<Item = L>) -> Vec<CallSummary> {
    let mut calls: HashMap<String, Summing> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for r in records {
        // By tenant too: a conversation id from one tenant never shows another tenant's record.
        let key = r.key();
        let group = format!("{}/{key}", r.tenant());
        let summing = calls.entry(group).or_insert_with_key(|group| {
            order.push(group.clone());
            Summing {
                call: CallSummary {
                    conversation_uuid: key.into_owned(),
                    tenant: r.tenant().to_owned(),
                    app: r.app().to_owned(),
                    started: String::new(),
                    last: String::new(),
                    webhooks: 0,
                    outcome: "ok".into(),
                    failures: 0,
                    from: None,
                    to: None,
                    uuids: Vec::new(),
                    heard: Vec::new(),
                },
                started: r.received_ms(),
                last: r.received_ms(),
            }
        });
        summing.last = r.received_ms();
        let call = &mut summing.call;
        call.webhooks += 1;
        if r.outcome() != "ok" {
            if call.failures == 0 {
                r.outcome().clone_into(&mut call.outcome);
            }
            call.failures += 1;
        }
        if call.from.is_none() || call.to.is_none() {
            let (from, to) = r.numbers();
            if call.from.is_none() {
                call.from = from;
            }
            if call.to.is_none() {
                call.to = to;
            }
        }
        if let Some(u) = r.uuid()
            && !call.uuids.iter().any(|seen| seen == u)
        {
            call.uuids.push(u.to_owned());
        }
        if call.heard.is_empty() {
            call.heard = r.heard();
        }
    }
    let iso = crate::simulate::clock::iso8601;
    order
        .into_iter()
        .filter_map(|k| calls.remove(&k))
        .map(|Summing { mut call, started, last }| {
            call.started = iso(started);
            call.last = iso(last);
            call
        })
        .collect()
}
