//! The SDK's one error type, the API's error codes, and parsing of error bodies.
//!
//! Every failure of a call is an [`Error`]. When the server answered with an error status and
//! the API's error envelope, the error is [`Error::Api`] with its `code`, `message` and
//! `field_errors`; a code this SDK has never seen becomes [`ErrorCode::Unknown`] (opaque, read
//! with `as_str()`). A body that is not an envelope at all (an HTML page from a proxy, an
//! empty body, truncated JSON) is its own case, [`Error::Http`], with the status and a short
//! snippet of the body. Errors never contain the bearer token: it is masked wherever server
//! text is echoed (messages, codes, field errors, snippets).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::enums::string_enum;
use crate::response::{RateLimit, ResponseHead};

/// `Result` with the SDK's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

string_enum! {
    /// The stable error identifiers of the API (`error.code`). Switch on these, never on messages.
    ///
    /// New codes may be added by the server at any time; they arrive as [`ErrorCode::Unknown`]
    /// (read the code with [`ErrorCode::as_str`]) and are treated as retryable on the same
    /// idempotency key, as the API asks.
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

/// An error answer from the API: an error status with the documented error envelope
/// (`{"error": {"code", "message", "field_errors"}}`).
///
/// Built by the SDK from a response; [`ApiError::new`] and its `with_*` setters build one for
/// a unit test of code that handles errors (turn it into an [`Error`] with `.into()`):
///
/// ```
/// use heldqr_sdk::{ApiError, Error, ErrorCode};
///
/// let err: Error = ApiError::new(422, ErrorCode::ValidationFailed, "invalid input")
///     .with_field_error("target_url", "must be an absolute http(s) URL")
///     .with_request_id("req_123")
///     .into();
/// assert_eq!(err.code(), Some(&ErrorCode::ValidationFailed));
/// assert_eq!(err.request_id(), Some("req_123"));
/// assert!(!err.is_retryable());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// `error.code`; a code this SDK does not know is [`ErrorCode::Unknown`] (read it with
    /// [`ErrorCode::as_str`]).
    pub code: ErrorCode,
    /// `error.message` (human-readable; do not match on it).
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
    /// the same key, not a fresh verdict.
    pub idempotent_replay: bool,
    /// How many attempts were made before giving up (1 when not retried).
    pub attempts: u32,
    /// The answer's version and headers, kept by calls that show heads
    /// ([`RawRequest::send_raw`](crate::RawRequest::send_raw)); `None` for the typed calls.
    pub head: Option<ResponseHead>,
}

impl ApiError {
    /// An error answer with this status, code and message, as one attempt of a call would
    /// see it (no headers, no field errors; add them with the `with_*` setters).
    pub fn new(status: u16, code: impl Into<ErrorCode>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            field_errors: BTreeMap::new(),
            rate_limit: None,
            retry_after: None,
            request_id: None,
            idempotency_key: None,
            idempotent_replay: false,
            attempts: 1,
            head: None,
        }
    }

    /// Adds one problem for one input field (`field_errors`).
    pub fn with_field_error(
        mut self,
        field: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        self.field_errors
            .entry(field.into())
            .or_default()
            .push(problem.into());
        self
    }

    /// Sets `rate_limit`.
    pub fn with_rate_limit(mut self, rate_limit: RateLimit) -> Self {
        self.rate_limit = Some(rate_limit);
        self
    }

    /// Sets `retry_after`.
    pub fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = Some(retry_after);
        self
    }

    /// Sets `request_id`.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// Sets `idempotency_key`.
    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Sets `idempotent_replay`.
    pub fn with_idempotent_replay(mut self, replay: bool) -> Self {
        self.idempotent_replay = replay;
        self
    }

    /// Sets `attempts`.
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {} {}: {}", self.status, self.code, self.message)?;
        for (field, problems) in &self.field_errors {
            write!(f, "; {field}: {}", problems.join(", "))?;
        }
        Ok(())
    }
}

