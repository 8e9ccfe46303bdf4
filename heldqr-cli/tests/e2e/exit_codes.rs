//! Every documented exit code, caused the way a user or the network would cause it.

use std::io::{Read, Write};
use std::net::TcpListener;

use crate::support::{Heldqr, Mock, PRO};

#[test]
fn zero_on_success() {
    let mock = Mock::start();
    Heldqr::with_token(&mock, PRO)
        .run(&["codes", "list"])
        .success();
}

/// A server that answers every request with 200 and a body that is not the API's JSON.
fn not_the_api() -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        // The CLI makes one request (a decode error is not retried); serve a few to be safe.
        listener.set_nonblocking(false).unwrap();
        if let Ok((mut stream, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let body = "<html>not json</html>";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, handle)
}

#[test]
fn one_on_an_unexpected_response_and_on_local_io() {
    let (url, server) = not_the_api();
    let cli = Heldqr::bare();
    cli.run(&[
        "--base-url",
        &url,
        "--token",
        "hkr_x",
        "codes",
        "get",
        "abc",
    ])
    .fails(1, "unexpected_response");
    server.join().unwrap();

    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    cli.create("https://example.com/io", &["--shortcode", "io-code"]);
    cli.run(&["codes", "qr", "io-code", "--out", "/nonexistent-dir/x.png"])
        .fails(1, "io");
}

