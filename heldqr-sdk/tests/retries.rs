//! Every retry path, pinned against wiremock (and a raw TCP server for dropped connections).
//! Time is tokio's paused clock: sleeps cost nothing and elapsed virtual time is exact.

mod common;

use std::time::Duration;

use common::*;
use heldqr_sdk::{Error, ErrorCode, RetryPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn mount_once(server: &MockServer, verb: &str, route: &str, response: ResponseTemplate) {
    Mock::given(method(verb))
        .and(path(route))
        .respond_with(response)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
}

async fn mount_always(server: &MockServer, verb: &str, route: &str, response: ResponseTemplate) {
    Mock::given(method(verb))
        .and(path(route))
        .respond_with(response)
        .with_priority(10)
        .mount(server)
        .await;
}

#[tokio::test(start_paused = true)]
async fn rate_limited_then_success_waits_exactly_retry_after() {
    let server = MockServer::start().await;
    mount_once(
        &server,
        "POST",
        "/api/v1/codes",
        error(429, "rate_limited")
            .insert_header("retry-after", "7")
            .insert_header("x-ratelimit-limit", "600")
            .insert_header("x-ratelimit-remaining", "0")
            .insert_header("x-ratelimit-reset", unix_now().to_string().as_str()),
    )
    .await;
    mount_always(&server, "POST", "/api/v1/codes", created("menu-v3")).await;

    let start = Instant::now();
    let code = client(&server.uri())
        .codes()
        .create("https://example.com/menu")
        .send()
        .await
        .unwrap();
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(7) && waited < Duration::from_millis(7050),
        "{waited:?}"
    );
    assert_eq!(code.shortcode, "menu-v3");
    assert_eq!(code.meta().attempts, 2);
    let keys = keys(&server).await;
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1]);
    assert_eq!(keys[0], code.meta().idempotency_key);
}

#[tokio::test(start_paused = true)]
async fn http_date_retry_after_is_honoured() {
    let server = MockServer::start().await;
    let at = std::time::SystemTime::now() + Duration::from_secs(10);
    mount_once(
        &server,
        "GET",
        "/api/v1/codes/menu-v3",
        error(429, "rate_limited")
            .insert_header("retry-after", httpdate::fmt_http_date(at).as_str()),
    )
    .await;
    mount_always(&server, "GET", "/api/v1/codes/menu-v3", ok_code("menu-v3")).await;

    let start = Instant::now();
    let code = client(&server.uri())
        .codes()
        .get("menu-v3")
        .send()
        .await
        .unwrap();
    let waited = start.elapsed();
    // HTTP-dates have whole-second resolution, so the wait is 9-10 s.
    assert!(
        waited >= Duration::from_secs(8) && waited <= Duration::from_secs(10),
        "{waited:?}"
    );
    assert_eq!(code.meta().attempts, 2);
}

#[tokio::test(start_paused = true)]
async fn retry_after_beyond_the_maximum_is_returned_at_once() {
    let server = MockServer::start().await;
    mount_always(
        &server,
        "POST",
        "/api/v1/codes",
        error(429, "rate_limited").insert_header("retry-after", "99999999"),
    )
    .await;

    let start = Instant::now();
    let err = client(&server.uri())
        .codes()
        .create("https://example.com/menu")
        .idempotency_key("bulk-17")
        .send()
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), Duration::ZERO, "must not sleep");
    assert_eq!(keys(&server).await.len(), 1);
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.code(), Some(&ErrorCode::RateLimited));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(99_999_999)));
    assert_eq!(err.idempotency_key(), Some("bulk-17"));
    assert!(err.is_retryable());
}

