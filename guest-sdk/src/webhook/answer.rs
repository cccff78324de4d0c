//! The answer webhook request (§2 of the reference), and the fallback answer request that adds
//! `reason` and `original_request` to it (§4).

use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::lenient::{Fields, json_container, object_from_json, object_from_query, object_from_value};
use super::{ResponseNcco, WebhookError};

/// The prefix Vonage puts before each forwarded SIP header name (`SipHeader_X-UserId`).
pub const SIP_HEADER_PREFIX: &str = "SipHeader_";

wire_enum! {
    /// The type of the caller's endpoint (`endpoint_type`).
    pub enum EndpointType {
        /// A phone number (PSTN).
        Phone => "phone",
        /// A SIP URI.
        Sip => "sip",
        /// A WebSocket.
        Websocket => "websocket",
        /// A Client SDK app user.
        App => "app",
        /// A Vonage Business Communications extension.
        Vbc => "vbc",
    }
}

wire_enum! {
    /// Which request failed before a fallback request (`original_request.type`).
    pub enum OriginalRequestType {
        /// The answer webhook.
        Answer => "answer",
        /// An event webhook (an instruction event such as `input` or `notify`).
        Event => "event",
    }
}

/// `original_request` of a fallback request: the request that failed.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct OriginalRequest {
    /// The URL that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `type`: `answer` or `event`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<OriginalRequestType>,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl OriginalRequest {
    fn read(mut f: Fields) -> Result<Self, WebhookError> {
        Ok(OriginalRequest { url: f.string("url")?, kind: f.wire("type")?, extra: f.finish() })
    }
}

/// The answer webhook request: GET query parameters by default, or a POST JSON body.
///
/// Every field is optional and unknown keys are kept in `extra`. Each `SipHeader_<Name>` key lands in
/// [`sip_headers`](Self::sip_headers) under `<Name>`. A request to the `fallback_answer_url` carries the
/// same fields plus `reason` and `original_request` ([`is_fallback`](Self::is_fallback)). Serializing
/// gives back Vonage's keys (the prefix restored, extras flattened).
///
/// ```
/// use ncco_sdk::webhook::{AnswerRequest, EndpointType};
/// let req = AnswerRequest::from_query("from=447700900000&to=442079460000&endpoint_type=phone&SipHeader_X-Id=7")?;
/// assert_eq!(req.caller(), Some("447700900000"));
/// assert_eq!(req.endpoint_type, Some(EndpointType::Phone));
/// assert_eq!(req.sip_headers["X-Id"], "7");
/// assert!(!req.is_fallback());
/// # Ok::<(), ncco_sdk::webhook::WebhookError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AnswerRequest {
    /// The called endpoint: the Vonage number for inbound calls, the callee for outbound.
    pub to: Option<String>,
    /// The caller; absent when the caller is a Client SDK user (see `from_user`).
    pub from: Option<String>,
    /// The Client SDK user who started the call.
    pub from_user: Option<String>,
    /// The call (leg) id.
    pub uuid: Option<String>,
    /// The conversation id (`CON-…`).
    pub conversation_uuid: Option<String>,
    /// The type of the caller's endpoint.
    pub endpoint_type: Option<EndpointType>,
    /// The regional API host for REST calls on this call.
    pub region_url: Option<String>,
    /// Client SDK context. Normally a JSON object; a JSON string holding an object (the likely GET
    /// encoding) is read as that object; any other value is kept as it is.
    pub custom_data: Option<Value>,
    /// Forwarded SIP headers: `SipHeader_<Name>` keys, by `<Name>` (case kept).
    pub sip_headers: BTreeMap<String, String>,
    /// Fallback requests only: why the answer URL failed (e.g. `"Connection closed."`).
    pub reason: Option<String>,
    /// Fallback requests only: the request that failed.
    pub original_request: Option<OriginalRequest>,
    /// Keys the model does not know, kept as they were.
    pub extra: Map<String, Value>,
}

