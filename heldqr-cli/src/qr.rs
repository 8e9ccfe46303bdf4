//! Turning a scan URL into a QR image, locally, with the `qrcode` crate.
//!
//! Three renderings: unicode half blocks for a terminal (two modules per character cell, so the
//! code stays square), SVG, and PNG (through the `image` crate with only its PNG codec). Error
//! correction is level M, a quiet zone of four modules is always included (scanners need it).

use std::path::Path;

use qrcode::render::{svg, unicode::Dense1x2};
use qrcode::{EcLevel, QrCode};

use crate::error::CliError;

/// The image formats `codes qr` can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImageFormat {
    /// Scalable vector graphics.
    Svg,
    /// Portable network graphics (grayscale).
    Png,
}

impl ImageFormat {
    /// The format named by a file's extension (`.svg`, `.png`, any case).
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "svg" => Some(ImageFormat::Svg),
            "png" => Some(ImageFormat::Png),
            _ => None,
        }
    }

    /// The lowercase name (`svg`, `png`).
    pub fn as_str(self) -> &'static str {
        match self {
            ImageFormat::Svg => "svg",
            ImageFormat::Png => "png",
        }
    }
}

/// Encodes `data` as a QR code (error correction M).
pub fn encode(data: &str) -> Result<QrCode, CliError> {
    QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)
        .map_err(|err| CliError::Other(format!("cannot encode {data:?} as a QR code: {err}")))
}

/// Unicode half blocks. By default light modules are drawn as blocks, which reads correctly on
/// the usual dark terminal background; `light_background` draws the dark modules instead.
pub fn to_terminal(code: &QrCode, light_background: bool) -> String {
    let mut renderer = code.render::<Dense1x2>();
    renderer.quiet_zone(true).module_dimensions(1, 1);
    if !light_background {
        renderer
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark);
    }
    renderer.build()
}

/// An SVG document at least `size` pixels wide, black on white.
pub fn to_svg(code: &QrCode, size: u32) -> String {
    code.render::<svg::Color<'_>>()
        .quiet_zone(true)
        .min_dimensions(size, size)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build()
}

/// A grayscale PNG at least `size` pixels wide, black on white.
pub fn to_png(code: &QrCode, size: u32) -> Result<Vec<u8>, CliError> {
    let image = code
        .render::<image::Luma<u8>>()
        .quiet_zone(true)
        .min_dimensions(size, size)
        .build();
    let mut bytes = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, image::ImageFormat::Png)
        .map_err(|err| CliError::Other(format!("cannot encode the PNG: {err}")))?;
    Ok(bytes.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://127.0.0.1:8080/r/menu-v3";

    #[test]
    fn format_from_extension() {
        assert_eq!(
            ImageFormat::from_path(Path::new("a/b.SVG")),
            Some(ImageFormat::Svg)
        );
        assert_eq!(
            ImageFormat::from_path(Path::new("x.png")),
            Some(ImageFormat::Png)
        );
        assert_eq!(ImageFormat::from_path(Path::new("x.jpg")), None);
        assert_eq!(ImageFormat::from_path(Path::new("x")), None);
    }

    #[test]
    fn terminal_rendering_is_square_with_quiet_zone() {
        let code = encode(URL).unwrap();
        let modules = code.width() + 8; // 4-module quiet zone on each side
        let text = to_terminal(&code, false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), modules.div_ceil(2));
        assert!(lines.iter().all(|l| l.chars().count() == modules));
        // Inverted (dark terminal): the quiet zone is light, drawn as full blocks.
        assert!(lines[0].chars().all(|c| c == '█'));
        // Light background: the quiet zone is blank.
        let light = to_terminal(&code, true);
        assert!(light.lines().next().unwrap().chars().all(|c| c == ' '));
    }

    #[test]
    fn png_decodes_to_the_requested_size() {
        let code = encode(URL).unwrap();
        let png = to_png(&code, 300).unwrap();
        let image = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap();
        // The smallest whole number of pixels per module (quiet zone included) reaching 300.
        let modules = code.width() as u32 + 8;
        assert_eq!(image.width(), modules * 300u32.div_ceil(modules));
        assert_eq!(image.width(), image.height());
    }

    #[test]
    fn svg_is_a_document() {
        let code = encode(URL).unwrap();
        let svg = to_svg(&code, 200);
        assert!(svg.starts_with("<?xml"));
        assert!(svg.contains("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
    }
}