#[tokio::test(start_paused = true)]
async fn absurd_retry_after_values_fall_back_to_backoff() {
    for value in ["-5", "garbage", "1.5", "999999999999999999999999999"] {
        let server = MockServer::start().await;
        mount_once(
            &server,
            "GET",
            "/api/v1/codes/menu-v3",
            error(429, "rate_limited").insert_header("retry-after", value),
        )
        .await;
        mount_always(&server, "GET", "/api/v1/codes/menu-v3", ok_code("menu-v3")).await;
        let start = Instant::now();
        let code = client(&server.uri())
            .codes()
            .get("menu-v3")
            .send()
            .await
            .unwrap();
        assert_eq!(code.meta().attempts, 2, "{value}");
        // The first backoff step (200 ms, unjittered here).
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(200) && waited < Duration::from_millis(250),
            "{value}: {waited:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn server_errors_then_success_back_off_exponentially() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/codes/menu-v3"))
        .respond_with(error(500, "internal_error"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_always(&server, "GET", "/api/v1/codes/menu-v3", ok_code("menu-v3")).await;

    let start = Instant::now();
    let code = client(&server.uri())
        .codes()
        .get("menu-v3")
        .send()
        .await
        .unwrap();
    assert_eq!(code.meta().attempts, 3);
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(600) && waited < Duration::from_millis(650),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn jittered_backoff_never_exceeds_the_exponential_step() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(error(503, "service_unavailable"))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_always(&server, "GET", "/api/v1/codes/menu-v3", ok_code("menu-v3")).await;
    let start = Instant::now();
    let code = client_with(&server.uri(), RetryPolicy::default())
        .codes()
        .get("menu-v3")
        .send()
        .await
        .unwrap();
    assert_eq!(code.meta().attempts, 4);
    assert!(start.elapsed() <= Duration::from_millis(200 + 400 + 800));
}

#[tokio::test(start_paused = true)]
async fn service_unavailable_exhausts_retries() {
    let server = MockServer::start().await;
    mount_always(
        &server,
        "POST",
        "/api/v1/codes",
        error(503, "service_unavailable"),
    )
    .await;

    let err = client(&server.uri())
        .codes()
        .create("https://example.com/menu")
        .send()
        .await
        .unwrap_err();
    let keys = keys(&server).await;
    assert_eq!(keys.len(), 4, "first attempt + 3 retries");
    assert!(keys.iter().all(|k| k == &keys[0]));
    let api = err.api().unwrap();
    assert_eq!(api.status, 503);
    assert_eq!(api.code, ErrorCode::ServiceUnavailable);
    assert_eq!(api.attempts, 4);
    assert_eq!(err.idempotency_key(), keys[0].as_deref());
    assert!(err.is_retryable());
}

#[tokio::test(start_paused = true)]
async fn unknown_error_code_is_retried_on_the_same_key() {
    let server = MockServer::start().await;
    mount_once(
        &server,
        "POST",
        "/api/v1/codes",
        error(400, "quota_recalculating"),
    )
    .await;
    mount_always(&server, "POST", "/api/v1/codes", created("k3x9q2a")).await;

    let code = client(&server.uri())
        .codes()
        .create("https://example.com/menu")
        .send()
        .await
        .unwrap();
    let keys = keys(&server).await;
    assert_eq!(keys.len(), 2);
    let first = keys[0].clone().expect("a create always carries a key");
    assert_eq!(keys[1].as_deref(), Some(first.as_str()));
    // The generated key is a UUIDv4.
    assert_eq!(first.len(), 36);
    assert_eq!(first.as_bytes()[14], b'4');
    assert_eq!(code.meta().idempotency_key.as_deref(), Some(first.as_str()));
}

#[tokio::test(start_paused = true)]
async fn conflict_is_not_retried() {
    let server = MockServer::start().await;
    mount_always(
        &server,
        "POST",
        "/api/v1/codes",
        error(409, "idempotency_key_conflict"),
    )
    .await;

    let err = client(&server.uri())
        .codes()
        .create("https://example.com/other")
        .idempotency_key("5e3d40a2-9b87-4c12-a3e3-6f8d1f9c2b0a")
        .send()
        .await
        .unwrap_err();
    assert_eq!(keys(&server).await.len(), 1);
    assert_eq!(err.code(), Some(&ErrorCode::IdempotencyKeyConflict));
    assert_eq!(
        err.idempotency_key(),
        Some("5e3d40a2-9b87-4c12-a3e3-6f8d1f9c2b0a")
    );
    assert!(!err.is_retryable());
}

#[tokio::test(start_paused = true)]
async fn known_client_errors_are_returned_at_once() {
    for (status, code, expected) in [
        (400, "invalid_parameter", ErrorCode::InvalidParameter),
        (401, "unauthorized", ErrorCode::Unauthorized),
        (404, "not_found", ErrorCode::NotFound),
        (409, "shortcode_taken", ErrorCode::ShortcodeTaken),
        (422, "validation_failed", ErrorCode::ValidationFailed),
    ] {
        let server = MockServer::start().await;
        mount_always(&server, "GET", "/api/v1/codes/menu-v3", error(status, code)).await;
        let err = client(&server.uri())
            .codes()
            .get("menu-v3")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(&expected));
        assert_eq!(err.status(), Some(status));
        assert_eq!(server.received_requests().await.unwrap().len(), 1, "{code}");
    }
}

