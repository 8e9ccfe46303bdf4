//! `auth login|status|logout`, token precedence and the config file's permissions.

use crate::support::{Capture, Heldqr, Mock, PRO};

#[test]
fn login_from_stdin_then_commands_use_the_stored_token() {
    let mock = Mock::start();
    let cli = Heldqr::new(&mock);

    // Without a token: exit 3 and how to get one.
    cli.run(&["codes", "list"]).fails(3, "no_token");

    let login = cli
        .run_with_stdin(&["auth", "login"], &format!("{PRO}\n"))
        .success();
    assert!(login.stderr.contains("Logged in to"), "{}", login.stderr);
    assert!(
        !login.stderr.contains(PRO),
        "token printed: {}",
        login.stderr
    );
    assert!(login.stdout.is_empty());

    let path = cli.config_dir().join("config.json");
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(stored["hosts"][&mock.base_url]["token"], PRO);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "config file mode {mode:o}");
    }

    // The stored token works; status says where it came from and masks it.
    cli.run(&["codes", "list"]).success();
    let status = cli.run(&["auth", "status", "--json"]).success();
    let json = status.json();
    assert_eq!(json["valid"], true);
    assert_eq!(json["base_url"], mock.base_url);
    assert_eq!(json["token"], "hkr_…pro");
    assert!(
        json["token_source"]
            .as_str()
            .unwrap()
            .starts_with("config file")
    );
    assert!(json["rate_limit"]["limit"].as_u64().unwrap() > 0);
    assert!(!status.stdout.contains(PRO));

    // Logout forgets it.
    cli.run(&["auth", "logout"]).success();
    cli.run(&["codes", "list"]).fails(3, "no_token");
    let again = cli.run(&["auth", "logout"]).success();
    assert!(again.stderr.contains("No token stored"), "{}", again.stderr);
}

#[cfg(unix)]
#[test]
fn a_config_dir_created_by_login_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let mock = Mock::start();
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("nested").join("heldqr");
    let cli = Heldqr::new(&mock).env("HELDQR_CONFIG_DIR", dir.to_str().unwrap());
    cli.run_with_stdin(&["auth", "login"], PRO).success();
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "config dir mode {mode:o}");
}

#[test]
fn login_rejects_a_bad_token_and_stores_nothing() {
    let mock = Mock::start();
    let cli = Heldqr::new(&mock);
    cli.run_with_stdin(&["auth", "login"], "hkr_not_a_real_token")
        .fails(3, "unauthorized");
    assert!(!cli.config_dir().join("config.json").exists());
    cli.run_with_stdin(&["auth", "login"], "   \n")
        .fails(2, "usage");
    cli.run_with_stdin(&["auth", "login"], "two words")
        .fails(2, "usage");
    // --token is not a way to log in (it would sit in the shell history).
    cli.run_with_stdin(&["auth", "login", "--token", PRO], PRO)
        .fails(2, "usage");
}

#[test]
fn login_no_verify_stores_without_a_request() {
    let cli = Heldqr::bare();
    cli.run_with_stdin(
        &[
            "auth",
            "login",
            "--base-url",
            "http://127.0.0.1:1",
            "--no-verify",
        ],
        "hkr_offline",
    )
    .success();
    // The host of the last login becomes the default host.
    let status = cli.run(&["auth", "status", "--json"]);
    assert_eq!(status.code, 8, "{}", status.stderr);
    assert_eq!(status.json()["base_url"], "http://127.0.0.1:1");
}

