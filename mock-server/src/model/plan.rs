//! The account plan, which decides the shape of the scans report.

use std::fmt;
use std::str::FromStr;

/// An account's plan: it decides the shape of the scans report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Plan {
    /// Lifetime totals only.
    Free,
    /// Lifetime totals plus a 30-day window with daily, country and device breakdowns.
    Pro,
    /// Like `Pro` over a 365-day window.
    Business,
}

impl Plan {
    /// The plan's wire name: `free`, `pro` or `business`.
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Pro => "pro",
            Plan::Business => "business",
        }
    }

    /// The longest scans window of any plan, in days.
    pub(crate) const LONGEST_WINDOW_DAYS: u32 = 365;

    /// Days in the scans window, `None` for lifetime totals only.
    pub fn window_days(self) -> Option<u32> {
        match self {
            Plan::Free => None,
            Plan::Pro => Some(30),
            Plan::Business => Some(Plan::LONGEST_WINDOW_DAYS),
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a [`Plan`] from a string other than `free`, `pro` or `business`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown plan {0:?}: expected free, pro or business")]
pub struct UnknownPlan(pub String);

impl FromStr for Plan {
    type Err = UnknownPlan;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "free" => Ok(Plan::Free),
            "pro" => Ok(Plan::Pro),
            "business" => Ok(Plan::Business),
            _ => Err(UnknownPlan(s.to_owned())),
        }
    }
}
