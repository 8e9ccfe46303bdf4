//! Fault injection, a mock-only test aid: with [`FaultConfig`] set, every `/api/v1` request
//! may meet a fault drawn from a seeded generator, the way production networks and servers
//! fail: the connection dropped after the request was handled and committed but before the
//! response is sent (a clean close, or a TCP reset), a 500 `internal_error` or 503
//! `service_unavailable` before anything is committed, an error code no client knows yet, a
//! burst of 429s whatever the budget, and added latency. `/healthz`, `/reference`, `/r/...`
//! and `/_mock/...` never meet a fault. Off by default; when off, [`decide`] returns at once.
//!
//! [`decide`] is called once per request by the outer middleware (see `routes`); the
//! connection-level faults are carried out by the connection task (see `server`), which hands
//! every request a [`ConnControl`] to ask for its connection to be dropped.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use crate::error::ApiError;
use crate::state::AppState;

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
    /// [`AppState::fault_seed`]).
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

    fn exclusive(&self) -> [f64; 6] {
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

/// How many faults a server injected so far (see [`AppState::fault_counts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FaultCounts {
    /// `/api/v1` requests that went through the fault generator.
    pub requests: u64,
    /// Connections closed (FIN) after handling, without a response.
    pub dropped: u64,
    /// Connections reset (RST) after handling, without a response.
    pub reset: u64,
    /// Injected 500 `internal_error`.
    pub internal_error: u64,
    /// Injected 503 `service_unavailable`.
    pub service_unavailable: u64,
    /// Injected unfamiliar error codes.
    pub unknown_code: u64,
    /// Injected 429s (the first of a burst and the rest of it).
    pub rate_limited: u64,
    /// Requests that were delayed.
    pub delayed: u64,
}

impl FaultCounts {
    /// Requests that met a fault other than latency.
    pub fn faulted(&self) -> u64 {
        self.dropped
            + self.reset
            + self.internal_error
            + self.service_unavailable
            + self.unknown_code
            + self.rate_limited
    }
}

impl fmt::Display for FaultCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} requests, {} faulted: {} dropped (FIN), {} reset (RST), {} x 500, {} x 503, {} x unknown code, {} x 429; {} delayed",
            self.requests,
            self.faulted(),
            self.dropped,
            self.reset,
            self.internal_error,
            self.service_unavailable,
            self.unknown_code,
            self.rate_limited,
            self.delayed
        )
    }
}

/// How a connection is dropped without a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropKind {
    /// A clean close (FIN).
    Close,
    /// A reset (RST: `SO_LINGER` 0, then close).
    Reset,
}

/// Handed to every request of a connection when drop faults are configured: asks the
/// connection task to drop the connection.
#[derive(Debug, Clone)]
pub(crate) struct ConnControl(pub(crate) mpsc::Sender<DropKind>);

impl ConnControl {
    /// Asks for the connection to be dropped; false when nobody can do it.
    pub(crate) fn drop_connection(&self, kind: DropKind) -> bool {
        self.0.try_send(kind).is_ok()
    }
}

/// What [`decide`] chose for a request.
pub(crate) struct Plan {
    /// Wait this long first.
    pub delay: Option<Duration>,
    pub action: Action,
}

pub(crate) enum Action {
    /// Route the request as usual.
    Pass,
    /// Answer this instead of routing.
    Respond(Response),
    /// Route the request, then drop the connection instead of answering.
    DropAfter(DropKind),
}

/// The running fault generator of one server.
pub(crate) struct Faults {
    config: FaultConfig,
    seed: u64,
    enabled: AtomicBool,
    inner: Mutex<Runtime>,
    counts: Counters,
}

struct Runtime {
    /// The stream of requests without a known token.
    anonymous: fastrand::Rng,
    /// One stream per token, and the requests still to reject in its burst.
    tokens: Vec<TokenStream>,
}

struct TokenStream {
    rng: fastrand::Rng,
    burst_left: u32,
}

/// The seed of token `index`'s stream: the server seed mixed with the index, so streams differ.
fn token_seed(seed: u64, index: usize) -> u64 {
    seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    dropped: AtomicU64,
    reset: AtomicU64,
    internal_error: AtomicU64,
    service_unavailable: AtomicU64,
    unknown_code: AtomicU64,
    rate_limited: AtomicU64,
    delayed: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Faults {
    /// The generator for `config`, or `None` when it injects nothing.
    pub(crate) fn new(config: &FaultConfig, tokens: usize) -> Option<Faults> {
        if !config.is_enabled() {
            return None;
        }
        let seed = config.seed.unwrap_or_else(|| fastrand::u64(..));
        Some(Faults {
            config: config.clone(),
            seed,
            enabled: AtomicBool::new(true),
            inner: Mutex::new(Runtime {
                anonymous: fastrand::Rng::with_seed(seed),
                tokens: (0..tokens)
                    .map(|i| TokenStream {
                        rng: fastrand::Rng::with_seed(token_seed(seed, i)),
                        burst_left: 0,
                    })
                    .collect(),
            }),
            counts: Counters::default(),
        })
    }

    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }

    pub(crate) fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::SeqCst);
    }

    /// True when connection drops can be asked for (the server hands out [`ConnControl`]s).
    pub(crate) fn drops_connections(&self) -> bool {
        self.config.drop_after_commit > 0.0 || self.config.reset_after_commit > 0.0
    }

    pub(crate) fn counts(&self) -> FaultCounts {
        let c = &self.counts;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        FaultCounts {
            requests: get(&c.requests),
            dropped: get(&c.dropped),
            reset: get(&c.reset),
            internal_error: get(&c.internal_error),
            service_unavailable: get(&c.service_unavailable),
            unknown_code: get(&c.unknown_code),
            rate_limited: get(&c.rate_limited),
            delayed: get(&c.delayed),
        }
    }

    /// Forgets running bursts (the generator keeps its place in the sequence).
    pub(crate) fn reset_bursts(&self) {
        let mut rt = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        rt.tokens.iter_mut().for_each(|t| t.burst_left = 0);
    }

    pub(crate) fn record_drop(&self, kind: DropKind) {
        match kind {
            DropKind::Close => bump(&self.counts.dropped),
            DropKind::Reset => bump(&self.counts.reset),
        }
    }
}

