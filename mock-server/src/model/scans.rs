//! Scan records of one code, aggregated per UTC day with country and device counts plus the
//! lifetime total and first/last instants, so recording a scan or bulk-adding a year of them is
//! cheap; and the plan-shaped scans report built from them. Also the `User-Agent` device
//! classification and the `CF-IPCountry` reading of the contract.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use time::{Date, OffsetDateTime};

use super::Plan;

/// The device classes of the contract, in the order of their wire names' sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Device {
    Bot = 0,
    Desktop = 1,
    Mobile = 2,
    Other = 3,
    Tablet = 4,
}

impl Device {
    const ALL: [Device; 5] = [
        Device::Bot,
        Device::Desktop,
        Device::Mobile,
        Device::Other,
        Device::Tablet,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Device::Bot => "bot",
            Device::Desktop => "desktop",
            Device::Mobile => "mobile",
            Device::Other => "other",
            Device::Tablet => "tablet",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Device> {
        Device::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// Classifies a `User-Agent`: first match wins, case-insensitive: bot (bot, crawler, spider,
    /// curl), tablet (ipad, tablet), mobile (mobi, android, iphone), desktop (windows, macintosh,
    /// x11, linux), else other.
    pub(crate) fn classify(user_agent: Option<&str>) -> Device {
        let Some(ua) = user_agent else {
            return Device::Other;
        };
        let ua = ua.to_ascii_lowercase();
        let any = |needles: &[&str]| needles.iter().any(|n| ua.contains(n));
        if any(&["bot", "crawler", "spider", "curl"]) {
            Device::Bot
        } else if any(&["ipad", "tablet"]) {
            Device::Tablet
        } else if any(&["mobi", "android", "iphone"]) {
            Device::Mobile
        } else if any(&["windows", "macintosh", "x11", "linux"]) {
            Device::Desktop
        } else {
            Device::Other
        }
    }
}

/// A country code: two ASCII uppercase letters.
pub(crate) type Country = [u8; 2];

/// The country of `CF-IPCountry`: two ASCII letters, uppercased; anything else or absent is `XX`.
pub(crate) fn country_from_header(value: Option<&[u8]>) -> Country {
    match value {
        Some([a, b]) if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
            [a.to_ascii_uppercase(), b.to_ascii_uppercase()]
        }
        _ => *b"XX",
    }
}

/// Scans of one UTC day.
#[derive(Debug, Default, Clone)]
struct Day {
    scans: u64,
    devices: [u64; 5],
    countries: Vec<(Country, u64)>,
}

/// Every scan of one code, aggregated.
#[derive(Debug, Default, Clone)]
pub(crate) struct ScanStats {
    total: u64,
    /// Unix seconds of the first and last scan.
    first: Option<i64>,
    last: Option<i64>,
    /// Julian day number to that day's counts.
    days: BTreeMap<i32, Day>,
}

impl ScanStats {
    /// The heap bytes held: one B-tree entry per day with scans, and its countries.
    pub(crate) fn heap_bytes(&self) -> usize {
        // A B-tree node holds up to 11 entries; count a whole entry plus a share of the node.
        let entry = std::mem::size_of::<(i32, Day)>() + 16;
        self.days
            .values()
            .map(|d| entry + d.countries.capacity() * std::mem::size_of::<(Country, u64)>())
            .sum()
    }

    /// Adds `count` scans at `at` (Unix seconds) from `country` on `device`.
    pub(crate) fn add(&mut self, at: i64, count: u64, country: Country, device: Device) {
        self.add_kept_from(at, count, country, device, i32::MIN);
    }

    /// Like [`add`](Self::add), but scans on a day before `keep_from` (a Julian day number)
    /// count only in the lifetime figures (total, first and last scan): no plan's window can
    /// show that day any more, so no per-day record is kept for it. Bulk injection uses this, so
    /// the days one code holds are bounded however far back scans are added.
    pub(crate) fn add_kept_from(
        &mut self,
        at: i64,
        count: u64,
        country: Country,
        device: Device,
        keep_from: i32,
    ) {
        if count == 0 {
            return;
        }
        let Ok(when) = OffsetDateTime::from_unix_timestamp(at) else {
            return;
        };
        self.total = self.total.saturating_add(count);
        self.first = Some(self.first.map_or(at, |f| f.min(at)));
        self.last = Some(self.last.map_or(at, |l| l.max(at)));
        let jd = when.date().to_julian_day();
        if jd < keep_from {
            return;
        }
        let day = self.days.entry(jd).or_default();
        day.scans = day.scans.saturating_add(count);
        day.devices[device as usize] = day.devices[device as usize].saturating_add(count);
        match day.countries.iter_mut().find(|(c, _)| *c == country) {
            Some((_, n)) => *n = n.saturating_add(count),
            None => day.countries.push((country, count)),
        }
    }

