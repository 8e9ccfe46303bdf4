//! HTTP/2 over cleartext with prior knowledge and HTTP/1.1 on the same port, through a real
//! HTTP/2 client (hyper's): faults act per request (a dropped answer resets that stream only,
//! after the create is committed; the connection and its other streams go on), and the seeded
//! per-token fault sequence replays the same as over HTTP/1.1.

use bytes::Bytes;
use heldqr_mock::{DEV_TOKEN_PRO, FaultConfig, MockConfig, MockServer};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2::SendRequest;
use hyper::{Request, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CREATE: &str = r#"{"target_url": "https://example.com/menu"}"#;

/// One HTTP/2 connection (prior knowledge) to `base`.
async fn h2_connect(base: &str) -> SendRequest<Full<Bytes>> {
    let tcp = TcpStream::connect(base.strip_prefix("http://").unwrap())
        .await
        .unwrap();
    let (send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    send
}

fn create_req(base: &str, key: &str) -> Request<Full<Bytes>> {
    Request::post(format!("{base}/api/v1/codes"))
        .header("authorization", format!("Bearer {DEV_TOKEN_PRO}"))
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(Full::new(Bytes::from_static(CREATE.as_bytes())))
        .unwrap()
}

/// Sends one request on the connection: `Some(status)`, or `None` when the stream was reset.
async fn h2_send(send: &mut SendRequest<Full<Bytes>>, req: Request<Full<Bytes>>) -> Option<u16> {
    send.ready().await.expect("the connection is still usable");
    match send.send_request(req).await {
        Ok(res) => {
            assert_eq!(res.version(), Version::HTTP_2);
            let status = res.status().as_u16();
            res.into_body().collect().await.unwrap();
            Some(status)
        }
        Err(_) => None,
    }
}

/// One HTTP/1.1 create on a fresh connection: `Some(status)`, `None` when dropped.
async fn h1_create(base: &str, key: &str) -> Option<u16> {
    let addr = base.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST /api/v1/codes HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {DEV_TOKEN_PRO}\r\n\
         Content-Type: application/json\r\nIdempotency-Key: {key}\r\nContent-Length: {}\r\n\r\n{CREATE}",
        CREATE.len()
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    match stream.read_to_end(&mut out).await {
        Ok(_) if !out.is_empty() => {
            let text = String::from_utf8_lossy(&out);
            Some(text.split(' ').nth(1).unwrap().parse().unwrap())
        }
        _ => None,
    }
}

async fn server(faults: FaultConfig) -> MockServer {
    MockServer::start(MockConfig::default().seed(1).faults(faults))
        .await
        .unwrap()
}

#[tokio::test]
async fn http2_with_prior_knowledge_and_http1_share_the_port() {
    let server = server(FaultConfig::new()).await;
    let base = server.base_url();
    let mut h2 = h2_connect(base).await;
    let res = {
        h2.ready().await.unwrap();
        h2.send_request(create_req(base, "h2-1")).await.unwrap()
    };
    assert_eq!(res.version(), Version::HTTP_2);
    assert_eq!(res.status(), 201);
    assert!(res.headers().contains_key("x-ratelimit-remaining"));
    assert!(res.headers().contains_key("x-request-id"));
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["data"]["target_url"], "https://example.com/menu");
    // The same key over HTTP/1.1 on the same port replays it.
    assert_eq!(h1_create(base, "h2-1").await, Some(201));
    assert_eq!(server.state().code_count(), 1);
    // Errors keep the envelope on HTTP/2 too.
    let req = Request::get(format!("{base}/api/v1/codes"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(h2_send(&mut h2, req).await, Some(401));
}

#[tokio::test]
async fn a_dropped_answer_resets_its_stream_only_after_the_create_is_committed() {
    let server = server(
        FaultConfig::new()
            .seed(21)
            .drop_after_commit(0.3)
            .reset_after_commit(0.2),
    )
    .await;
    let base = server.base_url();
    let mut h2 = h2_connect(base).await;
    let mut outcomes = Vec::new();
    for i in 0..30 {
        outcomes.push(h2_send(&mut h2, create_req(base, &format!("seq-{i}"))).await);
    }
    let reset = outcomes.iter().filter(|o| o.is_none()).count();
    assert!(reset > 0 && reset < 30, "{outcomes:?}");
    assert!(outcomes.iter().flatten().all(|s| *s == 201), "{outcomes:?}");
    let counts = server.state().fault_counts();
    assert_eq!((counts.dropped + counts.reset) as usize, reset);
    // Every create was committed, the dropped ones included, on one connection.
    assert_eq!(server.state().code_count(), 30);

    // Concurrent streams on the same connection: the reset ones do not take the others down.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let mut send = h2.clone();
        let req = create_req(base, &format!("par-{i}"));
        tasks.push(tokio::spawn(async move { h2_send(&mut send, req).await }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap() == Some(201) {
            ok += 1;
        }
    }
    assert!(ok > 0 && ok < 20, "{ok} of 20 answered");
    assert_eq!(server.state().code_count(), 50);

    // The connection is still there: with faults off, every retry of a dropped key replays.
    server.state().set_faults_enabled(false);
    for (i, o) in outcomes.iter().enumerate() {
        let status = h2_send(&mut h2, create_req(base, &format!("seq-{i}"))).await;
        assert_eq!(status, Some(201), "retry of seq-{i} (first: {o:?})");
    }
    assert_eq!(server.state().code_count(), 50, "no duplicate");
}

#[tokio::test]
async fn the_seeded_fault_sequence_replays_the_same_over_http2_and_http1() {
    let faults = || {
        FaultConfig::new()
            .seed(77)
            .drop_after_commit(0.2)
            .internal_error(0.2)
            .service_unavailable(0.1)
    };
    let run_h2 = async {
        let server = server(faults()).await;
        let mut h2 = h2_connect(server.base_url()).await;
        let mut seen = Vec::new();
        for i in 0..25 {
            seen.push(h2_send(&mut h2, create_req(server.base_url(), &format!("k-{i}"))).await);
        }
        seen
    };
    let first = run_h2.await;
    let server2 = server(faults()).await;
    let mut h2 = h2_connect(server2.base_url()).await;
    let mut second = Vec::new();
    for i in 0..25 {
        second.push(h2_send(&mut h2, create_req(server2.base_url(), &format!("k-{i}"))).await);
    }
    assert_eq!(first, second);
    assert!(
        first.contains(&None) && first.contains(&Some(500)) && first.contains(&Some(201)),
        "{first:?}"
    );

    let server3 = server(faults()).await;
    let mut h1 = Vec::new();
    for i in 0..25 {
        h1.push(h1_create(server3.base_url(), &format!("k-{i}")).await);
    }
    assert_eq!(first, h1, "the same faults per token over HTTP/1.1");
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_after_the_header_timeout() {
    let server =
        MockServer::start(MockConfig::default().header_timeout(std::time::Duration::from_secs(1)))
            .await
            .unwrap();
    // The preface and an empty SETTINGS frame, then nothing: no request ever.
    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        tcp.read_to_end(&mut out),
    )
    .await
    .expect("the server closes the idle connection")
    .ok();
}

#[tokio::test]
async fn an_http2_request_in_flight_longer_than_the_header_timeout_is_answered() {
    // Every request waits 2.5 s (a latency fault), more than twice the 1 s idle limit.
    let server = MockServer::start(
        MockConfig::default()
            .seed(1)
            .header_timeout(std::time::Duration::from_secs(1))
            .faults(FaultConfig::default().latency(1.0, std::time::Duration::from_millis(2500))),
    )
    .await
    .unwrap();
    let base = server.base_url();
    let mut send = h2_connect(base).await;
    assert_eq!(
        h2_send(&mut send, create_req(base, "slow-1")).await,
        Some(201)
    );
}

#[tokio::test]
async fn an_http2_connection_idle_after_its_requests_gets_goaway_and_is_closed() {
    let server =
        MockServer::start(MockConfig::default().header_timeout(std::time::Duration::from_secs(1)))
            .await
            .unwrap();
    let base = server.base_url();
    let tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    for key in ["idle-1", "idle-2"] {
        assert_eq!(h2_send(&mut send, create_req(base, key)).await, Some(201));
    }
    // Then nothing: the server ends the connection (the client's side finishes cleanly on
    // GOAWAY), within a minute at most.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(60), conn)
        .await
        .expect("the server closes the idle connection")
        .unwrap();
    assert!(ended.is_ok(), "{ended:?}");
}
