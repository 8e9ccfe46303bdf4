//! The server's clock. Everything that reads time (rate windows, idempotency expiry, timestamps,
//! scan windows) reads a [`MockClock`], so tests move time instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;

/// An advance beyond which [`MockClock::now_nanos`] takes the calendar's way (100 years).
const FAR_AHEAD_NANOS: u64 = 100 * 366 * 86_400 * 1_000_000_000;
/// The calendar's last instant (9999-12-31T23:59:59.999999999Z) in Unix nanoseconds.
const LAST_NANOS: i128 = 253_402_300_799_999_999_999;

/// A clock that is either the system clock or a manual one, plus an offset that only grows.
///
/// `now() = base + offset`, where `base` is the system time (system clock) or a fixed instant
/// (manual clock) and `offset` is the sum of every [`advance`](MockClock::advance). Clones share
/// the offset, so a test keeps a clone and moves the server's time.
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use heldqr_mock::MockClock;
/// use time::macros::datetime;
///
/// let clock = MockClock::manual(datetime!(2026-06-01 09:00 UTC));
/// let server_side = clock.clone();
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(server_side.now(), datetime!(2026-06-01 09:01:30 UTC));
/// ```
#[derive(Clone)]
pub struct MockClock {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None`: system time; `Some`: the manual clock's start.
    base: Option<OffsetDateTime>,
    /// Nanoseconds added by `advance`.
    offset_nanos: AtomicU64,
}

impl MockClock {
    /// The system clock (UTC), which `advance` moves ahead of real time.
    pub fn system() -> Self {
        MockClock {
            inner: Arc::new(Inner {
                base: None,
                offset_nanos: AtomicU64::new(0),
            }),
        }
    }

    /// A clock frozen at `start` (converted to UTC) that only moves with `advance`.
    pub fn manual(start: OffsetDateTime) -> Self {
        MockClock {
            inner: Arc::new(Inner {
                base: Some(start.to_offset(time::UtcOffset::UTC)),
                offset_nanos: AtomicU64::new(0),
            }),
        }
    }

    /// True for a manual clock.
    pub fn is_manual(&self) -> bool {
        self.inner.base.is_some()
    }

    /// Moves the clock forward by `by` (saturating far beyond any useful range; past the
    /// calendar's last instant the clock shows its start: see [`try_advance`](Self::try_advance)).
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .inner
            .offset_nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |cur| {
                Some(cur.saturating_add(nanos))
            });
    }

    /// Moves the clock forward by `by`, unless that would take it past what it can show
    /// (the calendar's last instant, 9999-12-31T23:59:59.999999999Z, or about 584 years of
    /// advances in all): then returns false and the clock stays where it was.
    pub fn try_advance(&self, by: Duration) -> bool {
        let Ok(nanos) = u64::try_from(by.as_nanos()) else {
            return false;
        };
        let base = self.inner.base.unwrap_or_else(OffsetDateTime::now_utc);
        self.inner
            .offset_nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |cur| {
                let new = cur.checked_add(nanos)?;
                let shown = time::Duration::try_from(Duration::from_nanos(new)).ok()?;
                base.checked_add(shown).map(|_| new)
            })
            .is_ok()
    }

    /// Everything `advance` has added so far.
    pub fn offset(&self) -> Duration {
        Duration::from_nanos(self.inner.offset_nanos.load(Ordering::SeqCst))
    }

    /// The current time, in UTC.
    pub fn now(&self) -> OffsetDateTime {
        let base = self.inner.base.unwrap_or_else(OffsetDateTime::now_utc);
        base.checked_add(time::Duration::try_from(self.offset()).unwrap_or(time::Duration::MAX))
            .unwrap_or(base)
    }

    /// The current time as nanoseconds since the Unix epoch: [`now`](Self::now) without its
    /// calendar arithmetic (the request path reads the clock several times per request).
    pub(crate) fn now_nanos(&self) -> i128 {
        let offset = self.inner.offset_nanos.load(Ordering::SeqCst);
        // Far ahead, the calendar's range (and its clamping) decides.
        if offset > FAR_AHEAD_NANOS {
            return self.now().unix_timestamp_nanos();
        }
        let base = match self.inner.base {
            Some(base) => base.unix_timestamp_nanos(),
            None => match SystemTime::now().duration_since(UNIX_EPOCH) {
                Ok(since) => since.as_nanos() as i128,
                Err(before) => -(before.duration().as_nanos() as i128),
            },
        };
        let now = base + i128::from(offset);
        // Beyond the calendar's last instant `now` keeps its base; so does this.
        if now > LAST_NANOS {
            return self.now().unix_timestamp_nanos();
        }
        now
    }
}

impl std::fmt::Debug for MockClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockClock")
            .field("manual", &self.is_manual())
            .field("now", &self.now())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advance_past_what_the_clock_can_show_is_refused_and_changes_nothing() {
        let day = Duration::from_secs(86_400);
        let clock = MockClock::manual(time::macros::datetime!(9999-12-30 00:00 UTC));
        assert!(clock.try_advance(day));
        assert!(!clock.try_advance(day));
        assert_eq!(clock.now(), time::macros::datetime!(9999-12-31 00:00 UTC));
        assert!(clock.try_advance(day - Duration::from_nanos(1)));
        // Advances add up to at most about 584 years, wherever the clock starts.
        let early = MockClock::manual(time::macros::datetime!(2026-01-01 00:00 UTC));
        assert!(early.try_advance(Duration::from_nanos(u64::MAX - 1)));
        assert!(!early.try_advance(Duration::from_nanos(2)));
        assert_eq!(early.offset(), Duration::from_nanos(u64::MAX - 1));
        assert!(!early.try_advance(Duration::MAX));
    }

    #[test]
    fn nanoseconds_agree_with_the_calendar_time() {
        let clock = MockClock::manual(time::macros::datetime!(2026-03-01 12:00:00.123456789 UTC));
        for step in [0, 1, 86_400_000_000_000, FAR_AHEAD_NANOS, u64::MAX / 2] {
            clock.advance(Duration::from_nanos(step));
            assert_eq!(
                clock.now_nanos(),
                clock.now().unix_timestamp_nanos(),
                "after {step}"
            );
        }
        assert_eq!(
            time::PrimitiveDateTime::MAX
                .assume_utc()
                .unix_timestamp_nanos(),
            LAST_NANOS
        );
        let last = MockClock::manual(time::macros::datetime!(9999-12-31 23:59:59 UTC));
        for step in [0, 999_999_999, 1_000_000_000, 86_400_000_000_000] {
            last.advance(Duration::from_nanos(step));
            assert_eq!(
                last.now_nanos(),
                last.now().unix_timestamp_nanos(),
                "after {step}"
            );
        }
        let system = MockClock::system();
        let (before, read) = (OffsetDateTime::now_utc(), system.now_nanos());
        assert!(read >= before.unix_timestamp_nanos());
        assert!(read <= OffsetDateTime::now_utc().unix_timestamp_nanos());
    }
}
