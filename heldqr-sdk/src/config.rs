//! Client configuration: [`ClientBuilder`], the environment variables, the hosts, and the
//! redacted token wrapper.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderValue;

use crate::error::{Error, Result};
use crate::options::Defaults;
use crate::retry::RetryPolicy;

/// The production API host.
pub const DEFAULT_BASE_URL: &str = "https://api.heldqr.com";

/// The fallback host that serves the same routes until the dedicated API subdomain ships.
/// Use it with [`ClientBuilder::base_url`] if `api.heldqr.com` does not answer yet.
pub const FALLBACK_BASE_URL: &str = "https://app.heldqr.com";

/// Environment variable holding the bearer token read by [`Client::from_env`](crate::Client::from_env).
pub const ENV_TOKEN: &str = "HELDQR_TOKEN";

/// Environment variable holding an optional base URL read by [`Client::from_env`](crate::Client::from_env).
pub const ENV_BASE_URL: &str = "HELDQR_BASE_URL";

/// Default whole-request timeout (connect, send, and read the full response).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Default connect timeout of the HTTP client the SDK builds.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The SDK's own `User-Agent`; [`ClientBuilder::user_agent`] appends to it.
pub const SDK_USER_AGENT: &str = concat!("heldqr-sdk-rust/", env!("CARGO_PKG_VERSION"));

/// A bearer token. Its `Debug` prints `[redacted]`, and it has no `Display`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct Token(pub(crate) Arc<str>);

