//! `heldqr api`: raw requests with the same auth, idempotency and errors.

use crate::support::{Capture, Heldqr, Mock, PRO};

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
    // curl's @- and gh's --input, from stdin and from a file.
    let patched = cli
        .run_with_stdin(
            &["api", "PATCH", "api/v1/codes/raw-one", "--data", "@-"],
            r#"{"label": "at-dash"}"#,
        )
        .success()
        .json();
    assert_eq!(patched["data"]["label"], "at-dash");
    let patched = cli
        .run_with_stdin(
            &["api", "PATCH", "codes/raw-one", "--input", "-"],
            r#"{"label": "input-dash"}"#,
        )
        .success()
        .json();
    assert_eq!(patched["data"]["label"], "input-dash");
    std::fs::write(&body, r#"{"label": "input-file"}"#).unwrap();
    let patched = cli
        .run(&[
            "api",
            "PATCH",
            "codes/raw-one",
            "--input",
            body.to_str().unwrap(),
        ])
        .success()
        .json();
    assert_eq!(patched["data"]["label"], "input-file");
    // The three path forms are one path; a lone path is a GET.
    for path in [
        "codes/raw-one",
        "api/v1/codes/raw-one",
        "/api/v1/codes/raw-one",
    ] {
        let got = cli.run(&["api", path]).success().json();
        assert_eq!(got["data"]["label"], "input-file", "{path}");
    }

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
    // -i: status line and headers on stdout, a blank line, then the body.
    let split = |stdout: &str| -> (String, serde_json::Value) {
        let (head, body) = stdout
            .split_once("\n\n")
            .expect("a blank line after the headers");
        (head.to_string(), serde_json::from_str(body).unwrap())
    };
    let (head1, body1) = split(&first.stdout);
    let (head2, body2) = split(&second.stdout);
    assert_eq!(body1, body2);
    assert!(head1.starts_with("HTTP/1.1 201 Created\n"), "{head1}");
    // Every header as received (names in canonical case), never the credential.
    let lower1 = head1.to_ascii_lowercase();
    let lower2 = head2.to_ascii_lowercase();
    assert!(lower1.contains("\nx-ratelimit-limit: "), "{head1}");
    assert!(lower1.contains("\nx-ratelimit-remaining: "), "{head1}");
    assert!(
        lower1.contains("\ncontent-type: application/json"),
        "{head1}"
    );
    assert!(lower1.contains("\nx-request-id: "), "{head1}");
    assert!(!lower1.contains("idempotent-replay: true"), "{head1}");
    assert!(lower2.contains("\nidempotent-replay: true"), "{head2}");
    for head in [&lower1, &lower2] {
        assert!(!head.contains("authorization"), "{head}");
        assert!(!head.contains(&PRO.to_ascii_lowercase()), "{head}");
    }
}

/// `--data`, `--data @FILE`, `--data @-` and `--input`: the exact bytes typed or read, on the
/// wire (a capture server sees them), never re-encoded.
#[test]
fn bodies_are_sent_byte_for_byte() {
    let capture = Capture::answering(|_| (200, r#"{"data": {}}"#.to_string()));
    let cli = Heldqr::bare()
        .env("HELDQR_BASE_URL", &capture.base_url)
        .env("HELDQR_TOKEN", PRO);
    let odd = "{ \"z\" : 1,\n  \"label\": \"caf\u{e9}\", \"label\": \"twice\" }\n";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body.json");
    std::fs::write(&file, odd).unwrap();
    let at_file = format!("@{}", file.display());
    cli.run(&["api", "PATCH", "codes/x", "--data", odd])
        .success();
    cli.run(&["api", "PATCH", "codes/x", "--data", &at_file])
        .success();
    cli.run(&["api", "PATCH", "codes/x", "--input", file.to_str().unwrap()])
        .success();
    cli.run_with_stdin(&["api", "PATCH", "codes/x", "--data", "@-"], odd)
        .success();
    cli.run_with_stdin(&["api", "PATCH", "codes/x", "--input", "-"], odd)
        .success();
    let seen = capture.requests();
    assert_eq!(seen.len(), 5);
    for request in seen {
        assert_eq!(request.request, "PATCH /api/v1/codes/x");
        assert_eq!(String::from_utf8_lossy(&request.body), odd);
        assert_eq!(request.content_type, "application/json");
    }
}

/// A body that is not JSON is the API's to judge: sent as given, its invalid_json is exit 5.
#[test]
fn a_body_that_is_not_json_gets_the_apis_answer() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    cli.run(&["api", "POST", "codes", "--data", "{oops"])
        .fails(5, "invalid_json");
}

#[test]
fn paginate_prints_one_array_of_every_item() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    for i in 0..7 {
        cli.run(&[
            "api",
            "POST",
            "codes",
            "--data",
            &format!(r#"{{"target_url": "https://example.com/p{i}"}}"#),
        ])
        .success();
    }
    let all = cli
        .run(&["api", "codes", "--paginate", "-q", "page_size=3"])
        .success()
        .json();
    let targets: Vec<_> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["target_url"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        targets,
        (0..7)
            .map(|i| format!("https://example.com/p{i}"))
            .collect::<Vec<_>>()
    );
    let count = cli
        .run(&[
            "api",
            "codes",
            "--paginate",
            "-q",
            "page_size=2",
            "--jq",
            "length",
        ])
        .success();
    assert_eq!(count.stdout, "7\n");
    cli.run(&["api", "POST", "codes", "--paginate"])
        .fails(2, "usage");
    cli.run(&["api", "codes/nope", "--paginate"])
        .fails(4, "not_found");
}

#[test]
fn raw_errors_use_the_usual_exit_codes() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    cli.run(&["api", "GET", "codes/nope"]).fails(4, "not_found");
    // -i on an error answer: its whole head, as for a success, on stdout.
    let head = cli.run(&["api", "-i", "codes/nope"]).fails(4, "not_found");
    assert!(
        head.stdout.starts_with("HTTP/1.1 404 Not Found\n"),
        "{}",
        head.stdout
    );
    assert!(
        head.stdout.contains("\nContent-Type: application/json\n"),
        "{}",
        head.stdout
    );
    assert!(head.stdout.contains("\nDate: "), "{}", head.stdout);
    assert!(
        head.stdout.ends_with("\n\n"),
        "the head ends with a blank line: {}",
        head.stdout
    );
    assert!(
        head.stdout.contains("\nX-Ratelimit-Remaining: "),
        "{}",
        head.stdout
    );
    assert!(head.stdout.contains("\nX-Request-Id: "), "{}", head.stdout);
    cli.run(&["api", "DELETE", "codes/nope"])
        .fails(5, "method_not_allowed");
    cli.run(&["api", "POST", "codes", "--data", r#"{"target_url": 3}"#])
        .fails(5, "validation_failed");
    cli.run(&["api", "GET", "codes", "--data", "@/nonexistent/body.json"])
        .fails(2, "usage");
    cli.run(&["api", "GET", "codes", "-q", "novalue"])
        .fails(2, "usage");
    cli.run(&["api", "GET", "https://elsewhere.example/api/v1/codes"])
        .fails(2, "usage");
    cli.run(&["api", "G E T", "codes"]).fails(2, "usage");
    cli.run(&["api", "GET", "codes", "-q", "page_size=500"])
        .fails(5, "invalid_parameter");
}
