//! `heldqr auth login|status|switch|logout`: stored tokens, one per host (like gh's hosts).
//!
//! `login` reads the token from stdin when it is piped, else from a prompt that does not echo,
//! checks it with one cheap API call to that host (unless `--no-verify`) and saves it in the
//! config file for the host (`--base-url`, `HELDQR_BASE_URL`, else `https://api.heldqr.com`:
//! never the host of the previous login), which becomes the default host. `status` shows which
//! host and token a command would use, where each came from, the token masked (`hkr_…a3f`),
//! checks it, and lists every stored host. `switch` makes another stored host the default;
//! `logout` forgets the stored token of one host.

use std::io::Read;

use clap::{Args, Subcommand};
use serde::Serialize;

use crate::commands::Ctx;
use crate::error::CliError;
use crate::output::{Field, OutputMode, Tone, Value};
use crate::secret::Token;
use crate::settings::Source;

/// `heldqr auth` subcommands.
#[derive(Debug, Subcommand)]
#[command(after_help = "Examples:
  heldqr auth login                                  # https://api.heldqr.com, paste at the prompt
  echo \"$TOKEN\" | heldqr auth login --base-url http://127.0.0.1:8080
  heldqr auth status                                 # every stored host, the default marked
  heldqr auth switch --base-url https://api.heldqr.com
  heldqr auth logout --base-url http://127.0.0.1:8080

Tokens are stored per host; a stored token is only ever sent to the host it was stored for.
--token and HELDQR_TOKEN go wherever the command goes.")]
pub enum AuthCommand {
    /// Store a token for a host (read from stdin, or a prompt that does not echo).
    Login(LoginArgs),
    /// Show the host and token in use, where they come from, check the token, list every host.
    Status(StatusArgs),
    /// Make another host with a stored token the default for plain commands.
    Switch(SwitchArgs),
    /// Forget the stored token of a host (the default host unless --base-url says which).
    Logout(LogoutArgs),
}

/// Arguments of `auth login`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  heldqr auth login
  echo \"$HELDQR_TOKEN\" | heldqr auth login
  heldqr auth login --base-url http://127.0.0.1:8080 < token.txt

The host is --base-url, else HELDQR_BASE_URL, else https://api.heldqr.com (never the host of
an earlier login). The token is checked with one API call to that host, then saved
(owner-only permissions) in the config file under that host, which becomes the default host;
it is never sent to another host. Until api.heldqr.com ships, the same API answers on
https://app.heldqr.com: heldqr auth login --base-url https://app.heldqr.com")]
pub struct LoginArgs {
    /// Save the token without checking it against the API.
    #[arg(long)]
    pub no_verify: bool,
}

/// Arguments of `auth status`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  heldqr auth status
  heldqr auth status --json --jq .valid
  heldqr auth status --json --jq '.hosts[] | select(.default) | .base_url'")]
pub struct StatusArgs {}

/// Arguments of `auth switch`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  heldqr auth switch --base-url https://api.heldqr.com
  heldqr auth switch --base-url http://localhost:8080     # same host as http://127.0.0.1:8080

The host must have a stored token (heldqr auth status lists them).")]
pub struct SwitchArgs {}

/// Arguments of `auth logout`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  heldqr auth logout
  heldqr auth logout --base-url http://127.0.0.1:8080")]
pub struct LogoutArgs {}

/// Runs an `auth` subcommand.
pub async fn run(command: AuthCommand, ctx: &Ctx) -> Result<(), CliError> {
    match command {
        AuthCommand::Login(args) => login(args, ctx).await,
        AuthCommand::Status(_) => status(ctx).await,
        AuthCommand::Switch(_) => switch(ctx),
        AuthCommand::Logout(_) => logout(ctx),
    }
}

#[derive(Debug, Serialize)]
struct LoginJson {
    base_url: String,
    token: String,
    verified: bool,
    config_file: String,
}

