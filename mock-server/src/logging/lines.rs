//! The log's line formats, written straight into the line buffer: text
//! (`TIMESTAMP LEVEL TARGET: MESSAGE key=value ...`) and JSON (one object per line). A request
//! line is the common case, so the formatter is the short path: the timestamp's date and time
//! of day are formatted once per second per thread, values are written without intermediate
//! strings, JSON strings are escaped as they are written.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
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
                w.write_str(match *meta.level() {
                    Level::ERROR => " ERROR ",
                    Level::WARN => "  WARN ",
                    Level::INFO => "  INFO ",
                    Level::DEBUG => " DEBUG ",
                    Level::TRACE => " TRACE ",
                })?;
                w.write_str(meta.target())?;
                w.write_str(": ")?;
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
                w.write_str("\",\"level\":\"")?;
                w.write_str(meta.level().as_str())?;
                w.write_str("\",\"target\":")?;
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
        w.write_str(&cached.1)?;
        let mut micros = *b".000000Z";
        let mut n = now.subsec_micros();
        for digit in micros[1..7].iter_mut().rev() {
            *digit = b'0' + (n % 10) as u8;
            n /= 10;
        }
        w.write_str(std::str::from_utf8(&micros).unwrap_or(".000000Z"))
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
    /// Writes `name=` (nothing for the message), then the value through `value`.
    fn field(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
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
        self.result = self.result.and_then(|()| value(self.w));
    }
}

impl Visit for TextFields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, |w| w.write_str(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, |w| w.write_str(decimal(value, &mut [0; 20])));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.field(field, |w| {
            let mut digits = [0u8; 24];
            match thousandths(value, &mut digits) {
                Some(text) => w.write_str(text),
                None => write!(w, "{value}"),
            }
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field, |w| write!(w, "{value:?}"));
    }
}

/// `n` in decimal, written from the end of `out`.
fn decimal(n: u64, out: &mut [u8; 20]) -> &str {
    let at = digits_before(n, out, 20);
    std::str::from_utf8(&out[at..]).unwrap_or("0")
}

/// Writes the decimal digits of `n` into `out` so that they end at `end`; returns where they
/// start. `out` must have room (20 bytes hold any `u64`).
fn digits_before(mut n: u64, out: &mut [u8], end: usize) -> usize {
    let mut at = end;
    loop {
        at -= 1;
        out[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return at;
        }
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
        self.w.write_str(",\"")?;
        self.w.write_str(field.name())?;
        self.w.write_str("\":")
    }
}

impl Visit for JsonFields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.result = self.name(field).and_then(|()| json_str(self.w, value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.result = self
            .name(field)
            .and_then(|()| self.w.write_str(decimal(value, &mut [0; 20])));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.result = self.name(field).and_then(|()| write!(self.w, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.result = self.name(field).and_then(|()| write!(self.w, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.result = self.name(field).and_then(|()| {
            let mut digits = [0u8; 24];
            match thousandths(value, &mut digits) {
                Some(text) => self.w.write_str(text),
                None if value.is_finite() => write!(self.w, "{value}"),
                None => self.w.write_str("null"),
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

/// A number of thousandths (a duration in milliseconds to the microsecond, as the request
/// line has it) written the way `{value}` writes it (`0.123`, `12.5`, `3`), without the
/// general float formatter; `None` for any other number.
fn thousandths(value: f64, out: &mut [u8; 24]) -> Option<&str> {
    let scaled = (value * 1000.0).round();
    if !(0.0..1e15).contains(&scaled) || scaled / 1000.0 != value {
        return None;
    }
    let mut n = scaled as u64;
    let mut fraction = [b'0'; 3];
    for digit in fraction.iter_mut().rev() {
        *digit = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let mut at = out.len();
    let kept = fraction
        .iter()
        .rposition(|d| *d != b'0')
        .map_or(0, |p| p + 1);
    if kept > 0 {
        at -= kept;
        out[at..at + kept].copy_from_slice(&fraction[..kept]);
        at -= 1;
        out[at] = b'.';
    }
    at = digits_before(n, out, at);
    std::str::from_utf8(&out[at..]).ok()
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
    fn thousandths_read_as_the_float_formatter_writes_them() {
        for micros in [
            0u64,
            1,
            10,
            100,
            123,
            1000,
            1500,
            12_345,
            999_999,
            86_400_000_000,
        ] {
            // As the request line makes it: whole microseconds over 1000.
            let value = micros as f64 / 1e3;
            let mut out = [0u8; 24];
            assert_eq!(
                thousandths(value, &mut out),
                Some(format!("{value}").as_str())
            );
        }
        let mut out = [0u8; 24];
        assert_eq!(thousandths(0.1234, &mut out), None);
        assert_eq!(thousandths(-1.0, &mut out), None);
        assert_eq!(thousandths(f64::NAN, &mut out), None);
    }

    #[test]
    fn decimals_read_as_the_integer_formatter_writes_them() {
        for n in [0, 7, 10, 429, 1_000_000, u64::MAX] {
            assert_eq!(decimal(n, &mut [0; 20]), n.to_string());
        }
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
