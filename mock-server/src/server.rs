//! [`MockServer`]: the router served on a real TCP port by a background task, with its base URL,
//! its clock, and graceful shutdown.
//!
//! The accept loop is our own (hyper-util's `auto` connection per accepted socket: HTTP/1.1, or
//! HTTP/2 over cleartext with prior knowledge, on the same port; one task per connection) rather
//! than `axum::serve`, because fault injection must be able to drop an answer after the request
//! was handled: when an answer comes back marked for a drop (see `layers::faults`), an HTTP/1.1
//! connection task closes the socket (FIN) or resets it (`SO_LINGER` 0, RST) instead of writing
//! it, and on HTTP/2 that request's stream alone is reset (`RST_STREAM`), the connection and its
//! other streams go on.

use std::cell::RefCell;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::Version;
use hyper::body::{Body as _, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tower::Service;
use tower_http::timeout::TimeoutBody;

use crate::clock::MockClock;
use crate::config::MockConfig;
use crate::connections::{Admit, Connections, Counted, Slot};
use crate::header_timer::HeaderTimer;
use crate::layers::faults::DropConnection;
use crate::routes;
use crate::state::{AppState, DropKind, JournalEntry, RequestFilter};
use crate::when_woken::WhenWoken;
use crate::workers::Workers;

/// A mock server running on a TCP port, for tests, examples and the binary.
///
/// Dropping it stops the server (the task is aborted); [`shutdown`](MockServer::shutdown) stops
/// it gracefully, letting requests in flight finish.
///
/// ```
/// # async fn demo() -> std::io::Result<()> {
/// use heldqr_mock::{MockConfig, MockServer};
///
/// let server = MockServer::start(MockConfig::default()).await?;
/// assert!(server.base_url().starts_with("http://127.0.0.1:"));
/// server.shutdown().await;
/// # Ok(())
/// # }
/// ```
pub struct MockServer {
    base_url: String,
    local_addr: SocketAddr,
    state: AppState,
    stop: Option<watch::Sender<bool>>,
    task: Option<JoinHandle<io::Result<()>>>,
    sweeper: JoinHandle<()>,
}

/// How often expired idempotency entries are swept when no request passes by.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// Reclaims expired state every [`SWEEP_EVERY`] until aborted.
async fn sweep(state: AppState) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        state.reclaim_expired();
    }
}

/// The app as the server calls it: the layers around the route table (see `routes::service`).
trait AppService:
    Service<
        axum::extract::Request,
        Response = axum::response::Response,
        Error = std::convert::Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
}

impl<S> AppService for S where
    S: Service<
            axum::extract::Request,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static
{
}

/// The URL a client on this machine uses to reach `addr`: an unspecified address (`0.0.0.0`,
/// `::`) is reached through loopback.
pub(crate) fn connectable_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

impl MockServer {
    /// Binds `config`'s listen address (default `127.0.0.1:0`, a free port) and serves in the
    /// background. Fails when the address cannot be bound or the configuration is invalid.
    pub async fn start(config: MockConfig) -> io::Result<MockServer> {
        MockServer::serve(config, None).await
    }

    /// [`start`](Self::start), with the connections served on `workers`' threads, each
    /// connection on one thread for its whole life, instead of on the calling runtime (which
    /// still runs the accept loop). What the `heldqr-mock` binary does: under load on a few
    /// cores it serves more requests per second (see [`Workers`]).
    pub async fn start_on(config: MockConfig, workers: Workers) -> io::Result<MockServer> {
        MockServer::serve(config, Some(workers)).await
    }

    async fn serve(config: MockConfig, workers: Option<Workers>) -> io::Result<MockServer> {
        let listen = config.listen;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {listen}: {e}")))?;
        let local_addr = listener.local_addr()?;
        let state = AppState::new(config)?;
        let base_url = connectable_url(local_addr);
        state.set_base_url(&base_url);
        let service = routes::service(state.clone());
        let (stop, stopped) = watch::channel(false);
        let drops = state.faults().is_some_and(|f| f.drops_connections());
        let task = tokio::spawn(accept_loop(
            listener,
            service,
            state.clone(),
            stopped,
            drops,
            workers,
        ));
        let sweeper = tokio::spawn(sweep(state.clone()));
        Ok(MockServer {
            base_url,
            local_addr,
            state,
            stop: Some(stop),
            task: Some(task),
            sweeper,
        })
    }