#[test]
fn two_on_usage_errors() {
    let cli = Heldqr::bare();
    let run = cli.run(&["codes", "list", "--no-such-flag"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = cli.run(&["codes", "list", "--page-size", "101"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = cli.run(&[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    cli.run(&["--base-url", "api.heldqr.com", "codes", "list"])
        .fails(2, "usage");
    // The API's prefix is the client's to add: a base URL with it would 404 every call.
    let run = cli
        .run(&["--base-url", "http://127.0.0.1:9/api/v1", "codes", "list"])
        .fails(2, "usage");
    assert!(
        run.stderr.contains("use \"http://127.0.0.1:9\""),
        "{}",
        run.stderr
    );
    // Two output formats at once is a mistake, not a silent choice (--jq filters each line
    // of --json-lines).
    for args in [
        &["codes", "list", "--json-lines", "--json"][..],
        &["--json", "codes", "list", "--json-lines"],
    ] {
        let run = cli.run(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("cannot be used with"), "{}", run.stderr);
    }
}

#[test]
fn three_on_missing_or_rejected_token() {
    let mock = Mock::start();
    Heldqr::new(&mock)
        .run(&["codes", "list"])
        .fails(3, "no_token");
    Heldqr::with_token(&mock, "hkr_live_nope")
        .run(&["codes", "list"])
        .fails(3, "unauthorized");
}

#[test]
fn four_on_not_found() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    cli.run(&["codes", "get", "missing"]).fails(4, "not_found");
    cli.run(&["codes", "scans", "missing"])
        .fails(4, "not_found");
    cli.run(&["codes", "update", "missing", "--label", "x"])
        .fails(4, "not_found");
    cli.run(&["codes", "qr", "missing"]).fails(4, "not_found");
}

#[test]
fn five_on_validation_with_field_errors() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    let run = cli
        .run(&["codes", "create", "--target-url", "ftp://example.com/x"])
        .fails(5, "validation_failed");
    // One line says which field and what is wrong with it.
    let first = run.stderr.lines().next().unwrap();
    assert!(first.starts_with("error: "), "{}", run.stderr);
    assert!(first.contains(": target_url: "), "{}", run.stderr);
    assert!(first.ends_with("(validation_failed)"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

#[test]
fn six_on_conflict() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    cli.create("https://example.com/a", &["--shortcode", "taken-one"]);
    cli.run(&[
        "codes",
        "create",
        "--target-url",
        "https://example.com/b",
        "--shortcode",
        "taken-one",
    ])
    .fails(6, "shortcode_taken");
}

#[test]
fn seven_when_still_rate_limited() {
    // One request per hour: the second is refused with a Retry-After far beyond what the
    // SDK waits, so it gives up at once instead of sleeping.
    let mock = Mock::start_with(&["--rate-limit", "1/3600s"]);
    let cli = Heldqr::with_token(&mock, PRO);
    cli.run(&["codes", "list"]).success();
    let run = cli.run(&["codes", "list"]).fails(7, "rate_limited");
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
}

#[test]
fn eight_on_network_failures() {
    // Nothing listens on a port we just released.
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let cli = Heldqr::bare();
    cli.run(&["--base-url", &url, "--token", "hkr_x", "codes", "list"])
        .fails(8, "network");

    // A server that accepts and never answers: a timeout.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    cli.run(&[
        "--base-url",
        &url,
        "--token",
        "hkr_x",
        "--timeout",
        "0.2",
        "codes",
        "get",
        "abc",
    ])
    .fails(8, "timeout");
    drop(silent);
}

#[test]
fn a_create_that_may_have_gone_through_names_its_key() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let run = Heldqr::bare()
        .run(&[
            "--base-url",
            &url,
            "--token",
            "hkr_x",
            "--timeout",
            "0.2",
            "codes",
            "create",
            "--target-url",
            "https://example.com/x",
            "--idempotency-key",
            "retry-me-123",
        ])
        .fails(8, "timeout");
    assert!(
        run.stderr.contains("--idempotency-key retry-me-123"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_refused_create_sent_nothing_so_no_idempotency_hint() {
    // Nothing listens on a port we just released: the create never left this machine.
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let run = Heldqr::bare()
        .run(&[
            "--base-url",
            &url,
            "--token",
            "hkr_x",
            "codes",
            "create",
            "--target-url",
            "https://example.com/x",
        ])
        .fails(8, "network");
    assert!(
        !run.stderr.contains("may have gone through"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("--idempotency-key"), "{}", run.stderr);
}

#[test]
fn token_hints_do_not_loop_and_name_the_mock_dev_tokens_on_a_local_host() {
    let mock = Mock::start();
    // auth status with a rejected token: not "check the token with `heldqr auth status`".
    let run = Heldqr::new(&mock)
        .run(&["--token", "wrong", "auth", "status"])
        .fails(3, "unauthorized");
    assert!(
        !run.stderr.contains("`heldqr auth status`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hkr_test_pro"), "{}", run.stderr);
    // auth login with a rejected token: nothing saved, no loop back to login or status.
    let run = Heldqr::new(&mock)
        .run_with_stdin(&["auth", "login"], "wrong\n")
        .fails(3, "unauthorized");
    assert!(run.stderr.contains("nothing was saved"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("`heldqr auth status`"),
        "{}",
        run.stderr
    );
    // Other commands do point at auth status.
    let run = Heldqr::with_token(&mock, "wrong")
        .run(&["codes", "list"])
        .fails(3, "unauthorized");
    assert!(
        run.stderr.contains("`heldqr auth status`"),
        "{}",
        run.stderr
    );
    // No token for a local host: the mock's dev tokens, not the sales address.
    let run = Heldqr::new(&mock)
        .run(&["codes", "list"])
        .fails(3, "no_token");
    assert!(
        run.stderr.contains("hkr_test_free") && run.stderr.contains("hkr_test_business"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("api@heldqr.com"), "{}", run.stderr);
    // No token for a remote host (nothing is sent): how to get a real one.
    let run = Heldqr::bare()
        .run(&["--base-url", "https://api.heldqr.com", "codes", "list"])
        .fails(3, "no_token");
    assert!(run.stderr.contains("api@heldqr.com"), "{}", run.stderr);
    assert!(!run.stderr.contains("hkr_test_"), "{}", run.stderr);
}

#[test]
fn a_create_answered_with_a_server_error_names_its_key() {
    // Every /api/v1 request fails with 500 before anything is committed: the CLI cannot know
    // that, so it names the key to retry with.
    let mock = Mock::start_with(&["--fault-seed", "1", "--fault-500", "1"]);
    let run = Heldqr::with_token(&mock, PRO)
        .run(&[
            "codes",
            "create",
            "--target-url",
            "https://example.com/x",
            "--idempotency-key",
            "retry-me-500",
        ])
        .fails(1, "internal_error");
    assert!(
        run.stderr.contains("--idempotency-key retry-me-500"),
        "{}",
        run.stderr
    );
}
