//! `heldqr codes qr SHORTCODE`: the code's `scan_url` as a QR image, drawn locally (see
//! [`crate::qr`]): unicode half blocks in the terminal, or an SVG or PNG file with `--out`
//! (format from the extension, or `--format`), or SVG/PNG bytes on stdout with `--format`.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use crate::commands::Ctx;
use crate::error::CliError;
use crate::output::{OutputMode, one_line};
use crate::qr::{self, ImageFormat};

/// Arguments of `codes qr`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  heldqr codes qr menu-v3                      # draw it in the terminal
  heldqr codes qr menu-v3 --out menu-v3.png    # PNG (or .svg), at least 512 px
  heldqr codes qr menu-v3 --format svg > menu-v3.svg
  heldqr codes qr menu-v3 --light              # for terminals with a light background")]
pub struct QrArgs {
    /// The code's shortcode.
    pub shortcode: String,

    /// Write the image to FILE (SVG or PNG, from the extension unless --format says).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Image format; without --out the image goes to stdout.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<ImageFormat>,

    /// Minimum width and height of the image in pixels. Every module (quiet zone included)
    /// gets the same whole number of pixels, so the image is the smallest such size at or above
    /// PIXELS (512 gives 518 for a typical 37-module code).
    #[arg(long, value_name = "PIXELS", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(21..=8192))]
    pub size: u32,

    /// Terminal drawing for a light background (dark modules drawn as blocks).
    #[arg(long)]
    pub light: bool,
}

/// What `--json` prints.
#[derive(Debug, Serialize)]
struct QrJson<'a> {
    shortcode: &'a str,
    scan_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
}

/// Where the image goes, decided before any request is made.
enum Target {
    Terminal,
    File(PathBuf, ImageFormat),
    Stdout(ImageFormat),
}

fn target(args: &QrArgs, ctx: &Ctx) -> Result<Target, CliError> {
    match (&args.out, args.format) {
        (Some(path), format) => {
            let format = format
                .or_else(|| ImageFormat::from_path(path))
                .ok_or_else(|| {
                    CliError::Usage(format!(
                        "cannot tell the image format of {}: use a .svg or .png name, or --format",
                        path.display()
                    ))
                })?;
            Ok(Target::File(path.clone(), format))
        }
        (None, Some(format)) => {
            if ctx.ui.mode == OutputMode::Json {
                return Err(CliError::Usage(
                    "--json prints JSON on stdout; add --out FILE to write the image".into(),
                ));
            }
            if format == ImageFormat::Png && ctx.ui.mode == OutputMode::Table {
                return Err(CliError::Usage(
                    "refusing to write PNG bytes to a terminal; add --out FILE or redirect stdout"
                        .into(),
                ));
            }
            Ok(Target::Stdout(format))
        }
        (None, None) => Ok(Target::Terminal),
    }
}

/// Runs `codes qr`.
pub async fn run(args: QrArgs, ctx: &Ctx) -> Result<(), CliError> {
    let target = target(&args, ctx)?;
    let client = ctx.settings.client()?;
    let code = client
        .codes()
        .get(&args.shortcode)
        .send()
        .await?
        .into_inner();
    let scan_url = check_scan_url(&code)?;
    let qr = qr::encode(scan_url)?;
    let mut json = QrJson {
        shortcode: &code.shortcode,
        scan_url,
        format: None,
        file: None,
        text: None,
    };
    match target {
        Target::Terminal => {
            let text = qr::to_terminal(&qr, args.light);
            match ctx.ui.mode {
                OutputMode::Json => {
                    json.text = Some(text);
                    ctx.ui.json(&json)
                }
                OutputMode::Table => ctx
                    .ui
                    .stdout_text(&format!("{text}\n{}", one_line(scan_url))),
                OutputMode::Plain => ctx.ui.stdout_text(&text),
            }
        }
        Target::Stdout(format) => ctx.ui.stdout_bytes(&render(&qr, format, args.size)?),
        Target::File(path, format) => {
            let bytes = render(&qr, format, args.size)?;
            write_file(&path, &bytes)?;
            if ctx.ui.mode == OutputMode::Json {
                json.format = Some(format.as_str());
                json.file = Some(path.display().to_string());
                ctx.ui.json(&json)
            } else {
                ctx.ui.info(&format!(
                    "Wrote {} ({}) encoding {}",
                    path.display(),
                    format.as_str().to_uppercase(),
                    one_line(scan_url)
                ));
                Ok(())
            }
        }
    }
}

/// A code whose response had no (or an empty) `scan_url` has nothing to encode: say so
/// instead of drawing an empty QR.
fn check_scan_url(code: &heldqr_sdk::Code) -> Result<&str, CliError> {
    match code.scan_url.as_deref() {
        Some(url) if !url.trim().is_empty() => Ok(url),
        _ => Err(CliError::Other(format!(
            "the API returned code {} without a scan_url, so there is no URL to draw as a QR",
            one_line(&code.shortcode)
        ))),
    }
}

fn render(qr: &qrcode::QrCode, format: ImageFormat, size: u32) -> Result<Vec<u8>, CliError> {
    match format {
        ImageFormat::Svg => Ok(qr::to_svg(qr, size).into_bytes()),
        ImageFormat::Png => qr::to_png(qr, size),
    }
}

/// Writes the image (created with the usual permissions, like any file the user makes).
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, bytes)
        .map_err(|err| CliError::io(format!("cannot write {}", path.display()), err))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(scan_url: Option<&str>) -> heldqr_sdk::Code {
        let mut raw = serde_json::json!({"shortcode": "menu-v3",
            "target_url": "https://example.com/menu", "status": "active",
            "created_at": "2026-05-15T14:21:03Z"});
        if let Some(url) = scan_url {
            raw["scan_url"] = url.into();
        }
        serde_json::from_value(raw).unwrap()
    }

    #[test]
    fn a_code_without_scan_url_is_a_one_line_error() {
        for scan_url in [None, Some(""), Some("  ")] {
            let err = check_scan_url(&code(scan_url)).unwrap_err();
            let message = err.describe().message;
            assert!(
                message.contains("menu-v3") && message.contains("scan_url"),
                "{message}"
            );
            assert!(!message.contains('\n'));
            assert_eq!(err.exit_status(), crate::error::ExitStatus::Other);
        }
        assert!(check_scan_url(&code(Some("https://hqr.to/r/menu-v3"))).is_ok());
    }
}