#[tokio::test(start_paused = true)]
async fn retries_none_makes_one_attempt() {
    let server = MockServer::start().await;
    mount_always(
        &server,
        "GET",
        "/api/v1/codes/menu-v3",
        error(500, "internal_error"),
    )
    .await;
    let err = client_with(&server.uri(), RetryPolicy::none())
        .codes()
        .get("menu-v3")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.api().unwrap().attempts, 1);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

// Real time: with a paused clock the timeout would fire while the request is still connecting.
#[tokio::test]
async fn timeouts_are_retried_then_reported_with_the_key() {
    let server = MockServer::start().await;
    mount_always(
        &server,
        "POST",
        "/api/v1/codes",
        created("late").set_delay(Duration::from_secs(3600)),
    )
    .await;
    let client = heldqr_sdk::Client::builder()
        .token(TOKEN)
        .base_url(server.uri())
        .timeout(Duration::from_secs(2))
        .http_client(http())
        .retry_policy(
            RetryPolicy::default()
                .max_retries(1)
                .initial_backoff(Duration::from_millis(10)),
        )
        .build()
        .unwrap();
    let err = client
        .codes()
        .create("https://example.com/menu")
        .idempotency_key("slow-1")
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                attempts: 2,
                deadline_exceeded: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("2 attempt"), "{err}");
    assert_eq!(err.idempotency_key(), Some("slow-1"));
    assert!(err.is_retryable());
    assert_eq!(keys(&server).await, vec![Some("slow-1".to_owned()); 2]);
}

// Real time, as above.
#[tokio::test]
async fn a_per_call_timeout_overrides_the_clients() {
    let server = MockServer::start().await;
    mount_always(
        &server,
        "GET",
        "/api/v1/codes/slow",
        ok_code("slow").set_delay(Duration::from_secs(3600)),
    )
    .await;
    // The client would wait an hour per attempt and retry three times.
    let client = heldqr_sdk::Client::builder()
        .token(TOKEN)
        .base_url(server.uri())
        .timeout(Duration::from_secs(3600))
        .http_client(http())
        .build()
        .unwrap();
    let err = client
        .codes()
        .get("slow")
        .timeout(Duration::from_millis(200))
        .retry_policy(
            RetryPolicy::default()
                .max_retries(2)
                .initial_backoff(Duration::from_millis(1)),
        )
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert_eq!(err.attempts(), 3);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

// Real time: the deadline cuts an attempt that would otherwise wait an hour.
#[tokio::test]
async fn a_deadline_cuts_the_attempt_in_flight() {
    let server = MockServer::start().await;
    mount_always(
        &server,
        "GET",
        "/api/v1/codes/slow",
        ok_code("slow").set_delay(Duration::from_secs(3600)),
    )
    .await;
    let client = heldqr_sdk::Client::builder()
        .token(TOKEN)
        .base_url(server.uri())
        .timeout(Duration::from_secs(3600))
        .deadline(Duration::from_millis(300))
        .http_client(http())
        .build()
        .unwrap();
    let err = client.codes().get("slow").send().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                attempts: 1,
                deadline_exceeded: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("deadline"), "{err}");
}

