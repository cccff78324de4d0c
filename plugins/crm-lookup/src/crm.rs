//! The CRM lookup: `GET {crm_url}/callers/{number}`, and what its answer means for the greeting.

use std::time::Duration;

use ncco_sdk::guest::http::Request;
use ncco_sdk::guest::vars;
use serde::Deserialize;

/// `crm_timeout_ms` when not set.
pub const DEFAULT_TIMEOUT_MS: u64 = 1000;

/// A caller's CRM record (other fields are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Record {
    /// How to greet them.
    pub name: String,
    /// `gold`, or any other tier.
    #[serde(default)]
    pub tier: Option<String>,
}

/// What the CRM said about a caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A record with a name.
    Found(Record),
    /// No usable record, and why (said in the call's log).
    Unknown(String),
}

/// Looks `caller` up in the CRM at `crm_url`.
pub fn lookup(caller: &str) -> Lookup {
    let Some(base) = vars::optional_text("crm_url", None) else {
        return Lookup::Unknown("no crm_url is set".into());
    };
    if caller.is_empty() {
        return Lookup::Unknown("the call has no caller number".into());
    }
    let url = format!("{}/callers/{}", base.trim_end_matches('/'), encode(caller));
    let timeout = vars::number("crm_timeout_ms", DEFAULT_TIMEOUT_MS, 50..=10_000);
    let mut request = Request::get(url).header("accept", "application/json").timeout(Duration::from_millis(timeout));
    if let Some(token) = vars::optional_text("crm_token", None) {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    match request.send() {
        Ok(r) if r.status == 200 => match r.json::<Record>() {
            Ok(record) if !record.name.trim().is_empty() => Lookup::Found(record),
            Ok(_) => Lookup::Unknown("the CRM record has an empty name".into()),
            Err(e) => Lookup::Unknown(format!("the CRM's answer is not a caller record ({e})")),
        },
        Ok(r) if r.status == 404 => Lookup::Unknown("the CRM does not know this caller".into()),
        Ok(r) => Lookup::Unknown(format!("the CRM answered {}", r.status)),
        Err(e) => Lookup::Unknown(format!("the CRM is unavailable ({e})")),
    }
}

/// Everything but RFC 3986's unreserved characters is percent-encoded in a path segment.
const SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `number` as one path segment.
fn encode(number: &str) -> String {
    percent_encoding::utf8_percent_encode(number, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn numbers_are_one_path_segment() {
        assert_eq!(encode("447700900000"), "447700900000");
        assert_eq!(encode("+44 7700/../x"), "%2B44%207700%2F..%2Fx");
    }
}
