//! Exactly-once creates at scale: N creates through the SDK from concurrent tasks against an
//! in-process `heldqr-mock` injecting every fault kind, each create with its own key and
//! re-tried by the caller with the same key after any retryable error. Prints the counts; the
//! last line states the result. Never asserts on speed; exits non-zero if a create was lost or
//! duplicated.
//!
//! `cargo bench -p heldqr-rs --bench exactly_once` (release). Knobs: `BENCH_CREATES` (default
//! 5000), `BENCH_TASKS` (16), `BENCH_FAULT_RATE` (0.25), `BENCH_FAULT_SEED` (20260601).

#[path = "../tests/support/exactly_once.rs"]
mod exactly_once;

use std::time::Duration;

use exactly_once::{Setup, fast_policy, mixed_faults};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> std::process::ExitCode {
    let creates: usize = env("BENCH_CREATES", 5000);
    let tasks: usize = env("BENCH_TASKS", 16).max(1);
    let rate: f64 = env("BENCH_FAULT_RATE", 0.25);
    let seed: u64 = env("BENCH_FAULT_SEED", 20_260_601);
    let setup = Setup {
        tasks,
        creates,
        faults: mixed_faults(seed, rate, Duration::from_millis(5)),
        policy: fast_policy(),
        caller_retry_limit: 1000,
        http2: std::env::var_os("BENCH_HTTP2").is_some(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!(
        "exactly-once bench: {creates} creates, {tasks} tasks (one token each), fault seed {seed}"
    );
    println!("faults configured: {:?}", setup.faults);
    let outcome = runtime.block_on(async {
        // Bounded: every create ends Ok or is given up after 1000 caller re-tries.
        tokio::time::timeout(Duration::from_secs(1800), exactly_once::run(&setup))
            .await
            .expect("the run ends within 30 minutes")
    });
    let f = outcome.faults;
    println!(
        "server saw {} /api/v1 requests during the run, {} faulted ({:.1}%): {} dropped after commit (FIN), {} reset after commit (RST), {} x 500, {} x 503, {} x unknown code, {} x 429 (bursts); {} delayed",
        f.requests,
        f.faulted(),
        100.0 * f.faulted() as f64 / f.requests.max(1) as f64,
        f.dropped,
        f.reset,
        f.internal_error,
        f.service_unavailable,
        f.unknown_code,
        f.rate_limited,
        f.delayed
    );
    println!(
        "calls: {} Ok ({} of them idempotent replays); errors callers saw and re-tried with the same key: {:?}",
        outcome.ok, outcome.replays, outcome.errors
    );
    if !outcome.untyped.is_empty() {
        println!(
            "errors that were not retryable or lacked the key: {:?}",
            outcome.untyped
        );
    }
    println!(
        "wall time {:.1} s, {:.0} creates/s",
        outcome.elapsed.as_secs_f64(),
        outcome.requested as f64 / outcome.elapsed.as_secs_f64()
    );
    println!("{}", outcome.statement());
    if outcome.holds() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
