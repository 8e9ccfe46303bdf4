//! What the SDK tells `tracing` (the `tracing` feature, on by default): one span per call and
//! one event per attempt, retry, pacing wait and give-up. Without the feature every function
//! here is an empty inline no-op and the SDK does not depend on `tracing`.
//!
//! Levels: the call span is `INFO` (so a service's `warn` lines about a call carry its
//! fields); attempts, retries and pacing waits are `DEBUG`; giving up on a retryable failure is
//! `WARN`; headers and bodies are `TRACE` and only when the client opted in
//! ([`crate::ClientBuilder::log_bodies`]). The token is never a field: errors and bodies are
//! masked before they get here.
//!
//! Attempt events carry `attempt`, `http.status_code`, `rate_limit_remaining` (the budget the
//! answer stated) and `elapsed_ms`; retries `delay_ms` and `reason`.
//!
//! Span `heldqr.call` fields: `operation` (`codes.create`...), `http.method`, `url.path`,
//! `idempotency_key`, then at the end `attempts`, `http.status_code`, `request_id`,
//! `elapsed_ms`.
//!
//! Every span and event has the target `heldqr_sdk` (filter with `heldqr_sdk=debug`), whatever
//! module emits it.

use std::time::Duration;

use crate::error::Error;

/// Why a retryable failure was not retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GiveUp {
    RetriesExhausted,
    DeadlineExceeded,
    RetryAfterTooLong,
}

impl GiveUp {
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::RetriesExhausted => "retries exhausted",
            Self::DeadlineExceeded => "deadline would pass before the next attempt",
            Self::RetryAfterTooLong => "Retry-After is longer than the policy's max_retry_after",
        }
    }
}

/// Longest body text logged at `TRACE`.
#[cfg(feature = "tracing")]
const MAX_LOGGED_BODY_BYTES: usize = 16 * 1024;

#[cfg(feature = "tracing")]
mod imp {
    use super::*;
    use tracing::field::Empty;

    /// The target of every span and event: the crate, not this module's path.
    const TARGET: &str = "heldqr_sdk";

    /// The span of one call.
    #[derive(Clone)]
    pub(crate) struct CallSpan(tracing::Span);

    impl CallSpan {
        pub(crate) fn new(
            operation: &'static str,
            method: &reqwest::Method,
            path: &str,
            idempotency_key: Option<&str>,
        ) -> Self {
            Self(tracing::info_span!(
                target: TARGET,
                "heldqr.call",
                operation,
                http.method = %method,
                url.path = path,
                idempotency_key,
                attempts = Empty,
                http.status_code = Empty,
                request_id = Empty,
                elapsed_ms = Empty,
            ))
        }

        pub(crate) fn instrument<F: std::future::Future>(
            &self,
            future: F,
        ) -> tracing::instrument::Instrumented<F> {
            tracing::Instrument::instrument(future, self.0.clone())
        }

        /// Whether a subscriber takes this span (when not, nothing is recorded on it).
        pub(crate) fn is_enabled(&self) -> bool {
            !self.0.is_disabled()
        }

        /// Records the outcome; `started` is when the call began (read only when the span
        /// is enabled).
        pub(crate) fn finish(
            &self,
            attempts: u32,
            status: Option<u16>,
            request_id: Option<&str>,
            started: Option<tokio::time::Instant>,
        ) {
            if self.0.is_disabled() {
                return;
            }
            self.0.record("attempts", attempts);
            if let Some(status) = status {
                self.0.record("http.status_code", status);
            }
            if let Some(request_id) = request_id {
                self.0.record("request_id", request_id);
            }
            if let Some(started) = started {
                self.0.record("elapsed_ms", elapsed_ms(started.elapsed()));
            }
        }
    }

    fn elapsed_ms(d: Duration) -> u64 {
        u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
    }

