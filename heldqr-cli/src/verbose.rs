//! `-v/--verbose`, `-vv` and `HELDQR_DEBUG`: what happened, on stderr, as it happens.
//!
//! A `tracing-subscriber` fmt layer writes every event of the SDK (`heldqr_sdk`, its span per
//! call and event per attempt, wait and retry) and of the CLI itself (`heldqr`) to stderr, one
//! line each, curl `-v` style: `* +0.214s message  field=value …  [span{fields} …]`. The library
//! and the CLI tell the same story because the CLI prints the SDK's own events; it adds none of
//! its own about HTTP. `-v` (or `HELDQR_DEBUG=1`) shows the debug level, `-vv` (or
//! `HELDQR_DEBUG=2`) the trace level and turns on the SDK's opt-in for headers and bodies (see
//! [`Verbosity::bodies`]).
//!
//! A token never appears: the SDK never logs one, and every line is also passed through the
//! run's token mask before it is written (the token's masked form, `hkr_…a3f`, replaces it).

use std::fmt::{self, Write as _};
use std::time::Instant;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use crate::secret::Token;

/// Environment variable that turns on verbose output like `-v` (`1`) or `-vv` (`2`).
pub const ENV_DEBUG: &str = "HELDQR_DEBUG";

/// How much the run tells on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Verbosity(u8);

impl Verbosity {
    /// The larger of `-v` count and `HELDQR_DEBUG` (`1`/`true`/`yes` mean 1, `2` means 2; `0`,
    /// empty or anything else means off).
    pub fn resolve(count: u8, env: Option<&str>) -> Verbosity {
        let from_env = match env.map(str::trim) {
            Some("1" | "true" | "yes" | "on") => 1,
            Some(n) => n.parse::<u8>().unwrap_or(0),
            None => 0,
        };
        Verbosity(count.max(from_env).min(2))
    }

    /// Whether anything extra is printed.
    pub fn is_on(self) -> bool {
        self.0 > 0
    }

    /// `-vv`: headers and bodies too (the SDK's opt-in, token masked).
    pub fn bodies(self) -> bool {
        self.0 >= 2
    }

    fn level(self) -> Level {
        if self.bodies() {
            Level::TRACE
        } else {
            Level::DEBUG
        }
    }
}

/// Installs the stderr subscriber for this run (nothing when verbosity is off). `token` is
/// masked in every line.
pub fn init(verbosity: Verbosity, token: Option<&Token>) {
    if !verbosity.is_on() {
        return;
    }
    let targets = tracing_subscriber::filter::Targets::new()
        .with_target("heldqr_sdk", verbosity.level())
        .with_target("heldqr", verbosity.level());
    let format = Format {
        start: Instant::now(),
        mask: token.filter(|t| !t.is_empty()).cloned(),
    };
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(verbosity.level())
        .with_writer(std::io::stderr)
        .event_format(format)
        .finish();
    use tracing_subscriber::layer::SubscriberExt;
    // Fails only when a subscriber is already set (never in the binary): then keep that one.
    let _ = tracing::subscriber::set_global_default(subscriber.with(targets));
}

/// The line format (see the module docs).
struct Format {
    start: Instant,
    mask: Option<Token>,
}

impl<S, N> FormatEvent<S, N> for Format
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = format_line(self.start.elapsed().as_secs_f64(), event);
        if let Some(scope) = ctx.event_scope() {
            let mut spans = Vec::new();
            for span in scope.from_root() {
                let extensions = span.extensions();
                let fields = extensions
                    .get::<FormattedFields<N>>()
                    .map(|f| f.fields.as_str())
                    .unwrap_or_default();
                spans.push(if fields.is_empty() {
                    span.name().to_string()
                } else {
                    format!("{}{{{fields}}}", span.name())
                });
            }
            if !spans.is_empty() {
                let _ = write!(line, "  [{}]", spans.join(" "));
            }
        }
        let line = self.masked(&line);
        writer.write_str(&crate::output::one_line(&line))?;
        writer.write_char('\n')
    }
}

impl Format {
    fn masked(&self, line: &str) -> String {
        match &self.mask {
            Some(token) if line.contains(token.expose()) => {
                line.replace(token.expose(), &token.masked())
            }
            _ => line.to_string(),
        }
    }
}