impl Token {
    pub(crate) fn new(token: impl Into<String>) -> Self {
        Self(token.into().into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the token replaced by `[redacted]`: for anything the
    /// server (or a proxy) echoes back.
    pub(crate) fn mask(&self, text: String) -> String {
        if self.0.is_empty() || !text.contains(&*self.0) {
            text
        } else {
            text.replace(&*self.0, "[redacted]")
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Builds a [`Client`](crate::Client). Only the token is required.
///
/// Everything set here is a default for every call; a request builder overrides the
/// timeout, retry policy and deadline for one call (`.timeout(..)`, `.retry_policy(..)`,
/// `.max_retries(..)`, `.deadline(..)`).
///
/// ```
/// use std::time::Duration;
/// use heldqr_sdk::{Client, RetryPolicy};
///
/// let client = Client::builder()
///     .token("hkr_test_business")
///     .base_url("http://127.0.0.1:8080")
///     .timeout(Duration::from_secs(10))
///     .deadline(Duration::from_secs(60))
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
    deadline: Option<Duration>,
    connect_timeout: Option<Duration>,
    user_agent: Option<String>,
    retry_policy: RetryPolicy,
    http_client: Option<reqwest::Client>,
    pace_rate_limit: bool,
    log_bodies: bool,
    #[cfg_attr(not(feature = "http2"), allow(dead_code))]
    http2_prior_knowledge: bool,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            token: None,
            base_url: None,
            timeout: Some(DEFAULT_TIMEOUT),
            deadline: None,
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            user_agent: None,
            retry_policy: RetryPolicy::default(),
            http_client: None,
            pace_rate_limit: false,
            log_bodies: false,
            http2_prior_knowledge: false,
        }
    }
}

impl ClientBuilder {
    /// A builder with the defaults (see the setters).
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder with the token from `HELDQR_TOKEN` (required) and, when it is set and not
    /// blank, the base URL from `HELDQR_BASE_URL`; every other setting at its default, ready
    /// for more. [`Client::from_env`](crate::Client::from_env) is `ClientBuilder::from_env()?.build()`.
    ///
    /// Fails with [`Error::Config`] when `HELDQR_TOKEN` is unset or not UTF-8 (`build` then
    /// checks the values themselves).
    ///
    /// ```no_run
    /// let client = heldqr_sdk::ClientBuilder::from_env()?
    ///     .pace_rate_limit(true)
    ///     .user_agent("menu-sync/1.2")
    ///     .build()?;
    /// # Ok::<(), heldqr_sdk::Error>(())
    /// ```
    pub fn from_env() -> Result<Self> {
        Self::from_env_with(|name| std::env::var(name))
    }

    fn from_env_with(
        var: impl Fn(&str) -> std::result::Result<String, std::env::VarError>,
    ) -> Result<Self> {
        use std::env::VarError;
        let token = var(ENV_TOKEN).map_err(|e| match e {
            VarError::NotPresent => Error::config(format!("{ENV_TOKEN} is not set")),
            VarError::NotUnicode(_) => Error::config(format!("{ENV_TOKEN} is not valid UTF-8")),
        })?;
        let mut builder = Self::new().token(token);
        match var(ENV_BASE_URL) {
            Ok(base) if !base.trim().is_empty() => builder = builder.base_url(base),
            Ok(_) | Err(VarError::NotPresent) => {}
            Err(VarError::NotUnicode(_)) => {
                return Err(Error::config(format!("{ENV_BASE_URL} is not valid UTF-8")));
            }
        }
        Ok(builder)
    }

    /// The bearer token (required).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(Token::new(token));
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

    /// Overall time for each call, its retries, backoff, `Retry-After` and pacing waits
    /// included (default none: [`RetryPolicy`] alone bounds a call). Each attempt's timeout
    /// is cut to what is left; a retry that could not start before the deadline is not made,
    /// and the call returns its last error. A request builder's `.deadline(..)` overrides it.
    ///
    /// ```
    /// use std::time::Duration;
    /// let client = heldqr_sdk::Client::builder()
    ///     .token("hkr_test_pro")
    ///     .timeout(Duration::from_secs(1)) // each attempt
    ///     .deadline(Duration::from_secs(3)) // the whole call, retries included
    ///     .build()?;
    /// # let _ = client; Ok::<(), heldqr_sdk::Error>(())
    /// ```
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
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
    ///
    /// The budget belongs to the token, so the pacing state is shared by every pacing client
    /// of the same base URL and token in this process (clones and separately built clients
    /// alike); it is forgotten once the last such client is dropped. The limit comes from
    /// `X-RateLimit-Limit` and the window is inferred from the headers against the pacer's
    /// own send times, so nothing assumes a particular budget. A wait is at most the retry
    /// policy's `max_retry_after` (and what is left of the call's deadline); past that the
    /// request is sent and the server decides.
    pub fn pace_rate_limit(mut self, pace: bool) -> Self {
        self.pace_rate_limit = pace;
        self
    }

    /// Log request and response headers and bodies at `TRACE` level (default off; with the
    /// `tracing` feature). `Authorization` shows as `[redacted]` and the token is masked
    /// wherever else it appears; bodies are cut at 16 KiB.
    /// Meant for debugging (the `heldqr` CLI's `-vv`), not for production logs.
    pub fn log_bodies(mut self, log_bodies: bool) -> Self {
        self.log_bodies = log_bodies;
        self
    }

    /// Speak HTTP/2 with prior knowledge: no HTTP/1.1 upgrade, no ALPN. Use it for an
    /// `http://` base URL of a server that answers HTTP/2 over cleartext (the `heldqr-mock`
    /// does); over `https://` HTTP/2 is negotiated anyway. Needs the `http2` feature (on by
    /// default); ignored when [`ClientBuilder::http_client`] is set.
    ///
    /// ```
    /// let client = heldqr_sdk::Client::builder()
    ///     .token("hkr_test_pro")
    ///     .base_url("http://127.0.0.1:8080")
    ///     .http2_prior_knowledge()
    ///     .build()?;
    /// # let _ = client; Ok::<(), heldqr_sdk::Error>(())
    /// ```
    #[cfg(feature = "http2")]
    pub fn http2_prior_knowledge(mut self) -> Self {
        self.http2_prior_knowledge = true;
        self
    }

    /// Everything [`ClientBuilder::build`] checks and makes, before the client wraps it
    /// (the build itself is in `client.rs`, beside the client it makes).
    pub(crate) fn resolve(self) -> Result<Resolved> {
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
        if base_url.scheme() == "https" && !cfg!(any(feature = "rustls", feature = "native-tls")) {
            return Err(Error::config(
                "an https base URL needs TLS: enable the heldqr-sdk feature `rustls` or `native-tls`",
            ));
        }

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
                #[cfg(feature = "http2")]
                if self.http2_prior_knowledge {
                    builder = builder.http2_prior_knowledge();
                }
                builder
                    .build()
                    .map_err(|e| Error::config(format!("could not build the HTTP client: {e}")))?
            }
        };

        let base_url_str = base_url.as_str().trim_end_matches('/').to_owned();
        let mut codes_base = base_url;
        codes_base
            .path_segments_mut()
            .map_err(|()| Error::config("the base URL cannot take a path"))?
            .pop_if_empty()
            .extend(["api", "v1", "codes"]);
        Ok(Resolved {
            http,
            codes_base,
            base_url_str,
            token,
            auth,
            user_agent,
            defaults: Defaults {
                timeout: self.timeout,
                retry: self.retry_policy,
                deadline: self.deadline,
            },
            pace_rate_limit: self.pace_rate_limit,
            log_bodies: self.log_bodies,
        })
    }
}

/// A checked configuration: what [`ClientBuilder::resolve`] hands the client to wrap.
pub(crate) struct Resolved {
    pub(crate) http: reqwest::Client,
    /// `{base}/api/v1/codes`, parsed once.
    pub(crate) codes_base: Url,
    pub(crate) base_url_str: String,
    pub(crate) token: Token,
    pub(crate) auth: HeaderValue,
    pub(crate) user_agent: HeaderValue,
    pub(crate) defaults: Defaults,
    pub(crate) pace_rate_limit: bool,
    pub(crate) log_bodies: bool,
}

