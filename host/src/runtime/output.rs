//! The call's log: plugin log lines and its stdout/stderr, in one buffer capped per webhook. Output
//! past the cap is dropped (and counted), never an error for the guest.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// A capped byte buffer shared by the log import and the guest's stdout and stderr.
#[derive(Debug, Clone)]
pub struct CallLog {
    inner: Arc<Mutex<LogInner>>,
}

#[derive(Debug)]
struct LogInner {
    buf: Vec<u8>,
    cap: usize,
    dropped: usize,
}

impl CallLog {
    /// A log of at most `cap` bytes.
    pub fn new(cap: usize) -> Self {
        CallLog { inner: Arc::new(Mutex::new(LogInner { buf: Vec::new(), cap, dropped: 0 })) }
    }

    /// Appends what fits; counts the rest as dropped.
    pub fn append(&self, bytes: &[u8]) {
        let Ok(mut inner) = self.inner.lock() else { return };
        let room = inner.cap.saturating_sub(inner.buf.len());
        let take = room.min(bytes.len());
        inner.buf.extend_from_slice(&bytes[..take]);
        inner.dropped += bytes.len() - take;
    }

    /// The text logged so far and how many bytes were dropped.
    pub fn take(&self) -> (String, usize) {
        let Ok(mut inner) = self.inner.lock() else { return (String::new(), 0) };
        let text = String::from_utf8_lossy(&inner.buf).into_owned();
        inner.buf.clear();
        (text, std::mem::take(&mut inner.dropped))
    }
}

impl IsTerminal for CallLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CallLog {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for CallLog {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
