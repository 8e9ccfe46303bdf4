//! The log's writer: lines are appended to one shared buffer (a lock and a copy, no allocation
//! per line, no wake-up per line) and a writer thread writes the buffer in batches. A request
//! never waits on the output, except when the buffer is full: then it waits for room, so no
//! line is ever dropped while the server runs (and a stderr nobody reads stops the server once
//! 4 MiB are waiting, as any lossless log would). Lines reach the output a few milliseconds
//! after they are made ([`GATHER`]). Dropping the [`Flush`] guard writes what is left and
//! stops the thread; if the output takes no more for [`EXIT_GRACE`] (a pipe nobody reads), the
//! process exits anyway and says on stdout, where the address line went, how many bytes of log
//! it could not write.
//!
//! (tracing-appender's non-blocking writer, used before, allocates each line and wakes its
//! thread for each one; under load that cost more than formatting the line: see BENCHMARKS.md,
//! "Speed as users run it".)

use std::io::{self, Write};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// Bytes buffered before a line waits for the writer to make room.
const CAPACITY: usize = 4 << 20;

/// How long the writer lets a batch gather once its first line arrived.
const GATHER: Duration = Duration::from_millis(5);

/// How long exiting waits for the output to take the last lines.
pub(crate) const EXIT_GRACE: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Buffer {
    bytes: Vec<u8>,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    buffer: Mutex<Buffer>,
    /// Signalled when the buffer stops being empty, and when closing.
    filled: Condvar,
    /// Signalled when the writer took the buffer.
    drained: Condvar,
    /// Bytes handed to the writer thread and not yet written.
    unwritten: std::sync::atomic::AtomicUsize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Buffer> {
        self.buffer.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Hands lines to the writer thread; cheap to clone.
#[derive(Clone)]
pub(crate) struct BatchWriter(Arc<Shared>);

/// Writes what is buffered and stops the writer thread when dropped.
pub(crate) struct Flush {
    shared: Arc<Shared>,
    done: std::sync::mpsc::Receiver<()>,
}

/// Starts the writer thread over `out`.
pub(crate) fn batch_writer<W: Write + Send + 'static>(
    mut out: W,
) -> io::Result<(BatchWriter, Flush)> {
    let shared = Arc::new(Shared::default());
    let theirs = shared.clone();
    let (finished, done) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("heldqr-mock-log".to_owned())
        .spawn(move || {
            let mut batch = Vec::new();
            loop {
                let closed = {
                    let mut buffer = theirs.lock();
                    while buffer.bytes.is_empty() && !buffer.closed {
                        buffer = theirs
                            .filled
                            .wait(buffer)
                            .unwrap_or_else(|p| p.into_inner());
                    }
                    if !buffer.closed {
                        // Let the lines of the next few milliseconds join this batch.
                        drop(buffer);
                        std::thread::park_timeout(GATHER);
                        buffer = theirs.lock();
                    }
                    std::mem::swap(&mut batch, &mut buffer.bytes);
                    buffer.closed
                };
                theirs.drained.notify_all();
                // A failed write (stderr closed) loses these lines, never the server.
                let _ = out.write_all(&batch).and_then(|()| out.flush());
                theirs.unwritten.fetch_sub(batch.len(), Ordering::Relaxed);
                batch.clear();
                if closed && theirs.lock().bytes.is_empty() {
                    let _ = finished.send(());
                    return;
                }
            }
        })?;
    Ok((BatchWriter(shared.clone()), Flush { shared, done }))
}

/// One event's writer: a borrow of the shared buffer (no reference count touched per line).
pub(crate) struct LineWriter<'a>(&'a Shared);

impl Write for BatchWriter {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        LineWriter(&self.0).write(line)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for LineWriter<'_> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let mut buffer = self.0.lock();
        while buffer.bytes.len() + line.len() > CAPACITY && !buffer.bytes.is_empty() {
            buffer = self
                .0
                .drained
                .wait(buffer)
                .unwrap_or_else(|p| p.into_inner());
        }
        let was_empty = buffer.bytes.is_empty();
        buffer.bytes.extend_from_slice(line);
        self.0.unwritten.fetch_add(line.len(), Ordering::Relaxed);
        drop(buffer);
        if was_empty {
            self.0.filled.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(&self.0)
    }
}

impl Drop for Flush {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.filled.notify_one();
        if self.done.recv_timeout(EXIT_GRACE).is_err() {
            let lost = self.shared.unwritten.load(Ordering::Relaxed);
            let _ = writeln!(
                io::stdout().lock(),
                "heldqr-mock: up to {lost} bytes of log lines could not be written (stderr took \
                 nothing for {} s)",
                EXIT_GRACE.as_secs()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output that keeps what is written, for reading after the writer stopped.
    #[derive(Clone, Default)]
    struct Kept(Arc<Mutex<Vec<u8>>>);

    impl Write for Kept {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_from_every_thread_is_written_once_by_the_time_the_guard_drops() {
        let kept = Kept::default();
        let (writer, flush) = batch_writer(kept.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut w = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..5000 {
                        w.write_all(format!("{t}:{i}\n").as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(flush);
        let text = String::from_utf8(kept.0.lock().unwrap().clone()).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 20_000);
        lines.sort_unstable();
        lines.dedup();
        assert_eq!(lines.len(), 20_000, "no line twice");
    }

    #[test]
    fn a_line_larger_than_the_buffer_is_written_whole() {
        let kept = Kept::default();
        let (mut writer, flush) = batch_writer(kept.clone()).unwrap();
        writer.write_all(b"a\n").unwrap();
        let big = vec![b'x'; CAPACITY + 10];
        writer.write_all(&big).unwrap();
        drop(flush);
        assert_eq!(kept.0.lock().unwrap().len(), CAPACITY + 12);
    }
}
