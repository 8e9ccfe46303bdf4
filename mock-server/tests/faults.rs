//! Fault injection: each fault kind does what `--help` says, on `/api/v1` only; drops happen
//! after the create was committed; the same seed replays the same faults; off means off.

mod common;

use std::io::ErrorKind;
use std::process::Stdio;
use std::time::Duration;

use axum::http::Method;
use common::{Mock, PRO};
use heldqr_mock::{
    DEV_TOKEN_PRO, FaultConfig, MockConfig, MockServer, UNKNOWN_CODE, UNKNOWN_CODE_STATUS,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::Command;

const CREATE: &str = r#"{"target_url": "https://example.com/menu"}"#;

/// Sends one create on a fresh connection and reads until the server closes it.
async fn raw_create(base: &str) -> std::io::Result<Vec<u8>> {
    let addr = base.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(addr).await?;
    let req = format!(
        "POST /api/v1/codes HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {DEV_TOKEN_PRO}\r\n\
         Content-Type: application/json\r\nIdempotency-Key: k-1\r\nContent-Length: {}\r\n\r\n{CREATE}",
        CREATE.len()
    );
    stream.write_all(req.as_bytes()).await?;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut out))
        .await
        .expect("the server answers or drops within 30 s")?;
    Ok(out)
}

