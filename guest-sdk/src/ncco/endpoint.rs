//! The endpoints a `connect` can ring: phone, app, websocket, sip and vbc.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::problem::{Rule, child};
use crate::reader::{Cx, Field, Obj, type_name};

/// Most bytes of websocket `headers`, as serialized JSON.
pub const MAX_WEBSOCKET_HEADERS_BYTES: usize = 512;
/// Longest custom websocket authorization value.
pub const MAX_CUSTOM_AUTHORIZATION_CHARS: usize = 8191;

/// One `connect` endpoint, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Endpoint {
    /// A phone number.
    Phone(PhoneEndpoint),
    /// A Client SDK user.
    App(AppEndpoint),
    /// A websocket receiving the call's audio.
    Websocket(WebsocketEndpoint),
    /// A SIP URI, or a user at a Vonage SIP domain.
    Sip(SipEndpoint),
    /// A Vonage Business Communications extension.
    Vbc(VbcEndpoint),
}

impl Endpoint {
    /// A phone endpoint for `number` (E.164 digits, no `+`).
    pub fn phone(number: impl Into<String>) -> Self {
        Endpoint::Phone(PhoneEndpoint { number: number.into(), ..PhoneEndpoint::default() })
    }

    /// An app endpoint for the Client SDK user `user`.
    pub fn app(user: impl Into<String>) -> Self {
        Endpoint::App(AppEndpoint { user: user.into(), extra: Map::new() })
    }

    /// A websocket endpoint at `uri` with audio `content_type`.
    pub fn websocket(uri: impl Into<String>, content_type: ContentType) -> Self {
        Endpoint::Websocket(WebsocketEndpoint::new(uri, content_type))
    }

    /// A SIP endpoint for `uri` (`sip:` or `sips:`).
    pub fn sip(uri: impl Into<String>) -> Self {
        Endpoint::Sip(SipEndpoint { uri: Some(uri.into()), ..SipEndpoint::default() })
    }

    /// A VBC endpoint for `extension`.
    pub fn vbc(extension: impl Into<String>) -> Self {
        Endpoint::Vbc(VbcEndpoint { extension: extension.into(), extra: Map::new() })
    }

    /// The `type` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Endpoint::Phone(_) => "phone",
            Endpoint::App(_) => "app",
            Endpoint::Websocket(_) => "websocket",
            Endpoint::Sip(_) => "sip",
            Endpoint::Vbc(_) => "vbc",
        }
    }
}

/// `phone` endpoint.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneEndpoint {
    /// E.164 digits without `+`.
    pub number: String,
    /// Digits sent when the callee answers: `0-9`, `*`, `#`, and `p` for a 500 ms pause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dtmf_answer: Option<String>,
    /// An NCCO run on the callee's leg before it joins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_answer: Option<OnAnswer>,
    /// STIR/SHAKEN Identity header (US calls).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shaken: Option<String>,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `onAnswer` of a phone endpoint.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnAnswer {
    /// URL serving the callee-leg NCCO.
    pub url: String,
    /// Audio for the caller while the callee's NCCO runs (legacy key `ringback` is read too).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ringback_tone: Option<String>,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `app` endpoint.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct AppEndpoint {
    /// Client SDK user name.
    pub user: String,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Audio format of a websocket: 16-bit linear PCM at one of three rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ContentType {
    /// `audio/l16;rate=8000`
    #[serde(rename = "audio/l16;rate=8000")]
    L16Rate8000,
    /// `audio/l16;rate=16000`
    #[serde(rename = "audio/l16;rate=16000")]
    L16Rate16000,
    /// `audio/l16;rate=24000`
    #[serde(rename = "audio/l16;rate=24000")]
    L16Rate24000,
}

/// How Vonage authenticates to the websocket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum WebsocketAuthorization {
    /// Vonage sends its signed-webhook JWT as `Authorization: Bearer …`.
    Vonage,
    /// Vonage sends `value` verbatim as the `Authorization` header.
    Custom {
        /// The raw header value: printable ASCII, at most 8191 characters.
        value: String,
    },
}

