//! Client configuration: [`ClientBuilder`], the environment variables, the hosts, and the
//! redacted token wrapper.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderValue;

use crate::client::{Client, Inner};
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;

/// The production API host.
pub const DEFAULT_BASE_URL: &str = "https://api.heldqr.com";

/// The fallback host that serves the same routes until the dedicated API subdomain ships.
/// Use it with [`ClientBuilder::base_url`] if `api.heldqr.com` does not answer yet.
pub const FALLBACK_BASE_URL: &str = "https://app.heldqr.com";

/// Environment variable holding the bearer token read by [`Client::from_env`].
pub const ENV_TOKEN: &str = "HELDQR_TOKEN";

/// Environment variable holding an optional base URL read by [`Client::from_env`].
pub const ENV_BASE_URL: &str = "HELDQR_BASE_URL";

/// Default whole-request timeout (connect, send, and read the full response).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Default connect timeout of the HTTP client the SDK builds.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The SDK's own `User-Agent`; [`ClientBuilder::user_agent`] appends to it.
pub const SDK_USER_AGENT: &str = concat!("heldqr-sdk-rust/", env!("CARGO_PKG_VERSION"));

/// A bearer token. Its `Debug` prints `[redacted]`, and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Token(pub(crate) Arc<str>);

impl Token {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Builds a [`Client`]. Only the token is required.
///
/// ```
/// use std::time::Duration;
/// use heldqr_sdk::{Client, RetryPolicy};
///
/// let client = Client::builder()
///     .token("hkr_test_business")
///     .base_url("http://127.0.0.1:8080")
///     .timeout(Duration::from_secs(10))
///     .user_agent("menu-sync/1.2")
///     .retry_policy(RetryPolicy::default().max_retries(5))
///     .pace_rate_limit(true)
///     .build()?;
/// assert_eq!(client.base_url(), "http://127.0.0.1:8080");
/// # Ok::<(), heldqr_sdk::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientBuilder {
    token: Option<Token>,
    base_url: Option<String>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    user_agent: Option<String>,
    retry_policy: RetryPolicy,
    http_client: Option<reqwest::Client>,
    pace_rate_limit: bool,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            token: None,
            base_url: None,
            timeout: Some(DEFAULT_TIMEOUT),
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            user_agent: None,
            retry_policy: RetryPolicy::default(),
            http_client: None,
            pace_rate_limit: false,
        }
    }
}

impl ClientBuilder {
    /// A builder with the defaults (see the setters).
    pub fn new() -> Self {
        Self::default()
    }

    /// The bearer token (required).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(Token(token.into().into()));
        self
    }

    /// The API host, e.g. [`FALLBACK_BASE_URL`] or a mock server's URL (default
    /// [`DEFAULT_BASE_URL`]). A path prefix is kept; a trailing slash is ignored.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// Whole-request timeout per attempt (default 30 s). A timed-out attempt is retried.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// No whole-request timeout (not recommended outside tests).
    pub fn no_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    /// Connect timeout (default 10 s). Ignored when [`ClientBuilder::http_client`] is set:
    /// that client's own settings apply.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Appended to the SDK's `User-Agent` (`heldqr-sdk-rust/VERSION your-agent`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// How failures are retried (default [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = policy;
        self
    }

    /// Use this `reqwest::Client` (proxies, custom TLS roots...). The SDK's default client
    /// never follows redirects; give yours `redirect::Policy::none()` too.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Wait for the rate-limit budget instead of spending requests on 429s (default off).
    /// The budget is shared by every clone of the client.
    pub fn pace_rate_limit(mut self, pace: bool) -> Self {
        self.pace_rate_limit = pace;
        self
    }

    /// Builds the client. Fails with [`Error::Config`] on a missing or unusable token, a base
    /// URL that is not an absolute `http(s)` URL, or an unusable user agent.
    pub fn build(self) -> Result<Client> {
        let token = self
            .token
            .filter(|t| !t.expose().trim().is_empty())
            .ok_or_else(|| {
                Error::config(format!("a bearer token is required (set {ENV_TOKEN})"))
            })?;
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                Error::config("the token contains characters not allowed in an HTTP header")
            })?;
        auth.set_sensitive(true);

        let base_url = parse_base_url(self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL))?;

        let agent = match self.user_agent.as_deref().map(str::trim) {
            Some(extra) if !extra.is_empty() => format!("{SDK_USER_AGENT} {extra}"),
            _ => SDK_USER_AGENT.to_owned(),
        };
        let user_agent = HeaderValue::from_str(&agent).map_err(|_| {
            Error::config("the user agent contains characters not allowed in an HTTP header")
        })?;

        let http = match self.http_client {
            Some(client) => client,
            None => {
                let mut builder =
                    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
                if let Some(connect) = self.connect_timeout {
                    builder = builder.connect_timeout(connect);
                }
                builder
                    .build()
                    .map_err(|e| Error::config(format!("could not build the HTTP client: {e}")))?
            }
        };

        Ok(Client::from_inner(Inner::new(
            http,
            base_url,
            token,
            auth,
            user_agent,
            self.timeout,
            self.retry_policy,
            self.pace_rate_limit,
        )))
    }
}

fn parse_base_url(raw: &str) -> Result<Url> {
    let trimmed = raw.trim().trim_end_matches('/');
    let url = Url::parse(trimmed)
        .map_err(|e| Error::config(format!("base URL {trimmed:?} is not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Error::config(format!(
            "base URL {trimmed:?} must be an absolute http or https URL"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(Error::config(format!(
            "base URL {trimmed:?} must not carry credentials, a query or a fragment"
        )));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_required() {
        assert!(matches!(Client::builder().build(), Err(Error::Config(_))));
        assert!(matches!(
            Client::builder().token("  ").build(),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            Client::builder().token("a\nb").build(),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn base_urls() {
        let client = Client::builder().token("t").build().unwrap();
        assert_eq!(client.base_url(), DEFAULT_BASE_URL);
        let client = Client::builder()
            .token("t")
            .base_url("http://127.0.0.1:9/prefix/")
            .build()
            .unwrap();
        assert_eq!(client.base_url(), "http://127.0.0.1:9/prefix");
        for bad in [
            "",
            "api.heldqr.com",
            "ftp://x",
            "http://",
            "https://h/?q=1",
            "https://u:p@h",
        ] {
            assert!(
                matches!(
                    Client::builder().token("t").base_url(bad).build(),
                    Err(Error::Config(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn token_debug_is_redacted() {
        let builder = Client::builder().token("hkr_live_secret");
        assert!(!format!("{builder:?}").contains("hkr_live_secret"));
        let client = builder.build().unwrap();
        let debug = format!("{client:?}");
        assert!(!debug.contains("hkr_live_secret"), "{debug}");
        assert!(debug.contains("[redacted]"));
    }
}
