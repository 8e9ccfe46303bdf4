//! The SDK's one error type, the API's error codes, and parsing of error bodies.
//!
//! Every failure of a call is an [`Error`]. When the server answered with an error status the
//! error is [`Error::Api`], whatever the body looked like: a proper envelope gives its
//! `code`, `message` and `field_errors`; a code this SDK has never seen becomes
//! [`ErrorCode::Unknown`] with the raw code; a body that is not an envelope at all (an HTML
//! page from a proxy, an empty body, truncated JSON) becomes [`ErrorCode::Unknown`] with an
//! **empty** string and keeps a short snippet of the body in [`ApiError::body_snippet`].
//! Errors never contain the bearer token.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::enums::string_enum;
use crate::response::RateLimit;

/// `Result` with the SDK's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

string_enum! {
    /// The stable error identifiers of the API (`error.code`). Switch on these, never on messages.
    ///
    /// New codes may be added by the server at any time; they arrive as [`ErrorCode::Unknown`]
    /// and are treated as retryable on the same idempotency key, as the API asks.
    pub enum ErrorCode {
        /// 400: the body is not valid JSON or not a JSON object.
        InvalidJson => "invalid_json",
        /// 400: a query parameter is malformed or out of range.
        InvalidParameter => "invalid_parameter",
        /// 400: the Idempotency-Key is empty, longer than 255 bytes, or not usable text
        /// (control characters, leading or trailing space).
        InvalidIdempotencyKey => "invalid_idempotency_key",
        /// 401: missing or invalid bearer token.
        Unauthorized => "unauthorized",
        /// 404: no such code on this account, or no such route.
        NotFound => "not_found",
        /// 405: wrong method for the route.
        MethodNotAllowed => "method_not_allowed",
        /// 409: the idempotency key was reused with a different body.
        IdempotencyKeyConflict => "idempotency_key_conflict",
        /// 409: the chosen shortcode exists on some account.
        ShortcodeTaken => "shortcode_taken",
        /// 410: the scan URL of a paused code.
        CodePaused => "code_paused",
        /// 413: the body is over 64 KiB.
        PayloadTooLarge => "payload_too_large",
        /// 415: the body was not sent as `application/json`.
        UnsupportedMediaType => "unsupported_media_type",
        /// 422: the body failed validation; see [`ApiError::field_errors`].
        ValidationFailed => "validation_failed",
        /// 429: over the rate limit; see [`ApiError::retry_after`].
        RateLimited => "rate_limited",
        /// 500: the server failed; retry on the same idempotency key.
        InternalError => "internal_error",
        /// 503: temporarily unavailable; retry on the same idempotency key.
        ServiceUnavailable => "service_unavailable",
    }
}

/// An error response from the server (any non-2xx status).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// `error.code`. [`ErrorCode::Unknown`] holds a code this SDK does not know, or an empty
    /// string when the body was not an error envelope at all (see [`ApiError::body_snippet`]).
    pub code: ErrorCode,
    /// `error.message` (human-readable; do not match on it). For a body that was not an
    /// envelope, a message naming the status.
    pub message: String,
    /// `error.field_errors` (422 only): input field name to its problems.
    pub field_errors: BTreeMap<String, Vec<String>>,
    /// The rate-limit headers of this response, if present.
    pub rate_limit: Option<RateLimit>,
    /// `Retry-After` (seconds or HTTP-date), if present and readable.
    pub retry_after: Option<Duration>,
    /// `X-Request-Id`, to quote to support.
    pub request_id: Option<String>,
    /// The Idempotency-Key this request carried (creates always carry one).
    pub idempotency_key: Option<String>,
    /// `Idempotent-Replay: true`: this error is the stored answer to an earlier request with
    /// the same key (the API stores `409 shortcode_taken` and `422 validation_failed`), not a
    /// fresh verdict. Sending the same body again with this key gets the same answer; use a
    /// new key for a changed request.
    pub idempotent_replay: bool,
    /// A short, bounded snippet of the body when it was not a readable error envelope.
    pub body_snippet: Option<String>,
    /// How many attempts were made before giving up (1 when not retried).
    pub attempts: u32,
}

impl ApiError {
    /// Whether the body was a proper `{"error": {...}}` envelope.
    pub fn is_envelope(&self) -> bool {
        self.body_snippet.is_none()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.code.as_str().is_empty() {
            write!(f, "HTTP {}: {}", self.status, self.message)
        } else {
            write!(f, "HTTP {} {}: {}", self.status, self.code, self.message)
        }?;
        for (field, problems) in &self.field_errors {
            write!(f, "; {field}: {}", problems.join(", "))?;
        }
        Ok(())
    }
}

/// Everything that can go wrong in a call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error status (after any retries the policy allowed).
    #[error("{0}")]
    Api(Box<ApiError>),

    /// The request could not be sent or its response not received: connection refused or
    /// reset, DNS failure, TLS failure, a broken body stream.
    #[error("transport error: {message}")]
    Transport {
        /// What failed.
        message: String,
        /// The Idempotency-Key the request carried, to retry it later safely.
        idempotency_key: Option<String>,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },

    /// The request did not complete within the configured timeout.
    #[error("request timed out")]
    Timeout {
        /// The Idempotency-Key the request carried, to retry it later safely.
        idempotency_key: Option<String>,
    },

    /// A successful (2xx) response whose body does not match the contract, or is too large.
    #[error(
        "could not decode the HTTP {status} response body: {message} (body starts: {snippet:?})"
    )]
    Decode {
        /// The HTTP status of the response.
        status: u16,
        /// What did not match.
        message: String,
        /// A short, bounded snippet of the body.
        snippet: String,
        /// The Idempotency-Key the request carried: the create may have succeeded, so retry
        /// with this key to get the stored response back instead of a duplicate.
        idempotency_key: Option<String>,
    },

    /// The client was configured or called with something unusable (missing token, bad base
    /// URL, an invalid idempotency key...). Nothing was sent.
    #[error("configuration error: {0}")]
    Config(String),
}

