//! Authentication and the rate limit, in two parts so the document's order holds.
//!
//! [`Identify`] wraps the router: on an `/api/v1` request with a known bearer token it spends
//! one credit of the token (whatever the answer: a 404 for an unknown route, a 405, a 429 all
//! spend one) and puts `X-RateLimit-Limit/Remaining/Reset` on the answer. Without a known
//! token it does nothing, so the router answers an unknown route 404 and a wrong method 405
//! with no budget shown.
//!
//! [`Require`] is the route layer of every `/api/v1` operation (it runs only once the route and
//! method matched): 401 without a known token, 429 when the credit was over the cap.

use axum::extract::Request;
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
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn put_rate_headers(res: &mut Response, d: &RateDecision) {
    let h = res.headers_mut();
    h.insert(X_RATELIMIT_LIMIT.clone(), HeaderValue::from(d.limit));
    h.insert(
        X_RATELIMIT_REMAINING.clone(),
        HeaderValue::from(d.remaining),
    );
    h.insert(X_RATELIMIT_RESET.clone(), HeaderValue::from(d.reset.max(0)));
}

/// Identifies the caller of an `/api/v1` request, spends its credit, shows its budget.
#[derive(Clone)]
pub(crate) struct Identify(pub AppState);

impl Hook for Identify {
    type Carry = (Caller, RateDecision);

    fn before(&self, req: &mut Request) -> Step<(Caller, RateDecision)> {
        if !in_api(req.uri().path()) {
            return Step::Pass;
        }
        let Some(caller) = bearer_token(req.headers()).and_then(|t| self.0.caller(t)) else {
            return Step::Pass;
        };
        let decision = self.0.spend_credit(caller.token);
        req.extensions_mut().insert(caller);
        req.extensions_mut().insert(decision);
        Step::Next((caller, decision))
    }

    fn after(&self, (caller, decision): (Caller, RateDecision), mut res: Response) -> Response {
        put_rate_headers(&mut res, &decision);
        // For the request log.
        res.extensions_mut().insert(caller);
        res
    }
}

/// 401 without a known token, 429 over the cap; else the operation.
#[derive(Clone)]
pub(crate) struct Require;

impl Hook for Require {
    type Carry = ();

    fn before(&self, req: &mut Request) -> Step<()> {
        if req.extensions().get::<Caller>().is_none() {
            return Step::Answer(ApiError::unauthorized().into_response());
        }
        if let Some(wait) = req
            .extensions()
            .get::<RateDecision>()
            .and_then(|d| d.retry_after)
        {
            return Step::Answer(ApiError::rate_limited(wait).into_response());
        }
        Step::Pass
    }

    fn after(&self, (): (), res: Response) -> Response {
        res
    }
}