async fn login(args: LoginArgs, ctx: &Ctx) -> Result<(), CliError> {
    let settings = &ctx.settings;
    if matches!(settings.token, Some((_, Source::Flag(_)))) {
        return Err(CliError::Usage(
            "auth login reads the token from stdin or a prompt, not --token: echo \"$TOKEN\" | heldqr auth login".into(),
        ));
    }
    if ctx.ui.stderr_tty && !ctx.ui.stdin_tty {
        // The prompt names the host; a piped token gets the same word before it is sent.
        ctx.ui.info(&format!(
            "Logging in to {} ({}); another host: --base-url URL",
            settings.base_url, settings.base_url_source
        ));
    }
    let token = read_token(ctx)?;
    if !args.no_verify {
        let client = settings.client_for_token(&token, |b| b)?;
        client.codes().list().page_size(1).send().await?;
    }
    let mut config = settings.config.clone();
    config.set_token(&settings.base_url, token.clone());
    settings.store.save(&config)?;
    let path = settings.store.path();
    if ctx.ui.mode == OutputMode::Json {
        return ctx.ui.json(&LoginJson {
            base_url: settings.base_url.clone(),
            token: token.masked(),
            verified: !args.no_verify,
            config_file: path.display().to_string(),
        });
    }
    ctx.ui.info(&format!(
        "Logged in to {} with {}{}; saved in {}; it is the default host now",
        settings.base_url,
        token.masked(),
        if args.no_verify { " (not checked)" } else { "" },
        path.display()
    ));
    if let Some((_, Source::Env(name))) = &settings.token {
        ctx.ui.warn(&format!(
            "{name} is set and takes precedence over the stored token"
        ));
    }
    Ok(())
}

/// The token from a prompt on a terminal, else from stdin.
fn read_token(ctx: &Ctx) -> Result<Token, CliError> {
    let raw = if ctx.ui.stdin_tty {
        rpassword::prompt_password(format!(
            "Paste your API token for {} ({}; another host: --base-url URL). Input is hidden: ",
            ctx.settings.base_url, ctx.settings.base_url_source
        ))
        .map_err(|err| CliError::io("cannot read the token from the terminal", err))?
    } else {
        let mut raw = String::new();
        std::io::stdin()
            .take(64 * 1024)
            .read_to_string(&mut raw)
            .map_err(|err| CliError::Usage(format!("cannot read the token from stdin: {err}")))?;
        raw
    };
    let token = Token::new(raw);
    if token.is_empty() {
        return Err(CliError::Usage(
            "no token given: pipe it in (echo \"$TOKEN\" | heldqr auth login) or run on a terminal to be prompted".into(),
        ));
    }
    if !token.expose().bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(CliError::Usage(
            "the token has spaces or characters that cannot appear in a token".into(),
        ));
    }
    Ok(token)
}

#[derive(Debug, Serialize)]
struct StatusJson {
    base_url: String,
    base_url_source: String,
    token: Option<String>,
    token_source: Option<String>,
    config_file: String,
    valid: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_limit: Option<heldqr_sdk::RateLimit>,
    /// Every host with a stored token.
    hosts: Vec<HostJson>,
}

/// One stored host in `auth status`.
#[derive(Debug, Serialize)]
struct HostJson {
    base_url: String,
    token: String,
    /// The default host for plain commands.
    default: bool,
    /// The host this run uses.
    active: bool,
}

fn stored_hosts(ctx: &Ctx) -> Vec<HostJson> {
    let settings = &ctx.settings;
    let active = crate::config::host_key(&settings.base_url);
    settings
        .config
        .hosts()
        .map(|(url, token)| HostJson {
            base_url: url.to_string(),
            token: token.masked(),
            default: settings.config.is_default(url),
            active: crate::config::host_key(url) == active,
        })
        .collect()
}

async fn status(ctx: &Ctx) -> Result<(), CliError> {
    let settings = &ctx.settings;
    let mut report = StatusJson {
        base_url: settings.base_url.clone(),
        base_url_source: settings.base_url_source.to_string(),
        token: settings.token.as_ref().map(|(t, _)| t.masked()),
        token_source: settings.token.as_ref().map(|(_, s)| s.to_string()),
        config_file: settings.store.path().display().to_string(),
        valid: None,
        rate_limit: None,
        hosts: stored_hosts(ctx),
    };
    let check = match settings.client() {
        Ok(client) => match client.codes().list().page_size(1).send().await {
            Ok(response) => {
                report.valid = Some(true);
                report.rate_limit = response.meta().rate_limit;
                Ok(())
            }
            Err(err) => {
                if err.code() == Some(&heldqr_sdk::ErrorCode::Unauthorized) {
                    report.valid = Some(false);
                }
                Err(CliError::from(err))
            }
        },
        Err(err) => Err(err),
    };
    if ctx.ui.mode == OutputMode::Json {
        ctx.ui.json(&report)?;
    } else {
        let valid = match report.valid {
            Some(true) => Field::toned("valid", "yes", Tone::Good),
            Some(false) => Field::toned("valid", "no", Tone::Warn),
            None => Field::toned("valid", "unknown", Tone::Dim),
        };
        let mut fields = vec![
            Field::new(
                "base_url",
                format!("{} ({})", report.base_url, report.base_url_source),
            ),
            match (&report.token, &report.token_source) {
                (Some(token), Some(source)) => Field::new("token", format!("{token} ({source})")),
                _ => Field::toned("token", "none", Tone::Warn),
            },
            valid,
        ];
        if let Some(rl) = report.rate_limit {
            fields.push(Field::new(
                "rate_limit",
                format!("{} of {} left", rl.remaining, rl.limit),
            ));
        }
        fields.push(Field::new("config_file", report.config_file.clone()));
        ctx.ui.record(&fields)?;
        print_hosts(ctx, &report.hosts)?;
    }
    check
}

