//! The fault generator of one server: per token, a stream of draws seeded from the fault seed,
//! the running 429 bursts, and the counts of what was injected. It only chooses
//! ([`Faults::draw`] returns a [`FaultChoice`]); the fault layer (`layers::faults`) carries the
//! choice out on the request path.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::config::FaultConfig;

/// How many faults a server injected so far (see [`AppState::fault_counts`](crate::AppState::fault_counts)).
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

    /// True when connection drops can be asked for (the server can drop a connection).
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

/// What the generator chose for one `/api/v1` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FaultChoice {
    /// Wait this long first.
    pub delay: Option<Duration>,
    pub fault: Option<Fault>,
}

/// One injected fault (latency aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Handle the request, then drop the connection (HTTP/1.1) or reset the stream (HTTP/2).
    DropAfter(DropKind),
    /// 500 `internal_error` before anything is handled.
    InternalError,
    /// 503 `service_unavailable` before anything is handled.
    ServiceUnavailable,
    /// The unfamiliar error code before anything is handled.
    UnknownCode,
    /// A 429 of a burst.
    RateLimited,
}

impl Faults {
    /// True when faults are configured and switched on.
    pub(crate) fn is_on(&self) -> bool {
        self.enabled.load(Ordering::SeqCst)
    }

    /// Chooses the fault of one `/api/v1` request of `token` (`None`: no known token). Draws
    /// exactly two numbers (one for latency, one for the fault) from the token's stream
    /// (requests without a known token share one stream), so the same sequence of requests per
    /// token replays the same faults however requests of different tokens interleave.
    pub(crate) fn draw(&self, token: Option<u32>) -> FaultChoice {
        let cfg = &self.config;
        bump(&self.counts.requests);
        let (latency_draw, draw, in_burst) = {
            let mut rt = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            let rt = &mut *rt;
            match token.and_then(|t| rt.tokens.get_mut(t as usize)) {
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
            bump(&self.counts.delayed);
            cfg.latency_by
        });
        if in_burst {
            bump(&self.counts.rate_limited);
            return FaultChoice {
                delay,
                fault: Some(Fault::RateLimited),
            };
        }
        let mut edge = 0.0;
        let mut band = |p: f64| {
            let hit = draw >= edge && draw < edge + p;
            edge += p;
            hit
        };
        let fault = if band(cfg.drop_after_commit) {
            Some(Fault::DropAfter(DropKind::Close))
        } else if band(cfg.reset_after_commit) {
            Some(Fault::DropAfter(DropKind::Reset))
        } else if band(cfg.internal_error) {
            bump(&self.counts.internal_error);
            Some(Fault::InternalError)
        } else if band(cfg.service_unavailable) {
            bump(&self.counts.service_unavailable);
            Some(Fault::ServiceUnavailable)
        } else if band(cfg.unknown_code) {
            bump(&self.counts.unknown_code);
            Some(Fault::UnknownCode)
        } else if band(cfg.burst) && token.is_some() {
            bump(&self.counts.rate_limited);
            Some(Fault::RateLimited)
        } else {
            None
        };
        FaultChoice { delay, fault }
    }
}
