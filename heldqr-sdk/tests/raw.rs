//! `Client::request`: a body sent byte for byte (on every retry), and the answer's status line
//! and headers as `send_raw` exposes them, never with a credential or the token.

mod common;

use common::*;
use heldqr_sdk::Error;
use heldqr_sdk::reqwest::{Method, Version};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Not what serde_json would write: spacing, key order and a duplicate key survive as given.
const ODD_JSON: &[u8] = b"{ \"z\" : 1,\n  \"a\": \"caf\xc3\xa9\", \"a\": 2 }\n";

#[tokio::test]
async fn a_bytes_body_is_sent_as_given_on_every_attempt() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path("/api/v1/codes/menu"))
        .respond_with(error(503, "service_unavailable"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/api/v1/codes/menu"))
        .respond_with(ok_code("menu"))
        .mount(&server)
        .await;
    let client = client_with(
        &server.uri(),
        heldqr_sdk::RetryPolicy::default()
            .jitter(false)
            .initial_backoff(std::time::Duration::from_millis(1)),
    );

    let reply = client
        .request(Method::PATCH, "/api/v1/codes/menu")
        .body(ODD_JSON, "application/json; charset=utf-8")
        .send()
        .await
        .unwrap();
    assert_eq!(reply["data"]["shortcode"], "menu");
    assert_eq!(reply.meta().attempts, 2);

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(request.body, ODD_JSON);
        assert_eq!(
            request.headers.get("content-type").unwrap(),
            "application/json; charset=utf-8"
        );
    }
}

#[tokio::test]
async fn a_json_body_is_still_compact_json() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("content-type", "application/json"))
        .respond_with(created("x"))
        .mount(&server)
        .await;
    client(&server.uri())
        .request(Method::POST, "/api/v1/codes")
        .json(serde_json::json!({"target_url": "https://example.com"}))
        .send()
        .await
        .unwrap();
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests[0].body, br#"{"target_url":"https://example.com"}"#);
}

#[tokio::test]
async fn an_invalid_content_type_fails_before_sending() {
    let server = MockServer::start().await;
    let err = client(&server.uri())
        .request(Method::POST, "/api/v1/codes")
        .body(b"{}".to_vec(), "application/json\r\nX-Evil: 1")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn send_raw_shows_the_head_without_credentials() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-request-id", "req_1")
                .insert_header("x-ratelimit-limit", "600")
                .insert_header("x-ratelimit-remaining", "599")
                .insert_header("x-ratelimit-reset", "1770000000")
                .append_header("x-multi", "one")
                .append_header("x-multi", "two")
                // A misbehaving proxy echoing the credential back.
                .insert_header("authorization", format!("Bearer {TOKEN}").as_str())
                .insert_header("x-echo", format!("seen {TOKEN} here").as_str())
                .set_body_raw("{\"b\": 1,  \"a\": 2}", "application/json"),
        )
        .mount(&server)
        .await;
    let raw = client(&server.uri())
        .request(Method::GET, "/api/v1/codes")
        .send_raw()
        .await
        .unwrap();
    assert_eq!(raw.status(), 200);
    assert_eq!(raw.version(), Version::HTTP_11);
    assert_eq!(raw.body(), b"{\"b\": 1,  \"a\": 2}");
    assert_eq!(raw.json().unwrap()["a"], 2);
    assert_eq!(raw.meta().request_id.as_deref(), Some("req_1"));
    let headers = raw.headers();
    assert_eq!(headers["x-request-id"], "req_1");
    assert_eq!(headers["x-ratelimit-remaining"], "599");
    assert_eq!(headers.get_all("x-multi").iter().count(), 2);
    assert!(headers.get("authorization").is_none());
    assert_eq!(headers["x-echo"], "seen [redacted] here");
    let debug = format!("{raw:?}");
    assert!(!debug.contains(TOKEN), "{debug}");
}

#[tokio::test]
async fn an_error_from_send_raw_keeps_its_head_without_credentials() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/codes/nope"))
        .respond_with(
            error(404, "not_found")
                .insert_header("x-request-id", "req_9")
                .insert_header("authorization", format!("Bearer {TOKEN}").as_str())
                .insert_header("x-echo", format!("seen {TOKEN} here").as_str()),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/codes/teapot"))
        .respond_with(
            ResponseTemplate::new(418)
                .insert_header("x-served-by", "a proxy")
                .set_body_raw("<html>", "text/html"),
        )
        .mount(&server)
        .await;
    let client = client(&server.uri());

    let err = client
        .request(Method::GET, "/api/v1/codes/nope")
        .send_raw()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Api(_)), "{err:?}");
    let head = err.response_head().expect("a raw call keeps the head");
    assert_eq!(head.version, Version::HTTP_11);
    assert_eq!(head.headers["x-request-id"], "req_9");
    assert_eq!(head.headers["content-type"], "application/json");
    assert!(head.headers.get("authorization").is_none());
    assert_eq!(head.headers["x-echo"], "seen [redacted] here");
    assert!(!format!("{err:?}").contains(TOKEN));

    // An answer that is not the envelope keeps it too.
    let err = client
        .request(Method::GET, "/api/v1/codes/teapot")
        .send_raw()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Http(_)), "{err:?}");
    assert_eq!(
        err.response_head().unwrap().headers["x-served-by"],
        "a proxy"
    );

    // The typed calls keep none.
    let err = client.codes().get("nope").send().await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(err.response_head().is_none());
}

#[tokio::test]
async fn debug_shows_neither_the_token_nor_the_body() {
    let request = client("http://127.0.0.1:9")
        .request(Method::POST, "/api/v1/codes")
        .body(format!("{{\"note\": \"{TOKEN}\"}}"), "application/json");
    let debug = format!("{request:?}");
    assert!(!debug.contains(TOKEN), "{debug}");
    assert!(debug.contains("bytes of"), "{debug}");
}
