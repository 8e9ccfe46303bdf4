//! The request journal (`GET/DELETE /_mock/requests`, `POST /_mock/reset?account=`,
//! `MockServer::requests`): what it records, each filter, its bounds, per-account reset.

mod common;

use std::time::Duration;

use axum::http::Method;
use common::*;
use heldqr_mock::{
    FaultConfig, JOURNAL_BODY_LIMIT, JOURNAL_HEADER_LIMIT, MockConfig, MockServer, Plan,
    RequestFilter,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MENU: &str = r#"{"target_url": "https://example.com/menu"}"#;

async fn journal(m: &Mock, query: &str) -> Vec<Value> {
    let r = m
        .req(Method::GET, &format!("/_mock/requests{query}"))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json["data"].as_array().unwrap().clone()
}

fn ids(entries: &[Value]) -> Vec<u64> {
    entries.iter().map(|e| e["id"].as_u64().unwrap()).collect()
}

fn create(m: &Mock, token: &str, key: &[u8], body: &str) -> Req {
    m.req(Method::POST, "/api/v1/codes")
        .token(token)
        .header_bytes("idempotency-key", key)
        .json(body)
}

#[tokio::test]
async fn records_api_and_scan_requests_with_what_was_sent_and_answered() {
    let m = Mock::new();
    let first = create(&m, PRO, b"order-17", MENU).send().await;
    assert_eq!(first.status, 201);
    let sc = first.json["data"]["shortcode"].as_str().unwrap().to_owned();
    let replay = create(&m, PRO, b"order-17", MENU).send().await;
    assert_eq!(replay.header("idempotent-replay"), Some("true"));
    m.req(Method::GET, &format!("/r/{sc}")).send().await;
    // Not recorded: liveness, the document, the mock-only routes.
    m.req(Method::GET, "/healthz").send().await;
    m.req(Method::GET, "/reference").send().await;
    m.req(Method::GET, "/_mock/clock").send().await;

    let all = journal(&m, "").await;
    assert_eq!(all.len(), 3, "{all:#?}");
    let e = &all[0];
    assert_eq!(e["method"], "POST");
    assert_eq!(e["path"], "/api/v1/codes");
    assert_eq!(e["status"], 201);
    assert_eq!(e["account"], "acct_pro");
    assert_eq!(
        e["token"], "_pro",
        "the last four characters of hkr_test_pro"
    );
    assert_eq!(e["idempotency_key"], "order-17");
    assert_eq!(e["idempotent_replay"], false);
    assert_eq!(e["fault"], Value::Null);
    assert_eq!(e["request_id"], first.header("x-request-id").unwrap());
    assert_eq!(e["at"], "2026-06-01T09:00:00Z");
    assert!(e["duration_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(
        e["request"]["body"],
        json!({"target_url": "https://example.com/menu"})
    );
    assert_eq!(e["request"]["headers"]["content-type"], "application/json");
    assert_eq!(e["response"]["body"], first.json);
    assert_eq!(e["response"]["headers"]["x-ratelimit-limit"], "1000000");
    assert_eq!(all[1]["idempotent_replay"], true);
    assert_eq!(all[2]["path"], format!("/r/{sc}"));
    assert_eq!(all[2]["status"], 302);
    assert_eq!(all[2]["account"], Value::Null);
    let ids = ids(&all);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}

#[tokio::test]
async fn the_token_shows_only_its_last_four_characters() {
    let m = Mock::with(
        MockConfig::default()
            .token("hkr_live_0123456789abcdef", Plan::Pro, "acct_a")
            .token("tok_8chr", Plan::Pro, "acct_b"),
    );
    m.get("/api/v1/codes", "hkr_live_0123456789abcdef").await;
    m.get("/api/v1/codes", "tok_8chr").await;
    let all = journal(&m, "").await;
    assert_eq!(all[0]["token"], "cdef");
    assert_eq!(
        all[0]["request"]["headers"]["authorization"],
        "Bearer ...cdef"
    );
    assert_eq!(all[1]["token"], Value::Null);
    assert_eq!(
        all[1]["request"]["headers"]["authorization"],
        "Bearer [redacted]"
    );
    let text = serde_json::to_string(&all).unwrap();
    assert!(
        !text.contains("0123456789ab") && !text.contains("tok_8chr"),
        "{text}"
    );
}

#[tokio::test]
async fn the_token_is_recorded_even_when_its_header_comes_after_the_64_recorded_names() {
    let m =
        Mock::with(MockConfig::default().token("hkr_live_0123456789abcdef", Plan::Pro, "acct_a"));
    let mut req = m.req(Method::GET, "/api/v1/codes");
    for i in 0..70 {
        req = req.header(&format!("x-filler-{i:02}"), "1");
    }
    let r = req.token("hkr_live_0123456789abcdef").send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    let all = journal(&m, "").await;
    assert_eq!(all[0]["request"]["headers"]["authorization"], Value::Null);
    assert_eq!(all[0]["token"], "cdef");
    assert_eq!(all[0]["account"], "acct_a");
}

#[tokio::test]
async fn the_idempotency_key_is_recorded_whole_wherever_its_header_comes() {
    let m = Mock::new();
    let key = "k".repeat(255);
    // Among the recorded names, and after the 64 recorded names.
    let first = create(&m, PRO, key.as_bytes(), MENU).send().await;
    assert_eq!(first.status, 201, "{}", first.text());
    let mut late = m.req(Method::POST, "/api/v1/codes").token(PRO);
    for i in 0..70 {
        late = late.header(&format!("x-filler-{i:02}"), "1");
    }
    let late = late
        .header_bytes("idempotency-key", b"late-key")
        .json(MENU)
        .send()
        .await;
    assert_eq!(late.status, 201, "{}", late.text());
    m.get("/api/v1/codes", PRO).await;
    // Longer than a recorded header value: refused (400), and journaled with the whole key.
    let long = "L".repeat(JOURNAL_HEADER_LIMIT + 100);
    let refused = create(&m, PRO, long.as_bytes(), MENU).send().await;
    assert_eq!(refused.status, 400, "{}", refused.text());
    let all = journal(&m, "").await;
    assert_eq!(all[0]["idempotency_key"], key.as_str());
    assert_eq!(all[1]["idempotency_key"], "late-key");
    assert_eq!(all[1]["request"]["headers"]["idempotency-key"], Value::Null);
    assert_eq!(all[2]["idempotency_key"], Value::Null);
    assert_eq!(all[3]["idempotency_key"], long.as_str());
    let shown = all[3]["request"]["headers"]["idempotency-key"]
        .as_str()
        .unwrap();
    assert!(
        shown.len() < long.len(),
        "the header itself is cut: {shown}"
    );
}

#[tokio::test]
async fn each_filter_selects_its_entries() {
    let m = Mock::new();
    create(&m, PRO, b"k-1", MENU).send().await; // 201
    create(&m, PRO, b"k-1", MENU).send().await; // 201 replay
    create(&m, FREE, b"k-2", r#"{"target_url": "nope"}"#)
        .send()
        .await; // 422
    m.get("/api/v1/codes", BUSINESS).await; // 200
    m.get("/api/v1/codes/nothing", PRO).await; // 404

    assert_eq!(journal(&m, "?method=post").await.len(), 3);
    assert_eq!(journal(&m, "?method=GET").await.len(), 2);
    assert_eq!(journal(&m, "?path=/api/v1/codes").await.len(), 4);
    assert_eq!(journal(&m, "?status=201").await.len(), 2);
    assert_eq!(journal(&m, "?status=422").await.len(), 1);
    assert_eq!(journal(&m, "?account=acct_pro").await.len(), 3);
    assert_eq!(journal(&m, "?account=acct_free").await.len(), 1);
    assert_eq!(journal(&m, "?idempotency_key=k-1").await.len(), 2);
    let all = journal(&m, "").await;
    let third = all[2]["id"].as_u64().unwrap();
    assert_eq!(
        ids(&journal(&m, &format!("?since={third}")).await),
        ids(&all[3..])
    );
    // Combined: all must hold.
    let both = journal(&m, "?account=acct_pro&status=201&method=POST").await;
    assert_eq!(both.len(), 2);
    // Bad filters are 400 in the envelope.
    for bad in [
        "?status=abc",
        "?status=99",
        "?since=-1",
        "?after=x",
        "?after=1&after=2",
        "?method=GET&method=POST",
        // A misspelt filter (account) is not silently the whole journal.
        "?acount=acct_pro",
        "?status=201&bogus=1",
    ] {
        let r = m
            .req(Method::GET, &format!("/_mock/requests{bad}"))
            .send()
            .await;
        assert_eq!(
            (r.status, r.error_code()),
            (400, "invalid_parameter"),
            "{bad}"
        );
    }
    let r = m.req(Method::GET, "/_mock/requests?acount=x").send().await;
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"acount\""),
        "{}",
        r.json
    );
    // The typed view is the same.
    let typed = m
        .state
        .requests(&RequestFilter::new().idempotency_key("k-1"));
    assert_eq!(typed.len(), 2);
    assert!(
        typed
            .iter()
            .all(|e| e.idempotency_key.as_deref() == Some("k-1"))
    );
}

#[tokio::test]
async fn a_key_that_is_not_utf8_is_shown_escaped() {
    let m = Mock::new();
    create(&m, PRO, b"caf\xe9", MENU).send().await;
    let all = journal(&m, "").await;
    assert_eq!(all[0]["idempotency_key"], "caf\\xE9");
    assert_eq!(journal(&m, "?idempotency_key=caf%5CxE9").await.len(), 1);
}

#[tokio::test]
async fn delete_clears_and_ids_are_never_reused() {
    let m = Mock::new();
    m.get("/api/v1/codes", PRO).await;
    m.get("/api/v1/codes", PRO).await;
    let before = ids(&journal(&m, "").await);
    assert_eq!(
        m.req(Method::DELETE, "/_mock/requests").send().await.status,
        204
    );
    assert!(journal(&m, "").await.is_empty());
    m.get("/api/v1/codes", PRO).await;
    assert_eq!(m.req(Method::POST, "/_mock/reset").send().await.status, 204);
    assert!(
        journal(&m, "").await.is_empty(),
        "a full reset clears the journal"
    );
    m.get("/api/v1/codes", PRO).await;
    let after = ids(&journal(&m, "").await);
    assert!(after[0] > before[1] + 1, "{before:?} then {after:?}");
}

#[tokio::test]
async fn an_account_reset_leaves_the_other_accounts_alone() {
    let m = Mock::new();
    let pro_code = m.create(PRO, MENU).await;
    let free_code = m.create(FREE, MENU).await;
    create(&m, PRO, b"kept?", MENU).send().await;
    let r = m
        .req(Method::POST, "/_mock/reset?account=acct_pro")
        .send()
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        m.get(&format!("/api/v1/codes/{pro_code}"), PRO)
            .await
            .status,
        404
    );
    assert_eq!(
        m.get(&format!("/api/v1/codes/{free_code}"), FREE)
            .await
            .status,
        200
    );
    // The key is free again for acct_pro's token.
    let again = create(&m, PRO, b"kept?", MENU).send().await;
    assert_eq!(
        (again.status, again.header("idempotent-replay")),
        (201, None)
    );
    // acct_pro's journal entries went with it; acct_free's stay.
    let pro = journal(&m, "?account=acct_pro").await;
    assert_eq!(pro.len(), 2, "only the requests since the reset: {pro:#?}");
    assert_eq!(journal(&m, "?account=acct_free").await.len(), 2);
    let r = m
        .req(Method::POST, "/_mock/reset?account=acct_nobody")
        .send()
        .await;
    assert_eq!((r.status, r.error_code()), (404, "not_found"));
}

