//! Workspace contract tests: the SDK against the in-process mock server, for every endpoint
//! and every plan, idempotent replay, pagination, typed errors and pacing.
//!
//! Each test starts its own mock server on 127.0.0.1 port 0 and shuts it down at the end.
//! Scans are added through the mock-only route `POST /_mock/codes/{sc}/scans` and one real
//! visit of the scan URL (never following the redirect).

use std::time::Duration;

use futures_util::TryStreamExt;
use heldqr_mock::{
    DEV_TOKEN_BUSINESS, DEV_TOKEN_FREE, DEV_TOKEN_PRO, MockClock, MockConfig, MockServer,
};
use heldqr_sdk::reqwest::{self, Method};
use heldqr_sdk::time::format_description::well_known::Rfc3339;
use heldqr_sdk::time::{Date, OffsetDateTime};
use heldqr_sdk::{Client, CodeStatus, Device, Error, ErrorCode, Plan, RetryPolicy, ScanReport};
use serde_json::json;

/// The instant the mock servers of these tests are frozen at (a manual clock), so dates never
/// roll over at midnight UTC mid-test.
const FIXED_NOW: &str = "2026-06-15T12:00:00Z";

fn fixed_now() -> OffsetDateTime {
    OffsetDateTime::parse(FIXED_NOW, &Rfc3339).expect("a valid RFC 3339 instant")
}

/// A mock server on a manual clock at [`FIXED_NOW`].
async fn mock() -> MockServer {
    MockServer::start(MockConfig::default().clock(MockClock::manual(fixed_now())))
        .await
        .expect("mock server starts")
}

fn client(mock: &MockServer, token: &str) -> Client {
    Client::builder()
        .token(token)
        .base_url(mock.base_url())
        .build()
        .expect("client")
}

