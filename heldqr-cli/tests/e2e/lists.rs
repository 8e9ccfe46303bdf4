//! `codes list --json-lines` streams; `--json` is one document or nothing.

use crate::support::{Capture, Heldqr, Mock, PRO};

fn code(shortcode: &str) -> String {
    format!(
        r#"{{"shortcode":"{shortcode}","target_url":"https://example.com/{shortcode}","label":null,"status":"active","scan_url":"https://heldqr.example/r/{shortcode}","created_at":"2026-05-15T14:21:03Z","updated_at":"2026-05-15T14:21:03Z"}}"#
    )
}

/// Page 1 of 3 answers; page 2 is a 404 (not retried): the list fails part-way.
fn failing_second_page() -> Capture {
    Capture::answering(|seen| {
        if seen.request.contains("page=2") {
            (
                404,
                r#"{"error":{"code":"not_found","message":"gone"}}"#.to_string(),
            )
        } else {
            (
                200,
                format!(
                    r#"{{"data":[{},{}],"pagination":{{"page":1,"page_size":2,"total":6,"total_pages":3}}}}"#,
                    code("aaa"),
                    code("bbb")
                ),
            )
        }
    })
}

#[test]
fn json_lines_streams_every_page() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    for i in 0..25 {
        let body = format!(r#"{{"target_url":"https://example.com/{i}"}}"#);
        let reply = mock.http(
            "POST",
            "/api/v1/codes",
            &[("Authorization", &format!("Bearer {PRO}"))],
            Some(&body),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    let run = cli
        .run(&["codes", "list", "--all", "--json-lines", "--page-size", "4"])
        .success();
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 25);
    for (i, code) in lines.iter().enumerate() {
        assert_eq!(code["target_url"], format!("https://example.com/{i}"));
    }
    // Without --all: one page, and stderr says there is more.
    let run = cli
        .run(&["codes", "list", "--json-lines", "--page-size", "10"])
        .success();
    assert_eq!(run.stdout.lines().count(), 10);
    assert!(run.stderr.contains("page 1 of 3"), "{}", run.stderr);
}

#[test]
fn a_failure_mid_list_keeps_printed_lines_and_fails() {
    let server = failing_second_page();
    let cli = Heldqr::bare()
        .env("HELDQR_BASE_URL", &server.base_url)
        .env("HELDQR_TOKEN", "hkr_test_x");
    let run = cli
        .run(&["codes", "list", "--all", "--json-lines"])
        .fails(4, "not_found");
    let shortcodes: Vec<String> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["shortcode"].to_string())
        .collect();
    assert_eq!(shortcodes, ["\"aaa\"", "\"bbb\""]);

    // --json: one complete document or nothing.
    let run = cli
        .run(&["codes", "list", "--all", "--json"])
        .fails(4, "not_found");
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}
