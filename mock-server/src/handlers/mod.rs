//! The handlers, one module per resource: `codes` (the `/api/v1/codes` operations), `scans`
//! (the scans report and the scan URL), `admin` (the mock-only `/_mock/` routes), `inspector`
//! (the page at `/_mock/` and its data) and `reference` (the document); plus what they share:
//! JSON answers, the shortcode path parameter, liveness, the unknown route and the envelope of
//! the router's own 405.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;

use crate::error::ApiError;

pub(crate) mod admin;
pub(crate) mod codes;
pub(crate) mod inspector;
pub(crate) mod reference;
pub(crate) mod scans;

/// `{"data": ...}`.
#[derive(Serialize)]
pub(crate) struct DataView<T> {
    pub data: T,
}

pub(crate) fn json_bytes(status: StatusCode, body: impl Into<Body>) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.into(),
    )
        .into_response()
}

pub(crate) fn json_value<T: Serialize>(status: StatusCode, value: &T) -> Response {
    // Most answers fit at once: no growing on the way.
    let mut bytes = Vec::with_capacity(512);
    match serde_json::to_writer(&mut bytes, value) {
        Ok(()) => json_bytes(status, bytes),
        Err(e) => {
            ApiError::internal(format!("could not serialize the response: {e}")).into_response()
        }
    }
}

pub(crate) async fn route_not_found(method: Method, req: Request) -> ApiError {
    ApiError::route_not_found(method.as_str(), req.uri().path())
}

pub(crate) async fn healthz() -> Response {
    json_bytes(StatusCode::OK, Bytes::from_static(br#"{"status":"ok"}"#))
}

/// A shortcode from the path; a path that cannot be decoded names no code (404).
pub(crate) fn shortcode(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(s)| s)
        .map_err(|_| ApiError::code_not_found("?"))
}
