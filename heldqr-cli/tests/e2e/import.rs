//! `codes import`: per-row results, failures (exit 9), and re-runs after a failure, a crash or
//! Ctrl-C creating nothing twice.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::support::{Heldqr, Mock, PRO, Run};

fn write_csv(dir: &Path, name: &str, rows: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let mut text = String::from("target_url,label,shortcode\n");
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// How many codes point at each target URL.
fn targets(cli: &Heldqr) -> BTreeMap<String, usize> {
    let all = cli
        .run(&["codes", "list", "--all", "--json"])
        .success()
        .json();
    let mut counts = BTreeMap::new();
    for code in all.as_array().unwrap() {
        *counts
            .entry(code["target_url"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    counts
}

fn results(run: &Run) -> Vec<(u64, String)> {
    run.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["row"].as_u64().unwrap(),
                r["result"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn numbered_rows(prefix: &str, n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| format!("https://example.com/{prefix}/{i},row {i},"))
        .collect()
}

/// `PREFIX.csv` in `dir` with `n` numbered rows; returns its path as text.
fn numbered_csv(dir: &Path, prefix: &str, n: usize) -> String {
    let rows = numbered_rows(prefix, n);
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let file = write_csv(dir, &format!("{prefix}.csv"), &rows);
    file.to_str().unwrap().to_string()
}

#[test]
fn import_then_rerun_skips_everything_without_a_request() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    let dir = tempfile::tempdir().unwrap();
    let file = write_csv(
        dir.path(),
        "codes.csv",
        &[
            "https://example.com/menu,Restaurant menu,menu-v3",
            "https://example.com/wifi,,",
            // Two identical rows are two codes.
            "https://example.com/twice,,",
            "https://example.com/twice,,",
        ],
    );
    let file = file.to_str().unwrap();

    let first = cli.run(&["codes", "import", file, "--json"]).success();
    assert_eq!(
        results(&first),
        [
            (1, "created"),
            (2, "created"),
            (3, "created"),
            (4, "created")
        ]
        .map(|(r, s)| (r, s.to_string()))
    );
    let json = first.json();
    assert_eq!(json[0]["code"]["shortcode"], "menu-v3");
    assert_eq!(json[0]["code"]["label"], "Restaurant menu");
    assert!(json[1]["code"]["label"].is_null());
    assert!(
        first
            .stderr
            .contains("4 created, 0 replayed, 0 skipped (already imported), 0 failed"),
        "{}",
        first.stderr
    );

    let second = cli.run(&["codes", "import", file, "--json"]).success();
    assert!(
        results(&second).iter().all(|(_, r)| r == "skipped"),
        "{}",
        second.stdout
    );
    // Skipped rows are listed with their shortcodes and when they were created.
    let skipped = second.json();
    for (before, now) in json
        .as_array()
        .unwrap()
        .iter()
        .zip(skipped.as_array().unwrap())
    {
        assert_eq!(
            now["already_imported"]["shortcode"],
            before["code"]["shortcode"]
        );
        assert_eq!(
            now["already_imported"]["created_at"],
            before["code"]["created_at"]
        );
        assert_eq!(now["already_imported"]["file"], "codes.csv");
    }
    assert!(
        second
            .stderr
            .contains("row 1: skipped: already imported as menu-v3 at "),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains("0 created, 0 replayed, 4 skipped"),
        "{}",
        second.stderr
    );

    let counts = targets(&cli);
    assert_eq!(counts["https://example.com/menu"], 1);
    assert_eq!(counts["https://example.com/wifi"], 1);
    assert_eq!(counts["https://example.com/twice"], 2);
    assert_eq!(counts.len(), 3);
}

#[test]
fn failed_rows_exit_9_and_a_fixed_file_creates_only_what_is_missing() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    cli.create(
        "https://example.com/existing",
        &["--shortcode", "taken-code"],
    );
    let dir = tempfile::tempdir().unwrap();
    let rows = [
        "https://example.com/1,one,",
        "not a url,two,",
        "https://example.com/3,three,taken-code",
        "https://example.com/4,four,",
    ];
    let file = write_csv(dir.path(), "batch.csv", &rows);
    let file = file.to_str().unwrap();

    let run = cli
        .run(&["codes", "import", file])
        .fails(9, "import_rows_failed");
    assert!(run.stderr.contains("rows 2, 3"), "{}", run.stderr);
    assert!(
        run.stderr.contains("row 2 (line 3): failed"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("row 2 (line 3): failed: ") && l.contains(": target_url: ")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("shortcode_taken"), "{}", run.stderr);
    // Piped stdout: one tab-separated result line per row.
    let lines: Vec<Vec<&str>> = run
        .stdout
        .lines()
        .map(|l| l.split('\t').collect())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0][1], "created");
    assert_eq!(lines[1][1], "failed");
    assert!(lines[1][3].contains("target_url"), "{:?}", lines[1]);

    // Fix the two rows and run again: 1 and 4 are skipped, the fixed rows are created.
    let fixed = [
        rows[0],
        "https://example.com/2,two,",
        "https://example.com/3,three,free-code",
        rows[3],
    ];
    write_csv(dir.path(), "batch.csv", &fixed);
    let rerun = cli.run(&["codes", "import", file, "--json"]).success();
    assert_eq!(
        results(&rerun),
        [
            (1, "skipped"),
            (2, "created"),
            (3, "created"),
            (4, "skipped")
        ]
        .map(|(r, s)| (r, s.to_string()))
    );
    let counts = targets(&cli);
    for target in ["1", "2", "3", "4"] {
        assert_eq!(
            counts[&format!("https://example.com/{target}")],
            1,
            "{counts:?}"
        );
    }
}

#[test]
fn a_malformed_file_creates_nothing() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    std::fs::write(
        &path,
        "target_url,label\nhttps://example.com/ok,fine\nhttps://example.com/x,too,many\n",
    )
    .unwrap();
    let run = cli
        .run(&["codes", "import", path.to_str().unwrap()])
        .fails(2, "usage");
    assert!(run.stderr.contains("line 3"), "{}", run.stderr);
    assert!(targets(&cli).is_empty());

    std::fs::write(&path, "url,label\nhttps://example.com/ok,fine\n").unwrap();
    cli.run(&["codes", "import", path.to_str().unwrap()])
        .fails(2, "usage");
    cli.run(&["codes", "import", "/nonexistent/codes.csv"])
        .fails(2, "usage");
    assert!(targets(&cli).is_empty());
}

#[test]
fn dry_run_shows_the_keys_and_sends_nothing() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    let dir = tempfile::tempdir().unwrap();
    let file = write_csv(
        dir.path(),
        "plan.csv",
        &["https://example.com/a,,", "https://example.com/b,,"],
    );
    let file = file.to_str().unwrap();
    let plan = cli
        .run(&["codes", "import", file, "--dry-run", "--json"])
        .success()
        .json();
    assert_eq!(plan.as_array().unwrap().len(), 2);
    let key = plan[0]["idempotency_key"].as_str().unwrap().to_string();
    assert!(targets(&cli).is_empty());
    // The real run uses the keys the dry run showed.
    let run = cli
        .run(&["codes", "import", file, "--json"])
        .success()
        .json();
    assert_eq!(run[0]["idempotency_key"], key);
    // A moved (or copied) file keeps its keys; --batch-id gives the rows new ones.
    let keys = |path: &Path, batch: Option<&str>| -> Vec<String> {
        let mut args = vec![
            "codes",
            "import",
            path.to_str().unwrap(),
            "--dry-run",
            "--json",
        ];
        if let Some(batch) = batch {
            args.extend(["--batch-id", batch]);
        }
        cli.run(&args)
            .success()
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["idempotency_key"].as_str().unwrap().to_string())
            .collect()
    };
    let copy = dir.path().join("copy.csv");
    std::fs::copy(file, &copy).unwrap();
    assert_eq!(keys(Path::new(file), None), keys(&copy, None));
    assert_eq!(
        keys(Path::new(file), Some("spring")),
        keys(&copy, Some("spring"))
    );
    assert_ne!(keys(Path::new(file), None), keys(&copy, Some("spring")));
}

