//! A stored code, its status and its wire shape (`Code` in the contract).

use std::sync::Arc;

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
