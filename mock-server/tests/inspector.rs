//! The request inspector: the page at `/_mock/` and its files (served by the binary, small,
//! nothing from elsewhere), a browser at `/` sent there, `GET /_mock/state`, the session
//! cookie the admin guard accepts, and the journal's `limit`.

mod common;

use axum::http::Method;
use common::*;
use heldqr_mock::MockConfig;
use std::time::Duration;

const ADMIN: &str = "adm_s3cr3t_7d1e";

fn guarded() -> Mock {
    Mock::with(
        MockConfig::default()
            .rate_limit(1_000_000, Duration::from_secs(60))
            .admin_token(ADMIN),
    )
}

#[tokio::test]
async fn a_browser_at_the_root_goes_to_the_page_and_api_clients_keep_the_404() {
    let m = Mock::new();
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let r = m
        .req(Method::GET, "/")
        .header("accept", browser)
        .send()
        .await;
    assert_eq!(r.status, 307);
    assert_eq!(r.header("location"), Some("/_mock/"));
    for accept in [None, Some("application/json"), Some("*/*")] {
        let mut req = m.req(Method::GET, "/");
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        let r = req.send().await;
        assert_eq!((r.status, r.error_code()), (404, "not_found"), "{accept:?}");
    }
    let r = m
        .req(Method::POST, "/")
        .header("accept", browser)
        .send()
        .await;
    assert_eq!((r.status, r.error_code()), (405, "method_not_allowed"));
    let r = m.req(Method::GET, "/_mock").send().await;
    assert_eq!((r.status, r.header("location")), (307, Some("/_mock/")));
}

/// The `src`/`href` values of the page that point at its own files.
fn linked_files(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(i) = rest.find(attr) {
            rest = &rest[i + attr.len()..];
            let end = rest.find('"').unwrap();
            if rest[..end].starts_with("/_mock/inspector/") {
                out.push(rest[..end].to_owned());
            }
        }
    }
    out
}

