//! Call control on the Voice REST API: hang up, mute, earmuff, transfer, talk and stream into a
//! call, DTMF, and new outbound calls. The host signs each request with the tenant's Vonage
//! application key (`[vonage]` in `tenant.toml`); the plugin never sees the key or the token.
//!
//! Only calls this app has seen in its own webhooks (each webhook's `uuid`, the legs of Conversation
//! API member events, and calls it created)
//! can be controlled; another call is [`CallError::NotYourCall`] and never reaches the API. The
//! host keeps the Voice API's rates per application (3 creations and 15 other requests a second;
//! past them, [`CallError::RateLimited`]).
//!
//! Every request counts against the webhook's deadline (the app's `timeout_ms`, 500 ms by
//! default): a transfer or a hangup usually belongs in an event handler (a caller joining, an
//! input result), and the answer webhook is better answered with the NCCO itself.
//!
//! ```no_run
//! use ncco_sdk::guest::calls;
//! use ncco_sdk::ncco::{Conversation, Ncco, Talk};
//! # fn main() -> Result<(), calls::CallError> {
//! # let waiting_caller = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
//! // An agent joined: take the waiting caller out of the hold music into the agent's conversation.
//! calls::transfer(waiting_caller, &Ncco::new().talk("Connecting you now.").then(Conversation::new("agent-7")))?;
//! // Tell another leg something without changing its NCCO.
//! calls::talk(waiting_caller, &Talk::new("You are next.").language("en-GB"))?;
//! # Ok(())
//! # }
//! ```

use std::fmt;

use super::bindings::vonage::ncco::calls as wit;
use crate::ncco::{Endpoint, Ncco, Stream, Talk};

/// Why a call-control request did not happen.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The tenant has no `[vonage]` application in its `tenant.toml`.
    NotConfigured,
    /// The call is not one this app's webhooks named; nothing was sent.
    NotYourCall(String),
    /// Over the Voice API's rate for this application; nothing was sent.
    RateLimited(String),
    /// The request is invalid (an NCCO the model refuses, with its pointer); nothing was sent.
    Invalid(String),
    /// The Voice API refused the application's credentials (401 or 403).
    Unauthorized(String),
    /// The Voice API does not know the call (404): it may have ended.
    NotFound(String),
    /// The Voice API answered another error.
    Api {
        /// The HTTP status.
        status: u16,
        /// What it said.
        detail: String,
    },
    /// No answer before the webhook's deadline.
    Timeout,
    /// The Voice API could not be reached.
    Unavailable(String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::NotConfigured => f.write_str("call control is not configured (no [vonage] in tenant.toml)"),
            CallError::NotYourCall(m) => write!(f, "not this app's call: {m}"),
            CallError::RateLimited(m) => write!(f, "rate limited: {m}"),
            CallError::Invalid(m) => write!(f, "invalid: {m}"),
            CallError::Unauthorized(m) => write!(f, "unauthorized: {m}"),
            CallError::NotFound(m) => write!(f, "not found: {m}"),
            CallError::Api { status, detail } => write!(f, "the Voice API answered {status}: {detail}"),
            CallError::Timeout => f.write_str("the Voice API did not answer in time"),
            CallError::Unavailable(m) => write!(f, "the Voice API is unavailable: {m}"),
        }
    }
}

impl std::error::Error for CallError {}

impl From<wit::CallError> for CallError {
    fn from(e: wit::CallError) -> Self {
        match e {
            wit::CallError::NotConfigured => CallError::NotConfigured,
            wit::CallError::NotYourCall(m) => CallError::NotYourCall(m),
            wit::CallError::RateLimited(m) => CallError::RateLimited(m),
            wit::CallError::Invalid(m) => CallError::Invalid(m),
            wit::CallError::Unauthorized(m) => CallError::Unauthorized(m),
            wit::CallError::NotFound(m) => CallError::NotFound(m),
            wit::CallError::Api(a) => CallError::Api { status: a.status, detail: a.detail },
            wit::CallError::Timeout => CallError::Timeout,
            wit::CallError::Unavailable(m) => CallError::Unavailable(m),
        }
    }
}

/// The result of a call-control request.
pub type Result<T> = std::result::Result<T, CallError>;

/// Hangs the call up.
pub fn hangup(uuid: &str) -> Result<()> {
    Ok(wit::hangup(uuid)?)
}

/// Mutes the call towards the conversation.
pub fn mute(uuid: &str) -> Result<()> {
    Ok(wit::mute(uuid)?)
}

/// Undoes [`mute`].
pub fn unmute(uuid: &str) -> Result<()> {
    Ok(wit::unmute(uuid)?)
}

/// Stops the call hearing the conversation.
pub fn earmuff(uuid: &str) -> Result<()> {
    Ok(wit::earmuff(uuid)?)
}

/// Undoes [`earmuff`].
pub fn unearmuff(uuid: &str) -> Result<()> {
    Ok(wit::unearmuff(uuid)?)
}

/// Replaces the call's NCCO with `ncco` (checked by the host's model exactly as an answer).
pub fn transfer(uuid: &str, ncco: &Ncco) -> Result<()> {
    transfer_json(uuid, &ncco.to_json())
}

