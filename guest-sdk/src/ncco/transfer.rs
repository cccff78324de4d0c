//! The `transfer` action: move every leg of this conversation into another, existing one.

use serde::Serialize;
use serde_json::{Map, Value};

use super::conversation::check_mute_can_speak;
use crate::reader::{Cx, Obj};

/// `transfer`: move all legs into the existing conversation `conversationId`. Ends the current NCCO.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Transfer {
    /// The target conversation (`CON-…`); must not be empty.
    pub conversation_id: String,
    /// Leg UUIDs the transferred legs hear; absent means everyone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_hear: Option<Vec<String>>,
    /// Leg UUIDs that hear the transferred legs; absent means everyone. Not with `mute`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_speak: Option<Vec<String>>,
    /// Mute the transferred legs. Not with `canSpeak`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mute: Option<bool>,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Transfer {
    /// A transfer into `conversation_id`.
    pub fn to(conversation_id: impl Into<String>) -> Self {
        Transfer { conversation_id: conversation_id.into(), ..Transfer::default() }
    }
}

pub(crate) fn read(cx: &mut Cx, mut obj: Obj<'_>) -> Option<Transfer> {
    let conversation_id = obj.required(cx, "conversationId", |cx, f| f.non_empty_string(cx));
    let can_hear = obj.strings(cx, "canHear");
    let can_speak = obj.strings(cx, "canSpeak");
    let mute = obj.bool(cx, "mute");
    check_mute_can_speak(cx, &obj, mute, can_speak.is_some());
    let extra = obj.finish(cx);
    Some(Transfer { conversation_id: conversation_id?, can_hear, can_speak, mute, extra })
}