    /// `http://HOST:PORT`, no trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The server's clock; advance it to move rate windows, idempotency expiry and scan windows.
    pub fn clock(&self) -> &MockClock {
        self.state.clock()
    }

    /// The server's state (the same one its router serves).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The request journal's entries `filter` selects, oldest first, as typed values (the same
    /// ones `GET /_mock/requests` shows): e.g. every attempt of one create and the key each
    /// carried.
    ///
    /// ```
    /// # async fn demo() -> std::io::Result<()> {
    /// use heldqr_mock::{MockConfig, MockServer, RequestFilter};
    ///
    /// let server = MockServer::start(MockConfig::default()).await?;
    /// // ... a client creates codes through server.base_url() ...
    /// let attempts = server.requests(&RequestFilter::new().idempotency_key("order-17"));
    /// let created = attempts.iter().filter(|e| e.status == 201 && !e.idempotent_replay).count();
    /// assert!(created <= 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn requests(&self, filter: &RequestFilter) -> Vec<JournalEntry> {
        self.state.requests(filter)
    }

    /// [`requests`](Self::requests) and the journal's cursor, to follow the journal with
    /// [`RequestFilter::after`] (see [`AppState::requests_with_cursor`]).
    pub fn requests_with_cursor(&self, filter: &RequestFilter) -> (Vec<JournalEntry>, u64) {
        self.state.requests_with_cursor(filter)
    }

    /// Stops accepting connections, lets requests in flight finish, and waits for the server.
    pub async fn shutdown(mut self) {
        self.sweeper.abort();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// Accepts connections until `stop` turns true, then stops accepting (the port closes), asks
/// every connection to finish gracefully and waits for them. Aborting this task (dropping the
/// [`MockServer`]) aborts the connections too: they live in its `JoinSet`, and `workers`' threads
/// stop with it.
async fn accept_loop<S: AppService>(
    listener: TcpListener,
    service: S,
    state: AppState,
    mut stop: watch::Receiver<bool>,
    drops: bool,
    workers: Option<Workers>,
) -> io::Result<()> {
    let mut conns = JoinSet::new();
    let mut open = Connections::new(state.config().max_connections);
    let conn_stop = stop.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _peer)) => match open.admit() {
                    Admit::Serve(id, slot) => {
                        let app = service.clone();
                        let shared = state.clone();
                        let told = conn_stop.clone();
                        match &workers {
                            None => {
                                conns.spawn(async move {
                                    serve_connection(tcp, app, shared, told, drops, slot).await;
                                    Some(id)
                                });
                            }
                            // The socket leaves this runtime's reactor for the worker's.
                            Some(workers) => match tcp.into_std() {
                                Ok(tcp) => workers.spawn(&mut conns, async move {
                                    if let Ok(tcp) = TcpStream::from_std(tcp) {
                                        serve_connection(tcp, app, shared, told, drops, slot)
                                            .await;
                                    }
                                    Some(id)
                                }),
                                // Not served (closed as it is dropped): its place is free again.
                                Err(_) => open.closed(id),
                            },
                        }
                    }
                    Admit::Refuse => {
                        let request_id = state.next_request_id();
                        conns.spawn(async move {
                            crate::connections::refuse(tcp, request_id).await;
                            None
                        });
                    }
                },
                // Per-connection failures (reset before accept) and resource exhaustion
                // (EMFILE) are not fatal: back off briefly and go on.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            Some(ended) = conns.join_next(), if !conns.is_empty() => {
                if let Ok(Some(id)) = ended {
                    open.closed(id);
                }
            }
            _ = async { let _ = stop.wait_for(|stopping| *stopping).await; } => break,
        }
    }
    drop(listener);
    while conns.join_next().await.is_some() {}
    Ok(())
}

