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
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use bytes::Bytes;
use http_body::Frame;

use super::auth::bearer_token;
use super::faults::Injected;
use super::hook::{Hook, Step};
use super::in_api;
use crate::state::{
    AppState, Caller, HeaderBlock, IDEMPOTENCY_KEY, JOURNAL_BODY_LIMIT, JOURNAL_HEADER_COUNT,
    LastFour, Recorded, RecordedBody,
};

fn journaled(path: &str) -> bool {
    in_api(path) || path.starts_with("/r/")
}

/// The journal's hook: records the request as it passes (copies of its bytes, cut to the
/// journal's bounds, the token masked) and its answer as it is written. Formatting them for a
/// reader waits until someone reads the journal.
#[derive(Clone)]
pub(crate) struct RecordRequests(pub AppState);

/// The request's part of an entry, until its answer.
pub(crate) struct Pending {
    started: Instant,
    entry: Recorded,
    captured: Option<Arc<Mutex<Captured>>>,
}

impl Hook for RecordRequests {
    // Boxed: the entry is large, and the answer's future is moved out through every layer.
    type Carry = Box<Pending>;

    fn before(&self, req: &mut Request) -> Step<Box<Pending>> {
        let state = &self.0;
        let Some(journal) = state.journal() else {
            return Step::Pass;
        };
        if !journaled(req.uri().path()) {
            return Step::Pass;
        }
        let started = Instant::now();
        let at = state.clock().now_nanos();
        let id = journal.take_id();
        let target = match req.uri().path_and_query() {
            Some(pq) => pq.as_str(),
            None => req.uri().path(),
        };
        // Set by the auth layer's `Identify` (outside this one).
        let account = req.extensions().get::<Caller>().map(|c| c.account);
        // The token's last four are kept as the header is masked, and the idempotency key as
        // it is recorded; a header not recorded (beyond the first 64 names) is read from the
        // request here.
        let mut noticed = Noticed::default();
        let request_headers =
            record_headers(target.as_bytes(), req.headers(), Some(&mut noticed), b"");
        let every_name_recorded = req.headers().keys_len() <= JOURNAL_HEADER_COUNT;
        let token = match noticed.token {
            Some(token) => token,
            None if every_name_recorded => None,
            None => bearer_token(req.headers()).and_then(LastFour::of),
        };
        let idempotency_key = match noticed.idempotency_key {
            Some(key) => Some(key),
            None if every_name_recorded => None,
            None => req
                .headers()
                .get(&IDEMPOTENCY_KEY)
                .map(|v| Box::from(v.as_bytes())),
        };
        let entry = Recorded {
            id,
            at,
            method: req.method().clone(),
            status: 0,
            account,
            token,
            idempotency_key,
            fault: None,
            duration_ms: 0.0,
            request_headers,
            request_body: RecordedBody::default(),
            response_headers: HeaderBlock::default(),
            response_truncated: false,
        };
        // A request without a body (most of them) needs no tee: the body is recorded as it
        // streams to the handler, so the handler's own limits and errors are unchanged.
        let captured = (!req.body().is_end_stream()).then(|| {
            let captured = Arc::new(Mutex::new(Captured::default()));
            let body = std::mem::take(req.body_mut());
            *req.body_mut() = Taped::body(body, None, captured.clone());
            captured
        });
        Step::Next(Box::new(Pending {
            started,
            entry,
            captured,
        }))
    }

