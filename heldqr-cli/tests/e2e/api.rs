//! `heldqr api`: raw requests with the same auth, idempotency and errors.

use crate::support::{Heldqr, Mock, PRO};

#[test]
fn raw_get_post_patch() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);

    let created = cli
        .run(&[
            "api",
            "POST",
            "codes",
            "--data",
            r#"{"target_url": "https://example.com/raw", "shortcode": "raw-one"}"#,
        ])
        .success()
        .json();
    assert_eq!(created["data"]["shortcode"], "raw-one");

    // Body from a file and from stdin.
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("patch.json");
    std::fs::write(&body, r#"{"label": "from a file"}"#).unwrap();
    let patched = cli
        .run(&[
            "api",
            "PATCH",
            "codes/raw-one",
            "--data",
            &format!("@{}", body.display()),
        ])
        .success()
        .json();
    assert_eq!(patched["data"]["label"], "from a file");
    let patched = cli
        .run_with_stdin(
            &["api", "patch", "/api/v1/codes/raw-one", "--data", "-"],
            r#"{"label": null}"#,
        )
        .success()
        .json();
    assert!(patched["data"]["label"].is_null());

    // Query parameters; the whole body (envelope included) is printed.
    let page = cli
        .run(&["api", "GET", "codes", "-q", "page_size=1", "-q", "page=1"])
        .success()
        .json();
    assert_eq!(page["pagination"]["page_size"], 1);
    assert_eq!(page["data"][0]["shortcode"], "raw-one");
}

#[test]
fn raw_post_replays_with_the_same_key() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    let args = [
        "api",
        "POST",
        "codes",
        "--data",
        r#"{"target_url": "https://example.com/k"}"#,
        "--idempotency-key",
        "raw-key-1",
        "--include",
    ];
    let first = cli.run(&args).success();
    let second = cli.run(&args).success();
    assert_eq!(first.json(), second.json());
    assert!(!first.stderr.contains("idempotent-replay"));
    assert!(
        second.stderr.contains("idempotent-replay: true"),
        "{}",
        second.stderr
    );
    assert!(second.stderr.contains("HTTP 201"));
}

#[test]
fn raw_errors_use_the_usual_exit_codes() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    cli.run(&["api", "GET", "codes/nope"]).fails(4, "not_found");
    cli.run(&["api", "DELETE", "codes/nope"])
        .fails(5, "method_not_allowed");
    cli.run(&["api", "POST", "codes", "--data", r#"{"target_url": 3}"#])
        .fails(5, "validation_failed");
    cli.run(&["api", "GET", "codes", "--data", "{oops"])
        .fails(2, "usage");
    cli.run(&["api", "GET", "codes", "-q", "novalue"])
        .fails(2, "usage");
    cli.run(&["api", "GET", "https://elsewhere.example/api/v1/codes"])
        .fails(2, "usage");
    cli.run(&["api", "G E T", "codes"]).fails(2, "usage");
    cli.run(&["api", "GET", "codes", "-q", "page_size=500"])
        .fails(5, "invalid_parameter");
}
