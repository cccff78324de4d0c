//! A response body as a plugin reads it: bytes counted against the webhook's budget, the read ended
//! at the webhook's deadline, and the request noted on the call once the body is done (or dropped).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::Sleep;
use wasmtime_wasi_http::Error;

use super::Note;

/// The webhook's response byte budget, shared by all its responses.
#[derive(Debug, Clone)]
pub struct Budget {
    left: Arc<AtomicU64>,
    /// The whole budget, for the error a plugin sees.
    pub cap: u64,
}

impl Budget {
    /// A budget of `cap` bytes.
    pub fn new(cap: u64) -> Self {
        Budget { left: Arc::new(AtomicU64::new(cap)), cap }
    }

    /// Bytes still allowed.
    pub fn left(&self) -> u64 {
        self.left.load(Ordering::Acquire)
    }

    /// Takes `n` bytes; false (and nothing taken) when fewer are left.
    fn take(&self, n: u64) -> bool {
        self.left.fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| left.checked_sub(n)).is_ok()
    }
}

/// The response body handed to the plugin.
pub struct Capped {
    inner: Incoming,
    budget: Budget,
    /// The webhook's outbound deadline.
    deadline: Pin<Box<Sleep>>,
    /// Most time between two frames.
    between: Duration,
    idle: Pin<Box<Sleep>>,
    note: Note,
    bytes: u64,
    ended: Option<Ended>,
}

/// How a body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// Read to its end.
    Done,
    /// Over the webhook's byte budget.
    TooLarge,
    /// At the deadline, or stalled between frames.
    Timeout,
    /// The connection failed.
    Broken,
}

impl std::fmt::Debug for Capped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capped").field("bytes", &self.bytes).finish_non_exhaustive()
    }
}

impl Capped {
    /// `inner`, read within `budget`, by `deadline`, with at most `between` between frames; `note`
    /// is written when the body ends.
    pub fn new(inner: Incoming, budget: Budget, deadline: Instant, between: Duration, note: Note) -> Self {
        let between = between.max(Duration::from_millis(1));
        Capped {
            inner,
            budget,
            deadline: Box::pin(tokio::time::sleep_until(deadline.into())),
            between,
            idle: Box::pin(tokio::time::sleep(between)),
            note,
            bytes: 0,
            ended: None,
        }
    }

    fn end(&mut self, how: Ended, error: Error) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        self.ended = Some(how);
        Poll::Ready(Some(Err(error)))
    }
}

impl Body for Capped {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        if self.ended.is_some() {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let n = data.len() as u64;
                    if !self.budget.take(n) {
                        let cap = self.budget.cap;
                        return self.end(Ended::TooLarge, Error::HttpResponseBodySize(Some(cap)));
                    }
                    self.bytes += n;
                }
                let between = self.between;
                self.idle.as_mut().reset((Instant::now() + between).into());
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                let error = if e.is_timeout() { Error::HttpResponseTimeout } else { Error::HttpResponseIncomplete };
                self.end(Ended::Broken, error)
            }
            Poll::Ready(None) => {
                self.ended = Some(Ended::Done);
                Poll::Ready(None)
            }
            Poll::Pending => {
                if self.deadline.as_mut().poll(cx).is_ready() {
                    return self.end(Ended::Timeout, Error::HttpResponseTimeout);
                }
                if self.idle.as_mut().poll(cx).is_ready() {
                    return self.end(Ended::Timeout, Error::ConnectionReadTimeout);
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended.is_some() || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Capped {
    fn drop(&mut self) {
        let bytes = self.bytes;
        let (outcome, how) = match self.ended {
            Some(Ended::Done) => ("response", String::new()),
            Some(Ended::TooLarge) => ("too-large", format!(", cut at the webhook's {}-byte cap", self.budget.cap)),
            Some(Ended::Timeout) => ("timeout", ", timed out reading the body".to_owned()),
            Some(Ended::Broken) => ("error", ", the body ended early".to_owned()),
            None => ("response", ", body not read to the end".to_owned()),
        };
        let status = self.note.status.unwrap_or_default();
        self.note.finish(outcome, &format!("{status}, {bytes} bytes{how}"));
    }
}