impl AnswerRequest {
    /// Reads a GET query string (with or without the leading `?`), percent-decoding it. Values are
    /// strings, except that a `custom_data` or `original_request` holding JSON object text is parsed.
    pub fn from_query(raw_query: &str) -> Result<Self, WebhookError> {
        let map = object_from_query(raw_query, |key| key == "custom_data" || key == "original_request");
        Self::from_map(map)
    }

    /// Reads a POST body: a JSON object.
    pub fn from_json(body: &[u8]) -> Result<Self, WebhookError> {
        Self::from_map(object_from_json(body)?)
    }

    /// Reads a JSON value, which must be an object.
    pub fn from_value(value: Value) -> Result<Self, WebhookError> {
        Self::from_map(object_from_value(value)?)
    }

    /// Reads the fields of a JSON object.
    pub fn from_map(map: Map<String, Value>) -> Result<Self, WebhookError> {
        let mut f = Fields::new(map);
        let mut req = AnswerRequest {
            to: f.string("to")?,
            from: f.string("from")?,
            from_user: f.string("from_user")?,
            uuid: f.string("uuid")?,
            conversation_uuid: f.string("conversation_uuid")?,
            endpoint_type: f.wire("endpoint_type")?,
            region_url: f.string("region_url")?,
            custom_data: f.take("custom_data").map(|v| match v {
                Value::String(s) => json_container(&s).filter(Value::is_object).unwrap_or(Value::String(s)),
                other => other,
            }),
            sip_headers: BTreeMap::new(),
            reason: f.string("reason")?,
            original_request: f.nested("original_request", OriginalRequest::read)?,
            extra: Map::new(),
        };
        let header_keys: Vec<String> = f.keys().filter(|k| k.starts_with(SIP_HEADER_PREFIX)).cloned().collect();
        for key in header_keys {
            if let Some(value) = f.string(&key)? {
                req.sip_headers.insert(key[SIP_HEADER_PREFIX.len()..].to_owned(), value);
            }
        }
        req.extra = f.finish();
        Ok(req)
    }

    /// The caller: `from`, or else the Client SDK user `from_user` (as the Java SDK does).
    pub fn caller(&self) -> Option<&str> {
        self.from.as_deref().or(self.from_user.as_deref())
    }

    /// `custom_data` when it is a JSON object.
    pub fn custom_data_object(&self) -> Option<&Map<String, Value>> {
        self.custom_data.as_ref().and_then(Value::as_object)
    }

    /// One forwarded SIP header, by name without the prefix (`"X-UserId"`, `"User-to-User"`).
    pub fn sip_header(&self, name: &str) -> Option<&str> {
        self.sip_headers.get(name).map(String::as_str)
    }

    /// True for a request to the `fallback_answer_url`: it carries `reason` or `original_request`.
    pub fn is_fallback(&self) -> bool {
        self.reason.is_some() || self.original_request.is_some()
    }

    /// Always [`ResponseNcco::Required`]: the answer (or fallback) response must be an NCCO.
    pub fn response_ncco(&self) -> ResponseNcco {
        ResponseNcco::Required
    }
}

impl Serialize for AnswerRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        let strings = [
            ("to", &self.to),
            ("from", &self.from),
            ("from_user", &self.from_user),
            ("uuid", &self.uuid),
            ("conversation_uuid", &self.conversation_uuid),
        ];
        for (key, value) in strings {
            if let Some(v) = value {
                map.serialize_entry(key, v)?;
            }
        }
        if let Some(v) = &self.endpoint_type {
            map.serialize_entry("endpoint_type", v)?;
        }
        if let Some(v) = &self.region_url {
            map.serialize_entry("region_url", v)?;
        }
        if let Some(v) = &self.custom_data {
            map.serialize_entry("custom_data", v)?;
        }
        for (name, value) in &self.sip_headers {
            map.serialize_entry(&format!("{SIP_HEADER_PREFIX}{name}"), value)?;
        }
        if let Some(v) = &self.reason {
            map.serialize_entry("reason", v)?;
        }
        if let Some(v) = &self.original_request {
            map.serialize_entry("original_request", v)?;
        }
        for (key, value) in &self.extra {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}
