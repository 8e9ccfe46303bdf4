//! Optional client-side pacing against the rate limit ([`crate::ClientBuilder::pace_rate_limit`]).
//!
//! The budget belongs to a token, so there is one [`Pacer`] per (base URL, token) in the
//! process ([`shared`]): every pacing client of that pair uses it, and the registry forgets a
//! pacer once no client holds it.
//!
//! Nothing about the budget is assumed. The limit is `X-RateLimit-Limit` as the server states
//! it. The window is inferred from the server's answers against the pacer's own send times,
//! as two bounds:
//! - `X-RateLimit-Remaining` says how many requests the server counts when this one arrived
//!   (`limit - remaining`, this one included). Read against the pacer's own recent sends,
//!   newest first, the oldest of those still counts (the window is longer than its age) and
//!   the next older one has left (the window is at most its age when the answer came). With
//!   requests a few milliseconds apart this pins the window to a few milliseconds.
//! - `X-RateLimit-Reset` is when the oldest counted request leaves, rounded up to a whole
//!   second: the window is at most the reset minus that request's send time, and longer than
//!   one second less than the reset from now.
//!
//! Until the bounds are tight, a whole number of seconds between them is taken as the
//! window (budgets are stated in whole seconds: "600 requests per minute"); an answer that
//! contradicts it (more requests counted than that window allows) moves the lower bound past
//! it, and from then on the upper bound is used. Another client spending the same token's
//! budget only makes the bounds wider, so the pacer slower, never faster.
//!
//! Before each attempt a task reserves one credit. With none left it waits, without spending
//! a request, until a credit frees: one per own request as it leaves the inferred window (plus
//! a margin of a few milliseconds for the difference in latency between requests), or at the
//! server's `X-RateLimit-Reset` when none of the counted requests is the pacer's own. Until
//! the first response has told the budget, and after a reset the pacer cannot account for
//! (the token also used elsewhere), one request goes alone and the others wait for the
//! budget its response reports. Each response refreshes the budget, minus every own request
//! the server may not have counted when that one arrived (those sent after it, and those in
//! flight when it was sent: concurrent requests can overtake each other on the way and their
//! answers come back in any order), so concurrent tasks never overdraw it. Only a response
//! whose request went with no earlier one in flight is read against the send times to bound
//! the window; any answer with credit left lets the pacer forget own sends too old to be
//! counted still (the server's figure has their credits back already). A credit reserved for
//! an attempt that never went out (its deadline ran out first) is given back.
//! Since a 429 spends a credit too, the pacer does not send to find out; the one exception is
//! a wait longer than the call may wait (the policy's `max_retry_after`, or what is left of
//! its deadline), and a wait for another request's answer that has lasted that long: then
//! the request goes (or the deadline ends the call), and the server's 429 says how long, as
//! without pacing.
//!
//! Instants are `tokio::time::Instant`, so waits follow tokio's clock (and its paused test
//! clock); the server's Unix-seconds reset is converted once, on arrival.

use std::collections::{HashMap, VecDeque};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::config::Token;
use crate::response::RateLimit;
use crate::telemetry;

/// Added to the inferred window before an own request is counted as released: covers the
/// difference in latency between two requests (the server counts each from when it arrives,
/// to the millisecond) and a little scheduling delay. An early release would cost one 429; a
/// late one a little throughput.
fn margin(window: Duration) -> Duration {
    Duration::from_millis(15) + window / 1000
}

/// Slack on an upper bound read from the server's millisecond counting.
const ONE_MS: Duration = Duration::from_millis(1);

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
    /// The window is known to be longer than this.
    window_above: Duration,
    /// The window is known to be at most this; `None` until an answer bounded it.
    window_at_most: Option<Duration>,
    /// Own send times the server still counts, as far as the pacer knows, oldest first: each
    /// gives back a credit when it leaves the window.
    sends: VecDeque<Instant>,
    /// Own recent send times, released or not, oldest first: what the server's count is read
    /// against.
    history: VecDeque<Instant>,
    in_flight: u32,
    /// Permits handed out so far: each permit's number, so answers can be told apart by age.
    granted: u64,
    /// The number of the newest permit whose answer has set the budget.
    newest_answer: u64,
    probing: bool,
    /// A probe came back without rate-limit headers: the server does not state a budget,
    /// so there is nothing to pace against.
    unpaced: bool,
}

