//! The NCCO: a JSON array of actions. Building, parsing (lenient or strict) and validating it.
//!
//! Parsing and validation are one pass over the JSON ([`Validator::check_value`]), so every problem
//! carries the exact JSON pointer of the value as written. Typed values built in Rust are validated by
//! serializing them and running the same pass ([`Ncco::validate`]).

mod callback;
mod connect;
mod conversation;
mod endpoint;
mod input;
mod notify;
mod record;
mod stream;
mod talk;
mod transfer;
mod wait;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

pub use callback::EventMethod;
pub use connect::{AdvancedMachineDetection, AmdMode, Connect, EventType, MachineBehavior};
pub use conversation::{Conversation, MAX_CONVERSATION_PARTICIPANTS};
pub use endpoint::{
    AppEndpoint, ContentType, Endpoint, MAX_CUSTOM_AUTHORIZATION_CHARS, MAX_WEBSOCKET_HEADERS_BYTES, OnAnswer,
    PhoneEndpoint, SipEndpoint, VbcEndpoint, WebsocketAuthorization, WebsocketEndpoint, normalize_phone_number,
};
pub use input::{Dtmf, Input, InputMode, InputType, Speech};
pub use notify::Notify;
pub use record::{Record, RecordFormat, Split, Transcription};
pub use stream::Stream;
pub use talk::{MAX_TALK_TEXT_CHARS, TTS_LANGUAGES, Talk, spoken_len};
pub use transfer::Transfer;
pub use wait::{DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS, MIN_WAIT_SECONDS, Wait};

use crate::problem::{Report, Rule, child, index};
use crate::reader::{Cx, Mode, Obj, type_name};

/// Default cap on the number of actions in one NCCO.
pub const DEFAULT_MAX_ACTIONS: usize = 1000;
/// Default cap on the size of one NCCO as JSON text.
pub const DEFAULT_MAX_NCCO_BYTES: usize = 512 * 1024;

/// The nine action names, in Vonage's table order.
pub const ACTION_NAMES: [&str; 9] =
    ["record", "conversation", "connect", "talk", "stream", "input", "notify", "wait", "transfer"];

/// One NCCO action, tagged by `action`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Action {
    /// Record the call.
    Record(Record),
    /// Join a conference.
    Conversation(Conversation),
    /// Ring an endpoint and bridge it.
    Connect(Connect),
    /// Say text.
    Talk(Talk),
    /// Play audio.
    Stream(Stream),
    /// Collect DTMF or speech.
    Input(Input),
    /// Post a payload to a webhook.
    Notify(Notify),
    /// Pause.
    Wait(Wait),
    /// Move the legs to another conversation.
    Transfer(Transfer),
}

impl Action {
    /// The `action` name.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Record(_) => "record",
            Action::Conversation(_) => "conversation",
            Action::Connect(_) => "connect",
            Action::Talk(_) => "talk",
            Action::Stream(_) => "stream",
            Action::Input(_) => "input",
            Action::Notify(_) => "notify",
            Action::Wait(_) => "wait",
            Action::Transfer(_) => "transfer",
        }
    }

    /// True when Vonage waits for this action to end before running the next (§1.2 of the reference).
    pub fn is_synchronous(&self) -> bool {
        match self {
            Action::Record(r) => r.is_synchronous(),
            Action::Talk(t) => t.barge_in != Some(true),
            Action::Stream(s) => s.barge_in != Some(true),
            Action::Input(i) => i.mode != Some(InputMode::Asynchronous),
            Action::Conversation(_)
            | Action::Connect(_)
            | Action::Notify(_)
            | Action::Wait(_)
            | Action::Transfer(_) => true,
        }
    }
}

macro_rules! action_from {
    ($($t:ident),*) => {$(
        impl From<$t> for Action {
            fn from(a: $t) -> Self {
                Action::$t(a)
            }
        }
    )*};
}
action_from!(Record, Conversation, Connect, Talk, Stream, Input, Notify, Wait, Transfer);