/// [`transfer`] with the NCCO as JSON text.
pub fn transfer_json(uuid: &str, ncco: &str) -> Result<()> {
    Ok(wit::transfer(uuid, ncco)?)
}

/// Replaces the call's NCCO with what this app answers: Vonage fetches `{app-url}{path}` as an
/// answer URL, so `path` is `"/answer"`, with an optional query the plugin's `answer` reads from
/// the request's extra keys (`"/answer?step=agent"`).
pub fn transfer_to_app(uuid: &str, path: &str) -> Result<()> {
    Ok(wit::transfer_to_app(uuid, path)?)
}

/// Speaks into the call, over its NCCO (which goes on): the NCCO action's `text`, `language`,
/// `style`, `premium`, `loop` (0 until [`stop_talk`]) and `level` (`bargeIn` has no meaning here).
/// The host checks it with the model's rules for a `talk`.
pub fn talk(uuid: &str, talk: &Talk) -> Result<()> {
    let options = wit::TalkOptions {
        text: talk.text.clone(),
        language: talk.language.clone(),
        style: talk.style,
        premium: talk.premium,
        loop_count: talk.r#loop,
        level: talk.level,
    };
    Ok(wit::start_talk(uuid, &options)?)
}

/// Stops a [`talk`].
pub fn stop_talk(uuid: &str) -> Result<()> {
    Ok(wit::stop_talk(uuid)?)
}

/// Plays audio into the call, over its NCCO: the NCCO action's `streamUrl`, `loop` (0 until
/// [`stop_stream`]) and `level`, checked with the model's rules for a `stream`.
pub fn stream(uuid: &str, stream: &Stream) -> Result<()> {
    let options =
        wit::StreamOptions { stream_url: stream.stream_url.clone(), loop_count: stream.r#loop, level: stream.level };
    Ok(wit::start_stream(uuid, &options)?)
}

/// Stops a [`stream`].
pub fn stop_stream(uuid: &str) -> Result<()> {
    Ok(wit::stop_stream(uuid)?)
}

/// Plays DTMF tones into the call (0-9, `*`, `#`, `p` for a pause).
pub fn send_dtmf(uuid: &str, digits: &str) -> Result<()> {
    Ok(wit::send_dtmf(uuid, digits)?)
}

/// Sends each key the caller presses to this app's event callback `callback` as it is pressed
/// (with an `input` in `asynchronous` mode).
pub fn subscribe_dtmf(uuid: &str, callback: &str) -> Result<()> {
    Ok(wit::subscribe_dtmf(uuid, callback)?)
}

/// Undoes [`subscribe_dtmf`].
pub fn unsubscribe_dtmf(uuid: &str) -> Result<()> {
    Ok(wit::unsubscribe_dtmf(uuid)?)
}

/// An outbound call to create (see [`create`]).
#[derive(Debug, Clone)]
pub struct NewCall {
    to: Endpoint,
    ncco: Ncco,
    from_number: Option<String>,
    event_callback: Option<String>,
    ringing_timer: Option<u32>,
    length_timer: Option<u32>,
}

impl NewCall {
    /// Calls `to` and runs `ncco` when it answers; from a random number of the application.
    pub fn new(to: Endpoint, ncco: Ncco) -> Self {
        NewCall { to, ncco, from_number: None, event_callback: None, ringing_timer: None, length_timer: None }
    }
    /// The caller id: a number of the application (E.164 without `+`).
    pub fn from_number(mut self, number: impl Into<String>) -> Self {
        self.from_number = Some(number.into());
        self
    }
    /// The event callback of this app the call's events go to (else the app's event URL).
    pub fn event_callback(mut self, name: impl Into<String>) -> Self {
        self.event_callback = Some(name.into());
        self
    }
    /// Seconds to ring before giving up (1 to 120).
    pub fn ringing_timer(mut self, seconds: u32) -> Self {
        self.ringing_timer = Some(seconds);
        self
    }
    /// Longest call, seconds (1 to 7200).
    pub fn length_timer(mut self, seconds: u32) -> Self {
        self.length_timer = Some(seconds);
        self
    }
}

/// A call [`create`] started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The new call's uuid: this app may control it.
    pub uuid: String,
    /// Its conversation.
    pub conversation_uuid: String,
    /// Its status (`started`).
    pub status: String,
}

/// Creates an outbound call; its events come to this app, which may control it.
pub fn create(call: NewCall) -> Result<Created> {
    let to = serde_json::to_string(&call.to).map_err(|e| CallError::Invalid(e.to_string()))?;
    let request = wit::NewCall {
        to,
        from_number: call.from_number,
        ncco: call.ncco.to_json(),
        event_callback: call.event_callback,
        ringing_timer: call.ringing_timer,
        length_timer: call.length_timer,
    };
    let c = wit::create(&request)?;
    Ok(Created { uuid: c.uuid, conversation_uuid: c.conversation_uuid, status: c.status })
}

/// The call as the Voice API describes it (`GET /v1/calls/{uuid}`), parsed JSON.
pub fn get(uuid: &str) -> Result<serde_json::Value> {
    let text = wit::get(uuid)?;
    serde_json::from_str(&text).map_err(|e| CallError::Api { status: 200, detail: format!("not JSON: {e}") })
}