impl From<ApiError> for Error {
    fn from(api: ApiError) -> Self {
        Self::Api(Box::new(api))
    }
}

/// An error status whose body is not the API's error envelope: an HTML page or an empty body
/// from a proxy or load balancer, truncated JSON, a route outside the API.
///
/// ```
/// use heldqr_sdk::{Error, HttpError};
///
/// let err: Error = HttpError::new(502, "<html>Bad gateway</html>").into();
/// assert_eq!(err.status(), Some(502));
/// assert_eq!(err.code(), None);
/// assert!(err.is_retryable());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HttpError {
    /// The HTTP status.
    pub status: u16,
    /// The status's reason and what the body was (`Bad Gateway (empty body)`).
    pub message: String,
    /// A short, bounded snippet of the body (the token masked).
    pub body_snippet: String,
    /// The rate-limit headers of this response, if present.
    pub rate_limit: Option<RateLimit>,
    /// `Retry-After` (seconds or HTTP-date), if present and readable.
    pub retry_after: Option<Duration>,
    /// `X-Request-Id`, if the response had one.
    pub request_id: Option<String>,
    /// The Idempotency-Key this request carried.
    pub idempotency_key: Option<String>,
    /// How many attempts were made before giving up (1 when not retried).
    pub attempts: u32,
    /// The answer's version and headers, kept by calls that show heads
    /// ([`RawRequest::send_raw`](crate::RawRequest::send_raw)); `None` for the typed calls.
    pub head: Option<ResponseHead>,
}

impl HttpError {
    /// An error status with this body snippet, as one attempt of a call would see it.
    pub fn new(status: u16, body_snippet: impl Into<String>) -> Self {
        let body_snippet = body_snippet.into();
        let what = if body_snippet.is_empty() {
            "empty body"
        } else {
            "body is not a Heldqr error envelope"
        };
        Self {
            status,
            message: format!("{} ({what})", http_reason(status)),
            body_snippet,
            rate_limit: None,
            retry_after: None,
            request_id: None,
            idempotency_key: None,
            attempts: 1,
            head: None,
        }
    }

    /// Sets `retry_after`.
    pub fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = Some(retry_after);
        self
    }

    /// Sets `request_id`.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// Sets `attempts`.
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.message)
    }
}

impl From<HttpError> for Error {
    fn from(http: HttpError) -> Self {
        Self::Http(Box::new(http))
    }
}

/// Everything that can go wrong in a call.
///
/// Every variant but [`Error::Config`] says how many attempts were made
/// ([`Error::attempts`]), and every variant that had a response gives its request id
/// ([`Error::request_id`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API answered with an error status and its error envelope (after any retries the
    /// policy allowed).
    #[error("{0}")]
    Api(Box<ApiError>),

    /// An error status whose body is not the API's error envelope (a proxy's page, an empty
    /// body); see [`HttpError`].
    #[error("{0}")]
    Http(Box<HttpError>),

    /// The request could not be sent or its response not received: connection refused or
    /// reset, DNS failure, TLS failure, a broken body stream.
    #[error("transport error after {attempts} attempt(s): {message}")]
    Transport {
        /// What failed.
        message: String,
        /// The Idempotency-Key the request carried, to retry it later safely.
        idempotency_key: Option<String>,
        /// `X-Request-Id` when the failure came after the response headers (a broken body).
        request_id: Option<String>,
        /// Attempts made, the failed one included.
        attempts: u32,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },

    /// An attempt did not complete within its timeout, or the call's deadline ran out.
    #[error(
        "{} after {attempts} attempt(s)",
        if *deadline_exceeded { "the call's deadline ran out" } else { "request timed out" }
    )]
    Timeout {
        /// The Idempotency-Key the request carried, to retry it later safely.
        idempotency_key: Option<String>,
        /// `X-Request-Id` when the time ran out while reading the body.
        request_id: Option<String>,
        /// Attempts that went on the wire, the timed-out one included (0 when the deadline ran
        /// out before the first could go, e.g. while waiting for the rate limit).
        attempts: u32,
        /// `true` when the call's overall deadline ran out, `false` for one attempt's
        /// timeout.
        deadline_exceeded: bool,
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
        /// `X-Request-Id` of the response.
        request_id: Option<String>,
        /// Attempts made.
        attempts: u32,
    },

    /// The client was configured or called with something unusable (missing token, bad base
    /// URL, an invalid idempotency key...). Nothing was sent.
    #[error("configuration error: {0}")]
    Config(String),
}

