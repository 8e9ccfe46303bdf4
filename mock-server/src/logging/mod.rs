//! The binary's log: a `tracing` subscriber with a `RUST_LOG`-style level filter
//! (`--log-level`, `HELDQR_MOCK_LOG`) and a text or JSON line format (`--log-format`,
//! `HELDQR_MOCK_LOG_FORMAT`), writing to stderr off the request path: a request formats its
//! line into a shared buffer and a writer thread writes whole batches (see `batch`). No line
//! is dropped: when the buffer is full, the request that logs waits for room. The guard
//! [`init`] returns writes what is buffered when dropped (at exit).
//!
//! The address line and the other start-up lines go to stdout directly, never through this
//! filter.

mod batch;
mod lines;

use std::io::BufWriter;

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

pub(crate) use batch::Flush;
use lines::Lines;

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

/// Installs the subscriber; `filter` is an `EnvFilter` directive list (`info`,
/// `warn,heldqr_mock::request=info`...). Keep the guard until exit.
pub(crate) fn init(filter: &str, format: LogFormat) -> Result<Flush, String> {
    init_with(filter, format, BufWriter::new(std::io::stderr()))
}

/// [`init`], writing to `out` (the request-path bench writes nowhere).
pub(crate) fn init_with<W: std::io::Write + Send + 'static>(
    filter: &str,
    format: LogFormat,
    out: W,
) -> Result<Flush, String> {
    let filter = EnvFilter::builder()
        .parse(filter)
        .map_err(|e| format!("--log-level {filter:?}: {e}"))?;
    let (writer, flush) =
        batch::batch_writer(out).map_err(|e| format!("cannot start the log writer: {e}"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .event_format(Lines(format))
        .try_init()
        .map_err(|e| format!("cannot set up the log: {e}"))?;
    Ok(flush)
}
