//! Imports stay exactly-once through the local ledger: after the server's 24-hour key window,
//! for a moved or copied file, per host and account, for a row shared with another file, and
//! `--new-batch` as the deliberate way to create rows again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::{FREE, Heldqr, Mock, PRO, Run};

fn write_csv(dir: &Path, name: &str, rows: &[String]) -> PathBuf {
    let path = dir.join(name);
    let mut text = String::from("target_url,label\n");
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn rows(prefix: &str, range: std::ops::RangeInclusive<usize>) -> Vec<String> {
    range
        .map(|i| format!("https://example.com/{prefix}/{i},row {i}"))
        .collect()
}

fn outcomes(run: &Run) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in run.json().as_array().unwrap() {
        *counts
            .entry(r["result"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    counts
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// How many codes the account has, and how many target URLs are duplicated.
fn codes_and_duplicates(cli: &Heldqr, base_url: &str) -> (usize, usize) {
    let all = cli
        .run(&["--base-url", base_url, "codes", "list", "--all", "--json"])
        .success()
        .json();
    let mut per_target: BTreeMap<String, usize> = BTreeMap::new();
    for code in all.as_array().unwrap() {
        *per_target
            .entry(code["target_url"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    (
        all.as_array().unwrap().len(),
        per_target.values().filter(|&&n| n > 1).count(),
    )
}

fn import(cli: &Heldqr, file: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["codes", "import", file.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    cli.run(&args)
}

#[test]
fn a_rerun_after_the_key_window_creates_nothing() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    let dir = tempfile::tempdir().unwrap();
    let file = write_csv(dir.path(), "codes.csv", &rows("day", 1..=6));
    let first = import(&cli, &file, &[]).success();
    assert_eq!(outcomes(&first), counts(&[("created", 6)]));

    // 25 hours later on the mock's clock: the server has forgotten every key.
    let reply = mock.http(
        "POST",
        "/_mock/clock/advance",
        &[],
        Some(r#"{"seconds": 90000}"#),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);

    let rerun = import(&cli, &file, &[]).success();
    assert_eq!(outcomes(&rerun), counts(&[("skipped", 6)]));
    assert_eq!(codes_and_duplicates(&cli, &mock.base_url), (6, 0));

    // The ledger is what held: without it (another machine, a wiped state dir) the keys have
    // expired and the same file creates every row again.
    let elsewhere = Heldqr::with_token(&mock, PRO);
    let again = import(&elsewhere, &file, &[]).success();
    assert_eq!(outcomes(&again), counts(&[("created", 6)]));
    assert_eq!(codes_and_duplicates(&cli, &mock.base_url), (12, 6));
}

#[test]
fn a_moved_renamed_or_copied_file_creates_nothing() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    let dir = tempfile::tempdir().unwrap();
    let file = write_csv(dir.path(), "codes.csv", &rows("moved", 1..=30));
    let first = import(&cli, &file, &[]).success();
    assert_eq!(outcomes(&first), counts(&[("created", 30)]));

    let other = tempfile::tempdir().unwrap();
    let moved = other.path().join("renamed.csv");
    std::fs::rename(&file, &moved).unwrap();
    let run = import(&cli, &moved, &[]).success();
    assert_eq!(outcomes(&run), counts(&[("skipped", 30)]));

    let copy = other.path().join("copy of renamed.csv");
    std::fs::copy(&moved, &copy).unwrap();
    let run = import(&cli, &copy, &[]).success();
    assert_eq!(outcomes(&run), counts(&[("skipped", 30)]));
    assert_eq!(codes_and_duplicates(&cli, &mock.base_url), (30, 0));
}

#[test]
fn the_ledger_is_per_host_and_per_account() {
    let first_host = Mock::start();
    let second_host = Mock::start();
    let cli = Heldqr::with_token(&first_host, PRO);
    let dir = tempfile::tempdir().unwrap();
    let file = write_csv(dir.path(), "codes.csv", &rows("host", 1..=4));

    let run = import(&cli, &file, &[]).success();
    assert_eq!(outcomes(&run), counts(&[("created", 4)]));
    // Same token, same state dir, another host: nothing there yet, so every row is created.
    let run = import(&cli, &file, &["--base-url", &second_host.base_url]).success();
    assert_eq!(outcomes(&run), counts(&[("created", 4)]));
    assert_eq!(codes_and_duplicates(&cli, &second_host.base_url), (4, 0));
    // Each host's ledger now has the rows.
    for host in [&first_host.base_url, &second_host.base_url] {
        let run = import(&cli, &file, &["--base-url", host]).success();
        assert_eq!(outcomes(&run), counts(&[("skipped", 4)]), "{host}");
    }
    // Another account on the first host has its own ledger (and its own codes).
    let run = import(&cli, &file, &["--token", FREE]).success();
    assert_eq!(outcomes(&run), counts(&[("created", 4)]));
    let ledgers: Vec<_> = walk(cli.state_dir());
    assert_eq!(ledgers.len(), 3, "{ledgers:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// A different file that shares a row with an earlier import: the row is the same row (its
/// identity is its content), so it is skipped, listed with the shortcode it got from the first
/// file, and the summary says why; `--new-batch` creates it again on purpose.
#[test]
fn a_row_shared_with_another_file_is_skipped_and_said() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    let dir = tempfile::tempdir().unwrap();
    let shared = "https://example.com/shared,Shared".to_string();
    let first = write_csv(
        dir.path(),
        "spring.csv",
        &[
            "https://example.com/only-spring,A".to_string(),
            shared.clone(),
        ],
    );
    let second = write_csv(
        dir.path(),
        "summer.csv",
        &[
            shared.clone(),
            "https://example.com/only-summer,B".to_string(),
        ],
    );
    let run = import(&cli, &first, &[]).success();
    let spring = run.json();
    let shared_code = spring[1]["code"]["shortcode"].as_str().unwrap().to_string();

    let run = import(&cli, &second, &[]).success();
    let summer = run.json();
    assert_eq!(summer[0]["result"], "skipped");
    assert_eq!(summer[0]["already_imported"]["shortcode"], shared_code);
    assert_eq!(summer[0]["already_imported"]["file"], "spring.csv");
    assert_eq!(summer[1]["result"], "created");
    assert!(
        run.stderr.contains(&format!(
            "row 1: skipped: already imported as {shared_code}"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("another file with the same row"),
        "{}",
        run.stderr
    );
    assert_eq!(codes_and_duplicates(&cli, &mock.base_url), (3, 0));

    // A deliberate new batch creates every row again, and re-running it stays exactly-once.
    let run = import(&cli, &second, &["--new-batch"]).success();
    assert_eq!(outcomes(&run), counts(&[("created", 2)]));
    let batch = run
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("New batch "))
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("no batch id in:\n{}", run.stderr))
        .to_string();
    let run = import(&cli, &second, &["--batch-id", &batch]).success();
    assert_eq!(outcomes(&run), counts(&[("skipped", 2)]));
    assert_eq!(codes_and_duplicates(&cli, &mock.base_url), (5, 2));
}

/// A file imported only as a batch, then run plainly: the plain run is outside that batch,
/// so it creates the rows again, but says so first and names the batch to resume instead.
#[test]
fn a_plain_run_after_a_batch_names_the_batch_it_is_not_resuming() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    let dir = tempfile::tempdir().unwrap();
    let file = write_csv(dir.path(), "week.csv", &rows("week", 1..=2));
    let run = import(&cli, &file, &["--batch-id", "week-48"]).success();
    assert_eq!(outcomes(&run), counts(&[("created", 2)]));
    write_csv(dir.path(), "week.csv", &rows("week", 1..=3));
    // A dry run says it too.
    let run = import(&cli, &file, &["--dry-run"]).success();
    assert!(
        run.stderr
            .contains("rows 1, 2 were imported before in batch week-48"),
        "{}",
        run.stderr
    );
    let run = import(&cli, &file, &[]).success();
    assert!(
        run.stderr.contains(
            "rows 1, 2 were imported before in batch week-48; this run, outside that batch, \
             creates them again (to resume the batch instead: --batch-id week-48)"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(outcomes(&run), counts(&[("created", 3)]));
    // Resuming the batch instead creates only the new row.
    let run = import(&cli, &file, &["--batch-id", "week-48"]).success();
    assert_eq!(outcomes(&run), counts(&[("created", 1), ("skipped", 2)]));
    assert!(
        !run.stderr.contains("imported before in batch"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_dry_run_says_which_rows_would_be_skipped() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    let dir = tempfile::tempdir().unwrap();
    let file = write_csv(dir.path(), "a.csv", &rows("dry", 1..=2));
    import(&cli, &file, &[]).success();
    write_csv(dir.path(), "a.csv", &rows("dry", 1..=3));
    let plan = import(&cli, &file, &["--dry-run"]).success().json();
    let skipped: Vec<bool> = plan
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.get("already_imported").is_some())
        .collect();
    assert_eq!(skipped, [true, true, false]);
}

/// The ledger cannot be read (its directory is a file): the import refuses to start, so it
/// never creates rows it could not remember.
#[test]
fn an_unusable_ledger_sends_nothing() {
    let mock = Mock::start();
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("state-is-a-file");
    std::fs::write(&not_a_dir, "").unwrap();
    let broken =
        Heldqr::with_token(&mock, PRO).env("HELDQR_STATE_DIR", not_a_dir.to_str().unwrap());
    let file = write_csv(dir.path(), "codes.csv", &rows("unusable", 1..=3));
    let run = import(&broken, &file, &[]).fails(1, "io");
    assert!(run.stderr.contains("import ledger"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert_eq!(codes_and_duplicates(&broken, &mock.base_url), (0, 0));
}
