//! `heldqr codes scans SHORTCODE`: what the plan reports. Always the lifetime totals; on pro
//! and business also the window's daily buckets as a bar chart (see [`crate::chart`]) and the
//! country and device breakdowns as tables. Piped, the same facts come as tab-separated lines
//! (`daily DATE N`, `country CC N`, `device NAME N`); `--json` prints the report as the API sent it.

use anstyle::{AnsiColor, Style};
use clap::Args;
use heldqr_sdk::{ScanReport, WindowedScans};

use super::rfc3339;
use crate::chart;
use crate::commands::Ctx;
use crate::error::CliError;
use crate::output::{Field, OutputMode, Tone, Value, plain};

/// Arguments of `codes scans`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  heldqr codes scans menu-v3
  heldqr codes scans menu-v3 --jq '.daily[-7:][] | \"\\(.date) \\(.scans)\"'
  heldqr codes scans menu-v3 | awk -F'\\t' '$1 == \"country\"'   # piped: tab-separated lines")]
pub struct ScansArgs {
    /// The code's shortcode.
    pub shortcode: String,
}

/// Runs `codes scans`.
pub async fn run(args: ScansArgs, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.settings.client()?;
    let report = client
        .codes()
        .scans(&args.shortcode)
        .send()
        .await?
        .into_inner();
    match ctx.ui.mode {
        OutputMode::Json => ctx.ui.json(&report),
        OutputMode::Plain => ctx.ui.stdout_text(&plain_lines(&report).join("\n")),
        OutputMode::Table => print_tables(ctx, &report),
    }
}

fn optional_time(at: Option<time::OffsetDateTime>) -> String {
    at.map(rfc3339).unwrap_or_default()
}

/// The totals every plan has.
fn total_fields(report: &ScanReport) -> Vec<Field> {
    let (first, last) = match report {
        ScanReport::Free(r) => (r.first_scan_at, r.last_scan_at),
        ScanReport::Pro(w) | ScanReport::Business(w) => (w.first_scan_at, w.last_scan_at),
        _ => (None, None),
    };
    let mut fields = vec![
        Field::new("plan", report.plan().to_string()),
        Field::new("shortcode", report.shortcode()),
        Field::new("total_scans", report.total_scans().to_string()),
    ];
    if !matches!(report, ScanReport::Unknown { .. }) {
        fields.push(time_field("first_scan_at", first));
        fields.push(time_field("last_scan_at", last));
    }
    if let Some(w) = report.windowed() {
        fields.push(Field::new(
            "window",
            format!(
                "{} to {} ({} days)",
                w.window.start_date, w.window.end_date, w.window.days
            ),
        ));
        fields.push(Field::new("window_scans", w.window_scans.to_string()));
    }
    fields
}

fn time_field(name: &'static str, at: Option<time::OffsetDateTime>) -> Field {
    match at {
        Some(at) => Field::new(name, rfc3339(at)),
        None => Field::toned(name, "", Tone::Dim),
    }
}

/// Tab-separated lines for pipes.
fn plain_lines(report: &ScanReport) -> Vec<String> {
    let mut lines = vec![
        format!("plan\t{}", plain(&report.plan().to_string())),
        format!("shortcode\t{}", plain(report.shortcode())),
        format!("total_scans\t{}", report.total_scans()),
    ];
    let (first, last) = match report {
        ScanReport::Free(r) => (r.first_scan_at, r.last_scan_at),
        ScanReport::Pro(w) | ScanReport::Business(w) => (w.first_scan_at, w.last_scan_at),
        _ => (None, None),
    };
    lines.push(format!("first_scan_at\t{}", optional_time(first)));
    lines.push(format!("last_scan_at\t{}", optional_time(last)));
    if let Some(w) = report.windowed() {
        lines.push(format!(
            "window\t{}\t{}\t{}",
            w.window.start_date, w.window.end_date, w.window.days
        ));
        lines.push(format!("window_scans\t{}", w.window_scans));
        lines.extend(
            w.daily
                .iter()
                .map(|d| format!("daily\t{}\t{}", d.date, d.scans)),
        );
        lines.extend(
            w.countries
                .iter()
                .map(|c| format!("country\t{}\t{}", plain(&c.country), c.scans)),
        );
        lines.extend(
            w.devices
                .iter()
                .map(|d| format!("device\t{}\t{}", plain(d.device.as_str()), d.scans)),
        );
    }
    lines
}

fn print_tables(ctx: &Ctx, report: &ScanReport) -> Result<(), CliError> {
    ctx.ui.record(&total_fields(report))?;
    match report.windowed() {
        Some(w) => print_window(ctx, w),
        None => {
            if matches!(report, ScanReport::Free(_)) {
                ctx.ui.info(
                    "The free plan reports lifetime totals; pro and business add daily scans, countries and devices.",
                );
            }
            Ok(())
        }
    }
}

fn print_window(ctx: &Ctx, w: &WindowedScans) -> Result<(), CliError> {
    let daily: Vec<_> = w.daily.iter().map(|d| (d.date, d.scans)).collect();
    let grouping = chart::Grouping::for_days(daily.len());
    let buckets = chart::group(&daily, grouping);
    let bar_style = Style::new().fg_color(Some(AnsiColor::Cyan.into()));
    let lines = chart::render(&buckets, |bar| ctx.ui.paint_out(bar, bar_style));
    let title = ctx.ui.paint_out(
        &format!(
            "Scans, {} ({} to {})",
            grouping.title(),
            w.window.start_date,
            w.window.end_date
        ),
        Style::new().bold(),
    );
    ctx.ui
        .stdout_text(&format!("\n{title}\n{}", lines.join("\n")))?;

    if w.window_scans == 0 {
        ctx.ui.info("No scans in the window yet.");
        return Ok(());
    }
    let share = |scans: u64| {
        if w.window_scans == 0 {
            String::new()
        } else {
            format!("{:.1}%", scans as f64 * 100.0 / w.window_scans as f64)
        }
    };
    ctx.ui.stdout_text("")?;
    let countries: Vec<Vec<Value>> = w
        .countries
        .iter()
        .map(|c| {
            vec![
                Value::new(&c.country),
                Value::number(c.scans),
                Value::number(share(c.scans)),
            ]
        })
        .collect();
    ctx.ui
        .rows(&["COUNTRY", "SCANS", "SHARE"], &countries, "No countries.")?;
    ctx.ui.stdout_text("")?;
    let devices: Vec<Vec<Value>> = w
        .devices
        .iter()
        .map(|d| {
            vec![
                Value::new(d.device.as_str()),
                Value::number(d.scans),
                Value::number(share(d.scans)),
            ]
        })
        .collect();
    ctx.ui
        .rows(&["DEVICE", "SCANS", "SHARE"], &devices, "No devices.")
}
