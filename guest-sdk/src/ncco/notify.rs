//! The `notify` action: post a payload to a webhook, whose answer may replace the NCCO.

use serde::Serialize;
use serde_json::{Map, Value};

use super::callback::{EventMethod, read_event_method, read_event_url};
use crate::reader::{Cx, Obj};

/// `notify`: send `payload` to `eventUrl`. An NCCO in the response replaces the rest of the call's NCCO.
///
/// ```
/// use ncco_sdk::ncco::Notify;
/// let n = Notify::new("https://example.com/notify").field("step", "greeted");
/// assert_eq!(n.payload["step"], "greeted");
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notify {
    /// Any JSON object; echoed in the callback body.
    pub payload: Map<String, Value>,
    /// The callback URL, as a one-element array.
    pub event_url: Vec<String>,
    /// Default POST.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_method: Option<EventMethod>,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Notify {
    /// A notify to `event_url` with an empty payload.
    pub fn new(event_url: impl Into<String>) -> Self {
        Notify { event_url: vec![event_url.into()], ..Notify::default() }
    }

    /// Adds one key to the payload.
    pub fn field(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.payload.insert(key.into(), value.into());
        self
    }

    /// Replaces the payload.
    pub fn payload(mut self, payload: Map<String, Value>) -> Self {
        self.payload = payload;
        self
    }

    /// Sets `eventMethod`.
    pub fn event_method(mut self, method: EventMethod) -> Self {
        self.event_method = Some(method);
        self
    }
}

pub(crate) fn read(cx: &mut Cx, mut obj: Obj<'_>) -> Option<Notify> {
    let payload = obj.required(cx, "payload", |cx, f| f.map(cx));
    let event_url = read_event_url(cx, &mut obj, "eventUrl");
    if event_url.is_none() && !obj.has("eventUrl") {
        obj.missing(cx, "eventUrl");
    }
    let event_method = read_event_method(cx, &mut obj, "eventMethod");
    let extra = obj.finish(cx);
    Some(Notify { payload: payload?, event_url: event_url?, event_method, extra })
}
