//! Per-request overhead of the SDK against raw `reqwest`, both doing `GET /api/v1/codes/{sc}`
//! against the in-process mock server on the same runtime. Prints figures; never asserts.
//!
//! `cargo bench -p heldqr-rs --bench sdk_overhead` (set `BENCH_REQUESTS` to change the
//! number of requests per side; default 4000).

use std::time::{Duration, Instant};

use heldqr_mock::{DEV_TOKEN_BUSINESS, MockConfig, MockServer};
use heldqr_sdk::{Client, reqwest};

const ROUNDS: usize = 10;

fn main() {
    let requests: usize = std::env::var("BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(bench(requests.max(ROUNDS)));
}

async fn bench(requests: usize) {
    let config = MockConfig::default().rate_limit(1_000_000, Duration::from_secs(60));
    let mock = MockServer::start(config).await.expect("mock server");
    let sdk = Client::builder()
        .token(DEV_TOKEN_BUSINESS)
        .base_url(mock.base_url())
        .build()
        .expect("client");
    let code = sdk
        .codes()
        .create("https://example.com/bench")
        .send()
        .await
        .expect("create")
        .into_inner();
    let url = format!("{}/api/v1/codes/{}", mock.base_url(), code.shortcode);
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("reqwest client");
    let auth = format!("Bearer {DEV_TOKEN_BUSINESS}");

    let sdk_get = || async {
        let response = sdk
            .codes()
            .get(&code.shortcode)
            .send()
            .await
            .expect("sdk get");
        std::hint::black_box(response);
    };
    let raw_get = || async {
        let response = raw
            .get(&url)
            .header("authorization", &auth)
            .header("accept", "application/json")
            .send()
            .await
            .expect("raw get");
        assert!(response.status().is_success());
        let body = response.bytes().await.expect("raw body");
        let value: serde_json::Value = serde_json::from_slice(&body).expect("raw json");
        std::hint::black_box(value);
    };

    // Warm up both connection pools.
    for _ in 0..200 {
        sdk_get().await;
        raw_get().await;
    }

    let per_round = requests / ROUNDS;
    let mut sdk_rounds = Vec::new();
    let mut raw_rounds = Vec::new();
    for round in 0..ROUNDS {
        // Alternate which side goes first so drift hits both alike.
        for side in if round % 2 == 0 { [0, 1] } else { [1, 0] } {
            let start = Instant::now();
            for _ in 0..per_round {
                if side == 0 {
                    sdk_get().await;
                } else {
                    raw_get().await;
                }
            }
            let per_request = start.elapsed() / u32::try_from(per_round).unwrap_or(u32::MAX);
            if side == 0 {
                sdk_rounds.push(per_request);
            } else {
                raw_rounds.push(per_request);
            }
        }
    }
    let sdk_median = median(&mut sdk_rounds);
    let raw_median = median(&mut raw_rounds);
    println!(
        "sdk_overhead: {} requests per side in {ROUNDS} interleaved rounds",
        per_round * ROUNDS
    );
    println!("  raw reqwest  GET /api/v1/codes/{{sc}}: median {raw_median:?} per request");
    println!("  heldqr-sdk   codes().get(..).send():  median {sdk_median:?} per request");
    println!(
        "  ratio sdk/raw: {:.3} (target <= 1.10)",
        sdk_median.as_secs_f64() / raw_median.as_secs_f64()
    );
    mock.shutdown().await;
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[values.len() / 2]
}