    /// `rate_limit_remaining`: the `X-RateLimit-Remaining` the answer stated, if any.
    pub(crate) fn attempt(
        attempt: u32,
        went: bool,
        status: Option<u16>,
        error: Option<&Error>,
        rate_limit_remaining: Option<u32>,
        elapsed: Duration,
    ) {
        match error {
            Some(error) if !went => tracing::debug!(target: TARGET,
                attempt,
                elapsed_ms = elapsed_ms(elapsed),
                error = %error,
                "attempt not sent"
            ),
            None => tracing::debug!(target: TARGET,
                attempt,
                http.status_code = status,
                rate_limit_remaining,
                elapsed_ms = elapsed_ms(elapsed),
                "attempt succeeded"
            ),
            Some(error) => tracing::debug!(target: TARGET,
                attempt,
                http.status_code = status,
                rate_limit_remaining,
                elapsed_ms = elapsed_ms(elapsed),
                error = %error,
                "attempt failed"
            ),
        }
    }

    pub(crate) fn retry(attempt: u32, delay: Duration, error: &Error) {
        let reason = if error.retry_after().is_some() {
            "Retry-After"
        } else {
            "backoff"
        };
        tracing::debug!(target: TARGET,
            attempt,
            delay_ms = elapsed_ms(delay),
            reason,
            error = %error,
            "retrying"
        );
    }

    pub(crate) fn pacing_wait(wait: Duration, reason: &'static str) {
        tracing::debug!(target: TARGET,
            wait_ms = elapsed_ms(wait),
            reason,
            "waiting for the rate-limit budget"
        );
    }

    pub(crate) fn giving_up(
        operation: &'static str,
        method: &reqwest::Method,
        path: &str,
        why: GiveUp,
        error: &Error,
    ) {
        tracing::warn!(target: TARGET,
            operation,
            http.method = %method,
            url.path = path,
            attempts = error.attempts(),
            reason = why.as_str(),
            error = %error,
            "giving up"
        );
    }

    /// `direction` is `request` or `response`; `text` is already masked.
    pub(crate) fn body(direction: &'static str, text: &str) {
        let cut = if text.len() > MAX_LOGGED_BODY_BYTES {
            let mut end = MAX_LOGGED_BODY_BYTES;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            end
        } else {
            text.len()
        };
        tracing::trace!(target: TARGET,
            direction,
            body = &text[..cut],
            truncated = cut < text.len(),
            "body"
        );
    }

    /// `direction` is `request` or `response`; `text` is already masked.
    pub(crate) fn headers(direction: &'static str, text: &str) {
        tracing::trace!(target: TARGET, direction, headers = text, "headers");
    }

    pub(crate) fn bodies_enabled() -> bool {
        tracing::enabled!(tracing::Level::TRACE)
    }

    /// Whether the per-attempt `DEBUG` events would be recorded (when not, the attempt's
    /// clock is not read).
    pub(crate) fn attempts_enabled() -> bool {
        tracing::enabled!(tracing::Level::DEBUG)
    }
}

#[cfg(not(feature = "tracing"))]
mod imp {
    use super::*;

    #[derive(Clone)]
    pub(crate) struct CallSpan;

    impl CallSpan {
        #[inline]
        pub(crate) fn new(
            _operation: &'static str,
            _method: &reqwest::Method,
            _path: &str,
            _idempotency_key: Option<&str>,
        ) -> Self {
            Self
        }

        #[inline]
        pub(crate) fn instrument<F: std::future::Future>(&self, future: F) -> F {
            future
        }

        #[inline]
        pub(crate) fn is_enabled(&self) -> bool {
            false
        }

        #[inline]
        pub(crate) fn finish(
            &self,
            _: u32,
            _: Option<u16>,
            _: Option<&str>,
            _: Option<tokio::time::Instant>,
        ) {
        }
    }

    #[inline]
    pub(crate) fn attempt(
        _: u32,
        _: bool,
        _: Option<u16>,
        _: Option<&Error>,
        _: Option<u32>,
        _: Duration,
    ) {
    }

    #[inline]
    pub(crate) fn retry(_: u32, _: Duration, _: &Error) {}

    #[inline]
    pub(crate) fn pacing_wait(_: Duration, _: &'static str) {}

    #[inline]
    pub(crate) fn giving_up(_: &'static str, _: &reqwest::Method, _: &str, _: GiveUp, _: &Error) {}

    #[inline]
    pub(crate) fn body(_: &'static str, _: &str) {}

    #[inline]
    pub(crate) fn headers(_: &'static str, _: &str) {}

    #[inline]
    pub(crate) fn bodies_enabled() -> bool {
        false
    }

    #[inline]
    pub(crate) fn attempts_enabled() -> bool {
        false
    }
}

pub(crate) use imp::*;
