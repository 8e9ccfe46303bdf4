//! `heldqr`: the command line for the Heldqr Management API, built only on `heldqr-sdk`.
//!
//! `main` only wires: parse the arguments (clap exits 2 on a usage error), decide the output
//! behaviour, resolve the settings once, install the `-v` subscriber, start the async runtime
//! (only for commands that talk to the API), dispatch to the command, print any error on
//! stderr and leave with its documented exit code (see [`error::ExitStatus`]). Everything else
//! lives in the modules below.

mod chart;
mod cli;
mod commands;
mod config;
mod error;
mod globals;
mod import_file;
mod jq;
mod ledger;
mod output;
mod qr;
mod secret;
mod settings;
mod verbose;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Command};
use crate::commands::{api, auth, codes, completions};
use crate::error::{CliError, HintCommand, HintContext};
use crate::output::Ui;
use crate::settings::{Purpose, Settings};

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let env = |name: &str| std::env::var(name).ok();
    let terminal = output::Terminal::detect(env);
    let ui = output::Ui::new(cli.globals.json, &terminal);
    let mut hints = error::HintContext::default();
    // A bad --jq is a usage error before anything is sent.
    let ui = match cli.globals.jq.as_deref().map(jq::Jq::compile).transpose() {
        Ok(jq) => ui.with_jq(jq),
        Err(err) => {
            ui.report(&err, hints);
            return err.exit_status().code();
        }
    };
    match run(cli, &ui, &env, &mut hints) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            ui.report(&err, hints);
            err.exit_status().code()
        }
    }
}

/// Runs the parsed command line. `hints` is filled in as the run learns what the error hints
/// need (which command, whether the host is this machine).
fn run(
    cli: Cli,
    ui: &Ui,
    env: &dyn Fn(&str) -> Option<String>,
    hints: &mut HintContext,
) -> Result<(), CliError> {
    let Cli { globals, command } = cli;
    hints.command = match &command {
        Command::Auth(auth::AuthCommand::Status(_)) => HintCommand::AuthStatus,
        Command::Auth(auth::AuthCommand::Login(_)) => HintCommand::AuthLogin,
        Command::Codes(codes::CodesCommand::Import(_)) => HintCommand::Import,
        _ => HintCommand::Other,
    };
    if let Command::Completions(args) = &command {
        // No config, no runtime: completions must work anywhere.
        return completions::run(args, Cli::command(), ui);
    }
    let purpose = match &command {
        // A login targets --base-url, HELDQR_BASE_URL or the production host: never the host
        // of the last login, so a live token is never stored under (or sent to) a mock.
        Command::Auth(auth::AuthCommand::Login(_)) => Purpose {
            tolerate_bad_config: true,
            default_host_from_config: false,
        },
        // Logout and switch change the file: one that cannot be read is an error (logout
        // would say "no token stored" while the token stays on disk), which says to fix it or
        // log in again. Only login rewrites a broken file.
        _ => Purpose::COMMAND,
    };
    let settings = Settings::resolve_for(&globals, env, purpose)?;
    crate::verbose::init(
        settings.verbosity,
        settings.token.as_ref().map(|(token, _)| token),
    );
    tracing::debug!(
        host = %settings.base_url,
        host_from = %settings.base_url_source,
        token = %settings.token.as_ref().map(|(t, _)| t.masked()).unwrap_or_else(|| "none".into()),
        token_from = %settings.token.as_ref().map(|(_, s)| s.to_string()).unwrap_or_default(),
        "settings"
    );
    hints.local_host = crate::settings::is_local_host(&settings.base_url);
    hints.default_host = crate::config::host_key(&settings.base_url)
        == crate::config::host_key(heldqr_sdk::DEFAULT_BASE_URL);
    for warning in &settings.warnings {
        ui.warn(warning);
    }
    if settings.token.is_some() && !is_safe_transport(&settings.base_url) {
        ui.warn(&format!(
            "{} is plain http: the token travels unencrypted",
            settings.base_url
        ));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| CliError::io("cannot start the async runtime", err))?;
    let ctx = commands::Ctx {
        ui: ui.clone(),
        settings,
    };
    runtime.block_on(async move {
        match command {
            Command::Codes(command) => codes::run(command, &ctx).await,
            Command::Auth(command) => auth::run(command, &ctx).await,
            Command::Api(args) => api::run(args, &ctx).await,
            Command::Completions(args) => completions::run(&args, Cli::command(), &ctx.ui),
        }
    })
}

/// https anywhere, or http to this machine.
fn is_safe_transport(base_url: &str) -> bool {
    !base_url.starts_with("http://") || crate::settings::is_local_host(base_url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_only_safe_on_loopback() {
        assert!(is_safe_transport("https://api.heldqr.com"));
        assert!(is_safe_transport("http://127.0.0.1:8080"));
        assert!(is_safe_transport("http://localhost:1/x"));
        assert!(is_safe_transport("http://[::1]:8080"));
        assert!(!is_safe_transport("http://api.heldqr.com"));
        assert!(!is_safe_transport("http://10.0.0.1"));
    }
}
