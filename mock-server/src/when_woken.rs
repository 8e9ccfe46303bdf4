//! [`WhenWoken`]: a future that is polled only when its own waker fired, not each time the task
//! it shares is woken for something else.
//!
//! A connection's task waits on its connection (woken a few times per request) and, beside it,
//! on events that almost never come (the server stopping, the connection evicted, a fault
//! dropping it). `tokio::select!` polls every branch on every wake-up, so those rare futures
//! were polled a few times per request, each poll a lock or an atomic read-modify-write. Under
//! this wrapper they are polled once to register, then again only after one of them woke it:
//! a wake-up for the connection costs a waker registration (unchanged waker: a compare) and
//! one atomic swap here.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::task::AtomicWaker;

/// Polls `F` only after `F` asked for it (see the module).
pub(crate) struct WhenWoken<F> {
    fut: Pin<Box<F>>,
    flag: Arc<Flag>,
    /// The waker `F` is polled with: it raises the flag and wakes the task.
    waker: Waker,
}

struct Flag {
    woken: AtomicBool,
    task: AtomicWaker,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

impl<F: Future> WhenWoken<F> {
    pub(crate) fn new(fut: F) -> Self {
        let flag = Arc::new(Flag {
            // Polled the first time, to register its wakers.
            woken: AtomicBool::new(true),
            task: AtomicWaker::new(),
        });
        WhenWoken {
            fut: Box::pin(fut),
            waker: Waker::from(flag.clone()),
            flag,
        }
    }
}

impl<F: Future> Future for WhenWoken<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        // Before reading the flag, so that a wake-up after the read reaches this task.
        this.flag.task.register(cx.waker());
        if !this.flag.woken.swap(false, Ordering::Acquire) {
            return Poll::Pending;
        }
        this.fut
            .as_mut()
            .poll(&mut Context::from_waker(&this.waker))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Counts its polls; ready once `ready` is set, and wakes through the waker it kept.
    struct Counted {
        polls: Arc<AtomicUsize>,
        ready: Arc<AtomicBool>,
        kept: Arc<std::sync::Mutex<Option<Waker>>>,
    }

    impl Future for Counted {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            if self.ready.load(Ordering::SeqCst) {
                return Poll::Ready(());
            }
            *self.kept.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    /// Counts the wake-ups of the task polling the wrapper.
    struct TaskWakes(AtomicUsize);
    impl Wake for TaskWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn the_inner_future_is_polled_once_to_register_then_only_after_it_woke() {
        let polls = Arc::new(AtomicUsize::new(0));
        let ready = Arc::new(AtomicBool::new(false));
        let kept = Arc::new(std::sync::Mutex::new(None));
        let mut fut = std::pin::pin!(WhenWoken::new(Counted {
            polls: polls.clone(),
            ready: ready.clone(),
            kept: kept.clone(),
        }));
        let task = Arc::new(TaskWakes(AtomicUsize::new(0)));
        let waker = Waker::from(task.clone());
        let mut cx = Context::from_waker(&waker);

        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert_eq!(polls.load(Ordering::SeqCst), 1);
        // The task woken for something else: the inner future is not polled.
        for _ in 0..5 {
            assert!(fut.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(polls.load(Ordering::SeqCst), 1);

        // The inner future's event: the task is woken, and the next poll reaches it.
        ready.store(true, Ordering::SeqCst);
        kept.lock().unwrap().take().unwrap().wake();
        assert_eq!(task.0.load(Ordering::SeqCst), 1);
        assert!(fut.as_mut().poll(&mut cx).is_ready());
        assert_eq!(polls.load(Ordering::SeqCst), 2);
    }
}
