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

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Level;

use super::faults::{DropConnection, Injected};
use super::request_id::X_REQUEST_ID;
use crate::state::{AppState, Caller, DropKind};

/// The `tracing` target of the request events: filter on it (e.g.
/// `HELDQR_MOCK_LOG=info,heldqr_mock::request=off`) to keep other events and drop the request
/// lines.
pub const REQUEST_TARGET: &str = "heldqr_mock::request";

pub(crate) async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !state.config().log_requests || !tracing::enabled!(target: REQUEST_TARGET, Level::INFO) {
        return next.run(req).await;
    }
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    // Set on the request by the request-id layer (outside this one); a cheap clone of bytes.
    let request_id = req.headers().get(&X_REQUEST_ID).cloned();
    let res = next.run(req).await;
    // Whole microseconds: a short number in both formats.
    let duration_ms = (started.elapsed().as_secs_f64() * 1e6).round() / 1e3;
    let account = res
        .extensions()
        .get::<Caller>()
        .map(|c| state.account_name(c.account));
    let fault = match res.extensions().get::<DropConnection>() {
        Some(DropConnection(DropKind::Close)) => Some("connection-closed"),
        Some(DropConnection(DropKind::Reset)) => Some("connection-reset"),
        None => match res.extensions().get::<Injected>() {
            Some(Injected("latency")) | None => None,
            Some(_) => Some("injected"),
        },
    };
    let status = res.status().as_u16();
    let request_id = request_id.as_ref().and_then(|v| v.to_str().ok());
    tracing::info!(
        target: REQUEST_TARGET,
        method = %method,
        path = %path,
        status,
        duration_ms,
        request_id,
        account,
        fault,
        "{method} {path} {status}"
    );
    res
}