impl Error {
    /// Whether retrying the same call (with the same idempotency key) may succeed: 429, 5xx,
    /// an unknown error code, transport errors and timeouts. Known 4xx codes, decode and
    /// configuration errors are permanent.
    pub fn is_retryable(&self) -> bool {
        crate::retry::is_retryable(self)
    }

    /// How long the server asked to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        self.api().and_then(|api| api.retry_after)
    }

    /// The Idempotency-Key the failed request carried. Keep it to retry the create later:
    /// the server replays the original result instead of creating a duplicate.
    pub fn idempotency_key(&self) -> Option<&str> {
        match self {
            Self::Api(api) => api.idempotency_key.as_deref(),
            Self::Transport {
                idempotency_key, ..
            }
            | Self::Timeout { idempotency_key }
            | Self::Decode {
                idempotency_key, ..
            } => idempotency_key.as_deref(),
            Self::Config(_) => None,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api(api) => Some(api.status),
            Self::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The API error code, when the server answered with an error.
    pub fn code(&self) -> Option<&ErrorCode> {
        self.api().map(|api| &api.code)
    }

    /// The API error details, when the server answered with an error.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::Api(api) => Some(api),
            _ => None,
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::Config(message.into())
    }

    pub(crate) fn set_attempts(&mut self, attempts: u32) {
        if let Self::Api(api) = self {
            api.attempts = attempts;
        }
    }
}

/// What an error body said, as far as it could be read.
pub(crate) struct ParsedErrorBody {
    pub(crate) code: ErrorCode,
    pub(crate) message: String,
    pub(crate) field_errors: BTreeMap<String, Vec<String>>,
    /// `None` when the body was an envelope.
    pub(crate) snippet: Option<String>,
}

/// Reads an error body leniently: any JSON object with an `error` object whose `code` is a
/// string counts as an envelope (a missing or mistyped `message` or `field_errors` entry is
/// tolerated); anything else keeps a snippet and gets the empty-code placeholder.
pub(crate) fn parse_error_body(status: u16, body: &[u8], snippet: String) -> ParsedErrorBody {
    let envelope = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|value| match value {
            serde_json::Value::Object(mut map) => match map.remove("error") {
                Some(serde_json::Value::Object(error)) => Some(error),
                _ => None,
            },
            _ => None,
        });
    let reason = http_reason(status);
    let Some(error) =
        envelope.filter(|e| matches!(e.get("code"), Some(serde_json::Value::String(_))))
    else {
        let what = if body.is_empty() {
            "empty body"
        } else {
            "body is not a Heldqr error envelope"
        };
        return ParsedErrorBody {
            code: ErrorCode::Unknown(String::new()),
            message: format!("{reason} ({what})"),
            field_errors: BTreeMap::new(),
            snippet: Some(snippet),
        };
    };
    let code = error
        .get("code")
        .and_then(serde_json::Value::as_str)
        .map(ErrorCode::from)
        .unwrap_or_else(|| ErrorCode::Unknown(String::new()));
    let message = error
        .get("message")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| reason.to_owned());
    let mut field_errors = BTreeMap::new();
    if let Some(serde_json::Value::Object(fields)) = error.get("field_errors") {
        for (field, problems) in fields {
            let problems: Vec<String> = match problems {
                serde_json::Value::Array(items) => items
                    .iter()
                    .filter_map(|p| p.as_str().map(str::to_owned))
                    .collect(),
                serde_json::Value::String(one) => vec![one.clone()],
                _ => Vec::new(),
            };
            field_errors.insert(field.clone(), problems);
        }
    }
    ParsedErrorBody {
        code,
        message,
        field_errors,
        snippet: None,
    }
}

fn http_reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("error status")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(status: u16, body: &str) -> ParsedErrorBody {
        parse_error_body(status, body.as_bytes(), body.chars().take(20).collect())
    }

    #[test]
    fn envelope_with_known_code() {
        let p = parse(
            422,
            r#"{"error":{"code":"validation_failed","message":"bad","field_errors":{"target_url":["is invalid"]}}}"#,
        );
        assert_eq!(p.code, ErrorCode::ValidationFailed);
        assert_eq!(p.message, "bad");
        assert_eq!(p.field_errors["target_url"], vec!["is invalid".to_string()]);
        assert!(p.snippet.is_none());
    }

    #[test]
    fn unknown_code_and_extra_fields_still_parse() {
        let p = parse(
            400,
            r#"{"error":{"code":"quota_exceeded","message":"m","docs":"x"},"trace":1}"#,
        );
        assert_eq!(p.code, ErrorCode::Unknown("quota_exceeded".into()));
        assert!(p.snippet.is_none());
    }

    #[test]
    fn wrong_types_are_tolerated() {
        let p = parse(
            404,
            r#"{"error":{"code":"not_found","message":5,"field_errors":[1]}}"#,
        );
        assert_eq!(p.code, ErrorCode::NotFound);
        assert_eq!(p.message, "Not Found");
    }

    #[test]
    fn non_envelopes_get_the_placeholder() {
        for body in [
            "",
            "<html>Bad gateway</html>",
            r#"{"error":{"code":"not_fo"#,
            r#"{"error":"boom"}"#,
            r#"{"error":{"code":7}}"#,
            "[1,2]",
        ] {
            let p = parse(502, body);
            assert_eq!(p.code, ErrorCode::Unknown(String::new()), "{body}");
            assert!(p.snippet.is_some());
            assert!(p.message.starts_with("Bad Gateway"), "{}", p.message);
        }
    }
}
