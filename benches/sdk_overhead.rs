//! Per-request overhead of the SDK against raw `reqwest`, both doing
//! `GET /api/v1/codes/{sc}` against the same FIXED in-bench server, so the figures do not move
//! with the mock's speed. Prints figures; never asserts.
//!
//! The server is a minimal hyper HTTP/1.1 server on 127.0.0.1:0, on its own thread and its own
//! single-threaded runtime, answering every request with the JSON and headers a real
//! `heldqr-mock` get returns (`X-RateLimit-*`, `X-Request-Id`, `Content-Type`). The clients run
//! on a 2-worker tokio runtime. Three sides: the SDK, bare reqwest (the target's baseline) and
//! reqwest with the SDK's 30 s per-attempt timeout; keep-alive pools warmed with 200 requests
//! each, then interleaved rounds (the side going first rotates).
//!
//! `cargo bench -p heldqr-rs --bench sdk_overhead`. Knobs: `BENCH_REQUESTS` (per side,
//! default 20000), `BENCH_ROUNDS` (default 200), `BENCH_RUNTIME=current_thread` (the clients
//! on one thread instead of two workers: less scheduling noise), and
//! `BENCH_ONLY=sdk|raw|raw+timeout` (after the shared warm-up, only that side, for whole-process
//! counts: run it at two `BENCH_REQUESTS` and divide the difference). Rounds are short (100
//! calls per side, a few ms), so the sides of a round see the same load from the rest of the
//! machine; the headline figures are medians over the rounds of each round's own pairs.
//!
//! Wall time on a shared 2-core machine moves by several µs between rounds, so the SDK's own
//! work per call is also counted in instructions, which callgrind counts repeatably: each
//! side's calls run inside their own future type ([`SdkCall`], [`RawCall`], [`RawTimeoutCall`])
//! whose `poll` is never inlined, and callgrind collects only inside those `poll`s (the
//! server, the runtime and reqwest's connection task, which all sides share, are left out):
//!
//! ```text
//! CARGO_PROFILE_RELEASE_DEBUG=line-tables-only cargo bench -p heldqr-rs --bench sdk_overhead --no-run
//! BENCH_REQUESTS=2000 BENCH_ROUNDS=20 valgrind --tool=callgrind --callgrind-out-file=cg.out \
//!   --toggle-collect='*Call<*poll*' target/release/deps/sdk_overhead-<hash>
//! callgrind_annotate --inclusive=yes cg.out | grep -E 'Call<.*poll \['
//! ```
//!
//! Each `poll`'s inclusive count divided by that side's calls (printed, warm-up included) is
//! instructions per call; SDK minus raw is the SDK's own work.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use heldqr_sdk::{Client, reqwest};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper_util::rt::TokioIo;

/// The SDK's default per-attempt timeout, given to the second raw side.
const SDK_TIMEOUT: Duration = Duration::from_secs(30);
/// Calls per side before measuring.
const WARM_UP: usize = 200;
const TOKEN: &str = "hkr_test_business";
const SHORTCODE: &str = "wu7y5lg";
/// What `heldqr-mock` answers to `GET /api/v1/codes/wu7y5lg` (222 bytes).
const BODY: &str = concat!(
    r#"{"data":{"shortcode":"wu7y5lg","target_url":"https://example.com/bench","label":null,"#,
    r#""status":"active","scan_url":"http://127.0.0.1:40335/r/wu7y5lg","#,
    r#""created_at":"2026-11-28T20:58:29Z","updated_at":"2026-11-28T20:58:29Z"}}"#
);

/// The raw side decodes into the same typed `Code` as the SDK (RFC 3339 times included), so
/// the difference between the sides is the SDK's own machinery, not the decode.
#[derive(serde::Deserialize)]
struct Envelope {
    data: heldqr_sdk::Code,
}

