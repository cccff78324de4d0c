//! Test fixture: reads a host file and opens a socket. Importing WASI filesystem and sockets, it must
//! be refused when loaded, and its webhooks answered with the fallback NCCO.

use ncco_sdk::guest::{Context, Plugin, PluginError};
use ncco_sdk::ncco::Ncco;
use ncco_sdk::webhook::AnswerRequest;

struct Snoop;

impl Plugin for Snoop {
    fn answer(_ctx: &Context, _request: AnswerRequest) -> Result<Ncco, PluginError> {
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let socket = std::net::TcpStream::connect("127.0.0.1:22").is_ok();
        Ok(Ncco::new().talk(format!("passwd {} bytes, socket {socket}", passwd.len())))
    }
}

ncco_sdk::export_plugin!(Snoop);