impl Error {
    /// How long the server asked to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Api(api) => api.retry_after,
            Self::Http(http) => http.retry_after,
            _ => None,
        }
    }

    /// The rate-limit budget the error answer stated, if it did.
    pub(crate) fn rate_limit(&self) -> Option<RateLimit> {
        match self {
            Self::Api(api) => api.rate_limit,
            Self::Http(http) => http.rate_limit,
            _ => None,
        }
    }

    /// The Idempotency-Key the failed request carried. Keep it to retry the create later:
    /// the server replays the original result instead of creating a duplicate.
    pub fn idempotency_key(&self) -> Option<&str> {
        match self {
            Self::Api(api) => api.idempotency_key.as_deref(),
            Self::Http(http) => http.idempotency_key.as_deref(),
            Self::Transport {
                idempotency_key, ..
            }
            | Self::Timeout {
                idempotency_key, ..
            }
            | Self::Decode {
                idempotency_key, ..
            } => idempotency_key.as_deref(),
            Self::Config(_) => None,
        }
    }

    /// The error answer's HTTP version and headers, when the call keeps them
    /// ([`RawRequest::send_raw`](crate::RawRequest::send_raw) does; the typed calls do not).
    pub fn response_head(&self) -> Option<&ResponseHead> {
        match self {
            Self::Api(api) => api.head.as_ref(),
            Self::Http(http) => http.head.as_ref(),
            _ => None,
        }
    }

    /// `X-Request-Id` of the response, for every error that had one (quote it to support).
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Api(api) => api.request_id.as_deref(),
            Self::Http(http) => http.request_id.as_deref(),
            Self::Transport { request_id, .. }
            | Self::Timeout { request_id, .. }
            | Self::Decode { request_id, .. } => request_id.as_deref(),
            Self::Config(_) => None,
        }
    }

    /// Attempts that went on the wire before this error was returned: 0 when nothing was sent
    /// ([`Error::Config`], or a deadline spent before the first attempt could go).
    pub fn attempts(&self) -> u32 {
        match self {
            Self::Api(api) => api.attempts,
            Self::Http(http) => http.attempts,
            Self::Transport { attempts, .. }
            | Self::Timeout { attempts, .. }
            | Self::Decode { attempts, .. } => *attempts,
            Self::Config(_) => 0,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api(api) => Some(api.status),
            Self::Http(http) => Some(http.status),
            Self::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The API error code, when the server answered with its error envelope.
    pub fn code(&self) -> Option<&ErrorCode> {
        self.api().map(|api| &api.code)
    }

    /// The API error details, when the server answered with its error envelope.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::Api(api) => Some(api),
            _ => None,
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::Config(message.into())
    }

    pub(crate) fn set_attempts(&mut self, n: u32) {
        match self {
            Self::Api(api) => api.attempts = n,
            Self::Http(http) => http.attempts = n,
            Self::Transport { attempts, .. }
            | Self::Timeout { attempts, .. }
            | Self::Decode { attempts, .. } => *attempts = n,
            Self::Config(_) => {}
        }
    }
}

/// What an error envelope said.
pub(crate) struct Envelope {
    pub(crate) code: String,
    pub(crate) message: Option<String>,
    pub(crate) field_errors: BTreeMap<String, Vec<String>>,
}

