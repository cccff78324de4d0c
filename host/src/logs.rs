//! The host log's writer: log lines are appended to a buffer in memory and a writer thread writes
//! them out in batches at most [`FLUSH_EVERY`] late (sooner when a batch grows large), so a webhook
//! never waits on the terminal or a pipe, and a busy host wakes that thread and calls `write` at
//! most about a hundred times a second instead of once per line (every plugin log line is a host
//! log line). An idle host's writer sleeps.
//!
//! Past [`MAX_BUFFERED_BYTES`] waiting, new lines are dropped rather than blocking serving; the next
//! write says how many were.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait in the buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(10);
/// Most bytes waiting to be written; lines past it are dropped.
pub const MAX_BUFFERED_BYTES: usize = 8 << 20;
/// Waiting bytes that wake the writer before its time.
const EARLY_FLUSH_BYTES: usize = 256 << 10;

#[derive(Debug, Default)]
struct Buffer {
    bytes: Vec<u8>,
    dropped_lines: u64,
    closing: bool,
}

#[derive(Debug, Default)]
struct Inner {
    buffer: Mutex<Buffer>,
    wake: Condvar,
}

/// Hands log lines to the writer thread (a [`MakeWriter`] for `tracing_subscriber`).
#[derive(Debug, Clone)]
pub struct BatchWriter {
    inner: Arc<Inner>,
}

/// Writes out what is buffered and stops the writer thread when dropped: hold it until the process
/// ends.
#[derive(Debug)]
pub struct FlushGuard {
    inner: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
}

impl BatchWriter {
    /// A writer whose lines go to `out` from a thread named `log-writer`.
    pub fn spawn(out: impl Write + Send + 'static) -> std::io::Result<(BatchWriter, FlushGuard)> {
        let inner = Arc::new(Inner::default());
        let thread = {
            let inner = Arc::clone(&inner);
            std::thread::Builder::new().name("log-writer".into()).spawn(move || write_out(&inner, out))?
        };
        Ok((BatchWriter { inner: Arc::clone(&inner) }, FlushGuard { inner, thread: Some(thread) }))
    }

    fn push(&self, line: &[u8]) {
        let mut buffer = self.inner.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        if buffer.bytes.len() + line.len() > MAX_BUFFERED_BYTES {
            buffer.dropped_lines += 1;
            return;
        }
        let before = buffer.bytes.len();
        buffer.bytes.extend_from_slice(line);
        // The first line of a batch wakes the writer (which then waits out the batch), and so does
        // a batch that has grown large; the lines in between wake nobody.
        if before == 0 || (before < EARLY_FLUSH_BYTES && buffer.bytes.len() >= EARLY_FLUSH_BYTES) {
            self.inner.wake.notify_one();
        }
    }
}

/// The writer thread: asleep while nothing is buffered; woken by a batch's first line, it lets the
/// batch gather for [`FLUSH_EVERY`] (less when it grows large), then writes it out.
fn write_out(inner: &Inner, mut out: impl Write) {
    let mut spare = Vec::new();
    loop {
        let (closing, dropped) = {
            let buffer = inner.buffer.lock().unwrap_or_else(PoisonError::into_inner);
            let buffer = inner
                .wake
                .wait_while(buffer, |b| !b.closing && b.bytes.is_empty() && b.dropped_lines == 0)
                .unwrap_or_else(PoisonError::into_inner);
            let (mut buffer, _) = inner
                .wake
                .wait_timeout_while(buffer, FLUSH_EVERY, |b| !b.closing && b.bytes.len() < EARLY_FLUSH_BYTES)
                .unwrap_or_else(PoisonError::into_inner);
            std::mem::swap(&mut buffer.bytes, &mut spare);
            (buffer.closing, std::mem::take(&mut buffer.dropped_lines))
        };
        // A failed write (a closed pipe) loses those lines; serving goes on.
        if !spare.is_empty() {
            let _ = out.write_all(&spare);
        }
        if dropped > 0 {
            let _ = writeln!(out, "ncco-host: {dropped} log lines dropped: the log writer could not keep up");
        }
        let _ = out.flush();
        spare.clear();
        if closing {
            return;
        }
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.inner.buffer.lock().unwrap_or_else(PoisonError::into_inner).closing = true;
        self.inner.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One event's bytes (`tracing_subscriber` writes each formatted line in one `write_all`).
#[derive(Debug)]
pub struct Line<'a> {
    writer: &'a BatchWriter,
}

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer.push(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchWriter {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line { writer: self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the writer thread wrote, shared with the test.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("sink").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_arrive_in_order_within_the_flush_interval_and_all_are_written_on_drop() {
        let sink = Sink::default();
        let (writer, guard) = BatchWriter::spawn(sink.clone()).expect("spawn");
        writer.make_writer().write_all(b"one\n").expect("write");
        writer.make_writer().write_all(b"two\n").expect("write");
        let waited = std::time::Instant::now();
        while sink.0.lock().expect("sink").as_slice() != b"one\ntwo\n" {
            assert!(waited.elapsed() < Duration::from_secs(5), "not written: {:?}", sink.0.lock().expect("sink"));
            std::thread::sleep(Duration::from_millis(1));
        }
        writer.make_writer().write_all(b"three\n").expect("write");
        drop(guard);
        assert_eq!(sink.0.lock().expect("sink").as_slice(), b"one\ntwo\nthree\n");
    }

    #[test]
    fn lines_past_the_cap_are_dropped_and_counted_in_the_next_write() {
        // No writer thread: the buffer is filled to the cap by hand and written out once.
        let writer = BatchWriter { inner: Arc::default() };
        writer.inner.buffer.lock().expect("buffer").bytes.resize(MAX_BUFFERED_BYTES - 4, b'y');
        writer.make_writer().write_all(b"fit\n").expect("write");
        writer.make_writer().write_all(b"over\n").expect("write");
        {
            let buffer = writer.inner.buffer.lock().expect("buffer");
            assert_eq!(buffer.dropped_lines, 1);
            assert!(buffer.bytes.ends_with(b"yfit\n"));
        }
        writer.inner.buffer.lock().expect("buffer").closing = true;
        let sink = Sink::default();
        write_out(&writer.inner, sink.clone());
        let written = sink.0.lock().expect("sink");
        assert_eq!(
            written.len(),
            MAX_BUFFERED_BYTES + "ncco-host: 1 log lines dropped: the log writer could not keep up\n".len()
        );
        assert!(written.ends_with(b"fit\nncco-host: 1 log lines dropped: the log writer could not keep up\n"));
    }
}
