//! [`Client`]: holds the configuration and runs every call through one path (auth headers,
//! idempotency key, the merged per-call settings, pacing, bounded body reading, error parsing,
//! retries, tracing), plus [`RawRequest`] for calls the typed surface does not cover.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use backon::Retryable;
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, PROXY_AUTHORIZATION, USER_AGENT,
};
use reqwest::{Method, Url, Version};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::config::{ClientBuilder, Resolved, Token};
use crate::error::{ApiError, Error, ErrorCode, HttpError, Result, parse_error_body};
use crate::models::DataEnvelope;
use crate::options::{OnRetry, OnSend, RequestOptions, Settings, request_options};
use crate::pacing::{self, Pacer};
use crate::response::{
    HEADER_IDEMPOTENCY_KEY, Head, RateLimit, Response, ResponseHead, ResponseMeta, read_head,
};
use crate::retry::RetryPolicy;
use crate::telemetry::{self, CallSpan, GiveUp};

/// Largest successful response body the SDK reads (a full page of codes is ~250 KiB).
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// Largest error response body the SDK reads; the rest is ignored.
pub const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// Characters of a body kept in error snippets.
const SNIPPET_CHARS: usize = 200;

/// A client for the Heldqr Management API. Cheap to clone (an `Arc` inside); clones share
/// the connection pool. Every client of the same base URL and token in the process shares one
/// rate-limit pacer (when pacing is on). `Debug` never shows the token.
///
/// ```no_run
/// # async fn demo() -> heldqr_sdk::Result<()> {
/// let client = heldqr_sdk::Client::from_env()?;
/// let code = client.codes().create("https://example.com/menu").send().await?;
/// println!("created {} (key {:?})", code.shortcode, code.meta().idempotency_key);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// What the builder checked and made.
    pub(crate) config: Resolved,
    pub(crate) pacer: Option<Arc<Pacer>>,
    pub(crate) last_rate_limit: Mutex<Option<RateLimit>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.config.base_url_str)
            .field("token", &self.inner.config.token)
            .field("timeout", &self.inner.config.defaults.timeout)
            .field("deadline", &self.inner.config.defaults.deadline)
            .field("retry_policy", &self.inner.config.defaults.retry)
            .field("pace_rate_limit", &self.inner.pacer.is_some())
            .field("log_bodies", &self.inner.config.log_bodies)
            .finish_non_exhaustive()
    }
}

/// One HTTP call as the retry loop sees it.
pub(crate) struct Call {
    /// `codes.create`, `codes.list`..., `raw` for [`Client::request`].
    pub(crate) operation: &'static str,
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) body: Option<Vec<u8>>,
    /// The body's `Content-Type`; `None` is `application/json`.
    pub(crate) content_type: Option<HeaderValue>,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) options: RequestOptions,
    /// Keep the status line's version and the headers in [`Reply::head`] (raw calls only).
    pub(crate) keep_head: bool,
}

impl Call {
    pub(crate) fn new(operation: &'static str, method: Method, url: Url) -> Self {
        Self {
            operation,
            method,
            url,
            body: None,
            content_type: None,
            idempotency_key: None,
            options: RequestOptions::default(),
            keep_head: false,
        }
    }

    pub(crate) fn body(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }

    pub(crate) fn idempotency_key(mut self, key: Option<String>) -> Self {
        self.idempotency_key = key;
        self
    }

    pub(crate) fn options(mut self, options: RequestOptions) -> Self {
        self.options = options;
        self
    }
}

/// A successful raw reply: status, body and metadata.
pub(crate) struct Reply {
    pub(crate) body: Vec<u8>,
    pub(crate) meta: ResponseMeta,
    /// The HTTP version and headers, when the call asked for them ([`Call::keep_head`]).
    pub(crate) head: Option<ResponseHead>,
}

impl ClientBuilder {
    /// Builds the client. Fails with [`Error::Config`] on a missing or unusable token, a base
    /// URL that is not an absolute `http(s)` URL (or carries credentials), an `https` base URL
    /// in a build with neither the `rustls` nor the `native-tls` feature, or an unusable user
    /// agent.
    pub fn build(self) -> Result<Client> {
        let resolved = self.resolve()?;
        let pacer = resolved
            .pace_rate_limit
            .then(|| pacing::shared(&resolved.base_url_str, &resolved.token));
        Ok(Client {
            inner: Arc::new(Inner {
                config: resolved,
                pacer,
                last_rate_limit: Mutex::new(None),
            }),
        })
    }
}

