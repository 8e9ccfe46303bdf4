//! Prints figures, asserts nothing. Two measurements:
//!
//! 1. Memory per stored code: resident set size (`/proc/self/statm`) before and after creating
//!    100,000 codes through the router in-process.
//! 2. Throughput: authenticated `GET /api/v1/codes/{shortcode}` against heldqr-mock in the
//!    binary's default configuration (request log on, through the binary's own subscriber and
//!    batching writer, to nowhere; journal on) with 32 keep-alive connections, beside
//!    the same request on a minimal axum route in the same run, alternating rounds: requests
//!    per second, p50/p99 latency, the medians and the ratios.
//!
//! The mock is served on the bench's own runtime (`MockServer::start`, as a Rust test serves
//! it), beside the load client and the bare route; the binary's thread per core serving
//! (`Workers`) is measured by `benches/wrk.sh`.
//!
//! Everything is on 127.0.0.1. Run: `cargo bench -p heldqr-mock --bench throughput`
//! (`BENCH_SECS` sets the seconds per run, default 5; `BENCH_ROUNDS` the rounds, default 3;
//! `BENCH_CONNECTIONS` the connections). `benches/wrk.sh` measures the release binary with an
//! external load generator.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use axum::routing::get;
use heldqr_mock::{AppState, DEV_TOKEN_PRO, MockConfig, MockServer, app};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

/// The binary's log set-up, as it is.
#[allow(dead_code)]
#[path = "../src/logging/mod.rs"]
mod logging;

const CODES: usize = 100_000;
const MAX_REQUESTS_PER_CONNECTION: usize = 2_000_000;

fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

async fn memory_per_code() {
    let config = MockConfig::default()
        .rate_limit(u32::MAX, Duration::from_millis(1))
        .max_codes_per_account(CODES)
        // The codes alone (the journal has its own budget).
        .journal_size(0)
        .seed(1);
    let state = AppState::new(config).expect("config");
    let router = app(state.clone());
    let before = rss_bytes();
    for i in 0..CODES {
        let body =
            format!(r#"{{"target_url": "https://example.com/menus/{i}", "label": "Menu {i}"}}"#);
        let req = Request::post("/api/v1/codes")
            .header(header::AUTHORIZATION, format!("Bearer {DEV_TOKEN_PRO}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .expect("request");
        let res = router.clone().oneshot(req).await.expect("infallible");
        assert_eq!(res.status(), 201);
    }
    let after = rss_bytes();
    match (before, after) {
        (Some(b), Some(a)) => println!(
            "memory: {} codes stored, RSS {:.1} MiB -> {:.1} MiB: {:.0} bytes per code (target < 1024)",
            state.code_count(),
            b as f64 / 1048576.0,
            a as f64 / 1048576.0,
            (a.saturating_sub(b)) as f64 / CODES as f64
        ),
        _ => println!("memory: /proc/self/statm is not available on this system"),
    }
}

struct Load {
    requests: usize,
    elapsed: Duration,
    latencies_us: Vec<u32>,
}

async fn load(base: &str, path: &str, auth: &str, connections: usize, secs: u64) -> Load {
    let addr = base.strip_prefix("http://").expect("http base").to_owned();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (addr, path, auth, stop) =
            (addr.clone(), path.to_owned(), auth.to_owned(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(&addr).await.expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake::<_, Body>(TokioIo::new(stream))
                    .await
                    .expect("handshake");
            tokio::spawn(conn);
            let mut lat = Vec::with_capacity(1 << 16);
            while !stop.load(Ordering::Relaxed) && lat.len() < MAX_REQUESTS_PER_CONNECTION {
                let req = Request::get(&path)
                    .header(header::HOST, &addr)
                    .header(header::AUTHORIZATION, &auth)
                    .body(Body::empty())
                    .expect("request");
                let t = Instant::now();
                let res = sender.send_request(req).await.expect("response");
                let status = res.status();
                let _ = res.into_body().collect().await.expect("body");
                assert_eq!(status, 200);
                lat.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
            }
            lat
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies_us = Vec::new();
    for t in tasks {
        latencies_us.extend(t.await.expect("task"));
    }
    let elapsed = started.elapsed();
    latencies_us.sort_unstable();
    Load {
        requests: latencies_us.len(),
        elapsed,
        latencies_us,
    }
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Prints one run; returns (req/s, p99 ms).
fn report(name: &str, l: &Load) -> (f64, f64) {
    let rps = l.requests as f64 / l.elapsed.as_secs_f64();
    println!(
        "{name:<28} {:>9.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   ({} requests in {:.1} s)",
        rps,
        pct(&l.latencies_us, 0.50),
        pct(&l.latencies_us, 0.99),
        l.requests,
        l.elapsed.as_secs_f64()
    );
    (rps, pct(&l.latencies_us, 0.99))
}

async fn bare_axum(body: String) -> (String, tokio::task::JoinHandle<()>) {
    let router = Router::new().route(
        "/api/v1/codes/{shortcode}",
        get(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body) }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    (format!("http://{addr}"), task)
}

fn main() {
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let connections: usize = std::env::var("BENCH_CONNECTIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32);
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    // The binary's log path: every request line formatted and handed to a writer thread.
    let _flush = logging::init_with("info", logging::LogFormat::Text, std::io::sink())
        .expect("log subscriber");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        memory_per_code().await;

        // A limit far above what the run sends, so the limiter runs but never rejects.
        let config = MockConfig::default()
            .rate_limit(u32::MAX, Duration::from_secs(1))
            .log_requests(true)
            .seed(1);
        let server = MockServer::start(config).await.expect("start");
        let auth = format!("Bearer {DEV_TOKEN_PRO}");
        let create = Request::post("/api/v1/codes")
            .header(header::AUTHORIZATION, &auth)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"target_url": "https://example.com/menu", "label": "Restaurant menu", "shortcode": "menu-v3"}"#))
            .expect("request");
        let res = app(server.state().clone()).oneshot(create).await.expect("infallible");
        let body = String::from_utf8(res.into_body().collect().await.expect("body").to_bytes().to_vec()).expect("utf-8");
        let (bare_base, bare_task) = bare_axum(body).await;
        let path = "/api/v1/codes/menu-v3";

        println!("throughput: GET {path}, {connections} keep-alive connections, {secs} s each, 127.0.0.1");
        // Warm both up, then measure.
        load(&bare_base, path, &auth, connections, 1).await;
        load(server.base_url(), path, &auth, connections, 1).await;
        let (mut bare, mut mock) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            for side in if round % 2 == 0 { [0, 1] } else { [1, 0] } {
                if side == 0 {
                    bare.push(report("bare axum route", &load(&bare_base, path, &auth, connections, secs).await));
                } else {
                    mock.push(report("heldqr-mock (log+journal)", &load(server.base_url(), path, &auth, connections, secs).await));
                }
            }
        }
        let rps = |v: &[(f64, f64)]| median(v.iter().map(|r| r.0).collect());
        let p99 = |v: &[(f64, f64)]| median(v.iter().map(|r| r.1).collect());
        println!(
            "medians: bare {:.0} req/s p99 {:.2} ms; heldqr-mock {:.0} req/s p99 {:.2} ms",
            rps(&bare), p99(&bare), rps(&mock), p99(&mock)
        );
        println!(
            "ratio heldqr-mock / bare axum: {:.2} req/s (target >= 0.85), {:.2} p99 (target <= 2)",
            rps(&mock) / rps(&bare),
            p99(&mock) / p99(&bare)
        );
        bare_task.abort();
        server.shutdown().await;
    });
}
