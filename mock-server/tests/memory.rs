//! Memory bounded by configuration, not by clients: what a keyed create, a keyed 422 and a scan
//! injection leave behind, measured with `AppState::stored_bytes` (the document's worst-case
//! figures are checked against the same measure), the codes cap, and expiry on a schedule.

mod common;

use std::time::Duration;

use axum::http::Method;
use common::*;
use heldqr_mock::{MockClock, MockConfig, MockServer};

fn keyed_create(m: &Mock, key: &str, body: &str) -> Req {
    m.req(Method::POST, "/api/v1/codes")
        .token(BUSINESS)
        .header("idempotency-key", key)
        .json(body)
}

/// A 255-byte key, a 2 KiB target URL and a 100-character label: the largest create the
/// document allows, kept with its replayable response for the key's whole retention.
#[tokio::test]
async fn a_keyed_create_at_the_field_limits_costs_under_6_kb() {
    let m = Mock::new();
    let before = m.state.stored_bytes();
    let n = 500;
    for i in 0..n {
        let key = format!("{i:0>255}");
        let url = format!("https://example.com/{}", "a".repeat(2048 - 20 - 6)) + &format!("{i:06}");
        assert_eq!(url.len(), 2048);
        let body = format!(r#"{{"target_url":"{url}","label":"{}"}}"#, "l".repeat(100));
        let r = keyed_create(&m, &key, &body).send().await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    assert_eq!(m.state.idempotency_key_count(), n);
    let per_create = (m.state.stored_bytes() - before) / n;
    println!("a keyed create at the field limits holds {per_create} bytes");
    assert!(per_create < 6 * 1024, "{per_create} bytes per keyed create");
}

/// A 64 KiB body of unknown fields, sent with a key, three tokens over: nothing is kept (only
/// a created code binds a key) and each 422 names at most 10 fields.
#[tokio::test]
async fn keyed_422s_keep_nothing_and_name_a_bounded_number_of_fields() {
    let m = Mock::new();
    let before = m.state.stored_bytes();
    let mut fields = String::from(r#"{"target_url":"https://example.com/""#);
    let mut i = 0;
    while fields.len() < 64 * 1024 - 32 {
        fields.push_str(&format!(r#","f{i}":1"#));
        i += 1;
    }
    fields.push('}');
    for token in [FREE, PRO, BUSINESS] {
        for k in 0..20 {
            let r = m
                .req(Method::POST, "/api/v1/codes")
                .token(token)
                .header("idempotency-key", &format!("flood-{k}"))
                .json(&fields)
                .send()
                .await;
            assert_eq!(r.status, 422, "{}", r.text());
            let named = r.json["error"]["field_errors"].as_object().unwrap();
            assert_eq!(named.len(), 10, "{}", r.text());
            assert!(r.text().contains("more unknown fields"), "{}", r.text());
            assert!(r.raw.len() < 2048, "a 422 of {} bytes", r.raw.len());
        }
    }
    assert_eq!(m.state.idempotency_key_count(), 0);
    assert_eq!(m.state.stored_bytes(), before);
}

#[tokio::test]
async fn scan_injection_is_bounded_per_call_and_old_days_keep_no_record() {
    let m = Mock::new();
    let sc = m
        .create(BUSINESS, r#"{"target_url":"https://example.com/s"}"#)
        .await;
    let path = format!("/_mock/codes/{sc}/scans");
    // More than 400 days in one call.
    let r = m
        .req(Method::POST, &path)
        .json(r#"{"from":"2025-01-01","to":"2026-02-05","per_day":1}"#)
        .send()
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.field_errors().iter().any(|f| f.starts_with("to")),
        "{}",
        r.text()
    );
    // Ending more than 400 days after the server's day (START is 2026-06-01).
    let r = m
        .req(Method::POST, &path)
        .json(r#"{"from":"2027-07-01","to":"2027-07-10","per_day":1}"#)
        .send()
        .await;
    assert_eq!(r.status, 422, "{}", r.text());

    // Ten years back, 400 days at a time, every call a new country: counted, not kept per day.
    let before = m.state.stored_bytes();
    for (i, year) in (2010..2020).enumerate() {
        let country = format!("{}{}", (b'A' + i as u8) as char, 'Q');
        let body = format!(
            r#"{{"from":"{year}-01-01","to":"{year}-12-31","per_day":3,"country":"{country}"}}"#
        );
        let r = m.req(Method::POST, &path).json(&body).send().await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(
        m.state.stored_bytes(),
        before,
        "no per-day records for old days"
    );
    let report = m.get(&format!("/api/v1/codes/{sc}/scans"), BUSINESS).await;
    assert_eq!(report.status, 200);
    assert_eq!(report.json["data"]["total_scans"], 3 * 3652);
    assert_eq!(report.json["data"]["first_scan_at"], "2010-01-01T00:00:00Z");

    // A year inside the window: one record per day, one country each, a few KiB per call.
    let before = m.state.stored_bytes();
    let r = m
        .req(Method::POST, &path)
        .json(r#"{"from":"2025-06-02","to":"2026-06-01","per_day":2,"country":"DE"}"#)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let call = m.state.stored_bytes() - before;
    println!("one call of 365 days holds {call} bytes");
    assert!(call < 64 * 1024, "{call} bytes for one call");
}

#[tokio::test]
async fn the_codes_cap_answers_403_in_the_envelope_and_binds_no_key() {
    let m = Mock::with(
        MockConfig::default()
            .rate_limit(1_000_000, Duration::from_secs(60))
            .max_codes_per_account(2),
    );
    for i in 0..2 {
        m.create(
            PRO,
            &format!(r#"{{"target_url":"https://example.com/{i}"}}"#),
        )
        .await;
    }
    let r = m
        .req(Method::POST, "/api/v1/codes")
        .token(PRO)
        .header("idempotency-key", "over-the-cap")
        .json(r#"{"target_url":"https://example.com/2"}"#)
        .send()
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.error_code(), "code_limit_reached");
    assert_eq!(m.state.idempotency_key_count(), 0);
    // Another account is not affected.
    m.create(BUSINESS, r#"{"target_url":"https://example.com/b"}"#)
        .await;
}

/// Expired keys go without any request passing by: on `/_mock/clock/advance`, and on the
/// running server's schedule (`reclaim_expired`).
#[tokio::test]
async fn expired_keys_are_reclaimed_without_a_request() {
    let clock = MockClock::manual(START);
    let server = MockServer::start(MockConfig::default().clock(clock.clone()))
        .await
        .unwrap();
    let client = reqwest_like(&server).await;
    assert_eq!(client, 201);
    assert_eq!(server.state().idempotency_key_count(), 1);
    clock.advance(Duration::from_secs(24 * 3600));
    // What the server's sweeper calls every few seconds.
    server.state().reclaim_expired();
    assert_eq!(server.state().idempotency_key_count(), 0);

    let m = Mock::new();
    let r = keyed_create(&m, "k1", r#"{"target_url":"https://example.com/"}"#)
        .send()
        .await;
    assert_eq!(r.status, 201);
    let r = m
        .req(Method::POST, "/_mock/clock/advance")
        .json(r#"{"seconds":86400}"#)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(m.state.idempotency_key_count(), 0);
    server.shutdown().await;
}

/// One keyed create over real TCP; returns the status.
async fn reqwest_like(server: &MockServer) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = server
        .base_url()
        .strip_prefix("http://")
        .unwrap()
        .to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let body = r#"{"target_url":"https://example.com/"}"#;
    let req = format!(
        "POST /api/v1/codes HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {BUSINESS}\r\n\
         Idempotency-Key: k-tcp\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out.split(' ').nth(1).unwrap().parse().unwrap()
}
