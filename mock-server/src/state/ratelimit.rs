//! The per-token sliding-window rate limiter. Every request of a known token spends one credit,
//! whatever its answer (a 429 included): it counts for exactly one window from the millisecond it
//! arrived, so the budget decays continuously. Requests are kept as per-millisecond counts, so
//! the memory of one token is bounded by the window's resolution (at most one entry per
//! millisecond of the window) however fast requests, rejected ones included, arrive.

use std::collections::VecDeque;

use crate::config::RateLimitConfig;

const NANOS_PER_SEC: i128 = 1_000_000_000;
const NANOS_PER_MS: i128 = 1_000_000;

/// The requests of one token still inside the window: (millisecond, count), oldest first.
#[derive(Debug, Default)]
pub(crate) struct SlidingLog {
    buckets: VecDeque<(i128, u32)>,
    counted: u64,
}

/// What the limiter decided for one request, with the values of the rate-limit headers that
/// change (`X-RateLimit-Limit` is the configured limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateDecision {
    /// `X-RateLimit-Remaining` after this request.
    pub remaining: u32,
    /// `X-RateLimit-Reset`: Unix seconds (rounded up) when `remaining` next increases.
    pub reset: i64,
    /// `Some(seconds)` (at least 1) when the request is rejected: the time until the window,
    /// this request included, has room for one more.
    pub retry_after: Option<u64>,
}

fn ceil_div(a: i128, b: i128) -> i128 {
    let q = a.div_euclid(b);
    if a.rem_euclid(b) == 0 { q } else { q + 1 }
}

impl SlidingLog {
    /// Spends one credit at `now` (Unix nanoseconds) and decides the request.
    pub(crate) fn check(&mut self, now: i128, cfg: RateLimitConfig) -> RateDecision {
        let window = i128::try_from(cfg.window.as_nanos()).unwrap_or(i128::MAX / 4);
        // A request that arrived in millisecond `m` counts while `now < m + window`.
        let expiry = |ms: i128| (ms * NANOS_PER_MS).saturating_add(window);
        while let Some(&(ms, n)) = self.buckets.front() {
            if expiry(ms) <= now {
                self.buckets.pop_front();
                self.counted -= u64::from(n);
            } else {
                break;
            }
        }
        let before = self.counted;
        let this_ms = now.div_euclid(NANOS_PER_MS);
        match self.buckets.back_mut() {
            Some((ms, n)) if *ms == this_ms && *n < u32::MAX => *n += 1,
            _ => self.buckets.push_back((this_ms, 1)),
        }
        self.counted += 1;

        let limit = cfg.limit;
        if before >= u64::from(limit) {
            // The next request is accepted once at most `limit - 1` requests count: find when
            // enough of the oldest ones (this one included) have left.
            let must_leave = self.counted - (u64::from(limit) - 1);
            let mut left = 0u64;
            let mut frees_at = now.saturating_add(window);
            for &(ms, n) in &self.buckets {
                left += u64::from(n);
                if left >= must_leave {
                    frees_at = expiry(ms);
                    break;
                }
            }
            let wait = ceil_div(frees_at - now, NANOS_PER_SEC).max(1);
            return RateDecision {
                remaining: 0,
                reset: clamp_i64(ceil_div(frees_at, NANOS_PER_SEC)),
                retry_after: Some(u64::try_from(wait).unwrap_or(u64::MAX)),
            };
        }
        let oldest = self.buckets.front().map_or(now, |&(ms, _)| expiry(ms));
        RateDecision {
            remaining: u32::try_from(u64::from(limit) - self.counted).unwrap_or(0),
            reset: clamp_i64(ceil_div(oldest, NANOS_PER_SEC)),
            retry_after: None,
        }
    }

    /// The budget at `now` without spending a credit: (remaining, the instant in Unix
    /// nanoseconds when `remaining` next rises, if any request still counts). Read-only, for
    /// the inspector.
    pub(crate) fn peek(&self, now: i128, cfg: RateLimitConfig) -> (u32, Option<i128>) {
        let window = i128::try_from(cfg.window.as_nanos()).unwrap_or(i128::MAX / 4);
        let expiry = |ms: i128| (ms * NANOS_PER_MS).saturating_add(window);
        let live: Vec<(i128, u32)> = self
            .buckets
            .iter()
            .copied()
            .filter(|&(ms, _)| expiry(ms) > now)
            .collect();
        let counted: u64 = live.iter().map(|&(_, n)| u64::from(n)).sum();
        let limit = u64::from(cfg.limit);
        let remaining = u32::try_from(limit.saturating_sub(counted)).unwrap_or(0);
        // `remaining` rises once `counted` is below the limit by one more than now.
        let must_leave = counted.saturating_sub(limit) + 1;
        let mut left = 0u64;
        let mut rises = None;
        for &(ms, n) in &live {
            left += u64::from(n);
            if left >= must_leave {
                rises = Some(expiry(ms));
                break;
            }
        }
        (remaining, rises)
    }

