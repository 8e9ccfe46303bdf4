//! The journal layer: records every `/api/v1` and `/r/` request the server answered (not
//! `/healthz`, `/reference` or `/_mock/...`) in the state's journal, with what it sent (headers,
//! the token masked to its last four characters, and the body as far as the server read it)
//! and what it got (status, headers, body), the fault that met it and how long it took. It sits
//! outside the fault layer, so an answer a fault then drops is recorded with its status.
//!
//! The request body is recorded as it streams to the handler (the first
//! `JOURNAL_BODY_LIMIT` bytes), so the handler's own limits and errors are unchanged.

use std::collections::BTreeMap;
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
use serde_json::Value;
use time::format_description::well_known::Rfc3339;

use super::auth::bearer_token;
use super::faults::Injected;
use super::in_api;
use super::request_id::X_REQUEST_ID;
use crate::state::{
    AppState, JOURNAL_BODY_LIMIT, JOURNAL_HEADER_COUNT, JOURNAL_HEADER_LIMIT, JournalEntry,
    JournalMessage, escape_bytes, last_four,
};

/// The most bytes of an answer read back to record it (the server's own answers are small
/// and in memory; a larger one is recorded without its body).
const ANSWER_READ_LIMIT: usize = 16 * 1024 * 1024;

fn journaled(path: &str) -> bool {
    in_api(path) || path.starts_with("/r/")
}

pub(crate) async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(journal) = state.journal() else {
        return next.run(req).await;
    };
    if !journaled(req.uri().path()) {
        return next.run(req).await;
    }
    let started = Instant::now();
    let now = state.clock().now();
    let at = now
        .replace_nanosecond(u32::from(now.millisecond()) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default();
    let id = journal.lock().unwrap_or_else(|p| p.into_inner()).take_id();
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let token = bearer_token(req.headers()).map(str::to_owned);
    let account = token
        .as_deref()
        .and_then(|t| state.caller(t))
        .map(|c| state.account_name(c.account).to_owned());
    let idempotency_key = req
        .headers()
        .get("idempotency-key")
        .map(|v| escape_bytes(v.as_bytes()));
    let request_headers = headers(req.headers());
    // Set on the request by the request-id layer (outside this one); it is also the answer's.
    let request_id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);

    let captured = Arc::new(Mutex::new(Captured::default()));
    let req = req.map(|body| {
        Body::new(Tee {
            inner: body,
            captured: captured.clone(),
        })
    });
    let res = next.run(req).await;

    let (parts, body) = res.into_parts();
    let answer = axum::body::to_bytes(body, ANSWER_READ_LIMIT)
        .await
        .unwrap_or_default();
    let fault = parts.extensions.get::<Injected>().map(|f| f.0.to_owned());
    let request_body = {
        let c = captured.lock().unwrap_or_else(|p| p.into_inner());
        body_value(&c.bytes, c.truncated)
    };
    let entry = JournalEntry {
        id,
        at,
        method,
        path,
        query,
        status: parts.status.as_u16(),
        account,
        token: token.as_deref().and_then(last_four),
        idempotency_key,
        idempotent_replay: parts
            .headers
            .get("idempotent-replay")
            .is_some_and(|v| v == "true"),
        fault,
        request_id,
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        request: JournalMessage {
            headers: request_headers,
            body: request_body.0,
            body_truncated: request_body.1,
        },
        response: {
            let cut = answer.len() > JOURNAL_BODY_LIMIT;
            let kept = &answer[..answer.len().min(JOURNAL_BODY_LIMIT)];
            let (body, body_truncated) = body_value(kept, cut);
            JournalMessage {
                headers: headers(&parts.headers),
                body,
                body_truncated,
            }
        },
    };
    journal
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(entry);
    Response::from_parts(parts, Body::from(answer))
}

/// The headers as the journal shows them: the token masked, values escaped and cut.
fn headers(h: &HeaderMap) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in h.iter() {
        if out.len() >= JOURNAL_HEADER_COUNT && !out.contains_key(name.as_str()) {
            continue;
        }
        let shown = if name == header::AUTHORIZATION {
            match value.to_str().ok().and_then(|v| v.trim().split_once(' ')) {
                Some((scheme, token)) => match last_four(token.trim()) {
                    Some(last) => format!("{scheme} ...{last}"),
                    None => format!("{scheme} [redacted]"),
                },
                None => "[redacted]".to_owned(),
            }
        } else {
            let bytes = value.as_bytes();
            let mut s = escape_bytes(&bytes[..bytes.len().min(JOURNAL_HEADER_LIMIT)]);
            if bytes.len() > JOURNAL_HEADER_LIMIT {
                s.push('…');
            }
            s
        };
        out.entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&shown);
            })
            .or_insert(shown);
    }
    out
}

/// A body as the journal shows it: its JSON value when whole and JSON, else its text.
fn body_value(bytes: &[u8], truncated: bool) -> (Value, bool) {
    if bytes.is_empty() && !truncated {
        return (Value::Null, false);
    }
    if !truncated && let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        return (v, false);
    }
    (Value::String(escape_bytes(bytes)), truncated)
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
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer hkr_test_business".parse().unwrap());
        assert_eq!(headers(&h)["authorization"], "Bearer ...ness");
        h.insert("authorization", "Bearer short".parse().unwrap());
        assert_eq!(headers(&h)["authorization"], "Bearer [redacted]");
    }
}
