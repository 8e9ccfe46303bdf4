//! `ClientBuilder::http2_prior_knowledge`: HTTP/2 over cleartext without an upgrade, for an
//! `http://` server that speaks it (the mock does).
#![cfg(feature = "http2")]

mod common;

use common::*;
use heldqr_sdk::{Client, RetryPolicy};
use tokio::io::AsyncReadExt;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer};

/// The first bytes a client sends on a fresh connection to a raw listener.
async fn first_bytes(prior_knowledge: bool) -> Vec<u8> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut builder = Client::builder()
        .token(TOKEN)
        .base_url(base)
        .retry_policy(RetryPolicy::none());
    if prior_knowledge {
        builder = builder.http2_prior_knowledge();
    }
    let client = builder.build().unwrap();
    let call = tokio::spawn(async move { client.codes().get("menu-v3").send().await });
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut bytes = vec![0; 24];
    socket.read_exact(&mut bytes).await.unwrap();
    drop(socket);
    let _ = call.await;
    bytes
}

#[tokio::test]
async fn prior_knowledge_opens_with_the_http2_preface() {
    assert_eq!(first_bytes(true).await, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    assert!(first_bytes(false).await.starts_with(b"GET /api/v1/codes/"));
}

#[tokio::test]
async fn a_whole_call_over_http2_with_prior_knowledge() {
    // wiremock serves HTTP/1.1 and HTTP/2 (prior knowledge) on one port.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ok_code("menu-v3").insert_header("x-request-id", "req_h2"))
        .mount(&server)
        .await;
    let client = Client::builder()
        .token(TOKEN)
        .base_url(server.uri())
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let code = client.codes().get("menu-v3").send().await.unwrap();
    assert_eq!(code.shortcode, "menu-v3");
    assert_eq!(code.meta().request_id.as_deref(), Some("req_h2"));
}
