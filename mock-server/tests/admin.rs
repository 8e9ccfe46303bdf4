//! The admin guard: with `--admin-token`, every mock-only `/_mock` route answers 401 in the
//! envelope unless the request carries the admin token; API routes are not affected.

mod common;

use axum::http::Method;
use common::*;
use heldqr_mock::MockConfig;

const ADMIN: &str = "adm_s3cr3t_7d1e";

fn guarded() -> Mock {
    Mock::with(
        MockConfig::default()
            .rate_limit(1_000_000, std::time::Duration::from_secs(60))
            .admin_token(ADMIN),
    )
}

#[tokio::test]
async fn every_admin_route_needs_the_admin_token() {
    let m = guarded();
    let sc = m
        .create(BUSINESS, r#"{"target_url":"https://example.com/a"}"#)
        .await;
    let routes = [
        (Method::POST, "/_mock/reset".to_owned(), "{}"),
        (Method::GET, "/_mock/clock".to_owned(), ""),
        (
            Method::POST,
            "/_mock/clock/advance".to_owned(),
            r#"{"seconds":315360000}"#,
        ),
        (
            Method::POST,
            format!("/_mock/codes/{sc}/scans"),
            r#"{"count":1}"#,
        ),
        (Method::GET, "/_mock/no-such-route".to_owned(), ""),
    ];
    for (method, path, body) in &routes {
        for token in [None, Some(BUSINESS), Some("adm_s3cr3t_7d1")] {
            let mut req = m.req(method.clone(), path);
            if let Some(t) = token {
                req = req.token(t);
            }
            if !body.is_empty() {
                req = req.json(body);
            }
            let r = req.send().await;
            assert_eq!(
                r.status,
                401,
                "{method} {path} with {token:?}: {}",
                r.text()
            );
            assert_eq!(r.error_code(), "unauthorized");
            assert_eq!(r.header("www-authenticate"), Some("Bearer"));
            assert!(!r.text().contains(ADMIN));
        }
    }
    // Nothing was reset or moved: the code is still there, the clock still at START.
    assert_eq!(
        m.get(&format!("/api/v1/codes/{sc}"), BUSINESS).await.status,
        200
    );
    assert_eq!(m.clock.now(), START);

    let r = m.req(Method::GET, "/_mock/clock").token(ADMIN).send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = m
        .req(Method::POST, "/_mock/reset")
        .token(ADMIN)
        .json("{}")
        .send()
        .await;
    assert!(r.status < 300, "{}", r.text());
    assert_eq!(
        m.get(&format!("/api/v1/codes/{sc}"), BUSINESS).await.status,
        404
    );
}

#[tokio::test]
async fn the_admin_token_is_not_an_api_token() {
    let m = guarded();
    let r = m.get("/api/v1/codes", ADMIN).await;
    assert_eq!(r.status, 401);
    // The API, the scan URL, the document and liveness need no admin token.
    assert_eq!(m.get("/api/v1/codes", PRO).await.status, 200);
    assert_eq!(m.req(Method::GET, "/healthz").send().await.status, 200);
    assert_eq!(m.req(Method::GET, "/reference").send().await.status, 200);
}

#[tokio::test]
async fn without_an_admin_token_the_routes_stay_open() {
    let m = Mock::new();
    let r = m.req(Method::GET, "/_mock/clock").send().await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn an_admin_token_equal_to_an_api_token_is_refused() {
    let config = MockConfig::default()
        .token("tok_same", heldqr_mock::Plan::Pro, "acct_a")
        .admin_token("tok_same");
    let e = config.validate().unwrap_err().to_string();
    assert!(e.contains("differ"), "{e}");
    assert!(!e.contains("tok_same"), "{e}");
}

#[tokio::test]
async fn a_page_of_another_origin_cannot_change_state_even_without_an_admin_token() {
    let m = Mock::new();
    let sc = m
        .create(BUSINESS, r#"{"target_url":"https://example.com/a"}"#)
        .await;
    let reset = |headers: &[(&str, &str)]| {
        let mut req = m
            .req(Method::POST, "/_mock/reset")
            .header("host", "127.0.0.1:8080")
            .json("{}");
        for (name, value) in headers {
            req = req.header(name, value);
        }
        req.send()
    };
    // What a browser adds to a form post or a `no-cors` fetch from another page.
    for headers in [
        &[("origin", "http://evil.example")][..],
        &[("origin", "http://127.0.0.1:9999")],
        &[("origin", "null")],
        &[("sec-fetch-site", "cross-site")],
        &[
            ("sec-fetch-site", "same-site"),
            ("origin", "http://127.0.0.1:8080"),
        ],
    ] {
        let r = reset(headers).await;
        assert_eq!(r.status, 403, "{headers:?}: {}", r.text());
        assert_eq!(r.error_code(), "cross_origin_request");
        assert!(r.header("x-request-id").is_some());
    }
    // Nothing was reset.
    let r = m.get(&format!("/api/v1/codes/{sc}"), BUSINESS).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Reading is not refused (a browser keeps another origin's page from reading the answer).
    let r = m
        .req(Method::GET, "/_mock/clock")
        .header("origin", "http://evil.example")
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The mock's own page (same origin), and a script (neither header), change state.
    let r = reset(&[
        ("origin", "http://127.0.0.1:8080"),
        ("sec-fetch-site", "same-origin"),
    ])
    .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = m.req(Method::POST, "/_mock/reset").json("{}").send().await;
    assert_eq!(r.status, 204, "{}", r.text());

    // With the admin token, its holder's browser is refused too.
    let m = guarded();
    let r = m
        .req(Method::POST, "/_mock/reset")
        .token(ADMIN)
        .header("origin", "http://evil.example")
        .json("{}")
        .send()
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
}

#[tokio::test]
async fn a_loopback_server_answers_its_mock_routes_for_loopback_host_names_only() {
    // A page of `evil.example` whose name now resolves to 127.0.0.1 (DNS rebinding) is
    // same-origin with itself; the Host it sends gives it away.
    let m = Mock::new();
    let clock = |host: &str| {
        m.req(Method::GET, "/_mock/clock")
            .header("host", host)
            .send()
    };
    for host in [
        "evil.example:8080",
        "evil.example",
        "127.0.0.1.evil.example:80",
        "[::1]evil.example",
        "[::1]:80@evil.example",
    ] {
        let r = clock(host).await;
        assert_eq!(r.status, 403, "{host}: {}", r.text());
        assert_eq!(r.error_code(), "cross_origin_request");
    }
    for host in [
        "127.0.0.1:8080",
        "localhost:8080",
        "LOCALHOST",
        "app.localhost:3000",
        "[::1]:8080",
        "::1",
        "[::ffff:7f00:1]:8080",
        "127.0.0.2",
    ] {
        let r = clock(host).await;
        assert_eq!(r.status, 200, "{host}: {}", r.text());
    }
    // Every name counts: a second Host header, an absolute-form target.
    let r = m
        .req(Method::GET, "/_mock/clock")
        .header("host", "localhost")
        .header("host", "evil.example")
        .send()
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = m
        .req(Method::GET, "http://evil.example/_mock/clock")
        .header("host", "localhost")
        .send()
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    // The API routes are not the mock's own: a rebinding page gets nothing a dev token
    // would not give it anyway, and a container's name reaches them.
    let r = m
        .req(Method::GET, "/api/v1/codes")
        .token(PRO)
        .header("host", "evil.example:8080")
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // An IPv4 loopback address written as IPv6 is loopback too.
    let m6 = Mock::with(MockConfig::default().listen("[::ffff:127.0.0.1]:0".parse().unwrap()));
    let r = m6
        .req(Method::GET, "/_mock/clock")
        .header("host", "evil.example")
        .send()
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    // Listening beyond loopback (a container on a CI network), any name is the server's.
    let m = Mock::with(MockConfig::default().listen("0.0.0.0:0".parse().unwrap()));
    let r = m
        .req(Method::GET, "/_mock/clock")
        .header("host", "heldqr-mock:8080")
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}
