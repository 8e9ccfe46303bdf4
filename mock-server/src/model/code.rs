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
    scan_url: String,
    created_at: String,
    updated_at: String,
}

/// RFC 3339 in UTC with whole seconds, e.g. `2026-05-15T14:21:03Z`.
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

fn rfc3339_secs(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .map(rfc3339)
        .unwrap_or_default()
}

impl CodeRecord {
    /// Forgets the answer made before a change of a shown field.
    pub(crate) fn changed(&mut self) {
        self.shown = OnceLock::new();
    }

    /// The code as the API shows it, with `scan_url` under `public_base`.
    pub(crate) fn view(&self, public_base: &str) -> CodeView<'_> {
        CodeView {
            shortcode: &self.shortcode,
            target_url: &self.target_url,
            label: self.label.as_deref(),
            status: self.status.as_str(),
            scan_url: format!("{public_base}/r/{}", self.shortcode),
            created_at: rfc3339_secs(self.created_at),
            updated_at: rfc3339_secs(self.updated_at),
        }
    }
}