impl Client {
    /// A [`ClientBuilder`] with the defaults.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A client from `HELDQR_TOKEN` (required) and `HELDQR_BASE_URL` (optional; default
    /// [`crate::DEFAULT_BASE_URL`]), with every other setting at its default. To change other
    /// settings too, start from [`ClientBuilder::from_env`].
    pub fn from_env() -> Result<Client> {
        ClientBuilder::from_env()?.build()
    }

    /// A raw call to `path` (e.g. `/api/v1/codes`) with the same auth, retries, idempotency
    /// and error handling as the typed calls; the body comes back as JSON.
    ///
    /// ```no_run
    /// # async fn demo(client: heldqr_sdk::Client) -> heldqr_sdk::Result<()> {
    /// use heldqr_sdk::reqwest::Method;
    /// let page = client
    ///     .request(Method::GET, "/api/v1/codes")
    ///     .query(&[("page_size", 5)])
    ///     .send()
    ///     .await?;
    /// println!("{}", page["pagination"]["total"]);
    /// # Ok(()) }
    /// ```
    pub fn request(&self, method: Method, path: &str) -> RawRequest {
        RawRequest {
            client: self.clone(),
            method,
            path: path.to_owned(),
            query: Vec::new(),
            body: None,
            idempotency_key: None,
            options: RequestOptions::default(),
        }
    }