#[tokio::test]
async fn the_journal_is_bounded_in_entries_and_bytes() {
    // Bodies are kept up to JOURNAL_BODY_LIMIT bytes and marked when cut.
    let m = Mock::new();
    let label = "x".repeat(2 * JOURNAL_BODY_LIMIT);
    let body = json!({"target_url": "https://example.com", "label": label}).to_string();
    let r = create(&m, PRO, b"big", &body).send().await;
    assert_eq!(r.status, 422, "a label over 200 characters");
    let e = &journal(&m, "").await[0];
    assert_eq!(e["request"]["body_truncated"], true);
    assert_eq!(
        e["request"]["body"].as_str().unwrap().len(),
        JOURNAL_BODY_LIMIT
    );

    // An answer over the limit is kept cut, and marked; one within it is kept whole.
    let m = Mock::new();
    for i in 0..40 {
        let label = format!("{}{i}", "x".repeat(150));
        let body = json!({"target_url": "https://example.com", "label": label}).to_string();
        let key = format!("k{i}");
        assert_eq!(
            create(&m, PRO, key.as_bytes(), &body).send().await.status,
            201
        );
    }
    let page = m.get("/api/v1/codes?page_size=100", PRO).await;
    assert!(
        page.text().len() > JOURNAL_BODY_LIMIT,
        "{}",
        page.text().len()
    );
    let one = m.get("/api/v1/codes?page_size=1", PRO).await;
    let kept = journal(&m, "?method=GET").await;
    assert_eq!(kept[0]["response"]["body_truncated"], true);
    assert_eq!(
        kept[0]["response"]["body"].as_str().unwrap(),
        &page.text()[..JOURNAL_BODY_LIMIT]
    );
    assert_eq!(kept[1]["response"]["body_truncated"], false);
    assert_eq!(kept[1]["response"]["body"], one.json);

    // Entries: the last N.
    let m = Mock::with(MockConfig::default().journal_size(3));
    for _ in 0..5 {
        m.get("/api/v1/codes", PRO).await;
    }
    assert_eq!(journal(&m, "").await.len(), 3);

    // Bytes: many large requests stay within the budget, oldest out first.
    let budget = 256 * 1024;
    let m = Mock::with(MockConfig::default().journal_max_bytes(budget));
    for i in 0..200 {
        create(&m, PRO, format!("big-{i}").as_bytes(), &body)
            .send()
            .await;
    }
    assert!(
        m.state.journal_bytes() <= budget,
        "{}",
        m.state.journal_bytes()
    );
    let kept = journal(&m, "").await;
    assert!(kept.len() > 5 && kept.len() < 200, "{}", kept.len());
    assert_eq!(kept.last().unwrap()["idempotency_key"], "big-199");

    // Off.
    let m = Mock::with(MockConfig::default().journal_size(0));
    m.get("/api/v1/codes", PRO).await;
    assert!(journal(&m, "").await.is_empty());
}