/// The stored hosts under the record: a table on a terminal, `host URL TOKEN default` lines
/// when piped.
fn print_hosts(ctx: &Ctx, hosts: &[HostJson]) -> Result<(), CliError> {
    if hosts.is_empty() {
        return Ok(());
    }
    let rows: Vec<Vec<Value>> = hosts
        .iter()
        .map(|h| {
            let mut row = Vec::new();
            if ctx.ui.mode != OutputMode::Table {
                row.push(Value::new("host"));
            }
            row.push(Value::new(&h.base_url));
            row.push(Value::new(&h.token));
            row.push(if h.default {
                Value::toned("default", Tone::Good)
            } else {
                Value::toned("", Tone::Dim)
            });
            row
        })
        .collect();
    if ctx.ui.mode == OutputMode::Table {
        ctx.ui.stdout_text("")?;
    }
    ctx.ui.rows(&["STORED HOST", "TOKEN", "DEFAULT"], &rows, "")
}

#[derive(Debug, Serialize)]
struct SwitchJson {
    base_url: String,
    token: String,
    config_file: String,
}

fn switch(ctx: &Ctx) -> Result<(), CliError> {
    let settings = &ctx.settings;
    if !matches!(settings.base_url_source, Source::Flag(_) | Source::Env(_)) {
        let hosts: Vec<_> = settings.config.hosts().map(|(url, _)| url).collect();
        return Err(CliError::Usage(format!(
            "auth switch needs --base-url URL (hosts with a stored token: {})",
            if hosts.is_empty() {
                "none".to_string()
            } else {
                hosts.join(", ")
            }
        )));
    }
    let mut config = settings.config.clone();
    if !config.switch_to(&settings.base_url) {
        return Err(settings.require_token().err().unwrap_or_else(|| {
            CliError::Usage(format!("no token is stored for {}", settings.base_url))
        }));
    }
    settings.store.save(&config)?;
    let url = config.base_url.clone().unwrap_or_default();
    let token = config
        .token_for(&url)
        .map(Token::masked)
        .unwrap_or_default();
    let path = settings.store.path();
    if ctx.ui.mode == OutputMode::Json {
        return ctx.ui.json(&SwitchJson {
            base_url: url,
            token,
            config_file: path.display().to_string(),
        });
    }
    ctx.ui.info(&format!(
        "{url} ({token}) is now the default host for plain commands"
    ));
    Ok(())
}

#[derive(Debug, Serialize)]
struct LogoutJson {
    base_url: String,
    removed: bool,
    config_file: String,
}

fn logout(ctx: &Ctx) -> Result<(), CliError> {
    let settings = &ctx.settings;
    let mut config = settings.config.clone();
    let removed = config.remove_token(&settings.base_url);
    if removed {
        settings.store.save(&config)?;
    }
    let path = settings.store.path();
    if ctx.ui.mode == OutputMode::Json {
        ctx.ui.json(&LogoutJson {
            base_url: settings.base_url.clone(),
            removed,
            config_file: path.display().to_string(),
        })?;
    } else if removed {
        ctx.ui.info(&format!(
            "Logged out of {}: removed its token from {}",
            settings.base_url,
            path.display()
        ));
    } else {
        ctx.ui
            .info(&format!("No token stored for {}.", settings.base_url));
    }
    if let Some((_, Source::Env(name))) = &settings.token {
        ctx.ui.warn(&format!("{name} is still set"));
    }
    Ok(())
}