impl State {
    /// The window the pacer works with: a whole number of seconds within the bounds if there
    /// is one, else the upper bound.
    fn window(&self) -> Option<Duration> {
        let at_most = self.window_at_most?;
        let whole = Duration::from_secs(at_most.as_secs());
        Some(if !whole.is_zero() && whole > self.window_above {
            whole
        } else {
            at_most.max(self.window_above)
        })
    }

    /// When an own request sent at `sent` gives its credit back.
    fn released_at(&self, sent: Instant) -> Option<Instant> {
        let window = self.window()?;
        Some(sent + window + margin(window))
    }

    /// Frees the credits that have come back by `now`: each own request whose inferred window
    /// has passed, or the server's reset when the pacer cannot place the counted requests.
    fn release(&mut self, now: Instant) {
        let Some(limit) = self.limit else { return };
        if self.window().is_some() {
            while let Some(at) = self.sends.front().and_then(|&s| self.released_at(s)) {
                if at > now {
                    break;
                }
                self.sends.pop_front();
                self.remaining = self.remaining.saturating_add(1).min(limit);
            }
            if !self.sends.is_empty() {
                return;
            }
        }
        if let Some(reset) = self.reset_at {
            if reset > now {
                return;
            }
            // At the reset the oldest counted request left: one credit, and if that request
            // was ours it is the front of `sends`.
            self.reset_at = None;
            self.remaining = self.remaining.saturating_add(1).min(limit);
            self.sends.pop_front();
        }
    }

    /// When the next credit frees, if the pacer can tell.
    fn next_release(&self) -> Option<Instant> {
        match self.sends.front() {
            Some(&front) if self.window().is_some() => self.released_at(front),
            _ => self.reset_at,
        }
    }

    /// Narrows the window's bounds with one answer: the server counted `counted` requests
    /// (this one included) when the request sent at `sent_at` arrived, and the oldest of them
    /// leaves at `reset_at` (rounded up to a whole second). `exact` is false when the count
    /// is only a lower bound (no credit left: a 429 counts whatever came before it).
    /// `overtaken_by` earlier own requests were in flight when this one went: any of them may
    /// have arrived after it, uncounted, so the counted ones may reach that many sends further
    /// back, and the answer bounds nothing that depends on the order.
    fn learn(
        &mut self,
        sent_at: Instant,
        now: Instant,
        counted: usize,
        exact: bool,
        overtaken_by: usize,
        reset_at: Instant,
    ) {
        // At most a second before the reset, the oldest counted request (which arrived
        // before now) was still inside the window.
        if let Some(before_reset) = reset_at.checked_sub(Duration::from_secs(1)) {
            self.window_above = self
                .window_above
                .max(before_reset.saturating_duration_since(now));
        }
        // Own sends up to this one; newest last.
        let upto = self.history.partition_point(|&s| s <= sent_at);
        if counted == 0 || upto < counted {
            return;
        }
        // Own requests at or before the oldest counted one: it still counts, and (when the
        // count is exact) the one before it has left.
        let oldest_counted = self.history[upto - counted];
        self.window_above = self
            .window_above
            .max(sent_at.saturating_duration_since(oldest_counted));
        if !exact {
            return;
        }
        // Own requests older than any that can still be counted have left the window, and
        // the server's figure has their credits already: they give none back later.
        if let Some(oldest_counted_at_most) = upto.checked_sub(counted.saturating_add(overtaken_by))
        {
            let kept_from = self.history[oldest_counted_at_most];
            while self.sends.front().is_some_and(|&s| s < kept_from) {
                self.sends.pop_front();
            }
        }
        if overtaken_by > 0 {
            return;
        }
        let mut at_most = reset_at.saturating_duration_since(oldest_counted) + ONE_MS;
        if upto > counted {
            let left = self.history[upto - counted - 1];
            // Sends at the same instant cannot be told apart: no bound from them.
            if left < oldest_counted {
                at_most = at_most.min(now.saturating_duration_since(left) + ONE_MS);
            }
        }
        // An answer that contradicts what is known (the token also spent elsewhere, requests
        // overtaking each other) does not narrow the window.
        if at_most > self.window_above {
            self.window_at_most = Some(self.window_at_most.map_or(at_most, |w| w.min(at_most)));
        }
    }
}

