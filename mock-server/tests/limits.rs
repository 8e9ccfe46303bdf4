//! The sliding-window rate limit and idempotent creates, with a manual clock (no sleeps).

mod common;

use std::time::Duration;

use axum::http::Method;
use common::*;
use heldqr_mock::{MockConfig, Plan};
use serde_json::json;

const MENU: &str = r#"{"target_url": "https://example.com/menu"}"#;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test]
async fn a_burst_of_50_leaves_550_and_the_window_decays_continuously() {
    let m = Mock::with(MockConfig::default()); // 600 per 60 s
    let t0 = START.unix_timestamp() as u64;
    let mut last = None;
    for _ in 0..50 {
        last = Some(m.get("/api/v1/codes", PRO).await);
        m.clock.advance(ms(20)); // 50 requests within the first second
    }
    let r = last.unwrap();
    assert_eq!(r.header_u64("x-ratelimit-limit"), 600);
    assert_eq!(r.header_u64("x-ratelimit-remaining"), 550);
    assert_eq!(
        r.header_u64("x-ratelimit-reset"),
        t0 + 60,
        "when the first request leaves the window"
    );

    // Nothing frees up on a wall-clock minute: 58 s later all 50 still count.
    m.clock.advance(Duration::from_secs(58));
    let r = m.get("/api/v1/codes", PRO).await;
    assert_eq!(r.header_u64("x-ratelimit-remaining"), 549);
    // Just past t0 + 60.5 s, the requests sent in the first 0.5 s (26 of them) have left, one by one.
    m.clock.advance(ms(1_501)); // now t0 + 60.501 s
    let r = m.get("/api/v1/codes", PRO).await;
    assert_eq!(r.header_u64("x-ratelimit-remaining"), 600 - (50 - 26) - 2);
    assert_eq!(
        r.header_u64("x-ratelimit-reset"),
        t0 + 61,
        "the oldest still counted was sent at t0 + 0.52 s"
    );
    // Other tokens have their own window.
    assert_eq!(
        m.get("/api/v1/codes", FREE)
            .await
            .header_u64("x-ratelimit-remaining"),
        599
    );
}

#[tokio::test]
async fn over_the_cap_is_429_which_spends_a_credit_and_retry_after_counts_it() {
    let m = Mock::with(MockConfig::default().rate_limit(3, Duration::from_secs(10)));
    for _ in 0..3 {
        assert_eq!(m.get("/api/v1/codes", PRO).await.status, 200);
        m.clock.advance(Duration::from_secs(1));
    }
    // t0 + 3 s: t0, t0 + 1, t0 + 2 and this 429 count; room for one more once two of them
    // left, at t0 + 11 s.
    let r = m.get("/api/v1/codes", PRO).await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.json,
        json!({"error": {"code": "rate_limited", "message": "Too many requests."}})
    );
    assert_eq!(r.header_u64("retry-after"), 8);
    assert_eq!(r.header_u64("x-ratelimit-remaining"), 0);
    assert_eq!(r.header_u64("x-ratelimit-limit"), 3);
    assert_eq!(
        r.header_u64("x-ratelimit-reset"),
        START.unix_timestamp() as u64 + 11
    );

    // A client that sends nothing more until Retry-After has passed gets a 2xx.
    m.clock.advance(Duration::from_secs(8));
    let r = m.get("/api/v1/codes", PRO).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header_u64("x-ratelimit-remaining"), 0);

    // Any route, any method; each 429 spends a credit, so hammering pushes the wait out.
    let r = m.post("/api/v1/codes", PRO, MENU).await;
    assert_eq!(r.status, 429);
    let first_wait = r.header_u64("retry-after");
    for _ in 0..5 {
        assert_eq!(m.get("/api/v1/codes", PRO).await.status, 429);
    }
    // Over the cap, every operation is 429 before it reads its query, path or body.
    for (method, path, body) in [
        (Method::GET, "/api/v1/codes?page=abc", None),
        (Method::POST, "/api/v1/codes", Some("{not json")),
        (Method::PATCH, "/api/v1/codes/%FF%FE", Some("[]")),
        (Method::GET, "/api/v1/codes/nope/scans", None),
    ] {
        let mut req = m.req(method.clone(), path).token(PRO);
        if let Some(body) = body {
            req = req.json(body);
        }
        let r = req.send().await;
        assert_eq!(r.status, 429, "{method} {path}");
        assert_eq!(r.error_code(), "rate_limited", "{method} {path}");
    }
    let r = m.get("/api/v1/codes", PRO).await;
    assert_eq!(r.status, 429);
    assert!(r.header_u64("retry-after") > first_wait);

    // 0.4 s before the window has room, Retry-After is rounded up, never 0.
    let wait = r.header_u64("retry-after");
    m.clock
        .advance(Duration::from_secs(wait) - Duration::from_millis(400));
    let r = m.get("/api/v1/codes", PRO).await;
    assert_eq!(r.status, 429);
    assert!(r.header_u64("retry-after") >= 1);
}

