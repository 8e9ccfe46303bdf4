//! What every successful call returns: the data plus [`ResponseMeta`] (rate limit, replay
//! flag, idempotency key, request id, attempts), and the header parsing behind it.

use std::ops::Deref;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Version;
use reqwest::header::{HeaderMap, HeaderValue};

/// A successful response: the typed data and what the headers said.
///
/// Derefs to the data, so `response.shortcode` works on a `Response<Code>`.
///
/// ```no_run
/// # async fn demo(client: heldqr_sdk::Client) -> heldqr_sdk::Result<()> {
/// let response = client.codes().get("menu-v3").send().await?;
/// println!("{} -> {}", response.shortcode, response.target_url);
/// if let Some(limit) = response.meta().rate_limit {
///     println!("{} of {} requests left", limit.remaining, limit.limit);
/// }
/// let code = response.into_inner();
/// # let _ = code; Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Response<T> {
    data: T,
    meta: ResponseMeta,
}

impl<T> Response<T> {
    /// `data` as a plain `200` with no headers, for tests and fakes.
    ///
    /// ```
    /// use heldqr_sdk::{Code, Response, ResponseMeta};
    /// use heldqr_sdk::time::OffsetDateTime;
    ///
    /// let code = Code::new("menu-v3", "https://example.com/menu", OffsetDateTime::UNIX_EPOCH);
    /// let created = Response::with_meta(code, ResponseMeta::new(201).with_idempotent_replay(true));
    /// assert_eq!(created.shortcode, "menu-v3");
    /// assert!(created.meta().idempotent_replay);
    /// ```
    pub fn new(data: T) -> Self {
        Self {
            data,
            meta: ResponseMeta::new(200),
        }
    }

    /// `data` with this metadata.
    pub fn with_meta(data: T, meta: ResponseMeta) -> Self {
        Self { data, meta }
    }

    /// The response's metadata.
    pub fn meta(&self) -> &ResponseMeta {
        &self.meta
    }

    /// The data, dropping the metadata.
    pub fn into_inner(self) -> T {
        self.data
    }

    /// The data and the metadata.
    pub fn into_parts(self) -> (T, ResponseMeta) {
        (self.data, self.meta)
    }

    /// Transforms the data, keeping the metadata.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Response<U> {
        Response {
            data: f(self.data),
            meta: self.meta,
        }
    }
}

impl<T> Deref for Response<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.data
    }
}

/// An answer's HTTP version and headers, as received: `Authorization` and
/// `Proxy-Authorization` dropped, the token masked in any value that echoes it. An error keeps
/// it when the call shows heads ([`RawRequest::send_raw`](crate::RawRequest::send_raw));
/// read it with [`Error::response_head`](crate::Error::response_head).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ResponseHead {
    /// The HTTP version (`HTTP/1.1`, `HTTP/2`).
    pub version: Version,
    /// The headers, in the order received.
    pub headers: HeaderMap,
}

impl ResponseHead {
    /// A head with this version and these headers (for tests of code that reads errors).
    pub fn new(version: Version, headers: HeaderMap) -> Self {
        Self { version, headers }
    }
}

/// What the headers of a successful response said.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponseMeta {
    /// The HTTP status (201 for a create, 200 otherwise, 204 for an empty raw response).
    pub status: u16,
    /// `X-RateLimit-*`, when all three headers were present and readable.
    pub rate_limit: Option<RateLimit>,
    /// `Idempotent-Replay: true`: this is the stored response to an earlier request with the
    /// same key, and this request created nothing new. That earlier request may be another
    /// call with the same key or, when `attempts > 1`, an earlier attempt of this call whose
    /// answer was lost: then this call did create it (always so for a key the SDK generated).
    pub idempotent_replay: bool,
    /// The Idempotency-Key the request carried (every create carries one).
    pub idempotency_key: Option<String>,
    /// `X-Request-Id`, to quote to support.
    pub request_id: Option<String>,
    /// Attempts that went on the wire, 1 when the first one succeeded.
    pub attempts: u32,
}

impl ResponseMeta {
    /// A response with this status and nothing else (one attempt, no headers); add the rest
    /// with the `with_*` setters.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            rate_limit: None,
            idempotent_replay: false,
            idempotency_key: None,
            request_id: None,
            attempts: 1,
        }
    }

    /// Sets `rate_limit`.
    pub fn with_rate_limit(mut self, rate_limit: RateLimit) -> Self {
        self.rate_limit = Some(rate_limit);
        self
    }

    /// Sets `idempotent_replay`.
    pub fn with_idempotent_replay(mut self, replay: bool) -> Self {
        self.idempotent_replay = replay;
        self
    }

    /// Sets `idempotency_key`.
    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
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

/// The rate-limit budget after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct RateLimit {
    /// Requests allowed per window.
    pub limit: u32,
    /// Credits left in the sliding window after this request.
    pub remaining: u32,
    /// Unix time (whole seconds) at which `remaining` next increases, i.e. when the oldest
    /// request still counted leaves the window.
    pub reset: u64,
}