/// Checks a base URL exactly as [`ClientBuilder::build`] will: an absolute `http` or `https`
/// URL with a host, no credentials (no userinfo at all), query or fragment (surrounding
/// whitespace and trailing slashes are ignored; a path prefix is allowed, but not one that
/// holds `/api/v1`, which the client adds). Fails with [`Error::Config`] saying why.
///
/// Lets a program (the `heldqr` CLI, say) reject a bad URL up front with the SDK's own rules.
///
/// ```
/// use heldqr_sdk::validate_base_url;
/// assert!(validate_base_url("http://127.0.0.1:8080/").is_ok());
/// assert!(validate_base_url("api.heldqr.com").is_err());
/// // Any userinfo is refused, a password alone included, and never echoed back.
/// let err = validate_base_url("https://:s3cret@api.heldqr.com").unwrap_err();
/// assert!(!err.to_string().contains("s3cret"));
/// assert!(validate_base_url("https://user:pw@api.heldqr.com").is_err());
/// ```
pub fn validate_base_url(base_url: &str) -> Result<()> {
    parse_base_url(base_url).map(drop)
}

/// `raw` for an error message, with any userinfo (`user:password@`) replaced: a base URL
/// that carries credentials must not put them in an error.
fn shown(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return if raw.contains('@') {
            "[a URL with credentials]".to_owned()
        } else {
            raw.to_owned()
        };
    };
    let authority_end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://[credentials]@{}", &rest[at + 1..]),
        None => raw.to_owned(),
    }
}