#[tokio::test]
async fn every_api_answer_to_a_valid_token_shows_the_budget_and_spends_a_credit() {
    let m = Mock::with(MockConfig::default().rate_limit(100, Duration::from_secs(60)));
    let mut expected = 100;
    for (method, path, status) in [
        (Method::GET, "/api/v1/codes", 200),
        (Method::GET, "/api/v1/nothing", 404),
        (Method::GET, "/api/v1", 404),
        (Method::DELETE, "/api/v1/codes", 405),
        (Method::PUT, "/api/v1/codes/abc", 405),
        (Method::GET, "/api/v1/codes/nope", 404),
    ] {
        let r = m.req(method.clone(), path).token(PRO).send().await;
        expected -= 1;
        assert_eq!(r.status, status, "{method} {path}");
        assert_eq!(r.header_u64("x-ratelimit-limit"), 100, "{method} {path}");
        assert_eq!(
            r.header_u64("x-ratelimit-remaining"),
            expected,
            "{method} {path} spends one credit"
        );
        assert!(r.header("x-ratelimit-reset").is_some());
    }
    // Without a valid token: the documented order, and no budget.
    for token in [None, Some("hkr_unknown")] {
        for (method, path, status) in [
            (Method::GET, "/api/v1/nothing", 404),
            (Method::DELETE, "/api/v1/codes", 405),
            (Method::GET, "/api/v1/codes", 401),
            (Method::GET, "/api/v1/codes/nope", 401),
        ] {
            let mut req = m.req(method.clone(), path);
            if let Some(t) = token {
                req = req.token(t);
            }
            let r = req.send().await;
            assert_eq!(r.status, status, "{method} {path} {token:?}");
            assert!(r.header("x-ratelimit-limit").is_none(), "{method} {path}");
            assert!(r.header("x-ratelimit-remaining").is_none());
        }
    }
    // Outside /api/v1 nothing is spent.
    assert_eq!(
        m.req(Method::GET, "/healthz")
            .token(PRO)
            .send()
            .await
            .status,
        200
    );
    assert_eq!(
        m.req(Method::GET, "/r/nope").token(PRO).send().await.status,
        404
    );
    assert_eq!(
        m.req(Method::GET, "/_mock/clock")
            .token(PRO)
            .send()
            .await
            .status,
        200
    );
    assert_eq!(
        m.get("/api/v1/codes", PRO)
            .await
            .header_u64("x-ratelimit-remaining"),
        expected - 1
    );
}

fn create(m: &Mock, token: &str, key: &str, body: &str) -> common::Req {
    m.req(Method::POST, "/api/v1/codes")
        .token(token)
        .header("idempotency-key", key)
        .json(body)
}

#[tokio::test]
async fn same_key_same_body_replays_the_original_response() {
    let m = Mock::new();
    let first = create(
        &m,
        PRO,
        "5e3d40a2-9b87-4c12-a3e3-6f8d1f9c2b0a",
        r#"{"target_url": "https://example.com/menu", "label": "L"}"#,
    )
    .send()
    .await;
    assert_eq!(first.status, 201);
    assert!(first.header("idempotent-replay").is_none());
    m.clock.advance(Duration::from_secs(3600));
    // Whitespace and key order do not matter: bodies are compared as parsed JSON.
    let again = create(
        &m,
        PRO,
        "5e3d40a2-9b87-4c12-a3e3-6f8d1f9c2b0a",
        r#"{ "label":"L",  "target_url":"https://example.com/menu" }"#,
    )
    .send()
    .await;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replay"), Some("true"));
    assert_eq!(again.raw, first.raw, "the original body, byte for byte");
    again.assert_rate_headers();
    assert_eq!(m.state.code_count(), 1);
}

