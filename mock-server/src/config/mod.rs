//! Configuration of a mock server: tokens and their accounts and plans, the rate limit, the
//! idempotency retention, the shortcode seed, the clock and the listen address. [`MockConfig`] is
//! built with chained methods and validated once, when the server state is created. Plain data:
//! nothing here knows about requests; the fault settings are in `faults`.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::clock::MockClock;
use crate::model::Plan;

mod faults;

pub use faults::{DEFAULT_BURST_LEN, FaultConfig, MAX_LATENCY, UNKNOWN_CODE, UNKNOWN_CODE_STATUS};

/// Dev token of the `free` plan (account `acct_free`), present when no token is configured.
pub const DEV_TOKEN_FREE: &str = "hkr_test_free";
/// Dev token of the `pro` plan (account `acct_pro`), present when no token is configured.
pub const DEV_TOKEN_PRO: &str = "hkr_test_pro";
/// Dev token of the `business` plan (account `acct_business`), present when no token is configured.
pub const DEV_TOKEN_BUSINESS: &str = "hkr_test_business";

/// One bearer token, the account it belongs to and that account's plan.
///
/// `Debug` never shows the token itself.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSpec {
    /// The secret sent as `Authorization: Bearer <token>`.
    pub token: String,
    /// The plan of the account.
    pub plan: Plan,
    /// The account id; several tokens may share one account (they then see the same codes).
    pub account: String,
}

impl TokenSpec {
    /// A token on `account` with `plan`.
    pub fn new(token: impl Into<String>, plan: Plan, account: impl Into<String>) -> Self {
        TokenSpec {
            token: token.into(),
            plan,
            account: account.into(),
        }
    }

    /// The three dev tokens, one per plan: [`DEV_TOKEN_FREE`], [`DEV_TOKEN_PRO`],
    /// [`DEV_TOKEN_BUSINESS`] on accounts `acct_free`, `acct_pro`, `acct_business`.
    pub fn dev_tokens() -> Vec<TokenSpec> {
        vec![
            TokenSpec::new(DEV_TOKEN_FREE, Plan::Free, "acct_free"),
            TokenSpec::new(DEV_TOKEN_PRO, Plan::Pro, "acct_pro"),
            TokenSpec::new(DEV_TOKEN_BUSINESS, Plan::Business, "acct_business"),
        ]
    }
}

impl fmt::Debug for TokenSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSpec")
            .field("token", &"<redacted>")
            .field("plan", &self.plan)
            .field("account", &self.account)
            .finish()
    }
}

/// The sliding-window rate limit applied to every token: `limit` requests per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Requests accepted per window (at least 1).
    pub limit: u32,
    /// Length of the sliding window (more than zero).
    pub window: Duration,
}

impl Default for RateLimitConfig {
    /// 600 requests per 60 seconds, as the published API.
    fn default() -> Self {
        RateLimitConfig {
            limit: 600,
            window: Duration::from_secs(60),
        }
    }
}

/// Everything a mock server is started with.
///
/// ```
/// use std::time::Duration;
/// use heldqr_mock::{MockConfig, Plan};
///
/// let config = MockConfig::default()
///     .token("tok_a", Plan::Pro, "acct_a")
///     .token("tok_b", Plan::Pro, "acct_a") // a second token on the same account
///     .rate_limit(10, Duration::from_secs(1))
///     .idempotency_ttl(Duration::from_secs(3600))
///     .seed(42);
/// assert_eq!(config.tokens().len(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct MockConfig {
    pub(crate) listen: SocketAddr,
    pub(crate) tokens: Vec<TokenSpec>,
    pub(crate) rate_limit: RateLimitConfig,
    pub(crate) idempotency_ttl: Duration,
    pub(crate) seed: Option<u64>,
    pub(crate) clock: MockClock,
    pub(crate) public_url: Option<String>,
    pub(crate) log_requests: bool,
    pub(crate) faults: FaultConfig,
    pub(crate) propagation_delay: Duration,
    pub(crate) admin_token: Option<AdminToken>,
    pub(crate) max_codes_per_account: usize,
    pub(crate) max_connections: usize,
    pub(crate) header_timeout: Duration,
    pub(crate) body_timeout: Duration,
    pub(crate) journal_size: usize,
    pub(crate) journal_max_bytes: usize,
}

/// The default of [`MockConfig::max_codes_per_account`]: far more than any test suite creates.
pub const DEFAULT_MAX_CODES_PER_ACCOUNT: usize = 10_000;

