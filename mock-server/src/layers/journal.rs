//! The journal layer: records every `/api/v1` and `/r/` request the server answered (not
//! `/healthz`, `/reference` or `/_mock/...`) in the state's journal, with what it sent (headers,
//! the token masked to its last four characters, and the body as far as the server read it)
//! and what it got (status, headers, body), the fault that met it and how long it took. It sits
//! outside the fault layer, so an answer a fault then drops is recorded with its status.
//!
//! The request body is recorded as it streams to the handler (the first
//! `JOURNAL_BODY_LIMIT` bytes), so the handler's own limits and errors are unchanged.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http_body::Frame;

use super::auth::bearer_token;
use super::faults::Injected;
use super::in_api;
use crate::state::{AppState, HeaderBlock, JOURNAL_BODY_LIMIT, Recorded, RecordedBody, last_four};

/// The most bytes of an answer read back to record it (the server's own answers are small
/// and in memory; a larger one is recorded without its body).
const ANSWER_READ_LIMIT: usize = 16 * 1024 * 1024;

fn journaled(path: &str) -> bool {
    in_api(path) || path.starts_with("/r/")
}

/// Records the request as it passes: copies of its bytes, cut to the journal's bounds, the
/// token masked. Formatting them for a reader waits until someone reads the journal.
pub(crate) async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(journal) = state.journal() else {
        return next.run(req).await;
    };
    if !journaled(req.uri().path()) {
        return next.run(req).await;
    }
    let started = Instant::now();
    let at = state.clock().now();
    let id = journal.lock().unwrap_or_else(|p| p.into_inner()).take_id();
    let method = req.method().clone();
    let target: Box<str> = match req.uri().path_and_query() {
        Some(pq) => pq.as_str().into(),
        None => req.uri().path().into(),
    };
    let bearer = bearer_token(req.headers());
    let account = bearer.and_then(|t| state.caller(t)).map(|c| c.account);
    let token = bearer.and_then(last_four).map(Box::from);
    let idempotency_key = req
        .headers()
        .get("idempotency-key")
        .map(|v| Box::from(v.as_bytes()));
    // Set on the request by the request-id layer (outside this one); it is also the answer's.
    let request_headers = record_headers(req.headers());

    // A request without a body (most of them) needs no tee.
    let captured = (!req.body().is_end_stream()).then(|| Arc::new(Mutex::new(Captured::default())));
    let req = match &captured {
        Some(captured) => req.map(|body| {
            Body::new(Tee {
                inner: body,
                captured: captured.clone(),
            })
        }),
        None => req,
    };
    let res = next.run(req).await;

    let (parts, body) = res.into_parts();
    let answer = axum::body::to_bytes(body, ANSWER_READ_LIMIT)
        .await
        .unwrap_or_default();
    let request_body = match captured {
        Some(c) => {
            let c = c.lock().unwrap_or_else(|p| p.into_inner());
            RecordedBody {
                bytes: Bytes::copy_from_slice(&c.bytes),
                truncated: c.truncated,
            }
        }
        None => RecordedBody::default(),
    };
    let entry = Recorded {
        id,
        at,
        method,
        target,
        status: parts.status.as_u16(),
        account,
        token,
        idempotency_key,
        fault: parts.extensions.get::<Injected>().map(|f| f.0),
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        request_headers,
        request_body,
        response_headers: record_headers(&parts.headers),
        response_body: RecordedBody {
            // A copy, so an entry never holds a larger buffer alive than it is charged for.
            bytes: Bytes::copy_from_slice(&answer[..answer.len().min(JOURNAL_BODY_LIMIT)]),
            truncated: answer.len() > JOURNAL_BODY_LIMIT,
        },
    };
    journal
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(entry);
    Response::from_parts(parts, Body::from(answer))
}

/// The headers as the journal records them: copied once, the token masked.
fn record_headers(h: &HeaderMap) -> HeaderBlock {
    HeaderBlock::record(
        || h.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
        |name, value| (name == header::AUTHORIZATION).then(|| masked_authorization(value)),
    )
}

/// `Scheme ...last4`, or `Scheme [redacted]` for a short token, or `[redacted]`.
fn masked_authorization(value: &[u8]) -> String {
    match std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.trim().split_once(' '))
    {
        Some((scheme, token)) => match last_four(token.trim()) {
            Some(last) => format!("{scheme} ...{last}"),
            None => format!("{scheme} [redacted]"),
        },
        None => "[redacted]".to_owned(),
    }
}

/// The first bytes of a request body, as the handler read them.
#[derive(Default)]
struct Captured {
    bytes: Vec<u8>,
    truncated: bool,
}

/// A request body that copies what passes through into a [`Captured`].
struct Tee {
    inner: Body,
    captured: Arc<Mutex<Captured>>,
}

impl HttpBody for Tee {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            let mut c = self.captured.lock().unwrap_or_else(|p| p.into_inner());
            let room = JOURNAL_BODY_LIMIT.saturating_sub(c.bytes.len());
            c.bytes.extend_from_slice(&data[..data.len().min(room)]);
            if data.len() > room {
                c.truncated = true;
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_show_their_last_four_characters_only_when_long() {
        assert_eq!(
            masked_authorization(b"Bearer hkr_test_business"),
            "Bearer ...ness"
        );
        assert_eq!(masked_authorization(b"Bearer short"), "Bearer [redacted]");
        assert_eq!(masked_authorization(b"hkr_test_business"), "[redacted]");
    }
}
