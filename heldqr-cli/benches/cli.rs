//! CLI benchmark: whole-process wall time of `heldqr --version` (start-up) and `heldqr codes
//! get` against a local `heldqr-mock`, and `codes import` throughput as a fraction of the rate
//! limit. Prints figures; never passes or fails on speed.
//!
//! ```text
//! cargo build --release -p heldqr-mock
//! cargo bench -p heldqr-cli --bench cli
//! ```
//!
//! Environment: `HELDQR_BENCH_RUNS` (processes per start-up figure, default 100),
//! `HELDQR_BENCH_IMPORTS` (import scenarios `LIMIT/WINDOWs:ROWS`, comma-separated, default
//! `120/10s:480,600/60s:1800`; empty to skip), `HELDQR_BENCH_BASELINE` (the path of another
//! `heldqr` binary, e.g. a copy built from an earlier commit: each import scenario then runs
//! with it too, alternating with this build, against the same mock).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn heldqr() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_heldqr"))
}

struct Mock {
    child: Child,
    base_url: String,
}

impl Mock {
    fn start(args: &[&str]) -> Mock {
        let path = heldqr().with_file_name(format!("heldqr-mock{}", std::env::consts::EXE_SUFFIX));
        if !path.exists() {
            eprintln!(
                "{} is missing: run `cargo build --release -p heldqr-mock` first",
                path.display()
            );
            std::process::exit(1);
        }
        let mut child = Command::new(path)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start heldqr-mock");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base_url = loop {
            let line = lines.next().expect("mock exited").expect("mock stdout");
            if let Some(rest) = line.strip_prefix("heldqr-mock listening on ") {
                break rest.split_whitespace().next().unwrap().to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Mock { child, base_url }
    }

    fn cli(&self, config_dir: &std::path::Path) -> Command {
        self.cli_at(&heldqr(), config_dir)
    }

    fn cli_at(&self, cli: &std::path::Path, config_dir: &std::path::Path) -> Command {
        let mut cmd = Command::new(cli);
        cmd.env("HELDQR_BASE_URL", &self.base_url)
            .env("HELDQR_TOKEN", "hkr_test_pro")
            .env("HELDQR_CONFIG_DIR", config_dir)
            // The import ledger stays in the bench's temporary directory too.
            .env("HELDQR_STATE_DIR", config_dir)
            .env_remove("HELDQR_FORCE_TTY")
            .stdin(Stdio::null());
        cmd
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Stats {
    min: Duration,
    median: Duration,
    p95: Duration,
    mean: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let n = samples.len();
    Stats {
        min: samples[0],
        median: samples[n / 2],
        p95: samples[(n * 95 / 100).min(n - 1)],
        mean: samples.iter().sum::<Duration>() / n as u32,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn time_process(runs: usize, mut make: impl FnMut() -> Command) -> Stats {
    // One warm-up run (page cache, dynamic loader).
    let _ = make().output();
    let samples = (0..runs)
        .map(|_| {
            let mut cmd = make();
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
            let start = Instant::now();
            let status = cmd.status().expect("run heldqr");
            let elapsed = start.elapsed();
            assert!(status.success(), "heldqr failed during the bench");
            elapsed
        })
        .collect();
    stats(samples)
}

fn print_stats(name: &str, runs: usize, s: &Stats) {
    println!(
        "{name:<34} runs {runs:>4}  min {:>9}  median {:>9}  mean {:>9}  p95 {:>9}",
        ms(s.min),
        ms(s.median),
        ms(s.mean),
        ms(s.p95)
    );
}

fn import_scenario(cli: &std::path::Path, label: &str, limit: u32, window_s: u64, rows: u32) {
    let mock = Mock::start(&["--rate-limit", &format!("{limit}/{window_s}s")]);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bench.csv");
    let mut text = String::from("target_url,label\n");
    for i in 1..=rows {
        text.push_str(&format!("https://example.com/bench/{i},row {i}\n"));
    }
    std::fs::write(&csv, text).unwrap();

    let start = Instant::now();
    let mut child = mock
        .cli_at(cli, dir.path())
        .args(["codes", "import", csv.to_str().unwrap(), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // stdout (the JSON results) is drained on a thread so the CLI never blocks on a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let stdout_reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut bytes).map(|_| bytes)
    });
    // stderr is not a terminal: one line per row; time each as it arrives.
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut row_times = Vec::with_capacity(rows as usize);
    let mut summary = String::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        if line.starts_with("row ") {
            row_times.push(start.elapsed());
        } else if line.contains(" created, ") {
            summary = line;
        }
    }
    let status = child.wait().unwrap();
    let elapsed = start.elapsed();
    let stdout = stdout_reader.join().unwrap().unwrap_or_default();
    let results: serde_json::Value = serde_json::from_slice(&stdout).unwrap_or_default();
    let results = results.as_array().cloned().unwrap_or_default();
    let created = results.iter().filter(|r| r["result"] == "created").count();
    let retries: u64 = results
        .iter()
        .filter_map(|r| r["attempts"].as_u64())
        .map(|a| a.saturating_sub(1))
        .sum();

    // From an empty window the fastest schedule sends `limit` at once, then `limit` more each
    // time the window slides past a burst: the last row cannot go before this.
    let ideal = Duration::from_secs(u64::from((rows - 1) / limit) * window_s);
    let fraction = ideal.as_secs_f64() / elapsed.as_secs_f64();
    // Steady state: rows after the first burst, against the limit's rate.
    let steady = match (row_times.get(limit as usize - 1), row_times.last()) {
        (Some(first_burst), Some(last)) if rows > limit => {
            let rate = f64::from(rows - limit) / (*last - *first_burst).as_secs_f64();
            format!(
                "{rate:.2} req/s vs {:.2} allowed",
                f64::from(limit) / window_s as f64
            )
        }
        _ => "n/a".into(),
    };
    println!(
        "{label}import {rows} rows at {limit}/{window_s}s: exit {}, created {created}, wall {:.2} s, \
         ideal {:.0} s, fraction of the limit {fraction:.3}, retries (429s) {retries}, steady state {steady}",
        status.code().unwrap_or(-1),
        elapsed.as_secs_f64(),
        ideal.as_secs_f64(),
    );
    if !summary.is_empty() {
        println!("  cli summary: {summary}");
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing useful either.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let runs: usize = std::env::var("HELDQR_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    println!("heldqr CLI bench ({})", heldqr().display());

    let config = tempfile::tempdir().unwrap();
    let s = time_process(runs, || {
        let mut cmd = Command::new(heldqr());
        cmd.arg("--version").env("HELDQR_CONFIG_DIR", config.path());
        cmd
    });
    print_stats("heldqr --version", runs, &s);

    let mock = Mock::start(&[]);
    let created = mock
        .cli(config.path())
        .args([
            "codes",
            "create",
            "--target-url",
            "https://example.com/bench",
            "--shortcode",
            "bench-get",
        ])
        .output()
        .unwrap();
    assert!(created.status.success());
    let s = time_process(runs, || {
        let mut cmd = mock.cli(config.path());
        cmd.args(["codes", "get", "bench-get"]);
        cmd
    });
    print_stats("heldqr codes get (local mock)", runs, &s);
    let s = time_process(runs, || {
        let mut cmd = mock.cli(config.path());
        cmd.args(["codes", "get", "bench-get", "--json"]);
        cmd
    });
    print_stats("heldqr codes get --json", runs, &s);
    drop(mock);

    let scenarios =
        std::env::var("HELDQR_BENCH_IMPORTS").unwrap_or_else(|_| "120/10s:480,600/60s:1800".into());
    for scenario in scenarios.split(',').filter(|s| !s.trim().is_empty()) {
        let parsed = scenario.trim().split_once(':').and_then(|(rate, rows)| {
            let (limit, window) = rate.split_once('/')?;
            Some((
                limit.parse().ok()?,
                window.trim_end_matches('s').parse().ok()?,
                rows.parse().ok()?,
            ))
        });
        match parsed {
            Some((limit, window, rows)) if limit > 0 && rows > 0 => {
                import_scenario(&heldqr(), "", limit, window, rows);
                if let Some(baseline) = std::env::var_os("HELDQR_BENCH_BASELINE") {
                    import_scenario(&PathBuf::from(baseline), "baseline: ", limit, window, rows);
                }
            }
            _ => eprintln!("skipping {scenario:?}: expected LIMIT/WINDOWs:ROWS"),
        }
    }
}
