//! `heldqr codes get SHORTCODE`: one code, every field.

use clap::Args;

use super::print_code;
use crate::commands::Ctx;
use crate::error::CliError;

/// Arguments of `codes get`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  heldqr codes get menu-v3
  heldqr codes get menu-v3 --jq .target_url")]
pub struct GetArgs {
    /// The code's shortcode.
    pub shortcode: String,
}

/// Runs `codes get`.
pub async fn run(args: GetArgs, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.settings.client()?;
    let code = client.codes().get(&args.shortcode).send().await?;
    print_code(ctx, &code)
}
