//! The request log: with `log_requests` on, one line per request on stderr, written after the
//! answer: method, path, status, duration, request id, account, and the fault that met it (an
//! injected answer, or the connection dropped after handling). Never the token. Write errors
//! (a closed stderr) are ignored.

use std::io::Write;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::faults::{DropConnection, Injected};
use crate::state::{AppState, Caller, DropKind};

pub(crate) async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !state.config().log_requests {
        return next.run(req).await;
    }
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let request_id = super::request_id::of(&req);
    let res = next.run(req).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let account = res
        .extensions()
        .get::<Caller>()
        .map_or("-", |c| state.account_name(c.account));
    let fault = match res.extensions().get::<DropConnection>() {
        Some(DropConnection(DropKind::Close)) => " fault=connection-closed",
        Some(DropConnection(DropKind::Reset)) => " fault=connection-reset",
        None => match res.extensions().get::<Injected>() {
            Some(Injected("latency")) | None => "",
            Some(_) => " fault=injected",
        },
    };
    let _ = writeln!(
        std::io::stderr().lock(),
        "heldqr-mock: {method} {path} {} {ms:.2}ms request_id={request_id} account={account}{fault}",
        res.status().as_u16()
    );
    res
}
