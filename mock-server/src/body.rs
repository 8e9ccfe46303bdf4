//! Reading request bodies: `Content-Type` must be JSON (415), the body at most 64 KiB (413), the
//! bytes a JSON object (400 `invalid_json`). Bodies are parsed here into `serde_json` values so
//! that validation (see `validate`) can name each field in a 422.

use axum::body::Body;
use axum::http::{HeaderMap, header};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// The largest request body accepted, in bytes.
pub const BODY_LIMIT: usize = 64 * 1024;

/// True for `application/json` and `application/*+json`, any parameters.
fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application", sub)) => sub == "json" || sub.ends_with("+json"),
        _ => false,
    }
}

/// True when a body read failed because the body stalled (the server's body timeout), however
/// deeply the error is wrapped on its way up (the limit, the framework's body).
fn is_body_timeout(mut e: &(dyn std::error::Error + 'static)) -> bool {
    loop {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        match e.source() {
            Some(next) => e = next,
            None => return false,
        }
    }
}

/// Reads a JSON object body: 415, 413 or 400 in the envelope when it is not one.
pub(crate) async fn read_json_object(
    headers: &HeaderMap,
    body: Body,
) -> Result<Map<String, Value>, ApiError> {
    if !is_json_content_type(headers) {
        return Err(ApiError::unsupported_media_type());
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT as u64) {
        return Err(ApiError::payload_too_large(BODY_LIMIT));
    }
    let bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => {
            let inner = e.into_inner();
            if inner.is::<http_body_util::LengthLimitError>() {
                return Err(ApiError::payload_too_large(BODY_LIMIT));
            }
            if is_body_timeout(inner.as_ref()) {
                return Err(ApiError::request_timeout());
            }
            return Err(ApiError::invalid_json("the body could not be read"));
        }
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::not_an_object()),
        Err(e) => Err(ApiError::invalid_json(e)),
    }
}