/// `websocket` endpoint.
///
/// ```
/// use ncco_sdk::ncco::{Connect, ContentType, Endpoint, WebsocketAuthorization, WebsocketEndpoint};
/// let bot = WebsocketEndpoint::new("wss://bot.example.com/socket", ContentType::L16Rate16000)
///     .header("caller", "447700900123")
///     .header("attempt", 1)
///     .authorization(WebsocketAuthorization::Vonage);
/// assert_eq!(bot.headers.as_ref().map(|h| h.len()), Some(2));
/// let connect = Connect::to(Endpoint::Websocket(bot));
/// # let _ = connect;
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct WebsocketEndpoint {
    /// `ws://` or `wss://` URI.
    pub uri: String,
    /// Audio format (key `content-type`, with the hyphen).
    #[serde(rename = "content-type", skip_serializing_if = "Option::is_none")]
    pub content_type: Option<ContentType>,
    /// Metadata sent in the first message and echoed in events; at most 512 bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<Map<String, Value>>,
    /// Authorization on the websocket handshake.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<WebsocketAuthorization>,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl WebsocketEndpoint {
    /// A websocket endpoint at `uri` (`ws://` or `wss://`) with audio `content_type`.
    pub fn new(uri: impl Into<String>, content_type: ContentType) -> Self {
        WebsocketEndpoint { uri: uri.into(), content_type: Some(content_type), ..WebsocketEndpoint::default() }
    }

    /// Adds (or replaces) the header `key` of `headers`; headers keep the order they were added in.
    pub fn header(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.headers.get_or_insert_with(Map::new).insert(key.into(), value.into());
        self
    }

    /// Sets `authorization`.
    pub fn authorization(mut self, authorization: WebsocketAuthorization) -> Self {
        self.authorization = Some(authorization);
        self
    }
}

/// `sip` endpoint: either `uri`, or `user` and `domain`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SipEndpoint {
    /// `sip:` or `sips:` URI (`;transport=tls`, `;media=srtp` allowed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// A user at a Vonage-configured SIP `domain`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The Vonage SIP domain of `user`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Custom headers, each sent as `X-<key>: <value>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// Standard headers: `User-to-User` is the only one. The key `standard_headers` and the Node SDK's
    /// header key `userToUser` are read too (lenient forms); another header is an unknown key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standard_headers: Option<BTreeMap<String, String>>,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `vbc` endpoint.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct VbcEndpoint {
    /// The extension.
    pub extension: String,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The E.164 digits (no `+`) of a phone number as people write it, or `None` when it is not one.