#[test]
fn a_file_piped_on_standard_input_imports_exactly_once() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    let csv = "target_url,label,shortcode\nhttps://example.com/piped-1,,\nhttps://example.com/piped-2,,\n";
    let run = cli.run_with_stdin(&["codes", "import", "-", "--json"], csv);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("from standard input"), "{}", run.stderr);
    assert_eq!(
        results(&run),
        [(1, "created"), (2, "created")].map(|(r, s)| (r, s.to_string()))
    );
    // The same rows piped again are the same rows.
    let run = cli.run_with_stdin(&["codes", "import", "-", "--json"], csv);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        results(&run),
        [(1, "skipped"), (2, "skipped")].map(|(r, s)| (r, s.to_string()))
    );
    let run = cli.run_with_stdin(&["codes", "import", "-"], "");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("standard input: the file is empty"),
        "{}",
        run.stderr
    );
}

#[test]
fn dry_run_names_the_rows_the_file_alone_dooms() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    let dir = tempfile::tempdir().unwrap();
    let file = write_csv(
        dir.path(),
        "doomed.csv",
        &[
            "https://example.com/a,,spring-a",
            ",no url,",
            "https://example.com/b,,spring-a",
            "https://example.com/c,,",
        ],
    );
    let file = file.to_str().unwrap();
    let run = cli
        .run(&["codes", "import", file, "--dry-run", "--json"])
        .fails(2, "usage");
    assert!(
        run.stderr
            .contains("rows 2, 3 of the file cannot be created"),
        "{}",
        run.stderr
    );
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let plans: Vec<(&str, Option<&str>)> = plan
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["plan"].as_str().unwrap(), r["problem"].as_str()))
        .collect();
    assert_eq!(
        plans,
        [
            ("send", None),
            ("fails", Some("target_url is empty")),
            ("fails", Some("shortcode spring-a is also on row 1")),
            ("send", None),
        ]
    );
    assert!(targets(&cli).is_empty());
    // The table says the same, in words.
    let run = cli
        .run(&["codes", "import", file, "--dry-run"])
        .fails(2, "usage");
    assert!(
        run.stdout.contains("fails: target_url is empty"),
        "{}",
        run.stdout
    );
}

