//! [`Client`]: holds the configuration and runs every call through one path (auth headers,
//! idempotency key, pacing, bounded body reading, error parsing, retries), plus
//! [`RawRequest`] for calls the typed surface does not cover.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::Retryable;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, USER_AGENT};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;

use crate::codes::Codes;
use crate::config::{ClientBuilder, Token};
use crate::error::{ApiError, Error, Result, parse_error_body};
use crate::models::DataEnvelope;
use crate::pacing::Pacer;
use crate::response::{
    HEADER_IDEMPOTENCY_KEY, RateLimit, Response, ResponseMeta, parse_rate_limit, parse_replay,
    parse_request_id, parse_retry_after,
};
use crate::retry::RetryPolicy;

/// Largest successful response body the SDK reads (a full page of codes is ~250 KiB).
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// Largest error response body the SDK reads; the rest is ignored.
pub const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// Characters of a body kept in error snippets.
const SNIPPET_CHARS: usize = 200;

/// A client for the Heldqr Management API. Cheap to clone (an `Arc` inside); clones share
/// the connection pool and the rate-limit pacing state. `Debug` never shows the token.
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
    http: reqwest::Client,
    base_url: Url,
    base_url_str: String,
    token: Token,
    auth: HeaderValue,
    user_agent: HeaderValue,
    timeout: Option<Duration>,
    retry: RetryPolicy,
    pacer: Option<Pacer>,
    last_rate_limit: Mutex<Option<RateLimit>>,
}

impl Inner {
    #[allow(clippy::too_many_arguments)] // internal constructor fed by ClientBuilder only
    pub(crate) fn new(
        http: reqwest::Client,
        base_url: Url,
        token: Token,
        auth: HeaderValue,
        user_agent: HeaderValue,
        timeout: Option<Duration>,
        retry: RetryPolicy,
        pace: bool,
    ) -> Self {
        let base_url_str = base_url.as_str().trim_end_matches('/').to_owned();
        Self {
            http,
            base_url,
            base_url_str,
            token,
            auth,
            user_agent,
            timeout,
            retry,
            pacer: pace.then(Pacer::default),
            last_rate_limit: Mutex::new(None),
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url_str)
            .field("token", &self.inner.token)
            .field("timeout", &self.inner.timeout)
            .field("retry_policy", &self.inner.retry)
            .field("pace_rate_limit", &self.inner.pacer.is_some())
            .finish_non_exhaustive()
    }
}

/// One HTTP call as the retry loop sees it.
pub(crate) struct Call {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) idempotency_key: Option<String>,
}

/// A successful raw reply: status, body and metadata.
pub(crate) struct Reply {
    pub(crate) body: Vec<u8>,
    pub(crate) meta: ResponseMeta,
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

    pub(crate) fn from_inner(inner: Inner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The codes resource: list, create, get, update, scans.
    pub fn codes(&self) -> Codes {
        Codes::new(self.clone())
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
        }
    }

