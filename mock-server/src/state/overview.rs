//! Read-only views of the state for the inspector page (`GET /_mock/state`): each account's
//! newest codes with their current target and a 30-day scans summary, and each token's rate
//! budget. Nothing here changes the state or spends a credit.

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::{AppState, lock};
use crate::model::{Plan, rfc3339};

/// The most codes per account an overview lists (newest first); `code_count` has them all.
pub(crate) const OVERVIEW_CODES: usize = 25;

/// One account: how many codes it holds and its newest ones.
#[derive(Debug, Serialize)]
pub(crate) struct AccountOverview {
    pub id: String,
    pub code_count: usize,
    pub codes: Vec<CodeOverview>,
}

/// One code as the inspector shows it.
#[derive(Debug, Serialize)]
pub(crate) struct CodeOverview {
    pub shortcode: String,
    pub target_url: String,
    pub status: &'static str,
    /// The scans report a `pro` account gets (lifetime totals, a 30-day window of daily
    /// counts, country and device shares).
    pub scans: Value,
}

/// One token's rate budget.
#[derive(Debug, Serialize)]
pub(crate) struct RateBudget {
    /// The token's last four characters; none for a token of 8 characters or fewer.
    pub token: Option<String>,
    pub account: String,
    pub plan: &'static str,
    pub limit: u32,
    pub remaining: u32,
    /// When `remaining` next rises (RFC 3339, server clock), if any request still counts.
    pub next_rise_at: Option<String>,
}

/// The last four characters of a token longer than 8 characters: all the journal and the
/// inspector ever show of one.
pub(crate) fn last_four(token: &str) -> Option<&str> {
    // The start of the fourth character from the end, if more than four come before it.
    let mut starts = token.char_indices().rev().map(|(i, _)| i);
    let start = starts.nth(3)?;
    (starts.nth(4).is_some()).then(|| &token[start..])
}

impl AppState {
    /// Every account, in configuration order, with its newest codes (at most
    /// [`OVERVIEW_CODES`]).
    pub(crate) fn accounts_overview(&self) -> Vec<AccountOverview> {
        let today = self.clock().now().date();
        let data = self.lock();
        self.shared
            .accounts
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let account = u32::try_from(i).unwrap_or(u32::MAX);
                let count = data.store.count(account);
                let skip = count.saturating_sub(OVERVIEW_CODES) as u64;
                let mut codes: Vec<CodeOverview> = data
                    .store
                    .page(account, skip, OVERVIEW_CODES)
                    .map(|c| CodeOverview {
                        shortcode: c.shortcode.to_string(),
                        target_url: c.target_url.to_string(),
                        status: c.status.as_str(),
                        scans: c.scans.report(&c.shortcode, Plan::Pro, today),
                    })
                    .collect();
                codes.reverse();
                AccountOverview {
                    id: id.clone(),
                    code_count: count,
                    codes,
                }
            })
            .collect()
    }

    /// Every token's rate budget now, in configuration order (no credit spent).
    pub(crate) fn rate_budgets(&self) -> Vec<RateBudget> {
        let now = self.clock().now_nanos();
        let cfg = self.shared.config.rate_limit;
        let mut names: Vec<(u32, &str)> = self
            .shared
            .tokens
            .iter()
            .map(|(t, &i)| (i, t.as_ref()))
            .collect();
        names.sort_unstable_by_key(|&(i, _)| i);
        names
            .into_iter()
            .filter_map(|(i, token)| {
                let info = self.shared.token_info.get(i as usize)?;
                let log = self.shared.rate.get(i as usize)?;
                let (remaining, rises) = lock(log).peek(now, cfg);
                Some(RateBudget {
                    token: last_four(token).map(str::to_owned),
                    account: self.account_name(info.account).to_owned(),
                    plan: info.plan.as_str(),
                    limit: cfg.limit,
                    remaining,
                    next_rise_at: rises
                        .and_then(|n| OffsetDateTime::from_unix_timestamp_nanos(n).ok())
                        .map(rfc3339),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::last_four;

    #[test]
    fn only_the_last_four_of_a_long_token() {
        assert_eq!(last_four("hkr_test_business"), Some("ness"));
        assert_eq!(last_four("hkr_tëst_büsïnéss"), Some("néss"));
        assert_eq!(last_four("12345678"), None);
        assert_eq!(last_four("123456789"), Some("6789"));
        assert_eq!(last_four("1234"), None);
        assert_eq!(last_four(""), None);
    }
}
