//! Optional client-side pacing against the rate limit ([`crate::ClientBuilder::pace_rate_limit`]).
//!
//! The budget belongs to a token, so there is one [`Pacer`] per (base URL, token) in the
//! process ([`shared`]): every pacing client of that pair uses it, and the registry forgets a
//! pacer once no client holds it.
//!
//! Nothing about the budget is assumed. The limit is `X-RateLimit-Limit` as the server states
//! it. The window is inferred from the headers against the pacer's own send times: a
//! response's `X-RateLimit-Reset` is when the oldest counted request leaves the window, and
//! that request was sent no later than this one, so `reset - sent_at` is a lower bound of the
//! window (exact, up to the header's upward rounding to whole seconds, when this request was
//! the oldest counted, as the first request on an idle token is); the pacer keeps the largest
//! such bound, and counts an own request as released a small margin after it.
//!
//! Before each attempt a task reserves one credit. With none left it waits, without spending
//! a request, until a credit frees: at the server's `X-RateLimit-Reset` for the first one,
//! then one per own request as each leaves the inferred window. Until the first response has
//! told the budget, and after a reset the pacer cannot account for (the token also used
//! elsewhere), one request goes alone and the others wait for the budget its response
//! reports. Each response refreshes the budget, minus the requests still in flight that the
//! server may not have counted yet, so concurrent tasks never overdraw it. Since a 429 spends a
//! credit too, the pacer does not send to find out; the one exception is a wait longer than the
//! call may wait (the policy's `max_retry_after`, or what is left of its deadline): then the
//! request goes, and the server's 429 says how long, as without pacing.
//!
//! Instants are `tokio::time::Instant`, so waits follow tokio's clock (and its paused test
//! clock); the server's Unix-seconds reset is converted once, on arrival.

use std::collections::{HashMap, VecDeque};
use std::pin::pin;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::config::Token;
use crate::response::RateLimit;
use crate::telemetry;

/// Added to the inferred window before an own request is counted as released: covers the
/// difference in latency between requests and a small clock skew between client and server
/// (the reset's whole-second rounding is upwards, per the API document, so it only adds
/// slack). An early release would cost one 429; a late one a little throughput.
fn margin(window: Duration) -> Duration {
    Duration::from_millis(250) + window / 50
}

/// Most own send times remembered, whatever the limit says.
const MAX_SENDS: usize = 100_000;

type Registry = Mutex<HashMap<(String, Token), Weak<Pacer>>>;

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// The process's pacer for this base URL and token, created on first use. Entries no client
/// holds any more are dropped on every call, so the registry holds only live pacers.
pub(crate) fn shared(base_url: &str, token: &Token) -> Arc<Pacer> {
    let mut registry = REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    registry.retain(|_, pacer| pacer.strong_count() > 0);
    let key = (base_url.to_owned(), token.clone());
    if let Some(pacer) = registry.get(&key).and_then(Weak::upgrade) {
        return pacer;
    }
    let pacer = Arc::new(Pacer::default());
    registry.insert(key, Arc::downgrade(&pacer));
    pacer
}

#[derive(Debug, Default)]
struct State {
    /// `X-RateLimit-Limit`; `None` until a response reported the budget.
    limit: Option<u32>,
    /// Credits believed free now.
    remaining: u32,
    /// The server's next release (`X-RateLimit-Reset`), until it is used.
    reset_at: Option<Instant>,
    /// The inferred window (largest lower bound seen, without the margin).
    window: Option<Duration>,
    /// Own send times not yet known to have left the window, oldest first.
    sends: VecDeque<Instant>,
    in_flight: u32,
    probing: bool,
    /// A probe came back without rate-limit headers: the server does not state a budget,
    /// so there is nothing to pace against.
    unpaced: bool,
}

impl State {
    /// Frees the credits that have come back by `now`: the server's reset first, then each
    /// own request whose inferred window has passed.
    fn release(&mut self, now: Instant) {
        let Some(limit) = self.limit else { return };
        if let Some(reset) = self.reset_at {
            if reset > now {
                return;
            }
            // At the reset the oldest counted request left: one credit, and if that request
            // was ours it is the front of `sends`.
            self.reset_at = None;
            self.remaining = (self.remaining + 1).min(limit);
            self.sends.pop_front();
        }
        if let Some(window) = self.window {
            let window = window + margin(window);
            while self.sends.front().is_some_and(|&s| s + window <= now) {
                self.sends.pop_front();
                self.remaining = (self.remaining + 1).min(limit);
            }
        }
    }

    /// When the next credit frees, if the pacer can tell.
    fn next_release(&self) -> Option<Instant> {
        if let Some(reset) = self.reset_at {
            return Some(reset);
        }
        let window = self.window?;
        let window = window + margin(window);
        self.sends.front().map(|&s| s + window)
    }
}

/// Shared pacing state of one (base URL, token).
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    state: Mutex<State>,
    changed: Notify,
}

