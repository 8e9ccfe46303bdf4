//! The one place that decides what is retried and how long to wait.
//!
//! - 429: wait exactly `Retry-After`; if that is longer than
//!   [`RetryPolicy::max_retry_after`], return the error at once without sleeping.
//! - 5xx, transport errors (refused, reset), timeouts: exponential backoff with full jitter
//!   (a uniformly random delay between zero and the capped exponential step); a `Retry-After`
//!   on these is honoured like on a 429.
//! - An error code this SDK does not know: retryable on the same idempotency key, as the API
//!   asks. A body that is not an error envelope at all is judged by its status alone.
//! - Known 4xx codes (validation, not found, conflicts, unauthorized...), decode and
//!   configuration errors: permanent, returned at once.
//!
//! Retrying is safe for every request the SDK makes: creates carry the same Idempotency-Key on
//! every attempt, GETs read, and PATCH sets fields.

use std::time::Duration;

use backon::ExponentialBuilder;

use crate::error::{Error, ErrorCode};

/// How failed requests are retried. `RetryPolicy::default()` is what a client uses unless told
/// otherwise; [`RetryPolicy::none()`] turns retries off.
///
/// ```
/// use std::time::Duration;
/// use heldqr_sdk::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .max_retries(5)
///     .max_retry_after(Duration::from_secs(60));
/// assert_eq!(policy.max_retries, 5);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 3; 0 means never retry).
    pub max_retries: u32,
    /// First backoff step (default 200 ms); each further step doubles.
    pub initial_backoff: Duration,
    /// Largest backoff step (default 5 s).
    pub max_backoff: Duration,
    /// Longest `Retry-After` the client will sleep for (default 30 s); a 429 asking for more
    /// is returned at once. Also caps how long pacing waits for the rate-limit budget.
    pub max_retry_after: Duration,
    /// Full jitter on backoff steps (default on). Off gives the exact exponential steps.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// Never retry: every failure is returned after one attempt.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Sets the number of retries after the first attempt.
    pub fn max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// Sets the first backoff step.
    pub fn initial_backoff(mut self, initial_backoff: Duration) -> Self {
        self.initial_backoff = initial_backoff;
        self
    }

    /// Sets the largest backoff step.
    pub fn max_backoff(mut self, max_backoff: Duration) -> Self {
        self.max_backoff = max_backoff;
        self
    }

    /// Sets the longest `Retry-After` the client sleeps for.
    pub fn max_retry_after(mut self, max_retry_after: Duration) -> Self {
        self.max_retry_after = max_retry_after;
        self
    }

    /// Turns full jitter on or off.
    pub fn jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// The backoff schedule backon walks (jitter is applied in [`RetryPolicy::next_delay`]).
    pub(crate) fn backoff(&self) -> ExponentialBuilder {
        let max_times = usize::try_from(self.max_retries).unwrap_or(usize::MAX);
        ExponentialBuilder::default()
            .with_min_delay(self.initial_backoff)
            .with_max_delay(self.max_backoff.max(self.initial_backoff))
            .with_max_times(max_times)
    }

    /// The delay before the next attempt after `error`, given backon's next exponential step
    /// (`None` when retries are used up). `None` means: return the error now.
    pub(crate) fn next_delay(&self, error: &Error, step: Option<Duration>) -> Option<Duration> {
        let step = step?;
        if let Some(wait) = error.retry_after() {
            return (wait <= self.max_retry_after).then_some(wait);
        }
        Some(if self.jitter { full_jitter(step) } else { step })
    }
}

fn full_jitter(step: Duration) -> Duration {
    step.mul_f64(fastrand::f64())
}

impl Error {
    /// Whether retrying the same call (with the same idempotency key) may succeed: 429, 5xx,
    /// an unknown error code, 408 from a proxy, transport errors and timeouts. Known 4xx
    /// codes, decode and configuration errors are permanent.
    // Defined here, beside the retry loop's other decisions: this module is the one place that
    // decides what is retried.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(api) => {
                if api.status == 429 || api.status >= 500 {
                    return true;
                }
                matches!(
                    &api.code,
                    // A code we do not know: the API says retry on the same key.
                    ErrorCode::Unknown(_)
                        | ErrorCode::RateLimited
                        | ErrorCode::InternalError
                        | ErrorCode::ServiceUnavailable
                )
            }
            // Not an envelope: judged by status (408 Request Timeout from a proxy, 429, 5xx).
            Error::Http(http) => matches!(http.status, 408 | 429) || http.status >= 500,
            Error::Transport { .. } | Error::Timeout { .. } => true,
            Error::Decode { .. } | Error::Config(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ApiError, HttpError};

    fn api(status: u16, code: &str, retry_after: Option<u64>) -> Error {
        if code.is_empty() {
            let http = HttpError::new(status, "<html>");
            return match retry_after {
                Some(s) => http.with_retry_after(Duration::from_secs(s)),
                None => http,
            }
            .into();
        }
        let api = ApiError::new(status, code, "");
        match retry_after {
            Some(s) => api.with_retry_after(Duration::from_secs(s)),
            None => api,
        }
        .into()
    }

    #[test]
    fn classification() {
        assert!(api(429, "rate_limited", Some(1)).is_retryable());
        assert!(api(500, "internal_error", None).is_retryable());
        assert!(api(503, "service_unavailable", None).is_retryable());
        assert!(api(502, "", None).is_retryable());
        assert!(api(400, "brand_new_code", None).is_retryable());
        assert!(!api(404, "", None).is_retryable());
        assert!(api(408, "", None).is_retryable());
        for (status, code) in [
            (400, "invalid_json"),
            (401, "unauthorized"),
            (404, "not_found"),
            (409, "idempotency_key_conflict"),
            (409, "shortcode_taken"),
            (422, "validation_failed"),
        ] {
            assert!(!api(status, code, None).is_retryable(), "{code}");
        }
        assert!(
            Error::Timeout {
                idempotency_key: None,
                request_id: None,
                attempts: 1,
                deadline_exceeded: false,
            }
            .is_retryable()
        );
        assert!(!Error::Config("x".into()).is_retryable());
    }

    #[test]
    fn retry_after_is_exact_and_capped() {
        let policy = RetryPolicy::default();
        let step = Some(Duration::from_millis(200));
        assert_eq!(
            policy.next_delay(&api(429, "rate_limited", Some(7)), step),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            policy.next_delay(&api(429, "rate_limited", Some(31)), step),
            None
        );
        assert_eq!(
            policy.next_delay(&api(429, "rate_limited", Some(u64::MAX)), step),
            None
        );
        assert_eq!(
            policy.next_delay(&api(429, "rate_limited", Some(1)), None),
            None
        );
    }

    #[test]
    fn jitter_stays_within_the_step() {
        let policy = RetryPolicy::default();
        let step = Duration::from_millis(800);
        for _ in 0..100 {
            let delay = policy
                .next_delay(&api(500, "internal_error", None), Some(step))
                .unwrap();
            assert!(delay <= step);
        }
        let exact = policy.clone().jitter(false);
        assert_eq!(
            exact.next_delay(&api(500, "internal_error", None), Some(step)),
            Some(step)
        );
    }
}