/// `* +0.214s message  key=value …` for one event (no spans, no mask).
fn format_line(elapsed_secs: f64, event: &Event<'_>) -> String {
    let mut visitor = Fields::default();
    event.record(&mut visitor);
    let marker = match *event.metadata().level() {
        Level::ERROR | Level::WARN => '!',
        Level::TRACE => '>',
        _ => '*',
    };
    let mut line = format!("{marker} +{elapsed_secs:.3}s {}", visitor.message);
    for (name, value) in &visitor.fields {
        let _ = write!(line, "  {name}={value}");
    }
    line
}

/// An event's message and its other fields, in order.
#[derive(Default)]
struct Fields {
    message: String,
    fields: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        // `%value` fields arrive here as Display text: quote them like strings when needed.
        let text = if field.name() != "message"
            && !text.starts_with('"')
            && text.contains(char::is_whitespace)
        {
            format!("{text:?}")
        } else {
            text
        };
        self.push(field, text);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        // Strings unquoted unless they need it to stay one readable field.
        let value = if value.is_empty() || value.contains(char::is_whitespace) {
            format!("{value:?}")
        } else {
            value.to_string()
        };
        self.push(field, value);
    }
}

impl Fields {
    fn push(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = value;
        } else {
            self.fields.push((field.name(), value));
        }
    }
}

/// Runs `event_fn` under a subscriber with this module's format writing into a buffer, and
/// returns what it wrote (unit tests only: no global state).
#[cfg(test)]
fn render_for_test(event_fn: impl FnOnce()) -> String {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(Level::TRACE)
        .with_writer(move || writer.clone())
        .fmt_fields(tracing_subscriber::fmt::format::DefaultFields::new())
        .event_format(Format {
            start: Instant::now(),
            mask: Some(Token::new("hkr_live_supersecret_a3f9")),
        })
        .finish();
    tracing::subscriber::with_default(subscriber, event_fn);
    let bytes = buf.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_env_pick_the_level() {
        assert!(!Verbosity::resolve(0, None).is_on());
        assert!(!Verbosity::resolve(0, Some("0")).is_on());
        assert!(!Verbosity::resolve(0, Some("")).is_on());
        assert!(Verbosity::resolve(1, None).is_on());
        assert!(!Verbosity::resolve(1, None).bodies());
        assert!(Verbosity::resolve(0, Some("1")).is_on());
        assert!(Verbosity::resolve(0, Some("true")).is_on());
        assert!(Verbosity::resolve(0, Some("2")).bodies());
        assert!(Verbosity::resolve(2, Some("1")).bodies());
        assert_eq!(Verbosity::resolve(9, None), Verbosity::resolve(2, None));
    }

    /// One event as the SDK's per-attempt events look (fields named as a log search would),
    /// inside a span: one line, fields in order, the span's fields after, the token masked.
    #[test]
    fn an_attempt_event_is_one_masked_line() {
        let text = render_for_test(|| {
            let span = tracing::debug_span!(target: "heldqr_sdk", "request", http.method = "POST", url.path = "/api/v1/codes");
            let _entered = span.enter();
            tracing::debug!(
                target: "heldqr_sdk",
                attempt = 2,
                http.status_code = 503,
                idempotency_key = "k-1",
                wait_ms = 400u64,
                reason = "backoff",
                source = %"config file /x y",
                note = "echoed hkr_live_supersecret_a3f9 by mistake",
                "retrying"
            );
        });
        assert_eq!(text.lines().count(), 1, "{text}");
        let line = text.trim_end();
        assert!(line.starts_with("* +"), "{line}");
        assert!(line.contains("s retrying  attempt=2  http.status_code=503  idempotency_key=k-1  wait_ms=400  reason=backoff  source=\"config file /x y\""), "{line}");
        assert!(
            line.contains("[request{http.method=\"POST\" url.path=\"/api/v1/codes\"}]"),
            "{line}"
        );
        assert!(!line.contains("supersecret"), "{line}");
        assert!(line.contains("hkr_…a3f9"), "{line}");
    }

    #[test]
    fn trace_lines_are_marked_as_wire_detail() {
        let text = render_for_test(|| {
            tracing::trace!(target: "heldqr_sdk", body = "{\"a\": 1}", "response body");
        });
        assert!(text.starts_with("> +"), "{text}");
        assert!(text.contains("body=\"{\\\"a\\\": 1}\""), "{text}");
    }
}