// Real time: the first request of a paced client is in flight for an hour, so the pacer does
// not know the budget yet. A second call with a short deadline waits for that answer only as
// long as its deadline allows, then stops without sending.
#[tokio::test]
async fn a_deadline_bounds_the_wait_for_another_request_to_report_the_budget() {
    let server = MockServer::start().await;
    mount_always(
        &server,
        "GET",
        "/api/v1/codes/slow",
        ok_code("slow").set_delay(Duration::from_secs(3600)),
    )
    .await;
    mount_always(&server, "GET", "/api/v1/codes/menu-v3", ok_code("menu-v3")).await;
    let client = paced_client(&server.uri(), TOKEN);
    let first = start_first_request(&client).await;
    let err = get_within(&client, Duration::from_millis(300)).await;
    assert!(
        matches!(
            err,
            Error::Timeout {
                attempts: 0,
                deadline_exceeded: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    first.abort();
}

// Real time: with a paused clock the deadline's timer on each attempt could fire while the
// request is still on its way (the clock jumps when the runtime idles on I/O). About 1 s.
#[tokio::test]
async fn a_deadline_stops_retries_that_could_not_finish_in_time() {
    let server = MockServer::start().await;
    mount_always(
        &server,
        "GET",
        "/api/v1/codes/menu-v3",
        error(503, "service_unavailable"),
    )
    .await;
    let client = client_with(
        &server.uri(),
        RetryPolicy::default()
            .max_retries(10)
            .initial_backoff(Duration::from_secs(1))
            .jitter(false),
    );
    // Attempt at 0 s, backoff 1 s, attempt at 1 s; the next backoff (2 s) would pass 2.5 s,
    // so the call returns the last answer instead of sleeping past its deadline.
    let err = client
        .codes()
        .get("menu-v3")
        .deadline(Duration::from_millis(2500))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503), "{err:?}");
    assert_eq!(err.attempts(), 2);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn per_call_retry_settings_override_the_clients_for_that_call_only() {
    let server = MockServer::start().await;
    mount_always(
        &server,
        "GET",
        "/api/v1/codes/menu-v3",
        error(500, "internal_error"),
    )
    .await;
    let client = client(&server.uri()); // 3 retries
    let err = client
        .codes()
        .get("menu-v3")
        .max_retries(0)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 1);
    let err = client
        .codes()
        .get("menu-v3")
        .retry_policy(RetryPolicy::default().max_retries(1).jitter(false))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 2);
    // max_retries applies on top of a per-call policy too.
    let err = client
        .codes()
        .get("menu-v3")
        .retry_policy(RetryPolicy::none())
        .max_retries(4)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 5);
    // The client's own policy is untouched.
    let err = client.codes().get("menu-v3").send().await.unwrap_err();
    assert_eq!(err.attempts(), 4);
    assert_eq!(client.retry_policy().max_retries, 3);
    // Every builder has the options: raw calls too.
    let err = client
        .request(heldqr_sdk::reqwest::Method::GET, "/api/v1/codes/menu-v3")
        .max_retries(0)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 1);
}

