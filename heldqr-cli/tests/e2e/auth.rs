//! `auth login|status|logout`, token precedence and the config file's permissions.

use crate::support::{Heldqr, Mock, PRO};

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