/// Serves one connection, HTTP/1.1 (keep-alive) or HTTP/2 with prior knowledge (the first
/// bytes decide), until the client closes it, the server stops (gracefully: requests in flight
/// finish), or a fault asks for it to be dropped.
async fn serve_connection<S: AppService>(
    tcp: TcpStream,
    service: S,
    state: AppState,
    mut stop: watch::Receiver<bool>,
    drops: bool,
    slot: Arc<Slot>,
) {
    // Best effort: a socket that refuses TCP_NODELAY still works.
    let _ = tcp.set_nodelay(true);
    let header_timeout = state.config().header_timeout;
    let body_timeout = state.config().body_timeout;
    // The protocol is told by the first bytes, before hyper's header timer runs: a socket that
    // sends nothing at all is closed after the header timeout too (or when evicted).
    let mut first = [0u8; 3];
    let peeked = tokio::select! {
        first_bytes = tokio::time::timeout(header_timeout, tcp.peek(&mut first)) => {
            match first_bytes {
                Ok(Ok(n)) if n > 0 => n,
                _ => return,
            }
        }
        () = slot.evicted() => return,
    };
    // HTTP/2's preface starts `PRI`; a `P` alone may be either.
    let maybe_h2 = first[0] == b'P' && (peeked < 3 || &first == b"PRI");
    let reset_on_drop = Arc::new(AtomicBool::new(false));
    let io = TokioIo::new(DroppableTcp {
        tcp,
        reset_on_drop: reset_on_drop.clone(),
    });
    let (drop_tx, mut drop_rx) = mpsc::channel::<DropKind>(1);
    let requests = slot.clone();
    // One copy of the app per connection, called in turn by each of its requests (the app is
    // always ready, and each call returns a future that owns what it needs).
    let mut service = service;
    // Every layer of the app and the router in it are always ready, so the requests call it
    // without waiting for readiness; a layer that is not (a concurrency limit, a buffer) would
    // need the calls to wait.
    debug_assert!(
        service
            .poll_ready(&mut Context::from_waker(std::task::Waker::noop()))
            .is_ready()
    );
    let app = RefCell::new(service);
    // What a dropped answer needs, shared by the connection's requests; only with faults.
    let faults = state
        .faults()
        .is_some()
        .then(|| Arc::new((state.clone(), drop_tx)));
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let in_flight = requests.request();
        let faults = faults.clone();
        let h2 = req.version() == Version::HTTP_2;
        // A body that stalls longer than the body timeout between its pieces fails its read
        // (408 `request_timeout`). A request without a body (most of them) gets the empty
        // body: the timeout's wrapper would hide that it is empty (it does not pass
        // `is_end_stream` on), and the journal would then tape a body that never comes.
        let req = req.map(|b| {
            if b.is_end_stream() {
                Body::empty()
            } else {
                Body::new(TimeoutBody::new(body_timeout, b))
            }
        });
        // Borrowed only for the synchronous call, by one request at a time (hyper calls a
        // connection's service from that connection's task, one request after another), so
        // never twice.
        let answer = app.borrow_mut().call(req);
        async move {
            let res = answer.await.unwrap_or_else(|e| match e {});
            // An answer that may take a while to send (streamed, with no length known ahead,
            // as a large journal read; or longer than a first HTTP/2 flow-control window; or
            // any on HTTP/2, whose client grants the window) counts as in flight until it is
            // sent, so the connection is not closed as idle or evicted mid-answer. Any other
            // is written at once, and counts until this future ends.
            let long = res
                .body()
                .size_hint()
                .exact()
                .is_none_or(|n| n > LONG_ANSWER_BYTES);
            let (res, _in_flight) = if h2 || long {
                (
                    res.map(|body| Body::new(Counted::new(body, in_flight))),
                    None,
                )
            } else {
                (res, Some(in_flight))
            };
            let Some((state, drop_tx)) = faults.as_deref() else {
                return Ok(res);
            };
            let Some(DropConnection(kind)) = res.extensions().get::<DropConnection>().copied()
            else {
                return Ok(res);
            };
            if h2 {
                // HTTP/2: this stream only is reset (RST_STREAM); the others go on.
                if let Some(f) = state.faults() {
                    f.record_drop(kind);
                }
                return Err(DroppedByFault);
            }
            if drops && drop_tx.try_send(kind).is_ok() {
                if let Some(f) = state.faults() {
                    f.record_drop(kind);
                }
                // The connection task drops this request with its connection.
                return std::future::pending().await;
            }
            Ok(res)
        }
    });
    // HTTP/1.1: hyper's header read timer runs from the end of one answer to the end of the
    // next request's headers, so it is the idle keep-alive timeout too (on a timer that keeps
    // one alarm per connection, not one per request: see `header_timer`); headers are capped
    // by the read buffer (431 beyond it). HTTP/2: the same cap on a header list.
    // Made per connection, and must stay so: the header timer's one alarm wakes one task.
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(HeaderTimer::default())
        .header_read_timeout(header_timeout)
        .max_buf_size(MAX_HEADER_BYTES)
        // A client may shut its write side once the request is out: answer it (hyper would
        // otherwise close on that end of stream and drop the answer of a request it ran).
        .half_close(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_BYTES as u32);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        // The rare events, polled only when one of them fires (not on each of the
        // connection's wake-ups).
        let rare = WhenWoken::new(async {
            tokio::select! {
                // At the connection cap, the oldest idle connection makes room for a new one.
                () = slot.evicted() => Rare::Evicted,
                // HTTP/2, no request for a header timeout or two: the idle keep-alive limit
                // (hyper's header timer is HTTP/1.1's).
                () = slot.idle_for(header_timeout), if maybe_h2 => Rare::Idle,
                Some(kind) = drop_rx.recv() => Rare::Dropped(kind),
                _ = stop.wait_for(|stopping| *stopping), if !draining => Rare::Stopping,
            }
        });
        let rare = tokio::select! {
            biased;
            _ = conn.as_mut() => return,
            rare = rare => rare,
        };
        match rare {
            Rare::Evicted => return,
            Rare::Dropped(kind) => {
                // HTTP/1.1: the request in flight is dropped with the connection, nothing is
                // written; a reset sets SO_LINGER 0 so closing the socket sends RST.
                if kind == DropKind::Reset {
                    reset_on_drop.store(true, Ordering::SeqCst);
                }
                return;
            }
            Rare::Stopping => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
            // Idle while draining (the server stopping): a client that does not let the
            // graceful close finish is not waited for.
            Rare::Idle if draining => return,
            Rare::Idle => {
                // HTTP/2: GOAWAY first, so a client about to send knows to open another
                // connection; a client that does not let it finish is dropped after a while,
                // or at once if the connection is evicted or the server stops meanwhile.
                conn.as_mut().graceful_shutdown();
                tokio::select! {
                    _ = tokio::time::timeout(header_timeout, conn.as_mut()) => {}
                    () = slot.evicted() => {}
                    _ = stop.wait_for(|stopping| *stopping) => {}
                }
                return;
            }
        }
    }
}