/// The mock's current day, from `GET /_mock/clock`.
async fn mock_today(client: &Client) -> Date {
    let clock = client
        .request(Method::GET, "/_mock/clock")
        .send()
        .await
        .unwrap();
    let now = clock["data"]["now"].as_str().unwrap().to_owned();
    let part = |range: std::ops::Range<usize>| now[range].parse::<i32>().unwrap();
    let month = heldqr_sdk::time::Month::try_from(part(5..7) as u8).unwrap();
    Date::from_calendar_date(part(0..4), month, part(8..10) as u8).unwrap()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn every_endpoint_on_every_plan() {
    let mock = mock().await;
    for (token, plan) in [
        (DEV_TOKEN_FREE, Plan::Free),
        (DEV_TOKEN_PRO, Plan::Pro),
        (DEV_TOKEN_BUSINESS, Plan::Business),
    ] {
        let client = client(&mock, token);
        // create
        let created = client
            .codes()
            .create("https://example.com/menu")
            .label("Restaurant menu")
            .send()
            .await
            .unwrap();
        assert_eq!(created.meta().status, 201);
        assert!(!created.meta().idempotent_replay);
        assert!(created.meta().rate_limit.is_some());
        assert_eq!(created.status, CodeStatus::Active);
        assert_eq!(created.label.as_deref(), Some("Restaurant menu"));
        let sc = created.shortcode.clone();
        assert_eq!(sc.len(), 7);

        // get
        let got = client.codes().get(&sc).send().await.unwrap();
        assert_eq!(got.into_inner(), created.clone().into_inner());

        // update: target, then clear the label
        let updated = client
            .codes()
            .update(&sc)
            .target_url("https://example.com/menu-2026")
            .clear_label()
            .send()
            .await
            .unwrap();
        assert_eq!(updated.target_url, "https://example.com/menu-2026");
        assert_eq!(updated.label, None);
        assert_eq!(updated.created_at, created.created_at);

        // list
        let page = client.codes().list().send().await.unwrap();
        assert_eq!(page.pagination.total, 1, "{plan}: accounts are separate");
        assert_eq!(page.items[0].shortcode, sc);

        // scans: three days of 5 mobile scans from DE, plus one visit from FR
        let today = fixed_now().date();
        assert_eq!(
            mock_today(&client).await,
            today,
            "the mock runs on the fixed clock"
        );
        let from = today - heldqr_sdk::time::Duration::days(2);
        client
            .request(Method::POST, &format!("/_mock/codes/{sc}/scans"))
            .json(json!({"from": from.to_string(), "to": today.to_string(), "per_day": 5, "country": "DE", "device": "mobile"}))
            .send()
            .await
            .unwrap();
        let visit = no_redirects()
            .get(
                updated
                    .scan_url
                    .as_deref()
                    .expect("the mock returns scan_url"),
            )
            .header("user-agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)")
            .header("cf-ipcountry", "fr")
            .send()
            .await
            .unwrap();
        assert_eq!(visit.status().as_u16(), 302);
        assert_eq!(
            visit.headers()["location"].to_str().unwrap(),
            "https://example.com/menu-2026"
        );

        let report = client.codes().scans(&sc).send().await.unwrap().into_inner();
        assert_eq!(report.plan(), plan);
        assert_eq!(report.shortcode(), sc);
        assert_eq!(report.total_scans(), 16);
        match (&plan, &report) {
            (Plan::Free, ScanReport::Free(lifetime)) => {
                assert!(lifetime.first_scan_at.is_some() && lifetime.last_scan_at.is_some());
            }
            (Plan::Pro, ScanReport::Pro(w)) | (Plan::Business, ScanReport::Business(w)) => {
                let days = if plan == Plan::Pro { 30 } else { 365 };
                assert_eq!(w.window.days, days);
                assert_eq!(w.window.end_date, today);
                assert_eq!(w.daily.len(), days as usize);
                assert_eq!(w.window_scans, 16);
                assert_eq!(w.daily.last().unwrap().scans, 6);
                assert_eq!(w.countries[0].country, "DE");
                assert_eq!(w.countries[0].scans, 15);
                assert_eq!(w.countries[1].country, "FR");
                assert_eq!(w.devices[0].device, Device::Mobile);
                assert_eq!(w.devices[1].device, Device::Desktop);
            }
            _ => panic!("{plan}: unexpected report {report:?}"),
        }
    }
    mock.shutdown().await;
}

#[tokio::test]
async fn a_never_scanned_code_has_an_empty_report() {
    let mock = mock().await;
    let client = client(&mock, DEV_TOKEN_PRO);
    let sc = client
        .codes()
        .create("https://example.com")
        .send()
        .await
        .unwrap()
        .into_inner()
        .shortcode;
    let ScanReport::Pro(w) = client.codes().scans(&sc).send().await.unwrap().into_inner() else {
        panic!("pro report expected")
    };
    assert_eq!((w.total_scans, w.window_scans), (0, 0));
    assert!(w.first_scan_at.is_none() && w.countries.is_empty() && w.devices.is_empty());
    assert!(w.daily.iter().all(|d| d.scans == 0));
    mock.shutdown().await;
}

#[tokio::test]
async fn idempotent_creates_replay_and_conflict() {
    let mock = mock().await;
    let client = client(&mock, DEV_TOKEN_BUSINESS);
    let create = |target: &str| {
        client
            .codes()
            .create(target)
            .label("Menu")
            .idempotency_key("import-line-17")
    };
    let first = create("https://example.com/menu").send().await.unwrap();
    let again = create("https://example.com/menu").send().await.unwrap();
    assert!(!first.meta().idempotent_replay);
    assert!(again.meta().idempotent_replay);
    assert_eq!(again.meta().status, 201);
    assert_eq!(
        again.meta().idempotency_key.as_deref(),
        Some("import-line-17")
    );
    assert_eq!(again.into_inner(), first.into_inner());

    let conflict = create("https://example.com/other")
        .send()
        .await
        .unwrap_err();
    assert_eq!(conflict.code(), Some(&ErrorCode::IdempotencyKeyConflict));
    assert_eq!(conflict.status(), Some(409));
    assert_eq!(conflict.idempotency_key(), Some("import-line-17"));
    assert_eq!(
        conflict.api().unwrap().attempts,
        1,
        "a conflict is not retried"
    );

    // Keys are per token: the same key on another token creates its own code.
    let other = Client::builder()
        .token(DEV_TOKEN_PRO)
        .base_url(mock.base_url())
        .build()
        .unwrap();
    let theirs = other
        .codes()
        .create("https://example.com/menu")
        .label("Menu")
        .idempotency_key("import-line-17")
        .send()
        .await
        .unwrap();
    assert!(!theirs.meta().idempotent_replay);

    assert_eq!(
        client.codes().list().send().await.unwrap().pagination.total,
        1
    );
    mock.shutdown().await;
}

#[tokio::test]
async fn concurrent_creates_with_one_key_make_one_code() {
    let mock = mock().await;
    let client = client(&mock, DEV_TOKEN_BUSINESS);
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .codes()
                    .create("https://example.com/menu")
                    .idempotency_key("same-key")
                    .send()
                    .await
            })
        })
        .collect();
    let mut shortcodes = Vec::new();
    let mut replays = 0;
    for task in tasks {
        let code = task.await.unwrap().unwrap();
        replays += usize::from(code.meta().idempotent_replay);
        shortcodes.push(code.into_inner().shortcode);
    }
    shortcodes.dedup();
    assert_eq!(shortcodes.len(), 1);
    assert_eq!(replays, 3);
    assert_eq!(
        client.codes().list().send().await.unwrap().pagination.total,
        1
    );
    mock.shutdown().await;
}

