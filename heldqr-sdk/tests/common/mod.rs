//! Shared helpers for the SDK's wiremock tests.
#![allow(dead_code)] // each test binary uses a different subset

use heldqr_sdk::{Client, RetryPolicy};
use serde_json::{Value, json};
use wiremock::ResponseTemplate;

pub const TOKEN: &str = "hkr_live_supersecret_token_value";

/// An HTTP client without background timers (pool reaper) or redirects, so tokio's paused
/// clock only moves when the SDK sleeps.
pub fn http() -> heldqr_sdk::reqwest::Client {
    heldqr_sdk::reqwest::Client::builder()
        .pool_idle_timeout(None)
        .redirect(heldqr_sdk::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A client for `base` with no request timeout (see [`http`]) and exact (unjittered) backoff.
pub fn client(base: &str) -> Client {
    client_with(base, RetryPolicy::default().jitter(false))
}

/// A client for `base` and `token` that paces to the rate limit, with no request timeout (see
/// [`http`]).
pub fn paced_client(base: &str, token: &str) -> Client {
    Client::builder()
        .token(token)
        .base_url(base)
        .no_timeout()
        .http_client(http())
        .pace_rate_limit(true)
        .build()
        .unwrap()
}

/// `menu-v3`, with a budget of `limit` spent until `reset` (Unix seconds).
pub fn spent_budget(limit: u32, reset: u64) -> ResponseTemplate {
    ok_code("menu-v3")
        .insert_header("x-ratelimit-limit", limit.to_string().as_str())
        .insert_header("x-ratelimit-remaining", "0")
        .insert_header("x-ratelimit-reset", reset.to_string().as_str())
}

pub fn client_with(base: &str, policy: RetryPolicy) -> Client {
    Client::builder()
        .token(TOKEN)
        .base_url(base)
        .no_timeout()
        .http_client(http())
        .retry_policy(policy)
        .build()
        .unwrap()
}

pub fn code_json(shortcode: &str) -> Value {
    json!({
        "shortcode": shortcode,
        "target_url": "https://example.com/menu",
        "label": "Restaurant menu",
        "status": "active",
        "scan_url": format!("https://hqr.to/r/{shortcode}"),
        "created_at": "2026-05-15T14:21:03Z",
        "updated_at": "2026-05-15T14:21:03Z"
    })
}

pub fn created(shortcode: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({ "data": code_json(shortcode) }))
}

pub fn ok_code(shortcode: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "data": code_json(shortcode) }))
}

pub fn error(status: u16, code: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"error": {"code": code, "message": format!("{code} happened")}}))
}

/// The Idempotency-Key header of every request the server received, in order.
pub async fn keys(server: &wiremock::MockServer) -> Vec<Option<String>> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            r.headers
                .get("idempotency-key")
                .map(|v| v.to_str().unwrap().to_owned())
        })
        .collect()
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Starts `GET /api/v1/codes/slow` on `client` in a task and returns once its request went on
/// the wire (its `on_send` ran): with a server that holds that answer, a paced client then has
/// its first request in flight and does not know the budget yet. Abort the task when done.
pub async fn start_first_request(client: &Client) -> tokio::task::JoinHandle<()> {
    let sent = std::sync::Arc::new(tokio::sync::Notify::new());
    let task = tokio::spawn({
        let client = client.clone();
        let sent = sent.clone();
        async move {
            let _ = client
                .codes()
                .get("slow")
                .on_send(move |_| sent.notify_one())
                .send()
                .await;
        }
    });
    sent.notified().await;
    task
}

/// Sends `GET /api/v1/codes/menu-v3` with `deadline`; fails the test if it does not end within
/// a minute.
pub async fn get_within(client: &Client, deadline: std::time::Duration) -> heldqr_sdk::Error {
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        client.codes().get("menu-v3").deadline(deadline).send(),
    )
    .await
    .expect("the deadline ends the wait for the budget")
    .expect_err("no answer within the deadline")
}
