//! [`HeaderTimer`]: the timer hyper's HTTP/1.1 header read timeout runs on, one per connection.
//!
//! hyper starts a fresh sleep for every request's headers and drops it once they are read. On
//! tokio's own timer, each of those sleeps that is polled (the connection waited for the next
//! request) puts an entry into tokio's shared timer wheel and takes it out again: together with
//! the sleep's handle, about 560 instructions a request under load (see BENCHMARKS.md, "Speed as
//! users run it"). Here each connection keeps one alarm in the wheel instead. A request's sleep
//! (still one small allocation, hyper boxes it) only notes its deadline; when polled before it,
//! it makes sure the alarm rings no later than the deadline. Deadlines only move later (each is
//! "now + the header timeout"), so the alarm is set once and, when it rings early for a
//! deadline that has since moved, set again: one wheel operation per connection per header
//! timeout, not two per request. A connection whose headers do not come still fails at its
//! deadline, as with tokio's timer. The cost of the scheme: the alarm stays in the wheel while
//! the connection lives, so a connection's task is woken once per header timeout even while it
//! is busy with a request (it finds nothing to do and waits again).
//!
//! One alarm holds one waker, so a timer must serve one connection only: it is not `Clone`,
//! and the server makes hyper's connection builder per connection.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::time::Instant as TokioInstant;

/// One connection's timer for hyper (`http1().timer(...)`); never shared between connections.
#[derive(Default)]
pub(crate) struct HeaderTimer {
    alarm: Arc<Alarm>,
}

/// The connection's one entry in tokio's timer wheel, made on first use.
#[derive(Default)]
struct Alarm(Mutex<Option<Pin<Box<tokio::time::Sleep>>>>);

impl hyper::rt::Timer for HeaderTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(self.now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(Deadline {
            at: TokioInstant::from_std(deadline),
            alarm: self.alarm.clone(),
        })
    }

    /// tokio's clock (so a test that pauses it sees the timeout as the server does).
    fn now(&self) -> Instant {
        TokioInstant::now().into_std()
    }
}

/// One request's sleep: ready at `at`.
struct Deadline {
    at: TokioInstant,
    alarm: Arc<Alarm>,
}

impl hyper::rt::Sleep for Deadline {}

impl Future for Deadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let at = self.at;
        let mut alarm = self.alarm.0.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if TokioInstant::now() >= at {
                return Poll::Ready(());
            }
            match alarm.as_mut() {
                None => *alarm = Some(Box::pin(tokio::time::sleep_until(at))),
                // Set for a later deadline (a sleep from before, polled again): ring earlier.
                Some(sleep) if sleep.deadline() > at => sleep.as_mut().reset(at),
                Some(sleep) => match sleep.as_mut().poll(cx) {
                    // Rings no later than `at`, and will wake this task.
                    Poll::Pending => return Poll::Pending,
                    // Rang for an earlier deadline: set it for this one.
                    Poll::Ready(()) => sleep.as_mut().reset(at),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hyper::rt::Timer;

    use super::*;

    fn poll(sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>) -> Poll<()> {
        sleep
            .as_mut()
            .poll(&mut Context::from_waker(std::task::Waker::noop()))
    }

    #[tokio::test(start_paused = true)]
    async fn a_sleep_is_ready_at_its_deadline_and_not_before() {
        let timer = HeaderTimer::default();
        let mut sleep = timer.sleep(Duration::from_secs(30));
        assert!(poll(&mut sleep).is_pending());
        tokio::time::advance(Duration::from_secs(29)).await;
        assert!(poll(&mut sleep).is_pending());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(poll(&mut sleep).is_ready());
    }

    #[tokio::test(start_paused = true)]
    async fn later_deadlines_reuse_the_alarm_and_each_still_ends_on_time() {
        let timer = HeaderTimer::default();
        // One request's headers come in time; its sleep is dropped, as hyper does.
        let mut first = timer.sleep(Duration::from_secs(30));
        assert!(poll(&mut first).is_pending());
        drop(first);
        tokio::time::advance(Duration::from_secs(20)).await;
        // The next request's deadline is 50 s from the start; the alarm was set for 30.
        let mut second = timer.sleep(Duration::from_secs(30));
        assert!(poll(&mut second).is_pending());
        // The task is woken when the old alarm rings (at 30 s), and the sleep is not ready.
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(poll(&mut second).is_pending());
        tokio::time::advance(Duration::from_secs(19)).await;
        assert!(poll(&mut second).is_pending());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(poll(&mut second).is_ready());
    }

    #[tokio::test(start_paused = true)]
    async fn an_earlier_deadline_after_a_later_one_still_rings_on_time() {
        let timer = HeaderTimer::default();
        let mut long = timer.sleep(Duration::from_secs(60));
        assert!(poll(&mut long).is_pending());
        let mut short = timer.sleep(Duration::from_secs(5));
        assert!(poll(&mut short).is_pending());
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(poll(&mut short).is_ready());
        assert!(poll(&mut long).is_pending());
    }

    /// The alarm wakes the connection's task: a task waiting on a sleep alone finishes.
    #[tokio::test(start_paused = true)]
    async fn a_waiting_task_is_woken_at_the_deadline() {
        let timer = HeaderTimer::default();
        let mut early = timer.sleep(Duration::from_secs(10));
        assert!(poll(&mut early).is_pending());
        drop(early);
        let started = TokioInstant::now();
        timer.sleep(Duration::from_secs(30)).await;
        assert_eq!(started.elapsed(), Duration::from_secs(30));
    }
}
