//! The exactly-once driver shared by `tests/faults.rs` (small N, in CI) and
//! `benches/exactly_once.rs` (large N, figures): N creates through the SDK from several
//! concurrent tasks against an in-process `heldqr-mock` injecting faults, each create with its
//! own Idempotency-Key; a call that fails with a retryable error is re-tried by the caller with
//! the same key until it succeeds. Then, faults off, the server's codes are read back through
//! the API and compared with what was asked for and what was acknowledged.
#![allow(dead_code)] // the test and the bench use different parts

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use heldqr_mock::{FaultConfig, FaultCounts, MockConfig, MockServer, Plan};
use heldqr_sdk::{Client, Error, RetryPolicy};

/// What to run.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Concurrent tasks; each has its own token (tokens spread over three accounts, one per plan).
    pub tasks: usize,
    /// Creates in all, each with its own key and its own target URL.
    pub creates: usize,
    pub faults: FaultConfig,
    /// The SDK's retry policy.
    pub policy: RetryPolicy,
    /// How often the caller re-tries one create (with the same key) before calling it lost.
    pub caller_retry_limit: u32,
    /// Speak HTTP/2 with prior knowledge (the mock serves it on the same port).
    pub http2: bool,
}

/// A fault mix over every kind, adding up to `rate` (drops and resets weigh most: they are the
/// faults where the create was committed), plus latency on 10% of requests.
pub fn mixed_faults(seed: u64, rate: f64, latency: Duration) -> FaultConfig {
    FaultConfig::new()
        .seed(seed)
        .drop_after_commit(rate * 0.25)
        .reset_after_commit(rate * 0.25)
        .internal_error(rate * 0.15)
        .service_unavailable(rate * 0.15)
        .unknown_code(rate * 0.12)
        .rate_limit_burst(rate * 0.08, 2)
        .latency(0.10, latency)
}

/// The fast retry policy of these runs: a few retries with millisecond backoffs.
pub fn fast_policy() -> RetryPolicy {
    RetryPolicy::default()
        .max_retries(3)
        .initial_backoff(Duration::from_millis(2))
        .max_backoff(Duration::from_millis(20))
        .max_retry_after(Duration::from_secs(5))
}

/// What happened.
#[derive(Debug, Default)]
pub struct Outcome {
    pub requested: usize,
    /// Codes the server holds after the run (read through the API, faults off).
    pub codes_on_server: usize,
    /// Codes beyond the first for the same target.
    pub duplicates: usize,
    /// Targets asked for with no code on the server.
    pub missing: usize,
    /// Creates that never ended `Ok` (the caller gave up or got a non-retryable error), plus
    /// acknowledged shortcodes the server does not hold with their target.
    pub lost: usize,
    /// Calls that returned `Ok`.
    pub ok: usize,
    /// `Ok` calls whose response was a replay (`Idempotent-Replay: true`).
    pub replays: usize,
    /// Attempts the SDK made beyond the first of each call (server-side count).
    pub sdk_retries: u64,
    /// Times a caller called `send()` again with the same key after an error.
    pub caller_retries: u64,
    /// The errors callers saw (each then re-tried), by kind.
    pub errors: BTreeMap<String, u64>,
    /// Errors that were not retryable or did not carry the call's key (must be none).
    pub untyped: Vec<String>,
    pub faults: FaultCounts,
    pub elapsed: Duration,
}

impl Outcome {
    /// The run's last line.
    pub fn statement(&self) -> String {
        format!(
            "exactly-once: {} requested, {} codes on the server, {} duplicates, {} retries, {} caller re-tries, {} lost",
            self.requested,
            self.codes_on_server,
            self.duplicates,
            self.sdk_retries,
            self.caller_retries,
            self.lost
        )
    }

    /// True when every create happened exactly once.
    pub fn holds(&self) -> bool {
        self.codes_on_server == self.requested
            && self.duplicates == 0
            && self.missing == 0
            && self.lost == 0
            && self.untyped.is_empty()
    }
}