/// An NCCO: the actions Vonage runs in order. Serializes to exactly Vonage's JSON array.
///
/// ```
/// use ncco_sdk::ncco::{Dtmf, Input, Ncco, Talk};
/// let ncco = Ncco::new()
///     .talk("Welcome to Example Bank.")
///     .then(Talk::new("Press 1 for balances, 2 for cards.").barge_in(true))
///     .then(Input::dtmf(Dtmf::new().max_digits(1)).event_url("https://example.com/menu"));
/// assert!(ncco.validate().is_valid());
/// assert_eq!(
///     ncco.to_json(),
///     r#"[{"action":"talk","text":"Welcome to Example Bank."},{"action":"talk","text":"Press 1 for balances, 2 for cards.","bargeIn":true},{"action":"input","type":["dtmf"],"dtmf":{"maxDigits":1},"eventUrl":["https://example.com/menu"]}]"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(transparent)]
pub struct Ncco(pub Vec<Action>);

impl Ncco {
    /// An empty NCCO (not valid until an action is added).
    pub fn new() -> Self {
        Ncco(Vec::new())
    }

    /// Appends an action.
    pub fn then(mut self, action: impl Into<Action>) -> Self {
        self.0.push(action.into());
        self
    }

    /// Appends a plain `talk`.
    pub fn talk(self, text: impl Into<String>) -> Self {
        self.then(Talk::new(text))
    }

    /// The actions.
    pub fn actions(&self) -> &[Action] {
        &self.0
    }

    /// Vonage's JSON for this NCCO.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "[]".to_owned())
    }

    /// Vonage's JSON for this NCCO, as a value.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Array(Vec::new()))
    }

    /// Every problem of this NCCO (ranges, cross-action rules, size caps), with the default limits.
    pub fn validate(&self) -> Report {
        Validator::default().check_value(&self.to_value()).report
    }

    /// Parses JSON text leniently; every error is in the returned [`Report`].
    pub fn parse(text: &str) -> Result<Ncco, Report> {
        Validator::default().check_str(text).into_result()
    }

    /// Parses a JSON value leniently; every error is in the returned [`Report`].
    pub fn from_value(value: &Value) -> Result<Ncco, Report> {
        Validator::default().check_value(value).into_result()
    }
}

impl FromIterator<Action> for Ncco {
    fn from_iter<I: IntoIterator<Item = Action>>(iter: I) -> Self {
        Ncco(iter.into_iter().collect())
    }
}

impl<'de> Deserialize<'de> for Ncco {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Ncco::from_value(&value).map_err(serde::de::Error::custom)
    }
}

/// The outcome of checking one NCCO: the typed NCCO when it is valid, and every problem found.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The NCCO, present exactly when `report` has no errors.
    pub ncco: Option<Ncco>,
    /// Errors and warnings.
    pub report: Report,
}

impl Checked {
    /// The NCCO, or the report when it is invalid.
    pub fn into_result(self) -> Result<Ncco, Report> {
        match self.ncco {
            Some(ncco) if self.report.is_valid() => Ok(ncco),
            _ => Err(self.report),
        }
    }
}

/// Checks NCCOs: the parsing mode and the size caps.
#[derive(Debug, Clone, Copy)]
pub struct Validator {
    /// Lenient (default) or strict.
    pub mode: Mode,
    /// Most actions in one NCCO.
    pub max_actions: usize,
    /// Most bytes of NCCO JSON text.
    pub max_bytes: usize,
}

impl Default for Validator {
    fn default() -> Self {
        Validator { mode: Mode::Lenient, max_actions: DEFAULT_MAX_ACTIONS, max_bytes: DEFAULT_MAX_NCCO_BYTES }
    }
}

impl Validator {
    /// A strict validator with the default caps.
    pub fn strict() -> Self {
        Validator { mode: Mode::Strict, ..Validator::default() }
    }

    /// Checks JSON text: syntax, the byte cap, then everything [`Validator::check_value`] checks.
    pub fn check_str(&self, text: &str) -> Checked {
        let mut report = Report::default();
        if text.len() > self.max_bytes {
            report.error(
                "",
                Rule::Size,
                format!("the NCCO is {} bytes; at most {} are allowed", text.len(), self.max_bytes),
            );
            return Checked { ncco: None, report };
        }
        match serde_json::from_str::<Value>(text) {
            Ok(value) => self.check_value(&value),
            Err(e) => {
                report.error("", Rule::Syntax, format!("not valid JSON: {e}"));
                Checked { ncco: None, report }
            }
        }
    }

    /// Checks a JSON value as an NCCO and builds the typed NCCO when it is valid.
    pub fn check_value(&self, value: &Value) -> Checked {
        let mut cx = Cx::new(self.mode);
        let ncco = read_ncco(&mut cx, value, self.max_actions);
        let ncco = if cx.report.is_valid() { ncco } else { None };
        Checked { ncco, report: cx.report }
    }
}