/// Shared pacing state of one (base URL, token).
#[derive(Debug)]
pub(crate) struct Pacer {
    state: Mutex<State>,
    changed: Notify,
    /// The wall clock the server's Unix-seconds reset is read against (tests move it with
    /// tokio's paused clock).
    wall: fn() -> Duration,
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer {
            state: Mutex::default(),
            changed: Notify::new(),
            wall: system_wall,
        }
    }
}

/// Time since the Unix epoch, as `X-RateLimit-Reset` counts it.
fn system_wall() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

/// A reserved slot for one attempt; releasing it wakes waiting tasks.
pub(crate) struct Permit {
    pacer: Arc<Pacer>,
    probe: bool,
    sent_at: Instant,
    /// Handed out after every permit with a lower number.
    number: u64,
    /// Earlier requests in flight when this one went: any of them may reach the server after
    /// it. With none, the server counted every earlier one before it, so its figure can be
    /// read against the send times.
    overtaken_by: u32,
    /// The grant took one of the credits believed free.
    took_credit: bool,
    /// The request went on the wire ([`Permit::sent`]). A permit dropped before that sent
    /// nothing: its send time is forgotten and its credit given back.
    sent: AtomicBool,
}

enum Wait {
    Until(Instant),
    /// For a request in flight to report the budget (at most until the call's `until`).
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
    /// `max_wait` in all, however often it is woken: a wait that would end later is not begun
    /// (the request is sent and the server decides), and a wait for another request to report
    /// the budget, whose length nobody knows ahead, ends at `max_wait` the same way.
    pub(crate) async fn acquire(self: &Arc<Self>, max_wait: Duration) -> Permit {
        // The latest this call waits until; `None`: later than an `Instant` can hold.
        let until = Instant::now().checked_add(max_wait);
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
                let out_of_time = until.is_some_and(|until| now >= until);
                match state.limit {
                    None if state.probing && out_of_time => {
                        return self.permit(&mut state, false, now);
                    }
                    None if state.probing => Wait::ForProbe,
                    None => return self.permit(&mut state, true, now),
                    Some(_) if state.remaining > 0 => {
                        state.remaining -= 1;
                        return self.permit(&mut state, false, now).taking_a_credit();
                    }
                    Some(_) => match state.next_release() {
                        Some(at) if at > now => {
                            if until.is_some_and(|until| at > until) {
                                return self.permit(&mut state, false, now);
                            }
                            Wait::Until(at)
                        }
                        // Freed credits the pacer cannot place (used elsewhere): ask once.
                        _ if (state.probing || state.in_flight > 0) && out_of_time => {
                            return self.permit(&mut state, false, now);
                        }
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
                    match until {
                        // Woken early (another request's answer or permit), the loop looks
                        // again; at `until` it stops waiting.
                        Some(until) => {
                            let sleep = pin!(tokio::time::sleep_until(until));
                            futures_util::future::select(notified, sleep).await;
                        }
                        // A wait longer than an `Instant` can hold: as long as it takes.
                        None => notified.await,
                    }
                }
            }
        }
    }

    fn permit(self: &Arc<Self>, state: &mut State, probe: bool, now: Instant) -> Permit {
        // Earlier requests still in flight may reach the server after this one.
        let overtaken_by = state.in_flight;
        state.in_flight += 1;
        state.granted += 1;
        let number = state.granted;
        if probe {
            state.probing = true;
        }
        // Only a stated budget makes send times useful, and never more of them than it
        // holds (an older one cannot still be in the window; the history keeps one more, the
        // newest that left, plus the requests in flight); the caps bound the memory.
        if let Some(limit) = state.limit.filter(|_| !state.unpaced) {
            let cap = usize::try_from(limit)
                .unwrap_or(MAX_SENDS)
                .clamp(1, MAX_SENDS);
            while state.sends.len() >= cap {
                state.sends.pop_front();
            }
            state.sends.push_back(now);
            let history_cap = cap.saturating_mul(2).saturating_add(2).min(2 * MAX_SENDS);
            while state.history.len() >= history_cap {
                state.history.pop_front();
            }
            state.history.push_back(now);
        } else if probe {
            state.sends.clear();
            state.sends.push_back(now);
            state.history.clear();
            state.history.push_back(now);
        }
        Permit {
            pacer: Arc::clone(self),
            probe,
            sent_at: now,
            number,
            overtaken_by,
            took_credit: false,
            sent: AtomicBool::new(false),
        }
    }
}