    /// The base URL in use, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.config.base_url_str
    }

    /// The latest rate-limit budget any response of this client (or its clones) reported.
    pub fn last_rate_limit(&self) -> Option<RateLimit> {
        *self
            .inner
            .last_rate_limit
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The client's default retry policy (a call may override it).
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.config.defaults.retry
    }

    /// `{base}/api/v1/codes[/{shortcode}[/{tail}]]`, the shortcode percent-encoded as one
    /// path segment.
    pub(crate) fn codes_url(&self, shortcode: Option<&str>, tail: Option<&str>) -> Result<Url> {
        let mut url = self.inner.config.codes_base.clone();
        if shortcode.is_none() && tail.is_none() {
            return Ok(url);
        }
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|()| Error::config("the base URL cannot take a path"))?;
            if let Some(shortcode) = shortcode {
                if shortcode.is_empty() || shortcode == "." || shortcode == ".." {
                    return Err(Error::config(format!("{shortcode:?} is not a shortcode")));
                }
                segments.push(shortcode);
            }
            if let Some(tail) = tail {
                segments.push(tail);
            }
        }
        Ok(url)
    }

    /// Runs `call` with retries and decodes the `data` of a JSON envelope into `T`.
    pub(crate) async fn execute_data<T: DeserializeOwned>(
        &self,
        call: Call,
    ) -> Result<Response<T>> {
        let reply = self.execute(call).await?;
        let data = decode::<DataEnvelope<T>>(&reply, &self.inner.config.token)?.data;
        Ok(Response::with_meta(data, reply.meta))
    }

    /// Runs `call` with retries and decodes the whole JSON body into `T`.
    pub(crate) async fn execute_body<T: DeserializeOwned>(
        &self,
        call: Call,
    ) -> Result<Response<T>> {
        let reply = self.execute(call).await?;
        let data = decode::<T>(&reply, &self.inner.config.token)?;
        Ok(Response::with_meta(data, reply.meta))
    }

    /// Runs `call`, retrying as the merged settings say, inside the call's span. The
    /// idempotency key is fixed in `call` before the first attempt, so every attempt carries
    /// the same one.
    pub(crate) async fn execute(&self, call: Call) -> Result<Reply> {
        // The one place client defaults and per-call options meet.
        let settings = self.inner.config.defaults.merge(&call.options);
        let span = CallSpan::new(
            call.operation,
            &call.method,
            call.url.path(),
            call.idempotency_key.as_deref(),
        );
        span.instrument(self.run(&call, &settings, &span)).await
    }

    async fn run(&self, call: &Call, settings: &Settings, span: &CallSpan) -> Result<Reply> {
        // The clock is read only when something needs it: a deadline, or a tracing
        // subscriber that records the call's and attempts' elapsed times.
        let started = (settings.deadline.is_some() || span.is_enabled()).then(Instant::now);
        let deadline_at = settings
            .deadline
            .zip(started)
            .and_then(|(d, started)| started.checked_add(d));
        // Attempts that went on the wire: what the result reports (an attempt stopped by the
        // deadline while it waited for the rate limit sent nothing).
        let sent = AtomicU32::new(0);
        // Why the loop stopped retrying a retryable failure, for the give-up event.
        let give_up: Mutex<Option<GiveUp>> = Mutex::new(None);
        let policy = &settings.retry;
        let result = (|| async {
            let attempt_started = telemetry::attempts_enabled().then(Instant::now);
            let sent_before = sent.load(Ordering::Relaxed);
            let result = self.attempt(call, settings, deadline_at, &sent).await;
            let (status, error, rate_limit) = match &result {
                Ok(reply) => (Some(reply.meta.status), None, reply.meta.rate_limit),
                Err(error) => (error.status(), Some(error), error.rate_limit()),
            };
            let remaining = rate_limit.map(|r| r.remaining);
            if let Some(attempt_started) = attempt_started {
                // Numbered as `attempts` and `on_send` count: what went on the wire. A try
                // stopped before it went (the deadline ran out while it waited) is told apart.
                let went = sent.load(Ordering::Relaxed) > sent_before;
                telemetry::attempt(
                    sent_before + 1,
                    went,
                    status,
                    error,
                    remaining,
                    attempt_started.elapsed(),
                );
            }
            result
        })
        .retry(policy.backoff())
        .when(Error::is_retryable)
        .adjust(|error, step| {
            let why = match step {
                None => GiveUp::RetriesExhausted,
                Some(step) => match policy.next_delay(error, Some(step)) {
                    None => GiveUp::RetryAfterTooLong,
                    Some(delay) => {
                        // A delay past what an `Instant` can hold (a huge `Retry-After` under a
                        // policy that allows it) is past any deadline.
                        let too_late = deadline_at.is_some_and(|at| {
                            Instant::now()
                                .checked_add(delay)
                                .is_none_or(|then| then >= at)
                        });
                        if !too_late {
                            return Some(delay);
                        }
                        GiveUp::DeadlineExceeded
                    }
                },
            };
            *give_up.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
            None
        })
        .notify(|error, delay| {
            let attempt = sent.load(Ordering::Relaxed);
            telemetry::retry(attempt, delay, error);
            if let Some(OnRetry(hook)) = &settings.on_retry {
                hook(attempt, error, delay);
            }
        })
        .await;
        let attempts = sent.load(Ordering::Relaxed);
        match result {
            Ok(mut reply) => {
                reply.meta.attempts = attempts;
                span.finish(
                    attempts,
                    Some(reply.meta.status),
                    reply.meta.request_id.as_deref(),
                    started,
                );
                Ok(reply)
            }
            Err(mut error) => {
                error.set_attempts(attempts);
                span.finish(attempts, error.status(), error.request_id(), started);
                let why = *give_up.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(why) = why.filter(|_| error.is_retryable()) {
                    telemetry::giving_up(
                        call.operation,
                        &call.method,
                        call.url.path(),
                        why,
                        &error,
                    );
                }
                Err(error)
            }
        }
    }

    async fn attempt(
        &self,
        call: &Call,
        settings: &Settings,
        deadline_at: Option<Instant>,
        sent: &AtomicU32,
    ) -> Result<Reply> {
        let inner = &*self.inner;
        let key = call.idempotency_key.clone();
        let deadline_passed = || Error::Timeout {
            idempotency_key: key.clone(),
            request_id: None,
            attempts: 1,
            deadline_exceeded: true,
        };
        let left = || deadline_at.map(|at| at.saturating_duration_since(Instant::now()));
        let permit = match &inner.pacer {
            Some(pacer) => {
                let mut max_wait = settings.retry.max_retry_after;
                if let Some(left) = left() {
                    max_wait = max_wait.min(left);
                }
                Some(pacer.acquire(max_wait).await)
            }
            None => None,
        };

        // The per-attempt timeout, cut short by the deadline.
        let mut timeout = settings.timeout;
        let mut cut_by_deadline = false;
        if let Some(left) = left() {
            if left.is_zero() {
                return Err(deadline_passed());
            }
            if timeout.is_none_or(|t| left < t) {
                timeout = Some(left);
                cut_by_deadline = true;
            }
        }

        let mut request = inner
            .config
            .http
            .request(call.method.clone(), call.url.clone())
            .header(AUTHORIZATION, inner.config.auth.clone())
            .header(USER_AGENT, inner.config.user_agent.clone())
            .header(ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        if let Some(key) = &call.idempotency_key {
            request = request.header(HEADER_IDEMPOTENCY_KEY, idempotency_header(key)?);
        }
        if let Some(body) = &call.body {
            if inner.config.log_bodies && telemetry::bodies_enabled() {
                telemetry::body(
                    "request",
                    &inner
                        .config
                        .token
                        .mask(String::from_utf8_lossy(body).into_owned()),
                );
            }
            let content_type = call
                .content_type
                .clone()
                .unwrap_or(HeaderValue::from_static("application/json"));
            request = request
                .header(CONTENT_TYPE, content_type)
                .body(body.clone());
        }

        let failed = |e: reqwest::Error, request_id: Option<String>| {
            from_reqwest(
                e,
                key.clone(),
                request_id,
                cut_by_deadline,
                &inner.config.token,
            )
        };
        let log_wire = inner.config.log_bodies && telemetry::bodies_enabled();
        if log_wire && let Some(built) = request.try_clone().and_then(|r| r.build().ok()) {
            telemetry::headers(
                "request",
                &logged_headers(built.headers(), &inner.config.token),
            );
        }
        let n = sent.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(permit) = &permit {
            permit.sent();
        }
        if let Some(OnSend(hook)) = &settings.on_send {
            hook(n);
        }
        let mut response = request.send().await.map_err(|e| failed(e, None))?;
        let status = response.status().as_u16();
        let headers = response.headers();
        if log_wire {
            telemetry::headers("response", &logged_headers(headers, &inner.config.token));
        }
        let Head {
            rate_limit,
            retry_after,
            request_id,
            replay,
        } = read_head(headers);
        let head = call.keep_head.then(|| {
            ResponseHead::new(
                response.version(),
                shown_headers(headers, &inner.config.token),
            )
        });
        if let Some(permit) = &permit {
            match &rate_limit {
                Some(rate_limit) => permit.observe(rate_limit),
                None => permit.no_budget_stated(),
            }
        }
        if let Some(rate_limit) = &rate_limit {
            *inner
                .last_rate_limit
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(*rate_limit);
        }

        let success = response.status().is_success();
        let limit = if success {
            MAX_RESPONSE_BYTES
        } else {
            MAX_ERROR_BODY_BYTES
        };
        let (body, truncated) = read_bounded(&mut response, limit)
            .await
            .map_err(|e| failed(e, request_id.clone()))?;
        if inner.config.log_bodies && telemetry::bodies_enabled() {
            telemetry::body(
                "response",
                &inner
                    .config
                    .token
                    .mask(String::from_utf8_lossy(&body).into_owned()),
            );
        }

        if success {
            if truncated {
                return Err(Error::Decode {
                    status,
                    message: format!("the response body is larger than {MAX_RESPONSE_BYTES} bytes"),
                    snippet: snippet(&body, &inner.config.token),
                    idempotency_key: key,
                    request_id,
                    attempts: 1,
                });
            }
            return Ok(Reply {
                body,
                meta: ResponseMeta {
                    status,
                    rate_limit,
                    idempotent_replay: replay,
                    idempotency_key: key,
                    request_id,
                    attempts: 1,
                },
                head,
            });
        }

        let Some(envelope) = parse_error_body(&body) else {
            let mut http = HttpError::new(status, snippet(&body, &inner.config.token));
            http.rate_limit = rate_limit;
            http.retry_after = retry_after;
            http.request_id = request_id;
            http.idempotency_key = key;
            http.head = head;
            return Err(Error::Http(Box::new(http)));
        };
        // Whatever the server echoes, the token is masked: code, message, field errors.
        let token = &inner.config.token;
        let message = envelope
            .message
            .unwrap_or_else(|| crate::error::http_reason(status).to_owned());
        Err(Error::Api(Box::new(ApiError {
            status,
            code: ErrorCode::from(token.mask(envelope.code)),
            message: token.mask(message),
            field_errors: envelope
                .field_errors
                .into_iter()
                .map(|(field, problems)| {
                    (
                        token.mask(field),
                        problems.into_iter().map(|p| token.mask(p)).collect(),
                    )
                })
                .collect(),
            rate_limit,
            retry_after,
            request_id,
            idempotency_key: key,
            idempotent_replay: replay,
            attempts: 1,
            head,
        })))
    }
}