    /// Forgets every counted request.
    pub(crate) fn clear(&mut self) {
        *self = SlidingLog::default();
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
    fn a_429_spends_a_credit_and_retry_after_counts_it() {
        let cfg = RateLimitConfig {
            limit: 2,
            window: Duration::from_secs(10),
        };
        let mut log = SlidingLog::default();
        let t0 = 100 * S;
        log.check(t0, cfg);
        log.check(t0 + S / 2, cfg);
        // Over the cap at t0 + 3 s: the window holds t0, t0 + 0.5 s and this one; one more is
        // accepted once two of them left, at t0 + 10.5 s.
        let d = log.check(t0 + 3 * S, cfg);
        assert_eq!(d.retry_after, Some(8));
        assert_eq!((d.remaining, d.reset), (0, 111));
        assert_eq!(log.counted, 3);
        // Waiting Retry-After is enough.
        let d = log.check(t0 + 11 * S, cfg);
        assert_eq!(d.retry_after, None);
        assert_eq!(d.remaining, 0);
    }

    #[test]
    fn peek_reads_the_budget_without_spending() {
        let cfg = RateLimitConfig {
            limit: 3,
            window: Duration::from_secs(10),
        };
        let mut log = SlidingLog::default();
        let t0 = 100 * S;
        assert_eq!(log.peek(t0, cfg), (3, None));
        log.check(t0, cfg);
        log.check(t0 + S, cfg);
        assert_eq!(log.peek(t0 + 2 * S, cfg), (1, Some(t0 + 10 * S)));
        assert_eq!(
            log.peek(t0 + 2 * S, cfg),
            (1, Some(t0 + 10 * S)),
            "no credit spent"
        );
        // Over the limit: it rises once enough of the oldest left.
        log.check(t0 + 2 * S, cfg);
        log.check(t0 + 3 * S, cfg);
        assert_eq!(log.peek(t0 + 4 * S, cfg), (0, Some(t0 + 11 * S)));
        assert_eq!(log.peek(t0 + 20 * S, cfg), (3, None));
    }

    #[test]
    fn memory_is_bounded_by_the_window_resolution() {
        let cfg = RateLimitConfig {
            limit: 5,
            window: Duration::from_secs(1),
        };
        let mut log = SlidingLog::default();
        let t0 = 100 * S;
        // 100 000 requests within 2 s, 50 per millisecond, nearly all rejected.
        for i in 0..100_000i128 {
            log.check(t0 + i * 20_000, cfg);
        }
        assert!(log.buckets.len() <= 1_001, "{}", log.buckets.len());
        assert_eq!(log.counted, 50_000, "one second of requests");
    }

    #[test]
    fn entries_are_at_most_the_requests_in_the_window_and_the_milliseconds_it_spans() {
        let cfg = RateLimitConfig {
            limit: u32::MAX,
            window: Duration::from_secs(60),
        };
        let mut log = SlidingLog::default();
        let t0 = 100 * S;
        // 10 requests in one millisecond: one entry.
        for i in 0..10 {
            log.check(t0 + i * 1_000, cfg);
        }
        assert_eq!((log.buckets.len(), log.counted), (1, 10));
        // 10 more a second apart: one entry each, never more entries than requests.
        for i in 1..=10 {
            log.check(t0 + i * S, cfg);
        }
        assert_eq!((log.buckets.len(), log.counted), (11, 20));
        // A limit of millions does not make the log grow beyond the window's milliseconds:
        // 2 million requests over 120 s keep at most 60 000 entries.
        for i in 0..2_000_000i128 {
            log.check(t0 + 11 * S + i * 60_000, cfg);
            assert!(log.buckets.len() <= 60_001);
        }
        assert!(log.buckets.len() >= 59_000, "{}", log.buckets.len());
    }
}
