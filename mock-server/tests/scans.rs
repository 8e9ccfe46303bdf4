//! The scan URL, the plan-shaped scans report, the mock-only routes, `/reference` and `/healthz`.

mod common;

use std::time::Duration;

use axum::http::Method;
use common::*;
use serde_json::{Value, json};

const MENU: &str = r#"{"target_url": "https://example.com/menu", "shortcode": "menu-v3"}"#;
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148";

async fn scan(m: &Mock, sc: &str, country: Option<&str>, ua: Option<&str>) -> Resp {
    let mut r = m.req(Method::GET, &format!("/r/{sc}"));
    if let Some(c) = country {
        r = r.header("cf-ipcountry", c);
    }
    if let Some(ua) = ua {
        r = r.header("user-agent", ua);
    }
    r.send().await
}

async fn report(m: &Mock, token: &str, sc: &str) -> Value {
    let r = m.get(&format!("/api/v1/codes/{sc}/scans"), token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json["data"].clone()
}

async fn add_scans(m: &Mock, sc: &str, body: Value) -> Resp {
    m.req(Method::POST, &format!("/_mock/codes/{sc}/scans"))
        .json(&body.to_string())
        .send()
        .await
}

#[tokio::test]
async fn the_scan_url_records_and_redirects_to_the_current_target() {
    let m = Mock::new();
    let sc = m.create(PRO, MENU).await;
    let r = scan(&m, &sc, Some("de"), Some(IPHONE)).await;
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("https://example.com/menu"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(
        r.header("x-ratelimit-limit").is_none(),
        "no token, no credit"
    );

    // A PATCH shows at once.
    m.patch(
        &format!("/api/v1/codes/{sc}"),
        PRO,
        r#"{"target_url": "https://example.com/menu-2026"}"#,
    )
    .await;
    m.clock.advance(Duration::from_secs(90));
    let r = scan(&m, &sc, Some("T1"), Some("curl/8.5.0")).await;
    assert_eq!(r.header("location"), Some("https://example.com/menu-2026"));

    // HEAD answers alike but is not a scan.
    let r = m.req(Method::HEAD, &format!("/r/{sc}")).send().await;
    assert_eq!(r.status, 302);

    let rep = report(&m, PRO, &sc).await;
    assert_eq!(rep["total_scans"], 2);
    assert_eq!(rep["first_scan_at"], "2026-06-01T09:00:00Z");
    assert_eq!(rep["last_scan_at"], "2026-06-01T09:01:30Z");
    assert_eq!(
        rep["countries"],
        json!([{"country": "DE", "scans": 1}, {"country": "XX", "scans": 1}])
    );
    assert_eq!(
        rep["devices"],
        json!([{"device": "bot", "scans": 1}, {"device": "mobile", "scans": 1}])
    );

    // Paused: 410, nothing recorded.
    m.patch(
        &format!("/api/v1/codes/{sc}"),
        PRO,
        r#"{"status": "paused"}"#,
    )
    .await;
    let r = scan(&m, &sc, None, None).await;
    assert_eq!(r.status, 410);
    assert_eq!(
        r.json,
        json!({"error": {"code": "code_paused", "message": "This code is paused."}})
    );
    assert_eq!(report(&m, PRO, &sc).await["total_scans"], 2);

    let r = scan(&m, "nothing-here", None, None).await;
    assert_eq!((r.status, r.error_code()), (404, "not_found"));
}

#[tokio::test]
async fn free_sees_lifetime_totals_only() {
    let m = Mock::new();
    let sc = m.create(FREE, MENU).await;
    assert_eq!(
        report(&m, FREE, &sc).await,
        json!({"plan": "free", "shortcode": "menu-v3", "total_scans": 0, "first_scan_at": null, "last_scan_at": null})
    );
    scan(&m, &sc, None, None).await;
    let rep = report(&m, FREE, &sc).await;
    assert_eq!(rep.as_object().unwrap().len(), 5);
    assert_eq!(rep["total_scans"], 1);
}

#[tokio::test]
async fn pro_has_a_30_day_window_of_zero_filled_daily_buckets() {
    let m = Mock::new();
    let sc = m.create(PRO, MENU).await;
    let rep = report(&m, PRO, &sc).await;
    assert_eq!(rep["plan"], "pro");
    assert_eq!(
        rep["window"],
        json!({"start_date": "2026-05-03", "end_date": "2026-06-01", "days": 30})
    );
    assert_eq!(rep["window_scans"], 0);
    let daily = rep["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 30);
    assert_eq!(daily[0], json!({"date": "2026-05-03", "scans": 0}));
    assert_eq!(daily[29], json!({"date": "2026-06-01", "scans": 0}));
    assert_eq!(rep["countries"], json!([]));
    assert_eq!(rep["devices"], json!([]));
}

#[tokio::test]
async fn windows_move_with_the_clock_and_business_sees_a_year() {
    let m = Mock::new();
    let sc = m.create(BUSINESS, MENU).await;
    // A year of scans, ending today: 3 a day from Germany on mobile.
    let r = add_scans(&m, &sc, json!({"from": "2025-06-02", "to": "2026-06-01", "per_day": 3, "country": "DE", "device": "mobile"})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json, json!({"data": {"added": 1095}}));
    // Plus 5 from the US on desktop, 10 days ago.
    add_scans(&m, &sc, json!({"from": "2026-05-22", "to": "2026-05-22", "per_day": 5, "country": "US", "device": "desktop"})).await;

    let rep = report(&m, BUSINESS, &sc).await;
    assert_eq!(rep["plan"], "business");
    assert_eq!(
        rep["window"],
        json!({"start_date": "2025-06-02", "end_date": "2026-06-01", "days": 365})
    );
    assert_eq!(rep["total_scans"], 1100);
    assert_eq!(rep["window_scans"], 1100);
    assert_eq!(rep["first_scan_at"], "2025-06-02T00:00:00Z");
    assert_eq!(rep["last_scan_at"], "2026-06-01T00:00:00Z");
    assert_eq!(rep["daily"].as_array().unwrap().len(), 365);
    assert_eq!(
        rep["countries"],
        json!([{"country": "DE", "scans": 1095}, {"country": "US", "scans": 5}])
    );
    assert_eq!(
        rep["devices"],
        json!([{"device": "mobile", "scans": 1095}, {"device": "desktop", "scans": 5}])
    );
    let may22 = rep["daily"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["date"] == "2026-05-22")
        .unwrap();
    assert_eq!(may22["scans"], 8);

    // 25 days later: the US scans are 35 days old, the German ones before 2025-06-27 left the window.
    m.clock.advance(Duration::from_secs(25 * 86_400));
    let rep = report(&m, BUSINESS, &sc).await;
    assert_eq!(
        rep["window"],
        json!({"start_date": "2025-06-27", "end_date": "2026-06-26", "days": 365})
    );
    assert_eq!(rep["total_scans"], 1100, "lifetime totals never shrink");
    assert_eq!(rep["window_scans"], 340 * 3 + 5);
    assert_eq!(
        rep["daily"].as_array().unwrap().last().unwrap(),
        &json!({"date": "2026-06-26", "scans": 0})
    );
}

#[tokio::test]
async fn the_report_shape_follows_the_plan_of_the_account_asking() {
    let m = Mock::with(
        heldqr_mock::MockConfig::default()
            .token("pro_tok", heldqr_mock::Plan::Pro, "acct_p")
            .token("biz_tok", heldqr_mock::Plan::Business, "acct_b"),
    );
    let sc = m.create("pro_tok", MENU).await;
    add_scans(
        &m,
        &sc,
        json!({"from": "2026-04-01", "to": "2026-06-01", "per_day": 1}),
    )
    .await;
    let rep = report(&m, "pro_tok", &sc).await;
    assert_eq!(rep["total_scans"], 62);
    assert_eq!(rep["window_scans"], 30);
    assert_eq!(rep["countries"], json!([{"country": "XX", "scans": 30}]));
    assert_eq!(rep["devices"], json!([{"device": "other", "scans": 30}]));
}

#[tokio::test]
async fn bulk_scan_batches_are_validated() {
    let m = Mock::new();
    let sc = m.create(PRO, MENU).await;
    let cases = [
        (
            json!({"from": "2026-06-02", "to": "2026-06-01", "per_day": 1}),
            vec!["to"],
        ),
        (
            json!({"from": "2010-01-01", "to": "2026-06-01", "per_day": 1}),
            vec!["to"],
        ),
        (
            json!({"from": "2026-13-01", "to": "2026-06-01", "per_day": 0}),
            vec!["from", "per_day"],
        ),
        (
            json!({"from": "2026-06-01", "to": "2026-06-01", "per_day": 1, "country": "de", "device": "phone"}),
            vec!["country", "device"],
        ),
        (
            json!({"to": "2026-06-01", "per_day": "1", "x": 1}),
            vec!["from", "per_day", "x"],
        ),
    ];
    for (body, fields) in cases {
        let r = add_scans(&m, &sc, body.clone()).await;
        assert_eq!(
            (r.status, r.error_code()),
            (422, "validation_failed"),
            "{body}"
        );
        assert_eq!(r.field_errors(), fields, "{body}");
    }
    let r = add_scans(
        &m,
        "missing",
        json!({"from": "2026-06-01", "to": "2026-06-01", "per_day": 1}),
    )
    .await;
    assert_eq!((r.status, r.error_code()), (404, "not_found"));
    assert_eq!(report(&m, PRO, &sc).await["total_scans"], 0);
}

#[tokio::test]
async fn the_mock_clock_can_be_read_and_advanced() {
    let m = Mock::new();
    let r = m.req(Method::GET, "/_mock/clock").send().await;
    assert_eq!(r.json, json!({"data": {"now": "2026-06-01T09:00:00Z"}}));
    let r = m
        .req(Method::POST, "/_mock/clock/advance")
        .json(r#"{"seconds": 86400}"#)
        .send()
        .await;
    assert_eq!(r.json, json!({"data": {"now": "2026-06-02T09:00:00Z"}}));
    assert_eq!(m.clock.now(), START + Duration::from_secs(86_400));
    for bad in [
        r#"{"seconds": -1}"#,
        r#"{"seconds": 1.5}"#,
        r#"{}"#,
        r#"{"seconds": 1, "days": 2}"#,
        r#"{"seconds": 315360001}"#,
    ] {
        let r = m
            .req(Method::POST, "/_mock/clock/advance")
            .json(bad)
            .send()
            .await;
        assert_eq!(
            (r.status, r.error_code()),
            (422, "validation_failed"),
            "{bad}"
        );
    }
    let r = m
        .req(Method::POST, "/_mock/clock/advance")
        .body("{}")
        .send()
        .await;
    assert_eq!(r.status, 415);
    // Near the end of what it can show (584 years of advances), an advance past it is
    // refused; the clock stays.
    m.clock.advance(Duration::from_secs(580 * 365 * 86_400));
    let now = m.clock.now();
    let r = m
        .req(Method::POST, "/_mock/clock/advance")
        .json(r#"{"seconds": 315360000}"#)
        .send()
        .await;
    assert_eq!((r.status, r.error_code()), (422, "validation_failed"));
    assert_eq!(r.field_errors(), ["seconds"]);
    assert!(
        r.text().contains("the last time it can show"),
        "{}",
        r.text()
    );
    assert_eq!(m.clock.now(), now);
}

#[tokio::test]
async fn reset_forgets_codes_keys_and_windows_but_keeps_tokens_and_the_clock() {
    let m = Mock::with(heldqr_mock::MockConfig::default().rate_limit(2, Duration::from_secs(60)));
    let sc = m.create(PRO, MENU).await;
    m.req(Method::POST, "/api/v1/codes")
        .token(PRO)
        .header("idempotency-key", "k")
        .json(MENU)
        .send()
        .await;
    assert_eq!(m.get("/api/v1/codes", PRO).await.status, 429);
    m.clock.advance(Duration::from_secs(5));

    let r = m.req(Method::POST, "/_mock/reset").send().await;
    assert_eq!(r.status, 204);
    assert!(r.raw.is_empty());
    assert_eq!(m.state.code_count(), 0);
    assert_eq!(m.state.idempotency_key_count(), 0);
    let r = m.get(&format!("/api/v1/codes/{sc}"), PRO).await;
    assert_eq!(
        r.status, 404,
        "tokens still work, the window is empty, the code is gone"
    );
    assert_eq!(r.header_u64("x-ratelimit-remaining"), 1);
    assert_eq!(m.clock.now(), START + Duration::from_secs(5));
}

#[tokio::test]
async fn reference_is_yaml_by_default_and_json_on_request() {
    let m = Mock::new();
    let r = m.req(Method::GET, "/reference").send().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/yaml"));
    assert_eq!(r.text(), heldqr_mock::OPENAPI_YAML);
    let yaml: Value = serde_norway::from_str(&r.text()).unwrap();

    for accept in [
        "application/json",
        "application/yaml;q=0.5, application/json",
        "text/html, application/json;q=0.9",
    ] {
        let r = m
            .req(Method::GET, "/reference")
            .header("accept", accept)
            .send()
            .await;
        assert_eq!(
            r.header("content-type"),
            Some("application/json"),
            "{accept}"
        );
        assert_eq!(r.json, yaml);
        assert_eq!(r.json["openapi"], "3.1.0");
    }
    let r = m
        .req(Method::GET, "/reference")
        .header("accept", "application/json;q=0.1, application/yaml")
        .send()
        .await;
    assert_eq!(r.header("content-type"), Some("application/yaml"));
}

#[tokio::test]
async fn healthz_answers_ok() {
    let m = Mock::new();
    let r = m.req(Method::GET, "/healthz").send().await;
    assert_eq!((r.status, r.json.clone()), (200, json!({"status": "ok"})));
}