#[tokio::test]
async fn same_key_different_body_is_409() {
    let m = Mock::new();
    assert_eq!(create(&m, PRO, "k", MENU).send().await.status, 201);
    let r = create(
        &m,
        PRO,
        "k",
        r#"{"target_url": "https://example.com/other"}"#,
    )
    .send()
    .await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.json,
        json!({"error": {"code": "idempotency_key_conflict", "message": "Idempotency-Key was reused with a different request body."}})
    );
    assert_eq!(m.state.code_count(), 1);
}

#[tokio::test]
async fn keys_are_scoped_per_token_even_on_one_account() {
    let m = Mock::with(
        MockConfig::default()
            .token("tok_a", Plan::Pro, "acct_x")
            .token("tok_b", Plan::Pro, "acct_x"),
    );
    let a = create(&m, "tok_a", "shared-key", MENU).send().await;
    let b = create(&m, "tok_b", "shared-key", MENU).send().await;
    assert_eq!((a.status, b.status), (201, 201));
    assert!(b.header("idempotent-replay").is_none());
    assert_ne!(a.json["data"]["shortcode"], b.json["data"]["shortcode"]);
    assert_eq!(m.state.code_count(), 2);
}

#[tokio::test]
async fn after_the_ttl_the_key_is_free_again_and_its_entry_is_reclaimed() {
    let m = Mock::new();
    let first = create(&m, PRO, "k", MENU).send().await;
    m.clock.advance(Duration::from_secs(24 * 3600 - 1));
    assert_eq!(
        create(&m, PRO, "k", MENU)
            .send()
            .await
            .header("idempotent-replay"),
        Some("true")
    );
    m.clock.advance(Duration::from_secs(1));
    let later = create(&m, PRO, "k", MENU).send().await;
    assert_eq!(later.status, 201);
    assert!(later.header("idempotent-replay").is_none());
    assert_ne!(
        later.json["data"]["shortcode"],
        first.json["data"]["shortcode"]
    );

    // Old keys are dropped, not just ignored.
    for i in 0..10 {
        create(&m, PRO, &format!("key-{i}"), MENU).send().await;
    }
    assert_eq!(m.state.idempotency_key_count(), 11);
    m.clock.advance(Duration::from_secs(24 * 3600));
    create(&m, PRO, "fresh", MENU).send().await;
    assert_eq!(m.state.idempotency_key_count(), 1);
}

#[tokio::test]
async fn the_ttl_is_configurable() {
    let m = Mock::with(MockConfig::default().idempotency_ttl(Duration::from_secs(60)));
    create(&m, PRO, "k", MENU).send().await;
    m.clock.advance(Duration::from_secs(60));
    assert!(
        create(&m, PRO, "k", MENU)
            .send()
            .await
            .header("idempotent-replay")
            .is_none()
    );
}

#[tokio::test]
async fn only_a_created_code_binds_the_key() {
    let m = Mock::new();
    // A 422 is not stored: the corrected retry with the same key creates the code.
    let bad = r#"{"target_url": "nope"}"#;
    assert_eq!(create(&m, PRO, "k422", bad).send().await.status, 422);
    let r = create(&m, PRO, "k422", bad).send().await;
    assert_eq!((r.status, r.header("idempotent-replay")), (422, None));
    let r = create(&m, PRO, "k422", MENU).send().await;
    assert_eq!((r.status, r.header("idempotent-replay")), (201, None));
    let again = create(&m, PRO, "k422", MENU).send().await;
    assert_eq!(
        (again.status, again.header("idempotent-replay")),
        (201, Some("true"))
    );
    assert_eq!(again.json, r.json);

    // A 409 shortcode_taken is not stored either: retried with a free shortcode, it succeeds.
    let chosen = r#"{"target_url": "https://example.com", "shortcode": "taken"}"#;
    create(&m, FREE, "other", chosen).send().await;
    let r = create(&m, PRO, "k409", chosen).send().await;
    assert_eq!((r.status, r.error_code()), (409, "shortcode_taken"));
    assert!(r.header("idempotent-replay").is_none());
    let fixed = r#"{"target_url": "https://example.com", "shortcode": "free-one"}"#;
    let r = create(&m, PRO, "k409", fixed).send().await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json["data"]["shortcode"], "free-one");

    // 400 and 415 are not stored: the key is still free afterwards.
    assert_eq!(create(&m, PRO, "k400", "{oops").send().await.status, 400);
    let r = m
        .req(Method::POST, "/api/v1/codes")
        .token(PRO)
        .header("idempotency-key", "k400")
        .header("content-type", "text/plain")
        .body(MENU)
        .send()
        .await;
    assert_eq!(r.status, 415);
    let r = create(&m, PRO, "k400", MENU).send().await;
    assert_eq!(r.status, 201);
    assert!(r.header("idempotent-replay").is_none());
    assert_eq!(
        m.state.idempotency_key_count(),
        4,
        "k422, other, k409, k400"
    );
}

