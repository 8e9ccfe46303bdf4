//! `heldqr codes list`: one page of codes, or every page with `--all` (printed as one table, or
//! one JSON array, never one per page). `--json-lines` prints one compact JSON object per line
//! as each page arrives, so `--all --json-lines` lists any number of codes in the memory of one
//! page; `--json` keeps its promise of one complete document or nothing.

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
  heldqr codes list --all --jq '.[] | [.shortcode, .target_url] | @tsv'
  heldqr codes list --all --json-lines > codes.jsonl    # streams: any number of codes

--json prints one array once every page is in (nothing if a page fails). --json-lines prints
each code as soon as its page arrives; if a later page fails, the lines printed stand and the
exit code says it failed. With --jq, --json-lines applies the filter to each code.")]
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

    /// One compact JSON object per line, printed as pages arrive (instead of --json's array).
    #[arg(long, conflicts_with = "json")]
    pub json_lines: bool,
}

/// Runs `codes list`.
pub async fn run(args: ListArgs, ctx: &Ctx) -> Result<(), CliError> {
    // clap's conflict does not see a `--json` given before the subcommand.
    if args.json_lines && ctx.ui.mode == OutputMode::Json && ctx.ui.jq.is_none() {
        return Err(CliError::Usage(
            "the argument '--json' cannot be used with '--json-lines'".into(),
        ));
    }
    let client = ctx.settings.client()?;
    let mut request = client.codes().list();
    if args.json_lines {
        return json_lines(args, request, ctx).await;
    }
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

/// `--json-lines`: each code printed as its page arrives. Memory holds one page at a time.
async fn json_lines(
    args: ListArgs,
    mut request: heldqr_sdk::ListCodes,
    ctx: &Ctx,
) -> Result<(), CliError> {
    if let Some(page_size) = args.page_size.or(args.all.then_some(100)) {
        request = request.page_size(page_size);
    }
    if !args.all {
        if let Some(page) = args.page {
            request = request.page(page);
        }
        let page = request.send().await?.into_inner();
        for code in &page.items {
            ctx.ui.json_line(code)?;
        }
        if let Some(notice) = more_pages_notice(&page.pagination) {
            ctx.ui.info(&notice);
        }
        return Ok(());
    }
    let mut codes = request.into_stream();
    while let Some(code) = codes.try_next().await? {
        ctx.ui.json_line(&code)?;
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
