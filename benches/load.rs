//! Load against `heldqr-mock` through the SDK, bounded in time and count, all on 127.0.0.1.
//! Prints figures, asserts nothing on speed; exits non-zero if an acknowledged create is
//! missing, a 429 lacked its headers, or the idempotency store did not shrink.
//!
//! Phase 1, mixed load: 50 tokens on 20 accounts (plans free, pro, business), one client task
//! per token. 40 "steady" clients run a mixed workload (create, get, list, update, scans) that
//! stays under the rate limit; 10 "aggressive" clients send many more requests than the limit
//! allows, without retries, and count every 429 and whether it carried `Retry-After` (>= 1 s),
//! `X-RateLimit-Remaining: 0` and the limit and reset. Reported: throughput, p50/p99 latency
//! per operation, 429s, process RSS before and after, and that every 201's shortcode is listed
//! by the server afterwards.
//!
//! Phase 2, idempotency retention: rounds of keyed creates against a fresh server, each round
//! followed by moving the mock clock past the retention and one more keyed create (which
//! reclaims expired keys). Reported: the store's entry count and RSS after each step.
//!
//! `cargo bench -p heldqr-rs --bench load` (release). Knobs: `BENCH_STEADY_OPS` (ops per
//! steady client, default 900), `BENCH_AGGRESSIVE_OPS` (default 5000), `BENCH_SECS` (time cap
//! of phase 1, default 120), `BENCH_KEYED` (keyed creates per round of phase 2, default 20000).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::TryStreamExt;
use heldqr_mock::{MockConfig, MockServer, Plan};
use heldqr_sdk::{Client, CodeStatus, Error, RetryPolicy};

const TOKENS: usize = 50;
const ACCOUNTS: usize = 20;
const AGGRESSIVE: usize = 10;
/// Requests per token per window: above what a steady client sends, far below an aggressive one.
const LIMIT: u32 = 1000;
const WINDOW: Duration = Duration::from_secs(60);

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1_048_576.0)
}

fn token_of(i: usize) -> String {
    format!("hkr_test_load_{i:02}")
}

fn account_of(i: usize) -> usize {
    i % ACCOUNTS
}

fn plan_of(account: usize) -> Plan {
    [Plan::Free, Plan::Pro, Plan::Business][account % 3]
}

fn client(base: &str, token: &str, policy: RetryPolicy) -> Client {
    Client::builder()
        .token(token)
        .base_url(base)
        .timeout(Duration::from_secs(30))
        .retry_policy(policy)
        .build()
        .expect("client")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Create,
    Get,
    List,
    Update,
    Scans,
}