#[test]
fn flag_beats_env_beats_config_and_tokens_stay_with_their_host() {
    let mock = Mock::start();
    let cli = Heldqr::new(&mock);
    cli.run_with_stdin(&["auth", "login"], PRO).success();

    let from_env = cli.run(&["auth", "status", "--json"]).success().json();
    assert!(
        from_env["token_source"]
            .as_str()
            .unwrap()
            .starts_with("config file")
    );

    let env_cli = Heldqr::new(&mock).env("HELDQR_TOKEN", "hkr_test_free");
    let json = env_cli.run(&["auth", "status", "--json"]).success().json();
    assert_eq!(json["token_source"], "HELDQR_TOKEN environment variable");

    let json = env_cli
        .run(&["auth", "status", "--json", "--token", "hkr_test_business"])
        .success()
        .json();
    assert_eq!(json["token_source"], "--token flag");
    assert_eq!(json["token"], "hkr_…ness");

    // The stored token belongs to the mock's host: another host gets no token.
    let other = cli.run(&["--base-url", "http://127.0.0.1:1", "codes", "list"]);
    assert_eq!(other.code, 3, "{}", other.stderr);
}

#[test]
fn status_with_a_rejected_token_exits_3_and_says_so() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, "hkr_wrong_token_value");
    let run = cli
        .run(&["auth", "status", "--json"])
        .fails(3, "unauthorized");
    assert_eq!(run.json()["valid"], false);
    assert!(!run.stdout.contains("hkr_wrong_token_value"));
    assert!(!run.stderr.contains("hkr_wrong_token_value"));
}

/// The issue's scenario: a mock session, then a live token. The live login goes to
/// api.heldqr.com (not the last host), and across two hosts a stored token only ever reaches
/// its own host: the capture server records every Authorization header it gets.
#[test]
fn tokens_per_host_never_cross() {
    let mock = Mock::start();
    let capture = Capture::start();
    let cli = Heldqr::bare();
    const CAPTURE_TOKEN: &str = "hkr_live_capture_host_token";
    const LIVE: &str = "hkr_live_production_token";

    // Mock session, as the README does it.
    cli.run_with_stdin(&["auth", "login", "--base-url", &mock.base_url], PRO)
        .success();
    cli.run(&["codes", "list"]).success();

    // A second host: its login check goes to it, with its own token.
    cli.run_with_stdin(
        &["auth", "login", "--base-url", &capture.base_url],
        CAPTURE_TOKEN,
    )
    .success();
    assert_eq!(
        capture.authorizations(),
        [format!("Bearer {CAPTURE_TOKEN}")]
    );

    // The README's next step: a plain login is for https://api.heldqr.com, never the last
    // host, and the mock's token is not replaced.
    let live = cli
        .run_with_stdin(&["auth", "login", "--no-verify"], LIVE)
        .success();
    assert!(
        live.stderr.contains("Logged in to https://api.heldqr.com"),
        "{}",
        live.stderr
    );
    let status = cli.run(&["auth", "status", "--json"]).json();
    let hosts = status["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 3, "{status}");
    let host = |url: &str| {
        hosts
            .iter()
            .find(|h| h["base_url"] == url)
            .unwrap_or_else(|| panic!("{url} not in {status}"))
    };
    assert_eq!(host(&mock.base_url)["token"], "hkr_…pro");
    assert_eq!(host("https://api.heldqr.com")["default"], true);
    assert_eq!(host(&mock.base_url)["default"], false);
    assert!(!status.to_string().contains(LIVE));

    // Switch the default back to the mock (spelled localhost: the same host).
    let localhost = mock.base_url.replace("127.0.0.1", "localhost");
    cli.run(&["auth", "switch", "--base-url", &localhost])
        .success();
    let listed = cli.run(&["codes", "list", "--json"]).success();
    assert!(listed.json().is_array());
    cli.run(&["--base-url", &localhost, "codes", "list"])
        .success();
    // The capture host, by flag: its own token only.
    cli.run(&["--base-url", &capture.base_url, "codes", "list"])
        .success();
    // A host without a stored token: exit 3, nothing sent anywhere, the hint names the hosts.
    let unknown = cli
        .run(&["--base-url", "http://127.0.0.1:9", "codes", "list"])
        .fails(3, "no_token");
    assert!(
        unknown.stderr.contains("only sent to its own host"),
        "{}",
        unknown.stderr
    );

    let seen = capture.authorizations();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen.iter().all(|a| a == &format!("Bearer {CAPTURE_TOKEN}")),
        "{seen:?}"
    );

    // switch needs a host with a token; logout forgets one host only.
    cli.run(&["auth", "switch", "--base-url", "http://127.0.0.1:9"])
        .fails(3, "no_token");
    cli.run(&["auth", "switch"]).fails(2, "usage");
    cli.run(&["auth", "logout", "--base-url", &capture.base_url])
        .success();
    let status = cli.run(&["auth", "status", "--json"]).success().json();
    assert_eq!(status["hosts"].as_array().unwrap().len(), 2, "{status}");
    assert_eq!(status["base_url"], mock.base_url);
    cli.run(&["--base-url", &capture.base_url, "codes", "list"])
        .fails(3, "no_token");
    assert_eq!(capture.authorizations().len(), 2);
}