/// True for the paths faults apply to: `/api/v1` and below.
fn in_api(path: &str) -> bool {
    path.strip_prefix("/api/v1")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Chooses the fault for `req`, if any. Draws exactly two numbers per `/api/v1` request (one
/// for latency, one for the fault) from the stream of the request's token (requests without a
/// known token share one stream), so the same sequence of requests per token replays the same
/// faults however requests of different tokens interleave.
pub(crate) fn decide(state: &AppState, req: &Request) -> Plan {
    let pass = Plan {
        delay: None,
        action: Action::Pass,
    };
    let Some(faults) = state.faults() else {
        return pass;
    };
    if !faults.enabled.load(Ordering::SeqCst) || !in_api(req.uri().path()) {
        return pass;
    }
    let cfg = &faults.config;
    let token = crate::routes::bearer_token(req.headers()).and_then(|t| state.caller(t));
    bump(&faults.counts.requests);

    let (latency_draw, draw, in_burst) = {
        let mut rt = faults.inner.lock().unwrap_or_else(|p| p.into_inner());
        let rt = &mut *rt;
        match token.and_then(|c| rt.tokens.get_mut(c.token as usize)) {
            Some(stream) => {
                let latency_draw = stream.rng.f64();
                let draw = stream.rng.f64();
                let in_burst = stream.burst_left > 0;
                if in_burst {
                    stream.burst_left -= 1;
                } else {
                    // A burst starts here when the draw lands in the burst band (the last one).
                    let start = cfg.fault_rate() - cfg.burst;
                    if draw >= start && draw < start + cfg.burst {
                        stream.burst_left = cfg.burst_len.saturating_sub(1);
                    }
                }
                (latency_draw, draw, in_burst)
            }
            None => (rt.anonymous.f64(), rt.anonymous.f64(), false),
        }
    };

    let delay = (latency_draw < cfg.latency && !cfg.latency_by.is_zero()).then(|| {
        bump(&faults.counts.delayed);
        cfg.latency_by
    });
    if in_burst {
        bump(&faults.counts.rate_limited);
        return Plan {
            delay,
            action: Action::Respond(burst_429(state)),
        };
    }
    let mut edge = 0.0;
    let mut band = |p: f64| {
        let hit = draw >= edge && draw < edge + p;
        edge += p;
        hit
    };
    let action = if band(cfg.drop_after_commit) {
        Action::DropAfter(DropKind::Close)
    } else if band(cfg.reset_after_commit) {
        Action::DropAfter(DropKind::Reset)
    } else if band(cfg.internal_error) {
        bump(&faults.counts.internal_error);
        Action::Respond(
            ApiError::internal("Injected fault: the server failed; nothing was committed.")
                .into_response(),
        )
    } else if band(cfg.service_unavailable) {
        bump(&faults.counts.service_unavailable);
        Action::Respond(
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "Injected fault: temporarily unavailable; nothing was committed.",
            )
            .into_response(),
        )
    } else if band(cfg.unknown_code) {
        bump(&faults.counts.unknown_code);
        let status = StatusCode::from_u16(UNKNOWN_CODE_STATUS).unwrap_or(StatusCode::CONFLICT);
        Action::Respond(
            ApiError::new(
                status,
                UNKNOWN_CODE,
                "Injected fault: another request is still being processed; retry with the same Idempotency-Key.",
            )
            .into_response(),
        )
    } else if band(cfg.burst) && token.is_some() {
        bump(&faults.counts.rate_limited);
        Action::Respond(burst_429(state))
    } else {
        Action::Pass
    };
    Plan { delay, action }
}

/// A 429 of a burst: `Retry-After: 1`, `Remaining: 0`, the configured limit, and a reset one
/// second ahead (rounded up to whole seconds).
fn burst_429(state: &AppState) -> Response {
    let limit = state.config().rate_limit_config().limit;
    let now = state.clock().now_nanos();
    let reset = (now.div_euclid(1_000_000_000) + 2).max(0);
    let mut res = ApiError::rate_limited(1).into_response();
    let h = res.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(0u32));
    h.insert(
        "x-ratelimit-reset",
        HeaderValue::from(i64::try_from(reset).unwrap_or(i64::MAX)),
    );
    h.insert(header::RETRY_AFTER, HeaderValue::from(1u32));
    res
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

    #[test]
    fn api_paths_only() {
        assert!(in_api("/api/v1"));
        assert!(in_api("/api/v1/codes"));
        assert!(!in_api("/api/v10"));
        assert!(!in_api("/healthz"));
        assert!(!in_api("/_mock/reset"));
        assert!(!in_api("/r/abc"));
    }
}
