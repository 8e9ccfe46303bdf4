//! [`Workers`]: threads that serve a [`MockServer`](crate::MockServer)'s connections, each with a
//! single-threaded tokio runtime of its own (thread per core), for the binary.
//!
//! A multi-threaded runtime moves work between its workers: when one has more ready tasks than
//! it runs at once, it wakes a parked worker to take some (a `futex` wake-up and, on a machine
//! whose cores a load generator shares, a context switch). Under load on 2 cores that hand-off
//! costs more than it balances (see BENCHMARKS.md, "Thread per core"). Here the accept loop
//! hands each new connection, in turn, to one thread, whose runtime then polls that socket
//! and runs every request on it: a connection never moves, so nothing is woken on another
//! thread to serve it. The state the threads share (the store, the journal, the rate limit, the
//! log) is the same as with one runtime.
//!
//! The price: a request that runs long on the CPU (a large list page, a large body to parse)
//! delays the other connections of its thread, where a multi-threaded runtime would move them.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

/// Threads that serve connections, one single-threaded tokio runtime each; the connections
/// are handed to them in turn, and each stays on its thread (see
/// [`MockServer::start_on`](crate::MockServer::start_on)).
///
/// Dropping it stops the threads' runtimes (their tasks are dropped); it does not wait for
/// the threads.
///
/// ```
/// # async fn demo() -> std::io::Result<()> {
/// use heldqr_mock::{MockConfig, MockServer, Workers};
///
/// let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
/// let server = MockServer::start_on(MockConfig::default(), Workers::start(cores)?).await?;
/// server.shutdown().await;
/// # Ok(())
/// # }
/// ```
pub struct Workers {
    handles: Vec<Handle>,
    next: AtomicUsize,
    // Dropped with the `Workers`: each thread's runtime then returns from `block_on`.
    _stop: Vec<oneshot::Sender<()>>,
}

impl Workers {
    /// Starts `threads` threads (at least one), named `heldqr-mock-N`, each running a
    /// single-threaded runtime with I/O and timers until the `Workers` is dropped. Fails when a
    /// runtime or a thread cannot be made (the ones already started stop again).
    pub fn start(threads: usize) -> io::Result<Workers> {
        let threads = threads.max(1);
        let mut handles = Vec::with_capacity(threads);
        let mut stop = Vec::with_capacity(threads);
        for n in 0..threads {
            let runtime = Builder::new_current_thread().enable_all().build()?;
            let (tx, rx) = oneshot::channel::<()>();
            handles.push(runtime.handle().clone());
            stop.push(tx);
            std::thread::Builder::new()
                .name(format!("heldqr-mock-{n}"))
                .spawn(move || {
                    // A closed sender (dropped `Workers`) ends it as a sent value would.
                    let _ = runtime.block_on(rx);
                })?;
        }
        Ok(Workers {
            handles,
            next: AtomicUsize::new(0),
            _stop: stop,
        })
    }

    /// How many threads serve connections.
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// Always false: there is at least one thread.
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    /// Spawns `task` into `set` on the next thread in turn.
    pub(crate) fn spawn<T, F>(&self, set: &mut JoinSet<T>, task: F)
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let n = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        set.spawn_on(task, &self.handles[n]);
    }
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field("threads", &self.handles.len())
            .finish_non_exhaustive()
    }
}
