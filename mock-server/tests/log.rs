//! The `heldqr-mock` binary's request log: the level filter (`--log-level`, `HELDQR_MOCK_LOG`)
//! and the JSON line format (`--log-format json`), written off the request path and flushed at
//! shutdown; the address line on stdout is never filtered away.

#![cfg(unix)]

mod common;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;

const TOKEN: &str = "s3cr3t-log-token";

/// Starts the binary with `args` (and `env`), waits for its address line, sends `n`
/// authenticated requests and one without a token, stops it with SIGTERM; returns
/// (stdout, stderr).
async fn run(args: &[&str], env: &[(&str, &str)], n: usize) -> (String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_heldqr-mock"));
    cmd.args(["--listen", "127.0.0.1:0", "--token"])
        .arg(format!("{TOKEN}=pro:acct_log"))
        .args(args)
        .envs(env.iter().copied());
    let common::process::Running {
        mut child,
        addr,
        mut stdout,
    } = common::process::start(cmd).await;
    let first = format!("heldqr-mock listening on http://{addr}\n");
    // Read the log as it comes, as a terminal or a CI runner does: the server never drops a
    // line, so a pipe nobody reads would stop it once full.
    let mut stderr = child.stderr.take().unwrap();
    let log = tokio::spawn(async move {
        let mut err = String::new();
        stderr.read_to_string(&mut err).await.map(|_| err)
    });
    for i in 0..=n {
        let auth = if i < n {
            format!("Authorization: Bearer {TOKEN}\r\n")
        } else {
            String::new()
        };
        let mut s = TcpStream::connect(&addr).await.unwrap();
        let req = format!(
            "GET /api/v1/codes?limit=5 HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    }
    common::process::sigterm(&child);
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    let mut out = first;
    stdout.read_to_string(&mut out).await.unwrap();
    let err = log.await.unwrap().unwrap();
    assert!(
        !out.contains(TOKEN) && !err.contains(TOKEN),
        "the token never shows"
    );
    (out, err)
}

#[tokio::test]
async fn json_lines_carry_the_request_fields_and_every_line_is_flushed_at_shutdown() {
    let (_, err) = run(&["--log-format", "json"], &[], 200).await;
    let lines: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let requests: Vec<_> = lines
        .iter()
        .filter(|l| l["target"] == "heldqr_mock::request")
        .collect();
    assert_eq!(
        requests.len(),
        201,
        "one line per request, none lost: {err}"
    );
    let ok = requests[0];
    assert_eq!(ok["level"], "INFO");
    assert_eq!(ok["method"], "GET");
    // The path without its query, in the message too.
    assert_eq!(ok["path"], "/api/v1/codes");
    assert_eq!(ok["message"], "GET /api/v1/codes 200");
    assert_eq!(ok["status"], 200);
    assert_eq!(ok["account"], "acct_log");
    assert!(ok["duration_ms"].as_f64().is_some(), "{ok}");
    assert!(
        ok["request_id"].as_str().unwrap().starts_with("req_"),
        "{ok}"
    );
    assert!(ok["timestamp"].is_string(), "{ok}");
    let unauthenticated = requests[200];
    assert_eq!(unauthenticated["status"], 401);
    assert!(
        unauthenticated.get("account").is_none(),
        "{unauthenticated}"
    );
    assert!(
        lines.iter().any(|l| l["message"] == "shutting down"),
        "{err}"
    );
}

#[tokio::test]
async fn the_level_filter_leaves_out_request_lines_but_never_the_address_line() {
    // From the environment, as a container sets it.
    let (out, err) = run(&[], &[("HELDQR_MOCK_LOG", "warn")], 3).await;
    assert!(out.starts_with("heldqr-mock listening on http://"), "{out}");
    assert!(!err.contains("/api/v1/codes"), "{err}");
    assert!(!err.contains("shutting down"), "{err}");
    // Per target: request lines off, the rest at info.
    let (_, err) = run(&["--log-level", "info,heldqr_mock::request=off"], &[], 3).await;
    assert!(!err.contains("/api/v1/codes"), "{err}");
    assert!(err.contains("shutting down"), "{err}");
}

#[tokio::test]
async fn text_lines_read_method_path_status_then_the_fields() {
    let (_, err) = run(&[], &[("HELDQR_MOCK_LOG_FORMAT", "text")], 1).await;
    let line = err
        .lines()
        .find(|l| l.contains("GET /api/v1/codes 200"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains("  INFO heldqr_mock::request: GET /api/v1/codes 200 duration_ms="),
        "{line}"
    );
    // An RFC 3339 UTC timestamp with microseconds: `2026-11-28T19:10:13.560773Z`.
    let stamp = line.split(' ').next().unwrap();
    let shape: String = stamp
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    assert_eq!(shape, "9999-99-99T99:99:99.999999Z", "{line}");
    assert!(line.contains(" request_id=req_"), "{line}");
    assert!(line.ends_with(" account=acct_log"), "{line}");
    assert!(err.contains("GET /api/v1/codes 401 duration_ms="), "{err}");
}

#[tokio::test]
async fn a_bad_filter_is_a_bad_command_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_heldqr-mock"))
        .args(["--listen", "127.0.0.1:0", "--log-level", "info,x=loud"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("heldqr-mock: --log-level"), "{err}");
    assert!(out.stdout.is_empty());
}
