//! `heldqr completions SHELL`: the completion script for a shell, generated from the clap
//! definition by `clap_complete`, printed on stdout.

use clap::Args;
use clap_complete::Shell;

use crate::error::CliError;
use crate::output::Ui;

/// Arguments of `completions`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  heldqr completions bash > ~/.local/share/bash-completion/completions/heldqr
  heldqr completions zsh > \"${fpath[1]}/_heldqr\"
  heldqr completions fish > ~/.config/fish/completions/heldqr.fish")]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Prints the completion script for `command` (the whole `heldqr` grammar).
pub fn run(args: &CompletionsArgs, mut command: clap::Command, ui: &Ui) -> Result<(), CliError> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "heldqr", &mut script);
    ui.stdout_bytes(&script)
}