#[tokio::test]
async fn the_page_and_every_file_it_loads_come_from_the_binary_and_weigh_under_200_kb() {
    let m = Mock::new();
    let page = m.req(Method::GET, "/_mock/").send().await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"));
    let html = page.text();
    let files = linked_files(&html);
    for needed in ["app.js", "style.css", "favicon.svg"] {
        assert!(
            files.iter().any(|f| f.ends_with(needed)),
            "{needed} in {files:?}"
        );
    }
    let mut total = page.raw.len();
    for f in &files {
        let r = m.req(Method::GET, f).send().await;
        assert_eq!(r.status, 200, "{f}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        let text = r.text();
        // Nothing loaded from elsewhere (the SVG's namespace is a name, not a fetch).
        assert!(
            !text
                .replace("http://www.w3.org/2000/svg", "")
                .contains("://"),
            "{f} names another origin"
        );
        total += r.raw.len();
    }
    assert!(!html.contains("://"), "the page names another origin");
    assert!(total < 200 * 1024, "the page weighs {total} bytes");
    let r = m.req(Method::GET, "/_mock/inspector/nope.js").send().await;
    assert_eq!((r.status, r.error_code()), (404, "not_found"));
}

fn cookie_of(r: &Resp) -> String {
    let set = r.header("set-cookie").expect("a session cookie");
    set.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn with_an_admin_token_the_page_loads_and_its_data_needs_the_token_or_its_cookie() {
    let m = guarded();
    // The page and its files hold no state: a browser can load the page that asks.
    assert_eq!(m.req(Method::GET, "/_mock/").send().await.status, 200);
    let r = m.req(Method::GET, "/_mock/inspector/app.js").send().await;
    assert_eq!(r.status, 200);
    let r = m.req(Method::GET, "/_mock/session").send().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["data"]["admin_token_required"], true);
    assert_eq!(r.json["data"]["signed_in"], false);
    // The data does not.
    for path in ["/_mock/state", "/_mock/requests"] {
        let r = m.req(Method::GET, path).send().await;
        assert_eq!((r.status, r.error_code()), (401, "unauthorized"), "{path}");
    }
    // Signing in takes the admin token, not an API token nor a near miss.
    for wrong in [None, Some(BUSINESS), Some("adm_s3cr3t_7d1")] {
        let mut req = m.req(Method::POST, "/_mock/session");
        if let Some(t) = wrong {
            req = req.token(t);
        }
        let r = req.send().await;
        assert_eq!(r.status, 401, "{wrong:?}");
        assert!(r.header("set-cookie").is_none());
    }
    let r = m
        .req(Method::POST, "/_mock/session")
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let set = r.header("set-cookie").unwrap().to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/_mock"] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(!set.contains(ADMIN), "the cookie is not the token: {set}");
    assert!(!set.contains(&ADMIN[ADMIN.len() - 4..]), "{set}");
    let cookie = cookie_of(&r);

    // The cookie reads everything.
    for path in ["/_mock/state", "/_mock/requests", "/_mock/clock"] {
        let r = m
            .req(Method::GET, path)
            .header("cookie", &format!("theme=dark; {cookie}"))
            .send()
            .await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
    }
    let r = m
        .req(Method::GET, "/_mock/session")
        .header("cookie", &cookie)
        .send()
        .await;
    assert_eq!(r.json["data"]["signed_in"], true);

    // A change with the cookie alone (a form on another localhost port could send that) is
    // refused; with the inspector's header, which no other origin can add, it goes through.
    let sc = m
        .create(BUSINESS, r#"{"target_url":"https://example.com/a"}"#)
        .await;
    let r = m
        .req(Method::POST, "/_mock/reset")
        .header("cookie", &cookie)
        .send()
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        m.get(&format!("/api/v1/codes/{sc}"), BUSINESS).await.status,
        200
    );
    let r = m
        .req(Method::POST, "/_mock/reset")
        .header("cookie", &cookie)
        .header("x-heldqr-inspector", "1")
        .send()
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(
        m.get(&format!("/api/v1/codes/{sc}"), BUSINESS).await.status,
        404
    );

    // A made-up cookie reads nothing.
    let r = m
        .req(Method::GET, "/_mock/state")
        .header(
            "cookie",
            "heldqr_mock_session=00000000000000000000000000000000",
        )
        .send()
        .await;
    assert_eq!(r.status, 401);

    // Signing out clears the cookie in the browser.
    let r = m
        .req(Method::DELETE, "/_mock/session")
        .header("cookie", &cookie)
        .header("x-heldqr-inspector", "1")
        .send()
        .await;
    assert_eq!(r.status, 204);
    let set = r.header("set-cookie").unwrap();
    assert!(
        set.starts_with("heldqr_mock_session=;") && set.contains("Max-Age=0"),
        "{set}"
    );
}

#[tokio::test]
async fn without_an_admin_token_the_page_needs_no_sign_in() {
    let m = Mock::new();
    let r = m.req(Method::GET, "/_mock/session").send().await;
    assert_eq!(r.json["data"]["admin_token_required"], false);
    assert_eq!(r.json["data"]["signed_in"], true);
    let r = m.req(Method::POST, "/_mock/session").send().await;
    assert_eq!(r.status, 204);
    assert!(r.header("set-cookie").is_none());
    assert_eq!(m.req(Method::GET, "/_mock/state").send().await.status, 200);
}

#[tokio::test]
async fn the_state_shows_codes_with_their_targets_and_scans_and_each_tokens_budget() {
    let m = Mock::with(MockConfig::default().rate_limit(5, Duration::from_secs(60)));
    let first = m
        .create(PRO, r#"{"target_url":"https://example.com/one"}"#)
        .await;
    let second = m
        .create(PRO, r#"{"target_url":"https://example.com/two"}"#)
        .await;
    let r = m
        .patch(
            &format!("/api/v1/codes/{first}"),
            PRO,
            r#"{"target_url":"https://example.com/moved"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = m
        .req(Method::POST, &format!("/_mock/codes/{first}/scans"))
        .json(r#"{"from":"2026-05-30","to":"2026-06-01","per_day":4,"country":"DE","device":"mobile"}"#)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    m.clock.advance(Duration::from_secs(10));

    let read = || async { m.req(Method::GET, "/_mock/state").send().await };
    let r = read().await;
    assert_eq!(r.status, 200, "{}", r.text());
    let d = &r.json["data"];
    assert_eq!(d["now"], "2026-06-01T09:00:10Z");
    assert_eq!(d["clock_offset_seconds"], 10);
    let pro = d["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "acct_pro")
        .unwrap();
    assert_eq!(pro["code_count"], 2);
    let codes = pro["codes"].as_array().unwrap();
    assert_eq!(codes[0]["shortcode"], second.as_str(), "newest first");
    assert_eq!(codes[1]["shortcode"], first.as_str());
    assert_eq!(codes[1]["target_url"], "https://example.com/moved");
    let scans = &codes[1]["scans"];
    assert_eq!(scans["total_scans"], 12);
    assert_eq!(scans["daily"].as_array().unwrap().len(), 30);
    assert_eq!(scans["daily"][29]["scans"], 4);
    assert_eq!(scans["countries"][0]["country"], "DE");
    assert_eq!(scans["devices"][0]["device"], "mobile");

    let budget = |r: &Resp| {
        r.json["data"]["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["account"] == "acct_pro")
            .unwrap()
            .clone()
    };
    let t = budget(&r);
    assert_eq!(t["token"], "_pro", "the last four characters only");
    assert_eq!(t["plan"], "pro");
    assert_eq!(
        (t["limit"].as_u64(), t["remaining"].as_u64()),
        (Some(5), Some(2))
    );
    assert_eq!(t["next_rise_at"], "2026-06-01T09:01:00Z");
    // Reading the state spends no credit.
    assert_eq!(budget(&read().await)["remaining"], 2);
    // An unused token is full.
    let free = r.json["data"]["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["account"] == "acct_free")
        .unwrap();
    assert_eq!(
        (free["remaining"].as_u64(), &free["next_rise_at"]),
        (Some(5), &serde_json::Value::Null)
    );
    for token in [PRO, FREE, BUSINESS] {
        assert!(!r.text().contains(token), "a whole token in the state");
    }
    // The window moves on the server clock.
    m.clock.advance(Duration::from_secs(60));
    let t = budget(&read().await);
    assert_eq!(
        (t["remaining"].as_u64(), &t["next_rise_at"]),
        (Some(5), &serde_json::Value::Null)
    );
}

#[tokio::test]
async fn the_journal_gives_the_newest_entries_with_limit() {
    let m = Mock::new();
    for _ in 0..4 {
        assert_eq!(m.get("/api/v1/codes", PRO).await.status, 200);
    }
    let ids = |r: &Resp| -> Vec<u64> {
        r.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_u64().unwrap())
            .collect()
    };
    let all = ids(&m.req(Method::GET, "/_mock/requests").send().await);
    assert_eq!(all.len(), 4);
    let r = m.req(Method::GET, "/_mock/requests?limit=2").send().await;
    assert_eq!(ids(&r), all[2..], "the newest two, oldest first");
    let r = m
        .req(
            Method::GET,
            &format!("/_mock/requests?limit=2&since={}", all[2]),
        )
        .send()
        .await;
    assert_eq!(ids(&r), all[3..]);
    for bad in ["0", "10001", "x"] {
        let r = m
            .req(Method::GET, &format!("/_mock/requests?limit={bad}"))
            .send()
            .await;
        assert_eq!(r.status, 400, "limit={bad}");
    }
}

#[tokio::test]
async fn the_state_lists_the_newest_25_codes_of_an_account_and_counts_them_all() {
    let m = Mock::with(
        MockConfig::default()
            .rate_limit(1_000_000, Duration::from_secs(60))
            .journal_size(0),
    );
    let mut made = Vec::new();
    for i in 0..30 {
        made.push(
            m.create(
                BUSINESS,
                &format!(r#"{{"target_url":"https://example.com/{i}"}}"#),
            )
            .await,
        );
    }
    let r = m.req(Method::GET, "/_mock/state").send().await;
    let d = &r.json["data"];
    assert_eq!(d["journal_enabled"], false);
    let business = d["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "acct_business")
        .unwrap();
    assert_eq!(business["code_count"], 30);
    let listed: Vec<&str> = business["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["shortcode"].as_str().unwrap())
        .collect();
    let newest: Vec<&str> = made.iter().rev().take(25).map(String::as_str).collect();
    assert_eq!(listed, newest);
}