    /// The base URL in use, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url_str
    }

    /// The latest rate-limit budget any response of this client (or its clones) reported.
    pub fn last_rate_limit(&self) -> Option<RateLimit> {
        *self
            .inner
            .last_rate_limit
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The retry policy in use.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// `{base}/api/v1/codes[/{shortcode}[/{tail}]]`, the shortcode percent-encoded as one
    /// path segment.
    pub(crate) fn codes_url(&self, shortcode: Option<&str>, tail: Option<&str>) -> Result<Url> {
        let mut url = self.inner.base_url.clone();
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|()| Error::config("the base URL cannot take a path"))?;
            segments.pop_if_empty().extend(["api", "v1", "codes"]);
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
        let data = decode::<DataEnvelope<T>>(&reply, &self.inner.token)?.data;
        Ok(Response::new(data, reply.meta))
    }

    /// Runs `call` with retries and decodes the whole JSON body into `T`.
    pub(crate) async fn execute_body<T: DeserializeOwned>(
        &self,
        call: Call,
    ) -> Result<Response<T>> {
        let reply = self.execute(call).await?;
        let data = decode::<T>(&reply, &self.inner.token)?;
        Ok(Response::new(data, reply.meta))
    }

    /// Runs `call`, retrying as the policy says. The idempotency key is fixed in `call`
    /// before the first attempt, so every attempt carries the same one.
    pub(crate) async fn execute(&self, call: Call) -> Result<Reply> {
        let policy = &self.inner.retry;
        let attempts = AtomicU32::new(0);
        let result = (|| async {
            attempts.fetch_add(1, Ordering::Relaxed);
            self.attempt(&call).await
        })
        .retry(policy.backoff())
        .when(Error::is_retryable)
        .adjust(|error, step| policy.next_delay(error, step))
        .await;
        let attempts = attempts.load(Ordering::Relaxed);
        match result {
            Ok(mut reply) => {
                reply.meta.attempts = attempts;
                Ok(reply)
            }
            Err(mut error) => {
                error.set_attempts(attempts);
                Err(error)
            }
        }
    }

    async fn attempt(&self, call: &Call) -> Result<Reply> {
        let inner = &*self.inner;
        let _permit = match &inner.pacer {
            Some(pacer) => Some(pacer.acquire(inner.retry.max_retry_after).await),
            None => None,
        };
        let key = call.idempotency_key.clone();

        let mut request = inner
            .http
            .request(call.method.clone(), call.url.clone())
            .header(AUTHORIZATION, inner.auth.clone())
            .header(USER_AGENT, inner.user_agent.clone())
            .header(ACCEPT, "application/json");
        if let Some(timeout) = inner.timeout {
            request = request.timeout(timeout);
        }
        if let Some(key) = &call.idempotency_key {
            request = request.header(HEADER_IDEMPOTENCY_KEY, idempotency_header(key)?);
        }
        if let Some(body) = &call.body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }

        let mut response = request
            .send()
            .await
            .map_err(|e| from_reqwest(e, key.clone()))?;
        let status = response.status().as_u16();
        let headers = response.headers();
        let rate_limit = parse_rate_limit(headers);
        let retry_after = parse_retry_after(headers);
        let request_id = parse_request_id(headers);
        let replay = parse_replay(headers);
        if let Some(rate_limit) = &rate_limit {
            if let Some(pacer) = &inner.pacer {
                pacer.observe(rate_limit);
            }
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
            .map_err(|e| from_reqwest(e, key.clone()))?;

        if success {
            if truncated {
                return Err(Error::Decode {
                    status,
                    message: format!("the response body is larger than {MAX_RESPONSE_BYTES} bytes"),
                    snippet: snippet(&body, &inner.token),
                    idempotency_key: key,
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
            });
        }

        let parsed = parse_error_body(status, &body, snippet(&body, &inner.token));
        Err(Error::Api(Box::new(ApiError {
            status,
            code: parsed.code,
            message: redact(parsed.message, &inner.token),
            field_errors: parsed.field_errors,
            rate_limit,
            retry_after,
            request_id,
            idempotency_key: key,
            idempotent_replay: replay,
            body_snippet: parsed.snippet,
            attempts: 1,
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
        message: e.to_string(),
        snippet: snippet(&reply.body, token),
        idempotency_key: reply.meta.idempotency_key.clone(),
    })
}

/// The first [`SNIPPET_CHARS`] characters of a body (lossy UTF-8, never split inside a
/// character), with the token masked in case a proxy echoed it.
pub(crate) fn snippet(body: &[u8], token: &Token) -> String {
    let head = &body[..body.len().min(SNIPPET_CHARS * 4)];
    let text = String::from_utf8_lossy(head);
    let cut = text
        .char_indices()
        .nth(SNIPPET_CHARS)
        .map_or(text.len(), |(i, _)| i);
    redact(text[..cut].to_owned(), token)
}

fn redact(text: String, token: &Token) -> String {
    if token.expose().is_empty() || !text.contains(token.expose()) {
        text
    } else {
        text.replace(token.expose(), "[redacted]")
    }
}

fn from_reqwest(error: reqwest::Error, idempotency_key: Option<String>) -> Error {
    if error.is_timeout() {
        return Error::Timeout { idempotency_key };
    }
    if error.is_builder() {
        return Error::config(format!("could not build the request: {error}"));
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
        message,
        idempotency_key,
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
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until `send` is awaited"]
pub struct RawRequest {
    client: Client,
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    body: Option<serde_json::Value>,
    idempotency_key: Option<String>,
}

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

    /// Sends this JSON body (with `Content-Type: application/json`).
    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
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
        let body = self
            .body
            .map(|value| serde_json::to_vec(&value))
            .transpose()
            .map_err(|e| Error::config(format!("could not serialize the body: {e}")))?;
        let reply = self
            .client
            .execute(Call {
                method: self.method,
                url,
                body,
                idempotency_key,
            })
            .await?;
        if reply.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Response::new(serde_json::Value::Null, reply.meta));
        }
        let value = decode::<serde_json::Value>(&reply, &self.client.inner.token)?;
        Ok(Response::new(value, reply.meta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_are_bounded_and_char_safe() {
        let token = Token("hkr_secret".into());
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
