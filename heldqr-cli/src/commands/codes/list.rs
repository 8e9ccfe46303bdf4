//! `heldqr codes list`: one page of codes, or every page with `--all` (printed as one table, or
//! one JSON array, never one per page).

use clap::Args;
use futures_util::TryStreamExt;

use super::{LIST_HEADERS, code_row};
use crate::commands::Ctx;
use crate::error::CliError;
use crate::output::OutputMode;

/// Arguments of `codes list`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  heldqr codes list
  heldqr codes list --page 2 --page-size 20
  heldqr codes list --all --json | jq -r '.[] | [.shortcode, .target_url] | @tsv'")]
pub struct ListArgs {
    /// Page to show, from 1.
    #[arg(long, value_name = "N", conflicts_with = "all",
          value_parser = clap::value_parser!(u32).range(1..=1_000_000_000))]
    pub page: Option<u32>,

    /// Codes per page, 1-100 [default: 50, or 100 with --all]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub page_size: Option<u32>,

    /// Walk every page and print all codes.
    #[arg(long)]
    pub all: bool,
}

/// Runs `codes list`.
pub async fn run(args: ListArgs, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.settings.client()?;
    let mut request = client.codes().list();
    let (codes, pagination) = if args.all {
        request = request.page_size(args.page_size.unwrap_or(100));
        let codes: Vec<_> = request.into_stream().try_collect().await?;
        (codes, None)
    } else {
        if let Some(page) = args.page {
            request = request.page(page);
        }
        if let Some(page_size) = args.page_size {
            request = request.page_size(page_size);
        }
        let page = request.send().await?.into_inner();
        (page.items, Some(page.pagination))
    };

    if ctx.ui.mode != OutputMode::Table {
        // A script reading stdout sees no "Page 1 of N" line: say on stderr that there is
        // more, so a piped list is never silently one page.
        if let Some(notice) = pagination.as_ref().and_then(more_pages_notice) {
            ctx.ui.info(&notice);
        }
    }
    if ctx.ui.mode == OutputMode::Json {
        return ctx.ui.json(&codes);
    }
    let rows: Vec<_> = codes.iter().map(code_row).collect();
    let empty = match &pagination {
        Some(p) if p.total > 0 => format!(
            "Page {} is past the end: there are {} pages.",
            p.page, p.total_pages
        ),
        _ => "No codes yet. Create one: heldqr codes create --target-url URL".to_string(),
    };
    ctx.ui.rows(&LIST_HEADERS, &rows, &empty)?;
    if ctx.ui.mode == OutputMode::Table
        && let Some(p) = pagination.filter(|p| p.total_pages > 1 && !codes.is_empty())
    {
        let next = if p.page < p.total_pages {
            format!("; next: --page {}", p.page + 1)
        } else {
            String::new()
        };
        ctx.ui.info(&format!(
            "Page {} of {} ({} codes){next}; all at once: --all",
            p.page, p.total_pages, p.total
        ));
    }
    Ok(())
}

/// The stderr notice of a piped or `--json` list with pages after this one.
fn more_pages_notice(p: &heldqr_sdk::Pagination) -> Option<String> {
    (p.page < p.total_pages).then(|| {
        format!(
            "showing page {} of {}; use --all for every code",
            p.page, p.total_pages
        )
    })
}
