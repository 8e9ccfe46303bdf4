//! Request ids: every answer carries a fresh `X-Request-Id` (`req_` and 16 hex digits) from the
//! server's sequence. tower-http's `SetRequestIdLayer` puts it on the request (where the log
//! reads it) and `PropagateRequestIdLayer` copies it to the response; an id the client sent is
//! removed first, so every id is the server's own.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use tower_http::request_id::{MakeRequestId, RequestId};

use super::hook::{Hook, Step};
use crate::state::AppState;

/// `x-request-id`.
pub(crate) static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Makes request ids from the server's sequence.
#[derive(Clone)]
pub(crate) struct ServerRequestIds(pub AppState);

impl MakeRequestId for ServerRequestIds {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_bytes(&self.0.next_request_id())
            .ok()
            .map(RequestId::new)
    }
}

/// Drops an `X-Request-Id` the client sent: the id is always the server's.
#[derive(Clone)]
pub(crate) struct DropClientId;

impl Hook for DropClientId {
    type Carry = ();

    fn before(&self, req: &mut Request) -> Step<()> {
        req.headers_mut().remove(&X_REQUEST_ID);
        Step::Pass
    }

    fn after(&self, (): (), res: Response) -> Response {
        res
    }
}
