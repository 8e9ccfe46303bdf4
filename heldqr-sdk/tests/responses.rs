//! What the SDK makes of responses: metadata, request headers, unreadable error bodies,
//! 2xx bodies that do not match, oversized bodies, pacing, pagination and raw calls.

mod common;

use std::time::Duration;

use common::*;
use futures_util::{StreamExt, TryStreamExt};
use heldqr_sdk::reqwest::Method;
use heldqr_sdk::{Error, ErrorCode, RateLimit, RetryPolicy};
use serde_json::json;
use tokio::time::Instant;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test(start_paused = true)]
async fn response_metadata_is_exposed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/codes"))
        .and(header("idempotency-key", "line-17"))
        .respond_with(
            created("menu-v3")
                .insert_header("idempotent-replay", "true")
                .insert_header("x-ratelimit-limit", "600")
                .insert_header("x-ratelimit-remaining", "593")
                .insert_header("x-ratelimit-reset", "1731764400")
                .insert_header("x-request-id", "req_123"),
        )
        .mount(&server)
        .await;
    let client = client(&server.uri());
    let code = client
        .codes()
        .create("https://example.com/menu")
        .idempotency_key("line-17")
        .send()
        .await
        .unwrap();
    let meta = code.meta();
    assert_eq!(meta.status, 201);
    assert!(meta.idempotent_replay);
    assert_eq!(meta.idempotency_key.as_deref(), Some("line-17"));
    assert_eq!(meta.request_id.as_deref(), Some("req_123"));
    let expected = serde_json::from_value::<RateLimit>(
        json!({"limit": 600, "remaining": 593, "reset": 1_731_764_400u64}),
    )
    .unwrap();
    assert_eq!(meta.rate_limit, Some(expected));
    assert_eq!(client.last_rate_limit(), Some(expected));
    assert_eq!(
        expected.reset_in(),
        Duration::ZERO,
        "a reset in the past is zero"
    );
}

#[tokio::test(start_paused = true)]
async fn requests_carry_auth_agent_and_json_headers() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .respond_with(ok_code("menu-v3"))
        .mount(&server)
        .await;
    let client = heldqr_sdk::Client::builder()
        .token(TOKEN)
        .base_url(server.uri())
        .no_timeout()
        .http_client(http())
        .user_agent("menu-sync/1.2")
        .build()
        .unwrap();
    client
        .codes()
        .update("menu-v3")
        .clear_label()
        .send()
        .await
        .unwrap();
    let requests = server.received_requests().await.unwrap();
    let request = &requests[0];
    let h = |name: &str| {
        request
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(h("authorization"), Some(format!("Bearer {TOKEN}")));
    assert_eq!(
        h("user-agent"),
        Some(format!("{} menu-sync/1.2", heldqr_sdk::SDK_USER_AGENT))
    );
    assert_eq!(h("content-type").as_deref(), Some("application/json"));
    assert_eq!(h("idempotency-key"), None, "only creates carry a key");
    assert_eq!(request.url.path(), "/api/v1/codes/menu-v3");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&request.body).unwrap(),
        json!({"label": null})
    );
}