/// Reads at most `limit` bytes of the body; `true` when there was more.
async fn read_bounded(
    response: &mut reqwest::Response,
    limit: usize,
) -> std::result::Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body = Vec::new();
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        // Read only what the snippet needs.
        if let Some(chunk) = response.chunk().await? {
            body.extend_from_slice(&chunk[..chunk.len().min(limit)]);
        }
        return Ok((body, true));
    }
    while let Some(chunk) = response.chunk().await? {
        let room = limit - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

fn decode<T: DeserializeOwned>(reply: &Reply, token: &Token) -> Result<T> {
    serde_json::from_slice(&reply.body).map_err(|e| Error::Decode {
        status: reply.meta.status,
        message: token.mask(e.to_string()),
        snippet: snippet(&reply.body, token),
        idempotency_key: reply.meta.idempotency_key.clone(),
        request_id: reply.meta.request_id.clone(),
        attempts: reply.meta.attempts,
    })
}

/// The first [`SNIPPET_CHARS`] characters of a body (lossy UTF-8, never split inside a
/// character), with the token masked in case a proxy echoed it.
pub(crate) fn snippet(body: &[u8], token: &Token) -> String {
    let head = &body[..body.len().min(SNIPPET_CHARS * 4)];
    let text = String::from_utf8_lossy(head);
    // Mask the whole head first (the token may straddle the cut), then cut.
    let masked = token.mask(text.into_owned());
    let cut = masked
        .char_indices()
        .nth(SNIPPET_CHARS)
        .map_or(masked.len(), |(i, _)| i);
    masked[..cut].to_owned()
}

fn from_reqwest(
    error: reqwest::Error,
    idempotency_key: Option<String>,
    request_id: Option<String>,
    cut_by_deadline: bool,
    token: &Token,
) -> Error {
    if error.is_timeout() {
        return Error::Timeout {
            idempotency_key,
            request_id,
            attempts: 1,
            deadline_exceeded: cut_by_deadline,
        };
    }
    if error.is_builder() {
        return Error::config(token.mask(format!("could not build the request: {error}")));
    }
    // reqwest's message is generic ("error sending request"); name the root cause too.
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    Error::Transport {
        message: token.mask(message),
        idempotency_key,
        request_id,
        attempts: 1,
        source: Some(Box::new(error)),
    }
}

/// Longest idempotency key the API accepts, in bytes.
const MAX_IDEMPOTENCY_KEY_BYTES: usize = 255;

/// Checks a caller's idempotency key: 1-255 bytes of UTF-8 text with no control characters
/// (tab allowed) and no leading or trailing space or tab, which HTTP would strip in transit so
/// the key could not arrive as given.
pub(crate) fn validate_idempotency_key(key: &str) -> Result<()> {
    let problem = if key.is_empty() {
        Some("is empty")
    } else if key.len() > MAX_IDEMPOTENCY_KEY_BYTES {
        Some("is longer than 255 bytes")
    } else if key.chars().any(|c| c.is_control() && c != '\t') {
        Some("contains a control character")
    } else if key.starts_with([' ', '\t']) || key.ends_with([' ', '\t']) {
        Some("starts or ends with a space or tab")
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(Error::config(format!(
            "invalid idempotency key: it {problem} (a key is 1-255 bytes of text with no \
             control characters and no leading or trailing space or tab)"
        ))),
    }
}

/// The header value for a checked key, byte for byte (`from_str` would refuse non-ASCII).
fn idempotency_header(key: &str) -> Result<HeaderValue> {
    HeaderValue::from_bytes(key.as_bytes())
        .map_err(|_| Error::config("the idempotency key is not a valid HTTP header value"))
}

/// A fresh UUIDv4 idempotency key.
pub(crate) fn new_idempotency_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A raw API call built by [`Client::request`].
///
/// The body is either a JSON value ([`RawRequest::json`]) or bytes sent as given
/// ([`RawRequest::body`]). `Debug` shows the body's size and type, never its bytes.
#[derive(Clone)]
#[must_use = "a request does nothing until `send` is awaited"]
pub struct RawRequest {
    client: Client,
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    body: Option<RawBody>,
    idempotency_key: Option<String>,
    options: RequestOptions,
}

#[derive(Clone)]
enum RawBody {
    Json(serde_json::Value),
    Bytes {
        bytes: Vec<u8>,
        /// `Err` holds a content type that is not a valid header value, for `send`'s error.
        content_type: std::result::Result<HeaderValue, String>,
    },
}

impl fmt::Debug for RawRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = match &self.body {
            None => "none".to_owned(),
            Some(RawBody::Json(_)) => "json value".to_owned(),
            Some(RawBody::Bytes {
                bytes,
                content_type,
            }) => format!("{} bytes of {:?}", bytes.len(), content_type.as_ref().ok()),
        };
        f.debug_struct("RawRequest")
            .field("client", &self.client)
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("body", &body)
            .field("idempotency_key", &self.idempotency_key)
            .field("options", &self.options)
            .finish()
    }
}