#[derive(Default)]
struct ClientStats {
    /// (op, latency in µs) of every call.
    latencies: Vec<(Op, u32)>,
    /// Final outcome counts by label ("2xx", "429", "other: ...").
    outcomes: BTreeMap<String, u64>,
    /// 429s with every header right / not.
    good_429: u64,
    bad_429: Vec<String>,
    /// Acknowledged creates: (shortcode, target).
    created: Vec<(String, String)>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn check_429(e: &Error, offset: Duration) -> Result<(), String> {
    let api = e.api().ok_or("not an API error")?;
    let wait = api.retry_after.ok_or("no Retry-After")?;
    if wait < Duration::from_secs(1) {
        return Err(format!("Retry-After {wait:?} < 1 s"));
    }
    let rl = api.rate_limit.ok_or("missing X-RateLimit-* headers")?;
    if rl.remaining != 0 {
        return Err(format!("X-RateLimit-Remaining {}", rl.remaining));
    }
    if rl.limit != LIMIT {
        return Err(format!("X-RateLimit-Limit {}", rl.limit));
    }
    // The server clock may run ahead of the system clock by `offset`.
    if rl.reset + 1 < unix_now() + offset.as_secs() {
        return Err(format!("X-RateLimit-Reset {} in the past", rl.reset));
    }
    Ok(())
}

async fn run_client(
    index: usize,
    client: Client,
    ops: usize,
    aggressive: bool,
    deadline: Instant,
    offset: Duration,
) -> ClientStats {
    let mut rng = fastrand::Rng::with_seed(index as u64 + 1);
    let mut st = ClientStats::default();
    let mut mine: Vec<String> = Vec::new();
    for n in 0..ops {
        if Instant::now() >= deadline {
            break;
        }
        let roll = rng.u32(..100);
        let op = match (aggressive, mine.is_empty()) {
            (_, true) => Op::Create,
            (false, _) => match roll {
                0..20 => Op::Create,
                20..50 => Op::Get,
                50..70 => Op::List,
                70..85 => Op::Update,
                _ => Op::Scans,
            },
            (true, _) => match roll {
                0..30 => Op::Create,
                30..70 => Op::Get,
                _ => Op::List,
            },
        };
        let pick = |rng: &mut fastrand::Rng| mine[rng.usize(..mine.len())].clone();
        let started = Instant::now();
        let result: Result<(), Error> = match op {
            Op::Create => {
                let target = format!("https://example.com/load/{index}/{n}");
                match client.codes().create(&target).label("load").send().await {
                    Ok(c) => {
                        mine.push(c.shortcode.clone());
                        st.created.push((c.shortcode.clone(), target));
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            Op::Get => client.codes().get(pick(&mut rng)).send().await.map(drop),
            Op::List => {
                let page = rng.u32(1..4);
                client
                    .codes()
                    .list()
                    .page(page)
                    .page_size(20)
                    .send()
                    .await
                    .map(drop)
            }
            Op::Update => {
                let status = if rng.bool() {
                    CodeStatus::Paused
                } else {
                    CodeStatus::Active
                };
                client
                    .codes()
                    .update(pick(&mut rng))
                    .target_url(format!("https://example.com/load/{index}/{n}/moved"))
                    .status(status)
                    .send()
                    .await
                    .map(drop)
            }
            Op::Scans => client.codes().scans(pick(&mut rng)).send().await.map(drop),
        };
        let us = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
        st.latencies.push((op, us));
        let label = match &result {
            Ok(()) => "2xx".to_owned(),
            Err(e) if e.status() == Some(429) => {
                match check_429(e, offset) {
                    Ok(()) => st.good_429 += 1,
                    Err(why) => st.bad_429.push(why),
                }
                "429".to_owned()
            }
            Err(e) => format!("other: {e}"),
        };
        *st.outcomes.entry(label).or_default() += 1;
    }
    st
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
}

async fn mixed_load(steady_ops: usize, aggressive_ops: usize, secs: u64) -> bool {
    let mut config = MockConfig::default().rate_limit(LIMIT, WINDOW);
    for i in 0..TOKENS {
        let account = account_of(i);
        config = config.token(
            token_of(i),
            plan_of(account),
            format!("acct_load_{account:02}"),
        );
    }
    let rss_before_start = rss_bytes();
    let server = MockServer::start(config).await.expect("mock server");
    let rss_before = rss_bytes();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let offset = server.clock().offset();
    let started = Instant::now();
    let mut handles = Vec::new();
    for i in 0..TOKENS {
        let aggressive = i >= TOKENS - AGGRESSIVE;
        // Steady clients retry as by default; aggressive ones never retry, so each 429 shows.
        let policy = if aggressive {
            RetryPolicy::none()
        } else {
            RetryPolicy::default()
        };
        let client = client(server.base_url(), &token_of(i), policy);
        let ops = if aggressive {
            aggressive_ops
        } else {
            steady_ops
        };
        handles.push((
            aggressive,
            tokio::spawn(run_client(i, client, ops, aggressive, deadline, offset)),
        ));
    }
    let mut steady = ClientStats::default();
    let mut wild = ClientStats::default();
    for (aggressive, h) in handles {
        let st = h.await.expect("client task");
        let into = if aggressive { &mut wild } else { &mut steady };
        into.latencies.extend(st.latencies);
        for (k, v) in st.outcomes {
            *into.outcomes.entry(k).or_default() += v;
        }
        into.good_429 += st.good_429;
        into.bad_429.extend(st.bad_429);
        into.created.extend(st.created);
    }
    let elapsed = started.elapsed();
    let rss_after = rss_bytes();

    let total = steady.latencies.len() + wild.latencies.len();
    println!("== phase 1: mixed load");
    println!(
        "{TOKENS} tokens on {ACCOUNTS} accounts, {} steady clients x {steady_ops} ops, {AGGRESSIVE} aggressive clients x {aggressive_ops} ops, limit {LIMIT}/{}s per token",
        TOKENS - AGGRESSIVE,
        WINDOW.as_secs()
    );
    println!(
        "{total} calls in {:.2} s: {:.0} calls/s (SDK, server and load in one process on 2 cores)",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    let mut all: Vec<u32> = steady
        .latencies
        .iter()
        .chain(&wild.latencies)
        .map(|(_, us)| *us)
        .collect();
    all.sort_unstable();
    println!(
        "latency, all calls: p50 {:.2} ms, p99 {:.2} ms",
        percentile(&all, 0.5),
        percentile(&all, 0.99)
    );
    for (class, stats) in [("steady", &steady), ("aggressive", &wild)] {
        let mut by_op: BTreeMap<Op, Vec<u32>> = BTreeMap::new();
        for (op, us) in &stats.latencies {
            by_op.entry(*op).or_default().push(*us);
        }
        let mut line = format!("  {class} clients:");
        for (op, mut v) in by_op {
            v.sort_unstable();
            line.push_str(&format!(
                " {op:?} {} calls p50 {:.2} ms p99 {:.2} ms;",
                v.len(),
                percentile(&v, 0.5),
                percentile(&v, 0.99)
            ));
        }
        println!("{line}");
    }
    println!("steady clients: outcomes {:?}", steady.outcomes);
    println!("aggressive clients: outcomes {:?}", wild.outcomes);
    let total_429 =
        steady.good_429 + wild.good_429 + (steady.bad_429.len() + wild.bad_429.len()) as u64;
    let bad: Vec<&String> = steady.bad_429.iter().chain(&wild.bad_429).collect();
    println!(
        "429s: {total_429}, {} with Retry-After >= 1 s, X-RateLimit-Remaining 0, Limit {LIMIT} and Reset; {} without{}",
        steady.good_429 + wild.good_429,
        bad.len(),
        if bad.is_empty() {
            String::new()
        } else {
            format!(" (first: {})", bad[0])
        }
    );
    println!(
        "RSS: {} before the server, {} with it started, {} after the load ({} codes, {} idempotency keys stored)",
        mib(rss_before_start),
        mib(rss_before),
        mib(rss_after),
        server.state().code_count(),
        server.state().idempotency_key_count()
    );

    // Every acknowledged create is on the server: list every account (the windows are moved
    // past first so the reading tokens have budget).
    server.clock().advance(WINDOW + Duration::from_secs(1));
    let mut listed: HashMap<String, String> = HashMap::new();
    for account in 0..ACCOUNTS {
        let reader = client(
            server.base_url(),
            &token_of(account),
            RetryPolicy::default(),
        );
        let codes: Vec<_> = reader
            .codes()
            .list()
            .page_size(100)
            .into_stream()
            .try_collect()
            .await
            .expect("list an account");
        for c in codes {
            listed.insert(c.shortcode, c.target_url);
        }
    }
    let acknowledged: Vec<&(String, String)> = steady.created.iter().chain(&wild.created).collect();
    let missing = acknowledged
        .iter()
        .filter(|(sc, _)| !listed.contains_key(sc))
        .count();
    println!(
        "acknowledged creates: {}, listed by the server afterwards: {}, missing: {missing} (server holds {} codes)",
        acknowledged.len(),
        acknowledged.len() - missing,
        listed.len()
    );
    let other_errors: u64 = steady
        .outcomes
        .iter()
        .chain(&wild.outcomes)
        .filter(|(k, _)| k.starts_with("other"))
        .map(|(_, v)| v)
        .sum();
    server.shutdown().await;
    missing == 0 && bad.is_empty() && other_errors == 0 && listed.len() == acknowledged.len()
}

async fn retention(keyed: usize) -> bool {
    println!("== phase 2: idempotency retention");
    let ttl = Duration::from_secs(3600);
    let config = MockConfig::default()
        .rate_limit(1_000_000_000, WINDOW)
        .idempotency_ttl(ttl)
        .token("hkr_test_retention", Plan::Business, "acct_retention");
    let server = MockServer::start(config).await.expect("mock server");
    let client = client(
        server.base_url(),
        "hkr_test_retention",
        RetryPolicy::default(),
    );
    let state = server.state().clone();
    println!(
        "{keyed} keyed creates per round, retention {} s; RSS at start {}",
        ttl.as_secs(),
        mib(rss_bytes())
    );
    let tasks = 16;
    let seq = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut ok = true;
    let mut previous_growth = None;
    for round in 1..=3 {
        let before = rss_bytes();
        let started = Instant::now();
        let mut handles = Vec::new();
        for t in 0..tasks {
            let client = client.clone();
            let seq = seq.clone();
            handles.push(tokio::spawn(async move {
                for i in (t..keyed).step_by(tasks) {
                    let n = seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    client
                        .codes()
                        .create(format!("https://example.com/retention/{round}/{i}"))
                        .idempotency_key(format!("retention-{n}"))
                        .send()
                        .await
                        .expect("keyed create");
                }
            }));
        }
        for h in handles {
            h.await.expect("task");
        }
        let filled = state.idempotency_key_count();
        let after_fill = rss_bytes();
        server.clock().advance(ttl + Duration::from_secs(1));
        // One more keyed create: the lookup reclaims every expired key.
        let n = seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        client
            .codes()
            .create(format!("https://example.com/retention/{round}/trigger"))
            .idempotency_key(format!("retention-{n}"))
            .send()
            .await
            .expect("trigger create");
        let reclaimed = state.idempotency_key_count();
        let after_reclaim = rss_bytes();
        let growth = after_fill.saturating_sub(before);
        println!(
            "round {round}: {keyed} keyed creates in {:.1} s: {filled} keys held, RSS {} -> {} (+{}); clock +{} s and one keyed create: {reclaimed} key held, RSS {} ({} codes stored)",
            started.elapsed().as_secs_f64(),
            mib(before),
            mib(after_fill),
            mib(growth),
            ttl.as_secs() + 1,
            mib(after_reclaim),
            state.code_count()
        );
        ok &= filled >= keyed && reclaimed == 1;
        if let Some(prev) = previous_growth {
            println!(
                "  growth this round vs the previous: {} vs {}",
                mib(growth),
                mib(prev)
            );
        }
        previous_growth = Some(growth);
    }
    server.shutdown().await;
    ok
}

fn main() -> std::process::ExitCode {
    let steady_ops: usize = env("BENCH_STEADY_OPS", 900);
    let aggressive_ops: usize = env("BENCH_AGGRESSIVE_OPS", 5000);
    let secs: u64 = env("BENCH_SECS", 120);
    let keyed: usize = env("BENCH_KEYED", 20_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let ok = runtime.block_on(async {
        let load_ok = mixed_load(steady_ops, aggressive_ops, secs).await;
        let retention_ok = retention(keyed).await;
        println!(
            "load: {}; idempotency retention: {}",
            if load_ok {
                "no acknowledged create missing, every 429 well-formed, no other error"
            } else {
                "FAILED"
            },
            if retention_ok {
                "expired keys reclaimed"
            } else {
                "FAILED"
            }
        );
        load_ok && retention_ok
    });
    if ok {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