/// Answers the first connection by closing it after reading the request (a reset from the
/// client's point of view), and every later one with `201` and a code. Returns the base URL
/// and a receiver of the Idempotency-Key of every request read.
async fn dropping_server() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut connection = 0;
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            connection += 1;
            let request = read_request(&mut socket).await;
            let key = request
                .lines()
                .find_map(|l| l.strip_prefix("idempotency-key: "))
                .unwrap_or("")
                .to_owned();
            let _ = tx.send(key);
            if connection == 1 {
                drop(socket);
                continue;
            }
            let body = serde_json::json!({ "data": code_json("reset-ok") }).to_string();
            let response = format!(
                "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                body.len(),
                body
            );
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    (base, rx)
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = socket.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_lowercase();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                break;
            }
        }
    }
    String::from_utf8_lossy(&buf).to_lowercase()
}

#[tokio::test(start_paused = true)]
async fn dropped_connection_then_success_reuses_the_key() {
    let (base, mut seen) = dropping_server().await;
    let code = client(&base)
        .codes()
        .create("https://example.com/menu")
        .send()
        .await
        .unwrap();
    assert_eq!(code.shortcode, "reset-ok");
    assert_eq!(code.meta().attempts, 2);
    let first = seen.recv().await.unwrap();
    let second = seen.recv().await.unwrap();
    assert!(!first.is_empty());
    assert_eq!(first, second);
    assert_eq!(code.meta().idempotency_key.as_deref(), Some(first.as_str()));
}

#[tokio::test(start_paused = true)]
async fn connection_refused_is_a_transport_error_with_the_key() {
    // Bind then drop a listener to get a port nothing listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let err = client_with(
        &format!("http://127.0.0.1:{port}"),
        RetryPolicy::default().max_retries(2),
    )
    .codes()
    .create("https://example.com/menu")
    .idempotency_key("refused-1")
    .send()
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::Transport { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("3 attempt"), "{err}");
    assert_eq!(err.idempotency_key(), Some("refused-1"));
    assert!(err.is_retryable());
    assert!(!format!("{err:?}{err}").contains(TOKEN));
}

/// A server whose first two creates answer 503, then 201 `menu-v3`.
async fn two_503s_then_created() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/codes"))
        .respond_with(error(503, "service_unavailable"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_always(&server, "POST", "/api/v1/codes", created("menu-v3")).await;
    server
}

#[tokio::test(start_paused = true)]
async fn on_send_is_told_each_attempt_as_it_goes_out() {
    let server = two_503s_then_created().await;
    let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&sent);
    let code = client(&server.uri())
        .codes()
        .create("https://example.com/menu")
        .on_send(move |attempt| seen.lock().unwrap().push(attempt))
        .send()
        .await
        .unwrap();
    assert_eq!(code.meta().attempts, 3);
    assert_eq!(*sent.lock().unwrap(), vec![1, 2, 3]);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn on_retry_is_told_each_failed_attempt_that_is_retried() {
    let server = two_503s_then_created().await;
    let retried = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&retried);
    client(&server.uri())
        .codes()
        .create("https://example.com/menu")
        .on_retry(move |attempt, error, wait| {
            seen.lock().unwrap().push((attempt, error.status(), wait))
        })
        .send()
        .await
        .unwrap();
    // The unjittered backoff of the test client: 200 ms, then 400 ms.
    let retried: Vec<(u32, Option<u16>, u128)> = retried
        .lock()
        .unwrap()
        .iter()
        .map(|(attempt, status, wait)| (*attempt, *status, wait.as_millis()))
        .collect();
    assert_eq!(retried, vec![(1, Some(503), 200), (2, Some(503), 400)]);

    // Not for the last failure (the call returns it), nor for one that is not retried.
    let server = MockServer::start().await;
    mount_always(
        &server,
        "POST",
        "/api/v1/codes",
        error(422, "validation_failed"),
    )
    .await;
    let retried = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let seen = std::sync::Arc::clone(&retried);
    let err = client(&server.uri())
        .codes()
        .create("https://example.com/menu")
        .on_retry(move |_, _, _| {
            seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422));
    assert_eq!(retried.load(std::sync::atomic::Ordering::Relaxed), 0);
}