/// Reads an error body leniently: any JSON object with an `error` object whose `code` is a
/// string counts as an envelope (a missing or mistyped `message` or `field_errors` entry is
/// tolerated); anything else is `None`.
pub(crate) fn parse_error_body(body: &[u8]) -> Option<Envelope> {
    let serde_json::Value::Object(mut map) = serde_json::from_slice(body).ok()? else {
        return None;
    };
    let serde_json::Value::Object(error) = map.remove("error")? else {
        return None;
    };
    let code = error.get("code")?.as_str()?.to_owned();
    let message = error
        .get("message")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
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
    Some(Envelope {
        code,
        message,
        field_errors,
    })
}

pub(crate) fn http_reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("error status")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_with_known_code() {
        let p = parse_error_body(
            br#"{"error":{"code":"validation_failed","message":"bad","field_errors":{"target_url":["is invalid"]}}}"#,
        )
        .unwrap();
        assert_eq!(ErrorCode::from(p.code), ErrorCode::ValidationFailed);
        assert_eq!(p.message.as_deref(), Some("bad"));
        assert_eq!(p.field_errors["target_url"], vec!["is invalid".to_string()]);
    }

    #[test]
    fn unknown_code_and_extra_fields_still_parse() {
        let p = parse_error_body(
            br#"{"error":{"code":"quota_exceeded","message":"m","docs":"x"},"trace":1}"#,
        )
        .unwrap();
        let code = ErrorCode::from(p.code);
        assert!(matches!(&code, ErrorCode::Unknown(v) if v.as_str() == "quota_exceeded"));
    }

    #[test]
    fn wrong_types_are_tolerated() {
        let p =
            parse_error_body(br#"{"error":{"code":"not_found","message":5,"field_errors":[1]}}"#)
                .unwrap();
        assert_eq!(p.code, "not_found");
        assert_eq!(p.message, None);
        assert!(p.field_errors.is_empty());
    }

    #[test]
    fn non_envelopes_are_none() {
        for body in [
            "",
            "<html>Bad gateway</html>",
            r#"{"error":{"code":"not_fo"#,
            r#"{"error":"boom"}"#,
            r#"{"error":{"code":7}}"#,
            "[1,2]",
        ] {
            assert!(parse_error_body(body.as_bytes()).is_none(), "{body}");
        }
        let http = HttpError::new(502, "");
        assert_eq!(http.message, "Bad Gateway (empty body)");
        assert!(
            HttpError::new(502, "<html>")
                .message
                .starts_with("Bad Gateway (body is not")
        );
    }

    #[test]
    fn every_error_tells_its_attempts_and_request_id() {
        let mut errors: Vec<Error> = vec![
            ApiError::new(500, ErrorCode::InternalError, "boom")
                .with_request_id("r")
                .into(),
            HttpError::new(502, "").with_request_id("r").into(),
            Error::Transport {
                message: "reset".into(),
                idempotency_key: None,
                request_id: Some("r".into()),
                attempts: 1,
                source: None,
            },
            Error::Timeout {
                idempotency_key: None,
                request_id: Some("r".into()),
                attempts: 1,
                deadline_exceeded: false,
            },
            Error::Decode {
                status: 200,
                message: "m".into(),
                snippet: String::new(),
                idempotency_key: None,
                request_id: Some("r".into()),
                attempts: 1,
            },
        ];
        for error in &mut errors {
            error.set_attempts(4);
            assert_eq!(error.attempts(), 4, "{error:?}");
            assert_eq!(error.request_id(), Some("r"), "{error:?}");
        }
        assert!(errors[2].to_string().contains("4 attempt"), "{}", errors[2]);
        assert!(errors[3].to_string().contains("4 attempt"), "{}", errors[3]);
        assert_eq!(Error::config("x").attempts(), 0);
    }
}