impl Permit {
    fn taking_a_credit(mut self) -> Self {
        self.took_credit = true;
        self
    }

    /// The request is going on the wire now.
    pub(crate) fn sent(&self) {
        self.sent.store(true, Ordering::Relaxed);
    }

    /// Records the budget this attempt's response reported (called while the permit is held).
    pub(crate) fn observe(&self, rate_limit: &RateLimit) {
        self.sent();
        let now_unix = (self.pacer.wall)();
        let until_reset = Duration::from_secs(rate_limit.reset).saturating_sub(now_unix);
        let now = Instant::now();
        let reset_at = now
            .checked_add(until_reset)
            .unwrap_or(now + Duration::from_secs(86_400 * 365));
        let remaining = rate_limit.remaining.min(rate_limit.limit);
        let counted = usize::try_from(rate_limit.limit - remaining).unwrap_or(usize::MAX);
        let mut state = self.pacer.lock();
        let overtaken_by = usize::try_from(self.overtaken_by).unwrap_or(usize::MAX);
        state.learn(
            self.sent_at,
            now,
            counted,
            remaining > 0,
            overtaken_by,
            reset_at,
        );
        state.limit = Some(rate_limit.limit);
        // The server's figure counts the requests that arrived before this one. Those it may
        // not count: every request sent after this one, and the earlier ones that were in
        // flight when it went (with calls running at once, either may arrive after it, and
        // be answered before this answer is read).
        let sent_after = state.granted.saturating_sub(self.number);
        let uncounted = u32::try_from(sent_after)
            .unwrap_or(u32::MAX)
            .saturating_add(self.overtaken_by);
        let budget = remaining.saturating_sub(uncounted);
        if self.number >= state.newest_answer {
            state.newest_answer = self.number;
            state.remaining = budget;
            state.reset_at = (reset_at > now).then_some(reset_at);
        } else {
            // An older request's answer after a newer one's (concurrent calls): the server
            // counted fewer requests when it arrived, and the newer answers already done are
            // no longer in flight to subtract, so it may only lower the budget.
            state.remaining = state.remaining.min(budget);
        }
        state.unpaced = false;
        drop(state);
        self.pacer.changed.notify_waiters();
    }