#[tokio::test]
async fn the_stream_walks_several_pages_oldest_first() {
    let mock = mock().await;
    let client = client(&mock, DEV_TOKEN_BUSINESS);
    let mut created = Vec::new();
    for n in 0..23 {
        let code = client
            .codes()
            .create(format!("https://example.com/{n}"))
            .send()
            .await
            .unwrap();
        created.push(code.into_inner().shortcode);
    }
    let streamed: Vec<String> = client
        .codes()
        .list()
        .page_size(10)
        .into_stream()
        .map_ok(|c| c.shortcode)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed, created);

    let last = client
        .codes()
        .list()
        .page(3)
        .page_size(10)
        .send()
        .await
        .unwrap();
    assert_eq!(last.items.len(), 3);
    assert_eq!(last.pagination.total_pages, 3);
    assert!(!last.has_next());
    let past = client
        .codes()
        .list()
        .page(4)
        .page_size(10)
        .send()
        .await
        .unwrap();
    assert!(past.items.is_empty());

    // A stream started past the end yields nothing.
    let none: Vec<_> = client
        .codes()
        .list()
        .page(9)
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    assert!(none.is_empty());
    mock.shutdown().await;
}

#[tokio::test]
async fn typed_errors_from_the_mock() {
    let mock = mock().await;
    let client = client(&mock, DEV_TOKEN_BUSINESS);

    let missing = client.codes().get("no-such-code").send().await.unwrap_err();
    assert_eq!(missing.code(), Some(&ErrorCode::NotFound));
    assert_eq!(missing.status(), Some(404));
    assert!(!missing.is_retryable());

    // Another account's code is a 404 too.
    let theirs = Client::builder()
        .token(DEV_TOKEN_FREE)
        .base_url(mock.base_url())
        .build()
        .unwrap()
        .codes()
        .create("https://example.com")
        .send()
        .await
        .unwrap()
        .into_inner();
    let err = client
        .codes()
        .get(&theirs.shortcode)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::NotFound));

    let invalid = client.codes().create("not a url").send().await.unwrap_err();
    let api = invalid.api().unwrap();
    assert_eq!((api.status, &api.code), (422, &ErrorCode::ValidationFailed));
    assert!(api.field_errors.contains_key("target_url"), "{api:?}");
    assert!(invalid.idempotency_key().is_some());

    client
        .codes()
        .create("https://example.com")
        .shortcode("menu-v3")
        .send()
        .await
        .unwrap();
    let take = |shortcode: &str| {
        client
            .codes()
            .create("https://example.com")
            .shortcode(shortcode)
            .idempotency_key("take-menu-v3")
    };
    let taken = take("menu-v3").send().await.unwrap_err();
    assert_eq!(taken.code(), Some(&ErrorCode::ShortcodeTaken));
    assert!(!taken.api().unwrap().idempotent_replay);
    assert_eq!(taken.attempts(), 1, "a conflict is not retried");
    assert!(taken.request_id().is_some());
    // Only a created code binds a key: the 409 was not stored, so the same request again is
    // decided afresh, and a corrected retry with the same key creates the code.
    let again = take("menu-v3").send().await.unwrap_err();
    assert_eq!(again.code(), Some(&ErrorCode::ShortcodeTaken));
    assert!(!again.api().unwrap().idempotent_replay, "{again:?}");
    let fixed = take("menu-v4").send().await.unwrap();
    assert_eq!(fixed.shortcode, "menu-v4");
    assert!(!fixed.meta().idempotent_replay);

    let bad_page = client
        .codes()
        .list()
        .page_size(1000)
        .send()
        .await
        .unwrap_err();
    assert_eq!(bad_page.code(), Some(&ErrorCode::InvalidParameter));

    let unauthorized = Client::builder()
        .token("hkr_live_wrong")
        .base_url(mock.base_url())
        .build()
        .unwrap()
        .codes()
        .list()
        .send()
        .await
        .unwrap_err();
    assert_eq!(unauthorized.code(), Some(&ErrorCode::Unauthorized));
    assert!(!format!("{unauthorized:?}").contains("hkr_live_wrong"));

    // A paused code's scan URL answers 410 code_paused.
    let paused = client
        .codes()
        .update("menu-v3")
        .status(CodeStatus::Paused)
        .send()
        .await
        .unwrap();
    assert_eq!(paused.status, CodeStatus::Paused);
    let visit = no_redirects()
        .get(
            paused
                .scan_url
                .as_deref()
                .expect("the mock returns scan_url"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(visit.status().as_u16(), 410);
    mock.shutdown().await;
}

#[tokio::test]
async fn rate_limited_requests_report_retry_after() {
    let mock = MockServer::start(MockConfig::default().rate_limit(2, Duration::from_secs(60)))
        .await
        .unwrap();
    let client = client(&mock, DEV_TOKEN_BUSINESS);
    client.codes().list().send().await.unwrap();
    let second = client.codes().list().send().await.unwrap();
    assert_eq!(second.meta().rate_limit.unwrap().remaining, 0);
    // The wait (about 60 s) is longer than the default max_retry_after (30 s): returned at once.
    let err = client.codes().list().send().await.unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::RateLimited));
    assert_eq!(err.api().unwrap().attempts, 1);
    let wait = err.retry_after().unwrap();
    assert!(
        wait > Duration::from_secs(30) && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
    mock.shutdown().await;
}