impl RateLimit {
    /// A budget: `limit` per window, `remaining` left, next credit at Unix time `reset`.
    pub fn new(limit: u32, remaining: u32, reset: u64) -> Self {
        Self {
            limit,
            remaining,
            reset,
        }
    }

    /// Time from now until `reset` (zero if it has passed).
    pub fn reset_in(&self) -> Duration {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Duration::from_secs(self.reset).saturating_sub(now)
    }
}

pub(crate) const HEADER_IDEMPOTENCY_KEY: &str = "idempotency-key";

/// What the SDK reads from an answer's headers, gathered in one pass over them (the first
/// value of each header counts, as `HeaderMap::get` would give).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Head {
    /// `X-RateLimit-*`, when all three were present and readable.
    pub(crate) rate_limit: Option<RateLimit>,
    /// `Retry-After` (see [`parse_retry_after_value`]).
    pub(crate) retry_after: Option<Duration>,
    /// `X-Request-Id`.
    pub(crate) request_id: Option<String>,
    /// `Idempotent-Replay: true`.
    pub(crate) replay: bool,
}

/// Reads [`Head`] from the response headers.
pub(crate) fn read_head(headers: &HeaderMap) -> Head {
    let mut limit = None;
    let mut remaining = None;
    let mut reset = None;
    let mut retry_after = None;
    let mut request_id = None;
    let mut replay = None;
    for (name, value) in headers {
        let slot = match name.as_str() {
            "x-ratelimit-limit" => &mut limit,
            "x-ratelimit-remaining" => &mut remaining,
            "x-ratelimit-reset" => &mut reset,
            "retry-after" => &mut retry_after,
            "x-request-id" => &mut request_id,
            "idempotent-replay" => &mut replay,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(value);
        }
    }
    let number = |value| text(value)?.parse().ok();
    let rate_limit = (|| {
        Some(RateLimit {
            limit: number(limit)?,
            remaining: number(remaining)?,
            reset: text(reset)?.parse().ok()?,
        })
    })();
    Head {
        rate_limit,
        retry_after: text(retry_after)
            .and_then(|value| parse_retry_after_value(value, SystemTime::now())),
        request_id: text(request_id).map(str::to_owned),
        replay: text(replay).is_some_and(|v| v.eq_ignore_ascii_case("true")),
    }
}

/// A header value as trimmed text, `None` when absent or not visible ASCII.
fn text(value: Option<&HeaderValue>) -> Option<&str> {
    value?.to_str().ok().map(str::trim)
}

pub(crate) fn parse_retry_after_value(value: &str, now: SystemTime) -> Option<Duration> {
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(
            parse_retry_after_value("7", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after_value("99999999", now),
            Some(Duration::from_secs(99_999_999))
        );
        for bad in ["-5", "1.5", "", "soon", "99999999999999999999999999"] {
            assert_eq!(parse_retry_after_value(bad, now), None, "{bad}");
        }
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after_value(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after_value(&earlier, now), Some(Duration::ZERO));
    }

    #[test]
    fn rate_limit_needs_all_three_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-limit", "600".parse().unwrap());
        headers.insert("x-ratelimit-remaining", "593".parse().unwrap());
        assert_eq!(read_head(&headers).rate_limit, None);
        headers.insert("x-ratelimit-reset", "1731764400".parse().unwrap());
        assert_eq!(
            read_head(&headers).rate_limit,
            Some(RateLimit {
                limit: 600,
                remaining: 593,
                reset: 1_731_764_400
            })
        );
        headers.insert("x-ratelimit-remaining", "-1".parse().unwrap());
        assert_eq!(read_head(&headers).rate_limit, None);
    }

    #[test]
    fn one_pass_reads_the_first_value_of_each_header() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        headers.insert("x-request-id", " req_1 ".parse().unwrap());
        headers.append("x-request-id", "req_2".parse().unwrap());
        headers.insert("idempotent-replay", "TRUE".parse().unwrap());
        headers.insert("retry-after", "7".parse().unwrap());
        headers.insert("x-ratelimit-limit", "600".parse().unwrap());
        headers.insert("x-ratelimit-remaining", "0".parse().unwrap());
        headers.append("x-ratelimit-remaining", "5".parse().unwrap());
        headers.insert("x-ratelimit-reset", "1731764400".parse().unwrap());
        assert_eq!(
            read_head(&headers),
            Head {
                rate_limit: Some(RateLimit::new(600, 0, 1_731_764_400)),
                retry_after: Some(Duration::from_secs(7)),
                request_id: Some("req_1".to_owned()),
                replay: true,
            }
        );
        assert_eq!(read_head(&HeaderMap::new()), Head::default());
        headers.insert("idempotent-replay", "false".parse().unwrap());
        headers.insert("retry-after", "soon".parse().unwrap());
        let head = read_head(&headers);
        assert!(!head.replay);
        assert_eq!(head.retry_after, None);
    }
}
