//! [`MockServer`]: the router served on a real TCP port by a background task, with its base URL,
//! its clock, and graceful shutdown.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::clock::MockClock;
use crate::config::MockConfig;
use crate::routes::app;
use crate::state::AppState;

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
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
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
        let listener = TcpListener::bind(config.listen).await?;
        let local_addr = listener.local_addr()?;
        let state = AppState::new(config)?;
        let base_url = connectable_url(local_addr);
        state.set_base_url(&base_url);
        let router = app(state.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let listener = listener.tap_io(|tcp| {
            // Best effort: a socket that refuses TCP_NODELAY still works.
            let _ = tcp.set_nodelay(true);
        });
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(MockServer {
            base_url,
            local_addr,
            state,
            stop: Some(stop),
            task: Some(task),
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

    /// Stops accepting connections, lets requests in flight finish, and waits for the server.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
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
