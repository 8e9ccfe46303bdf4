//! Over real TCP on 127.0.0.1: the in-process `MockServer`, and the `heldqr-mock` binary (its
//! address line, /healthz, the request log that never shows the token, SIGTERM shutdown).

mod common;

use std::time::Duration;

use common::nobody_serves;
use heldqr_mock::{DEV_TOKEN_PRO, MockConfig, MockServer, RequestFilter};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::Command;

/// One HTTP/1.1 request on a fresh connection; returns (status, headers + body text).
async fn http(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let addr = base.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    (status, out)
}

#[tokio::test]
async fn mock_server_serves_on_a_free_port_and_shuts_down() {
    let server = MockServer::start(MockConfig::default()).await.unwrap();
    let base = server.base_url().to_owned();
    let server_addr = server.local_addr();
    assert!(base.starts_with("http://127.0.0.1:"));
    assert!(!base.ends_with('/'));
    let (status, text) = http(&base, "GET", "/healthz", &[], "").await;
    assert_eq!(status, 200);
    assert!(text.ends_with(r#"{"status":"ok"}"#));

    let auth = format!("Bearer {DEV_TOKEN_PRO}");
    let (status, text) = http(
        &base,
        "POST",
        "/api/v1/codes",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        r#"{"target_url": "http://127.0.0.1:9/landing", "shortcode": "tcp-code"}"#,
    )
    .await;
    assert_eq!(status, 201);
    assert!(
        text.contains(&format!(r#""scan_url":"{base}/r/tcp-code""#)),
        "{text}"
    );

    let (status, text) = http(&base, "GET", "/r/tcp-code", &[], "").await;
    assert_eq!(status, 302);
    assert!(
        text.to_ascii_lowercase()
            .contains("location: http://127.0.0.1:9/landing")
    );

    server.shutdown().await;
    assert!(nobody_serves(server_addr).await, "the port is closed");
}

#[tokio::test]
async fn a_request_without_a_body_reads_as_empty_over_tcp() {
    let server = MockServer::start(MockConfig::default()).await.unwrap();
    let base = server.base_url().to_owned();
    let auth = format!("Bearer {DEV_TOKEN_PRO}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    // `Content-Length: 0`: an empty JSON body, refused as such.
    let (status, text) = http(&base, "POST", "/api/v1/codes", &headers, "").await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains(r#""code":"invalid_json""#), "{text}");
    let (status, text) = http(&base, "GET", "/api/v1/codes", &headers[..1], "").await;
    assert_eq!(status, 200, "{text}");
    // A body that does come is still read (and journaled).
    let (status, _) = http(
        &base,
        "POST",
        "/api/v1/codes",
        &headers,
        r#"{"target_url": "https://example.com/x"}"#,
    )
    .await;
    assert_eq!(status, 201);
    let entries = server.requests(&RequestFilter::default());
    let shown: Vec<_> = entries
        .iter()
        .map(|e| (e.method.as_str(), e.status, e.request.body.clone()))
        .collect();
    assert_eq!(
        shown,
        [
            ("POST", 400, serde_json::Value::Null),
            ("GET", 200, serde_json::Value::Null),
            (
                "POST",
                201,
                serde_json::json!({"target_url": "https://example.com/x"})
            ),
        ]
    );
    assert!(entries.iter().all(|e| !e.request.body_truncated));
    server.shutdown().await;
}

#[tokio::test]
async fn dropping_the_server_stops_it() {
    let server = MockServer::start(MockConfig::default()).await.unwrap();
    let addr = server.local_addr();
    drop(server);
    // The aborted task releases the listener once the runtime processes the abort.
    let mut closed = false;
    for _ in 0..100 {
        if TcpStream::connect(addr).await.is_err() {
            closed = true;
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(closed);
}

async fn spawn_binary(
    args: &[&str],
) -> (
    tokio::process::Child,
    String,
    BufReader<tokio::process::ChildStdout>,
) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_heldqr-mock"));
    cmd.args(["--listen", "127.0.0.1:0"]).args(args);
    let running = common::process::start(cmd).await;
    let base = running.base();
    (running.child, base, running.stdout)
}

#[tokio::test]
async fn the_binary_prints_its_address_and_dev_tokens_then_serves() {
    let (mut child, base, mut stdout) = spawn_binary(&["--quiet"]).await;
    let mut rest = String::new();
    for _ in 0..4 {
        stdout.read_line(&mut rest).await.unwrap();
    }
    for token in ["hkr_test_free", "hkr_test_pro", "hkr_test_business"] {
        assert!(rest.contains(token), "dev tokens are printed: {rest}");
    }
    let (status, _) = http(&base, "GET", "/healthz", &[], "").await;
    assert_eq!(status, 200);
    let (status, text) = http(
        &base,
        "GET",
        "/api/v1/codes",
        &[("Authorization", "Bearer hkr_test_pro")],
        "",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    child.kill().await.unwrap();
}

/// A CI script that closes the read end of the mock's stderr (and stdout) must not break it:
/// the request log and the shut-down line are dropped, every request is still answered.
#[cfg(unix)]
#[tokio::test]
async fn the_binary_keeps_serving_when_its_stderr_and_stdout_readers_are_gone() {
    let (mut child, base, stdout) = spawn_binary(&[]).await;
    // Close the read ends: writes to these pipes now fail (EPIPE).
    drop(child.stderr.take().unwrap());
    drop(stdout);
    for i in 0..3 {
        let (status, text) = http(
            &base,
            "GET",
            "/api/v1/codes",
            &[("Authorization", "Bearer hkr_test_pro")],
            "",
        )
        .await;
        assert_eq!(status, 200, "request {i}: {text}");
        let (status, text) = http(&base, "GET", "/api/v1/nope", &[], "").await;
        assert_eq!(status, 404, "request {i}: {text}");
    }
    common::process::sigterm(&child);
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "a clean exit on SIGTERM: {exit:?}");
}

#[cfg(unix)]
#[tokio::test]
async fn the_binary_logs_each_request_without_the_token_and_stops_on_sigterm() {
    let (mut child, base, mut stdout) = spawn_binary(&[
        "--token",
        "s3cr3t-token=business:acct_ci",
        "--rate-limit",
        "5/60s",
        "--seed",
        "9",
    ])
    .await;
    let mut all_stdout = String::new();
    let (status, text) = http(
        &base,
        "GET",
        "/api/v1/codes",
        &[("Authorization", "Bearer s3cr3t-token")],
        "",
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        text.to_ascii_lowercase().contains("x-ratelimit-limit: 5"),
        "{text}"
    );
    let (status, _) = http(
        &base,
        "GET",
        "/api/v1/codes",
        &[("Authorization", "Bearer hkr_test_pro")],
        "",
    )
    .await;
    assert_eq!(status, 401, "no dev tokens once a token is configured");

    common::process::sigterm(&child);
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "a clean exit on SIGTERM: {exit:?}");

    stdout.read_to_string(&mut all_stdout).await.unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert!(stderr.contains("GET /api/v1/codes 200"), "{stderr}");
    assert!(stderr.contains("account=acct_ci"), "{stderr}");
    assert!(stderr.contains("GET /api/v1/codes 401"), "{stderr}");
    assert!(
        !stderr.contains("s3cr3t") && !all_stdout.contains("s3cr3t"),
        "the token never shows"
    );
}

#[tokio::test]
async fn the_binary_rejects_a_bad_command_line_without_echoing_the_token() {
    let out = Command::new(env!("CARGO_BIN_EXE_heldqr-mock"))
        .args(["--listen", "127.0.0.1:0", "--token", "s3cr3t=platinum"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("plan"), "{stderr}");
    assert!(!stderr.contains("s3cr3t"), "{stderr}");
}

#[tokio::test]
async fn the_binary_names_the_address_it_cannot_listen_on() {
    // A port this test holds: the binary must fail with exit 1 and say which address.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = held.local_addr().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_heldqr-mock"))
        .args(["--listen", &addr])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
}
