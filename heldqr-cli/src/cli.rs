//! The command-line grammar: the top-level `heldqr` parser, its global options and the tree of
//! subcommands. Each subcommand's own arguments live beside its `run` in [`crate::commands`];
//! this module only assembles them. Parsing never touches the network or the config file.

use clap::{Parser, Subcommand};

use crate::commands::{api, auth, codes, completions};
use crate::error::EXIT_CODES_HELP;
use crate::globals::GlobalArgs;

const ABOUT: &str = "Create dynamic QR codes, change where they point, read their scans.";

const AFTER_HELP: &str = "\
Examples:
  echo \"$TOKEN\" | heldqr auth login       # store a token (or run it and paste at the prompt)
  heldqr codes create --target-url https://example.com/menu --label Menu
  heldqr codes qr menu-v3 --out menu.png
  heldqr codes update menu-v3 --target-url https://example.com/menu-2026
  heldqr codes scans menu-v3
  heldqr codes list --all --jq '.[].scan_url'

Token:  --token, else HELDQR_TOKEN, else the token `heldqr auth login` stored for that very
        host (a stored token is never sent to another host; localhost = 127.0.0.1).
Host:   --base-url, else HELDQR_BASE_URL, else the default host (set by `auth login` and
        `auth switch`), else https://api.heldqr.com. `auth login` itself never uses the
        default host: without --base-url it logs in to https://api.heldqr.com.
Output: tables on a terminal, tab-separated lines when piped, one JSON document with --json;
        --jq EXPR filters that document with a jq implementation (no jq needed).
        Errors always go to stderr; with --json stdout stays empty on failure (except the
        reports of `codes import` and `auth status`), switch on the exit code. -v (or HELDQR_DEBUG=1) traces what happens on stderr. NO_COLOR turns
        colour off; HELDQR_CONFIG_DIR moves the config file, HELDQR_STATE_DIR the import ledger.
";

/// `heldqr`: the command line for the Heldqr Management API.
#[derive(Debug, Parser)]
#[command(
    name = "heldqr",
    version,
    about = ABOUT,
    after_help = format!("{AFTER_HELP}\n{EXIT_CODES_HELP}"),
    propagate_version = true,
    subcommand_required = true,
    arg_required_else_help = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub globals: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, list, change and read the scans of QR codes.
    #[command(subcommand)]
    Codes(codes::CodesCommand),
    /// Store, check or forget the API token.
    #[command(subcommand)]
    Auth(auth::AuthCommand),
    /// Make a raw API request and print the JSON body.
    Api(api::ApiArgs),
    /// Print a shell completion script.
    Completions(completions::CompletionsArgs),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Token;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every command, nested ones included, shows at least one example in its help.
    #[test]
    fn every_command_has_an_example() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", cmd.get_name());
            let after = cmd
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            if !after.contains("Examples:") && !after.contains("Example:") {
                missing.push(path.clone());
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        let cmd = Cli::command();
        walk(&cmd, "", &mut missing);
        assert!(missing.is_empty(), "no example in: {missing:?}");
    }

    #[test]
    fn globals_work_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "heldqr",
            "codes",
            "get",
            "abc",
            "--json",
            "--timeout",
            "2.5",
        ])
        .unwrap();
        assert!(cli.globals.json);
        assert_eq!(
            cli.globals.timeout,
            Some(std::time::Duration::from_millis(2500))
        );
    }

    #[test]
    fn debug_of_parsed_args_never_shows_the_token() {
        let secret = "hkr_live_a3f9c2b0e4d5supersecret";
        for args in [
            vec!["heldqr", "--token", secret, "codes", "list"],
            vec!["heldqr", "codes", "get", "abc", "--token", secret],
            vec!["heldqr", "auth", "status", &format!("--token={secret}")],
        ] {
            let cli = Cli::try_parse_from(&args).unwrap();
            assert_eq!(
                cli.globals.token.as_ref().map(Token::expose),
                Some(secret),
                "{args:?}"
            );
            for debug in [
                format!("{cli:?}"),
                format!("{cli:#?}"),
                format!("{:?}", cli.globals),
            ] {
                assert!(!debug.contains(secret), "{debug}");
                assert!(!debug.contains("supersecret"), "{debug}");
            }
        }
    }

    #[test]
    fn timeout_must_be_positive() {
        for bad in ["0", "-1", "abc", "inf"] {
            assert!(
                Cli::try_parse_from(["heldqr", "--timeout", bad, "codes", "get", "x"]).is_err(),
                "{bad}"
            );
        }
    }
}