    /// This attempt's response carried no rate-limit headers. If no response ever stated a
    /// budget, the server does not pace by headers, and neither does the pacer.
    pub(crate) fn no_budget_stated(&self) {
        self.sent();
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
        if !self.sent.load(Ordering::Relaxed) {
            // Never sent (the deadline ran out first, the request could not be built): the
            // server counts nothing, so nothing comes back later either.
            let at = self.sent_at;
            if let Some(i) = state.sends.iter().rposition(|&s| s == at) {
                state.sends.remove(i);
            }
            if let Some(i) = state.history.iter().rposition(|&s| s == at) {
                state.history.remove(i);
            }
            if self.took_credit
                && let Some(limit) = state.limit
            {
                state.remaining = state.remaining.saturating_add(1).min(limit);
            }
        }
        drop(state);
        self.pacer.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wall clock that starts at a fixed point of a second when a test first reads it and
    /// then moves with tokio's paused clock: the server's resets and the pacer's reading of
    /// them never straddle a real second boundary.
    fn test_wall() -> Duration {
        thread_local! {
            static START: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
        }
        let now = Instant::now();
        let start = START.with(|start| {
            let first = start.get().unwrap_or(now);
            start.set(Some(first));
            first
        });
        Duration::from_millis(1_800_000_000_437) + (now - start)
    }

    /// A pacer on [`test_wall`].
    fn pacer() -> Arc<Pacer> {
        Arc::new(Pacer {
            wall: test_wall,
            ..Pacer::default()
        })
    }

    fn unix_now() -> u64 {
        test_wall().as_secs()
    }

    fn budget(limit: u32, remaining: u32, reset_in: u64) -> RateLimit {
        RateLimit {
            limit,
            remaining,
            reset: unix_now() + reset_in,
        }
    }

    const MAX: Duration = Duration::from_secs(30);

    /// A permit for a request that goes on the wire at once.
    async fn send(pacer: &Arc<Pacer>) -> Permit {
        let permit = pacer.acquire(MAX).await;
        permit.sent();
        permit
    }

    async fn blocks(pacer: &Arc<Pacer>) -> bool {
        tokio::time::timeout(Duration::from_millis(1), pacer.acquire(MAX))
            .await
            .is_err()
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_request_goes_alone_until_the_budget_is_known() {
        let pacer = pacer();
        let probe = send(&pacer).await;
        assert!(
            blocks(&pacer).await,
            "a second request waits for the probe's answer"
        );
        probe.observe(&budget(10, 9, 60));
        drop(probe);
        let start = Instant::now();
        let _a = send(&pacer).await;
        let _b = send(&pacer).await;
        assert_eq!(Instant::now(), start);
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_without_rate_limit_headers_is_not_paced() {
        let pacer = pacer();
        let probe = send(&pacer).await;
        probe.no_budget_stated();
        drop(probe);
        let start = Instant::now();
        let _a = send(&pacer).await;
        let _b = send(&pacer).await;
        assert_eq!(Instant::now(), start);
        // Nothing to pace against, so nothing is remembered either.
        for _ in 0..1000 {
            drop(send(&pacer).await);
        }
        assert!(pacer.lock().sends.len() <= 1);
    }

    #[tokio::test(start_paused = true)]
    async fn send_times_are_bounded_by_the_limit() {
        let pacer = pacer();
        let probe = send(&pacer).await;
        probe.observe(&budget(3, 2, 60));
        drop(probe);
        for _ in 0..50 {
            let permit = send(&pacer).await;
            // A server that keeps granting (another window each time, say).
            permit.observe(&budget(3, 2, 60));
        }
        assert!(pacer.lock().sends.len() <= 3);
    }

    #[tokio::test(start_paused = true)]
    async fn exhausted_budget_waits_for_reset() {
        let pacer = pacer();
        {
            let permit = send(&pacer).await;
            permit.observe(&budget(2, 0, 5));
        }
        let start = Instant::now();
        let _permit = send(&pacer).await;
        let waited = Instant::now() - start;
        assert!(
            waited >= Duration::from_secs(4) && waited <= Duration::from_secs(5),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_reset_beyond_max_wait_is_not_awaited() {
        let pacer = pacer();
        {
            let permit = send(&pacer).await;
            permit.observe(&budget(2, 0, 3600));
        }
        let start = Instant::now();
        let _permit = send(&pacer).await;
        assert_eq!(Instant::now(), start);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_for_the_probe_lasts_at_most_max_wait() {
        // The first request is on its way and has not reported the budget: the next one
        // waits for it, but no longer than it may wait; then it goes, and is no probe.
        let pacer = pacer();
        let probe = send(&pacer).await;
        let start = Instant::now();
        let next = tokio::time::timeout(
            Duration::from_secs(3),
            pacer.acquire(Duration::from_secs(2)),
        )
        .await
        .expect("the wait ends at max_wait");
        assert_eq!(Instant::now() - start, Duration::from_secs(2));
        assert!(!next.probe);
        drop(next);
        // Woken part way (another permit, an answer without a budget), it does not start
        // its wait over: the limit is from when the call began.
        let start = Instant::now();
        let waiting = tokio::spawn({
            let pacer = pacer.clone();
            async move { pacer.acquire(Duration::from_secs(2)).await }
        });
        tokio::task::yield_now().await;
        tokio::time::advance(Duration::from_secs(1)).await;
        pacer.changed.notify_waiters();
        drop(waiting.await.unwrap());
        assert_eq!(Instant::now() - start, Duration::from_secs(2));
        // A wait too long to be an `Instant` is as long as the probe takes.
        let waiting = tokio::spawn({
            let pacer = pacer.clone();
            async move { pacer.acquire(Duration::MAX).await }
        });
        tokio::task::yield_now().await;
        tokio::time::advance(Duration::from_secs(3600)).await;
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        probe.observe(&budget(5, 3, 10));
        drop(probe);
        drop(waiting.await.unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_answers_in_any_order_never_raise_the_budget_past_the_limit() {
        // A budget of 5: the probe, then 4 requests at once, which reach the server in
        // another order than they were sent and are answered in yet another. Whatever the
        // order, the fifth credit is spent: the next request waits.
        let orders: [[(usize, u32); 4]; 3] = [
            // (which request, the remaining its answer states), in the order read.
            [(3, 0), (0, 3), (1, 2), (2, 1)],
            [(0, 0), (3, 3), (1, 2), (2, 1)],
            [(1, 1), (2, 0), (3, 3), (0, 2)],
        ];
        for order in orders {
            let pacer = pacer();
            let probe = send(&pacer).await;
            probe.observe(&budget(5, 4, 10));
            drop(probe);
            let mut permits = Vec::new();
            for _ in 0..4 {
                permits.push(Some(send(&pacer).await));
            }
            for (which, remaining) in order {
                let permit = permits[which].take().unwrap();
                permit.observe(&budget(5, remaining, 10));
                drop(permit);
                assert!(blocks(&pacer).await, "{order:?}: {:?}", pacer.lock());
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_credit_an_overtaking_answer_already_counted_is_not_given_back_again() {
        // 3 per 9 s. The probe S at 0 s teaches the window. Just before S leaves it, A and B
        // go at once; B reaches the server first, after S left, so its answer already has
        // S's credit back. S must not free a credit again when its window passes.
        let pacer = pacer();
        let mut server = Server::new(3, Duration::from_secs(9));
        let probe = send(&pacer).await;
        probe.observe(&server.hit().0);
        drop(probe);
        tokio::time::advance(Duration::from_millis(8_990)).await;
        let a = send(&pacer).await;
        let b = send(&pacer).await;
        tokio::time::advance(Duration::from_millis(20)).await;
        b.observe(&server.hit().0);
        drop(b);
        // Past S's own release time: one credit is free (the server counts only B, and A is
        // on its way), not two.
        tokio::time::advance(Duration::from_millis(20)).await;
        let c = send(&pacer).await;
        assert!(blocks(&pacer).await, "{:?}", pacer.lock());
        let (answer, accepted) = server.hit();
        assert!(accepted);
        c.observe(&answer);
        let (answer, accepted) = server.hit();
        assert!(accepted, "A, the third in the window");
        a.observe(&answer);
    }

    #[tokio::test(start_paused = true)]
    async fn a_permit_dropped_unsent_gives_its_credit_back() {
        // A budget of 2 per 20 s: one request goes, then a call takes the last credit but
        // never sends (its deadline ran out, say). The credit is still free.
        let pacer = pacer();
        let probe = send(&pacer).await;
        probe.observe(&budget(2, 1, 20));
        drop(probe);
        drop(pacer.acquire(MAX).await);
        let start = Instant::now();
        let _permit = send(&pacer).await;
        assert_eq!(Instant::now(), start);
        assert!(blocks(&pacer).await, "{:?}", pacer.lock());
    }

    #[tokio::test(start_paused = true)]
    async fn in_flight_requests_are_subtracted() {
        let pacer = pacer();
        let probe = send(&pacer).await;
        probe.observe(&budget(3, 2, 10));
        drop(probe);
        let first = send(&pacer).await;
        let second = send(&pacer).await;
        // The first response says 1 left, but the second request is still in flight.
        first.observe(&budget(3, 1, 10));
        drop(first);
        drop(second);
        let start = Instant::now();
        let _third = send(&pacer).await;
        assert!(Instant::now() - start >= Duration::from_secs(9));
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_is_inferred_from_reset_against_send_times() {
        // A budget of 3 per 20 s (the pacer is never told 20 s). The first request on an idle
        // token is the oldest counted: its reset is its send time plus the window.
        let pacer = pacer();
        let start = Instant::now();
        let first = send(&pacer).await;
        first.observe(&budget(3, 2, 20));
        drop(first);
        tokio::time::advance(Duration::from_secs(5)).await;
        for remaining in [1, 0] {
            let permit = send(&pacer).await;
            permit.observe(&budget(3, remaining, 15));
        }
        // Out of credit: the next frees at the server's reset (first send + 20 s)...
        let _third = send(&pacer).await;
        let waited = Instant::now() - start;
        assert!(
            waited >= Duration::from_secs(19) && waited <= Duration::from_secs(20),
            "{waited:?}"
        );
        // ...the one after when the second request (sent at 5 s) leaves the inferred window,
        // without asking the server again.
        let _fourth = send(&pacer).await;
        let waited = Instant::now() - start;
        assert!(
            waited >= Duration::from_secs(24) && waited <= Duration::from_secs(27),
            "{waited:?}"
        );
    }

    /// A sliding-window server as the API describes it (every request spends a credit for one
    /// window from the millisecond it arrived, a 429 included), on tokio's clock.
    struct Server {
        limit: u32,
        window: Duration,
        arrivals: VecDeque<Instant>,
        rejected: u32,
    }

    impl Server {
        fn new(limit: u32, window: Duration) -> Self {
            Self {
                limit,
                window,
                arrivals: VecDeque::new(),
                rejected: 0,
            }
        }

        /// Unix seconds, rounded up, of an instant on tokio's clock.
        fn unix_ceil(at: Instant) -> u64 {
            let now = Instant::now();
            let unix = test_wall() + (at - now);
            unix.as_secs() + u64::from(unix.subsec_nanos() > 0)
        }

        /// Counts a request arriving now and answers with the rate-limit headers.
        fn hit(&mut self) -> (RateLimit, bool) {
            let now = Instant::now();
            while self
                .arrivals
                .front()
                .is_some_and(|&a| a + self.window <= now)
            {
                self.arrivals.pop_front();
            }
            let before = self.arrivals.len();
            self.arrivals.push_back(now);
            let limit = self.limit as usize;
            if before >= limit {
                self.rejected += 1;
                let frees = self.arrivals[self.arrivals.len() - limit] + self.window;
                let answer = RateLimit {
                    limit: self.limit,
                    remaining: 0,
                    reset: Self::unix_ceil(frees),
                };
                return (answer, false);
            }
            let answer = RateLimit {
                limit: self.limit,
                remaining: self.limit - self.arrivals.len() as u32,
                reset: Self::unix_ceil(self.arrivals[0] + self.window),
            };
            (answer, true)
        }
    }

    /// Sends `rows` requests one after the other through the pacer, each taking `latency`
    /// on the wire, retrying a 429 after its reset as the SDK would. Returns the time from the
    /// first send to the last accepted one.
    async fn import(
        pacer: &Arc<Pacer>,
        server: &mut Server,
        rows: u32,
        latency: Duration,
    ) -> Duration {
        let start = Instant::now();
        let mut last = start;
        for _ in 0..rows {
            loop {
                let permit = send(pacer).await;
                tokio::time::advance(latency / 2).await;
                let (answer, accepted) = server.hit();
                tokio::time::advance(latency / 2).await;
                permit.observe(&answer);
                drop(permit);
                if accepted {
                    last = Instant::now() - latency;
                    break;
                }
                tokio::time::advance(Duration::from_secs(1)).await;
            }
        }
        last - start
    }

    #[tokio::test(start_paused = true)]
    async fn a_sequential_import_fills_each_window_without_a_429() {
        // 120 per 10 s, as `heldqr codes import --rate-limit 120/10s` meets it; the pacer is
        // never told the window. The first send is part-way through a second (`test_wall`
        // starts at .437).
        let pacer = pacer();
        let mut server = Server::new(120, Duration::from_secs(10));
        let took = import(&pacer, &mut server, 480, Duration::from_millis(3)).await;
        assert_eq!(server.rejected, 0);
        // The last of 480 rows cannot go before 30 s (three windows after the first burst).
        assert!(took >= Duration::from_secs(30), "{took:?}");
        assert!(took <= Duration::from_millis(30_000 * 100 / 98), "{took:?}");
        let state = pacer.lock();
        assert_eq!(state.window(), Some(Duration::from_secs(10)));
        assert!(
            state.window_at_most.unwrap() - Duration::from_secs(10) < Duration::from_millis(10),
            "{state:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_window_of_no_whole_seconds_costs_at_most_one_429() {
        // 20 per 7.5 s: the reset's whole seconds leave the window between 7 and 8.5 s, and
        // where the bounds allow 7 s the pacer tries it once; the server's count corrects it.
        let pacer = pacer();
        let mut server = Server::new(20, Duration::from_millis(7_500));
        let took = import(&pacer, &mut server, 100, Duration::from_millis(3)).await;
        assert!(server.rejected <= 1, "{}", server.rejected);
        // Ideal 30 s (four windows after the first burst); a 429 costs a credit, so a window,
        // and its one-second retry.
        assert!(took >= Duration::from_secs(30), "{took:?}");
        assert!(took <= Duration::from_secs(40), "{took:?}");
        let window = pacer.lock().window().unwrap();
        assert!(
            window >= Duration::from_millis(7_500) && window <= Duration::from_millis(8_501),
            "{window:?}"
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
