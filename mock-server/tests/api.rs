//! Authentication, codes, PATCH, pagination, shortcodes and the error envelope, through
//! `app(state)` with `oneshot`.

mod common;

use axum::http::Method;
use common::*;
use heldqr_mock::{MockConfig, Plan};
use serde_json::json;

const MENU: &str = r#"{"target_url": "https://example.com/menu", "label": "Restaurant menu"}"#;

#[tokio::test]
async fn missing_malformed_or_unknown_token_is_401_with_the_exact_envelope() {
    let m = Mock::new();
    let cases = [
        m.req(Method::GET, "/api/v1/codes").send().await,
        m.req(Method::GET, "/api/v1/codes")
            .header("authorization", "hkr_test_pro")
            .send()
            .await,
        m.req(Method::GET, "/api/v1/codes")
            .header("authorization", "Basic aGtyOng=")
            .send()
            .await,
        m.req(Method::GET, "/api/v1/codes")
            .header("authorization", "Bearer ")
            .send()
            .await,
        m.req(Method::GET, "/api/v1/codes")
            .token("hkr_live_nope")
            .send()
            .await,
        m.req(Method::POST, "/api/v1/codes")
            .token("hkr_live_nope")
            .json(MENU)
            .send()
            .await,
        m.req(Method::GET, "/api/v1/codes/abc/scans").send().await,
        // The token is checked before the operation reads its query, path or body.
        m.req(Method::GET, "/api/v1/codes?page=abc").send().await,
        m.req(Method::POST, "/api/v1/codes")
            .json("{not json")
            .send()
            .await,
        m.req(Method::PATCH, "/api/v1/codes/%FF%FE")
            .json("[]")
            .send()
            .await,
    ];
    for r in cases {
        assert_eq!(r.status, 401);
        assert_eq!(
            r.json,
            json!({"error": {"code": "unauthorized", "message": "Missing or invalid bearer token."}})
        );
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        assert!(
            r.header("x-ratelimit-limit").is_none(),
            "401s are not counted"
        );
        assert!(r.header("x-request-id").is_some());
    }
    // The scheme is case-insensitive.
    let r = m
        .req(Method::GET, "/api/v1/codes")
        .header("authorization", "bearer hkr_test_pro")
        .send()
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn create_generates_a_7_char_shortcode_and_the_scan_url() {
    let m = Mock::new();
    let r = m.post("/api/v1/codes", PRO, MENU).await;
    assert_eq!(r.status, 201);
    let code = &r.json["data"];
    let sc = code["shortcode"].as_str().unwrap();
    assert_eq!(sc.len(), 7);
    assert!(
        sc.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    );
    assert_eq!(code["target_url"], "https://example.com/menu");
    assert_eq!(code["label"], "Restaurant menu");
    assert_eq!(code["status"], "active");
    assert_eq!(code["scan_url"], format!("http://localhost/r/{sc}"));
    assert_eq!(code["created_at"], "2026-06-01T09:00:00Z");
    assert_eq!(code["updated_at"], "2026-06-01T09:00:00Z");
    assert_eq!(code.as_object().unwrap().len(), 7);

    let r = m
        .post(
            "/api/v1/codes",
            PRO,
            r#"{"target_url": "https://example.com/x"}"#,
        )
        .await;
    assert_eq!(
        r.json["data"]["label"],
        serde_json::Value::Null,
        "label is null when unset"
    );

    let got = m.get(&format!("/api/v1/codes/{sc}"), PRO).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json["data"], *code);
}

#[tokio::test]
async fn the_same_seed_gives_the_same_shortcodes_also_after_reset() {
    let (a, b) = (Mock::new(), Mock::new());
    let first = a.create(PRO, MENU).await;
    assert_eq!(first, b.create(PRO, MENU).await);
    let second = a.create(PRO, MENU).await;
    assert_ne!(first, second);
    let r = a.req(Method::POST, "/_mock/reset").send().await;
    assert_eq!(r.status, 204);
    assert_eq!(a.create(PRO, MENU).await, first);
}