/// The default of [`MockConfig::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 1000;
/// The default of [`MockConfig::header_timeout`].
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The default of [`MockConfig::body_timeout`].
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest header or body timeout a configuration may give: 365 days (a deadline further
/// out than the clock can count is refused at start, not met by the first connection).
pub const MAX_CONNECTION_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The token that guards the mock-only `/_mock/...` routes; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct AdminToken(pub(crate) String);

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// Default number of requests the journal keeps.
pub const DEFAULT_JOURNAL_SIZE: usize = 10_000;
/// Default byte budget of the journal.
pub const DEFAULT_JOURNAL_BYTES: usize = 64 * 1024 * 1024;

impl Default for MockConfig {
    /// Listen on `127.0.0.1:0`, the dev tokens, 600 requests per 60 s, idempotency keys kept
    /// 24 hours, random shortcodes, the system clock, no request log, no faults, no propagation
    /// delay, a journal of the last 10 000 requests within 64 MiB.
    fn default() -> Self {
        MockConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            tokens: Vec::new(),
            rate_limit: RateLimitConfig::default(),
            idempotency_ttl: Duration::from_secs(24 * 60 * 60),
            seed: None,
            clock: MockClock::system(),
            public_url: None,
            log_requests: false,
            faults: FaultConfig::default(),
            admin_token: None,
            propagation_delay: Duration::ZERO,
            max_codes_per_account: DEFAULT_MAX_CODES_PER_ACCOUNT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            journal_size: DEFAULT_JOURNAL_SIZE,
            journal_max_bytes: DEFAULT_JOURNAL_BYTES,
        }
    }
}

impl MockConfig {
    /// Guards every mock-only `/_mock/...` route: they then answer 401 unless the request
    /// carries `Authorization: Bearer <admin token>` (an API token is not an admin token).
    /// Without it (the default) those routes are open to anyone who can reach the server.
    ///
    /// ```
    /// use heldqr_mock::MockConfig;
    ///
    /// let config = MockConfig::default().admin_token("adm_ci_9f2c");
    /// assert!(config.has_admin_token());
    /// assert!(!format!("{config:?}").contains("adm_ci_9f2c"));
    /// ```
    pub fn admin_token(mut self, token: impl Into<String>) -> Self {
        self.admin_token = Some(AdminToken(token.into()));
        self
    }

    /// The most codes one account may hold (default [`DEFAULT_MAX_CODES_PER_ACCOUNT`]); a create
    /// beyond it gets the mock-only 403 `code_limit_reached`. Keeps the server's memory bounded
    /// by configuration rather than by what clients send.
    pub fn max_codes_per_account(mut self, cap: usize) -> Self {
        self.max_codes_per_account = cap;
        self
    }

    /// The most connections open at once (default [`DEFAULT_MAX_CONNECTIONS`]). At the cap a new
    /// connection closes the oldest one with no request in flight; when all are busy it is
    /// answered 503 `service_unavailable` with `Connection: close` at once.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// How long a connection may take to send a request's headers, counted from the end of the
    /// previous answer (or from the connection's start): default [`DEFAULT_HEADER_TIMEOUT`].
    /// On HTTP/1.1 the same timer closes keep-alive connections idle that long, so it is also
    /// the idle timeout; an HTTP/2 connection with no request in flight and none begun for
    /// one to two of these is closed. At most [`MAX_CONNECTION_TIMEOUT`].
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// The longest pause between two pieces of a request body (default
    /// [`DEFAULT_BODY_TIMEOUT`]); after it the request is answered 408 `request_timeout` and
    /// the connection closed. At most [`MAX_CONNECTION_TIMEOUT`].
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// True when the `/_mock/...` routes need the admin token.
    pub fn has_admin_token(&self) -> bool {
        self.admin_token.is_some()
    }

    /// True when the listen address is a loopback one (`::ffff:127.0.0.1` included): only
    /// this machine can connect.
    pub fn listens_on_loopback_only(&self) -> bool {
        self.listen.ip().to_canonical().is_loopback()
    }

    /// Adds a token on `account` with `plan`. Once any token is added the dev tokens are gone.
    pub fn token(
        mut self,
        token: impl Into<String>,
        plan: Plan,
        account: impl Into<String>,
    ) -> Self {
        self.tokens.push(TokenSpec::new(token, plan, account));
        self
    }

    /// Sets the rate limit: `limit` requests per sliding `window`, per token.
    pub fn rate_limit(mut self, limit: u32, window: Duration) -> Self {
        self.rate_limit = RateLimitConfig { limit, window };
        self
    }

    /// Sets how long an `Idempotency-Key` and its response are kept (default 24 hours).
    pub fn idempotency_ttl(mut self, ttl: Duration) -> Self {
        self.idempotency_ttl = ttl;
        self
    }

    /// Makes generated shortcodes repeatable: the same seed gives the same sequence (also after
    /// `POST /_mock/reset`).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Uses `clock` for every time the server reads (rate windows, idempotency expiry,
    /// timestamps, scan windows). Keep a clone to move time in tests.
    pub fn clock(mut self, clock: MockClock) -> Self {
        self.clock = clock;
        self
    }