#[tokio::test]
async fn text_keys_with_spaces_tabs_and_accents_are_accepted_and_replayed() {
    let m = Mock::new();
    for key in [
        &b"menu import line 17"[..],
        "commande-été-7".as_bytes(),
        b"tab\tinside",
        // Latin-1, as Python's http.client sends it: not UTF-8, still a key.
        b"commande-\xe9t\xe9-7",
        &[0x80, 0xff, b'!', b'~'],
    ] {
        let first = m
            .req(Method::POST, "/api/v1/codes")
            .token(PRO)
            .header_bytes("idempotency-key", key)
            .json(MENU)
            .send()
            .await;
        assert_eq!(first.status, 201, "{key:?}: {}", first.text());
        assert!(first.header("idempotent-replay").is_none());
        let again = m
            .req(Method::POST, "/api/v1/codes")
            .token(PRO)
            .header_bytes("idempotency-key", key)
            .json(MENU)
            .send()
            .await;
        assert_eq!(again.status, 201, "{key:?}");
        assert_eq!(again.header("idempotent-replay"), Some("true"), "{key:?}");
        assert_eq!(again.json, first.json, "{key:?}");
    }
    // Compared byte for byte: the UTF-8 and the Latin-1 spellings are two keys.
    assert_eq!(m.state.code_count(), 5);
}

#[tokio::test]
async fn invalid_keys_are_400() {
    let m = Mock::new();
    let long = "a".repeat(256);
    for key in [
        &b""[..],
        long.as_bytes(),
        " leading".as_bytes(),
        b"trailing ",
        b"\tleading-tab",
        b"trailing-tab\t",
        // 256 bytes, counted as bytes: 128 two-byte characters.
        "é".repeat(128).as_bytes(),
        // C0 controls such as ESC never get past HTTP parsing (the unit test in
        // handlers/codes.rs covers them).
    ] {
        let r = m
            .req(Method::POST, "/api/v1/codes")
            .token(PRO)
            .header_bytes("idempotency-key", key)
            .json(MENU)
            .send()
            .await;
        assert_eq!(r.status, 400, "{key:?}");
        assert_eq!(r.error_code(), "invalid_idempotency_key");
    }
    assert_eq!(m.state.code_count(), 0);
    let ok = "~".repeat(255);
    assert_eq!(create(&m, PRO, &ok, MENU).send().await.status, 201);
    // 255 bytes of two-byte characters plus one ASCII byte is the longest; one more is too long.
    let ok = format!("{}x", "é".repeat(127));
    assert_eq!(create(&m, PRO, &ok, MENU).send().await.status, 201);
    // Ignored elsewhere.
    let r = m
        .req(Method::GET, "/api/v1/codes")
        .token(PRO)
        .header("idempotency-key", "")
        .send()
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_same_key_creates_make_one_code() {
    let m = Mock::new();
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let req = create(&m, PRO, "race", MENU);
        tasks.push(tokio::spawn(req.send()));
    }
    let mut shortcodes = std::collections::HashSet::new();
    let mut replays = 0;
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 201);
        shortcodes.insert(r.json["data"]["shortcode"].as_str().unwrap().to_owned());
        replays += usize::from(r.header("idempotent-replay") == Some("true"));
    }
    assert_eq!(shortcodes.len(), 1);
    assert_eq!(replays, 63);
    assert_eq!(m.state.code_count(), 1);
}