#[tokio::test(start_paused = true)]
async fn on_retry_hears_a_5xx_before_the_429_the_call_ends_with() {
    // The create may have been committed by the 500'd attempt (the API says to retry it on
    // the same key), then every retry is rate-limited: the call returns the 429, and only
    // the hook tells a caller that an earlier attempt may have gone through.
    let server = MockServer::start().await;
    mount_once(
        &server,
        "POST",
        "/api/v1/codes",
        error(500, "internal_error"),
    )
    .await;
    mount_always(
        &server,
        "POST",
        "/api/v1/codes",
        error(429, "rate_limited").insert_header("retry-after", "1"),
    )
    .await;
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&heard);
    let err = client(&server.uri())
        .codes()
        .create("https://example.com/menu")
        .max_retries(2)
        .on_retry(move |attempt, error, _| seen.lock().unwrap().push((attempt, error.status())))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.attempts(), 3);
    assert_eq!(*heard.lock().unwrap(), vec![(1, Some(500)), (2, Some(429))]);
}

#[tokio::test(start_paused = true)]
async fn a_call_dropped_while_pacing_never_ran_on_send() {
    // The budget is spent until a reset a few seconds away: a paced call waits for it
    // without sending, and dropping the call then leaves nothing sent and the hook unrun.
    let server = MockServer::start().await;
    let reset = unix_now() + 5;
    Mock::given(method("GET"))
        .respond_with(spent_budget(1, reset))
        .mount(&server)
        .await;
    let client = paced_client(&server.uri(), TOKEN);
    client.codes().get("menu-v3").send().await.unwrap();
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let seen = std::sync::Arc::clone(&sent);
    let call = client
        .codes()
        .get("menu-v3")
        .on_send(move |attempt| seen.store(attempt, std::sync::atomic::Ordering::Relaxed))
        .send();
    let dropped = tokio::time::timeout(Duration::from_secs(1), call).await;
    assert!(
        dropped.is_err(),
        "the call should still be waiting for the budget"
    );
    assert_eq!(sent.load(std::sync::atomic::Ordering::Relaxed), 0);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

// On the real clock: under a paused one the attempt's own timeout (the deadline's 2 s) would
// fire while the runtime waits for the server. Nothing here waits.
#[tokio::test]
async fn a_retry_after_beyond_any_instant_under_a_deadline_returns_the_429() {
    // The policy accepts any wait; the server asks for u64::MAX seconds. The deadline cannot
    // be met, so the 429 comes back (it once overflowed an `Instant` and panicked).
    let server = MockServer::start().await;
    mount_always(
        &server,
        "GET",
        "/api/v1/codes/menu-v3",
        error(429, "rate_limited").insert_header("retry-after", "18446744073709551615"),
    )
    .await;
    let err = client_with(
        &server.uri(),
        RetryPolicy::default().max_retry_after(Duration::MAX),
    )
    .codes()
    .get("menu-v3")
    .deadline(Duration::from_secs(2))
    .send()
    .await
    .unwrap_err();
    assert_eq!(err.status(), Some(429), "{err:?}");
    assert_eq!(err.attempts(), 1);
}

#[tokio::test]
async fn a_deadline_spent_before_sending_reports_no_attempt() {
    let server = MockServer::start().await;
    mount_always(&server, "GET", "/api/v1/codes/menu-v3", ok_code("menu-v3")).await;
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let seen = std::sync::Arc::clone(&sent);
    let err = client(&server.uri())
        .codes()
        .get("menu-v3")
        .deadline(Duration::ZERO)
        .on_send(move |n| seen.store(n, std::sync::atomic::Ordering::Relaxed))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                deadline_exceeded: true,
                ..
            }
        ),
        "{err:?}"
    );
    // Nothing went out: no attempt counted, the hook never ran, the server saw nothing.
    assert_eq!(err.attempts(), 0);
    assert_eq!(sent.load(std::sync::atomic::Ordering::Relaxed), 0);
    assert!(server.received_requests().await.unwrap().is_empty());
}
