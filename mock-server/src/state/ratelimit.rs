//! The per-token sliding-window rate limiter: an exact sliding log of the instants of accepted
//! requests. A request counts for exactly one window after it was accepted, so the budget
//! decays continuously; a rejected request is not logged (spends no credit).

use std::collections::VecDeque;

use crate::config::RateLimitConfig;

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// The accepted requests of one token still inside the window, oldest first.
#[derive(Debug, Default)]
pub(crate) struct SlidingLog {
    accepted: VecDeque<i128>,
}

/// What the limiter decided for one request, with the values of the rate-limit headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateDecision {
    /// `X-RateLimit-Limit`.
    pub limit: u32,
    /// `X-RateLimit-Remaining` after this request.
    pub remaining: u32,
    /// `X-RateLimit-Reset`: Unix seconds (rounded up) when `remaining` next increases.
    pub reset: i64,
    /// `Some(seconds)` (at least 1) when the request is rejected.
    pub retry_after: Option<u64>,
}

fn ceil_div(a: i128, b: i128) -> i128 {
    let q = a.div_euclid(b);
    if a.rem_euclid(b) == 0 { q } else { q + 1 }
}

impl SlidingLog {
    /// Decides the request arriving at `now` (Unix nanoseconds) and logs it when accepted.
    pub(crate) fn check(&mut self, now: i128, cfg: RateLimitConfig) -> RateDecision {
        let window = i128::try_from(cfg.window.as_nanos()).unwrap_or(i128::MAX / 4);
        // A request accepted at `t` counts while `now < t + window`.
        while let Some(&oldest) = self.accepted.front() {
            if oldest.saturating_add(window) <= now {
                self.accepted.pop_front();
            } else {
                break;
            }
        }
        let limit = cfg.limit;
        let counted = self.accepted.len();
        if counted >= limit as usize {
            // `accepted` is non-empty here because `limit >= 1`.
            let oldest = self.accepted.front().copied().unwrap_or(now);
            let frees_at = oldest.saturating_add(window);
            let wait = ceil_div(frees_at - now, NANOS_PER_SEC).max(1);
            return RateDecision {
                limit,
                remaining: 0,
                reset: clamp_i64(ceil_div(frees_at, NANOS_PER_SEC)),
                retry_after: Some(u64::try_from(wait).unwrap_or(u64::MAX)),
            };
        }
        self.accepted.push_back(now);
        let oldest = self.accepted.front().copied().unwrap_or(now);
        RateDecision {
            limit,
            remaining: limit - (counted as u32 + 1),
            reset: clamp_i64(ceil_div(oldest.saturating_add(window), NANOS_PER_SEC)),
            retry_after: None,
        }
    }

    /// Forgets every logged request.
    pub(crate) fn clear(&mut self) {
        self.accepted = VecDeque::new();
    }
}

fn clamp_i64(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const S: i128 = NANOS_PER_SEC;

    #[test]
    fn burst_of_50_leaves_550_then_decays_exactly() {
        let cfg = RateLimitConfig::default();
        let mut log = SlidingLog::default();
        let t0 = 1_780_000_000 * S;
        let mut last = None;
        for i in 0..50 {
            last = Some(log.check(t0 + i * (S / 50), cfg));
        }
        let d = last.unwrap();
        assert_eq!(d.remaining, 550);
        assert_eq!(d.reset, 1_780_000_060);
        // 59.99 s later all 50 still count.
        let d = log.check(t0 + 59 * S + S / 2, cfg);
        assert_eq!(d.remaining, 549);
        // At t0 + 60 s the first one left the window; the 51st stays.
        let d = log.check(t0 + 60 * S, cfg);
        assert_eq!(d.remaining, 549);
    }

    #[test]
    fn over_the_cap_waits_at_least_one_second_and_spends_nothing() {
        let cfg = RateLimitConfig {
            limit: 2,
            window: Duration::from_secs(10),
        };
        let mut log = SlidingLog::default();
        let t0 = 100 * S;
        log.check(t0, cfg);
        log.check(t0 + S / 2, cfg);
        let d = log.check(t0 + 9 * S + S / 2, cfg);
        assert_eq!(d.retry_after, Some(1));
        assert_eq!(d.remaining, 0);
        assert_eq!(d.reset, 110);
        let d = log.check(t0 + 3 * S, cfg);
        assert_eq!(d.retry_after, Some(7));
        assert_eq!(log.accepted.len(), 2);
        let d = log.check(t0 + 10 * S, cfg);
        assert_eq!(d.retry_after, None);
        assert_eq!(d.remaining, 0);
    }
}