#[tokio::test(start_paused = true)]
async fn unreadable_error_bodies_are_their_own_case_with_the_status() {
    // `None`: not an envelope, so `Error::Http` with a snippet; `Some(code)`: `Error::Api`.
    let cases: Vec<(u16, ResponseTemplate, Option<&str>)> = vec![
        (
            502,
            ResponseTemplate::new(502)
                .set_body_raw("<html><body>Bad Gateway</body></html>", "text/html")
                .insert_header("x-request-id", "req_proxy"),
            None,
        ),
        (404, ResponseTemplate::new(404), None),
        (
            400,
            ResponseTemplate::new(400)
                .set_body_raw(r#"{"error":{"code":"invalid_js"#, "application/json"),
            None,
        ),
        (
            404,
            ResponseTemplate::new(404).set_body_json(
                json!({"error": {"code": "not_found", "message": 42, "field_errors": "x"}}),
            ),
            Some("not_found"),
        ),
        (
            418,
            ResponseTemplate::new(418)
                .set_body_json(json!({"error": {"code": "teapot", "message": "short and stout", "extra": 1}, "more": true})),
            Some("teapot"),
        ),
    ];
    for (status, template, code) in cases {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(template)
            .mount(&server)
            .await;
        let err = client_with(&server.uri(), RetryPolicy::none())
            .codes()
            .get("menu-v3")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(status));
        assert_eq!(err.attempts(), 1);
        match (&err, code) {
            (Error::Http(http), None) => {
                assert_eq!(http.status, status);
                assert!(!http.message.is_empty());
                assert!(http.body_snippet.len() <= 800);
                assert_eq!(err.code(), None);
                if status == 502 {
                    assert_eq!(err.request_id(), Some("req_proxy"));
                }
            }
            (Error::Api(api), Some(code)) => {
                assert_eq!(api.status, status);
                assert_eq!(api.code.as_str(), code);
                assert!(!api.message.is_empty());
            }
            _ => panic!("{status}: unexpected {err:?}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_proxy_error_page_is_retried_by_status() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502).set_body_raw("<html>oops</html>", "text/html"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ok_code("menu-v3"))
        .with_priority(5)
        .mount(&server)
        .await;
    let code = client(&server.uri())
        .codes()
        .get("menu-v3")
        .send()
        .await
        .unwrap();
    assert_eq!(code.meta().attempts, 2);
}

#[tokio::test(start_paused = true)]
async fn a_success_body_that_does_not_match_is_a_decode_error_with_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"data": {"shortcode": 5, "pad": "é".repeat(500)}})),
        )
        .mount(&server)
        .await;
    let err = client(&server.uri())
        .codes()
        .create("https://example.com/menu")
        .idempotency_key("decode-1")
        .send()
        .await
        .unwrap_err();
    let Error::Decode {
        status, snippet, ..
    } = &err
    else {
        panic!("expected Error::Decode, got {err:?}")
    };
    assert_eq!(*status, 201);
    assert!(snippet.starts_with(r#"{"data""#), "{snippet}");
    assert!(snippet.chars().count() <= 200);
    assert_eq!(err.idempotency_key(), Some("decode-1"));
    assert!(!err.is_retryable());
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_oversized_body_is_refused_without_reading_it_all() {
    let server = MockServer::start().await;
    let huge = format!(
        r#"{{"data": [], "junk": "{}"}}"#,
        "x".repeat(heldqr_sdk::MAX_RESPONSE_BYTES + 10)
    );
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(huge, "application/json"))
        .mount(&server)
        .await;
    let err = client(&server.uri())
        .codes()
        .list()
        .send()
        .await
        .unwrap_err();
    let Error::Decode {
        message, snippet, ..
    } = &err
    else {
        panic!("expected Error::Decode, got {err:?}")
    };
    assert!(message.contains("larger than"), "{message}");
    assert!(snippet.len() <= 800);
}

#[tokio::test(start_paused = true)]
async fn the_token_never_appears_in_errors_or_debug_output() {
    let server = MockServer::start().await;
    // A misbehaving proxy that echoes the Authorization header in its error page.
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(
            format!("<html>bad header: Bearer {TOKEN}</html>"),
            "text/html",
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({"error": {
            "code": "validation_failed",
            "message": format!("token {TOKEN} rejected"),
            "field_errors": {
                format!("header:{TOKEN}"): [format!("{TOKEN} is not a field")],
                "target_url": format!("echo {TOKEN}"),
            },
        }})))
        .mount(&server)
        .await;
    // A server that puts the token in the error code itself.
    Mock::given(method("PATCH"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": {"code": format!("bad_{TOKEN}"), "message": "m"}})),
        )
        .mount(&server)
        .await;
    let client = client(&server.uri());
    let get = client.codes().get("menu-v3").send().await.unwrap_err();
    let create = client.codes().create("x").send().await.unwrap_err();
    let update = client
        .codes()
        .update("menu-v3")
        .label("l")
        .max_retries(0)
        .send()
        .await
        .unwrap_err();
    for err in [&get, &create, &update] {
        let text = format!("{err} {err:?} {:?}", err.api());
        assert!(!text.contains(TOKEN), "{text}");
        assert!(text.contains("[redacted]"), "{text}");
    }
    let fields = &create.api().unwrap().field_errors;
    assert_eq!(
        fields["header:[redacted]"],
        vec!["[redacted] is not a field".to_owned()]
    );
    assert_eq!(fields["target_url"], vec!["echo [redacted]".to_owned()]);
    assert_eq!(update.code().unwrap().as_str(), "bad_[redacted]");
    let text = format!("{client:?} {:?}", client.codes().create("x"));
    assert!(!text.contains(TOKEN), "{text}");
}

#[tokio::test(start_paused = true)]
async fn pacing_waits_for_the_reset_instead_of_spending_a_request() {
    let server = MockServer::start().await;
    let reset = unix_now() + 3;
    Mock::given(method("GET"))
        .respond_with(spent_budget(2, reset))
        .mount(&server)
        .await;
    let paced = |token: &str| paced_client(&server.uri(), token);
    // The reset is a whole second on the real clock (the paused clock only moves the
    // waits): the pacer waits from when it read the first answer until then, so the wait is
    // bounded by the real time before the first request and after its answer.
    let real_now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
    };
    let reset_at = Duration::from_secs(reset);
    let before_first = real_now();
    let first = paced(TOKEN);
    first.codes().get("menu-v3").send().await.unwrap();
    let after_first = real_now();
    let start = Instant::now();
    // A client built separately for the same base URL and token shares the budget.
    let second = paced(TOKEN);
    second.codes().get("menu-v3").send().await.unwrap();
    let waited = start.elapsed();
    assert!(
        waited >= reset_at.saturating_sub(after_first)
            && waited <= reset_at.saturating_sub(before_first)
            && waited > Duration::from_secs(1),
        "{waited:?}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
    // Another token has its own budget: its first request goes at once.
    let start = Instant::now();
    paced("hkr_live_another_token")
        .codes()
        .get("menu-v3")
        .send()
        .await
        .unwrap();
    assert_eq!(start.elapsed(), Duration::ZERO);

    // Without pacing the same exchange does not wait.
    let unpaced = client(&server.uri());
    unpaced.codes().get("menu-v3").send().await.unwrap();
    let start = Instant::now();
    unpaced.codes().get("menu-v3").send().await.unwrap();
    assert_eq!(start.elapsed(), Duration::ZERO);
}

fn page(page: u32, total: u64, page_size: u32, codes: &[&str]) -> ResponseTemplate {
    let total_pages = total.div_ceil(u64::from(page_size));
    ResponseTemplate::new(200).set_body_json(json!({
        "data": codes.iter().map(|c| code_json(c)).collect::<Vec<_>>(),
        "pagination": {"page": page, "page_size": page_size, "total": total, "total_pages": total_pages}
    }))
}

async fn mount_page(server: &MockServer, number: &str, template: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/api/v1/codes"))
        .and(query_param("page", number))
        .and(query_param("page_size", "2"))
        .respond_with(template)
        .mount(server)
        .await;
}

#[tokio::test(start_paused = true)]
async fn the_stream_walks_every_page_and_stops_at_the_last() {
    let server = MockServer::start().await;
    mount_page(&server, "1", page(1, 5, 2, &["aaa", "bbb"])).await;
    mount_page(&server, "2", page(2, 5, 2, &["ccc", "ddd"])).await;
    mount_page(&server, "3", page(3, 5, 2, &["eee"])).await;
    mount_page(&server, "4", page(4, 5, 2, &[])).await;
    let all: Vec<String> = client(&server.uri())
        .codes()
        .list()
        .page_size(2)
        .into_stream()
        .map_ok(|c| c.shortcode)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all, ["aaa", "bbb", "ccc", "ddd", "eee"]);
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        3,
        "no request past the last page"
    );
}