#[test]
fn a_base_url_without_a_scheme_gets_a_did_you_mean() {
    let run = Heldqr::bare()
        .run(&["--base-url", "127.0.0.1:8080", "codes", "list"])
        .fails(2, "usage");
    assert!(
        run.stderr.contains("did you mean http://127.0.0.1:8080?"),
        "{}",
        run.stderr
    );
}

#[cfg(unix)]
#[test]
fn a_symlinked_config_file_keeps_no_old_token() {
    let mock = Mock::start();
    let cli = Heldqr::new(&mock);
    let elsewhere = tempfile::tempdir().unwrap();
    let real = elsewhere.path().join("heldqr-config.json");
    std::fs::write(&real, "{}").unwrap();
    std::os::unix::fs::symlink(&real, cli.config_dir().join("config.json")).unwrap();
    cli.run_with_stdin(&["auth", "login"], "hkr_test_free")
        .success();
    cli.run_with_stdin(&["auth", "login"], PRO).success();
    cli.run(&["auth", "logout"]).success();
    let link = cli.config_dir().join("config.json");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let text = std::fs::read_to_string(&real).unwrap();
    assert!(!text.contains("hkr_test"), "{text}");
    // No other copy anywhere in either directory.
    for dir in [cli.config_dir(), elsewhere.path()] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                assert!(!text.contains("hkr_test"), "{}: {text}", path.display());
            }
        }
    }
}

#[cfg(unix)]
#[test]
fn a_config_dir_readable_by_others_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let mock = Mock::start();
    let cli = Heldqr::new(&mock);
    cli.run_with_stdin(&["auth", "login"], PRO).success();
    std::fs::set_permissions(cli.config_dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = cli.run(&["codes", "list"]).success();
    assert!(
        run.stderr.contains("warning: the config directory"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("chmod 700"), "{}", run.stderr);
}

/// A config file that cannot be read: logout and switch refuse (saying so, never quoting it)
/// instead of reporting "no token stored" while the token stays on disk; login rewrites it.
#[test]
fn a_broken_config_file_is_refused_by_logout_and_switch_and_rewritten_by_login() {
    let mock = Mock::start();
    let cli = Heldqr::bare();
    let secret = "hkr_live_handwritten_ABCD1234";
    let text = format!(r#"{{"hosts":{{"{}":"{secret}"}}}}"#, mock.base_url);
    let path = cli.config_dir().join("config.json");
    std::fs::write(&path, &text).unwrap();
    for args in [
        &["auth", "logout", "--base-url", mock.base_url.as_str()][..],
        &["auth", "switch", "--base-url", mock.base_url.as_str()],
    ] {
        let run = cli.run(args).fails(1, "config");
        assert!(
            run.stderr.contains("is not a valid heldqr config file"),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("ABCD1234"), "{}", run.stderr);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }
    let run = cli.run_with_stdin(&["auth", "login", "--base-url", &mock.base_url], PRO);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!std::fs::read_to_string(&path).unwrap().contains(secret));
}