request_options!(RawRequest);

impl RawRequest {
    /// Appends query parameters.
    pub fn query<K: AsRef<str>, V: fmt::Display>(mut self, pairs: &[(K, V)]) -> Self {
        self.query.extend(
            pairs
                .iter()
                .map(|(k, v)| (k.as_ref().to_owned(), v.to_string())),
        );
        self
    }

    /// Sends this JSON body (with `Content-Type: application/json`), serialized compactly.
    /// Replaces any body set before.
    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.body = Some(RawBody::Json(body));
        self
    }

    /// Sends `bytes` byte for byte as the body, with this `Content-Type` (every retry sends
    /// the same bytes). Replaces any body set before. A content type that is not a valid header
    /// value fails at [`RawRequest::send`] as [`Error::Config`].
    ///
    /// ```no_run
    /// # async fn demo(client: heldqr_sdk::Client) -> heldqr_sdk::Result<()> {
    /// use heldqr_sdk::reqwest::Method;
    /// // Exactly what the file holds: key order, spacing and duplicate keys included.
    /// let body = std::fs::read("change.json").expect("readable");
    /// let reply = client
    ///     .request(Method::PATCH, "/api/v1/codes/menu-v3")
    ///     .body(body, "application/json")
    ///     .send()
    ///     .await?;
    /// println!("{}", reply["data"]["target_url"]);
    /// # Ok(()) }
    /// ```
    pub fn body(mut self, bytes: impl Into<Vec<u8>>, content_type: &str) -> Self {
        let content_type = HeaderValue::from_str(content_type)
            .ok()
            .filter(|value| !value.is_empty())
            .ok_or_else(|| content_type.to_owned());
        self.body = Some(RawBody::Bytes {
            bytes: bytes.into(),
            content_type,
        });
        self
    }

    /// The Idempotency-Key to send (1-255 bytes of text, no control characters, no leading
    /// or trailing space or tab; sent byte for byte). A POST without one gets a generated
    /// UUIDv4.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Sends the request (with retries) and returns the JSON body (`Value::Null` for an
    /// empty body such as a 204).
    pub async fn send(self) -> Result<Response<serde_json::Value>> {
        let raw = self.send_raw().await?;
        let value = raw.json()?;
        Ok(Response::with_meta(value, raw.meta))
    }

    /// Sends the request (with retries) and returns the answer as it came: the status, the
    /// HTTP version, the headers and the body's bytes (for `curl -i`-style output). The
    /// headers never include `Authorization` or `Proxy-Authorization`, and any header value
    /// that echoes the token has it masked.
    ///
    /// ```no_run
    /// # async fn demo(client: heldqr_sdk::Client) -> heldqr_sdk::Result<()> {
    /// use heldqr_sdk::reqwest::Method;
    /// let raw = client.request(Method::GET, "/api/v1/codes").send_raw().await?;
    /// println!("{:?} {}", raw.version(), raw.status());
    /// for (name, value) in raw.headers() {
    ///     println!("{name}: {}", value.to_str().unwrap_or("(binary)"));
    /// }
    /// let page = raw.json()?;
    /// # let _ = page; Ok(()) }
    /// ```
    pub async fn send_raw(self) -> Result<RawResponse> {
        if !self.path.starts_with('/') {
            return Err(Error::config(format!(
                "request path {:?} must start with '/'",
                self.path
            )));
        }
        let mut url = Url::parse(&format!("{}{}", self.client.base_url(), self.path))
            .map_err(|e| Error::config(format!("invalid request path {:?}: {e}", self.path)))?;
        if !self.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&self.query);
        }
        let idempotency_key = match self.idempotency_key {
            Some(key) => {
                validate_idempotency_key(&key)?;
                Some(key)
            }
            None if self.method == Method::POST => Some(new_idempotency_key()),
            None => None,
        };
        let (body, content_type) = match self.body {
            None => (None, None),
            Some(RawBody::Json(value)) => (
                Some(
                    serde_json::to_vec(&value)
                        .map_err(|e| Error::config(format!("could not serialize the body: {e}")))?,
                ),
                None,
            ),
            Some(RawBody::Bytes {
                bytes,
                content_type,
            }) => {
                let content_type = content_type.map_err(|given| {
                    Error::config(format!(
                        "the body's content type {given:?} is not a valid header value"
                    ))
                })?;
                (Some(bytes), Some(content_type))
            }
        };
        let mut call = Call::new("raw", self.method, url)
            .idempotency_key(idempotency_key)
            .options(self.options);
        call.body = body;
        call.content_type = content_type;
        call.keep_head = true;
        let reply = self.client.execute(call).await?;
        let ResponseHead { version, headers } = reply.head.unwrap_or_default();
        Ok(RawResponse {
            version,
            headers,
            body: reply.body,
            meta: reply.meta,
            token: self.client.inner.config.token.clone(),
        })
    }
}

