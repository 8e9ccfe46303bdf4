//! The mock's own request path, without sockets: a fixed number of authenticated
//! `GET /api/v1/codes/{shortcode}` requests through the router (`oneshot`) on one thread, in
//! the binary's default configuration (request log on, journal on), with the binary's own log
//! subscriber (its text format and its batching writer), writing nowhere. Prints the time per
//! request; asserts nothing.
//!
//! Its instruction count is repeatable, so this is the workload to profile:
//!
//! ```text
//! cargo bench -p heldqr-mock --bench request_path --no-run
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out target/release/deps/request_path-HASH
//! callgrind_annotate /tmp/cg.out | head -60
//! ```
//!
//! `BENCH_REQUESTS` sets the number of requests (default 20000); `BENCH_JOURNAL=0` turns the
//! journal off and `BENCH_LOG=0` the request log, to see what each costs; `BENCH_BARE=1` sends
//! the same requests through a bare axum route answering the same JSON (the baseline of
//! `benches/wrk.sh` and `examples/bare_axum.rs`), so the two counts can be set side by side.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, header};
use heldqr_mock::{AppState, DEV_TOKEN_PRO, MockConfig, app};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// The binary's log set-up, as it is.
#[allow(dead_code)]
#[path = "../src/logging/mod.rs"]
mod logging;

fn main() {
    let n: usize = std::env::var("BENCH_REQUESTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let _flush = logging::init_with("info", logging::LogFormat::Text, std::io::sink())
        .expect("log subscriber");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let on = |var: &str| std::env::var(var).map_or(true, |v| v != "0");
        let on_opt = |var: &str| std::env::var(var).is_ok_and(|v| v != "0");
        let mut config = MockConfig::default()
            .rate_limit(u32::MAX, Duration::from_secs(1))
            .log_requests(on("BENCH_LOG"))
            .seed(1);
        if !on("BENCH_JOURNAL") {
            config = config.journal_size(0);
        }
        let state = AppState::new(config).expect("config");
        let router = app(state.clone());
        let auth = format!("Bearer {DEV_TOKEN_PRO}");
        let create = Request::post("/api/v1/codes")
            .header(header::AUTHORIZATION, &auth)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                r#"{"target_url": "https://example.com/menu", "label": "Restaurant menu", "shortcode": "menu-v3"}"#,
            ))
            .expect("request");
        let res = router.clone().oneshot(create).await.expect("infallible");
        assert_eq!(res.status(), 201);
        let router = if on_opt("BENCH_BARE") {
            // The same JSON as the mock serves, from memory, by a bare route.
            let get = Request::get("/api/v1/codes/menu-v3")
                .header(header::AUTHORIZATION, &auth)
                .body(Body::empty())
                .expect("request");
            let res = router.clone().oneshot(get).await.expect("infallible");
            let body = res.into_body().collect().await.expect("body").to_bytes();
            axum::Router::new().route(
                "/api/v1/codes/{shortcode}",
                axum::routing::get(move || {
                    let body = body.clone();
                    async move { ([(header::CONTENT_TYPE, "application/json")], body) }
                }),
            )
        } else {
            router
        };
        let started = Instant::now();
        for _ in 0..n {
            let req = Request::get("/api/v1/codes/menu-v3")
                .header(header::HOST, "127.0.0.1:8080")
                .header(header::AUTHORIZATION, &auth)
                .header(header::USER_AGENT, "wrk")
                .body(Body::empty())
                .expect("request");
            let res = router.clone().oneshot(req).await.expect("infallible");
            assert_eq!(res.status(), 200);
            let _ = res.into_body().collect().await.expect("body");
        }
        let per = started.elapsed().as_secs_f64() * 1e6 / n as f64;
        println!("request path: {n} requests, {per:.2} µs per request (one thread, in-process)");
    });
}
