//! `codes qr`: the images decode back to the code's scan URL.

use crate::support::{Heldqr, Mock, PRO, decode_qr, decode_terminal_qr};

fn setup() -> (Mock, Heldqr, String) {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    let code = cli.create("https://example.com/menu", &["--shortcode", "qr-menu"]);
    let scan_url = code["scan_url"].as_str().unwrap().to_string();
    (mock, cli, scan_url)
}

#[test]
fn terminal_rendering_decodes_to_the_scan_url() {
    let (_mock, cli, scan_url) = setup();
    let dark = cli.run(&["codes", "qr", "qr-menu"]).success();
    assert_eq!(decode_terminal_qr(&dark.stdout, true), scan_url);
    let light = cli.run(&["codes", "qr", "qr-menu", "--light"]).success();
    assert_eq!(decode_terminal_qr(&light.stdout, false), scan_url);
    // On a terminal the scan URL is printed under the code.
    let tty = cli
        .command(&["codes", "qr", "qr-menu"])
        .env("HELDQR_FORCE_TTY", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8(tty.stdout).unwrap();
    assert_eq!(stdout.lines().last().unwrap(), scan_url);
    // --json carries the same drawing.
    let json = cli
        .run(&["codes", "qr", "qr-menu", "--json"])
        .success()
        .json();
    assert_eq!(json["scan_url"], scan_url.as_str());
    assert_eq!(
        decode_terminal_qr(json["text"].as_str().unwrap(), true),
        scan_url
    );
}

#[test]
fn png_file_decodes_to_the_scan_url() {
    let (_mock, cli, scan_url) = setup();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("menu.png");
    let run = cli
        .run(&[
            "codes",
            "qr",
            "qr-menu",
            "--out",
            path.to_str().unwrap(),
            "--size",
            "300",
        ])
        .success();
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("Wrote"), "{}", run.stderr);
    let image = image::open(&path).unwrap().to_luma8();
    assert!(image.width() >= 300);
    assert_eq!(image.width(), image.height());
    let decoded = decode_qr(image.width() as usize, image.height() as usize, |x, y| {
        image.get_pixel(x as u32, y as u32).0[0]
    });
    assert_eq!(decoded, scan_url);
}

#[test]
fn svg_file_and_stdout() {
    let (_mock, cli, _scan_url) = setup();
    let dir = tempfile::tempdir().unwrap();
    // Extension decides; --format overrides.
    let svg = dir.path().join("menu.SVG");
    let json = cli
        .run(&[
            "codes",
            "qr",
            "qr-menu",
            "--out",
            svg.to_str().unwrap(),
            "--json",
        ])
        .success()
        .json();
    assert_eq!(json["format"], "svg");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.starts_with("<?xml") && text.contains("<svg") && text.trim_end().ends_with("</svg>")
    );
    let forced = dir.path().join("image.out");
    cli.run(&[
        "codes",
        "qr",
        "qr-menu",
        "--out",
        forced.to_str().unwrap(),
        "--format",
        "png",
    ])
    .success();
    assert!(
        std::fs::read(&forced)
            .unwrap()
            .starts_with(b"\x89PNG\r\n\x1a\n")
    );

    let piped = cli
        .run(&["codes", "qr", "qr-menu", "--format", "svg"])
        .success();
    assert!(piped.stdout.contains("<svg"));
    let piped = cli
        .run(&["codes", "qr", "qr-menu", "--format", "png"])
        .success();
    assert!(piped.stdout_bytes.starts_with(b"\x89PNG\r\n\x1a\n"));

    // Unknown extension: usage error, nothing written, no request needed.
    let gif = dir.path().join("x.gif");
    cli.run(&["codes", "qr", "qr-menu", "--out", gif.to_str().unwrap()])
        .fails(2, "usage");
    assert!(!gif.exists());
    // PNG bytes are not written to a terminal.
    let tty = cli
        .command(&["codes", "qr", "qr-menu", "--format", "png"])
        .env("HELDQR_FORCE_TTY", "1")
        .output()
        .unwrap();
    assert_eq!(tty.status.code(), Some(2));
}
