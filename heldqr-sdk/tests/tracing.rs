//! What the SDK tells `tracing`: a capturing subscriber records every span and event with its
//! fields, and the tests pin names, levels and fields, and that the token is never among them.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use heldqr_sdk::RetryPolicy;
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

type Fields = BTreeMap<String, String>;

#[derive(Debug, Clone)]
struct Captured {
    kind: &'static str,
    name: String,
    target: String,
    level: Level,
    fields: Fields,
}

#[derive(Clone, Default)]
struct Capture {
    spans: Arc<Mutex<BTreeMap<u64, Captured>>>,
    events: Arc<Mutex<Vec<Captured>>>,
}

struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut fields = Fields::new();
        attrs.record(&mut Collect(&mut fields));
        self.spans.lock().unwrap().insert(
            id.into_u64(),
            Captured {
                kind: "span",
                name: attrs.metadata().name().to_owned(),
                target: attrs.metadata().target().to_owned(),
                level: *attrs.metadata().level(),
                fields,
            },
        );
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        if let Some(span) = self.spans.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut Collect(&mut span.fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields::new();
        event.record(&mut Collect(&mut fields));
        self.events.lock().unwrap().push(Captured {
            kind: "event",
            name: fields.get("message").cloned().unwrap_or_default(),
            target: event.metadata().target().to_owned(),
            level: *event.metadata().level(),
            fields,
        });
    }
}

