//! `--jq EXPR` on commands that print JSON, evaluated by jaq: raw strings one a line, a bad
//! expression exit 2 before anything is sent.

use crate::support::{Heldqr, Mock, PRO};

#[test]
fn jq_filters_every_json_command() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    // create: a string result is printed raw.
    let run = cli
        .run(&[
            "codes",
            "create",
            "--target-url",
            "https://example.com/jq",
            "--shortcode",
            "jq-one",
            "--jq",
            ".shortcode",
        ])
        .success();
    assert_eq!(run.stdout, "jq-one\n");
    cli.create(
        "https://example.com/jq2",
        &["--shortcode", "jq-two", "--label", "Two"],
    );

    // list: many strings, one a line; other values compact JSON; @tsv works.
    let run = cli
        .run(&["codes", "list", "--all", "--jq", ".[].shortcode"])
        .success();
    assert_eq!(run.stdout, "jq-one\njq-two\n");
    let run = cli.run(&["codes", "list", "--jq", "map(.label)"]).success();
    assert_eq!(run.stdout, "[null,\"Two\"]\n");
    let run = cli
        .run(&[
            "codes",
            "list",
            "--json",
            "--jq",
            ".[] | select(.label != null) | [.shortcode, .label] | @tsv",
        ])
        .success();
    assert_eq!(run.stdout, "jq-two\tTwo\n");
    // get, scans, api, auth status.
    let run = cli
        .run(&["codes", "get", "jq-two", "--jq", ".target_url"])
        .success();
    assert_eq!(run.stdout, "https://example.com/jq2\n");
    let run = cli
        .run(&["codes", "scans", "jq-two", "--jq", ".total_scans"])
        .success();
    assert_eq!(run.stdout, "0\n");
    let run = cli
        .run(&["api", "GET", "codes", "--jq", ".pagination.total"])
        .success();
    assert_eq!(run.stdout, "2\n");
    let run = cli.run(&["auth", "status", "--jq", ".valid"]).success();
    assert_eq!(run.stdout, "true\n");
    // --json-lines: the filter runs on each line.
    let run = cli
        .run(&[
            "codes",
            "list",
            "--all",
            "--json-lines",
            "--jq",
            ".shortcode",
        ])
        .success();
    assert_eq!(run.stdout, "jq-one\njq-two\n");
}

#[test]
fn a_bad_expression_is_a_usage_error_and_sends_nothing() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    for bad in [".[", "no_such_filter", "{a:"] {
        let run = cli
            .run(&[
                "codes",
                "create",
                "--target-url",
                "https://example.com/never",
                "--jq",
                bad,
            ])
            .fails(2, "usage");
        assert!(run.stdout.is_empty());
        assert!(
            run.stderr.contains("not a valid jq expression"),
            "{}",
            run.stderr
        );
    }
    let list = cli.run(&["codes", "list", "--json"]).success().json();
    assert_eq!(list.as_array().unwrap().len(), 0, "nothing was created");
}

#[test]
fn a_filter_failing_on_the_data_prints_nothing() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    cli.create("https://example.com/a", &[]);
    let run = cli.run(&["codes", "list", "--jq", ".[] | .shortcode | .x"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("--jq"), "{}", run.stderr);
}
