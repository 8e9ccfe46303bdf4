//! [`Workers`]: threads that serve a [`MockServer`](crate::MockServer)'s connections, each with a
//! single-threaded tokio runtime of its own (thread per core), for the binary.
//!
//! A multi-threaded runtime moves work between its workers: when one has more ready tasks than
//! it runs at once, it wakes a parked worker to take some (a `futex` wake-up and, on a machine
//! whose cores a load generator shares, a context switch). Under load on 2 cores that hand-off
//! costs more than it balances (see BENCHMARKS.md, "Thread per core"). Here the accept loop
//! hands each new connection to one thread, whose runtime then polls that socket and runs
//! every request on it: a connection never moves, so no other thread is woken to serve its
//! requests (only its start and its end wake a thread: the worker's, the accept loop's). The
//! state the threads share (the store, the journal, the rate limit, the log) is the same as
//! with one runtime.
//!
//! A new connection goes to the thread with the fewest open connections (ties in turn), so
//! clients that keep some connections and churn others still spread over the cores. The price:
//! a request that runs long on the CPU (a large list page, a large body to parse) delays the
//! other connections of its thread, where a multi-threaded runtime would move them, and an
//! HTTP/2 connection's streams (hyper spawns a task per stream) all run on its one thread.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

/// Threads that serve connections, one single-threaded tokio runtime each; each new connection
/// goes to the thread with the fewest open ones and stays there (see
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
    /// Each thread's open connections (tasks spawned and not yet ended).
    open: Vec<Arc<AtomicUsize>>,
    /// Where the search for the fewest starts, so ties go round in turn.
    next: AtomicUsize,
    /// Not joined on drop (a thread may be held by a request stuck on a full log buffer);
    /// tests join them.
    #[cfg_attr(not(test), allow(dead_code))]
    joins: Vec<std::thread::JoinHandle<()>>,
    // Dropped with the `Workers`: each thread's runtime then returns from `block_on`.
    _stop: Vec<oneshot::Sender<()>>,
}

impl Workers {
    /// Starts `threads` threads (at least one), named `heldqr-mock-N`, each running a
    /// single-threaded runtime with I/O and timers (two descriptors each) until the `Workers`
    /// is dropped. Waits until each has made its runtime. Fails when a runtime or a thread
    /// cannot be made (the ones already started stop again).
    pub fn start(threads: usize) -> io::Result<Workers> {
        let threads = threads.max(1);
        let mut handles = Vec::with_capacity(threads);
        let mut stop = Vec::with_capacity(threads);
        let mut joins = Vec::with_capacity(threads);
        for n in 0..threads {
            let (made_tx, made) = std::sync::mpsc::sync_channel::<io::Result<Handle>>(1);
            let (stop_tx, stop_rx) = oneshot::channel::<()>();
            // The runtime is made, run and dropped on its own thread (a runtime may not be
            // dropped inside another's `block_on`, where `start` may be called).
            let join = std::thread::Builder::new()
                .name(format!("heldqr-mock-{n}"))
                .spawn(move || {
                    let runtime = match Builder::new_current_thread()
                        .enable_io()
                        .enable_time()
                        .build()
                    {
                        Ok(runtime) => runtime,
                        Err(e) => {
                            let _ = made_tx.send(Err(e));
                            return;
                        }
                    };
                    if made_tx.send(Ok(runtime.handle().clone())).is_err() {
                        return;
                    }
                    // A closed sender (dropped `Workers`) ends it as a sent value would.
                    let _ = runtime.block_on(stop_rx);
                })?;
            let handle = made
                .recv()
                .map_err(|_| io::Error::other("a worker thread ended before its runtime"))??;
            handles.push(handle);
            stop.push(stop_tx);
            joins.push(join);
        }
        Ok(Workers {
            joins,
            open: (0..handles.len()).map(|_| Arc::default()).collect(),
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

    /// Spawns `task` into `set` on the thread with the fewest open tasks (of the ones tied,
    /// the next in turn); it counts as open there until it ends or is dropped.
    pub(crate) fn spawn<T, F>(&self, set: &mut JoinSet<T>, task: F)
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let threads = self.handles.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % threads;
        // `min_by_key` keeps the first of equals: the search order makes ties go in turn.
        let chosen = (0..threads)
            .map(|k| (start + k) % threads)
            .min_by_key(|&i| self.open[i].load(Ordering::Relaxed))
            .unwrap_or(start);
        let open = Open::count(&self.open[chosen]);
        set.spawn_on(
            async move {
                let _open = open;
                task.await
            },
            &self.handles[chosen],
        );
    }
}

/// One open task on a thread, counted until dropped.
struct Open(Arc<AtomicUsize>);

impl Open {
    fn count(open: &Arc<AtomicUsize>) -> Open {
        open.fetch_add(1, Ordering::Relaxed);
        Open(open.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field("threads", &self.handles.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The name of the thread a task spawned on `workers` ran on.
    async fn ran_on(workers: &Workers, set: &mut JoinSet<String>) -> String {
        workers.spawn(set, async {
            std::thread::current().name().unwrap_or("?").to_owned()
        });
        set.join_next().await.unwrap().unwrap()
    }

    #[tokio::test]
    async fn a_new_task_goes_to_the_thread_with_the_fewest_open_ones() {
        let workers = Workers::start(2).unwrap();
        // Ties go in turn.
        let mut set = JoinSet::new();
        assert_eq!(ran_on(&workers, &mut set).await, "heldqr-mock-0");
        assert_eq!(ran_on(&workers, &mut set).await, "heldqr-mock-1");

        // A task that stays open on thread 0 (the next in turn): every short one after it goes
        // to thread 1, which has none open, while it lasts.
        let (release, held) = oneshot::channel::<()>();
        let mut long = JoinSet::new();
        workers.spawn(&mut long, async move {
            let _ = held.await;
            std::thread::current().name().unwrap_or("?").to_owned()
        });
        for _ in 0..3 {
            assert_eq!(ran_on(&workers, &mut set).await, "heldqr-mock-1");
        }
        release.send(()).unwrap();
        assert_eq!(long.join_next().await.unwrap().unwrap(), "heldqr-mock-0");
        // Ended: counted no more, so ties again, in turn.
        let both: std::collections::BTreeSet<String> = [
            ran_on(&workers, &mut set).await,
            ran_on(&workers, &mut set).await,
        ]
        .into();
        assert_eq!(both.len(), 2, "{both:?}");
    }

    #[test]
    fn dropping_the_workers_ends_their_threads() {
        let mut workers = Workers::start(2).unwrap();
        let joins = std::mem::take(&mut workers.joins);
        assert_eq!(joins.len(), 2);
        drop(workers);
        let (done, ended) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for join in joins {
                join.join().unwrap();
            }
            let _ = done.send(());
        });
        ended
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("every worker thread ended");
    }
}