/// A reserved slot for one attempt; releasing it wakes waiting tasks.
pub(crate) struct Permit {
    pacer: Arc<Pacer>,
    probe: bool,
    sent_at: Instant,
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
    pub(crate) async fn acquire(self: &Arc<Self>, max_wait: Duration) -> Permit {
        loop {
            let notified = self.changed.notified();
            let mut notified = pin!(notified);
            let wait = {
                let mut state = self.lock();
                // Register for wake-ups before releasing the lock so none is missed.
                notified.as_mut().enable();
                let now = Instant::now();
                state.release(now);
                if state.unpaced {
                    return self.permit(&mut state, false, now);
                }
                match state.limit {
                    None if state.probing => Wait::ForProbe,
                    None => return self.permit(&mut state, true, now),
                    Some(_) if state.remaining > 0 => {
                        state.remaining -= 1;
                        return self.permit(&mut state, false, now);
                    }
                    Some(_) => match state.next_release() {
                        Some(at) if at > now => {
                            if at - now > max_wait {
                                return self.permit(&mut state, false, now);
                            }
                            Wait::Until(at)
                        }
                        // Freed credits the pacer cannot place (used elsewhere): ask once.
                        _ if state.probing || state.in_flight > 0 => Wait::ForProbe,
                        _ => return self.permit(&mut state, true, now),
                    },
                }
            };
            match wait {
                Wait::Until(at) => {
                    telemetry::pacing_wait(
                        at.saturating_duration_since(Instant::now()),
                        "no credit left in the rate-limit window",
                    );
                    let sleep = pin!(tokio::time::sleep_until(at));
                    futures_util::future::select(notified, sleep).await;
                }
                Wait::ForProbe => {
                    telemetry::pacing_wait(
                        Duration::ZERO,
                        "waiting for another request to report the budget",
                    );
                    notified.await;
                }
            }
        }
    }

    fn permit(self: &Arc<Self>, state: &mut State, probe: bool, now: Instant) -> Permit {
        state.in_flight += 1;
        if probe {
            state.probing = true;
        }
        // Only a stated budget makes send times useful, and never more of them than it
        // holds (an older one cannot still be in the window); the cap bounds the memory.
        if let Some(limit) = state.limit.filter(|_| !state.unpaced) {
            let cap = usize::try_from(limit)
                .unwrap_or(MAX_SENDS)
                .clamp(1, MAX_SENDS);
            while state.sends.len() >= cap {
                state.sends.pop_front();
            }
            state.sends.push_back(now);
        } else if probe {
            state.sends.clear();
            state.sends.push_back(now);
        }
        Permit {
            pacer: Arc::clone(self),
            probe,
            sent_at: now,
        }
    }
}

impl Permit {
    /// Records the budget this attempt's response reported (called while the permit is held).
    pub(crate) fn observe(&self, rate_limit: &RateLimit) {
        let now_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let until_reset = Duration::from_secs(rate_limit.reset).saturating_sub(now_unix);
        let now = Instant::now();
        let reset_at = now
            .checked_add(until_reset)
            .unwrap_or(now + Duration::from_secs(86_400 * 365));
        let mut state = self.pacer.lock();
        // The oldest counted request was sent no later than this one.
        let bound = reset_at.saturating_duration_since(self.sent_at);
        state.window = Some(state.window.map_or(bound, |w| w.max(bound)));
        // Own requests that left the window before now are in the server's figure already.
        if let Some(window) = state.window {
            let window = window + margin(window);
            while state.sends.front().is_some_and(|&s| s + window <= now) {
                state.sends.pop_front();
            }
        }
        let others_in_flight = state.in_flight.saturating_sub(1);
        state.limit = Some(rate_limit.limit);
        state.remaining = rate_limit
            .remaining
            .min(rate_limit.limit)
            .saturating_sub(others_in_flight);
        state.reset_at = (reset_at > now).then_some(reset_at);
        state.unpaced = false;
        drop(state);
        self.pacer.changed.notify_waiters();
    }

    /// This attempt's response carried no rate-limit headers. If no response ever stated a
    /// budget, the server does not pace by headers, and neither does the pacer.
    pub(crate) fn no_budget_stated(&self) {
        let mut state = self.pacer.lock();
        if state.limit.is_none() {
            state.unpaced = true;
        }
    }
}

impl Drop for Permit {
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

    fn budget(limit: u32, remaining: u32, reset_in: u64) -> RateLimit {
        RateLimit {
            limit,
            remaining,
            reset: unix_now() + reset_in,
        }
    }

    const MAX: Duration = Duration::from_secs(30);

