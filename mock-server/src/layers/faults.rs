//! The fault layer, a mock-only test aid: with faults configured, every `/api/v1` request
//! meets what the state's fault generator draws for it (see `state::faults`), before
//! authentication (an injected answer spends no credit): a delay, then an injected answer (500
//! `internal_error`, 503 `service_unavailable`, the unfamiliar code, a 429 of a burst) instead
//! of handling, or handling followed by a dropped answer. `/healthz`, `/reference`, `/r/...` and
//! `/_mock/...` never meet a fault. Without faults the layer passes the request on at once.
//!
//! A dropped answer is marked on the response ([`DropConnection`]); the connection task (see
//! `server`) then closes or resets the HTTP/1.1 connection, or resets the HTTP/2 stream,
//! instead of writing it. Served without a connection (`oneshot`), the answer is delivered.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::hook::{Hook, Step};
use super::in_api;
use crate::config::{UNKNOWN_CODE, UNKNOWN_CODE_STATUS};
use crate::error::ApiError;
use crate::state::{AppState, Caller, DropKind, Fault};

/// On a response: the connection must drop it (the request was handled and committed).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropConnection(pub DropKind);

/// On a response: the fault that met the request (an injected answer, a dropped answer, or
/// only latency), by its journal name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Injected(pub &'static str);

/// The fault layer's hook.
#[derive(Clone)]
pub(crate) struct InjectFaults(pub AppState);

/// What happens to a handled request's answer.
pub(crate) enum Handled {
    /// Delivered; it was only delayed.
    Delayed,
    /// Dropped by the connection instead of written.
    Dropped(DropKind),
}

impl Hook for InjectFaults {
    type Carry = Handled;

    fn before(&self, req: &mut Request) -> Step<Handled> {
        let state = &self.0;
        let Some(faults) = state.faults().filter(|f| f.is_on()) else {
            return Step::Pass;
        };
        if !in_api(req.uri().path()) {
            return Step::Pass;
        }
        // Set by the auth layer's `Identify` (outside this one).
        let token = req.extensions().get::<Caller>().map(|c| c.token);
        let choice = faults.draw(token);
        let fault = match choice.fault {
            None => {
                return match choice.delay {
                    Some(delay) => Step::Delay(delay, Handled::Delayed),
                    None => Step::Pass,
                };
            }
            Some(Fault::DropAfter(kind)) => {
                return match choice.delay {
                    Some(delay) => Step::Delay(delay, Handled::Dropped(kind)),
                    None => Step::Next(Handled::Dropped(kind)),
                };
            }
            Some(fault) => fault,
        };
        match choice.delay {
            // The answer is made once the delay is over, so its rate-limit headers read the
            // clock then.
            Some(delay) => {
                let state = state.clone();
                Step::AnswerAfter(delay, Box::new(move || injected(&state, fault)))
            }
            None => Step::Answer(injected(state, fault)),
        }
    }

    fn after(&self, handled: Handled, mut res: Response) -> Response {
        let name = match handled {
            Handled::Delayed => "latency",
            Handled::Dropped(kind) => {
                res.extensions_mut().insert(DropConnection(kind));
                match kind {
                    DropKind::Close => "connection_closed",
                    DropKind::Reset => "connection_reset",
                }
            }
        };
        res.extensions_mut().insert(Injected(name));
        res
    }
}

/// The answer of an injected fault (never `DropAfter`, which is handled), marked with its name.
fn injected(state: &AppState, fault: Fault) -> Response {
    let (mut res, name) = match fault {
        Fault::InternalError => (
            ApiError::internal("Injected fault: the server failed; nothing was committed.")
                .into_response(),
            "internal_error",
        ),
        Fault::ServiceUnavailable => (
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "Injected fault: temporarily unavailable; nothing was committed.",
            )
            .into_response(),
            "service_unavailable",
        ),
        Fault::UnknownCode => {
            let status = StatusCode::from_u16(UNKNOWN_CODE_STATUS).unwrap_or(StatusCode::CONFLICT);
            (
                ApiError::new(
                    status,
                    UNKNOWN_CODE,
                    "Injected fault: another request is still being processed; retry with the same Idempotency-Key.",
                )
                .into_response(),
                "unknown_code",
            )
        }
        Fault::RateLimited => (burst_429(state), "rate_limit_burst"),
        // Not an answer of its own (the hook hands the request on and drops the answer); were
        // it ever passed here, a 500 that committed nothing is the honest answer.
        Fault::DropAfter(_) => (
            ApiError::internal("Injected fault: the server failed; nothing was committed.")
                .into_response(),
            "internal_error",
        ),
    };
    res.extensions_mut().insert(Injected(name));
    res
}

/// A 429 of a burst: `Retry-After: 1`, `Remaining: 0`, the configured limit, and a reset one
/// second ahead (rounded up to whole seconds).
fn burst_429(state: &AppState) -> Response {
    let limit = state.config().rate_limit_config().limit;
    let now = state.clock().now_nanos();
    let reset = (now.div_euclid(1_000_000_000) + 2).max(0);
    let mut res = ApiError::rate_limited(1).into_response();
    let h = res.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(0u32));
    h.insert(
        "x-ratelimit-reset",
        HeaderValue::from(i64::try_from(reset).unwrap_or(i64::MAX)),
    );
    h.insert(header::RETRY_AFTER, HeaderValue::from(1u32));
    res
}