#[tokio::test(start_paused = true)]
async fn the_stream_stops_on_an_empty_page_and_yields_errors_then_ends() {
    let server = MockServer::start().await;
    // A total that says more pages exist, but page 2 is empty: stop there.
    mount_page(&server, "1", page(1, 10, 2, &["aaa", "bbb"])).await;
    mount_page(&server, "2", page(2, 10, 2, &[])).await;
    let n = client(&server.uri())
        .codes()
        .list()
        .page_size(2)
        .into_stream()
        .count()
        .await;
    assert_eq!(n, 2);

    let server = MockServer::start().await;
    mount_page(&server, "1", page(1, 10, 2, &["aaa", "bbb"])).await;
    mount_page(&server, "2", error(401, "unauthorized")).await;
    mount_page(&server, "3", page(3, 10, 2, &["eee", "fff"])).await;
    let items: Vec<_> = client(&server.uri())
        .codes()
        .list()
        .page_size(2)
        .into_stream()
        .collect()
        .await;
    assert_eq!(items.len(), 3);
    assert!(items[0].is_ok() && items[1].is_ok());
    assert_eq!(
        items[2].as_ref().unwrap_err().code(),
        Some(&ErrorCode::Unauthorized)
    );
}

#[tokio::test(start_paused = true)]
async fn raw_requests_share_auth_keys_and_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/_mock/reset"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/codes"))
        .and(query_param("page_size", "5"))
        .respond_with(page(1, 1, 5, &["aaa"]))
        .mount(&server)
        .await;
    let client = client(&server.uri());
    let reset = client
        .request(Method::POST, "/_mock/reset")
        .send()
        .await
        .unwrap();
    assert_eq!(*reset, serde_json::Value::Null);
    assert_eq!(reset.meta().status, 204);
    assert!(
        reset.meta().idempotency_key.is_some(),
        "a POST gets a generated key"
    );
    let list = client
        .request(Method::GET, "/api/v1/codes")
        .query(&[("page_size", 5)])
        .send()
        .await
        .unwrap();
    assert_eq!(list["data"][0]["shortcode"], "aaa");
    let missing = client
        .request(Method::GET, "/nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(missing.status(), Some(404));
    assert!(matches!(
        client.request(Method::GET, "no-slash").send().await,
        Err(Error::Config(_))
    ));
}