    /// The report the contract gives an account on `plan` when the server's day is `today`.
    pub(crate) fn report(&self, shortcode: &str, plan: Plan, today: Date) -> Value {
        let ts = |t: Option<i64>| -> Value {
            t.and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
                .map_or(Value::Null, |t| Value::String(super::rfc3339(t)))
        };
        let mut report = json!({
            "plan": plan.as_str(),
            "shortcode": shortcode,
            "total_scans": self.total,
            "first_scan_at": ts(self.first),
            "last_scan_at": ts(self.last),
        });
        let Some(days) = plan.window_days() else {
            return report;
        };

        let end = today.to_julian_day();
        let start = end - (days as i32 - 1);
        let mut daily = Vec::with_capacity(days as usize);
        let mut window_scans = 0u64;
        let mut countries: BTreeMap<Country, u64> = BTreeMap::new();
        let mut devices = [0u64; 5];
        let mut in_window = self.days.range(start..=end).peekable();
        for jd in start..=end {
            let scans = match in_window.next_if(|(d, _)| **d == jd) {
                Some((_, day)) => {
                    for (c, n) in &day.countries {
                        *countries.entry(*c).or_default() += n;
                    }
                    for (i, n) in day.devices.iter().enumerate() {
                        devices[i] += n;
                    }
                    day.scans
                }
                _ => 0,
            };
            window_scans += scans;
            let date = Date::from_julian_day(jd)
                .map(|d| d.to_string())
                .unwrap_or_default();
            daily.push(json!({ "date": date, "scans": scans }));
        }
        let mut countries: Vec<(Country, u64)> = countries.into_iter().collect();
        // Most scans first, ties by name (the BTreeMap order, kept by the stable sort).
        countries.sort_by_key(|c| std::cmp::Reverse(c.1));
        let mut devices: Vec<(Device, u64)> = Device::ALL
            .into_iter()
            .map(|d| (d, devices[d as usize]))
            .filter(|(_, n)| *n > 0)
            .collect();
        devices.sort_by_key(|d| std::cmp::Reverse(d.1));

        let obj = report.as_object_mut();
        if let Some(obj) = obj {
            let date = |jd: i32| {
                Date::from_julian_day(jd)
                    .map(|d| d.to_string())
                    .unwrap_or_default()
            };
            obj.insert(
                "window".into(),
                json!({ "start_date": date(start), "end_date": date(end), "days": days }),
            );
            obj.insert("window_scans".into(), json!(window_scans));
            obj.insert("daily".into(), Value::Array(daily));
            obj.insert(
                "countries".into(),
                Value::Array(
                    countries
                        .into_iter()
                        .map(|(c, n)| json!({ "country": String::from_utf8_lossy(&c), "scans": n }))
                        .collect(),
                ),
            );
            obj.insert(
                "devices".into(),
                Value::Array(
                    devices
                        .into_iter()
                        .map(|(d, n)| json!({ "device": d.as_str(), "scans": n }))
                        .collect(),
                ),
            );
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_the_contract_order() {
        let c = |s: &str| Device::classify(Some(s));
        assert_eq!(c("curl/8.5.0"), Device::Bot);
        assert_eq!(c("Googlebot/2.1"), Device::Bot);
        assert_eq!(
            c("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) Mobile/15E148"),
            Device::Tablet
        );
        assert_eq!(
            c("Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile Safari"),
            Device::Mobile
        );
        assert_eq!(
            c("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)"),
            Device::Mobile
        );
        assert_eq!(
            c("Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0"),
            Device::Desktop
        );
        assert_eq!(
            c("Mozilla/5.0 (Windows NT 10.0; Win64; x64)"),
            Device::Desktop
        );
        assert_eq!(c("SomethingElse/1.0"), Device::Other);
        assert_eq!(Device::classify(None), Device::Other);
    }

    #[test]
    fn country_header_is_two_letters_uppercased_else_xx() {
        assert_eq!(&country_from_header(Some(b"de")), b"DE");
        assert_eq!(&country_from_header(Some(b"T1")), b"XX");
        assert_eq!(&country_from_header(Some(b"DEU")), b"XX");
        assert_eq!(&country_from_header(None), b"XX");
    }
}