/// A successful raw answer from [`RawRequest::send_raw`]: status line, headers and body bytes.
///
/// The headers never include `Authorization` or `Proxy-Authorization`, and a header value that
/// echoes the token has it masked. `Debug` shows the body's size, not its bytes.
#[derive(Clone)]
pub struct RawResponse {
    version: Version,
    headers: HeaderMap,
    body: Vec<u8>,
    meta: ResponseMeta,
    token: Token,
}

impl fmt::Debug for RawResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawResponse")
            .field("version", &self.version)
            .field("status", &self.meta.status)
            .field("headers", &self.headers)
            .field("body_bytes", &self.body.len())
            .field("meta", &self.meta)
            .finish()
    }
}

impl RawResponse {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.meta.status
    }

    /// The HTTP version of the answer (`HTTP/1.1`, `HTTP/2`).
    pub fn version(&self) -> Version {
        self.version
    }

    /// The response headers, in the order received (without `Authorization` or
    /// `Proxy-Authorization`; the token masked in any value that echoes it).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body, as received (up to [`MAX_RESPONSE_BYTES`]).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// What the SDK read from the headers (rate limit, replay, request id, attempts).
    pub fn meta(&self) -> &ResponseMeta {
        &self.meta
    }

    /// The body as JSON: `Value::Null` for an empty body (a 204), [`Error::Decode`] when it is
    /// not JSON.
    pub fn json(&self) -> Result<serde_json::Value> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&self.body).map_err(|e| Error::Decode {
            status: self.meta.status,
            message: self.token.mask(e.to_string()),
            snippet: snippet(&self.body, &self.token),
            idempotency_key: self.meta.idempotency_key.clone(),
            request_id: self.meta.request_id.clone(),
            attempts: self.meta.attempts,
        })
    }

    /// The body's bytes, dropping the rest.
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }
}