///
/// Surrounding white space and a leading `+` are dropped, and so are spaces, dashes and dots
/// between the digits; what remains must be 1 to 15 ASCII digits. The result is what a `phone`
/// endpoint's `number` or a `connect`'s `from` takes: the validator refuses a leading `+` there, so
/// pass numbers people wrote through this first.
///
/// ```
/// use ncco_sdk::ncco::normalize_phone_number;
/// assert_eq!(normalize_phone_number("+44 7700 900001").as_deref(), Some("447700900001"));
/// assert_eq!(normalize_phone_number("1-555-010.0199").as_deref(), Some("15550100199"));
/// assert_eq!(normalize_phone_number("(0) 7700 900001"), None);
/// assert_eq!(normalize_phone_number("alice"), None);
/// ```
pub fn normalize_phone_number(raw: &str) -> Option<String> {
    let digits: String = raw.trim().trim_start_matches('+').chars().filter(|c| !matches!(c, ' ' | '-' | '.')).collect();
    let ok = (1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(digits)
}

/// Reports `number` unless it is E.164 digits: 1 to 15 ASCII digits, nothing else.
///
/// A leading `+` is refused in lenient mode too, for both fields that use this check. voice-api.md
/// §1.3.3 gives `connect.from` as "E.164 digits, no `+`" and a phone endpoint's `number` as
/// "E.164 digits"; Vonage's endpoints guide says the same of `number` ("the full international format
/// without any leading zeros or + signs"). Nothing in the reference says Vonage accepts the `+` on
/// either. [`normalize_phone_number`] turns what people write into the accepted form.
pub(crate) fn check_phone_number(cx: &mut Cx, pointer: &str, key: &str, number: &str) {
    let is_digits = |s: &str| !s.is_empty() && s.len() <= 15 && s.bytes().all(|b| b.is_ascii_digit());
    if is_digits(number) {
        return;
    }
    let message = match number.strip_prefix('+') {
        Some(rest) if is_digits(rest) => {
            format!("`{key}` must be E.164 digits without the leading `+`: write {rest:?}, not {number:?}")
        }
        _ => format!("`{key}` must be a phone number in E.164 form (up to 15 digits, no `+`), got {number:?}"),
    };
    cx.error(pointer, Rule::Pattern, message);
}

fn string_map(cx: &mut Cx, f: Field<'_, '_>) -> Option<BTreeMap<String, String>> {
    let map = f.map(cx)?;
    let mut out = BTreeMap::new();
    for (k, v) in &map {
        let field = Field { value: v, pointer: &child(f.pointer, k), key: k };
        if let Some(s) = field.string(cx) {
            out.insert(k.clone(), s);
        }
    }
    Some(out)
}

/// The only standard (non-`X-`) SIP header a sip endpoint can send: voice-api.md §1.3.3 lists
/// `standardHeaders` as "currently only `User-to-User` (RFC 7433)".
const USER_TO_USER: &str = "User-to-User";

/// The Node SDK's key for [`USER_TO_USER`] (`SIPEndpoint.standardHeaders.userToUser`). Node rewrites it
/// to `User-to-User` only for NCCOs it sends through the REST API, as it does `beepTimeout`; so it is
/// read as another spelling, like `beepTimeout` and `contentType` (a lenient form).
const NODE_USER_TO_USER: &str = "userToUser";

/// `standardHeaders`: string values, `User-to-User` the only key. Another key is reported like every
/// unknown key (a warning in lenient mode, an error in strict mode) and kept as is.
fn read_standard_headers(cx: &mut Cx, f: Field<'_, '_>) -> Option<BTreeMap<String, String>> {
    let map = f.map(cx)?;
    let mut out = BTreeMap::new();
    for (k, v) in &map {
        let pointer = child(f.pointer, k);
        let Some(value) = (Field { value: v, pointer: &pointer, key: k }).string(cx) else { continue };
        let key = match k.as_str() {
            USER_TO_USER => k.clone(),
            NODE_USER_TO_USER if map.contains_key(USER_TO_USER) => {
                cx.error(
                    &pointer,
                    Rule::Exclusive,
                    format!("`{k}` and `{USER_TO_USER}` are two spellings of one header; give one"),
                );
                continue;
            }
            NODE_USER_TO_USER => {
                cx.lenient(
                    &pointer,
                    format!("`{k}` (the Node SDK's spelling) is another spelling of `{USER_TO_USER}`"),
                );
                USER_TO_USER.to_owned()
            }
            _ => {
                cx.unknown_key(
                    &pointer,
                    format!(
                        "`{}` has no key `{k}`: `{USER_TO_USER}` is the only standard header (custom headers go \
                         in `headers`, sent as `X-<key>`); it is kept as is",
                        f.key
                    ),
                );
                k.clone()
            }
        };
        out.insert(key, value);
    }
    Some(out)
}

fn read_phone(cx: &mut Cx, mut obj: Obj<'_>) -> Option<PhoneEndpoint> {
    let number = obj.required(cx, "number", |cx, f| {
        let n = f.string(cx)?;
        check_phone_number(cx, f.pointer, "number", &n);
        Some(n)
    });
    let dtmf_answer = obj.with(cx, "dtmfAnswer", |cx, f| {
        let d = f.string(cx)?;
        if d.is_empty() || !d.chars().all(|c| c.is_ascii_digit() || matches!(c, '*' | '#' | 'p')) {
            cx.error(
                f.pointer,
                Rule::Pattern,
                format!("`dtmfAnswer` may hold only 0-9, *, # and p (a pause), got {d:?}"),
            );
        }
        Some(d)
    });
    let on_answer = obj.object(cx, "onAnswer", "`onAnswer`", |cx, mut o| {
        let url = o.required(cx, "url", |cx, f| f.url(cx));
        let ringback_tone = o
            .get_alias(cx, "ringbackTone", &["ringback"])
            .and_then(|(value, pointer, key)| Field { value, pointer: &pointer, key }.url(cx));
        let extra = o.finish(cx);
        Some(OnAnswer { url: url?, ringback_tone, extra })
    });
    let shaken = obj.string(cx, "shaken");
    let extra = obj.finish(cx);
    Some(PhoneEndpoint { number: number?, dtmf_answer, on_answer, shaken, extra })
}

fn read_websocket(cx: &mut Cx, mut obj: Obj<'_>) -> Option<WebsocketEndpoint> {
    let uri = obj.required(cx, "uri", |cx, f| {
        let uri = f.string(cx)?;
        let lower = uri.to_ascii_lowercase();
        if !(lower.starts_with("ws://") || lower.starts_with("wss://")) || uri.len() <= "wss://".len() {
            cx.error(f.pointer, Rule::Pattern, format!("`uri` must be a ws:// or wss:// URI, got {uri:?}"));
        }
        Some(uri)
    });
    let content_type = match obj.get_alias(cx, "content-type", &["contentType"]) {
        None => {
            obj.missing(cx, "content-type");
            None
        }
        Some((value, pointer, key)) => Field { value, pointer: &pointer, key }.choice(
            cx,
            &[
                ("audio/l16;rate=8000", ContentType::L16Rate8000),
                ("audio/l16;rate=16000", ContentType::L16Rate16000),
                ("audio/l16;rate=24000", ContentType::L16Rate24000),
            ],
        ),
    };
    let headers = obj.with(cx, "headers", |cx, f| {
        let map = f.map(cx)?;
        let size = Value::Object(map.clone()).to_string().len();
        if size > MAX_WEBSOCKET_HEADERS_BYTES {
            cx.error(
                f.pointer,
                Rule::Size,
                format!(
                    "websocket `headers` take {size} bytes as JSON; at most {MAX_WEBSOCKET_HEADERS_BYTES} are allowed"
                ),
            );
        }
        Some(map)
    });
    let authorization = obj.object(cx, "authorization", "`authorization`", |cx, mut o| {
        let kind = o.required(cx, "type", |cx, f| f.choice(cx, &[("vonage", false), ("custom", true)]));
        let value = o.string(cx, "value");
        let auth = match (kind?, value) {
            (false, None) => Some(WebsocketAuthorization::Vonage),
            (false, Some(_)) => {
                cx.error(&child(&o.pointer, "value"), Rule::Exclusive, "`value` is only for `type: \"custom\"`");
                None
            }
            (true, None) => {
                o.missing(cx, "value");
                None
            }
            (true, Some(v)) => {
                let printable = v.bytes().all(|b| (0x20..0x7f).contains(&b));
                if !printable || v.is_empty() || v.len() > MAX_CUSTOM_AUTHORIZATION_CHARS {
                    cx.error(
                        &child(&o.pointer, "value"),
                        Rule::Pattern,
                        format!("`value` must be 1 to {MAX_CUSTOM_AUTHORIZATION_CHARS} printable ASCII characters"),
                    );
                }
                Some(WebsocketAuthorization::Custom { value: v })
            }
        };
        o.finish(cx);
        auth
    });
    let extra = obj.finish(cx);
    Some(WebsocketEndpoint { uri: uri?, content_type: Some(content_type?), headers, authorization, extra })
}

fn read_sip(cx: &mut Cx, mut obj: Obj<'_>) -> Option<SipEndpoint> {
    let uri = obj.with(cx, "uri", |cx, f| {
        let uri = f.string(cx)?;
        let lower = uri.to_ascii_lowercase();
        let rest = lower.strip_prefix("sips:").or_else(|| lower.strip_prefix("sip:"));
        if rest.is_none_or(|r| r.trim().is_empty()) {
            cx.error(f.pointer, Rule::Pattern, format!("`uri` must be a sip: or sips: URI, got {uri:?}"));
        }
        Some(uri)
    });
    let user = obj.with(cx, "user", |cx, f| f.non_empty_string(cx));
    let domain = obj.with(cx, "domain", |cx, f| f.non_empty_string(cx));
    let has_uri = obj.has("uri");
    let (has_user, has_domain) = (obj.has("user"), obj.has("domain"));
    if has_uri && (has_user || has_domain) {
        let key = if has_user { "user" } else { "domain" };
        cx.error(&child(&obj.pointer, key), Rule::Exclusive, "give either `uri`, or `user` and `domain`, not both");
    } else if !has_uri {
        match (has_user, has_domain) {
            (true, true) => {}
            (false, false) => {
                cx.error(&obj.pointer, Rule::Required, "a sip endpoint needs `uri`, or `user` and `domain`")
            }
            (true, false) => obj.missing(cx, "domain"),
            (false, true) => obj.missing(cx, "user"),
        }
    }
    let headers = obj.with(cx, "headers", string_map);
    let standard_headers = obj
        .get_alias(cx, "standardHeaders", &["standard_headers"])
        .and_then(|(value, pointer, key)| read_standard_headers(cx, Field { value, pointer: &pointer, key }));
    let extra = obj.finish(cx);
    Some(SipEndpoint { uri, user, domain, headers, standard_headers, extra })
}

/// Reads one endpoint object at `pointer`.
pub(crate) fn read_endpoint(cx: &mut Cx, value: &Value, pointer: String) -> Option<Endpoint> {
    let mut obj = Obj::new(cx, value, pointer, "an endpoint")?;
    let kind = match obj.get(cx, "type") {
        None => {
            obj.missing(cx, "type");
            return None;
        }
        Some((Value::String(s), _, _)) => s.as_str(),
        Some((other, pointer, _)) => {
            cx.error(&pointer, Rule::Type, format!("endpoint `type` must be a string, got {}", type_name(other)));
            return None;
        }
    };
    match kind {
        "phone" => {
            obj.what = "a phone endpoint";
            read_phone(cx, obj).map(Endpoint::Phone)
        }
        "app" => {
            obj.what = "an app endpoint";
            let user = obj.required(cx, "user", |cx, f| f.non_empty_string(cx));
            let extra = obj.finish(cx);
            Some(Endpoint::App(AppEndpoint { user: user?, extra }))
        }
        "websocket" => {
            obj.what = "a websocket endpoint";
            read_websocket(cx, obj).map(Endpoint::Websocket)
        }
        "sip" => {
            obj.what = "a sip endpoint";
            read_sip(cx, obj).map(Endpoint::Sip)
        }
        "vbc" => {
            obj.what = "a vbc endpoint";
            let extension = obj.required(cx, "extension", |cx, f| f.non_empty_string(cx));
            let extra = obj.finish(cx);
            Some(Endpoint::Vbc(VbcEndpoint { extension: extension?, extra }))
        }
        other => {
            cx.error(
                &child(&obj.pointer, "type"),
                Rule::Enum,
                format!(
                    "endpoint `type` must be one of \"phone\", \"app\", \"websocket\", \"sip\", \"vbc\", got {other:?}"
                ),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::normalize_phone_number;
    use crate::ncco::{Action, Endpoint, Validator};
    use crate::{Mode, Report, Rule};

    fn check(mode: Mode, ncco: &Value) -> Report {
        Validator { mode, ..Validator::default() }.check_value(ncco).report
    }

    fn connect(endpoint: &Value) -> Value {
        json!([{"action": "connect", "from": "447700900000", "endpoint": [endpoint]}])
    }

    #[test]
    fn a_leading_plus_is_an_error_in_both_modes_on_from_and_on_number() {
        let plus_from = json!([{"action": "connect", "from": "+447700900000",
            "endpoint": [{"type": "phone", "number": "447700900001"}]}]);
        let plus_number = connect(&json!({"type": "phone", "number": "+447700900001"}));
        for (ncco, pointer, digits) in
            [(&plus_from, "/0/from", "447700900000"), (&plus_number, "/0/endpoint/0/number", "447700900001")]
        {
            for mode in [Mode::Lenient, Mode::Strict] {
                let report = check(mode, ncco);
                let [error] = report.errors.as_slice() else { panic!("{mode:?} {pointer}: {report:?}") };
                assert_eq!((error.pointer.as_str(), error.rule), (pointer, Rule::Pattern), "{mode:?}");
                assert!(error.message.contains(&format!("write {digits:?}")), "{}", error.message);
                assert!(report.warnings.is_empty(), "{mode:?}: {:?}", report.warnings);
            }
        }
    }

    #[test]
    fn normalized_numbers_pass_the_phone_number_check() {
        let number = normalize_phone_number("+44 7700 900001").unwrap_or_default();
        let from = normalize_phone_number(" +44-7700-900.000 ").unwrap_or_default();
        let ncco = json!([{"action": "connect", "from": from, "endpoint": [{"type": "phone", "number": number}]}]);
        let report = check(Mode::Strict, &ncco);
        assert!(report.is_valid() && report.warnings.is_empty(), "{report:?}");
    }

    #[test]
    fn standard_headers_other_than_user_to_user_are_unknown_keys() {
        for key in ["standardHeaders", "standard_headers"] {
            let ncco = connect(&json!({"type": "sip", "uri": "sip:alice@example.com",
                key: {"User-to-User": "56a390f3d2b7310023a2;encoding=hex", "X-Foo": "bar"}}));
            let pointer = format!("/0/endpoint/0/{key}/X-Foo");
            let lenient = check(Mode::Lenient, &ncco);
            assert!(lenient.is_valid(), "{key}: {lenient}");
            let unknown: Vec<_> = lenient.warnings.iter().filter(|w| w.rule == Rule::UnknownKey).collect();
            let [warning] = unknown.as_slice() else { panic!("{key}: {:?}", lenient.warnings) };
            assert_eq!(warning.pointer, pointer);
            assert!(warning.message.contains("`User-to-User` is the only standard header"), "{}", warning.message);
            let strict = check(Mode::Strict, &ncco);
            assert!(
                strict.errors.iter().any(|e| e.pointer == pointer && e.rule == Rule::UnknownKey),
                "{key}: {:?}",
                strict.errors
            );
            // The unknown header is kept, as unknown keys are.
            let parsed = Validator::default().check_value(&ncco).ncco.unwrap_or_default();
            assert_eq!(parsed.to_value()[0]["endpoint"][0]["standardHeaders"]["X-Foo"], "bar");
        }
        let canonical = connect(&json!({"type": "sip", "uri": "sip:alice@example.com",
            "standardHeaders": {"User-to-User": "342342ef34;encoding=hex"}}));
        let report = check(Mode::Strict, &canonical);
        assert!(report.is_valid() && report.warnings.is_empty(), "{report:?}");
    }

    #[test]
    fn the_node_sdk_user_to_user_key_is_a_lenient_spelling() {
        let ncco = connect(&json!({"type": "sip", "uri": "sip:alice@example.com",
            "standardHeaders": {"userToUser": "342342ef34;encoding=hex"}}));
        let pointer = "/0/endpoint/0/standardHeaders/userToUser";
        let checked = Validator::default().check_value(&ncco);
        let [warning] = checked.report.warnings.as_slice() else { panic!("{:?}", checked.report) };
        assert_eq!((warning.pointer.as_str(), warning.rule), (pointer, Rule::Lenient));
        let Some(Action::Connect(c)) = checked.ncco.as_ref().and_then(|n| n.0.first()) else { panic!("not parsed") };
        let Endpoint::Sip(sip) = &c.endpoint[0] else { panic!("not sip") };
        let headers = sip.standard_headers.as_ref().map(|h| h.iter().collect::<Vec<_>>());
        assert_eq!(headers, Some(vec![(&"User-to-User".to_owned(), &"342342ef34;encoding=hex".to_owned())]));

        let strict = check(Mode::Strict, &ncco);
        assert!(strict.errors.iter().any(|e| e.pointer == pointer && e.rule == Rule::Lenient), "{strict:?}");

        let both = connect(&json!({"type": "sip", "uri": "sip:alice@example.com",
            "standardHeaders": {"userToUser": "a", "User-to-User": "b"}}));
        let report = check(Mode::Lenient, &both);
        assert!(report.errors.iter().any(|e| e.pointer == pointer && e.rule == Rule::Exclusive), "{report:?}");
    }
}
