//! The binary's log: a `tracing` subscriber with a `RUST_LOG`-style level filter
//! (`--log-level`, `HELDQR_MOCK_LOG`) and a text or JSON line format (`--log-format`,
//! `HELDQR_MOCK_LOG_FORMAT`), writing to stderr through a non-blocking writer: requests hand
//! their formatted line to a writer thread, which writes whole batches. The writer never drops
//! a line: when its buffer is full, the request that logs waits for room. The guard
//! [`init`] returns flushes what is buffered when dropped (at exit).
//!
//! The address line and the other start-up lines go to stdout directly, never through this
//! filter.

use std::fmt;
use std::io::BufWriter;

use clap::ValueEnum;
use tracing::field::{Field, Visit};
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;

/// The log's line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// `TIMESTAMP LEVEL TARGET: MESSAGE key=value ...`.
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `message` and the event's
    /// fields (a request's `method`, `path`, `status`, `duration_ms`, `request_id`, `account`,
    /// `fault`).
    Json,
}

/// Lines the writer buffers before a request that logs waits for room.
const BUFFERED_LINES: usize = 64 * 1024;

/// Installs the subscriber; `filter` is an `EnvFilter` directive list (`info`,
/// `warn,heldqr_mock::request=info`...). Keep the guard until exit.
pub(crate) fn init(filter: &str, format: LogFormat) -> Result<WorkerGuard, String> {
    let filter = EnvFilter::builder()
        .parse(filter)
        .map_err(|e| format!("--log-level {filter:?}: {e}"))?;
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(BUFFERED_LINES)
        .thread_name("heldqr-mock-log")
        .finish(BufWriter::new(std::io::stderr()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let installed = match format {
        LogFormat::Text => builder.fmt_fields(TextFields).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
    installed.map_err(|e| format!("cannot set up the log: {e}"))?;
    Ok(guard)
}

/// The text format's fields: the message, then `name=value` for the others; a request event's
/// `method`, `path` and `status` are already in its message (`GET /api/v1/codes 200`).
struct TextFields;

impl<'w> FormatFields<'w> for TextFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = TextVisitor {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct TextVisitor<'w> {
    writer: Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl Visit for TextVisitor<'_> {
    // Text values as they are (ids and account names hold no spaces), not quoted.
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let name = field.name();
        if self.result.is_err() || matches!(name, "method" | "path" | "status") {
            return;
        }
        let sep = if self.first { "" } else { " " };
        self.first = false;
        self.result = if name == "message" {
            write!(self.writer, "{sep}{value:?}")
        } else {
            write!(self.writer, "{sep}{name}={value:?}")
        };
    }
}