    /// The address [`MockServer::start`](crate::MockServer::start) binds (default `127.0.0.1:0`).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// The base URL written into every code's `scan_url` (`{public_url}/r/{shortcode}`).
    /// Default: the server's own base URL.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into().trim_end_matches('/').to_owned());
        self
    }

    /// Writes one line per request on stderr (method, path, status, duration, request id,
    /// account; never the token). Off by default in the library, on in the binary.
    pub fn log_requests(mut self, on: bool) -> Self {
        self.log_requests = on;
        self
    }

    /// Injects faults into `/api/v1` requests (a mock-only test aid; none by default). See
    /// [`FaultConfig`].
    pub fn faults(mut self, faults: FaultConfig) -> Self {
        self.faults = faults;
        self
    }

    /// Makes a new target reach the scan URL `delay` late, as the real API's edge does ("new
    /// scans land on the new target within 60 seconds"): `/r/{shortcode}` redirects to the
    /// target the code had `delay` ago on the server clock, while the API shows the new one at
    /// once. Default zero (a change is seen at once).
    ///
    /// ```
    /// use std::time::Duration;
    /// use heldqr_mock::MockConfig;
    ///
    /// let config = MockConfig::default().propagation_delay(Duration::from_secs(60));
    /// # let _ = config;
    /// ```
    pub fn propagation_delay(mut self, delay: Duration) -> Self {
        self.propagation_delay = delay;
        self
    }

    /// Keeps the last `entries` `/api/v1` and `/r/` requests in the request journal
    /// (`GET /_mock/requests`, [`MockServer::requests`](crate::MockServer::requests)); 0 turns
    /// it off. Default 10 000.
    pub fn journal_size(mut self, entries: usize) -> Self {
        self.journal_size = entries;
        self
    }

    /// The journal's byte budget (default 64 MiB): the oldest entries leave once the entries'
    /// bodies, headers and fields use more.
    pub fn journal_max_bytes(mut self, bytes: usize) -> Self {
        self.journal_max_bytes = bytes;
        self
    }

    /// The configured faults.
    pub fn fault_config(&self) -> &FaultConfig {
        &self.faults
    }

    /// The tokens the server accepts: the configured ones, or the dev tokens when none is.
    pub fn tokens(&self) -> Vec<TokenSpec> {
        if self.tokens.is_empty() {
            TokenSpec::dev_tokens()
        } else {
            self.tokens.clone()
        }
    }

    /// The configured rate limit.
    pub fn rate_limit_config(&self) -> RateLimitConfig {
        self.rate_limit
    }

    /// Checks the configuration: a rate limit of at least 1 per non-zero window, non-empty
    /// tokens and accounts, no token twice, one plan per account, fault probabilities that
    /// add up to at most 1, header and body timeouts above zero and at most
    /// [`MAX_CONNECTION_TIMEOUT`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.rate_limit.limit == 0 || self.rate_limit.window.is_zero() {
            return Err(ConfigError(
                "the rate limit needs at least 1 request per non-zero window".into(),
            ));
        }
        self.faults.validate().map_err(ConfigError)?;
        if self.max_connections == 0 || self.header_timeout.is_zero() || self.body_timeout.is_zero()
        {
            return Err(ConfigError(
                "the connection limit and the header and body timeouts must be above zero".into(),
            ));
        }
        if self.header_timeout > MAX_CONNECTION_TIMEOUT
            || self.body_timeout > MAX_CONNECTION_TIMEOUT
        {
            return Err(ConfigError(format!(
                "the header and body timeouts must be at most {} s (365 days)",
                MAX_CONNECTION_TIMEOUT.as_secs()
            )));
        }
        if self.max_codes_per_account == 0 {
            return Err(ConfigError(
                "the most codes per account must be at least 1".into(),
            ));
        }
        let tokens = self.tokens();
        if let Some(AdminToken(admin)) = &self.admin_token {
            if admin.is_empty() || admin.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
                return Err(ConfigError(
                    "the admin token must be non-empty visible ASCII".into(),
                ));
            }
            if tokens.iter().any(|t| t.token == *admin) {
                return Err(ConfigError(
                    "the admin token must differ from every API token".into(),
                ));
            }
        }
        let mut plans: std::collections::HashMap<&str, Plan> = std::collections::HashMap::new();
        for (i, t) in tokens.iter().enumerate() {
            if t.token.is_empty() || t.token.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
                return Err(ConfigError(format!(
                    "token #{} must be non-empty visible ASCII",
                    i + 1
                )));
            }
            if t.account.is_empty() {
                return Err(ConfigError(format!(
                    "token #{} has an empty account id",
                    i + 1
                )));
            }
            if tokens[..i].iter().any(|o| o.token == t.token) {
                return Err(ConfigError(format!("token #{} is configured twice", i + 1)));
            }
            if let Some(p) = plans.insert(&t.account, t.plan)
                && p != t.plan
            {
                return Err(ConfigError(format!(
                    "account {} is given two plans ({} and {})",
                    t.account, p, t.plan
                )));
            }
        }
        Ok(())
    }
}

/// A configuration that cannot be served (see [`MockConfig::validate`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid mock server configuration: {0}")]
pub struct ConfigError(pub String);

impl From<ConfigError> for std::io::Error {
    fn from(e: ConfigError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
    }
}
