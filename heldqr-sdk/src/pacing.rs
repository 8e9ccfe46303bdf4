//! Optional client-side pacing against the rate limit ([`crate::ClientBuilder::pace_rate_limit`]).
//!
//! The pacer keeps the latest budget the server reported, shared by every clone of a client
//! and every task using it. Before each attempt a task reserves one credit locally; when none
//! is left it waits until `X-RateLimit-Reset` (when the oldest counted request leaves the
//! sliding window) instead of spending a request to learn it would get a 429. After the reset
//! one task goes first as a probe and the others wait for the budget its response reports.
//! Each response refreshes the budget, minus the requests still in flight that the server may
//! not have counted yet, so several concurrent tasks never overdraw it.
//!
//! Deadlines are converted once from the server's Unix seconds to a `tokio::time::Instant`,
//! so waits follow tokio's clock (and tokio's paused test clock).

use std::pin::pin;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::response::RateLimit;

#[derive(Debug, Default)]
struct State {
    /// `None` until a response reported the budget.
    budget: Option<Budget>,
    in_flight: u32,
    probing: bool,
}

#[derive(Debug, Clone, Copy)]
struct Budget {
    remaining: u32,
    /// When `remaining` next increases.
    reset_at: Instant,
}

/// Shared pacing state of one client (behind its `Arc`).
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    state: Mutex<State>,
    changed: Notify,
}

/// A reserved slot for one attempt; releasing it wakes waiting tasks.
pub(crate) struct Permit<'a> {
    pacer: &'a Pacer,
    probe: bool,
}

enum Wait {
    Until(Instant),
    ForProbe,
}

impl Pacer {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means another task panicked mid-update; the counters stay usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reserves a credit, waiting for the budget when none is left. Never waits longer than
    /// `max_wait` in one go: past that the request is sent and the server decides.
    pub(crate) async fn acquire(&self, max_wait: Duration) -> Permit<'_> {
        loop {
            let notified = self.changed.notified();
            let mut notified = pin!(notified);
            let wait = {
                let mut state = self.lock();
                // Register for wake-ups before releasing the lock so none is missed.
                notified.as_mut().enable();
                let now = Instant::now();
                let probing = state.probing;
                let budget = state.budget;
                match budget {
                    None => {
                        state.in_flight += 1;
                        return Permit {
                            pacer: self,
                            probe: false,
                        };
                    }
                    Some(budget) if budget.remaining > 0 => {
                        state.budget = Some(Budget {
                            remaining: budget.remaining - 1,
                            ..budget
                        });
                        state.in_flight += 1;
                        return Permit {
                            pacer: self,
                            probe: false,
                        };
                    }
                    Some(budget) if budget.reset_at > now => {
                        if budget.reset_at - now > max_wait {
                            state.in_flight += 1;
                            return Permit {
                                pacer: self,
                                probe: false,
                            };
                        }
                        Wait::Until(budget.reset_at)
                    }
                    Some(_) if !probing => {
                        state.probing = true;
                        state.in_flight += 1;
                        return Permit {
                            pacer: self,
                            probe: true,
                        };
                    }
                    Some(_) => Wait::ForProbe,
                }
            };
            match wait {
                Wait::Until(at) => {
                    let sleep = pin!(tokio::time::sleep_until(at));
                    futures_util::future::select(notified, sleep).await;
                }
                Wait::ForProbe => notified.await,
            }
        }
    }

    /// Records the budget a response reported (called while its permit is still held).
    pub(crate) fn observe(&self, rate_limit: &RateLimit) {
        let now_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let until_reset = Duration::from_secs(rate_limit.reset).saturating_sub(now_unix);
        let now = Instant::now();
        let reset_at = now
            .checked_add(until_reset)
            .unwrap_or(now + Duration::from_secs(86_400 * 365));
        let mut state = self.lock();
        let others_in_flight = state.in_flight.saturating_sub(1);
        state.budget = Some(Budget {
            remaining: rate_limit.remaining.saturating_sub(others_in_flight),
            reset_at,
        });
        drop(state);
        self.changed.notify_waiters();
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut state = self.pacer.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        if self.probe {
            state.probing = false;
        }
        drop(state);
        self.pacer.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix_now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_budget_does_not_wait() {
        let pacer = Pacer::default();
        let start = Instant::now();
        let _a = pacer.acquire(Duration::from_secs(30)).await;
        let _b = pacer.acquire(Duration::from_secs(30)).await;
        assert_eq!(Instant::now(), start);
    }

    #[tokio::test(start_paused = true)]
    async fn exhausted_budget_waits_for_reset() {
        let pacer = Pacer::default();
        {
            let _permit = pacer.acquire(Duration::from_secs(30)).await;
            pacer.observe(&RateLimit {
                limit: 2,
                remaining: 0,
                reset: unix_now() + 5,
            });
        }
        let start = Instant::now();
        let _permit = pacer.acquire(Duration::from_secs(30)).await;
        assert!(Instant::now() - start >= Duration::from_secs(4));
    }

    #[tokio::test(start_paused = true)]
    async fn a_reset_beyond_max_wait_is_not_awaited() {
        let pacer = Pacer::default();
        {
            let _permit = pacer.acquire(Duration::from_secs(30)).await;
            pacer.observe(&RateLimit {
                limit: 2,
                remaining: 0,
                reset: unix_now() + 3600,
            });
        }
        let start = Instant::now();
        let _permit = pacer.acquire(Duration::from_secs(30)).await;
        assert_eq!(Instant::now(), start);
    }

    #[tokio::test(start_paused = true)]
    async fn in_flight_requests_are_subtracted() {
        let pacer = Pacer::default();
        let first = pacer.acquire(Duration::from_secs(30)).await;
        let second = pacer.acquire(Duration::from_secs(30)).await;
        // The first response says 1 left, but the second request is still in flight.
        pacer.observe(&RateLimit {
            limit: 2,
            remaining: 1,
            reset: unix_now() + 10,
        });
        drop(first);
        drop(second);
        let start = Instant::now();
        let _third = pacer.acquire(Duration::from_secs(30)).await;
        assert!(Instant::now() - start >= Duration::from_secs(9));
    }
}
