//! The one error type of the server. Every failure, the framework's own rejections included
//! (unknown route, wrong method, unreadable body), leaves through [`ApiError`] and so through the
//! one envelope `{"error": {"code", "message", "field_errors"?}}` of the contract.

use std::collections::BTreeMap;

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Field name to the problems found with it (the `field_errors` of a 422).
pub(crate) type FieldErrors = BTreeMap<String, Vec<String>>;

/// An error answer: status, stable code, message, and on 422 the field errors.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field_errors: Option<FieldErrors>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field_errors: Option<&'a FieldErrors>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field_errors: None,
            headers: Vec::new(),
        }
    }

    fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub(crate) fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Missing or invalid bearer token.",
        )
        .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    /// A mock-only route without the admin token (`--admin-token`).
    pub(crate) fn admin_unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "The mock-only /_mock routes need the admin token (Authorization: Bearer <admin token>).",
        )
        .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    /// Mock only: a state-changing `/_mock` request sent by a web page of another origin.
    pub(crate) fn cross_origin() -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_origin_request",
            "The mock-only /_mock routes do not change state for a web page of another origin \
             (its Origin or Sec-Fetch-Site header says so); send the request from a script or \
             the mock's own inspector page.",
        )
    }

    /// Mock only: a `/_mock` request to a loopback-only server for another host name.
    pub(crate) fn rebound_host() -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_origin_request",
            "This mock server listens on loopback only: its /_mock routes answer for localhost \
             or a loopback address, not for another host name (as a web page rebinding its \
             own name to 127.0.0.1 would send).",
        )
    }

    /// Mock only: the account holds as many codes as `--max-codes` allows.
    pub(crate) fn code_limit_reached(cap: usize) -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "code_limit_reached",
            format!(
                "This account holds {cap} codes, the most this mock server keeps per account \
                 (--max-codes); this limit is the mock's own, not the API's."
            ),
        )
    }

    pub(crate) fn code_not_found(shortcode: &str) -> Self {
        // The shortcode comes from the path; keep the message readable and bounded.
        let shown: String = shortcode.chars().take(64).collect();
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("No code with shortcode {shown}."),
        )
    }

    pub(crate) fn route_not_found(method: &str, path: &str) -> Self {
        let shown: String = path.chars().take(200).collect();
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("No route for {method} {shown}."),
        )
    }

    pub(crate) fn method_not_allowed(method: &str, allow: &str) -> Self {
        let allowed = allow
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .collect::<Vec<_>>()
            .join(", ");
        let value = HeaderValue::from_str(allow).unwrap_or_else(|_| HeaderValue::from_static(""));
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("Method {method} is not allowed here; allowed: {allowed}."),
        )
        .with_header(header::ALLOW, value)
    }

    pub(crate) fn invalid_json(detail: impl std::fmt::Display) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("Request body is not valid JSON: {detail}."),
        )
    }

    pub(crate) fn not_an_object() -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "Request body must be a JSON object.",
        )
    }

    pub(crate) fn invalid_parameter(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", message)
    }

    pub(crate) fn invalid_idempotency_key() -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            "Idempotency-Key must be 1-255 bytes of visible ASCII, bytes 0x80-0xFF, and spaces or tabs inside (not at either end).",
        )
    }

    pub(crate) fn idempotency_conflict() -> Self {
        ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_key_conflict",
            "Idempotency-Key was reused with a different request body.",
        )
    }

    pub(crate) fn shortcode_taken(shortcode: &str) -> Self {
        ApiError::new(
            StatusCode::CONFLICT,
            "shortcode_taken",
            format!("Shortcode {shortcode} is already taken."),
        )
    }

    pub(crate) fn code_paused() -> Self {
        ApiError::new(StatusCode::GONE, "code_paused", "This code is paused.")
    }

    pub(crate) fn payload_too_large(limit: usize) -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("Request body is larger than {limit} bytes."),
        )
    }

    pub(crate) fn unsupported_media_type() -> Self {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Content-Type must be application/json.",
        )
    }

    /// 422 with one problem of one field.
    pub(crate) fn invalid_field(field: &str, problem: impl Into<String>) -> Self {
        ApiError::validation(FieldErrors::from([(
            field.to_owned(),
            vec![problem.into()],
        )]))
    }

    pub(crate) fn validation(field_errors: FieldErrors) -> Self {
        let mut e = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "The request body failed validation.",
        );
        e.field_errors = Some(field_errors);
        e
    }

    pub(crate) fn rate_limited(retry_after: u64) -> Self {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many requests.",
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after))
    }

    /// Every connection the server allows is busy (`--max-connections`).
    pub(crate) fn service_unavailable_connections() -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "The server is at its connection limit with every connection busy; retry shortly.",
        )
    }

    /// Mock only: as many large journal reads as the server streams at once are under way.
    pub(crate) fn journal_readers_busy(max: usize) -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            format!(
                "At most {max} large journal reads are sent at once; retry shortly, or read \
                 fewer entries at a time (limit, after)."
            ),
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
    }

    /// The request body stalled longer than the server waits between its bytes.
    pub(crate) fn request_timeout() -> Self {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "The request body stopped arriving; the connection is closed.",
        )
        .with_header(header::CONNECTION, HeaderValue::from_static("close"))
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
    }

    /// The JSON body of this error.
    pub(crate) fn body_bytes(&self) -> Vec<u8> {
        let env = Envelope {
            error: Body {
                code: self.code,
                message: &self.message,
                field_errors: self.field_errors.as_ref(),
            },
        };
        // Serializing strings and string maps into a Vec cannot fail.
        serde_json::to_vec(&env).unwrap_or_else(|_| {
            br#"{"error":{"code":"internal_error","message":"error"}}"#.to_vec()
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.body_bytes();
        let mut res = (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response();
        for (name, value) in self.headers {
            res.headers_mut().insert(name, value);
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_is_in_the_documents_error_code_enum_with_its_status() {
        let doc: serde_json::Value =
            serde_norway::from_str(crate::handlers::reference::OPENAPI_YAML).unwrap();
        let schema = &doc["components"]["schemas"]["ErrorCode"];
        let table = schema["description"].as_str().unwrap();
        let all = [
            ApiError::unauthorized(),
            ApiError::code_not_found("x"),
            ApiError::route_not_found("GET", "/x"),
            ApiError::method_not_allowed("PUT", "GET,HEAD"),
            ApiError::invalid_json("x"),
            ApiError::not_an_object(),
            ApiError::invalid_parameter("x"),
            ApiError::invalid_idempotency_key(),
            ApiError::idempotency_conflict(),
            ApiError::shortcode_taken("x"),
            ApiError::code_paused(),
            ApiError::payload_too_large(1),
            ApiError::unsupported_media_type(),
            ApiError::validation(FieldErrors::new()),
            ApiError::rate_limited(1),
            ApiError::internal("x"),
        ];
        for e in all {
            assert!(
                schema["enum"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c == e.code),
                "{} not in ErrorCode",
                e.code
            );
            let row = format!("| `{}` | {} |", e.code, e.status.as_u16());
            assert!(
                table.contains(&row),
                "the table gives {} another status",
                e.code
            );
        }
    }
}