impl Capture {
    fn spans(&self) -> Vec<Captured> {
        self.spans.lock().unwrap().values().cloned().collect()
    }
    fn events(&self) -> Vec<Captured> {
        self.events.lock().unwrap().clone()
    }
    fn events_named(&self, name: &str) -> Vec<Captured> {
        self.events()
            .into_iter()
            .filter(|e| e.name == name)
            .collect()
    }
    /// Every recorded text, for the token check.
    fn all_text(&self) -> String {
        self.spans()
            .into_iter()
            .chain(self.events())
            .map(|c| format!("{} {} {:?}", c.kind, c.name, c.fields))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Runs `f` with a capturing subscriber as the default for this (current-thread) test.
fn capture() -> (Capture, tracing::subscriber::DefaultGuard) {
    let capture = Capture::default();
    let guard = tracing::subscriber::set_default(Registry::default().with(capture.clone()));
    (capture, guard)
}

fn policy() -> RetryPolicy {
    RetryPolicy::default()
        .max_retries(2)
        .initial_backoff(Duration::from_millis(100))
        .jitter(false)
}

#[tokio::test(start_paused = true)]
async fn one_span_per_call_and_one_event_per_attempt_and_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(error(500, "internal_error"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            created("menu-v3")
                .insert_header("x-request-id", "req_42")
                .insert_header("x-ratelimit-limit", "600")
                .insert_header("x-ratelimit-remaining", "598")
                .insert_header("x-ratelimit-reset", "1770000000"),
        )
        .with_priority(5)
        .mount(&server)
        .await;
    let client = client_with(&server.uri(), policy());
    let (capture, _guard) = capture();
    client
        .codes()
        .create("https://example.com/menu")
        .idempotency_key("trace-key-1")
        .send()
        .await
        .unwrap();

    let spans = capture.spans();
    assert_eq!(spans.len(), 1, "{spans:?}");
    let span = &spans[0];
    assert_eq!(span.name, "heldqr.call");
    assert_eq!(span.level, Level::INFO);
    let f = &span.fields;
    assert_eq!(f["operation"], "codes.create");
    assert_eq!(f["http.method"], "POST");
    assert_eq!(f["url.path"], "/api/v1/codes");
    assert_eq!(f["idempotency_key"], "trace-key-1");
    assert_eq!(f["attempts"], "2");
    assert_eq!(f["http.status_code"], "201");
    assert_eq!(f["request_id"], "req_42");
    assert!(f.contains_key("elapsed_ms"), "{f:?}");

    let failed = capture.events_named("attempt failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].level, Level::DEBUG);
    assert_eq!(failed[0].fields["attempt"], "1");
    assert_eq!(failed[0].fields["http.status_code"], "500");
    assert!(failed[0].fields["error"].contains("internal_error"));

    let retrying = capture.events_named("retrying");
    assert_eq!(retrying.len(), 1);
    assert_eq!(retrying[0].level, Level::DEBUG);
    assert_eq!(retrying[0].fields["delay_ms"], "100");
    assert_eq!(retrying[0].fields["reason"], "backoff");

    let succeeded = capture.events_named("attempt succeeded");
    assert_eq!(succeeded.len(), 1);
    assert_eq!(succeeded[0].fields["attempt"], "2");
    assert_eq!(succeeded[0].fields["http.status_code"], "201");
    // The budget the answer stated; the 500 stated none.
    assert_eq!(succeeded[0].fields["rate_limit_remaining"], "598");
    assert!(!failed[0].fields.contains_key("rate_limit_remaining"));

    // One target for the crate's spans and events (`heldqr_sdk=debug` in a filter), not the
    // path of the module that emits them.
    for captured in [span, &failed[0], &retrying[0], &succeeded[0]] {
        assert_eq!(captured.target, "heldqr_sdk", "{captured:?}");
    }

    assert!(capture.events_named("giving up").is_empty());
    assert!(capture.events_named("body").is_empty(), "bodies are opt-in");
    assert!(
        capture.events_named("headers").is_empty(),
        "headers are opt-in"
    );
    assert!(!capture.all_text().contains(TOKEN));
}

#[tokio::test(start_paused = true)]
async fn giving_up_on_a_retryable_failure_is_a_warning_with_the_reason() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(error(503, "service_unavailable"))
        .mount(&server)
        .await;
    let client = client_with(&server.uri(), policy());
    let (capture, _guard) = capture();
    let err = client.codes().get("menu-v3").send().await.unwrap_err();
    assert_eq!(err.attempts(), 3);
    let warnings = capture.events_named("giving up");
    assert_eq!(warnings.len(), 1, "{:?}", capture.events());
    let w = &warnings[0];
    assert_eq!(w.level, Level::WARN);
    assert_eq!(w.fields["attempts"], "3");
    assert_eq!(w.fields["reason"], "retries exhausted");
    assert_eq!(w.fields["operation"], "codes.get");
    assert_eq!(w.fields["url.path"], "/api/v1/codes/menu-v3");
    assert_eq!(capture.events_named("retrying").len(), 2);
    assert_eq!(capture.spans()[0].fields["http.status_code"], "503");

    // A permanent error is an answer, not a give-up: no warning.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(error(404, "not_found"))
        .mount(&server)
        .await;
    let before = capture.events_named("giving up").len();
    let err = client_with(&server.uri(), policy())
        .codes()
        .get("gone")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 1);
    assert_eq!(capture.events_named("giving up").len(), before);
}

#[tokio::test(start_paused = true)]
async fn pacing_waits_are_events_with_how_long() {
    let server = MockServer::start().await;
    let reset = unix_now() + 3;
    Mock::given(method("GET"))
        .respond_with(spent_budget(5, reset))
        .mount(&server)
        .await;
    let client = paced_client(&server.uri(), TOKEN);
    let (capture, _guard) = capture();
    client.codes().get("menu-v3").send().await.unwrap();
    client.codes().get("menu-v3").send().await.unwrap();
    let waits = capture.events_named("waiting for the rate-limit budget");
    assert_eq!(waits.len(), 1, "{:?}", capture.events());
    assert_eq!(waits[0].level, Level::DEBUG);
    let wait_ms: u64 = waits[0].fields["wait_ms"].parse().unwrap();
    assert!((1000..=3000).contains(&wait_ms), "{wait_ms}");
    assert!(waits[0].fields["reason"].contains("no credit"));
}

#[tokio::test(start_paused = true)]
async fn bodies_only_with_the_opt_in_at_trace_with_the_token_masked() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(422)
                .insert_header("x-echo", format!("Bearer {TOKEN}").as_str())
                .set_body_json(json!({"error": {
                    "code": "validation_failed",
                    "message": format!("echo {TOKEN}"),
                }})),
        )
        .mount(&server)
        .await;
    let logging = heldqr_sdk::Client::builder()
        .token(TOKEN)
        .base_url(server.uri())
        .no_timeout()
        .http_client(http())
        .log_bodies(true)
        .build()
        .unwrap();
    let (capture, _guard) = capture();
    logging
        .codes()
        .create(format!("https://example.com/?t={TOKEN}"))
        .send()
        .await
        .unwrap_err();
    let bodies = capture.events_named("body");
    assert_eq!(bodies.len(), 2, "{:?}", capture.events());
    assert!(bodies.iter().all(|b| b.level == Level::TRACE));
    assert_eq!(bodies[0].fields["direction"], "request");
    assert!(bodies[0].fields["body"].contains("https://example.com/?t=[redacted]"));
    assert_eq!(bodies[1].fields["direction"], "response");
    assert!(bodies[1].fields["body"].contains("echo [redacted]"));
    // Headers too, both ways, the credential and any echo of the token masked.
    let headers = capture.events_named("headers");
    assert_eq!(headers.len(), 2, "{:?}", capture.events());
    assert!(headers.iter().all(|h| h.level == Level::TRACE));
    assert_eq!(headers[0].fields["direction"], "request");
    let request = &headers[0].fields["headers"];
    assert!(request.contains("authorization: [redacted]"), "{request}");
    assert!(request.contains("idempotency-key: "), "{request}");
    assert!(
        request.contains("content-type: application/json"),
        "{request}"
    );
    assert_eq!(headers[1].fields["direction"], "response");
    assert!(headers[1].fields["headers"].contains("x-echo: Bearer [redacted]"));
    assert!(
        !capture.all_text().contains(TOKEN),
        "{}",
        capture.all_text()
    );
}