    async fn blocks(pacer: &Arc<Pacer>) -> bool {
        tokio::time::timeout(Duration::from_millis(1), pacer.acquire(MAX))
            .await
            .is_err()
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_request_goes_alone_until_the_budget_is_known() {
        let pacer = Arc::new(Pacer::default());
        let probe = pacer.acquire(MAX).await;
        assert!(
            blocks(&pacer).await,
            "a second request waits for the probe's answer"
        );
        probe.observe(&budget(10, 9, 60));
        drop(probe);
        let start = Instant::now();
        let _a = pacer.acquire(MAX).await;
        let _b = pacer.acquire(MAX).await;
        assert_eq!(Instant::now(), start);
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_without_rate_limit_headers_is_not_paced() {
        let pacer = Arc::new(Pacer::default());
        let probe = pacer.acquire(MAX).await;
        probe.no_budget_stated();
        drop(probe);
        let start = Instant::now();
        let _a = pacer.acquire(MAX).await;
        let _b = pacer.acquire(MAX).await;
        assert_eq!(Instant::now(), start);
        // Nothing to pace against, so nothing is remembered either.
        for _ in 0..1000 {
            drop(pacer.acquire(MAX).await);
        }
        assert!(pacer.lock().sends.len() <= 1);
    }

    #[tokio::test(start_paused = true)]
    async fn send_times_are_bounded_by_the_limit() {
        let pacer = Arc::new(Pacer::default());
        let probe = pacer.acquire(MAX).await;
        probe.observe(&budget(3, 2, 60));
        drop(probe);
        for _ in 0..50 {
            let permit = pacer.acquire(MAX).await;
            // A server that keeps granting (another window each time, say).
            permit.observe(&budget(3, 2, 60));
        }
        assert!(pacer.lock().sends.len() <= 3);
    }

    #[tokio::test(start_paused = true)]
    async fn exhausted_budget_waits_for_reset() {
        let pacer = Arc::new(Pacer::default());
        {
            let permit = pacer.acquire(MAX).await;
            permit.observe(&budget(2, 0, 5));
        }
        let start = Instant::now();
        let _permit = pacer.acquire(MAX).await;
        let waited = Instant::now() - start;
        assert!(
            waited >= Duration::from_secs(4) && waited <= Duration::from_secs(5),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_reset_beyond_max_wait_is_not_awaited() {
        let pacer = Arc::new(Pacer::default());
        {
            let permit = pacer.acquire(MAX).await;
            permit.observe(&budget(2, 0, 3600));
        }
        let start = Instant::now();
        let _permit = pacer.acquire(MAX).await;
        assert_eq!(Instant::now(), start);
    }

    #[tokio::test(start_paused = true)]
    async fn in_flight_requests_are_subtracted() {
        let pacer = Arc::new(Pacer::default());
        let probe = pacer.acquire(MAX).await;
        probe.observe(&budget(3, 2, 10));
        drop(probe);
        let first = pacer.acquire(MAX).await;
        let second = pacer.acquire(MAX).await;
        // The first response says 1 left, but the second request is still in flight.
        first.observe(&budget(3, 1, 10));
        drop(first);
        drop(second);
        let start = Instant::now();
        let _third = pacer.acquire(MAX).await;
        assert!(Instant::now() - start >= Duration::from_secs(9));
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_is_inferred_from_reset_against_send_times() {
        // A budget of 3 per 20 s (the pacer is never told 20 s). The first request on an idle
        // token is the oldest counted: its reset is its send time plus the window.
        let pacer = Arc::new(Pacer::default());
        let start = Instant::now();
        let first = pacer.acquire(MAX).await;
        first.observe(&budget(3, 2, 20));
        drop(first);
        tokio::time::advance(Duration::from_secs(5)).await;
        for remaining in [1, 0] {
            let permit = pacer.acquire(MAX).await;
            permit.observe(&budget(3, remaining, 15));
        }
        // Out of credit: the next frees at the server's reset (first send + 20 s)...
        let _third = pacer.acquire(MAX).await;
        let waited = Instant::now() - start;
        assert!(
            waited >= Duration::from_secs(19) && waited <= Duration::from_secs(20),
            "{waited:?}"
        );
        // ...the one after when the second request (sent at 5 s) leaves the inferred window,
        // without asking the server again.
        let _fourth = pacer.acquire(MAX).await;
        let waited = Instant::now() - start;
        assert!(
            waited >= Duration::from_secs(24) && waited <= Duration::from_secs(27),
            "{waited:?}"
        );
    }

    #[test]
    fn one_pacer_per_base_url_and_token_forgotten_when_unused() {
        let token = Token::new("hkr_pacer_registry_test");
        let a = shared("http://127.0.0.1:1", &token);
        let b = shared("http://127.0.0.1:1", &token);
        assert!(Arc::ptr_eq(&a, &b));
        let other_token = shared("http://127.0.0.1:1", &Token::new("hkr_other"));
        assert!(!Arc::ptr_eq(&a, &other_token));
        let other_host = shared("http://127.0.0.1:2", &token);
        assert!(!Arc::ptr_eq(&a, &other_host));
        let weak = Arc::downgrade(&a);
        drop((a, b));
        assert!(
            weak.upgrade().is_none(),
            "the registry holds no strong reference"
        );
        let fresh = shared("http://127.0.0.1:1", &token);
        assert!(fresh.lock().limit.is_none());
    }
}