fn plan_of(account: usize) -> Plan {
    [Plan::Free, Plan::Pro, Plan::Business][account % 3]
}

fn token_of(task: usize) -> String {
    format!("hkr_test_exactly_once_{task}")
}

fn target_of(i: usize) -> String {
    format!("https://example.com/exactly-once/{i}")
}

fn error_kind(e: &Error) -> String {
    match e {
        Error::Api(api) => format!("HTTP {} {}", api.status, api.code),
        Error::Transport { .. } => "transport".into(),
        Error::Timeout { .. } => "timeout".into(),
        Error::Decode { .. } => "decode".into(),
        Error::Config(_) => "config".into(),
        _ => "other".into(),
    }
}

#[derive(Default)]
struct TaskResult {
    acknowledged: Vec<(usize, String)>,
    lost: usize,
    replays: usize,
    caller_retries: u64,
    errors: BTreeMap<String, u64>,
    untyped: Vec<String>,
}

/// A client for `base` and `token` with `policy`.
pub fn client(base: &str, token: &str, policy: RetryPolicy) -> Client {
    client_over(base, token, policy, false)
}

/// [`client`], over HTTP/2 with prior knowledge when `http2`.
pub fn client_over(base: &str, token: &str, policy: RetryPolicy, http2: bool) -> Client {
    let mut builder = Client::builder()
        .token(token)
        .base_url(base)
        // A hang guard only: no request of these runs gets near it.
        .timeout(Duration::from_secs(30))
        .retry_policy(policy);
    if http2 {
        builder = builder.http2_prior_knowledge();
    }
    builder.build().expect("client")
}

/// Creates `target` with `key`, re-trying with the same key after each retryable error.
/// Returns the shortcode (or `None` when given up) and records what happened.
async fn create_exactly_once(
    client: &Client,
    target: &str,
    key: &str,
    limit: u32,
    out: &mut TaskResult,
) -> Option<String> {
    let mut tries = 0;
    loop {
        match client
            .codes()
            .create(target)
            .idempotency_key(key)
            .send()
            .await
        {
            Ok(created) => {
                if created.meta().idempotent_replay {
                    out.replays += 1;
                }
                return Some(created.into_inner().shortcode);
            }
            Err(e) => {
                *out.errors.entry(error_kind(&e)).or_default() += 1;
                if !e.is_retryable() || e.idempotency_key() != Some(key) {
                    out.untyped
                        .push(format!("{key}: {e} (key {:?})", e.idempotency_key()));
                    return None;
                }
                tries += 1;
                if tries > limit {
                    return None;
                }
                out.caller_retries += 1;
            }
        }
    }
}

/// Starts a mock server for `setup`: one token per task, rate limit out of the way (only
/// injected 429 bursts), the given faults.
pub async fn start_server(setup: &Setup) -> MockServer {
    let mut config = MockConfig::default()
        .rate_limit(1_000_000_000, Duration::from_secs(60))
        .faults(setup.faults.clone());
    for t in 0..setup.tasks {
        let account = t % 3;
        config = config.token(token_of(t), plan_of(account), format!("acct_eo_{account}"));
    }
    MockServer::start(config).await.expect("mock server")
}

