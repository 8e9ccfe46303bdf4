//! The envelope of the router's own 405.

use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::hook::{Hook, Step};
use crate::error::ApiError;

/// The router answers a known route with a wrong method by itself (405 + `Allow`, no body):
/// this gives it the envelope. It wraps the router as a whole (a layer on the router would run
/// inside each route, before `Allow` is set).
#[derive(Clone)]
pub(crate) struct MethodNotAllowedEnvelope;

impl Hook for MethodNotAllowedEnvelope {
    type Carry = Method;

    fn before(&self, req: &mut Request) -> Step<Method> {
        Step::Next(req.method().clone())
    }

    fn after(&self, method: Method, res: Response) -> Response {
        if res.status() != StatusCode::METHOD_NOT_ALLOWED
            || res.headers().contains_key(header::CONTENT_TYPE)
        {
            return res;
        }
        let allow = res
            .headers()
            .get(header::ALLOW)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        ApiError::method_not_allowed(method.as_str(), allow).into_response()
    }
}