#[tokio::test]
async fn paced_tasks_run_at_the_limit_without_429s() {
    // 4 requests per 2 s; 12 requests from 3 tasks need about 4 s and must never see a 429.
    let mock = MockServer::start(MockConfig::default().rate_limit(4, Duration::from_secs(2)))
        .await
        .unwrap();
    let client = Client::builder()
        .token(DEV_TOKEN_BUSINESS)
        .base_url(mock.base_url())
        .pace_rate_limit(true)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                for _ in 0..4 {
                    let page = client.codes().list().send().await?;
                    assert_eq!(page.meta().attempts, 1);
                }
                Ok::<_, Error>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().expect("no request was rate limited");
    }
    mock.shutdown().await;
}

#[tokio::test]
async fn clients_of_one_token_pace_together_and_never_spend_a_429() {
    // 5 requests per 1 s (the pacer is told neither; it reads the limit and infers the
    // window). Two clients built separately for the same token, 3 tasks each, 20 creates in
    // all: with no retries, a single 429 (which spends a credit on this mock) fails the test.
    let mock = MockServer::start(MockConfig::default().rate_limit(5, Duration::from_secs(1)))
        .await
        .unwrap();
    let build = || {
        Client::builder()
            .token(DEV_TOKEN_PRO)
            .base_url(mock.base_url())
            .pace_rate_limit(true)
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap()
    };
    let clients = [build(), build()];
    let tasks: Vec<_> = (0..6)
        .map(|task| {
            let client = clients[task % 2].clone();
            let creates = if task < 2 { 4 } else { 3 };
            tokio::spawn(async move {
                for n in 0..creates {
                    let code = client
                        .codes()
                        .create(format!("https://example.com/paced/{task}/{n}"))
                        .send()
                        .await?;
                    assert_eq!(code.meta().attempts, 1);
                }
                Ok::<_, Error>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().expect("no request was rate limited");
    }
    let all = clients[0]
        .codes()
        .list()
        .page_size(100)
        .all()
        .await
        .unwrap();
    assert_eq!(all.len(), 20);
    mock.shutdown().await;
}
