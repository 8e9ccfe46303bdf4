//! `codes scans`: what each plan shows, as a chart and tables, piped lines and JSON.

use crate::support::{BUSINESS, FREE, Heldqr, Mock, PRO};

/// The mock's clock is frozen here (`--clock-start`), so the window's days are known and no
/// test can straddle midnight UTC.
const CLOCK_START: &str = "2026-06-15T12:00:00Z";
/// The mock's current day at [`CLOCK_START`].
const TODAY: &str = "2026-06-15";

fn mock_at_fixed_time() -> Mock {
    let mock = Mock::start_with(&["--clock-start", CLOCK_START]);
    assert_eq!(
        mock.today().to_string(),
        TODAY,
        "the mock runs on the fixed clock"
    );
    mock
}

fn tty(cli: &Heldqr, args: &[&str]) -> String {
    let out = cli
        .command(args)
        .env("HELDQR_FORCE_TTY", "1")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn pro_shows_daily_chart_countries_and_devices() {
    let mock = mock_at_fixed_time();
    let cli = Heldqr::with_token(&mock, PRO);
    cli.create("https://example.com/menu", &["--shortcode", "scan-pro"]);
    mock.add_scans("scan-pro", 3, 5, "DE", "mobile");
    // Two real scans: a phone in France and curl (a bot).
    assert_eq!(
        mock.scan("scan-pro", "FR", "Mozilla/5.0 (iPhone; Mobile)")
            .status,
        302
    );
    assert_eq!(mock.scan("scan-pro", "fr", "curl/8.0").status, 302);

    let json = cli
        .run(&["codes", "scans", "scan-pro", "--json"])
        .success()
        .json();
    assert_eq!(json["plan"], "pro");
    assert_eq!(json["total_scans"], 17);
    assert_eq!(json["daily"].as_array().unwrap().len(), 30);
    assert_eq!(json["countries"][0]["country"], "DE");
    assert_eq!(json["countries"][0]["scans"], 15);

    let plain = cli.run(&["codes", "scans", "scan-pro"]).success();
    let lines: Vec<&str> = plain.stdout.lines().collect();
    assert!(lines.contains(&"plan\tpro"));
    assert!(lines.contains(&"total_scans\t17"));
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("daily\t")).count(),
        30
    );
    assert!(lines.contains(&"country\tDE\t15"));
    assert!(lines.contains(&"country\tFR\t2"));
    assert!(lines.contains(&"device\tmobile\t16"));
    assert!(lines.contains(&"device\tbot\t1"));
    // 30 days ending today; the last three days got 5 each, today also the two real scans.
    assert!(
        lines.contains(&"window\t2026-05-17\t2026-06-15\t30"),
        "{lines:?}"
    );
    assert!(lines.contains(&"daily\t2026-05-17\t0"), "{lines:?}");
    assert!(lines.contains(&"daily\t2026-06-12\t0"), "{lines:?}");
    assert!(lines.contains(&"daily\t2026-06-13\t5"), "{lines:?}");
    assert!(lines.contains(&"daily\t2026-06-14\t5"), "{lines:?}");
    assert_eq!(
        lines.iter().rfind(|l| l.starts_with("daily\t")),
        Some(&"daily\t2026-06-15\t7")
    );

    let table = tty(&cli, &["codes", "scans", "scan-pro"]);
    assert!(table.contains("Scans, daily"), "{table}");
    // Today has the most scans (5 + 2): the full bar is today's.
    let today_line = table
        .lines()
        .find(|l| l.starts_with(TODAY))
        .unwrap_or_else(|| panic!("no chart line for {TODAY}:\n{table}"));
    assert!(today_line.contains(&"█".repeat(40)), "{today_line}");
    assert!(today_line.ends_with(" 7"), "{today_line}");
    let yesterday = table.lines().find(|l| l.starts_with("2026-06-14")).unwrap();
    assert!(!yesterday.contains(&"█".repeat(40)), "{yesterday}");
    assert!(yesterday.ends_with(" 5"), "{yesterday}");
    assert!(
        table.contains("COUNTRY") && table.contains("DEVICE"),
        "{table}"
    );
    assert!(table.contains("88.2%"), "{table}"); // 15 of 17 from DE
    assert!(!table.contains('\u{1b}'), "colour despite NO_COLOR");
}

#[test]
fn business_groups_its_year_by_month() {
    let mock = mock_at_fixed_time();
    let cli = Heldqr::with_token(&mock, BUSINESS);
    cli.create("https://example.com/b", &["--shortcode", "scan-biz"]);
    mock.add_scans("scan-biz", 100, 1, "US", "desktop");
    let json = cli
        .run(&["codes", "scans", "scan-biz", "--json"])
        .success()
        .json();
    assert_eq!(json["plan"], "business");
    assert_eq!(json["daily"].as_array().unwrap().len(), 365);
    assert_eq!(json["window_scans"], 100);
    let table = tty(&cli, &["codes", "scans", "scan-biz"]);
    assert!(table.contains("Scans, monthly"), "{table}");
    let chart_lines: Vec<&str> = table
        .lines()
        .filter(|l| l.len() > 8 && l.as_bytes()[4] == b'-' && !l.contains('│'))
        .collect();
    // 2025-06-16 .. 2026-06-15: thirteen calendar months, oldest first.
    assert_eq!(chart_lines.len(), 13, "{table}");
    assert!(chart_lines[0].starts_with("2025-06 "), "{table}");
    // The last 100 days (2026-03-08 .. 06-15) got one scan each.
    for (month, scans) in [
        ("2026-02", 0),
        ("2026-03", 24),
        ("2026-04", 30),
        ("2026-05", 31),
        ("2026-06", 15),
    ] {
        let line = chart_lines
            .iter()
            .find(|l| l.starts_with(month))
            .unwrap_or_else(|| panic!("no {month} line:\n{table}"));
        assert!(line.ends_with(&format!(" {scans}")), "{line}");
    }
}

#[test]
fn free_shows_lifetime_totals_only() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, FREE);
    cli.create("https://example.com/f", &["--shortcode", "scan-free"]);
    let json = cli
        .run(&["codes", "scans", "scan-free", "--json"])
        .success()
        .json();
    assert_eq!(json["plan"], "free");
    assert_eq!(json["total_scans"], 0);
    assert!(json["first_scan_at"].is_null());
    assert!(json.get("daily").is_none());
    mock.scan("scan-free", "DE", "Mozilla/5.0 (Windows NT 10.0)");
    let plain = cli.run(&["codes", "scans", "scan-free"]).success();
    assert!(plain.stdout.lines().any(|l| l == "total_scans\t1"));
    assert!(!plain.stdout.contains("daily"));
    let table = tty(&cli, &["codes", "scans", "scan-free"]);
    assert!(!table.contains("Scans, daily"));
}
