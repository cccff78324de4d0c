//! The typed context of one webhook: tenant, app, callback, call and conversation, signature claims.

use super::bindings::vonage::ncco::types as wit;

/// Which webhook the host is answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Webhook {
    /// answer_url.
    Answer,
    /// fallback_answer_url (the request has `reason` and `original_request`).
    Fallback,
    /// A call event.
    Event,
    /// A Conversation API event.
    Rtc,
}

/// Claims of a verified signed webhook.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Claims {
    /// The Vonage account.
    pub api_key: Option<String>,
    /// The Vonage application.
    pub application_id: Option<String>,
    /// The token id.
    pub jti: Option<String>,
    /// Issue time, Unix seconds.
    pub iat: Option<i64>,
}

/// What the host knows about this webhook beyond its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The tenant (the first path segment).
    pub tenant: String,
    /// The app (the second path segment).
    pub app: String,
    /// Content hash of the running plugin version.
    pub version: String,
    /// Which webhook this is.
    pub webhook: Webhook,
    /// The event callback name (`.../event/{callback}`), if any.
    pub callback: Option<String>,
    /// The call (leg) UUID, if the webhook has one.
    pub call_uuid: Option<String>,
    /// The conversation UUID, if the webhook has one.
    pub conversation_uuid: Option<String>,
    /// Absolute base URL of this app on the host.
    pub app_url: String,
    /// Verified signature claims, when the tenant signs its webhooks.
    pub claims: Option<Claims>,
}

impl Context {
    /// The absolute URL of the event callback `name` of this app, for an action's `eventUrl`.
    ///
    /// The host routes it to [`Plugin::event`](super::Plugin::event) with `callback` set to `name`.
    ///
    /// ```
    /// use ncco_sdk::guest::{Context, Webhook};
    /// let ctx = Context {
    ///     tenant: "acme".into(),
    ///     app: "ivr".into(),
    ///     version: String::new(),
    ///     webhook: Webhook::Answer,
    ///     callback: None,
    ///     call_uuid: None,
    ///     conversation_uuid: None,
    ///     app_url: "https://calls.example.com/acme/ivr".into(),
    ///     claims: None,
    /// };
    /// assert_eq!(ctx.callback_url("menu"), "https://calls.example.com/acme/ivr/event/menu");
    /// ```
    pub fn callback_url(&self, name: &str) -> String {
        format!("{}/event/{name}", self.app_url)
    }
}

impl From<wit::Context> for Context {
    fn from(c: wit::Context) -> Self {
        Context {
            tenant: c.tenant,
            app: c.app,
            version: c.version,
            webhook: match c.webhook {
                wit::Webhook::Answer => Webhook::Answer,
                wit::Webhook::Fallback => Webhook::Fallback,
                wit::Webhook::Event => Webhook::Event,
                wit::Webhook::Rtc => Webhook::Rtc,
            },
            callback: c.callback,
            call_uuid: c.call_uuid,
            conversation_uuid: c.conversation_uuid,
            app_url: c.app_url,
            claims: c.claims.map(|k| Claims {
                api_key: k.api_key,
                application_id: k.application_id,
                jti: k.jti,
                iat: k.iat,
            }),
        }
    }
}
