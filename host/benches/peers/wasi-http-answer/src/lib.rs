//! The `wasmtime serve` peer of the speed benchmark: every request gets the NCCO the `hello` plugin
//! returns for the benchmark's query, as JSON (the same bytes the native and Express peers send).

use std::io::Write as _;

use wasip2::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

wasip2::http::proxy::export!(Answer);

const NCCO: &[u8] = br#"[{"action":"talk","text":"Hello 447700900000."},{"action":"talk","text":"Press any key.","bargeIn":true},{"action":"input","type":["dtmf"],"dtmf":{"timeOut":5,"maxDigits":1},"eventUrl":["http://127.0.0.1/acme/hello/event/menu"]}]"#;

struct Answer;

impl wasip2::exports::http::incoming_handler::Guest for Answer {
    fn handle(_request: IncomingRequest, response_out: ResponseOutparam) {
        let headers = Fields::from_list(&[("content-type".to_owned(), b"application/json".to_vec())])
            .unwrap_or_else(|_| Fields::new());
        let response = OutgoingResponse::new(headers);
        let Ok(body) = response.body() else { return };
        ResponseOutparam::set(response_out, Ok(response));
        if let Ok(mut out) = body.write() {
            let _ = out.write_all(NCCO);
            let _ = out.flush();
        }
        let _ = OutgoingBody::finish(body, None);
    }
}