fn parse_base_url(raw: &str) -> Result<Url> {
    let trimmed = raw.trim().trim_end_matches('/');
    let shown = shown(trimmed);
    let url = Url::parse(trimmed)
        .map_err(|e| Error::config(format!("base URL {shown:?} is not a valid URL: {e}")))?;
    // The URL parser forgives `https:///x` and `http:host` (reading the host `x`, `host`);
    // insist on the plain `scheme://host` form so what the user wrote is what is used.
    let after_scheme = trimmed
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or("");
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || after_scheme.is_empty()
        || after_scheme.starts_with(['/', '\\'])
    {
        return Err(Error::config(format!(
            "base URL {shown:?} must be an absolute http or https URL"
        )));
    }
    // Any userinfo at all, a password alone (`https://:pw@host`) or an empty `@` included:
    // the token is the only credential, and a URL is too easily logged.
    let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') || !url.username().is_empty() || url.password().is_some() {
        return Err(Error::config(format!(
            "base URL {shown:?} must not carry credentials (user or password); the token is \
             the only credential"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config(format!(
            "base URL {shown:?} must not carry a query or a fragment"
        )));
    }
    // The client adds `/api/v1` itself: a base URL that holds it (at its end, or before a
    // resource such as `/api/v1/codes`; any case) would be asked for `/api/v1/api/v1/codes`,
    // and every call would be a 404 with no hint why.
    let lower = url.path().to_ascii_lowercase();
    let api_at = if lower.ends_with("/api/v1") {
        Some(lower.len() - "/api/v1".len())
    } else {
        lower.find("/api/v1/")
    };
    if let Some(at) = api_at.filter(|_| !url.cannot_be_a_base()) {
        let mut without = url.clone();
        without.set_path(&url.path()[..at]);
        return Err(Error::config(format!(
            "base URL {shown:?} holds /api/v1, which the client adds itself; use {:?}",
            without.as_str().trim_end_matches('/')
        )));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_required() {
        assert!(matches!(
            ClientBuilder::new().build(),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            ClientBuilder::new().token("  ").build(),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            ClientBuilder::new().token("a\nb").build(),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn base_urls() {
        let client = ClientBuilder::new().token("t").build().unwrap();
        assert_eq!(client.base_url(), DEFAULT_BASE_URL);
        let client = ClientBuilder::new()
            .token("t")
            .base_url("http://127.0.0.1:9/prefix/")
            .build()
            .unwrap();
        assert_eq!(client.base_url(), "http://127.0.0.1:9/prefix");
        // A path that only contains the API's prefix elsewhere is a prefix like any other.
        assert!(validate_base_url("http://127.0.0.1:9/api/v1x").is_ok());
        let err = validate_base_url("http://127.0.0.1:9/api/v1/codes").unwrap_err();
        assert!(
            err.to_string().contains("use \"http://127.0.0.1:9\""),
            "{err}"
        );
        for bad in [
            "",
            "api.heldqr.com",
            "ftp://x",
            "http://",
            "https://h/?q=1",
            "https://u:p@h",
            "https://:p@h",
            "https://u@h",
            "https://@h",
            "https://api.heldqr.com/api/v1",
            "http://127.0.0.1:9/prefix/api/v1/",
            "http://127.0.0.1:9/API/V1",
            "http://127.0.0.1:9/api/v1/codes",
        ] {
            assert!(
                matches!(
                    ClientBuilder::new().token("t").base_url(bad).build(),
                    Err(Error::Config(_))
                ),
                "{bad}"
            );
        }
    }

    fn env(
        vars: &[(&str, &str)],
    ) -> impl Fn(&str) -> std::result::Result<String, std::env::VarError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            vars.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .ok_or(std::env::VarError::NotPresent)
        }
    }

    #[test]
    fn builder_from_env() {
        let err = ClientBuilder::from_env_with(env(&[])).unwrap_err();
        assert!(
            matches!(&err, Error::Config(m) if m.contains(ENV_TOKEN)),
            "{err}"
        );

        let client = ClientBuilder::from_env_with(env(&[(ENV_TOKEN, "hkr_x")]))
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(client.base_url(), DEFAULT_BASE_URL);

        // A blank base URL is unset; a set one is used; the builder takes more options.
        for blank in ["", "  "] {
            let client =
                ClientBuilder::from_env_with(env(&[(ENV_TOKEN, "hkr_x"), (ENV_BASE_URL, blank)]))
                    .unwrap()
                    .build()
                    .unwrap();
            assert_eq!(client.base_url(), DEFAULT_BASE_URL);
        }
        let builder = ClientBuilder::from_env_with(env(&[
            (ENV_TOKEN, "hkr_x"),
            (ENV_BASE_URL, "http://127.0.0.1:9/"),
        ]))
        .unwrap()
        .pace_rate_limit(true);
        assert!(builder.pace_rate_limit);
        assert_eq!(builder.build().unwrap().base_url(), "http://127.0.0.1:9");

        // The values themselves are checked by build, with the usual rules.
        let bad = ClientBuilder::from_env_with(env(&[(ENV_TOKEN, "hkr_x"), (ENV_BASE_URL, "x")]))
            .unwrap()
            .build();
        assert!(matches!(bad, Err(Error::Config(_))));
        let blank = ClientBuilder::from_env_with(env(&[(ENV_TOKEN, " ")]))
            .unwrap()
            .build();
        assert!(matches!(blank, Err(Error::Config(_))));
    }

    #[test]
    fn validate_base_url_is_the_builders_rule() {
        for url in [
            "http://127.0.0.1:9/prefix/",
            " https://api.heldqr.com ",
            "",
            "api.heldqr.com",
            "ftp://x",
            "http://",
            "https:///x",
            "http:127.0.0.1",
            "http:/127.0.0.1",
            "http:\\\\127.0.0.1",
            "https://h/?q=1",
            "https://h/#f",
            "https://u:p@h",
            "http://[::1",
        ] {
            let built = ClientBuilder::new().token("t").base_url(url).build();
            assert_eq!(validate_base_url(url).is_ok(), built.is_ok(), "{url:?}");
        }
        assert!(validate_base_url("http://127.0.0.1:8080").is_ok());
        assert!(validate_base_url("HTTPS://API.heldqr.com").is_ok());
        for bad in ["https:///x", "http:127.0.0.1", "http:/127.0.0.1"] {
            assert!(validate_base_url(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            validate_base_url("ftp://x"),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn userinfo_is_refused_without_echoing_it() {
        for url in [
            "https://user:s3cret-pw@api.heldqr.com",
            "https://:s3cret-pw@api.heldqr.com",
            "https://s3cret-pw@api.heldqr.com/prefix",
            "http://:s3cret-pw@127.0.0.1:8080",
            "https://s3cret-pw:@h",
            "https://u:s3cret-pw@[::1",
            "http:u:s3cret-pw@h",
        ] {
            let err = validate_base_url(url).unwrap_err();
            assert!(matches!(err, Error::Config(_)), "{url}");
            assert!(!err.to_string().contains("s3cret-pw"), "{url}: {err}");
        }
        assert!(
            validate_base_url("https://:pw@api.heldqr.com")
                .unwrap_err()
                .to_string()
                .contains("credentials")
        );
    }

    #[test]
    fn token_masking() {
        let token = Token::new("hkr_live_abcdef");
        assert_eq!(
            token.mask("bad token hkr_live_abcdef, hkr_live_abcdef".into()),
            "bad token [redacted], [redacted]"
        );
        assert_eq!(token.mask("nothing here".into()), "nothing here");
    }

    #[test]
    fn token_debug_is_redacted() {
        let builder = ClientBuilder::new().token("hkr_live_secret");
        assert!(!format!("{builder:?}").contains("hkr_live_secret"));
        let client = builder.build().unwrap();
        let debug = format!("{client:?}");
        assert!(!debug.contains("hkr_live_secret"), "{debug}");
        assert!(debug.contains("[redacted]"));
    }
}
