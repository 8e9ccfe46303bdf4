//! The request log: with `log_requests` on, one `tracing` event per request (target
//! [`REQUEST_TARGET`], level INFO) after the answer: method, path, status, duration, request id,
//! account, and the fault that met it (an injected answer, or the connection dropped after
//! handling). Never the token.
//!
//! The layer only emits the event; where it goes is the subscriber's business. The
//! `heldqr-mock` binary installs one that formats it (text or JSON) and hands the line to a
//! writer thread, so no request waits on stderr. Without a subscriber (a library user's
//! tests) the event costs next to nothing, and the layer skips its work entirely when the
//! subscriber's filter leaves request events out.

use std::cell::Cell;
use std::time::Instant;

use axum::extract::Request;
use axum::http::uri::PathAndQuery;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use tracing::Level;

use super::faults::{DropConnection, Injected};
use super::hook::{Hook, Step};
use super::request_id::X_REQUEST_ID;
use crate::state::{AppState, Caller, DropKind};

/// The `tracing` target of the request events: filter on it (e.g.
/// `HELDQR_MOCK_LOG=info,heldqr_mock::request=off`) to keep other events and drop the request
/// lines.
pub const REQUEST_TARGET: &str = "heldqr_mock::request";

/// The request log's hook.
#[derive(Clone)]
pub(crate) struct RequestLog(pub AppState);

/// What the log keeps of a request until its answer.
pub(crate) struct Started {
    at: Instant,
    method: Method,
    /// The request's path and query (a copy by reference count, not of the whole URI).
    target: Option<PathAndQuery>,
    request_id: Option<HeaderValue>,
    /// The account of the request's bearer token, when the token is known.
    account: Option<u32>,
}

impl Hook for RequestLog {
    // Boxed: the answer's future is moved out through every layer.
    type Carry = Box<Started>;

    fn before(&self, req: &mut Request) -> Step<Box<Started>> {
        if !self.0.config().log_requests || !tracing::enabled!(target: REQUEST_TARGET, Level::INFO)
        {
            return Step::Pass;
        }
        Step::Next(Box::new(Started {
            at: Instant::now(),
            method: req.method().clone(),
            target: req.uri().path_and_query().cloned(),
            // Set on the request by the request-id layer (outside this one).
            request_id: req.headers().get(&X_REQUEST_ID).cloned(),
            // Set by the auth layer's `Identify` (outside this one).
            account: req.extensions().get::<Caller>().map(|c| c.account),
        }))
    }

    fn after(&self, started: Box<Started>, res: Response) -> Response {
        // Whole microseconds (rounded, in integers): a short number in both formats.
        let took = started.at.elapsed();
        let micros = took
            .as_secs()
            .saturating_mul(1_000_000)
            .saturating_add(u64::from((took.subsec_nanos() + 500) / 1000));
        let duration_ms = micros as f64 / 1e3;
        let account = started.account.map(|a| self.0.account_name(a));
        let fault = match res.extensions().get::<DropConnection>() {
            Some(DropConnection(DropKind::Close)) => Some("connection-closed"),
            Some(DropConnection(DropKind::Reset)) => Some("connection-reset"),
            None => match res.extensions().get::<Injected>() {
                Some(Injected("latency")) | None => None,
                Some(_) => Some("injected"),
            },
        };
        let status = res.status().as_u16();
        let method = started.method.as_str();
        let path = started.target.as_ref().map_or("", PathAndQuery::path);
        let request_id = started.request_id.as_ref().and_then(|v| v.to_str().ok());
        thread_local! {
            /// The message's text, made in place on each request (no allocation once it grew).
            static MESSAGE: Cell<String> = const { Cell::new(String::new()) };
        }
        // Taken for the while (an event made while this one is formatted would start from
        // an empty string), put back after.
        let mut message = MESSAGE.take();
        message.clear();
        request_line(&mut message, method, path, res.status());
        tracing::info!(
            target: REQUEST_TARGET,
            message = message.as_str(),
            method,
            path,
            status,
            duration_ms,
            request_id,
            account,
            fault,
        );
        // A rare long path does not keep its room on the thread.
        if message.capacity() <= 1024 {
            MESSAGE.set(message);
        }
        res
    }
}

/// A request event's message, `METHOD PATH STATUS`, as text (a string field is written as it
/// is, where a displayed one goes through the formatting machinery on every request).
fn request_line(out: &mut String, method: &str, path: &str, status: StatusCode) {
    out.push_str(method);
    out.push(' ');
    out.push_str(path);
    out.push(' ');
    out.push_str(status.as_str());
}