/// Starts an import whose rows are paced (3 requests per 3 s), waits until stderr reports the
/// first row, then lets `interrupt` stop it. Returns the finished first run.
fn interrupted_import(
    cli: &Heldqr,
    file: &str,
    interrupt: impl FnOnce(u32),
) -> (i32, String, String) {
    interrupted_at(cli, &["codes", "import", file], "row 1: created", interrupt)
}

/// Runs `args`, waits until a line of stderr starts with `until`, then lets `interrupt` stop
/// it. Returns the exit code, stdout and stderr.
fn interrupted_at(
    cli: &Heldqr,
    args: &[&str],
    until: &str,
    interrupt: impl FnOnce(u32),
) -> (i32, String, String) {
    let mut child = cli
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut reader = BufReader::new(stderr);
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).unwrap();
        assert!(n > 0, "import ended before {until:?}:\n{seen}");
        seen.push_str(&line);
        if line.starts_with(until) {
            break;
        }
    }
    interrupt(child.id());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
    seen.push_str(&rest);
    let output = child.wait_with_output().unwrap();
    let code = output.status.code().unwrap_or(-1);
    (
        code,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        seen,
    )
}

#[cfg(unix)]
fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_cleanly_and_a_rerun_finishes_without_duplicates() {
    let mock = Mock::start_with(&["--rate-limit", "3/3s"]);
    let cli = Heldqr::with_token(&mock, PRO);
    let dir = tempfile::tempdir().unwrap();
    let file = numbered_csv(dir.path(), "int", 8);
    let file = file.as_str();

    let (code, _stdout, stderr) = interrupted_import(&cli, file, |pid| signal(pid, "INT"));
    assert_eq!(code, 130, "{stderr}");
    assert!(stderr.contains("not done"), "{stderr}");
    assert!(stderr.contains("run the same command again"), "{stderr}");
    let done_first = stderr.matches(": created ").count();
    assert!(done_first >= 1, "{stderr}");
    assert!(
        stderr.contains("error: stopped by Ctrl-C (interrupted)"),
        "{stderr}"
    );

    // The re-run sends only the rows not done: the ones the first run created are skipped
    // without a request (none is even replayed).
    let rerun = cli.run(&["codes", "import", file, "--json"]).success();
    let results = results(&rerun);
    let count = |what: &str| results.iter().filter(|(_, r)| r == what).count();
    assert_eq!(count("skipped"), done_first, "{}", rerun.stdout);
    assert_eq!(count("replayed"), 0, "{}", rerun.stdout);
    assert_eq!(count("created"), 8 - done_first, "{}", rerun.stdout);
    let counts = targets(&cli);
    assert_eq!(counts.len(), 8, "{counts:?}");
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_while_a_row_waits_for_the_rate_limit_stops_at_once_with_it_not_sent() {
    // One create a minute: the second row waits for the budget (the import lets the pacer
    // wait a whole window), and a Ctrl-C then must not wait it out and send the row.
    let mock = Mock::start_with(&["--rate-limit", "1/60s"]);
    let cli = Heldqr::with_token(&mock, PRO);
    let dir = tempfile::tempdir().unwrap();
    let file = numbered_csv(dir.path(), "wait", 3);
    let file = file.as_str();

    let (code, stdout, stderr) = interrupted_at(
        &cli,
        &["codes", "import", file, "--json"],
        "waiting ",
        |pid| signal(pid, "INT"),
    );
    assert_eq!(code, 130, "{stderr}");
    assert!(stderr.contains("Ctrl-C: stopping before row 2"), "{stderr}");
    assert!(
        stderr.contains("row 2: not attempted (a re-run sends it)"),
        "{stderr}"
    );
    let results: Vec<String> = serde_json::from_str::<serde_json::Value>(&stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["result"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        results,
        ["created", "not_attempted", "not_attempted"],
        "{stdout}"
    );
    // The mock's journal: one create reached it (listing the codes would wait for the budget).
    let journal = mock.http(
        "GET",
        "/_mock/requests?method=POST&path=/api/v1/codes",
        &[],
        None,
    );
    let journal: serde_json::Value = serde_json::from_str(&journal.body).unwrap();
    assert_eq!(journal["data"].as_array().unwrap().len(), 1, "{journal}");
}

#[cfg(unix)]
#[test]
fn a_crash_part_way_then_a_rerun_creates_each_row_once() {
    let mock = Mock::start_with(&["--rate-limit", "3/3s"]);
    let cli = Heldqr::with_token(&mock, PRO);
    let dir = tempfile::tempdir().unwrap();
    let file = numbered_csv(dir.path(), "crash", 8);
    let file = file.as_str();

    // SIGKILL: no chance to print a summary, exactly like a crash or a lost machine.
    let (code, _, _) = interrupted_import(&cli, file, |pid| signal(pid, "KILL"));
    assert_ne!(code, 0);
    let created_before = targets(&cli).len();
    assert!(created_before >= 1);

    let rerun = cli.run(&["codes", "import", file, "--json"]).success();
    // What the killed run finished is skipped (in the ledger) or, for a row killed between
    // the API's answer and the ledger write, replayed by its key: never created twice.
    let done_before = results(&rerun)
        .iter()
        .filter(|(_, r)| r == "replayed" || r == "skipped")
        .count();
    assert_eq!(done_before, created_before, "{}", rerun.stdout);
    let counts = targets(&cli);
    assert_eq!(counts.len(), 8, "{counts:?}");
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
}

#[test]
fn a_rejected_token_stops_the_import_at_the_first_row() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, "hkr_not_valid");
    let dir = tempfile::tempdir().unwrap();
    let file = write_csv(
        dir.path(),
        "a.csv",
        &["https://example.com/1,,", "https://example.com/2,,"],
    );
    let run = cli
        .run(&["codes", "import", file.to_str().unwrap(), "--json"])
        .fails(3, "unauthorized");
    assert_eq!(
        results(&run),
        [(1, "not_attempted"), (2, "not_attempted")].map(|(r, s)| (r, s.to_string()))
    );
}

/// A row whose every attempt was refused without being processed (all 429s, or a connection
/// never made) was not created: `not_attempted`, not `unknown`.
#[test]
fn a_row_every_attempt_of_which_was_refused_is_not_attempted() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_csv(
        dir.path(),
        "a.csv",
        &["https://example.com/1,,", "https://example.com/2,,"],
    );
    let file = file.to_str().unwrap();
    let not_attempted =
        [(1, "not_attempted"), (2, "not_attempted")].map(|(r, s)| (r, s.to_string()));

    // Every request rate-limited (a 429 burst longer than the retries).
    let mock = Mock::start_with(&["--fault-seed", "1", "--fault-429-burst", "1:50"]);
    let run = Heldqr::with_token(&mock, PRO)
        .run(&["codes", "import", file, "--json"])
        .fails(7, "rate_limited");
    assert_eq!(results(&run), not_attempted, "{}", run.stdout);

    // Nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let run = Heldqr::bare()
        .env("HELDQR_BASE_URL", &base)
        .env("HELDQR_TOKEN", PRO)
        .run(&["codes", "import", file, "--json"])
        .fails(8, "network");
    assert_eq!(results(&run), not_attempted, "{}", run.stdout);
}