fn read_ncco(cx: &mut Cx, value: &Value, max_actions: usize) -> Option<Ncco> {
    let Value::Array(items) = value else {
        let hint = if value.get("action").is_some() { "; wrap the action in [ ]" } else { "" };
        cx.error(
            "",
            Rule::NotArray,
            format!("an NCCO must be a JSON array of actions, got {}{hint}", type_name(value)),
        );
        return None;
    };
    if items.is_empty() {
        cx.error("", Rule::Empty, "an NCCO needs at least one action");
        return None;
    }
    if items.len() > max_actions {
        cx.error("", Rule::Size, format!("the NCCO has {} actions; at most {max_actions} are allowed", items.len()));
    }
    let actions: Vec<Option<Action>> =
        items.iter().enumerate().map(|(i, item)| read_action(cx, item, index("", i))).collect();
    check_barge_in(cx, items);
    actions.into_iter().collect::<Option<Vec<_>>>().map(Ncco)
}

fn read_action(cx: &mut Cx, value: &Value, pointer: String) -> Option<Action> {
    let mut obj = Obj::new(cx, value, pointer, "an action")?;
    let name = match obj.get(cx, "action") {
        None => {
            cx.error(&obj.pointer, Rule::Required, "an action needs `action`: which of the nine actions it is");
            return None;
        }
        Some((Value::String(s), _, _)) => s.as_str(),
        Some((other, pointer, _)) => {
            cx.error(&pointer, Rule::Type, format!("`action` must be a string, got {}", type_name(other)));
            return None;
        }
    };
    let canonical = ACTION_NAMES.iter().find(|n| n.eq_ignore_ascii_case(name));
    let Some(&canonical) = canonical else {
        let hint =
            if name == "hangup" { " (there is no hangup action: the call ends when the NCCO runs out)" } else { "" };
        cx.error(
            &child(&obj.pointer, "action"),
            Rule::UnknownAction,
            format!("unknown action {name:?}; the actions are {}{hint}", ACTION_NAMES.join(", ")),
        );
        return None;
    };
    if canonical != name {
        cx.lenient(&child(&obj.pointer, "action"), format!("action {name:?} should be written {canonical:?}"));
    }
    obj.what = canonical;
    match canonical {
        "record" => record::read(cx, obj).map(Action::Record),
        "conversation" => conversation::read(cx, obj).map(Action::Conversation),
        "connect" => connect::read(cx, obj).map(Action::Connect),
        "talk" => talk::read(cx, obj).map(Action::Talk),
        "stream" => stream::read(cx, obj).map(Action::Stream),
        "input" => input::read(cx, obj).map(Action::Input),
        "notify" => notify::read(cx, obj).map(Action::Notify),
        "wait" => wait::read(cx, obj).map(Action::Wait),
        _ => transfer::read(cx, obj).map(Action::Transfer),
    }
}

fn action_name(v: &Value) -> Option<String> {
    crate::reader::field(v, "action").and_then(Value::as_str).map(str::to_ascii_lowercase)
}

fn barge_in(v: &Value) -> bool {
    match crate::reader::field(v, "bargeIn") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// §1.4: a talk or stream with `bargeIn: true` must be followed, after any further talk and stream
/// actions, by an `input`.
fn check_barge_in(cx: &mut Cx, items: &[Value]) {
    let names: Vec<Option<String>> = items.iter().map(action_name).collect();
    for (i, item) in items.iter().enumerate() {
        if !matches!(names[i].as_deref(), Some("talk" | "stream")) || !barge_in(item) {
            continue;
        }
        let next = names[i + 1..].iter().find(|n| !matches!(n.as_deref(), Some("talk" | "stream")));
        let pointer = child(&index("", i), "bargeIn");
        match next {
            Some(Some(n)) if n == "input" => {}
            Some(other) => cx.error(
                &pointer,
                Rule::BargeIn,
                format!(
                    "`bargeIn: true` must be followed by an input action, but the next action is {}",
                    other.as_ref().map_or_else(|| "not an action".to_owned(), |n| format!("{n:?}"))
                ),
            ),
            None => cx.error(
                &pointer,
                Rule::BargeIn,
                "`bargeIn: true` must be followed by an input action, but the NCCO ends here",
            ),
        }
    }
}
