//! Records grouped into calls, for the inspector's list, and the list's filter.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::Record;

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

/// The calls `records` make up, in the order of their first record.
pub fn summarize(records: &[Arc<Record>]) -> Vec<CallSummary> {
    let mut calls: HashMap<String, CallSummary> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for r in records {
        // By tenant too: a conversation id from one tenant never shows another tenant's record.
        let group = format!("{}/{}", r.tenant, r.key);
        let call = calls.entry(group.clone()).or_insert_with(|| {
            order.push(group.clone());
            CallSummary {
                conversation_uuid: r.key.clone(),
                tenant: r.tenant.clone(),
                app: r.app.clone(),
                started: r.received_at.clone(),
                last: r.received_at.clone(),
                webhooks: 0,
                outcome: "ok".into(),
                failures: 0,
                from: None,
                to: None,
                uuids: Vec::new(),
                heard: Vec::new(),
            }
        });
        call.webhooks += 1;
        call.last.clone_from(&r.received_at);
        if r.outcome != "ok" {
            if call.failures == 0 {
                call.outcome.clone_from(&r.outcome);
            }
            call.failures += 1;
        }
        if call.from.is_none() {
            call.from.clone_from(&r.from);
        }
        if call.to.is_none() {
            call.to.clone_from(&r.to);
        }
        if let Some(u) = &r.uuid
            && !call.uuids.contains(u)
        {
            call.uuids.push(u.clone());
        }
        if call.heard.is_empty() {
            call.heard.clone_from(&r.heard);
        }
    }
    order.into_iter().filter_map(|k| calls.remove(&k)).collect()
}
