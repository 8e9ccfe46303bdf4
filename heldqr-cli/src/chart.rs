//! The scans-per-day chart `codes scans` draws on a terminal.
//!
//! Horizontal bars drawn with the eight unicode left blocks (`▏` … `█`), one line per bucket, the
//! count at the end of the line. A 30-day (pro) window is drawn per day; a longer window (the
//! business plan's 365 days) is grouped into calendar months so it still fits a screen, and
//! anything between into weeks starting on Monday.

use time::{Date, Duration};

/// Bars are at most this many character cells long.
pub const BAR_WIDTH: usize = 40;

/// One line of the chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// `2026-05-31`, `wk 2026-05-25` or `2026-05`.
    pub label: String,
    /// Scans in the bucket.
    pub scans: u64,
}

/// How days are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// One bucket per day.
    Day,
    /// One bucket per week starting Monday.
    Week,
    /// One bucket per calendar month.
    Month,
}

impl Grouping {
    /// Days up to a month are shown per day, up to a quarter per week, longer per month.
    pub fn for_days(days: usize) -> Self {
        match days {
            0..=31 => Grouping::Day,
            32..=92 => Grouping::Week,
            _ => Grouping::Month,
        }
    }

    /// The word used in the chart's title.
    pub fn title(self) -> &'static str {
        match self {
            Grouping::Day => "daily",
            Grouping::Week => "weekly",
            Grouping::Month => "monthly",
        }
    }
}

/// Groups daily counts (oldest first, as the API sends them) into buckets.
pub fn group(daily: &[(Date, u64)], grouping: Grouping) -> Vec<Bucket> {
    let mut buckets: Vec<(Date, Bucket)> = Vec::new();
    for &(date, scans) in daily {
        let key = match grouping {
            Grouping::Day => date,
            Grouping::Week => {
                date - Duration::days(i64::from(date.weekday().number_days_from_monday()))
            }
            Grouping::Month => date.replace_day(1).unwrap_or(date),
        };
        match buckets.last_mut() {
            // Counts come from the server: a sum never overflows (it stops at u64::MAX).
            Some((last_key, bucket)) if *last_key == key => {
                bucket.scans = bucket.scans.saturating_add(scans);
            }
            _ => {
                let label = match grouping {
                    Grouping::Day => date.to_string(),
                    Grouping::Week => format!("wk {date}"),
                    Grouping::Month => format!("{}-{:02}", date.year(), u8::from(date.month())),
                };
                buckets.push((key, Bucket { label, scans }));
            }
        }
    }
    buckets.into_iter().map(|(_, b)| b).collect()
}

/// A bar of `value / max * width` cells, in eighths of a cell.
pub fn bar(value: u64, max: u64, width: usize) -> String {
    const PARTS: [char; 8] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];
    if max == 0 || value == 0 {
        return String::new();
    }
    let eighths = (u128::from(value) * (width as u128) * 8).div_ceil(u128::from(max));
    let eighths = usize::try_from(eighths).unwrap_or(width * 8).max(1);
    let full = eighths / 8;
    let mut bar = "█".repeat(full);
    let rest = eighths % 8;
    if rest > 0 {
        bar.push(PARTS[rest - 1]);
    }
    bar
}

/// The chart's lines: `label  bar  count`, labels and bars padded so counts line up. `paint`
/// colours a bar (identity when colour is off).
pub fn render(buckets: &[Bucket], paint: impl Fn(&str) -> String) -> Vec<String> {
    let max = buckets.iter().map(|b| b.scans).max().unwrap_or(0);
    let label_width = buckets.iter().map(|b| b.label.len()).max().unwrap_or(0);
    buckets
        .iter()
        .map(|b| {
            let bar = bar(b.scans, max, BAR_WIDTH);
            let pad = BAR_WIDTH + 1 - bar.chars().count();
            format!(
                "{:<label_width$}  {}{}{}",
                b.label,
                paint(&bar),
                " ".repeat(pad),
                b.scans
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn days(start: Date, counts: &[u64]) -> Vec<(Date, u64)> {
        counts
            .iter()
            .enumerate()
            .map(|(i, &c)| (start + Duration::days(i as i64), c))
            .collect()
    }

    #[test]
    fn bars_scale_to_the_maximum() {
        assert_eq!(bar(0, 10, 40), "");
        assert_eq!(bar(10, 10, 40).chars().count(), 40);
        assert!(bar(10, 10, 40).chars().all(|c| c == '█'));
        assert_eq!(bar(5, 10, 40), "█".repeat(20));
        // Anything above zero is visible.
        assert_eq!(bar(1, 1_000_000, 40), "▏");
        // Large counts do not overflow.
        assert_eq!(bar(u64::MAX, u64::MAX, 40).chars().count(), 40);
    }

    #[test]
    fn grouping_by_window_length() {
        assert_eq!(Grouping::for_days(30), Grouping::Day);
        assert_eq!(Grouping::for_days(60), Grouping::Week);
        assert_eq!(Grouping::for_days(365), Grouping::Month);
    }

    #[test]
    fn months_sum_their_days() {
        // 2026-05-30 .. 2026-06-02
        let daily = days(date!(2026 - 05 - 30), &[1, 2, 3, 4]);
        let buckets = group(&daily, Grouping::Month);
        assert_eq!(
            buckets,
            vec![
                Bucket {
                    label: "2026-05".into(),
                    scans: 3
                },
                Bucket {
                    label: "2026-06".into(),
                    scans: 7
                },
            ]
        );
    }

    #[test]
    fn huge_server_counts_saturate_instead_of_overflowing() {
        let daily = days(date!(2026 - 05 - 30), &[u64::MAX, 1, u64::MAX - 1, 1]);
        let buckets = group(&daily, Grouping::Month);
        assert_eq!(buckets[0].scans, u64::MAX);
        assert_eq!(buckets[1].scans, u64::MAX);
        let lines = render(&buckets, |s| s.to_string());
        assert!(lines[0].ends_with(&u64::MAX.to_string()));
    }

    #[test]
    fn weeks_start_on_monday() {
        // 2026-06-06 is a Saturday; 2026-06-08 a Monday.
        let daily = days(date!(2026 - 06 - 06), &[1, 1, 5, 5]);
        let buckets = group(&daily, Grouping::Week);
        assert_eq!(buckets.len(), 2);
        assert_eq!(buckets[0].label, "wk 2026-06-06");
        assert_eq!(buckets[0].scans, 2);
        assert_eq!(buckets[1].scans, 10);
    }

    #[test]
    fn counts_line_up() {
        let daily = days(date!(2026 - 06 - 01), &[0, 40, 12]);
        let lines = render(&group(&daily, Grouping::Day), |s| s.to_string());
        assert_eq!(lines.len(), 3);
        let ends: Vec<usize> = lines
            .iter()
            .map(|l| l.chars().count() - l.rsplit(' ').next().unwrap().len())
            .collect();
        assert!(ends.windows(2).all(|w| w[0] == w[1]), "{lines:#?}");
        assert!(lines[1].ends_with(" 40"));
        assert!(lines[0].starts_with("2026-06-01  "));
    }
}