// Real time (about 1 s): see retries.rs, a_deadline_stops_retries_that_could_not_finish_in_time.
#[tokio::test]
async fn a_deadline_that_stops_retries_says_so() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(error(503, "service_unavailable"))
        .mount(&server)
        .await;
    let client = client_with(
        &server.uri(),
        RetryPolicy::default()
            .max_retries(10)
            .initial_backoff(Duration::from_secs(1))
            .jitter(false),
    );
    let (capture, _guard) = capture();
    let err = client
        .codes()
        .get("menu-v3")
        .deadline(Duration::from_millis(2500))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 2);
    let warnings = capture.events_named("giving up");
    assert_eq!(warnings.len(), 1, "{:?}", capture.events());
    assert_eq!(
        warnings[0].fields["reason"],
        "deadline would pass before the next attempt"
    );
    assert_eq!(warnings[0].fields["attempts"], "2");
}

// Real time (the first request is held for an hour by the server's delay). A try that the
// deadline stopped before it went on the wire is told apart from an attempt, and numbered as
// `attempts` counts: only what was sent.
#[tokio::test]
async fn a_try_stopped_before_it_went_is_not_an_attempt() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ok_code("slow").set_delay(Duration::from_secs(3600)))
        .mount(&server)
        .await;
    let client = paced_client(&server.uri(), TOKEN);
    let (capture, _guard) = capture();
    let first = start_first_request(&client).await;
    let err = get_within(&client, Duration::from_millis(200)).await;
    assert_eq!(err.attempts(), 0);
    let not_sent = capture.events_named("attempt not sent");
    assert_eq!(not_sent.len(), 1, "{:?}", capture.events());
    assert_eq!(not_sent[0].fields["attempt"], "1");
    assert!(capture.events_named("attempt failed").is_empty());
    first.abort();
}
