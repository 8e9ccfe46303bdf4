//! `heldqr`: the command line for the Heldqr Management API, built only on `heldqr-sdk`.
//!
//! `main` only wires: parse the arguments (clap exits 2 on a usage error), decide the output
//! behaviour, run the command, print any error on stderr and leave with its documented exit
//! code (see [`error::ExitStatus`]). Everything else lives in the modules below.

mod chart;
mod cli;
mod commands;
mod config;
mod error;
mod import_file;
mod jq;
mod ledger;
mod output;
mod qr;
mod secret;
mod settings;
mod verbose;

use std::process::ExitCode;

use clap::Parser;

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
    match commands::run(cli, &ui, &env, &mut hints) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            ui.report(&err, hints);
            err.exit_status().code()
        }
    }
}