/// Each side's call future: their `poll` is never inlined, so callgrind can count the
/// instructions spent inside each side's calls (request building, sending, waiting on the
/// connection task, header parsing, decoding, dropping the result) apart from the server, the
/// runtime and the connection task all sides share:
/// `--toggle-collect='*Call<*poll*'`, then `callgrind_annotate --inclusive=yes` shows each
/// `poll`'s total.
struct SdkCall<F>(Pin<Box<F>>);
struct RawCall<F>(Pin<Box<F>>);
struct RawTimeoutCall<F>(Pin<Box<F>>);

macro_rules! measured_future {
    ($name:ident) => {
        impl<F: Future<Output = ()>> Future for $name<F> {
            type Output = ();
            #[inline(never)]
            fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
                // Keeps each side's `poll` its own code (two sides share one inner future
                // type, and the linker folds identical functions).
                std::hint::black_box(stringify!($name));
                self.0.as_mut().poll(cx)
            }
        }
    };
}
measured_future!(SdkCall);
measured_future!(RawCall);
measured_future!(RawTimeoutCall);

/// The sides, in the order their figures are kept.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Sdk,
    /// Bare reqwest: the target's baseline.
    Raw,
    /// reqwest with the SDK's default per-attempt timeout (30 s), as a careful caller writes it.
    RawTimeout,
}

const SIDES: [Side; 3] = [Side::Sdk, Side::Raw, Side::RawTimeout];

fn main() {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let requests = env("BENCH_REQUESTS", 20_000);
    let rounds = env("BENCH_ROUNDS", 200).max(1);
    let only = match std::env::var("BENCH_ONLY").as_deref() {
        Err(_) => None,
        Ok("sdk") => Some(Side::Sdk),
        Ok("raw") => Some(Side::Raw),
        Ok("raw+timeout") => Some(Side::RawTimeout),
        Ok(other) => {
            eprintln!("BENCH_ONLY is sdk, raw or raw+timeout, not {other:?}");
            std::process::exit(2);
        }
    };

    let addr = start_fixed_server();
    let runtime = match std::env::var("BENCH_RUNTIME").as_deref() {
        Ok("current_thread") => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        _ => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build(),
    }
    .expect("tokio runtime");
    runtime.block_on(bench(addr, requests.max(rounds), rounds, only));
}

/// Starts the fixed server on its own thread and runtime; returns its address once it listens.
fn start_fixed_server() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.set_nonblocking(true).expect("non-blocking");
    let addr = listener.local_addr().expect("local address");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            let ids = std::sync::Arc::new(AtomicU64::new(0xa46f_b014_8293));
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let ids = ids.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        std::future::ready(answer(&request, &ids))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    // The listener is bound before this returns: connections queue until the thread accepts.
    addr
}

/// The same answer for every request: a code, its rate-limit headers and a fresh request id.
fn answer(
    _request: &hyper::Request<Incoming>,
    ids: &AtomicU64,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let id = ids.fetch_add(1, Ordering::Relaxed);
    let mut response = hyper::Response::new(Full::new(Bytes::from_static(BODY.as_bytes())));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("x-ratelimit-limit", HeaderValue::from_static("1000000"));
    headers.insert("x-ratelimit-remaining", HeaderValue::from_static("999998"));
    headers.insert("x-ratelimit-reset", HeaderValue::from_static("1795899570"));
    if let Ok(value) = HeaderValue::from_str(&format!("req_{id:016x}")) {
        headers.insert("x-request-id", value);
    }
    Ok(response)
}