/// `name: value; name: value` for a trace line: the credential headers' values and the token
/// anywhere else masked.
fn logged_headers(headers: &HeaderMap, token: &Token) -> String {
    let mut text = String::new();
    for (name, value) in headers {
        if !text.is_empty() {
            text.push_str("; ");
        }
        text.push_str(name.as_str());
        text.push_str(": ");
        if name == AUTHORIZATION || name == PROXY_AUTHORIZATION {
            text.push_str("[redacted]");
        } else {
            text.push_str(&token.mask(String::from_utf8_lossy(value.as_bytes()).into_owned()));
        }
    }
    text
}

/// The response headers a caller may see: no credentials, the token masked in any value
/// that echoes it (dropped when the value is not text).
fn shown_headers(headers: &HeaderMap, token: &Token) -> HeaderMap {
    let secret = token.expose().as_bytes();
    let mut shown = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if name == AUTHORIZATION || name == PROXY_AUTHORIZATION {
            continue;
        }
        let echoes = !secret.is_empty()
            && value
                .as_bytes()
                .windows(secret.len())
                .any(|window| window == secret);
        if !echoes {
            shown.append(name.clone(), value.clone());
        } else if let Ok(text) = value.to_str()
            && let Ok(masked) = HeaderValue::from_str(&token.mask(text.to_owned()))
        {
            shown.append(name.clone(), masked);
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_are_bounded_and_char_safe() {
        let token = Token::new("hkr_secret");
        let body = "é".repeat(1000);
        let s = snippet(body.as_bytes(), &token);
        assert_eq!(s.chars().count(), SNIPPET_CHARS);
        // A multi-byte character cut by the byte window becomes U+FFFD, never a panic.
        let s = snippet(&body.as_bytes()[..3], &token);
        assert!(s.starts_with('é'));
        let s = snippet(b"token was hkr_secret!", &token);
        assert_eq!(s, "token was [redacted]!");
    }

    #[test]
    fn idempotency_keys() {
        for good in [
            "5e3d40a2-9b87-4c12-a3e3-6f8d1f9c2b0a",
            "commande-été-7",
            "menu import line 17",
            "tab\tinside",
            "ключ",
            "k",
        ] {
            assert!(validate_idempotency_key(good).is_ok(), "{good:?}");
            assert!(idempotency_header(good).is_ok(), "{good:?}");
        }
        assert!(validate_idempotency_key(&"k".repeat(255)).is_ok());
        // 255 bytes of two-byte characters is fine; one byte more is not.
        let accents = "é".repeat(127);
        assert!(validate_idempotency_key(&format!("{accents}k")).is_ok());
        assert!(validate_idempotency_key(&format!("{accents}é")).is_err());
        assert!(validate_idempotency_key(&"k".repeat(256)).is_err());
        for bad in [
            "",
            "\n",
            "line\nbreak",
            "cr\r",
            "nul\0",
            "esc\u{1b}[31m",
            "del\u{7f}",
            "c1\u{85}",
            " leading",
            "trailing ",
            "\tleading-tab",
            "trailing-tab\t",
            " ",
        ] {
            assert!(
                matches!(validate_idempotency_key(bad), Err(Error::Config(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn codes_urls_encode_the_shortcode() {
        let client = Client::builder()
            .token("t")
            .base_url("http://127.0.0.1:1/prefix")
            .build()
            .unwrap();
        assert_eq!(
            client.codes_url(None, None).unwrap().as_str(),
            "http://127.0.0.1:1/prefix/api/v1/codes"
        );
        assert_eq!(
            client
                .codes_url(Some("a/b?c"), Some("scans"))
                .unwrap()
                .as_str(),
            "http://127.0.0.1:1/prefix/api/v1/codes/a%2Fb%3Fc/scans"
        );
        assert!(client.codes_url(Some(".."), None).is_err());
        assert!(client.codes_url(Some(""), None).is_err());
    }
}