    fn after(&self, pending: Box<Pending>, res: Response) -> Response {
        let Pending {
            started,
            mut entry,
            captured,
        } = *pending;
        if let Some(c) = captured {
            entry.request_body = c.lock().unwrap_or_else(|p| p.into_inner()).recorded();
        }
        entry.status = res.status().as_u16();
        entry.fault = res.extensions().get::<Injected>().map(|f| f.0);
        entry.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        let (parts, body) = res.into_parts();
        // The server's answers are whole in memory: one poll takes the body as it is. Any
        // other body is recorded as it streams to the client, and the entry kept when it ends.
        let mut body = body;
        let first = match Pin::new(&mut body).poll_frame(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(None) => Some(Bytes::new()),
            Poll::Ready(Some(Ok(frame))) if frame.is_data() && body.is_end_stream() => {
                Some(frame.into_data().unwrap_or_default())
            }
            Poll::Ready(Some(Ok(frame))) => {
                entry.response_headers = record_headers(b"", &parts.headers, None, b"");
                let recording = Recording::new(self.0.clone(), entry);
                return Response::from_parts(parts, Taped::body(body, Some(frame), recording));
            }
            Poll::Ready(Some(Err(_))) => Some(Bytes::new()),
            Poll::Pending => None,
        };
        match first {
            Some(answer) => {
                let kept = &answer[..answer.len().min(JOURNAL_BODY_LIMIT)];
                entry.response_headers = record_headers(b"", &parts.headers, None, kept);
                entry.response_truncated = answer.len() > JOURNAL_BODY_LIMIT;
                if let Some(journal) = self.0.journal() {
                    journal.push(entry);
                }
                Response::from_parts(parts, Body::from(answer))
            }
            None => {
                entry.response_headers = record_headers(b"", &parts.headers, None, b"");
                let recording = Recording::new(self.0.clone(), entry);
                Response::from_parts(parts, Taped::body(body, None, recording))
            }
        }
    }
}

/// An answer that was not whole at once: its first bytes are recorded as it streams, and the
/// entry is kept when it ends or is dropped (a client gone, a fault dropping it).
struct Recording {
    state: AppState,
    entry: Option<Recorded>,
    seen: Captured,
}

impl Recording {
    fn new(state: AppState, entry: Recorded) -> Recording {
        Recording {
            state,
            entry: Some(entry),
            seen: Captured::default(),
        }
    }

    fn finish(&mut self) {
        if let Some(mut entry) = self.entry.take() {
            entry.response_headers = entry.response_headers.with_tail(&self.seen.bytes);
            entry.response_truncated = self.seen.truncated;
            if let Some(journal) = self.state.journal() {
                journal.push(entry);
            }
        }
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Where a body's bytes are recorded as they pass.
trait Tape: Send + Unpin + 'static {
    fn see(&mut self, data: &[u8]);

    /// The body ended, or failed.
    fn end(&mut self) {}
}

/// A request body's tape, read by the hook once the answer is made.
impl Tape for Arc<Mutex<Captured>> {
    fn see(&mut self, data: &[u8]) {
        self.lock().unwrap_or_else(|p| p.into_inner()).see(data);
    }
}

impl Tape for Recording {
    fn see(&mut self, data: &[u8]) {
        self.seen.see(data);
    }

    fn end(&mut self) {
        self.finish();
    }
}

/// A body that records what passes through on its tape; `first` is a frame already taken from
/// `inner`, given out before the rest.
struct Taped<T> {
    inner: Body,
    first: Option<Frame<Bytes>>,
    tape: T,
}

impl<T: Tape> Taped<T> {
    fn body(inner: Body, first: Option<Frame<Bytes>>, mut tape: T) -> Body {
        if let Some(data) = first.as_ref().and_then(Frame::data_ref) {
            tape.see(data);
        }
        Body::new(Taped { inner, first, tape })
    }
}

impl<T: Tape> HttpBody for Taped<T> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if let Some(frame) = this.first.take() {
            return Poll::Ready(Some(Ok(frame)));
        }
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.tape.see(data);
                }
            }
            Poll::Ready(None | Some(Err(_))) => this.tape.end(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        let taken = self
            .first
            .as_ref()
            .and_then(Frame::data_ref)
            .map_or(0, |d| d.len() as u64);
        let inner = self.inner.size_hint();
        let mut hint = http_body::SizeHint::new();
        hint.set_lower(inner.lower().saturating_add(taken));
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper.saturating_add(taken));
        }
        hint
    }
}