async fn server(faults: FaultConfig) -> MockServer {
    MockServer::start(MockConfig::default().seed(1).faults(faults))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_dropped_connection_closes_cleanly_after_the_create_was_committed() {
    let server = server(FaultConfig::new().seed(3).drop_after_commit(1.0)).await;
    let out = raw_create(server.base_url())
        .await
        .expect("a clean close, no error");
    assert!(
        out.is_empty(),
        "no response at all: {:?}",
        String::from_utf8_lossy(&out)
    );
    assert_eq!(server.state().code_count(), 1, "the create was committed");
    assert_eq!(server.state().idempotency_key_count(), 1);
    assert_eq!(server.state().fault_counts().dropped, 1);

    // Faults off: the same key replays the committed code.
    server.state().set_faults_enabled(false);
    let out = String::from_utf8(raw_create(server.base_url()).await.unwrap()).unwrap();
    assert!(out.starts_with("HTTP/1.1 201"), "{out}");
    assert!(
        out.to_ascii_lowercase().contains("idempotent-replay: true"),
        "{out}"
    );
    assert_eq!(server.state().code_count(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_reset_connection_is_a_real_tcp_reset_after_the_create_was_committed() {
    let server = server(FaultConfig::new().reset_after_commit(1.0)).await;
    let err = raw_create(server.base_url())
        .await
        .expect_err("the read fails with a reset");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    assert_eq!(server.state().code_count(), 1, "the create was committed");
    assert_eq!(server.state().fault_counts().reset, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn injected_errors_commit_nothing_and_use_the_envelope() {
    let cases = [
        (
            FaultConfig::new().internal_error(1.0),
            500,
            "internal_error",
        ),
        (
            FaultConfig::new().service_unavailable(1.0),
            503,
            "service_unavailable",
        ),
        (
            FaultConfig::new().unknown_code(1.0),
            UNKNOWN_CODE_STATUS,
            UNKNOWN_CODE,
        ),
    ];
    for (faults, status, code) in cases {
        let mock = Mock::with(MockConfig::default().faults(faults));
        for _ in 0..3 {
            let r = mock.post("/api/v1/codes", PRO, CREATE).await;
            assert_eq!(r.status, status);
            assert_eq!(r.error_code(), code);
            assert!(r.header("x-request-id").is_some());
            let r = mock.get("/api/v1/codes", PRO).await;
            assert_eq!(r.status, status);
        }
        assert_eq!(mock.state.code_count(), 0, "{code}: nothing committed");
        assert_eq!(mock.state.idempotency_key_count(), 0);
        assert_eq!(mock.state.fault_counts().requests, 6);
        assert_eq!(mock.state.fault_counts().faulted(), 6);
        // Never outside /api/v1.
        assert_eq!(mock.get("/healthz", PRO).await.status, 200);
        assert_eq!(mock.get("/reference", PRO).await.status, 200);
        assert_eq!(mock.get("/_mock/clock", PRO).await.status, 200);
        assert_eq!(mock.get("/r/nope", PRO).await.status, 404);
        assert_eq!(mock.state.fault_counts().requests, 6);
    }
}

#[tokio::test]
async fn a_429_burst_rejects_the_next_requests_of_that_token_with_rate_headers() {
    let mock = Mock::with(
        MockConfig::default()
            .rate_limit(1000, Duration::from_secs(60))
            .faults(FaultConfig::new().seed(11).rate_limit_burst(0.2, 4)),
    );
    let mut statuses = Vec::new();
    for _ in 0..300 {
        let r = mock.get("/api/v1/codes", PRO).await;
        if r.status == 429 {
            assert_eq!(r.error_code(), "rate_limited");
            assert_eq!(r.header("retry-after"), Some("1"));
            assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
            assert_eq!(r.header("x-ratelimit-limit"), Some("1000"));
            assert!(r.header_u64("x-ratelimit-reset") > common::START.unix_timestamp() as u64);
        } else {
            assert_eq!(r.status, 200);
        }
        statuses.push(r.status);
    }
    // Runs of 429 are at least a burst long (the last one may be cut off by the end).
    let runs: Vec<usize> = statuses
        .split(|s| *s != 429)
        .map(<[u16]>::len)
        .filter(|n| *n > 0)
        .collect();
    assert!(runs.len() >= 5, "{runs:?}");
    let (last, whole) = runs.split_last().unwrap();
    assert!(whole.iter().all(|n| *n >= 4), "{runs:?}");
    assert!(*last >= 1);
    // A burst spends no credit: 200s only.
    let spent = 300 - statuses.iter().filter(|s| **s == 429).count();
    let r = mock.get("/healthz", PRO).await;
    assert_eq!(r.status, 200);
    mock.state.set_faults_enabled(false);
    let r = mock.get("/api/v1/codes", PRO).await;
    assert_eq!(
        r.header_u64("x-ratelimit-remaining"),
        1000 - spent as u64 - 1
    );
}

async fn status_sequence(seed: u64) -> Vec<u16> {
    let faults = FaultConfig::new()
        .seed(seed)
        .internal_error(0.1)
        .service_unavailable(0.1)
        .unknown_code(0.1)
        .rate_limit_burst(0.05, 2)
        .latency(0.2, Duration::from_millis(1));
    let mock = Mock::with(MockConfig::default().faults(faults));
    let mut out = Vec::new();
    for i in 0..100 {
        let r = if i % 2 == 0 {
            mock.post("/api/v1/codes", PRO, CREATE).await
        } else {
            mock.get("/api/v1/codes", PRO).await
        };
        out.push(r.status);
    }
    assert_eq!(mock.state.fault_seed(), Some(seed));
    assert!(mock.state.fault_counts().delayed > 0);
    out
}

#[tokio::test]
async fn the_same_seed_replays_the_same_faults() {
    let a = status_sequence(42).await;
    assert_eq!(a, status_sequence(42).await);
    assert_ne!(a, status_sequence(43).await);
    assert!(a.iter().filter(|s| **s != 201 && **s != 200).count() >= 20);
}

#[tokio::test]
async fn no_faults_by_default_and_none_while_disabled() {
    let mock = Mock::new();
    assert_eq!(mock.state.fault_seed(), None);
    for _ in 0..20 {
        assert_eq!(mock.post("/api/v1/codes", PRO, CREATE).await.status, 201);
    }
    assert_eq!(mock.state.fault_counts(), Default::default());

    let mock = Mock::with(MockConfig::default().faults(FaultConfig::new().internal_error(1.0)));
    mock.state.set_faults_enabled(false);
    assert_eq!(mock.post("/api/v1/codes", PRO, CREATE).await.status, 201);
    mock.state.set_faults_enabled(true);
    assert_eq!(mock.post("/api/v1/codes", PRO, CREATE).await.status, 500);
}

#[tokio::test]
async fn without_a_connection_a_drop_fault_answers_normally() {
    // `app()` driven by `oneshot` has no connection to drop.
    let mock = Mock::with(MockConfig::default().faults(FaultConfig::new().drop_after_commit(1.0)));
    let r = mock
        .req(Method::POST, "/api/v1/codes")
        .token(PRO)
        .json(CREATE)
        .send()
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(mock.state.fault_counts().dropped, 0);
}

#[tokio::test]
async fn shutdown_is_graceful_with_drop_faults_configured() {
    let server = server(
        FaultConfig::new()
            .seed(5)
            .drop_after_commit(0.01)
            .latency(1.0, Duration::from_millis(50)),
    )
    .await;
    let base = server.base_url().to_owned();
    let in_flight = tokio::spawn(async move { raw_create(&base).await });
    // Wait until the request is in the server (held by its injected latency), then stop.
    tokio::time::timeout(Duration::from_secs(30), async {
        while server.state().fault_counts().requests == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the request arrives");
    let state = server.state().clone();
    tokio::time::timeout(Duration::from_secs(30), server.shutdown())
        .await
        .expect("shutdown completes");
    let out = String::from_utf8(in_flight.await.unwrap().unwrap()).unwrap();
    assert!(
        out.starts_with("HTTP/1.1 201"),
        "the request in flight finished: {out}"
    );
    assert_eq!(state.code_count(), 1);
}

#[tokio::test]
async fn the_binary_documents_and_applies_fault_flags() {
    let out = Command::new(env!("CARGO_BIN_EXE_heldqr-mock"))
        .arg("--help")
        .output()
        .await
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--fault-seed",
        "--fault-drop",
        "--fault-reset",
        "--fault-500",
        "--fault-503",
        "--fault-unknown-code",
        "--fault-429-burst",
        "--fault-latency",
    ] {
        assert!(help.contains(flag), "{flag} in --help:\n{help}");
    }

    let mut child = Command::new(env!("CARGO_BIN_EXE_heldqr-mock"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--quiet",
            "--fault-500",
            "1",
            "--fault-seed",
            "99",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    let mut base = None;
    while !printed.contains("--fault-seed 99") {
        let mut line = String::new();
        let n = tokio::time::timeout(Duration::from_secs(30), stdout.read_line(&mut line))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "stdout ended before the faults line: {printed}");
        if base.is_none() {
            base = line
                .split_whitespace()
                .find(|w| w.starts_with("http://"))
                .map(str::to_owned);
        }
        printed.push_str(&line);
    }
    assert!(printed.contains("100.0% of /api/v1 requests"), "{printed}");
    let base = base.unwrap();
    let out = String::from_utf8(raw_create(&base).await.unwrap()).unwrap();
    assert!(out.starts_with("HTTP/1.1 500"), "{out}");
    child.kill().await.unwrap();
}

/// A delayed injected 429 is made when the delay is over: its reset is read from the clock
/// then, not when the request arrived (a client waiting on it would otherwise wait on a time
/// already past). The runtime's clock is paused, so the delay passes without waiting.
#[tokio::test(start_paused = true)]
async fn a_delayed_429_reads_the_clock_after_its_delay() {
    let mock = Mock::with(
        MockConfig::default()
            .rate_limit(1000, Duration::from_secs(60))
            .faults(
                FaultConfig::new()
                    .seed(5)
                    .rate_limit_burst(1.0, 1)
                    .latency(1.0, Duration::from_secs(30)),
            ),
    );
    let request = tokio::spawn({
        let req = mock.req(Method::GET, "/api/v1/codes").token(PRO);
        async move { req.send().await }
    });
    // Let the request reach its delay, then move the server's clock an hour on.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    mock.clock.advance(Duration::from_secs(3600));
    let r = request.await.unwrap();
    assert_eq!(r.status, 429);
    assert!(
        r.header_u64("x-ratelimit-reset") >= common::START.unix_timestamp() as u64 + 3600,
        "{:?}",
        r.header("x-ratelimit-reset")
    );
}
