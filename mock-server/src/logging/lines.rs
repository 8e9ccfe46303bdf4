//! The log's line formats, written straight into the line buffer: text
//! (`TIMESTAMP LEVEL TARGET: MESSAGE key=value ...`) and JSON (one object per line). A request
//! line is the common case, so the formatter is the short path: the timestamp's date and time
//! of day are formatted once per second per thread, values are written without intermediate
//! strings, JSON strings are escaped as they are written.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::LogFormat;

/// The event format of the binary's subscriber.
pub(crate) struct Lines(pub LogFormat);

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        match self.0 {
            LogFormat::Text => {
                timestamp(&mut w)?;
                write!(w, " {:>5} {}: ", meta.level(), meta.target())?;
                let mut fields = TextFields {
                    w: &mut w,
                    first: true,
                    result: Ok(()),
                };
                event.record(&mut fields);
                fields.result?;
            }
            LogFormat::Json => {
                w.write_str("{\"timestamp\":\"")?;
                timestamp(&mut w)?;
                write!(w, "\",\"level\":\"{}\",\"target\":", meta.level())?;
                json_str(&mut w, meta.target())?;
                let mut fields = JsonFields {
                    w: &mut w,
                    result: Ok(()),
                };
                event.record(&mut fields);
                fields.result?;
                w.write_char('}')?;
            }
        }
        w.write_char('\n')
    }
}

thread_local! {
    /// The last second formatted on this thread: `(unix seconds, "YYYY-MM-DDTHH:MM:SS")`.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((0, String::new())) };
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, microseconds).
fn timestamp(w: &mut Writer<'_>) -> fmt::Result {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    SECOND.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != secs || cached.1.is_empty() {
            let t = i64::try_from(secs)
                .ok()
                .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            cached.1.clear();
            let _ = write!(
                cached.1,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            );
            cached.0 = secs;
        }
        write!(w, "{}.{:06}Z", cached.1, now.subsec_micros())
    })
}

/// The text format's fields: the message, then `name=value` for the others, values as they
/// are (ids and account names hold no spaces); a request event's `method`, `path` and
/// `status` are already in its message (`GET /api/v1/codes 200`).
struct TextFields<'a, 'w> {
    w: &'a mut Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl TextFields<'_, '_> {
    fn field(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        let name = field.name();
        if self.result.is_err() || matches!(name, "method" | "path" | "status") {
            return;
        }
        if !std::mem::take(&mut self.first) {
            self.result = self.w.write_char(' ');
        }
        if name != "message" {
            self.result = self
                .result
                .and_then(|()| self.w.write_str(name))
                .and_then(|()| self.w.write_char('='));
        }
        self.result = self.result.and_then(|()| self.w.write_fmt(value));
    }
}

impl Visit for TextFields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, format_args!("{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, format_args!("{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.field(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field, format_args!("{value:?}"));
    }
}

/// The JSON format's fields: `,"name":value`, numbers and booleans as such, everything else
/// a string.
struct JsonFields<'a, 'w> {
    w: &'a mut Writer<'w>,
    result: fmt::Result,
}

impl JsonFields<'_, '_> {
    fn name(&mut self, field: &Field) -> fmt::Result {
        self.result?;
        write!(self.w, ",\"{}\":", field.name())
    }
}

impl Visit for JsonFields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.result = self.name(field).and_then(|()| json_str(self.w, value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.result = self.name(field).and_then(|()| write!(self.w, "{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.result = self.name(field).and_then(|()| write!(self.w, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.result = self.name(field).and_then(|()| write!(self.w, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.result = self.name(field).and_then(|()| {
            if value.is_finite() {
                write!(self.w, "{value}")
            } else {
                self.w.write_str("null")
            }
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.result = self.name(field).and_then(|()| {
            self.w.write_char('"')?;
            write!(JsonEscaped(self.w), "{value:?}")?;
            self.w.write_char('"')
        });
    }
}

/// `s` as a JSON string.
fn json_str(w: &mut Writer<'_>, s: &str) -> fmt::Result {
    w.write_char('"')?;
    JsonEscaped(w).write_str(s)?;
    w.write_char('"')
}

/// Escapes what passes through for the inside of a JSON string.
struct JsonEscaped<'a, 'w>(&'a mut Writer<'w>);

impl fmt::Write for JsonEscaped<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut plain = 0;
        for (i, b) in s.bytes().enumerate() {
            let escaped = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..0x20 => "",
                _ => continue,
            };
            self.0.write_str(&s[plain..i])?;
            if escaped.is_empty() {
                write!(self.0, "\\u{b:04x}")?;
            } else {
                self.0.write_str(escaped)?;
            }
            plain = i + 1;
        }
        self.0.write_str(&s[plain..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = String::new();
        json_str(&mut Writer::new(&mut out), s).unwrap();
        out
    }

    #[test]
    fn json_strings_round_trip_through_a_json_parser() {
        for s in [
            "plain",
            "a \"quoted\" \\ path",
            "line\nbreak\ttab\r",
            "\u{1}\u{1f}",
            "é ✓",
        ] {
            let back: String = serde_json::from_str(&escaped(s)).unwrap();
            assert_eq!(back, s);
        }
    }
}