/// Runs `setup` against a fresh in-process mock server and checks the outcome through the API.
pub async fn run(setup: &Setup) -> Outcome {
    let server = start_server(setup).await;
    let started = Instant::now();
    let mut handles = Vec::new();
    for t in 0..setup.tasks {
        let client = client_over(
            server.base_url(),
            &token_of(t),
            setup.policy.clone(),
            setup.http2,
        );
        let (tasks, creates, limit) = (setup.tasks, setup.creates, setup.caller_retry_limit);
        handles.push(tokio::spawn(async move {
            let mut out = TaskResult::default();
            for i in (t..creates).step_by(tasks) {
                let key = format!("exactly-once-{i}");
                match create_exactly_once(&client, &target_of(i), &key, limit, &mut out).await {
                    Some(sc) => out.acknowledged.push((i, sc)),
                    None => out.lost += 1,
                }
            }
            out
        }));
    }
    let mut outcome = Outcome {
        requested: setup.creates,
        ..Outcome::default()
    };
    let mut acknowledged = Vec::new();
    for h in handles {
        let r = h.await.expect("task");
        acknowledged.extend(r.acknowledged);
        outcome.lost += r.lost;
        outcome.replays += r.replays;
        outcome.caller_retries += r.caller_retries;
        for (k, n) in r.errors {
            *outcome.errors.entry(k).or_default() += n;
        }
        outcome.untyped.extend(r.untyped);
    }
    outcome.elapsed = started.elapsed();
    outcome.ok = acknowledged.len();
    outcome.faults = server.state().fault_counts();
    let calls = (setup.creates as u64 - outcome.lost as u64) + outcome.caller_retries;
    outcome.sdk_retries = outcome.faults.requests.saturating_sub(calls);

    // Read everything back through the API, faults off.
    server.state().set_faults_enabled(false);
    let mut on_server: HashMap<String, String> = HashMap::new(); // shortcode -> target
    let mut per_target: HashMap<String, usize> = HashMap::new();
    for account in 0..setup.tasks.min(3) {
        let reader = client(server.base_url(), &token_of(account), RetryPolicy::none());
        let codes: Vec<_> = reader
            .codes()
            .list()
            .page_size(100)
            .into_stream()
            .try_collect()
            .await
            .expect("list every code");
        for code in codes {
            *per_target.entry(code.target_url.clone()).or_default() += 1;
            on_server.insert(code.shortcode, code.target_url);
        }
    }
    outcome.codes_on_server = on_server.len();
    assert_eq!(
        outcome.codes_on_server,
        server.state().code_count(),
        "the API lists every stored code"
    );
    outcome.duplicates = per_target.values().map(|n| n - 1).sum();
    let wanted: HashSet<String> = (0..setup.creates).map(target_of).collect();
    outcome.missing = wanted
        .iter()
        .filter(|t| !per_target.contains_key(*t))
        .count();
    outcome.lost += acknowledged
        .iter()
        .filter(|(i, sc)| on_server.get(sc) != Some(&target_of(*i)))
        .count();
    server.shutdown().await;
    outcome
}

/// Several tasks send the same create (same token, key and body) at once, each re-trying
/// with that key until `Ok`, for `keys` different keys. Returns, per key, the shortcodes the
/// tasks got, and the number of codes the server holds.
pub async fn same_key(
    tasks_per_key: usize,
    keys: usize,
    faults: FaultConfig,
) -> (Vec<Vec<String>>, usize, FaultCounts) {
    let setup = Setup {
        tasks: 1,
        creates: 0,
        faults,
        policy: fast_policy(),
        caller_retry_limit: 100,
        http2: false,
    };
    let server = start_server(&setup).await;
    let client = client(server.base_url(), &token_of(0), fast_policy());
    let mut per_key = Vec::new();
    for k in 0..keys {
        let mut handles = Vec::new();
        for _ in 0..tasks_per_key {
            let client = client.clone();
            handles.push(tokio::spawn(async move {
                let mut out = TaskResult::default();
                let key = format!("same-key-{k}");
                let sc = create_exactly_once(&client, &target_of(k), &key, 100, &mut out).await;
                assert!(out.untyped.is_empty(), "{:?}", out.untyped);
                sc.expect("every task ends Ok")
            }));
        }
        let mut got = Vec::new();
        for h in handles {
            got.push(h.await.expect("task"));
        }
        per_key.push(got);
    }
    let counts = server.state().fault_counts();
    let codes = server.state().code_count();
    server.shutdown().await;
    (per_key, codes, counts)
}