/// What recording a request's headers noticed on the way.
#[derive(Default)]
struct Noticed {
    /// The first `Authorization` header's bearer token's last four (`Some(None)`: the header
    /// was there, with no bearer token to show).
    token: Option<Option<LastFour>>,
    /// The first `Idempotency-Key`, whole (its value is not cut like other headers).
    idempotency_key: Option<Box<[u8]>>,
}

/// A message as the journal records it: `lead`, the headers (copied once, the token
/// masked; when asked, what `noticed` holds is kept as the headers pass), `tail`.
fn record_headers(
    lead: &[u8],
    h: &HeaderMap,
    mut noticed: Option<&mut Noticed>,
    tail: &[u8],
) -> HeaderBlock {
    HeaderBlock::record(
        lead,
        || h.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
        |name, value, out| {
            let masked = name == header::AUTHORIZATION.as_str();
            if masked {
                let bearer = mask_authorization(value, out);
                // The first Authorization header is the one the server reads.
                if let Some(n) = noticed.as_deref_mut().filter(|n| n.token.is_none()) {
                    n.token = Some(bearer);
                }
            } else if name == IDEMPOTENCY_KEY.as_str()
                && let Some(n) = noticed
                    .as_deref_mut()
                    .filter(|n| n.idempotency_key.is_none())
            {
                n.idempotency_key = Some(Box::from(value));
            }
            masked
        },
        tail,
    )
}

/// Appends `Scheme ...last4`, or `Scheme [redacted]` for a short token, or `[redacted]` when
/// there is no scheme (a scheme is echoed only when it looks like one: up to
/// [`SCHEME_LIMIT`] letters and `-`, so a token sent without one, or glued to one by a tab, is
/// never shown); returns the last four of a bearer token (as `auth::bearer_token` reads it).
fn mask_authorization(value: &[u8], out: &mut Vec<u8>) -> Option<LastFour> {
    let value = value.trim_ascii();
    let split = value.iter().position(|b| *b == b' ').and_then(|space| {
        let scheme = &value[..space];
        let plain = scheme.len() <= SCHEME_LIMIT
            && scheme.iter().all(|b| b.is_ascii_alphabetic() || *b == b'-');
        plain.then(|| (scheme, value[space + 1..].trim_ascii()))
    });
    let Some((scheme, token)) = split else {
        out.extend_from_slice(b"[redacted]");
        return None;
    };
    out.extend_from_slice(scheme);
    let shown = std::str::from_utf8(token).ok().and_then(LastFour::of);
    match shown {
        Some(last) => {
            out.extend_from_slice(b" ...");
            out.extend_from_slice(last.as_str().as_bytes());
        }
        None => out.extend_from_slice(b" [redacted]"),
    }
    shown.filter(|_| scheme.eq_ignore_ascii_case(b"bearer") && token.is_ascii())
}

/// The longest `Authorization` scheme the journal shows (`Negotiate` is 9 letters).
const SCHEME_LIMIT: usize = 20;

/// The first bytes of a body as it streams (a request's as the handler reads it, an answer's
/// as it is written), cut at the journal's limit.
#[derive(Default)]
struct Captured {
    bytes: Vec<u8>,
    truncated: bool,
}

impl Captured {
    fn see(&mut self, data: &[u8]) {
        let room = JOURNAL_BODY_LIMIT.saturating_sub(self.bytes.len());
        self.bytes.extend_from_slice(&data[..data.len().min(room)]);
        self.truncated |= data.len() > room;
    }