/// The raw bytes of the Idempotency-Key header of every request the server received.
async fn key_bytes(server: &MockServer) -> Vec<Vec<u8>> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter_map(|r| r.headers.get("idempotency-key"))
        .map(|v| v.as_bytes().to_vec())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn idempotency_keys_with_spaces_and_utf8_are_sent_byte_for_byte() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/codes"))
        .respond_with(created("menu-v3"))
        .mount(&server)
        .await;
    let client = client(&server.uri());
    let keys = ["commande-été-7", "menu import line 17", "tab\tinside"];
    for key in keys {
        let code = client
            .codes()
            .create("https://example.com/menu")
            .idempotency_key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key:?}: {e}"));
        assert_eq!(code.meta().idempotency_key.as_deref(), Some(key));
    }
    let raw = client
        .request(Method::POST, "/api/v1/codes")
        .json(json!({"target_url": "https://example.com/menu"}))
        .idempotency_key("clé brute")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.meta().idempotency_key.as_deref(), Some("clé brute"));
    let expected: Vec<Vec<u8>> = keys
        .iter()
        .chain(&["clé brute"])
        .map(|k| k.as_bytes().to_vec())
        .collect();
    assert_eq!(key_bytes(&server).await, expected);
}

#[tokio::test(start_paused = true)]
async fn unusable_idempotency_keys_are_config_errors_and_nothing_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(created("menu-v3"))
        .mount(&server)
        .await;
    let client = client(&server.uri());
    let too_long = "k".repeat(256);
    for key in [
        "",
        too_long.as_str(),
        "\n",
        " leading",
        "trailing\t",
        "a\u{1b}[2Jb",
    ] {
        let err = client
            .codes()
            .create("https://example.com/menu")
            .idempotency_key(key)
            .send()
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{key:?}: {err:?}");
        let err = client
            .request(Method::POST, "/api/v1/codes")
            .idempotency_key(key)
            .send()
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{key:?}: {err:?}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn replayed_error_answers_say_so() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("idempotency-key", "stored"))
        .respond_with(error(409, "shortcode_taken").insert_header("idempotent-replay", "true"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(header("idempotency-key", "stored-422"))
        .respond_with(error(422, "validation_failed").insert_header("Idempotent-Replay", "true"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(header("idempotency-key", "fresh"))
        .respond_with(error(409, "shortcode_taken"))
        .mount(&server)
        .await;
    let client = client(&server.uri());
    let create = |key: &str| {
        client
            .codes()
            .create("https://example.com/menu")
            .shortcode("menu-v3")
            .idempotency_key(key)
            .send()
    };
    for key in ["stored", "stored-422"] {
        let err = create(key).await.unwrap_err();
        let api = err.api().unwrap();
        assert!(api.idempotent_replay, "{key}: {api:?}");
        assert_eq!(api.idempotency_key.as_deref(), Some(key));
    }
    let fresh = create("fresh").await.unwrap_err();
    assert_eq!(fresh.code(), Some(&ErrorCode::ShortcodeTaken));
    assert!(!fresh.api().unwrap().idempotent_replay);
}
