//! A stored code, its status and its wire shape (`Code` in the contract).

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::ScanStats;

/// `active` or `paused`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeStatus {
    Active,
    Paused,
}

impl CodeStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CodeStatus::Active => "active",
            CodeStatus::Paused => "paused",
        }
    }
}

/// One stored code.
#[derive(Debug)]
pub(crate) struct CodeRecord {
    pub shortcode: Arc<str>,
    pub account: u32,
    pub target_url: Box<str>,
    pub label: Option<Box<str>>,
    pub status: CodeStatus,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
    pub scans: ScanStats,
    /// The targets the scan URL may still redirect to under a propagation delay.
    pub earlier_targets: EarlierTargets,
    /// The code's answer body (`{"data": Code}`) once made, for the reads that follow; the
    /// store forgets it whenever it lends the code out mutably ([`CodeRecord::changed`]).
    pub shown: OnceLock<Bytes>,
}

/// Most earlier targets one code remembers for the propagation delay; more changes inside the
/// delay forget the oldest.
pub(crate) const MAX_EARLIER_TARGETS: usize = 32;

/// A code's earlier targets, each with the instant (Unix nanoseconds on the server clock) it
/// was replaced, oldest first; only the ones a scan can still be sent to are kept.
#[derive(Debug, Default)]
pub(crate) struct EarlierTargets(VecDeque<(i128, Box<str>)>);

impl EarlierTargets {
    /// The heap bytes held: the queue's slots and the targets' text.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.0.capacity() * std::mem::size_of::<(i128, Box<str>)>()
            + self.0.iter().map(|(_, t)| t.len()).sum::<usize>()
    }
}

impl CodeRecord {
    /// Changes the target at `now`, remembering the old one when scans lag by `delay` (ns).
    pub(crate) fn set_target(&mut self, target: Box<str>, now: i128, delay: i128) {
        let old = std::mem::replace(&mut self.target_url, target);
        if delay > 0 {
            let kept = &mut self.earlier_targets.0;
            kept.push_back((now, old));
            while kept.len() > MAX_EARLIER_TARGETS {
                kept.pop_front();
            }
        }
    }

    /// The target a scan at `now` goes to when changes reach the scan URL `delay` (ns) late:
    /// the one the code had at `now - delay`. Forgets targets no scan can reach any more.
    pub(crate) fn scan_target(&mut self, now: i128, delay: i128) -> &str {
        let seen_at = now.saturating_sub(delay);
        let kept = &mut self.earlier_targets.0;
        // Replaced at or before `seen_at`: never shown again (the clock only moves forward).
        while kept
            .front()
            .is_some_and(|(replaced, _)| *replaced <= seen_at)
        {
            kept.pop_front();
        }
        match kept.front() {
            Some((_, target)) => target,
            None => &self.target_url,
        }
    }
}

/// The wire shape of a code (`Code` in the contract).
#[derive(Serialize)]
pub(crate) struct CodeView<'a> {
    shortcode: &'a str,
    target_url: &'a str,
    label: Option<&'a str>,
    status: &'static str,
    scan_url: ScanUrl<'a>,
    created_at: Seconds,
    updated_at: Seconds,
}

/// `{base}/r/{shortcode}`, written into the JSON as it is serialized (no string of its own).
struct ScanUrl<'a> {
    base: &'a str,
    shortcode: &'a str,
}

impl Serialize for ScanUrl<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // On the stack when it fits (it does for any sensible base URL).
        let mut buf = [0u8; 256];
        let parts = [self.base.as_bytes(), b"/r/", self.shortcode.as_bytes()];
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len > buf.len() {
            return s.serialize_str(&format!("{}/r/{}", self.base, self.shortcode));
        }
        let mut at = 0;
        for part in parts {
            buf[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        s.serialize_str(std::str::from_utf8(&buf[..len]).unwrap_or_default())
    }
}

/// Unix seconds, serialized as [`rfc3339`] writes them (no string of its own), e.g.
/// `2026-05-15T14:21:03Z`.
struct Seconds(i64);

impl Serialize for Seconds {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match OffsetDateTime::from_unix_timestamp(self.0) {
            // RFC 3339 has four-digit years only.
            Ok(t) if (0..=9999).contains(&t.year()) => {
                let mut text = *b"0000-00-00T00:00:00Z";
                let fields = [
                    (0, 4, t.year().unsigned_abs()),
                    (5, 2, u32::from(u8::from(t.month()))),
                    (8, 2, u32::from(t.day())),
                    (11, 2, u32::from(t.hour())),
                    (14, 2, u32::from(t.minute())),
                    (17, 2, u32::from(t.second())),
                ];
                for (at, width, mut n) in fields {
                    for digit in text[at..at + width].iter_mut().rev() {
                        *digit = b'0' + (n % 10) as u8;
                        n /= 10;
                    }
                }
                s.serialize_str(std::str::from_utf8(&text).unwrap_or_default())
            }
            _ => s.serialize_str(""),
        }
    }
}

/// RFC 3339 in UTC with whole seconds, e.g. `2026-05-15T14:21:03Z`.
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

impl CodeRecord {
    /// Forgets the answer made before a change of a shown field.
    pub(crate) fn changed(&mut self) {
        self.shown = OnceLock::new();
    }

    /// The code as the API shows it, with `scan_url` under `public_base`.
    pub(crate) fn view<'a>(&'a self, public_base: &'a str) -> CodeView<'a> {
        CodeView {
            shortcode: &self.shortcode,
            target_url: &self.target_url,
            label: self.label.as_deref(),
            status: self.status.as_str(),
            scan_url: ScanUrl {
                base: public_base,
                shortcode: &self.shortcode,
            },
            created_at: Seconds(self.created_at),
            updated_at: Seconds(self.updated_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_serialize_as_rfc3339_writes_them() {
        // Year 0 and year 9999 included; year -1 has no RFC 3339 form (both write "").
        for secs in [
            0,
            1,
            1_779_000_000,
            253_402_300_799,
            -62_135_596_801,
            -62_167_219_201,
        ] {
            let t = OffsetDateTime::from_unix_timestamp(secs).unwrap();
            assert_eq!(
                serde_json::to_string(&Seconds(secs)).unwrap(),
                serde_json::to_string(&rfc3339(t)).unwrap()
            );
        }
        assert_eq!(
            serde_json::to_string(&Seconds(-62_167_219_201)).unwrap(),
            "\"\""
        );
    }

    #[test]
    fn the_scan_url_is_the_base_then_r_then_the_shortcode() {
        let url = ScanUrl {
            base: "http://127.0.0.1:8080",
            shortcode: "menu-v3",
        };
        assert_eq!(
            serde_json::to_string(&url).unwrap(),
            "\"http://127.0.0.1:8080/r/menu-v3\""
        );
        // A base too long for the stack buffer.
        let base = format!("https://{}.example", "a".repeat(300));
        let url = ScanUrl {
            base: &base,
            shortcode: "x",
        };
        assert_eq!(
            serde_json::to_string(&url).unwrap(),
            format!("\"{base}/r/x\"")
        );
    }
}