async fn bench(addr: SocketAddr, requests: usize, rounds: usize, only: Option<Side>) {
    let base_url = format!("http://{addr}");
    let sdk = Client::builder()
        .token(TOKEN)
        .base_url(&base_url)
        .build()
        .expect("client");
    let url = format!("{base_url}/api/v1/codes/{SHORTCODE}");
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("reqwest client");
    let auth = format!("Bearer {TOKEN}");

    let sdk_get = || {
        SdkCall(Box::pin(async {
            let response = sdk.codes().get(SHORTCODE).send().await.expect("sdk get");
            std::hint::black_box(response);
        }))
    };
    let raw_get = |timeout: Option<Duration>| {
        let url = &url;
        let auth = &auth;
        let raw = &raw;
        async move {
            let mut request = raw
                .get(url)
                .header("authorization", auth)
                .header("accept", "application/json");
            if let Some(timeout) = timeout {
                request = request.timeout(timeout);
            }
            let response = request.send().await.expect("raw get");
            assert!(response.status().is_success());
            let body = response.bytes().await.expect("raw body");
            let envelope: Envelope = serde_json::from_slice(&body).expect("raw json");
            std::hint::black_box(envelope.data);
        }
    };
    let call = |side: Side| async move {
        match side {
            Side::Sdk => sdk_get().await,
            Side::Raw => RawCall(Box::pin(raw_get(None))).await,
            Side::RawTimeout => RawTimeoutCall(Box::pin(raw_get(Some(SDK_TIMEOUT)))).await,
        }
    };
    let run = |side: Side, n: usize| async move {
        let start = Instant::now();
        for _ in 0..n {
            call(side).await;
        }
        start.elapsed()
    };

    // Warm up every connection pool.
    for _ in 0..WARM_UP {
        for side in SIDES {
            call(side).await;
        }
    }

    if let Some(side) = only {
        let elapsed = run(side, requests).await;
        println!(
            "sdk_overhead: {requests} requests of one side after the warm-up, {:.2} µs per request",
            elapsed.as_secs_f64() * 1e6 / requests as f64
        );
        return;
    }

    let per_round = requests / rounds;
    // Per side, each round's time per request.
    let mut times: [Vec<f64>; 3] = Default::default();
    for round in 0..rounds {
        // Rotate which side goes first (and reverse every other round) so drift hits all alike.
        let mut order = SIDES;
        order.rotate_left(round % 3);
        if round % 2 == 1 {
            order.reverse();
        }
        for side in order {
            let elapsed = run(side, per_round).await;
            times[side as usize].push(elapsed.as_secs_f64() / per_round as f64);
        }
    }
    let [sdk, raw, raw_timeout] = &times;
    println!(
        "sdk_overhead: {} requests per side in {rounds} interleaved rounds of {per_round}, fixed \
         server ({} calls per side with the warm-up)",
        per_round * rounds,
        per_round * rounds + WARM_UP
    );
    let show = |name: &str, values: &[f64]| {
        println!(
            "  {name}: median {:.2} µs per request",
            percentile(values, 50) * 1e6
        );
    };
    show("raw reqwest                     ", raw);
    show("raw reqwest + 30 s timeout      ", raw_timeout);
    show("heldqr-sdk codes().get().send()", sdk);
    let compare = |name: &str, base: &[f64], target: &str| {
        let ratios: Vec<f64> = sdk.iter().zip(base).map(|(s, r)| s / r).collect();
        let diffs: Vec<f64> = sdk.iter().zip(base).map(|(s, r)| (s - r) * 1e6).collect();
        println!(
            "  sdk/{name} (each round's pair): ratio median {:.3} (quartiles {:.3}-{:.3}){target}; \
             sdk - {name} median {:.2} µs (quartiles {:.2}-{:.2})",
            percentile(&ratios, 50),
            percentile(&ratios, 25),
            percentile(&ratios, 75),
            percentile(&diffs, 50),
            percentile(&diffs, 25),
            percentile(&diffs, 75),
        );
    };
    compare("raw", raw, " (target <= 1.05, <= 5 µs)");
    compare("raw+timeout", raw_timeout, "");
}

/// The `p`th percentile (nearest rank) of `values`.
fn percentile<T: PartialOrd + Copy>(values: &[T], p: usize) -> T {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    sorted[(sorted.len() - 1) * p / 100]
}
