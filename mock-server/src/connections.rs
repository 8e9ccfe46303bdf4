//! Connection bounds, so idle or slow sockets cannot lock other clients out: the accept loop
//! keeps one [`Slot`] per open connection, oldest first. At the cap
//! ([`MockConfig::max_connections`](crate::MockConfig::max_connections)) a new connection closes
//! the oldest one with no request in flight; when every connection is busy, the new one is
//! answered `503 service_unavailable` in the envelope with `Connection: close` at once (see
//! [`refuse`]), never left hanging. The timers per connection (header read, body read) are set
//! where the connection is served (`server`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::error::ApiError;

/// What the accept loop and a connection's task share: the requests in flight on it and the
/// signal that evicts it.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    /// Requests begun on the connection, ever.
    started: AtomicUsize,
    /// Requests ended (answered, or dropped) on the connection, ever.
    ended: AtomicUsize,
    evict: Notify,
}

impl Slot {
    /// Counts a request in flight until the guard is dropped.
    pub(crate) fn request(self: &Arc<Self>) -> InFlight {
        self.started.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }

    fn is_idle(&self) -> bool {
        self.ended.load(Ordering::SeqCst) == self.started.load(Ordering::SeqCst)
    }

    /// Resolves once the accept loop evicted this connection.
    pub(crate) async fn evicted(&self) {
        self.evict.notified().await;
    }

    /// Resolves once the connection has had no request in flight, and none begun or ended,
    /// for a whole `period` (checked once a period, so after between one and two periods of
    /// idleness). HTTP/1.1's header timer closes an idle connection sooner; this is the idle
    /// timeout of HTTP/2, whose connections hyper otherwise keeps open as long as the client
    /// likes.
    pub(crate) async fn idle_for(&self, period: std::time::Duration) {
        let counts = || {
            // `ended` first: a request that ends between the two loads reads as still busy.
            let ended = self.ended.load(Ordering::SeqCst);
            (self.started.load(Ordering::SeqCst), ended)
        };
        let mut seen = counts();
        loop {
            tokio::time::sleep(period).await;
            let now = counts();
            if now == seen && now.0 == now.1 {
                return;
            }
            seen = now;
        }
    }
}

/// One request in flight on a connection (see [`Slot::request`]).
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Slot>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.ended.fetch_add(1, Ordering::SeqCst);
    }
}

/// An answer's body that keeps its request counted in flight until the body is sent (or
/// dropped): a connection streaming a long answer is not idle, so neither the cap's eviction
/// nor HTTP/2's idle timeout closes it mid-answer.
pub(crate) struct Counted<B> {
    body: B,
    _in_flight: InFlight,
}

impl<B> Counted<B> {
    pub(crate) fn new(body: B, in_flight: InFlight) -> Self {
        Counted {
            body,
            _in_flight: in_flight,
        }
    }
}

impl<B: http_body::Body + Unpin> http_body::Body for Counted<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The open connections by age (their ids increase).
#[derive(Debug)]
pub(crate) struct Connections {
    max: usize,
    next_id: u64,
    open: BTreeMap<u64, Arc<Slot>>,
}

/// What to do with a connection just accepted.
pub(crate) enum Admit {
    /// Serve it with this id and slot.
    Serve(u64, Arc<Slot>),
    /// Every connection is busy: answer 503 and close.
    Refuse,
}

impl Connections {
    pub(crate) fn new(max: usize) -> Self {
        Connections {
            max: max.max(1),
            next_id: 0,
            open: BTreeMap::new(),
        }
    }

    /// Makes room for a new connection if needed (evicting the oldest idle one) and admits it,
    /// or refuses it when all are busy.
    pub(crate) fn admit(&mut self) -> Admit {
        if self.open.len() >= self.max {
            let oldest_idle = self
                .open
                .iter()
                .find(|(_, slot)| slot.is_idle())
                .map(|(id, _)| *id);
            match oldest_idle.and_then(|id| self.open.remove(&id)) {
                // `notify_one` keeps the signal even if the task is not waiting yet.
                Some(slot) => slot.evict.notify_one(),
                None => return Admit::Refuse,
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        let slot = Arc::new(Slot::default());
        self.open.insert(id, slot.clone());
        Admit::Serve(id, slot)
    }

    /// Forgets a connection that ended.
    pub(crate) fn closed(&mut self, id: u64) {
        self.open.remove(&id);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.open.len()
    }
}

/// Answers a connection the server has no room for: 503 in the envelope with its own
/// `X-Request-Id` (`request_id`, as every answer has), `Connection: close`, then closes it.
/// Written directly: the connection never reaches hyper.
pub(crate) async fn refuse(mut tcp: TcpStream, request_id: [u8; 20]) {
    let body = ApiError::service_unavailable_connections().body_bytes();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nx-request-id: {}\r\n\
         connection: close\r\n\r\n",
        body.len(),
        String::from_utf8_lossy(&request_id),
    );
    // Best effort, bounded: a peer that reads nothing does not hold this task.
    let write = async {
        tcp.write_all(head.as_bytes()).await?;
        tcp.write_all(&body).await?;
        tcp.shutdown().await
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), write).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_cap_the_oldest_idle_connection_makes_room() {
        let mut c = Connections::new(2);
        let Admit::Serve(a, slot_a) = c.admit() else {
            panic!()
        };
        let Admit::Serve(_, slot_b) = c.admit() else {
            panic!()
        };
        // a is busy, b is idle: b is evicted, not a.
        let busy = slot_a.request();
        let Admit::Serve(..) = c.admit() else {
            panic!()
        };
        assert_eq!(c.len(), 2);
        assert!(c.open.contains_key(&a));
        assert!(!c.open.values().any(|s| Arc::ptr_eq(s, &slot_b)));
        drop(busy);
    }

    #[test]
    fn when_all_are_busy_the_new_one_is_refused() {
        let mut c = Connections::new(1);
        let Admit::Serve(id, slot) = c.admit() else {
            panic!()
        };
        let _busy = slot.request();
        assert!(matches!(c.admit(), Admit::Refuse));
        c.closed(id);
        assert!(matches!(c.admit(), Admit::Serve(..)));
    }
}
