//! Request ids: every answer carries a fresh `X-Request-Id` (`req_` and 16 hex digits) from the
//! server's sequence. The hook removes an id the client sent, puts the server's on the request
//! (where the log and the journal read it) and copies it to the answer, so every id is the
//! server's own.
//!
//! (tower-http's `SetRequestIdLayer` and `PropagateRequestIdLayer` did this before. They also
//! keep the id as a request extension and read it back from the request for the answer: 2,400
//! instructions a request, about 7% of the request path; see BENCHMARKS.md, "Speed as users
//! run it".)

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use bytes::Bytes;

use super::hook::{Hook, Step};
use crate::state::AppState;

pub(crate) static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request-id hook.
#[derive(Clone)]
pub(crate) struct RequestIds(pub AppState);

impl Hook for RequestIds {
    type Carry = HeaderValue;

    fn before(&self, req: &mut Request) -> Step<HeaderValue> {
        // Shared from the start: the log, the journal and the answer each take a copy by
        // reference count, without copying its bytes. An id is `req_` and hex digits, always
        // a valid header value.
        let Ok(id) = HeaderValue::from_maybe_shared(Bytes::from_owner(self.0.next_request_id()))
        else {
            req.headers_mut().remove(&X_REQUEST_ID);
            return Step::Pass;
        };
        // `insert` replaces every value the client sent.
        req.headers_mut().insert(X_REQUEST_ID.clone(), id.clone());
        Step::Next(id)
    }

    fn after(&self, id: HeaderValue, mut res: Response) -> Response {
        res.headers_mut().insert(X_REQUEST_ID.clone(), id);
        res
    }
}
