//! The `stream` action: an audio file played into the call.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::reader::{Cx, Obj};

/// `stream`: play an MP3 or 16-bit WAV file. Synchronous unless `bargeIn` is true.
///
/// ```
/// use ncco_sdk::ncco::Stream;
/// let hold = Stream::new("https://example.com/hold.mp3").forever().level(0.3);
/// assert_eq!(hold.r#loop, Some(0));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stream {
    /// The audio URL, as a one-element array.
    pub stream_url: Vec<String>,
    /// Volume from -1 to 1. Default 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<f64>,
    /// Let input cut the stream short; the next non-stream action must then be an `input`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub barge_in: Option<bool>,
    /// How many times to play; 0 repeats until barge-in or hangup. Default 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#loop: Option<u32>,
    /// Keys the model does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Stream {
    /// A stream action playing `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Stream { stream_url: vec![url.into()], ..Stream::default() }
    }

    /// Sets `bargeIn`.
    pub fn barge_in(mut self, on: bool) -> Self {
        self.barge_in = Some(on);
        self
    }

    /// Sets `loop`.
    pub fn loops(mut self, times: u32) -> Self {
        self.r#loop = Some(times);
        self
    }

    /// Plays until interrupted (`loop: 0`).
    pub fn forever(self) -> Self {
        self.loops(0)
    }

    /// Sets `level` (-1 to 1).
    pub fn level(mut self, level: f64) -> Self {
        self.level = Some(level);
        self
    }
}

pub(crate) fn read(cx: &mut Cx, mut obj: Obj<'_>) -> Option<Stream> {
    let stream_url = obj.required(cx, "streamUrl", |cx, f| f.url_list(cx));
    let level = obj.num(cx, "level", -1.0, 1.0);
    let barge_in = obj.bool(cx, "bargeIn");
    let r#loop = obj.int(cx, "loop", 0, u32::MAX.into());
    let extra = obj.finish(cx);
    Some(Stream { stream_url: stream_url?, level, barge_in, r#loop, extra })
}