    fn recorded(&self) -> RecordedBody {
        RecordedBody {
            bytes: Bytes::copy_from_slice(&self.bytes),
            truncated: self.truncated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MockConfig, RequestFilter};

    /// An answer body that is not ready at the first poll, then streams its pieces.
    struct Slow {
        polled: bool,
        pieces: std::collections::VecDeque<Bytes>,
    }

    impl HttpBody for Slow {
        type Data = Bytes;
        type Error = axum::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
            if !std::mem::replace(&mut self.polled, true) {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready(self.pieces.pop_front().map(|p| Ok(Frame::data(p))))
        }
    }

    fn slow(pieces: &[&'static str]) -> Response {
        Response::new(Body::new(Slow {
            polled: false,
            pieces: pieces
                .iter()
                .map(|p| Bytes::from_static(p.as_bytes()))
                .collect(),
        }))
    }

    fn answered(hook: &RecordRequests, res: Response) -> Response {
        let mut req = Request::get("/api/v1/codes").body(Body::empty()).unwrap();
        let Step::Next(pending) = hook.before(&mut req) else {
            panic!("an /api/v1 request is journaled");
        };
        hook.after(pending, res)
    }

    #[tokio::test]
    async fn an_answer_that_streams_is_recorded_whole_once_it_ends() {
        let state = AppState::new(MockConfig::default()).unwrap();
        let hook = RecordRequests(state.clone());
        let res = answered(&hook, slow(&["{\"a\":", "1}"]));
        assert!(state.requests(&RequestFilter::new()).is_empty());
        let body = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"{\"a\":1}", "the client gets every byte");
        let entries = state.requests(&RequestFilter::new());
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].response.body, serde_json::json!({"a": 1}));
    }

    #[tokio::test]
    async fn an_answer_dropped_unread_is_recorded_with_what_was_written() {
        let state = AppState::new(MockConfig::default()).unwrap();
        let hook = RecordRequests(state.clone());
        drop(answered(&hook, slow(&["never", "written"])));
        let entries = state.requests(&RequestFilter::new());
        assert_eq!(
            entries.len(),
            1,
            "a dropped answer is still a request answered"
        );
        assert_eq!(entries[0].status, 200);
    }

    #[tokio::test]
    async fn a_whole_answer_is_recorded_at_once() {
        let state = AppState::new(MockConfig::default()).unwrap();
        let hook = RecordRequests(state.clone());
        let res = answered(&hook, Response::new(Body::from("{\"b\":2}")));
        let entries = state.requests(&RequestFilter::new());
        assert_eq!(entries.len(), 1, "before anyone reads the body");
        assert_eq!(entries[0].response.body, serde_json::json!({"b": 2}));
        let body = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"{\"b\":2}");
    }

    fn masked_authorization(value: &[u8]) -> String {
        let mut out = b"before:".to_vec();
        let token = mask_authorization(value, &mut out);
        let shown = String::from_utf8(out).unwrap();
        // The journal's token is the bearer token's last four, when there are any.
        let bearer = crate::layers::auth::bearer_token(
            &[(
                header::AUTHORIZATION,
                axum::http::HeaderValue::from_bytes(value).unwrap(),
            )]
            .into_iter()
            .collect(),
        )
        .and_then(crate::state::last_four)
        .map(str::to_owned);
        assert_eq!(token.map(|t| t.as_str().to_owned()), bearer, "{shown}");
        shown
    }

    #[test]
    fn tokens_show_their_last_four_characters_only_when_long() {
        assert_eq!(
            masked_authorization(b"Bearer hkr_test_business"),
            "before:Bearer ...ness"
        );
        assert_eq!(
            masked_authorization(b"Bearer short"),
            "before:Bearer [redacted]"
        );
        assert_eq!(
            masked_authorization(b"hkr_test_business"),
            "before:[redacted]"
        );
        assert_eq!(
            masked_authorization(b"  bearer   hkr_test_business "),
            "before:bearer ...ness"
        );
        assert_eq!(
            masked_authorization(b"Basic dXNlcjpwYXNzd29yZA=="),
            "before:Basic ...ZA=="
        );
        // What is not a scheme is never echoed: a token with no scheme before a space, a
        // token glued to its scheme by a tab, an overlong "scheme".
        for value in [
            &b"hkr_test_business other"[..],
            b"Bearer\thkr_test_business x",
            b"abcdefghijklmnopqrstuvwxyz hkr_test_business",
        ] {
            assert_eq!(masked_authorization(value), "before:[redacted]");
        }
    }
}