/// What ends a connection, or starts its draining, besides the connection itself.
enum Rare {
    Evicted,
    /// An HTTP/2 connection with no request for a header timeout or two.
    Idle,
    Dropped(DropKind),
    Stopping,
}

/// An answer longer than this counts as in flight until it is sent (HTTP/2's first
/// flow-control window for a stream).
const LONG_ANSWER_BYTES: u64 = 64 * 1024;

/// The most bytes of request headers (the HTTP/1.1 read buffer, the HTTP/2 header list).
const MAX_HEADER_BYTES: usize = 32 * 1024;

/// The error that makes hyper reset an HTTP/2 stream instead of answering it.
#[derive(Debug)]
struct DroppedByFault;

impl std::fmt::Display for DroppedByFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the answer was dropped by an injected fault")
    }
}

impl std::error::Error for DroppedByFault {}

/// The connection's socket; when asked, it is closed with a reset (RST) instead of a FIN.
struct DroppableTcp {
    tcp: TcpStream,
    reset_on_drop: Arc<AtomicBool>,
}

impl Drop for DroppableTcp {
    fn drop(&mut self) {
        if self.reset_on_drop.load(Ordering::SeqCst) {
            let _ = self.tcp.set_zero_linger();
        }
    }
}

impl AsyncRead for DroppableTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for DroppableTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.sweeper.abort();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}
