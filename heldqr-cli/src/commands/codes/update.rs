//! `heldqr codes update SHORTCODE`: change the destination, label or status. The shortcode is
//! permanent and the printed QR keeps working.

use clap::{ArgGroup, Args};
use heldqr_sdk::CodeStatus;

use super::print_code;
use crate::commands::Ctx;
use crate::error::CliError;

/// Arguments of `codes update`.
#[derive(Debug, Args)]
#[command(
    group(ArgGroup::new("change").required(true).multiple(true)
        .args(["target_url", "label", "clear_label", "status"])),
    after_help = "Examples:
  heldqr codes update menu-v3 --target-url https://example.com/menu-2026
  heldqr codes update menu-v3 --label \"Summer menu\"
  heldqr codes update menu-v3 --status paused     # the scan URL answers 410 until resumed"
)]
pub struct UpdateArgs {
    /// The code's shortcode.
    pub shortcode: String,

    /// New destination: an absolute http or https URL.
    #[arg(long, value_name = "URL")]
    pub target_url: Option<String>,

    /// New label.
    #[arg(long, value_name = "TEXT", conflicts_with = "clear_label")]
    pub label: Option<String>,

    /// Remove the label.
    #[arg(long)]
    pub clear_label: bool,

    /// Pause (scans answer 410 and are not counted) or resume the code.
    #[arg(long, value_enum, value_name = "STATUS")]
    pub status: Option<StatusArg>,
}

/// The statuses a code can be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusArg {
    /// The scan URL redirects.
    Active,
    /// The scan URL answers 410 and records nothing.
    Paused,
}

/// Runs `codes update`.
pub async fn run(args: UpdateArgs, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.settings.client()?;
    let mut request = client.codes().update(&args.shortcode);
    if let Some(target_url) = args.target_url {
        request = request.target_url(target_url);
    }
    if let Some(label) = args.label {
        request = request.label(label);
    }
    if args.clear_label {
        request = request.clear_label();
    }
    if let Some(status) = args.status {
        request = request.status(match status {
            StatusArg::Active => CodeStatus::Active,
            StatusArg::Paused => CodeStatus::Paused,
        });
    }
    let code = request.send().await?;
    print_code(ctx, &code)
}
