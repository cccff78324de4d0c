//! Reading a webhook: its body under the size cap and read timeout, its ids, and the typed request
//! or event with the JSON text the plugin gets.

use std::borrow::Cow;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, header};
use ncco_sdk::webhook::{AnswerRequest, Event, ResponseNcco, RtcEvent};

use super::AppError;
use crate::runtime::Webhook;

/// The webhook, parsed.
pub(super) enum Parsed {
    Answer(AnswerRequest),
    Event(Event),
    Rtc(RtcEvent),
}

impl Parsed {
    pub(super) fn response_ncco(&self) -> ResponseNcco {
        match self {
            Parsed::Answer(_) => ResponseNcco::Required,
            Parsed::Event(e) => e.response_ncco(),
            Parsed::Rtc(_) => ResponseNcco::Ignored,
        }
    }

    /// The answer request's `region_url`: where call control on its call goes.
    pub(super) fn region_url(&self) -> Option<String> {
        match self {
            Parsed::Answer(a) => a.region_url.clone(),
            _ => None,
        }
    }

    /// Call legs a Conversation API event names (`body.channel.id` and `leg_ids` of a member
    /// event), which call control may then reach; ids not shaped like Vonage's are left out.
    pub(super) fn legs(&self) -> Vec<String> {
        let Parsed::Rtc(r) = self else { return Vec::new() };
        let Some(channel) = r.body.as_ref().and_then(|b| b.get("channel")) else { return Vec::new() };
        let listed = channel.get("leg_ids").and_then(serde_json::Value::as_array).into_iter().flatten();
        let mut legs: Vec<String> = std::iter::once(channel.get("id"))
            .flatten()
            .chain(listed)
            .filter_map(serde_json::Value::as_str)
            .filter(|id| valid_id(id))
            .map(str::to_owned)
            .take(MAX_RTC_LEGS)
            .collect();
        legs.sort();
        legs.dedup();
        legs
    }

    pub(super) fn ids(&self) -> (Option<String>, Option<String>) {
        match self {
            Parsed::Answer(a) => (a.uuid.clone(), a.conversation_uuid.clone()),
            Parsed::Event(e) => (e.call_uuid().map(str::to_owned), e.conversation_uuid().map(str::to_owned)),
            Parsed::Rtc(r) => (None, r.conversation_id.clone()),
        }
    }
}

/// Reads the body under the size cap and the body-read timeout. A body over the cap is 413; one that
/// stops arriving (a client gone mid-body, or one sending too slowly) is 408, never 413.
pub(super) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, AppError> {
    use http_body_util::BodyExt;
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(AppError::TooLarge(limit));
    }
    let read = async {
        let mut body = body;
        let mut out = bytes::BytesMut::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| AppError::BodyIncomplete)?;
            if let Some(data) = frame.data_ref() {
                if out.len() + data.len() > limit {
                    return Err(AppError::TooLarge(limit));
                }
                out.extend_from_slice(data);
            }
        }
        Ok(out.freeze())
    };
    tokio::time::timeout(timeout, read).await.map_err(|_| AppError::BodyIncomplete)?
}

/// Longest id (call, conversation or leg UUID) accepted from a webhook: Vonage's are 36 to 40 bytes.
pub const MAX_ID_BYTES: usize = 64;

/// True for ids shaped like Vonage's (`CON-<uuid>`, `<uuid>`, 32 hex digits, ...): 1 to 64 bytes of
/// letters, digits, `-` and `_`. Only such ids key state and pins.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_BYTES
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub(super) fn check_id(what: &str, id: Option<&str>) -> Result<(), AppError> {
    match id {
        Some(id) if !valid_id(id) => Err(AppError::BadRequest(format!(
            "`{what}` is not a Vonage id (1 to {MAX_ID_BYTES} letters, digits, `-` or `_`; got {} bytes)",
            id.len()
        ))),
        _ => Ok(()),
    }
}

/// Parses the webhook and returns it with the JSON text the plugin gets: the body as Vonage sent it,
/// or the query's fields as JSON.
pub(super) fn parse<'b>(
    webhook: Webhook,
    method: &Method,
    query: &str,
    body: &'b [u8],
) -> Result<(Parsed, Cow<'b, str>), AppError> {
    let from_body = method == Method::POST || !body.is_empty();
    let bad = |e: ncco_sdk::webhook::WebhookError| AppError::BadRequest(format!("malformed webhook: {e}"));
    let raw = || {
        std::str::from_utf8(body).map(Cow::Borrowed).map_err(|_| AppError::BadRequest("the body is not UTF-8".into()))
    };
    Ok(match webhook {
        Webhook::Answer | Webhook::Fallback => {
            let request = if from_body { AnswerRequest::from_json(body) } else { AnswerRequest::from_query(query) };
            let request = request.map_err(bad)?;
            let json = if from_body { raw()? } else { Cow::Owned(serde_json::to_string(&request).unwrap_or_default()) };
            (Parsed::Answer(request), json)
        }
        Webhook::Event => {
            let event = if from_body { Event::from_json(body) } else { Event::from_query(query) };
            let event = event.map_err(bad)?;
            let json = if from_body { raw()? } else { Cow::Owned(serde_json::to_string(&event).unwrap_or_default()) };
            (Parsed::Event(event), json)
        }
        Webhook::Rtc => (Parsed::Rtc(RtcEvent::from_json(body).map_err(bad)?), raw()?),
    })
}

/// Legs of one Conversation API event remembered for call control, at most.
const MAX_RTC_LEGS: usize = 8;
