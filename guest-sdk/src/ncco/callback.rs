//! What every action with a webhook shares: `eventUrl` (always an array) and `eventMethod`.

use serde::Serialize;

use crate::reader::{Cx, Obj};

/// The HTTP method of a webhook (`eventMethod`). Vonage's default is POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum EventMethod {
    /// Fields as query parameters.
    #[serde(rename = "GET")]
    Get,
    /// A JSON body (the default).
    #[serde(rename = "POST")]
    Post,
}

/// Reads `eventUrl`: an array of absolute http(s) URLs. A bare string is an error, as Vonage says.
pub(crate) fn read_event_url(cx: &mut Cx, obj: &mut Obj<'_>, key: &'static str) -> Option<Vec<String>> {
    let urls = obj.with(cx, key, |cx, f| f.url_list(cx))?;
    if urls.len() > 1 {
        cx.warn(
            &crate::problem::child(&obj.pointer, key),
            crate::problem::Rule::Range,
            format!("`{key}` has {} URLs; Vonage documents only the first one as used", urls.len()),
        );
    }
    Some(urls)
}

/// Reads `eventMethod`: `GET` or `POST` (other letter cases are a lenient form).
pub(crate) fn read_event_method(cx: &mut Cx, obj: &mut Obj<'_>, key: &'static str) -> Option<EventMethod> {
    obj.with(cx, key, |cx, f| {
        let s = f.string(cx)?;
        let method = match s.to_ascii_uppercase().as_str() {
            "GET" => EventMethod::Get,
            "POST" => EventMethod::Post,
            _ => {
                cx.error(
                    f.pointer,
                    crate::problem::Rule::Enum,
                    format!("`{}` must be \"GET\" or \"POST\", got {s:?}", f.key),
                );
                return None;
            }
        };
        if s != "GET" && s != "POST" {
            cx.lenient(f.pointer, format!("`{}` should be written in capitals ({:?})", f.key, s.to_ascii_uppercase()));
        }
        Some(method)
    })
}
