//! Authentication and the rate limit, in three parts so the document's order holds.
//!
//! [`Identify`] sits near the outside: a request with a known bearer token gets its
//! [`Caller`] in its extensions, once, for every layer and handler inside to read (the log's
//! and journal's account, the fault generator's token, the credit, the handlers).
//!
//! [`Meter`] wraps the router: on an `/api/v1` request from a known caller it spends one credit
//! of the token (whatever the answer: a 404 for an unknown route, a 405, a 429 all spend one)
//! and puts `X-RateLimit-Limit/Remaining/Reset` on the answer. Without a known token it does
//! nothing, so the router answers an unknown route 404 and a wrong method 405 with no budget
//! shown.
//!
//! [`Require`] is what every `/api/v1` operation takes first (an extractor: it runs only once
//! the route and method matched, before the operation reads its path, query or body): 401
//! without a known token, 429 when the credit was over the cap. (It was a route layer; as an
//! extractor the operations are not wrapped in a second boxed service per request: see
//! BENCHMARKS.md, "Speed as users run it".)

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::hook::{Hook, Step};
use super::in_api;
use crate::error::ApiError;
use crate::state::{AppState, Caller, RateDecision};

static X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
static X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
static X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// `Bearer <token>` (scheme case-insensitive) from `Authorization`.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    // Visible ASCII (and tabs) only, checked once: a token with any other byte is no token.
    let value = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim_ascii();
    // (A byte search: `split_once` looks for a char, at several times the cost.)
    let space = value.bytes().position(|b| b == b' ')?;
    let (scheme, token) = (&value[..space], value[space + 1..].trim_ascii());
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return None;
    }
    Some(token)
}

fn put_rate_headers(res: &mut Response, d: &RateDecision, limit: &HeaderValue) {
    let h = res.headers_mut();
    h.insert(X_RATELIMIT_LIMIT.clone(), limit.clone());
    h.insert(
        X_RATELIMIT_REMAINING.clone(),
        HeaderValue::from(d.remaining),
    );
    h.insert(X_RATELIMIT_RESET.clone(), reset_value(d.reset.max(0)));
}

/// `X-RateLimit-Reset`'s value: the same second for a second's answers, so each thread keeps
/// the last one it made (a clone shares its bytes; a fresh one would be formatted and
/// allocated per answer).
fn reset_value(reset: i64) -> HeaderValue {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(i64, HeaderValue)>> =
            const { std::cell::RefCell::new(None) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        match &*last {
            Some((at, value)) if *at == reset => value.clone(),
            _ => {
                let value = HeaderValue::from(reset);
                *last = Some((reset, value.clone()));
                value
            }
        }
    })
}

/// Puts the [`Caller`] of a known bearer token in the request's extensions.
#[derive(Clone)]
pub(crate) struct Identify(pub AppState);

impl Hook for Identify {
    type Carry = ();

    fn before(&self, req: &mut Request) -> Step<()> {
        if let Some(caller) = bearer_token(req.headers()).and_then(|t| self.0.caller(t)) {
            req.extensions_mut().insert(caller);
        }
        Step::Pass
    }

    fn after(&self, (): (), res: Response) -> Response {
        res
    }
}

/// The rate limit's hook (see the module's text).
#[derive(Clone)]
pub(crate) struct Meter {
    state: AppState,
    /// `X-RateLimit-Limit`, the same on every answer: made once, shared by reference count.
    limit: HeaderValue,
}

impl Meter {
    pub(crate) fn new(state: AppState) -> Meter {
        let limit = HeaderValue::from(state.config().rate_limit.limit);
        Meter { state, limit }
    }
}

impl Hook for Meter {
    type Carry = RateDecision;

    fn before(&self, req: &mut Request) -> Step<RateDecision> {
        if !in_api(req.uri().path()) {
            return Step::Pass;
        }
        let Some(caller) = req.extensions_mut().get_mut::<Caller>() else {
            return Step::Pass;
        };
        let decision = self.state.spend_credit(caller.token);
        caller.over_limit = decision.retry_after;
        Step::Next(decision)
    }

    fn after(&self, decision: RateDecision, mut res: Response) -> Response {
        put_rate_headers(&mut res, &decision, &self.limit);
        res
    }
}

/// 401 without a known token, 429 over the cap; else the operation, with its caller.
///
/// Every `/api/v1` handler takes it as its first extractor after the state.
pub(crate) struct Require(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Require {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        match parts.extensions.get::<Caller>() {
            None => Err(ApiError::unauthorized().into_response()),
            Some(Caller {
                over_limit: Some(wait),
                ..
            }) => Err(ApiError::rate_limited(*wait).into_response()),
            Some(caller) => Ok(Require(*caller)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(value: &[u8]) -> Option<String> {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_bytes(value).unwrap(),
        );
        bearer_token(&h).map(str::to_owned)
    }

    #[test]
    fn a_bearer_token_is_read_as_the_server_takes_it() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (b"Bearer hkr_abc", Some("hkr_abc")),
            (b"bearer hkr_abc", Some("hkr_abc")),
            (b"BEARER  hkr_abc ", Some("hkr_abc")),
            (b"Bearer hkr\tabc", Some("hkr\tabc")),
            (b"Bearer\thkr_abc", None),
            (b"Bearer ", None),
            (b"Bearer", None),
            (b"Basic hkr_abc", None),
            (b"hkr_abc", None),
            (b"Bearer hkr_\xe9", None),
            (b"B\xe9arer hkr_abc", None),
            (b"Bearer hkr abc", Some("hkr abc")),
        ];
        for (value, want) in cases {
            assert_eq!(
                bearer(value).as_deref(),
                *want,
                "{}",
                String::from_utf8_lossy(value)
            );
        }
    }

    #[test]
    fn each_answer_carries_its_own_reset_second() {
        // One thread, two windows ending in different seconds, alternating.
        for _ in 0..3 {
            assert_eq!(reset_value(1_700_000_000), "1700000000");
            assert_eq!(reset_value(1_700_000_042), "1700000042");
        }
        assert_eq!(reset_value(0), "0");
    }
}
