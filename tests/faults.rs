//! Exactly-once creates under faults, through the SDK against the in-process mock server:
//! connections dropped (FIN) and reset (RST) after the create was committed, 500s and 503s,
//! an unfamiliar error code, 429 bursts and latency, at a fault rate over 20%.
//!
//! Each task uses its own token, and the mock draws faults per token from a seeded stream, so
//! every run meets the same faults. No sleeps, no timing assertions; a generous timeout only
//! turns a hang into a failure.

#[path = "support/exactly_once.rs"]
mod exactly_once;

use std::collections::HashSet;
use std::time::Duration;

use exactly_once::{Setup, fast_policy, mixed_faults};

/// A hang guard for a whole test: far above what the test needs.
const GUARD: Duration = Duration::from_secs(180);

/// Runs `setup` under the hang guard and checks that every create happened exactly once and
/// every call ended `Ok`; returns the outcome for the test's own checks.
async fn run_exactly_once(setup: &Setup) -> exactly_once::Outcome {
    let outcome = tokio::time::timeout(GUARD, exactly_once::run(setup))
        .await
        .expect("the run ends");
    let statement = outcome.statement();
    println!("{statement}\n{outcome:#?}");
    assert!(outcome.untyped.is_empty(), "{:?}", outcome.untyped);
    assert_eq!(
        outcome.ok, setup.creates,
        "every call ended Ok: {statement}"
    );
    assert_eq!(outcome.codes_on_server, setup.creates, "{statement}");
    assert_eq!(outcome.duplicates, 0, "{statement}");
    assert_eq!(outcome.missing, 0, "{statement}");
    assert_eq!(outcome.lost, 0, "{statement}");
    assert!(outcome.holds());
    // The faults really happened, at over 20% of the requests.
    let f = outcome.faults;
    assert!(f.faulted() * 5 >= f.requests, "fault rate under 20%: {f}");
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_create_happens_exactly_once_at_a_30_percent_fault_rate() {
    let setup = Setup {
        tasks: 6,
        creates: 72,
        faults: mixed_faults(20_260_601, 0.30, Duration::from_millis(2)),
        // One SDK retry per call, so callers often re-try with the key from the error.
        policy: fast_policy().max_retries(1),
        caller_retry_limit: 50,
        http2: false,
    };
    let outcome = run_exactly_once(&setup).await;
    // Every kind of fault happened.
    let f = outcome.faults;
    for (kind, n) in [
        ("dropped", f.dropped),
        ("reset", f.reset),
        ("500", f.internal_error),
        ("503", f.service_unavailable),
        ("unknown code", f.unknown_code),
        ("429", f.rate_limited),
        ("delayed", f.delayed),
    ] {
        assert!(n > 0, "no {kind} fault in this run: {f}");
    }
    // A create whose connection dropped after the commit came back as a replay.
    assert!(outcome.replays > 0, "{outcome:#?}");
    assert!(outcome.sdk_retries > 0);
    assert!(outcome.caller_retries > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_create_happens_exactly_once_over_http2_with_faults() {
    // The same proof over HTTP/2 with prior knowledge: the mock resets a faulted request's
    // stream (not the connection), and the SDK retries it on the same key.
    let setup = Setup {
        tasks: 4,
        creates: 48,
        faults: mixed_faults(20_261_128, 0.30, Duration::from_millis(2)),
        policy: fast_policy().max_retries(1),
        caller_retry_limit: 50,
        http2: true,
    };
    let outcome = run_exactly_once(&setup).await;
    let f = outcome.faults;
    assert!(f.dropped + f.reset > 0, "no dropped answer: {f}");
    assert!(outcome.sdk_retries > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_with_the_same_key_make_one_code() {
    let (per_key, codes, faults) = tokio::time::timeout(
        GUARD,
        exactly_once::same_key(6, 8, mixed_faults(7, 0.3, Duration::from_millis(1))),
    )
    .await
    .expect("the run ends");
    assert_eq!(codes, 8, "one code per key");
    let mut all = HashSet::new();
    for got in &per_key {
        let distinct: HashSet<_> = got.iter().collect();
        assert_eq!(distinct.len(), 1, "every task got the same code: {got:?}");
        all.insert(got[0].clone());
    }
    assert_eq!(all.len(), 8, "different keys, different codes");
    assert!(faults.faulted() > 0, "{faults}");
}
