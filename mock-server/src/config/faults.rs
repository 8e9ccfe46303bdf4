//! Fault injection settings ([`FaultConfig`]): plain data, validated with the rest of the
//! configuration. The generator that draws from them lives with the server state
//! (`state::faults`); the decision on the request path is the fault layer (`layers::faults`).

use std::time::Duration;

/// The status of the injected unfamiliar error code.
pub const UNKNOWN_CODE_STATUS: u16 = 409;
/// The injected unfamiliar error code: not in the document's `ErrorCode` enum, so clients
/// must treat it as retryable on the same idempotency key.
pub const UNKNOWN_CODE: &str = "request_in_progress";
/// Requests of a token a 429 burst rejects when none is given.
pub const DEFAULT_BURST_LEN: u32 = 3;
/// The longest injected latency accepted.
pub const MAX_LATENCY: Duration = Duration::from_secs(60);

/// Which faults to inject and how often: each a probability per `/api/v1` request, drawn from
/// one generator seeded with [`FaultConfig::seed`]. Off (all zero) by default.
///
/// At most one of drop, reset, 500, 503, unknown code and 429 burst happens to a request (their
/// probabilities add up to at most 1); latency is drawn on its own and adds to any of them.
/// Each token has its own stream of draws, derived from the seed: the same seed and the same
/// sequence of requests per token give the same faults, so a failing run can be replayed
/// (clients that use one token each replay exactly however their requests interleave; clients
/// sharing a token depend on the order their requests arrive in).
///
/// ```
/// use std::time::Duration;
/// use heldqr_mock::{FaultConfig, MockConfig};
///
/// let faults = FaultConfig::new()
///     .seed(7)
///     .drop_after_commit(0.05)
///     .reset_after_commit(0.05)
///     .internal_error(0.05)
///     .service_unavailable(0.05)
///     .unknown_code(0.03)
///     .rate_limit_burst(0.02, 3)
///     .latency(0.10, Duration::from_millis(20));
/// assert!((faults.fault_rate() - 0.25).abs() < 1e-9);
/// let config = MockConfig::default().faults(faults);
/// # let _ = config;
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultConfig {
    pub(crate) seed: Option<u64>,
    pub(crate) drop_after_commit: f64,
    pub(crate) reset_after_commit: f64,
    pub(crate) internal_error: f64,
    pub(crate) service_unavailable: f64,
    pub(crate) unknown_code: f64,
    pub(crate) burst: f64,
    pub(crate) burst_len: u32,
    pub(crate) latency: f64,
    pub(crate) latency_by: Duration,
}

impl FaultConfig {
    /// No faults (the same as `FaultConfig::default()`).
    pub fn new() -> Self {
        FaultConfig::default()
    }

    /// Seeds the fault generator (default: a random seed, readable with
    /// [`AppState::fault_seed`](crate::AppState::fault_seed)).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The request is handled (a create is committed) and then the connection is closed
    /// cleanly (FIN) without a response.
    pub fn drop_after_commit(mut self, p: f64) -> Self {
        self.drop_after_commit = p;
        self
    }

    /// The request is handled (a create is committed) and then the connection is reset (RST,
    /// `SO_LINGER` 0) without a response.
    pub fn reset_after_commit(mut self, p: f64) -> Self {
        self.reset_after_commit = p;
        self
    }

    /// 500 `internal_error` before anything is handled or committed.
    pub fn internal_error(mut self, p: f64) -> Self {
        self.internal_error = p;
        self
    }

    /// 503 `service_unavailable` before anything is handled or committed.
    pub fn service_unavailable(mut self, p: f64) -> Self {
        self.service_unavailable = p;
        self
    }

    /// 409 with the code `request_in_progress` ([`UNKNOWN_CODE`]), a code that is not in the
    /// document, before anything is handled or committed.
    pub fn unknown_code(mut self, p: f64) -> Self {
        self.unknown_code = p;
        self
    }

    /// With probability `p` a burst starts: this request and the next `len - 1` requests of
    /// the same token get 429 `rate_limited` whatever the budget, with `Retry-After: 1`,
    /// `X-RateLimit-Remaining: 0` and the other rate-limit headers. Spends no credit. Requests
    /// without a known token never start a burst.
    pub fn rate_limit_burst(mut self, p: f64, len: u32) -> Self {
        self.burst = p;
        self.burst_len = len;
        self
    }

    /// With probability `p` the request waits `by` before anything else happens.
    pub fn latency(mut self, p: f64, by: Duration) -> Self {
        self.latency = p;
        self.latency_by = by;
        self
    }

    /// The probability that a request meets a fault other than latency (the sum of drop,
    /// reset, 500, 503, unknown code and burst starts; a burst then rejects more requests).
    pub fn fault_rate(&self) -> f64 {
        self.exclusive().iter().sum()
    }

    /// True when some fault (latency included) can happen.
    pub fn is_enabled(&self) -> bool {
        self.fault_rate() > 0.0 || (self.latency > 0.0 && !self.latency_by.is_zero())
    }

    pub(crate) fn exclusive(&self) -> [f64; 6] {
        [
            self.drop_after_commit,
            self.reset_after_commit,
            self.internal_error,
            self.service_unavailable,
            self.unknown_code,
            self.burst,
        ]
    }

    /// Checks the probabilities (each in 0..=1, together at most 1), the burst length and the
    /// latency.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let named = [
            ("drop", self.drop_after_commit),
            ("reset", self.reset_after_commit),
            ("500", self.internal_error),
            ("503", self.service_unavailable),
            ("unknown-code", self.unknown_code),
            ("429-burst", self.burst),
            ("latency", self.latency),
        ];
        for (name, p) in named {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!(
                    "fault probability {name} must be from 0 to 1, got {p}"
                ));
            }
        }
        if self.fault_rate() > 1.0 + 1e-9 {
            return Err(format!(
                "the fault probabilities (drop, reset, 500, 503, unknown code, 429 burst) add up to {} (more than 1)",
                self.fault_rate()
            ));
        }
        if self.burst > 0.0 && self.burst_len == 0 {
            return Err("a 429 burst rejects at least 1 request".into());
        }
        if self.latency_by > MAX_LATENCY {
            return Err(format!(
                "injected latency must be at most {} s",
                MAX_LATENCY.as_secs()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(FaultConfig::new().validate().is_ok());
        assert!(!FaultConfig::new().is_enabled());
        assert!(FaultConfig::new().internal_error(1.5).validate().is_err());
        assert!(
            FaultConfig::new()
                .internal_error(0.6)
                .service_unavailable(0.6)
                .validate()
                .is_err()
        );
        assert!(
            FaultConfig::new()
                .rate_limit_burst(0.1, 0)
                .validate()
                .is_err()
        );
        assert!(
            FaultConfig::new()
                .latency(0.5, Duration::from_secs(61))
                .validate()
                .is_err()
        );
        assert!(
            FaultConfig::new()
                .latency(0.5, Duration::ZERO)
                .validate()
                .is_ok()
        );
        assert!(!FaultConfig::new().latency(0.5, Duration::ZERO).is_enabled());
    }
}
