//! `heldqr codes …`: the QR code commands, one module each, plus how a code is shown (the
//! fields of one code, the columns of a list) so every command prints codes the same way.

pub mod create;
pub mod get;
pub mod import;
pub mod list;
pub mod qr;
pub mod scans;
pub mod update;

use clap::Subcommand;
use heldqr_sdk::{Code, CodeStatus};
use time::OffsetDateTime;

use super::Ctx;
use crate::error::CliError;
use crate::output::{Field, Tone, Value};

/// `heldqr codes` subcommands.
#[derive(Debug, Subcommand)]
#[command(after_help = "Examples:
  heldqr codes create --target-url https://example.com/menu --label \"Restaurant menu\"
  heldqr codes list --all
  heldqr codes qr menu-v3")]
pub enum CodesCommand {
    /// List your codes, oldest first.
    List(list::ListArgs),
    /// Create a code.
    Create(create::CreateArgs),
    /// Show one code.
    Get(get::GetArgs),
    /// Change a code's destination, label or status (the printed QR keeps working).
    Update(update::UpdateArgs),
    /// Show a code's scans: totals, and on pro/business daily buckets, countries and devices.
    Scans(scans::ScansArgs),
    /// Draw a code's QR image: in the terminal, or to an SVG or PNG file.
    Qr(qr::QrArgs),
    /// Create codes from a CSV file (target_url,label,shortcode), safely re-runnable.
    Import(import::ImportArgs),
}

/// Runs one `codes` subcommand.
pub async fn run(command: CodesCommand, ctx: &Ctx) -> Result<(), CliError> {
    match command {
        CodesCommand::List(args) => list::run(args, ctx).await,
        CodesCommand::Create(args) => create::run(args, ctx).await,
        CodesCommand::Get(args) => get::run(args, ctx).await,
        CodesCommand::Update(args) => update::run(args, ctx).await,
        CodesCommand::Scans(args) => scans::run(args, ctx).await,
        CodesCommand::Qr(args) => qr::run(args, ctx).await,
        CodesCommand::Import(args) => import::run(args, ctx).await,
    }
}

/// Prints one code: all its fields (or the JSON object with `--json`).
pub fn print_code(ctx: &Ctx, code: &Code) -> Result<(), CliError> {
    if ctx.ui.mode == crate::output::OutputMode::Json {
        return ctx.ui.json(code);
    }
    ctx.ui.record(&code_fields(code))
}

/// The fields of one code, named as in the API.
pub fn code_fields(code: &Code) -> Vec<Field> {
    vec![
        Field::new("shortcode", &code.shortcode),
        Field::toned("status", code.status.as_str(), status_tone(&code.status)),
        Field::new("target_url", &code.target_url),
        match &code.label {
            Some(label) => Field::new("label", label),
            None => Field::toned("label", "", Tone::Dim),
        },
        Field::new("scan_url", code.scan_url.as_deref().unwrap_or_default()),
        Field::new("created_at", rfc3339(code.created_at)),
        Field::new(
            "updated_at",
            code.updated_at.map(rfc3339).unwrap_or_default(),
        ),
    ]
}

/// Column titles of a list of codes.
pub const LIST_HEADERS: [&str; 5] = ["SHORTCODE", "STATUS", "TARGET URL", "LABEL", "CREATED"];

/// One line of a list of codes.
pub fn code_row(code: &Code) -> Vec<Value> {
    vec![
        Value::new(&code.shortcode),
        Value::toned(code.status.as_str(), status_tone(&code.status)),
        Value::new(&code.target_url),
        Value::new(code.label.clone().unwrap_or_default()),
        Value::new(rfc3339(code.created_at)),
    ]
}

fn status_tone(status: &CodeStatus) -> Tone {
    match status {
        CodeStatus::Active => Tone::Good,
        CodeStatus::Paused => Tone::Warn,
        _ => Tone::Plain,
    }
}

/// RFC 3339 (`2026-05-15T14:21:03Z`), as the API writes timestamps.
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}
