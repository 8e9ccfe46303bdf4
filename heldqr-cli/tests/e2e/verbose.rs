//! `-v`, `-vv` and `HELDQR_DEBUG`: a trace on stderr, never the token, stdout unchanged.

use crate::support::{Heldqr, Mock, PRO};

#[test]
fn verbose_writes_to_stderr_only_and_never_the_token() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    let quiet = cli.run(&["codes", "list", "--json"]).success();
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);

    for run in [
        cli.run(&["-v", "codes", "list", "--json"]),
        cli.run(&["codes", "list", "--json", "-vv"]),
        Heldqr::with_token(&mock, PRO)
            .env("HELDQR_DEBUG", "1")
            .run(&["codes", "list", "--json"]),
    ] {
        let run = run.success();
        assert_eq!(run.stdout, quiet.stdout);
        let settings = run
            .stderr
            .lines()
            .find(|l| l.contains(" settings "))
            .unwrap_or_else(|| panic!("no settings line:\n{}", run.stderr));
        assert!(settings.starts_with("* +"), "{settings}");
        assert!(
            settings.contains(&format!("host={}", mock.base_url)),
            "{settings}"
        );
        assert!(settings.contains("token=hkr_…pro"), "{settings}");
        assert!(!run.stderr.contains(PRO), "{}", run.stderr);
    }
}

/// The lines of `stderr` that contain every one of `parts`.
fn lines_with<'a>(stderr: &'a str, parts: &[&str]) -> Vec<&'a str> {
    stderr
        .lines()
        .filter(|line| parts.iter().all(|part| line.contains(part)))
        .collect()
}

/// `-v` on a create that meets 503s (a seeded fault generator): one line per attempt as it
/// happens, each with the method, the path and the idempotency key of its call, the status and
/// the attempt number; one line per wait with how long and why; the budget the answer stated.
#[test]
fn verbose_tells_every_attempt_and_wait_of_a_create_under_503s() {
    // Seed 7 at 0.6: the first create of a fresh mock meets two 503s, then succeeds.
    let mock = Mock::start_with(&["--fault-seed", "7", "--fault-503", "0.6"]);
    let cli = Heldqr::with_token(&mock, PRO);
    let run = cli
        .run(&[
            "-v",
            "codes",
            "create",
            "--target-url",
            "https://example.com/v",
            "--idempotency-key",
            "verbose-key-1",
            "--json",
        ])
        .success();
    assert_eq!(run.json()["target_url"], "https://example.com/v");
    let stderr = &run.stderr;
    let call = [
        "http.method=POST",
        "url.path=\"/api/v1/codes\"",
        "idempotency_key=\"verbose-key-1\"",
    ];
    let failed = lines_with(
        stderr,
        &[&["attempt failed", "http.status_code=503"], &call[..]].concat(),
    );
    assert!(!failed.is_empty(), "no 503 attempt line:\n{stderr}");
    let retries = lines_with(
        stderr,
        &[&["retrying", "reason=backoff", "delay_ms="], &call[..]].concat(),
    );
    assert_eq!(
        retries.len(),
        failed.len(),
        "one wait per failed attempt:\n{stderr}"
    );
    let n = failed.len() + 1;
    for attempt in 1..n {
        assert_eq!(
            lines_with(stderr, &["attempt failed", &format!("attempt={attempt} ")]).len(),
            1,
            "attempt {attempt}:\n{stderr}"
        );
    }
    let succeeded = lines_with(
        stderr,
        &[
            &[
                "attempt succeeded",
                &format!("attempt={n} "),
                "http.status_code=201",
                "rate_limit_remaining=",
            ],
            &call[..],
        ]
        .concat(),
    );
    assert_eq!(succeeded.len(), 1, "{stderr}");
    // Lines come as they happen: each attempt before its wait, the waits before the success.
    let position = |needle: &str| stderr.find(needle).unwrap();
    assert!(position("attempt=1 ") < position("retrying"));
    assert!(stderr.rfind("retrying").unwrap() < position("attempt succeeded"));
    assert!(!stderr.contains(PRO), "{stderr}");
}

/// A 429 burst: the wait is the server's Retry-After, and the line says so.
#[test]
fn verbose_names_retry_after_as_the_reason_for_a_429_wait() {
    // Seed 7 at 0.5:1: the first create of a fresh mock meets two 429s, then succeeds.
    let mock = Mock::start_with(&["--fault-seed", "7", "--fault-429-burst", "0.5:1"]);
    let cli = Heldqr::with_token(&mock, PRO);
    let run = cli
        .run(&[
            "codes",
            "create",
            "--target-url",
            "https://example.com/r",
            "-v",
        ])
        .success();
    let stderr = &run.stderr;
    let limited = lines_with(
        stderr,
        &[
            "attempt failed",
            "http.status_code=429",
            "rate_limit_remaining=",
        ],
    );
    assert!(!limited.is_empty(), "{stderr}");
    let waits = lines_with(stderr, &["retrying", "reason=Retry-After", "delay_ms=1000"]);
    assert_eq!(waits.len(), limited.len(), "{stderr}");
    assert_eq!(
        lines_with(stderr, &["attempt succeeded", "http.status_code=201"]).len(),
        1
    );
    assert!(!stderr.contains(PRO), "{stderr}");
}