#[tokio::test]
async fn a_dropped_answer_is_recorded_with_its_status_and_fault() {
    let server = MockServer::start(
        MockConfig::default()
            .seed(1)
            .faults(FaultConfig::new().seed(3).drop_after_commit(1.0)),
    )
    .await
    .unwrap();
    let addr = server
        .base_url()
        .strip_prefix("http://")
        .unwrap()
        .to_owned();
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    let req = format!(
        "POST /api/v1/codes HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {PRO}\r\n\
         Content-Type: application/json\r\nIdempotency-Key: dropped-1\r\nContent-Length: {}\r\n\r\n{MENU}",
        MENU.len()
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    assert!(out.is_empty(), "no answer reached the client");
    let entries = server.requests(&RequestFilter::new().idempotency_key("dropped-1"));
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].status, 201,
        "what the server answered before the drop"
    );
    assert_eq!(entries[0].fault.as_deref(), Some("connection_closed"));
    assert_eq!(entries[0].account.as_deref(), Some("acct_pro"));
}

/// `GET path` on a fresh connection (`Connection: close`) with the pro token; the JSON body.
async fn raw_get(addr: &str, path: &str) -> Value {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {PRO}\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    serde_json::from_str(body).unwrap()
}

#[tokio::test]
async fn following_the_cursor_shows_a_slow_request_answered_after_a_later_one() {
    let server = MockServer::start(MockConfig::default().seed(1))
        .await
        .unwrap();
    let addr = server.local_addr().to_string();
    let start = raw_get(&addr, "/_mock/requests").await;
    assert_eq!(start["data"], json!([]));
    let start_cursor = start["cursor"].as_u64().unwrap();
    let cursor = start_cursor;

    // The slow request: a create whose body has not been sent. The server's 100 Continue
    // says the request has arrived (and taken its id).
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/v1/codes HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {PRO}\r\n\
         Content-Type: application/json\r\nIdempotency-Key: slow-1\r\nExpect: 100-continue\r\n\
         Content-Length: {}\r\n\r\n",
        MENU.len()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let mut continue_line = [0u8; 25];
    slow.read_exact(&mut continue_line).await.unwrap();
    assert_eq!(&continue_line, b"HTTP/1.1 100 Continue\r\n\r\n");

    // A later request, answered first.
    let listed = raw_get(&addr, "/api/v1/codes").await;
    assert_eq!(listed["data"], json!([]));
    let page = raw_get(&addr, &format!("/_mock/requests?after={cursor}")).await;
    let fast_ids = ids(page["data"].as_array().unwrap());
    assert_eq!(fast_ids.len(), 1);
    let fast = fast_ids[0];
    let cursor = page["cursor"].as_u64().unwrap();

    // Now the slow one is answered.
    slow.write_all(MENU.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    slow.read_to_end(&mut out).await.unwrap();
    assert!(
        out.starts_with(b"HTTP/1.1 201"),
        "{}",
        String::from_utf8_lossy(&out)
    );

    // By id, a poller that saw the later request never sees it...
    let by_id = raw_get(&addr, &format!("/_mock/requests?since={fast}")).await;
    assert_eq!(by_id["data"], json!([]));
    // ...by cursor it does, once, with the smaller id.
    let page = raw_get(&addr, &format!("/_mock/requests?after={cursor}")).await;
    let entries = page["data"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{entries:#?}");
    assert_eq!(entries[0]["idempotency_key"], "slow-1");
    assert!(entries[0]["id"].as_u64().unwrap() < fast);
    let again = raw_get(&addr, &format!("/_mock/requests?after={}", page["cursor"])).await;
    assert_eq!(again["data"], json!([]));
    assert_eq!(again["cursor"], page["cursor"]);
    // With a limit, the journal comes a page at a time, in the order it was recorded: the
    // later request first, then the slow one.
    let first = raw_get(
        &addr,
        &format!("/_mock/requests?after={start_cursor}&limit=1"),
    )
    .await;
    assert_eq!(ids(first["data"].as_array().unwrap()), [fast]);
    let second = raw_get(
        &addr,
        &format!("/_mock/requests?after={}&limit=1", first["cursor"]),
    )
    .await;
    assert_eq!(second["data"][0]["idempotency_key"], "slow-1");
    assert_eq!(second["cursor"], page["cursor"]);
    server.shutdown().await;
}

#[tokio::test]
async fn a_large_read_is_streamed_and_an_entry_evicted_meanwhile_is_left_out() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let m = Mock::with(
        MockConfig::default()
            .rate_limit(1_000_000, Duration::from_secs(60))
            .journal_size(400),
    );
    // Requests with long headers of bytes that are not UTF-8: as JSON (`\xFF` escapes) each
    // entry is several times the bytes it is kept in.
    let junk = vec![0xFF_u8; JOURNAL_HEADER_LIMIT];
    for _ in 0..200 {
        let mut req = m.req(Method::GET, "/api/v1/codes").token(PRO);
        for n in 0..8 {
            req = req.header_bytes(&format!("x-junk-{n}"), &junk);
        }
        assert_eq!(req.send().await.status, 200);
    }
    // A small read is one piece, with its length.
    let r = m.req(Method::GET, "/_mock/requests?limit=1").send().await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-length").is_some());

    // The whole journal: streamed, no length up front.
    let req = axum::http::Request::get("/_mock/requests")
        .body(axum::body::Body::empty())
        .unwrap();
    let res = m.app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    assert!(res.headers().get("content-length").is_none());
    let mut body = res.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    // Meanwhile 300 more requests evict the oldest 100 of the 200 (the journal keeps 400).
    for _ in 0..300 {
        assert_eq!(m.get("/api/v1/codes/none", PRO).await.status, 404);
    }
    let mut text = first.to_vec();
    text.extend_from_slice(&body.collect().await.unwrap().to_bytes());
    let page: Value = serde_json::from_slice(&text).expect("whole JSON");
    let entries = page["data"].as_array().unwrap();
    // Only what the read selected (not the requests after it), less what was evicted first.
    assert!(entries.len() < 200, "{}", entries.len());
    assert!(entries.len() >= 100, "{}", entries.len());
    let got = ids(entries);
    assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
    assert!(
        entries.iter().all(|e| e["path"] == "/api/v1/codes"
            && e["request"]["headers"]["x-junk-0"]
                .as_str()
                .unwrap()
                .starts_with("\\xFF")),
        "only the 200 GETs"
    );
    assert_eq!(page["cursor"].as_u64().unwrap(), 200);
}

#[tokio::test]
async fn at_most_a_few_large_reads_are_sent_at_once() {
    use tower::ServiceExt;
    let m = Mock::with(
        MockConfig::default()
            .rate_limit(1_000_000, Duration::from_secs(60))
            .journal_size(400),
    );
    let junk = vec![0xFF_u8; JOURNAL_HEADER_LIMIT];
    for _ in 0..50 {
        let mut req = m.req(Method::GET, "/api/v1/codes").token(PRO);
        for n in 0..8 {
            req = req.header_bytes(&format!("x-junk-{n}"), &junk);
        }
        assert_eq!(req.send().await.status, 200);
    }
    let large_read = || {
        m.app.clone().oneshot(
            axum::http::Request::get("/_mock/requests")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
    };
    // Four clients that have started reading and stopped: each holds its place.
    let mut held = Vec::new();
    for _ in 0..4 {
        let res = large_read().await.unwrap();
        assert_eq!(res.status(), 200);
        held.push(res);
    }
    let res = large_read().await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "1");
    // A read of one piece is not held back.
    let r = m.req(Method::GET, "/_mock/requests?limit=2").send().await;
    assert_eq!(r.status, 200);
    // One reader gone, the next large read is sent.
    drop(held.pop());
    assert_eq!(large_read().await.unwrap().status(), 200);
}
