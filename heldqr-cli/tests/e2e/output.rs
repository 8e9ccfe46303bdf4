//! Output rules: tables on a terminal, plain lines when piped, one JSON document with --json,
//! colour only on a terminal without NO_COLOR, help and completions, broken pipes.

use std::process::Stdio;

use crate::support::{Heldqr, Mock, PRO, heldqr_bin};

#[test]
fn tables_on_a_terminal_with_and_without_colour() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    cli.create(
        "https://example.com/menu",
        &["--shortcode", "tbl-menu", "--label", "Menu"],
    );

    let run = |no_color: bool| {
        let mut cmd = cli.command(&["codes", "list"]);
        cmd.env("HELDQR_FORCE_TTY", "1");
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        String::from_utf8(cmd.output().unwrap().stdout).unwrap()
    };
    let plain_table = run(true);
    snapbox::assert_data_eq!(
        plain_table,
        snapbox::str![[r#"
╭───────────┬────────┬──────────────────────────┬───────┬──────────────────────╮
│ SHORTCODE ┆ STATUS ┆ TARGET URL               ┆ LABEL ┆ CREATED              │
╞═══════════╪════════╪══════════════════════════╪═══════╪══════════════════════╡
│ tbl-menu  ┆ active ┆ https://example.com/menu ┆ Menu  ┆ [..]Z │
╰───────────┴────────┴──────────────────────────┴───────┴──────────────────────╯

"#]]
    );
    let coloured = run(false);
    assert!(coloured.contains("\u{1b}["), "{coloured}");

    // Piped (the default in tests): no table, no colour.
    let piped = cli.run(&["codes", "list"]).success();
    assert!(!piped.stdout.contains('│') && !piped.stdout.contains('\u{1b}'));
    assert!(
        piped
            .stdout
            .starts_with("tbl-menu\tactive\thttps://example.com/menu\tMenu\t")
    );
}

#[test]
fn json_is_one_document_and_nothing_else_on_stdout() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    cli.create("https://example.com/j", &["--shortcode", "json-one"]);
    for args in [
        vec!["codes", "list", "--json"],
        vec!["codes", "list", "--all", "--json"],
        vec!["codes", "get", "json-one", "--json"],
        vec!["codes", "update", "json-one", "--label", "x", "--json"],
        vec!["codes", "scans", "json-one", "--json"],
        vec!["codes", "qr", "json-one", "--json"],
        vec!["auth", "status", "--json"],
        vec!["--json", "api", "GET", "codes"],
    ] {
        // Force a "terminal" too: --json must win over tables.
        let out = cli
            .command(&args)
            .env("HELDQR_FORCE_TTY", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        serde_json::from_str::<serde_json::Value>(&stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not one JSON document ({e}):\n{stdout}"));
    }
    // On failure stdout stays empty and stderr has the one-line error (as `heldqr --help` says).
    let run = cli
        .run(&["codes", "get", "missing", "--json"])
        .fails(4, "not_found");
    assert_eq!(run.stdout, "");
}

#[test]
fn top_level_help_documents_exit_codes() {
    let run = Heldqr::bare().run(&["--help"]).success();
    snapbox::assert_data_eq!(run.stdout, snapbox::file!["snapshots/help.txt"]);
}

#[test]
fn every_command_help_has_an_example() {
    let commands: &[&[&str]] = &[
        &["codes"],
        &["codes", "list"],
        &["codes", "create"],
        &["codes", "get"],
        &["codes", "update"],
        &["codes", "scans"],
        &["codes", "qr"],
        &["codes", "import"],
        &["auth"],
        &["auth", "login"],
        &["auth", "status"],
        &["auth", "logout"],
        &["api"],
        &["completions"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let run = Heldqr::bare().run(&args).success();
        assert!(
            run.stdout.contains("Examples:"),
            "{command:?}:\n{}",
            run.stdout
        );
        assert!(run.stdout.contains("heldqr "), "{command:?}");
        assert_examples_do_not_wrap(command, &run.stdout);
    }
    assert_examples_do_not_wrap(&[], &Heldqr::bare().run(&["--help"]).success().stdout);
}

/// Every line of the Examples block is a command, or the indented continuation of one that
/// ends with a backslash: none was wrapped by clap (help is laid out for 100 columns).
fn assert_examples_do_not_wrap(command: &[&str], help: &str) {
    let examples = help
        .split("Examples:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("{command:?}: no Examples block"));
    let mut previous = "";
    for line in examples.lines().take_while(|l| !l.trim().is_empty()) {
        assert!(line.chars().count() < 100, "{command:?}: too long: {line}");
        let continued = previous.trim_end().ends_with('\\');
        if continued {
            assert!(line.starts_with("      "), "{command:?}: {line}");
        } else {
            assert!(
                line.starts_with("  heldqr ") || line.starts_with("  echo "),
                "{command:?}: an example line that is not a command (wrapped?): {line}"
            );
        }
        previous = line;
    }
}

#[test]
fn version_and_completions() {
    let run = Heldqr::bare().run(&["--version"]).success();
    assert_eq!(
        run.stdout.trim(),
        format!("heldqr {}", env!("CARGO_PKG_VERSION"))
    );
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = Heldqr::bare().run(&["completions", shell]).success();
        assert!(run.stdout.contains("heldqr"), "{shell}");
        assert!(
            run.stdout.contains("import"),
            "{shell}: subcommands missing"
        );
    }
    let run = Heldqr::bare().run(&["completions", "tcsh"]);
    assert_eq!(run.code, 2);
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    // The reader is gone before heldqr writes (like `heldqr ... | head -0`).
    let cli = Heldqr::bare();
    let mut child = cli
        .command(&["completions", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = heldqr_bin();
}