/// `-vv`: the headers and bodies of each attempt too (the SDK's opt-in), the credential and the
/// token masked everywhere.
#[test]
fn very_verbose_adds_headers_and_bodies_never_the_token() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    let run = cli
        .run(&[
            "-vv",
            "codes",
            "create",
            "--target-url",
            "https://example.com/vv",
        ])
        .success();
    let stderr = &run.stderr;
    let request_headers = lines_with(stderr, &["headers", "direction=request"]);
    assert_eq!(request_headers.len(), 1, "{stderr}");
    assert!(request_headers[0].starts_with("> +"), "{stderr}");
    assert!(
        request_headers[0].contains("authorization: [redacted]"),
        "{stderr}"
    );
    assert!(request_headers[0].contains("idempotency-key: "), "{stderr}");
    assert_eq!(
        lines_with(
            stderr,
            &["headers", "direction=response", "x-ratelimit-remaining: "]
        )
        .len(),
        1,
        "{stderr}"
    );
    assert_eq!(
        lines_with(
            stderr,
            &["body", "direction=request", "https://example.com/vv"]
        )
        .len(),
        1,
        "{stderr}"
    );
    assert_eq!(
        lines_with(stderr, &["body", "direction=response", "shortcode"]).len(),
        1,
        "{stderr}"
    );
    assert!(!stderr.contains(PRO), "{stderr}");

    // -v alone: no headers, no bodies.
    let run = cli
        .run(&[
            "-v",
            "codes",
            "create",
            "--target-url",
            "https://example.com/v1",
        ])
        .success();
    assert!(
        lines_with(&run.stderr, &["direction="]).is_empty(),
        "{}",
        run.stderr
    );
}

/// `--timeout 1` against a server that takes 3 s: the error says how many attempts were made,
/// as many as `-v` showed, in the text and in an import's JSON results.
#[test]
fn a_timeout_after_retries_says_how_many_attempts() {
    let mock = Mock::start_with(&["--fault-latency", "1:3000"]);
    let cli = Heldqr::with_token(&mock, PRO);
    let run = cli
        .run(&[
            "-v",
            "--timeout",
            "1",
            "codes",
            "create",
            "--target-url",
            "https://example.com/t",
        ])
        .fails(8, "timeout");
    let attempts = lines_with(&run.stderr, &["attempt failed"]).len();
    assert!(attempts > 1, "{}", run.stderr);
    let error = run
        .stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line:\n{}", run.stderr));
    assert_eq!(
        error,
        format!("error: the API did not answer in time after {attempts} attempts (timeout)")
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slow.csv");
    std::fs::write(&file, "target_url\nhttps://example.com/slow\n").unwrap();
    let run = cli.run(&[
        "--timeout",
        "1",
        "codes",
        "import",
        file.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(run.code, 8, "{}", run.stderr);
    let rows = run.json();
    let row = &rows[0];
    assert_eq!(row["attempts"], attempts, "{row}");
    let message = row["error"]["message"].as_str().unwrap();
    assert!(
        message.ends_with(&format!("after {attempts} attempts")),
        "{row}"
    );
    assert!(
        run.stderr
            .contains(&format!("after {attempts} attempts (timeout)")),
        "{}",
        run.stderr
    );
}

/// An import past the rate limit: `-v` shows the pacing wait, how long and why, inside the call
/// of the row that waited, and each attempt's budget left.
#[test]
fn verbose_shows_pacing_waits_with_their_reason() {
    let mock = Mock::start_with(&["--rate-limit", "2/2s"]);
    let cli = Heldqr::with_token(&mock, PRO);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("paced.csv");
    std::fs::write(
        &file,
        "target_url\nhttps://example.com/1\nhttps://example.com/2\nhttps://example.com/3\n",
    )
    .unwrap();
    let run = cli
        .run(&["-v", "codes", "import", file.to_str().unwrap()])
        .success();
    let stderr = &run.stderr;
    let waits = lines_with(
        stderr,
        &[
            "waiting for the rate-limit budget",
            "wait_ms=",
            "reason=",
            "url.path=\"/api/v1/codes\"",
        ],
    );
    assert!(!waits.is_empty(), "{stderr}");
    assert!(
        !lines_with(stderr, &["attempt succeeded", "rate_limit_remaining=0"]).is_empty(),
        "{stderr}"
    );
    assert!(!stderr.contains(PRO), "{stderr}");
}
