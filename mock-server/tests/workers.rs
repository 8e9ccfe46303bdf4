//! `MockServer::start_on` with `Workers` (what the binary runs): connections are served on the
//! workers' threads, each for its whole life, drain on shutdown, and stop with the server.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::nobody_serves;
use heldqr_mock::{DEV_TOKEN_PRO, MockConfig, MockServer, Workers};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads one answer whose body is `Content-Length` bytes (or until the socket closes).
async fn read_answer(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .map_or(0, |v| v.trim().parse().unwrap());
            if got.len() >= end + 4 + len {
                return String::from_utf8_lossy(&got).into_owned();
            }
        }
        let n = stream.read(&mut buf).await.unwrap();
        if n == 0 {
            return String::from_utf8_lossy(&got).into_owned();
        }
        got.extend_from_slice(&buf[..n]);
    }
}

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

/// A server on two workers and a connection to it that one request already went through.
async fn served_on_workers() -> (MockServer, TcpStream) {
    let server = MockServer::start_on(MockConfig::default(), Workers::start(2).unwrap())
        .await
        .unwrap();
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    stream.write_all(HEALTH).await.unwrap();
    assert!(read_answer(&mut stream).await.starts_with("HTTP/1.1 200"));
    (server, stream)
}

/// The test's own runtime has one thread. Once a connection is accepted, its requests are
/// served on a worker thread: they are answered even while that one thread is blocked (which
/// would hang a server running its connections on the test's runtime).
#[tokio::test(flavor = "current_thread")]
async fn an_accepted_connection_is_served_on_a_worker_thread() {
    let (server, stream) = served_on_workers().await;

    // Now block this runtime's only thread on a second request over the same connection.
    let mut stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(HEALTH).unwrap();
    let mut buf = [0u8; 256];
    let n = stream
        .read(&mut buf)
        .expect("answered by a worker while the test's runtime was blocked");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    server.shutdown().await;
}

#[tokio::test]
async fn connections_spread_over_the_workers_keep_state_and_drain_on_shutdown() {
    let server = MockServer::start_on(MockConfig::default(), Workers::start(2).unwrap())
        .await
        .unwrap();
    let addr = server.local_addr();
    // A create on one connection is read on others: while it stays open, the next one goes to
    // the other worker (the one with fewer open connections), so both see the same state.
    let body = r#"{"target_url": "https://example.com/menu", "shortcode": "on-workers"}"#;
    let mut first = TcpStream::connect(addr).await.unwrap();
    first
        .write_all(
            format!(
                "POST /api/v1/codes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {DEV_TOKEN_PRO}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    assert!(read_answer(&mut first).await.starts_with("HTTP/1.1 201"));
    for _ in 0..3 {
        let mut other = TcpStream::connect(addr).await.unwrap();
        other
            .write_all(
                format!(
                    "GET /api/v1/codes/on-workers HTTP/1.1\r\nHost: x\r\n\
                     Authorization: Bearer {DEV_TOKEN_PRO}\r\n\r\n"
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        let answer = read_answer(&mut other).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("on-workers"));
    }

    // A request in flight when the server stops is answered; then the port closes.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/v1/codes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {DEV_TOKEN_PRO}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    // 100 Continue: the request has arrived and is being served.
    let mut buf = [0u8; 64];
    let n = slow.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 100"));
    let stopping = tokio::spawn(server.shutdown());
    // The server has stopped accepting (so every connection was told to finish) before the
    // rest of the body is sent.
    while !nobody_serves(addr).await {
        tokio::task::yield_now().await;
    }
    let same_length = body.replace("on-workers", "in-flight1");
    slow.write_all(same_length.as_bytes()).await.unwrap();
    let answer = read_answer(&mut slow).await;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    stopping.await.unwrap();
    assert!(nobody_serves(addr).await, "the port is closed");
}

#[tokio::test]
async fn dropping_the_server_closes_connections_on_the_workers() {
    let (server, mut idle) = served_on_workers().await;
    drop(server);
    // The worker's runtime stops and drops the connection: the client reads the end of it.
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(30), idle.read(&mut buf))
        .await
        .expect("closed, not left open");
    assert!(matches!(read, Ok(0) | Err(_)));
}

#[test]
fn workers_are_at_least_one_thread() {
    let workers = Workers::start(0).unwrap();
    assert_eq!(workers.len(), 1);
    assert!(!workers.is_empty());
    assert_eq!(format!("{workers:?}"), "Workers { threads: 1, .. }");
}