#[tokio::test]
async fn chosen_shortcodes_are_unique_across_accounts() {
    let m = Mock::new();
    let body = r#"{"target_url": "https://example.com/menu", "shortcode": "menu-v3"}"#;
    assert_eq!(m.create(FREE, body).await, "menu-v3");
    for token in [FREE, PRO] {
        let r = m.post("/api/v1/codes", token, body).await;
        assert_eq!(r.status, 409);
        assert_eq!(r.error_code(), "shortcode_taken");
    }
}

#[tokio::test]
async fn another_accounts_code_is_404_never_403() {
    let m = Mock::new();
    let sc = m.create(FREE, MENU).await;
    for r in [
        m.get(&format!("/api/v1/codes/{sc}"), PRO).await,
        m.patch(&format!("/api/v1/codes/{sc}"), PRO, r#"{"label": "mine"}"#)
            .await,
        m.get(&format!("/api/v1/codes/{sc}/scans"), PRO).await,
        m.get("/api/v1/codes/does-not-exist", FREE).await,
    ] {
        assert_eq!(r.status, 404);
        assert_eq!(r.error_code(), "not_found");
    }
    let list = m.get("/api/v1/codes", PRO).await;
    assert_eq!(list.json["pagination"]["total"], 0);
    assert_eq!(
        m.get(&format!("/api/v1/codes/{sc}"), FREE).await.status,
        200
    );
}

#[tokio::test]
async fn tokens_of_one_account_share_its_codes() {
    let m = Mock::with(
        MockConfig::default()
            .token("tok_a", Plan::Pro, "acct_x")
            .token("tok_b", Plan::Pro, "acct_x")
            .token("tok_c", Plan::Free, "acct_y"),
    );
    let sc = m.create("tok_a", MENU).await;
    assert_eq!(
        m.get(&format!("/api/v1/codes/{sc}"), "tok_b").await.status,
        200
    );
    assert_eq!(
        m.get(&format!("/api/v1/codes/{sc}"), "tok_c").await.status,
        404
    );
    // Dev tokens are gone once tokens are configured.
    assert_eq!(m.get("/api/v1/codes", PRO).await.status, 401);
}

#[tokio::test]
async fn patch_changes_only_the_fields_present_and_the_shortcode_is_permanent() {
    let m = Mock::new();
    let sc = m.create(PRO, MENU).await;
    let path = format!("/api/v1/codes/{sc}");
    m.clock.advance(std::time::Duration::from_secs(3600));

    let r = m.patch(&path, PRO, "{}").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json["data"]["updated_at"], "2026-06-01T09:00:00Z",
        "an empty patch changes nothing"
    );

    let r = m
        .patch(
            &path,
            PRO,
            r#"{"target_url": "https://example.com/menu-2026"}"#,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json["data"]["target_url"],
        "https://example.com/menu-2026"
    );
    assert_eq!(r.json["data"]["label"], "Restaurant menu");
    assert_eq!(r.json["data"]["updated_at"], "2026-06-01T10:00:00Z");
    assert_eq!(r.json["data"]["created_at"], "2026-06-01T09:00:00Z");

    let r = m
        .patch(&path, PRO, r#"{"label": null, "status": "paused"}"#)
        .await;
    assert_eq!(r.json["data"]["label"], serde_json::Value::Null);
    assert_eq!(r.json["data"]["status"], "paused");
    assert_eq!(m.get(&path, PRO).await.json["data"]["status"], "paused");

    let r = m.patch(&path, PRO, r#"{"shortcode": "other"}"#).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.error_code(), "validation_failed");
    assert_eq!(
        r.json["error"]["field_errors"],
        json!({"shortcode": ["is permanent and cannot be changed"]})
    );

    let r = m
        .patch(
            &path,
            PRO,
            r#"{"status": "deleted", "target_url": 5, "label": 1, "colour": "red"}"#,
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.field_errors(),
        ["colour", "label", "status", "target_url"]
    );
    assert_eq!(
        m.get(&path, PRO).await.json["data"]["target_url"],
        "https://example.com/menu-2026",
        "422 changes nothing"
    );

    let r = m.patch(&path, PRO, r#"{"target_url": null}"#).await;
    assert_eq!(r.status, 422, "target_url cannot be cleared");
}

#[tokio::test]
async fn create_validation_names_every_field() {
    let m = Mock::new();
    let long_label = "x".repeat(201);
    let cases = [
        (json!({}), vec!["target_url"]),
        (
            json!({"target_url": "ftp://example.com"}),
            vec!["target_url"],
        ),
        (
            json!({"target_url": "https://example.com/a b"}),
            vec!["target_url"],
        ),
        (
            json!({"target_url": format!("https://example.com/{}", "a".repeat(2048))}),
            vec!["target_url"],
        ),
        (
            json!({"target_url": "https://example.com", "label": long_label}),
            vec!["label"],
        ),
        (
            json!({"target_url": "https://example.com", "shortcode": "-bad"}),
            vec!["shortcode"],
        ),
        (
            json!({"target_url": "https://example.com", "shortcode": "ab"}),
            vec!["shortcode"],
        ),
        (
            json!({"target_url": "https://example.com", "shortcode": 7}),
            vec!["shortcode"],
        ),
        (
            json!({"target_url": "https://example.com", "extra": true, "status": "active"}),
            vec!["extra", "status"],
        ),
        (
            json!({"target_url": ["https://example.com"]}),
            vec!["target_url"],
        ),
    ];
    for (body, fields) in cases {
        let r = m.post("/api/v1/codes", PRO, &body.to_string()).await;
        assert_eq!(r.status, 422, "{body}");
        assert_eq!(r.error_code(), "validation_failed");
        assert_eq!(r.field_errors(), fields, "{body}");
        r.assert_rate_headers();
    }
    // Limits are inclusive: 200-character labels and 2048-character URLs are fine.
    let ok = json!({"target_url": format!("https://e.co/{}", "a".repeat(2048 - 13)), "label": "é".repeat(200)});
    assert_eq!(
        m.post("/api/v1/codes", PRO, &ok.to_string()).await.status,
        201
    );
    assert_eq!(m.state.code_count(), 1);
}

#[tokio::test]
async fn pagination_is_oldest_first_and_past_the_end_is_empty() {
    let m = Mock::new();
    let r = m.get("/api/v1/codes", PRO).await;
    assert_eq!(
        r.json,
        json!({"data": [], "pagination": {"page": 1, "page_size": 50, "total": 0, "total_pages": 0}})
    );

    let mut created = Vec::new();
    for i in 0..5 {
        created.push(
            m.create(
                PRO,
                &format!(r#"{{"target_url": "https://example.com/{i}"}}"#),
            )
            .await,
        );
        m.clock.advance(std::time::Duration::from_secs(1));
    }
    m.create(FREE, MENU).await; // another account's code never shows
    let mut seen = Vec::new();
    for page in 1..=3 {
        let r = m
            .get(&format!("/api/v1/codes?page={page}&page_size=2"), PRO)
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.json["pagination"],
            json!({"page": page, "page_size": 2, "total": 5, "total_pages": 3})
        );
        for c in r.json["data"].as_array().unwrap() {
            seen.push(c["shortcode"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(seen, created);
    let r = m.get("/api/v1/codes?page=4&page_size=2", PRO).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["data"], json!([]));
    let r = m.get("/api/v1/codes?page_size=100&unknown=1", PRO).await;
    assert_eq!(r.json["data"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn bad_query_parameters_are_400_invalid_parameter() {
    let m = Mock::new();
    for q in [
        "page=0",
        "page=-1",
        "page=abc",
        "page=1.5",
        "page=",
        "page_size=0",
        "page_size=101",
        "page=1&page=2",
        "page=1000000001",
    ] {
        let r = m.get(&format!("/api/v1/codes?{q}"), PRO).await;
        assert_eq!(r.status, 400, "{q}");
        assert_eq!(r.error_code(), "invalid_parameter", "{q}");
        r.assert_rate_headers();
    }
}

#[tokio::test]
async fn framework_errors_leave_through_the_envelope() {
    let m = Mock::new();
    let post = |body: &'static str, ct: Option<&'static str>| {
        let mut r = m.req(Method::POST, "/api/v1/codes").token(PRO).body(body);
        if let Some(ct) = ct {
            r = r.header("content-type", ct);
        }
        r.send()
    };
    let r = post(r#"{"target_url": "#, Some("application/json")).await;
    assert_eq!((r.status, r.error_code()), (400, "invalid_json"));
    let r = post("[1, 2]", Some("application/json")).await;
    assert_eq!((r.status, r.error_code()), (400, "invalid_json"));
    let r = post("", Some("application/json")).await;
    assert_eq!((r.status, r.error_code()), (400, "invalid_json"));
    let r = post(
        r#"{"target_url": "https://example.com"}"#,
        Some("text/plain"),
    )
    .await;
    assert_eq!((r.status, r.error_code()), (415, "unsupported_media_type"));
    let r = post(r#"{"target_url": "https://example.com"}"#, None).await;
    assert_eq!((r.status, r.error_code()), (415, "unsupported_media_type"));
    let r = post(
        r#"{"target_url": "https://example.com"}"#,
        Some("application/json; charset=utf-8"),
    )
    .await;
    assert_eq!(r.status, 201, "parameters are fine");

    let big = format!(
        r#"{{"target_url": "https://example.com", "label": "{}"}}"#,
        "x".repeat(70_000)
    );
    let r = m
        .req(Method::POST, "/api/v1/codes")
        .token(PRO)
        .json(&big)
        .send()
        .await;
    assert_eq!((r.status, r.error_code()), (413, "payload_too_large"));
    r.assert_rate_headers();
    let r = m
        .req(Method::PATCH, "/api/v1/codes/whatever")
        .token(PRO)
        .header("content-length", "70000")
        .json(&big)
        .send()
        .await;
    assert_eq!((r.status, r.error_code()), (413, "payload_too_large"));

    let r = m.get("/api/v2/nothing", PRO).await;
    assert_eq!((r.status, r.error_code()), (404, "not_found"));
    let r = m.req(Method::GET, "/").send().await;
    assert_eq!((r.status, r.error_code()), (404, "not_found"));

    for (method, path, allow) in [
        (Method::DELETE, "/api/v1/codes", "GET,HEAD,POST"),
        (Method::PUT, "/api/v1/codes/abc", "GET,HEAD,PATCH"),
        (Method::POST, "/api/v1/codes/abc/scans", "GET,HEAD"),
        (Method::POST, "/healthz", "GET,HEAD"),
        (Method::GET, "/_mock/reset", "POST"),
    ] {
        // Without a token too: the method is checked before authentication.
        let r = m.req(method.clone(), path).send().await;
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(r.error_code(), "method_not_allowed");
        assert_eq!(r.header("allow"), Some(allow));
        assert!(
            r.json["error"]["message"]
                .as_str()
                .unwrap()
                .contains(method.as_str())
        );
        assert!(r.header("x-request-id").is_some());
        assert!(r.header("x-ratelimit-limit").is_none(), "{method} {path}");
        // With a token: under /api/v1 the 405 spends a credit and shows the budget; elsewhere
        // nothing is counted.
        let r = m.req(method.clone(), path).token(PRO).send().await;
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(
            r.header("x-ratelimit-limit").is_some(),
            path.starts_with("/api/v1/"),
            "{method} {path}"
        );
        assert!(r.header("x-request-id").is_some());
    }
}

#[tokio::test]
async fn every_authenticated_response_carries_rate_limit_headers_and_a_request_id() {
    let m = Mock::new();
    let sc = m.create(PRO, MENU).await;
    let responses = [
        m.get("/api/v1/codes", PRO).await,
        m.post("/api/v1/codes", PRO, MENU).await,
        m.get(&format!("/api/v1/codes/{sc}"), PRO).await,
        m.patch(&format!("/api/v1/codes/{sc}"), PRO, "{}").await,
        m.get(&format!("/api/v1/codes/{sc}/scans"), PRO).await,
        m.get("/api/v1/codes/nope", PRO).await,
        m.post("/api/v1/codes", PRO, "{}").await,
        m.post("/api/v1/codes", PRO, "nope").await,
        m.req(Method::POST, "/api/v1/codes")
            .token(PRO)
            .header("idempotency-key", "")
            .json(MENU)
            .send()
            .await,
    ];
    let mut ids = std::collections::HashSet::new();
    for r in responses {
        r.assert_rate_headers();
        assert!(
            ids.insert(r.header("x-request-id").unwrap().to_owned()),
            "request ids are unique"
        );
    }
}

/// The request id is always the server's: ids a client sends (one or several) are replaced,
/// on the answer and in what the journal recorded of the request.
#[tokio::test]
async fn a_request_id_the_client_sends_is_replaced_by_the_servers_own() {
    let m = Mock::new();
    let req = |m: &Mock| {
        m.req(Method::GET, "/api/v1/codes")
            .token(PRO)
            .header("x-request-id", "client-chosen-1")
            .header("x-request-id", "client-chosen-2")
    };
    let first = req(&m).send().await;
    let second = req(&m).send().await;
    let ids: Vec<Vec<&str>> = [&first, &second]
        .iter()
        .map(|r| {
            r.headers
                .get_all("x-request-id")
                .iter()
                .map(|v| v.to_str().unwrap())
                .collect()
        })
        .collect();
    for id in &ids {
        assert_eq!(id.len(), 1, "{ids:?}");
        assert!(id[0].starts_with("req_") && id[0].len() == 20, "{ids:?}");
    }
    assert_ne!(ids[0], ids[1]);
    let journal = m.req(Method::GET, "/_mock/requests").send().await;
    let entries = journal.json["data"].as_array().unwrap();
    assert_eq!(entries[0]["request"]["headers"]["x-request-id"], ids[0][0]);
    assert_eq!(entries[0]["request_id"], ids[0][0]);
}

/// Every GET route answers HEAD like GET (status, headers, no body), and the document declares
/// a `head` operation on exactly the routes that have a `get`.
#[tokio::test]
async fn every_get_route_answers_head_and_the_document_declares_it() {
    let m = Mock::new();
    let sc = m.create(PRO, MENU).await;
    let doc: serde_json::Value = serde_norway::from_str(heldqr_mock::OPENAPI_YAML).unwrap();
    let mut routes = 0;
    for (route, item) in doc["paths"].as_object().unwrap() {
        assert_eq!(
            item.get("get").is_some(),
            item.get("head").is_some(),
            "{route}: get and head are declared together"
        );
        if item.get("get").is_none() {
            continue;
        }
        routes += 1;
        let path = route
            .replace("{shortcode}", &sc)
            .replace("{file}", "app.js");
        for token in [Some(PRO), None] {
            let send = |method: Method| {
                let req = m.req(method, &path);
                match token {
                    Some(t) => req.token(t),
                    None => req,
                }
                .send()
            };
            let get = send(Method::GET).await;
            let head = send(Method::HEAD).await;
            assert_eq!(head.status, get.status, "HEAD {path} token={token:?}");
            assert!(head.raw.is_empty(), "HEAD {path}: no body");
            assert_eq!(
                head.header("content-type"),
                get.header("content-type"),
                "HEAD {path}"
            );
            assert!(head.header("x-request-id").is_some(), "HEAD {path}");
            if path.starts_with("/api/v1/") && token.is_some() {
                assert_eq!(get.status, 200, "GET {path}");
                assert!(
                    head.header("x-ratelimit-remaining").is_some(),
                    "HEAD {path}"
                );
            }
            if path.starts_with("/r/") {
                assert_eq!(head.header("location"), get.header("location"));
            }
        }
    }
    assert_eq!(routes, 14);
    // Allow lists HEAD wherever GET is.
    let r = m.req(Method::DELETE, "/api/v1/codes").send().await;
    assert_eq!(r.header("allow"), Some("GET,HEAD,POST"));
}

#[tokio::test]
async fn a_read_after_a_change_in_the_same_second_shows_the_change() {
    let m = Mock::new();
    let sc = m.create(PRO, MENU).await;
    let path = format!("/api/v1/codes/{sc}");
    let first = m.get(&path, PRO).await;
    assert_eq!(
        m.get(&path, PRO).await.raw,
        first.raw,
        "an unchanged code reads the same"
    );
    for (patch, field, value) in [
        (r#"{"label": "Lunch"}"#, "label", json!("Lunch")),
        (r#"{"status": "paused"}"#, "status", json!("paused")),
        (
            r#"{"target_url": "https://example.com/b"}"#,
            "target_url",
            json!("https://example.com/b"),
        ),
    ] {
        assert_eq!(m.patch(&path, PRO, patch).await.status, 200);
        let read = m.get(&path, PRO).await;
        assert_eq!(read.json["data"][field], value, "{patch}");
        assert_eq!(
            read.json["data"]["updated_at"],
            first.json["data"]["updated_at"]
        );
    }
}
