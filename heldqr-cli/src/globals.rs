//! The options every command takes (`--token`, `--base-url`, `--json`, `--jq`, `-v`,
//! `--timeout`), as clap parses them: raw flags, before [`crate::settings`] checks them against
//! the environment and the config file. The grammar around them is in `cli.rs`.

use clap::Args;

use crate::secret::Token;

/// Options every command takes (before or after the subcommand).
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// API token for this run (overrides HELDQR_TOKEN and the stored token). Other local
    /// users can see command lines: prefer `heldqr auth login` or HELDQR_TOKEN.
    // Parsed straight into the redacted type, so `{:?}` of the arguments shows it masked.
    #[arg(long, global = true, value_name = "TOKEN", value_parser = parse_token)]
    pub token: Option<Token>,

    /// API host (`--base-url`); the help text names the defaults.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        help = "API host, e.g. http://127.0.0.1:8080 for a local heldqr-mock [default: \
                HELDQR_BASE_URL, then the default host of `auth login`/`auth switch`, then \
                https://api.heldqr.com]"
    )]
    pub base_url: Option<String>,

    /// Print the API's data as one JSON document on stdout (and nothing else there).
    #[arg(long, global = true)]
    pub json: bool,

    /// Filter the JSON output with a jq expression (implies --json); string results print
    /// raw, one a line, other values as compact JSON. A bad expression exits 2.
    #[arg(long, global = true, value_name = "EXPR")]
    pub jq: Option<String>,

    /// Show every attempt on stderr as it happens (-vv: headers and bodies too, token masked).
    /// HELDQR_DEBUG=1 (or 2) does the same.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Give up on a request after this many seconds (each retry gets the same) [default: 30]
    #[arg(long, global = true, value_name = "SECONDS", value_parser = parse_timeout)]
    pub timeout: Option<std::time::Duration>,
}

/// `--token`: kept as a [`Token`] (surrounding whitespace trimmed) from the moment it is parsed.
/// An empty one is refused later with a clear message (see `Settings::resolve`).
fn parse_token(value: &str) -> Result<Token, std::convert::Infallible> {
    Ok(Token::new(value))
}

fn parse_timeout(value: &str) -> Result<std::time::Duration, String> {
    let seconds: f64 = value
        .parse()
        .map_err(|_| format!("{value:?} is not a number of seconds"))?;
    if !(seconds.is_finite() && seconds > 0.0 && seconds <= 86_400.0) {
        return Err("must be more than 0 and at most 86400 seconds".into());
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}
