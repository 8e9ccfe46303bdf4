//! The command line of `heldqr-mock`: arguments (clap), turned into a [`MockConfig`] in one
//! step; then bind, print the address line, serve until SIGINT/SIGTERM, shut down gracefully.
//!
//! The log (`--log-level`, `--log-format`, `--quiet`) is set up in `logging`: request lines
//! and other events on stderr, written off the request path.
//!
//! Fault flags (`--fault-*`) map one to one onto [`FaultConfig`]'s builder methods.
//!
//! Every flag can also come from the environment (`HELDQR_MOCK_<FLAG>`, named in `--help`), so a
//! container or CI service is configured without a command line; token values taken from the
//! environment are never shown.
//!
//! `heldqr-mock probe` is the container's health check: it asks the server at `--listen` for
//! `GET /healthz` and exits 0 when it answers 200 (no shell, no curl needed in the image).
//!
//! Exit codes: 0 after a clean shutdown (or a healthy probe), 1 when the server cannot start
//! (address in use...) or the probe finds no healthy server, 2 for a bad command line.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use heldqr_mock::{
    DEFAULT_BURST_LEN, FaultConfig, MAX_LATENCY, MockClock, MockConfig, MockServer, Plan,
    TokenSpec, Workers,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::logging::{self, LogFormat};

/// Stateful reference mock server of the Heldqr Management API.
///
/// Prints `heldqr-mock listening on http://HOST:PORT` on stdout once it accepts connections.
/// With no --token it serves three dev tokens, one per plan, and prints them.
#[derive(Debug, Parser)]
#[command(name = "heldqr-mock", version, about)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,

    /// Address to listen on: an IP address and port (`localhost` means 127.0.0.1; no other
    /// names are looked up); port 0 picks a free port.
    #[arg(long, value_name = "ADDR", env = "HELDQR_MOCK_LISTEN", global = true, default_value = "127.0.0.1:8080", value_parser = parse_listen)]
    listen: SocketAddr,

    /// A bearer token, its plan (free, pro, business) and optionally its account
    /// (default acct_PLAN). Repeat for several tokens; tokens on one account share its codes.
    /// In the environment, separate several with commas.
    #[arg(long = "token", value_name = "TOKEN=PLAN[:ACCOUNT]", value_parser = raw_token,
          env = "HELDQR_MOCK_TOKENS", hide_env_values = true, value_delimiter = ',')]
    tokens: Vec<RawToken>,

    /// Guard every mock-only /_mock route: they answer 401 unless the request carries
    /// `Authorization: Bearer <ADMIN_TOKEN>`. Without it they are open to anyone who can reach
    /// the server (set it whenever the mock listens beyond loopback).
    #[arg(long, value_name = "ADMIN_TOKEN", value_parser = raw_token,
          env = "HELDQR_MOCK_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<RawToken>,

    /// The most connections open at once; at the cap a new connection closes the oldest idle
    /// one, and when all are busy it gets 503 at once. Lowered to fit under the descriptor
    /// limit, whose soft value is raised to the hard one at start.
    #[arg(long, value_name = "N", default_value_t = heldqr_mock::DEFAULT_MAX_CONNECTIONS, env = "HELDQR_MOCK_MAX_CONNECTIONS")]
    max_connections: usize,

    /// Threads that serve connections, each connection on one of them for its whole life
    /// (thread per core), 1 to 1024 [default: the CPUs this process may use]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=MAX_THREADS), env = "HELDQR_MOCK_THREADS")]
    threads: Option<u16>,

    /// Seconds a client may take to send a request's headers, counted from the end of the
    /// previous answer: so also how long an idle keep-alive connection stays open (HTTP/2:
    /// closed after one to two of these with no request). At most 365 days.
    #[arg(long, value_name = "SECONDSs", default_value = "10s", value_parser = parse_seconds, env = "HELDQR_MOCK_HEADER_TIMEOUT")]
    header_timeout: Duration,

    /// The longest pause between two pieces of a request body; then 408 and the connection
    /// closes. At most 365 days.
    #[arg(long, value_name = "SECONDSs", default_value = "30s", value_parser = parse_seconds, env = "HELDQR_MOCK_BODY_TIMEOUT")]
    body_timeout: Duration,

    /// The most codes one account may hold; a create beyond it gets 403 code_limit_reached
    /// (a limit of the mock's own, not the API's), so memory stays bounded.
    #[arg(long, value_name = "N", default_value_t = heldqr_mock::DEFAULT_MAX_CODES_PER_ACCOUNT, env = "HELDQR_MOCK_MAX_CODES")]
    max_codes: usize,

    /// Requests per sliding window per token, e.g. 600/60s.
    #[arg(long, value_name = "N/SECONDSs", default_value = "600/60s", value_parser = parse_rate_limit, env = "HELDQR_MOCK_RATE_LIMIT")]
    rate_limit: (u32, Duration),

    /// How long an Idempotency-Key and its response are kept, e.g. 86400s.
    #[arg(long, value_name = "SECONDSs", default_value = "86400s", value_parser = parse_seconds, env = "HELDQR_MOCK_IDEMPOTENCY_TTL")]
    idempotency_ttl: Duration,

    /// Makes generated shortcodes repeatable (also after POST /_mock/reset).
    #[arg(long, value_name = "N", env = "HELDQR_MOCK_SEED")]
    seed: Option<u64>,

    /// Base URL written into scan_url (default: the server's own http://HOST:PORT).
    #[arg(long, value_name = "URL", env = "HELDQR_MOCK_PUBLIC_URL")]
    public_url: Option<String>,

    /// Start a manual clock at this RFC 3339 instant; it then moves only with
    /// POST /_mock/clock/advance (default: the system clock).
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant, env = "HELDQR_MOCK_CLOCK_START")]
    clock_start: Option<OffsetDateTime>,

    /// Seconds a new target takes to reach the scan URL: /r/{shortcode} redirects to the
    /// target the code had that long ago on the server clock (the API shows the new one at
    /// once). 0 (the default): at once.
    #[arg(long, value_name = "SECONDS", default_value = "0", value_parser = parse_seconds, env = "HELDQR_MOCK_PROPAGATION_DELAY")]
    propagation_delay: Duration,

    /// Requests the journal keeps (GET /_mock/requests); 0 turns it off.
    #[arg(long, value_name = "N", default_value_t = heldqr_mock::DEFAULT_JOURNAL_SIZE, env = "HELDQR_MOCK_JOURNAL_SIZE")]
    journal_size: usize,

    /// Do not log one line per request on stderr (in the environment: 1/0, true/false).
    #[arg(long, short, env = "HELDQR_MOCK_QUIET", value_parser = clap::builder::BoolishValueParser::new())]
    quiet: bool,

    /// Which log events to write on stderr: a `RUST_LOG`-style filter, e.g. `info` (the
    /// default: one line per request), `warn` (no request lines), or
    /// `info,heldqr_mock::request=off`. The address line on stdout is never filtered.
    #[arg(
        long,
        value_name = "FILTER",
        default_value = "info",
        env = "HELDQR_MOCK_LOG"
    )]
    log_level: String,

    /// The log's line format: text, or json (one object per line, for CI log processors).
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text, env = "HELDQR_MOCK_LOG_FORMAT")]
    log_format: LogFormat,

    /// Seed of the fault generator: the same seed and the same sequence of requests per token
    /// give the same faults (default: random, printed at start).
    #[arg(long, value_name = "N", help_heading = FAULTS, env = "HELDQR_MOCK_FAULT_SEED")]
    fault_seed: Option<u64>,

    /// Probability (0-1) that an /api/v1 request is handled (a create committed) and the
    /// connection is then closed (FIN) without a response.
    #[arg(long, value_name = "P", help_heading = FAULTS, value_parser = parse_probability, env = "HELDQR_MOCK_FAULT_DROP")]
    fault_drop: Option<f64>,

    /// Probability that a request is handled (a create committed) and the connection is then
    /// reset (RST, SO_LINGER 0) without a response.
    #[arg(long, value_name = "P", help_heading = FAULTS, value_parser = parse_probability, env = "HELDQR_MOCK_FAULT_RESET")]
    fault_reset: Option<f64>,

    /// Probability of a 500 internal_error before anything is committed.
    #[arg(long = "fault-500", value_name = "P", help_heading = FAULTS, value_parser = parse_probability, env = "HELDQR_MOCK_FAULT_500")]
    fault_500: Option<f64>,

    /// Probability of a 503 service_unavailable before anything is committed.
    #[arg(long = "fault-503", value_name = "P", help_heading = FAULTS, value_parser = parse_probability, env = "HELDQR_MOCK_FAULT_503")]
    fault_503: Option<f64>,

    /// Probability of a 409 with the error code request_in_progress, which is not in the
    /// document (clients must retry unknown codes on the same key), before anything is
    /// committed.
    #[arg(long, value_name = "P", help_heading = FAULTS, value_parser = parse_probability, env = "HELDQR_MOCK_FAULT_UNKNOWN_CODE")]
    fault_unknown_code: Option<f64>,

    /// Probability that a 429 burst starts: this and the next K-1 requests of the same token
    /// get 429 rate_limited whatever the budget, with Retry-After: 1 (K default 3).
    #[arg(long = "fault-429-burst", value_name = "P[:K]", help_heading = FAULTS, value_parser = parse_burst, env = "HELDQR_MOCK_FAULT_429_BURST")]
    fault_burst: Option<(f64, u32)>,

    /// Probability that a request waits MS milliseconds first (adds to any other fault).
    #[arg(long, value_name = "P:MS", help_heading = FAULTS, value_parser = parse_latency, env = "HELDQR_MOCK_FAULT_LATENCY")]
    fault_latency: Option<(f64, Duration)>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Health check: exits 0 when the heldqr-mock at --listen (or HELDQR_MOCK_LISTEN) answers
    /// GET /healthz with 200 within the timeout, 1 otherwise. For container HEALTHCHECKs.
    Probe {
        /// Give up after this many seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 2)]
        timeout: u64,
    },
}

const FAULTS: &str = "Fault injection (mock-only test aids, /api/v1 only, off by default; \
the drop, reset, 500, 503, unknown-code and 429-burst probabilities add up to at most 1)";

fn parse_probability(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|p| (0.0..=1.0).contains(p))
        .ok_or_else(|| format!("expected a probability from 0 to 1 like 0.05, got {s:?}"))
}

fn parse_burst(s: &str) -> Result<(f64, u32), String> {
    let (p, k) = match s.split_once(':') {
        Some((p, k)) => (
            p,
            k.parse::<u32>().ok().filter(|k| *k > 0).ok_or_else(|| {
                format!("expected P[:K] with K at least 1 like 0.02:3, got {s:?}")
            })?,
        ),
        None => (s, DEFAULT_BURST_LEN),
    };
    Ok((parse_probability(p)?, k))
}

fn parse_latency(s: &str) -> Result<(f64, Duration), String> {
    let err = || {
        format!(
            "expected P:MS like 0.1:50 (at most {} ms), got {s:?}",
            MAX_LATENCY.as_millis()
        )
    };
    let (p, ms) = s.split_once(':').ok_or_else(err)?;
    let ms = ms.strip_suffix("ms").unwrap_or(ms);
    let by = ms
        .parse::<u64>()
        .ok()
        .map(Duration::from_millis)
        .filter(|d| *d <= MAX_LATENCY)
        .ok_or_else(err)?;
    Ok((parse_probability(p)?, by))
}

/// The faults the command line asks for (all off when no fault flag is given).
fn faults_from(args: &Args) -> FaultConfig {
    let mut f = FaultConfig::new()
        .drop_after_commit(args.fault_drop.unwrap_or(0.0))
        .reset_after_commit(args.fault_reset.unwrap_or(0.0))
        .internal_error(args.fault_500.unwrap_or(0.0))
        .service_unavailable(args.fault_503.unwrap_or(0.0))
        .unknown_code(args.fault_unknown_code.unwrap_or(0.0));
    if let Some((p, k)) = args.fault_burst {
        f = f.rate_limit_burst(p, k);
    }
    if let Some((p, by)) = args.fault_latency {
        f = f.latency(p, by);
    }
    if let Some(seed) = args.fault_seed {
        f = f.seed(seed);
    }
    f
}

/// `IP:PORT`, `[IPv6]:PORT` or `localhost:PORT` (127.0.0.1). No name is resolved: the static
/// release binary has no resolver of the C library to ask.
fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let port = s.strip_prefix("localhost:").ok_or_else(|| {
        format!("expected IP:PORT like 127.0.0.1:8080 or localhost:8080, got {s:?}")
    })?;
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("expected a port from 0 to 65535 after localhost:, got {s:?}"))?;
    Ok(SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port)))
}

/// Descriptors kept for the listener, the process's own files and connections being refused.
const RESERVED_DESCRIPTORS: u64 = 64;

/// The most `--threads`: beyond it a machine runs out of descriptors or threads before it
/// gains any speed (each thread's runtime holds two descriptors and a stack).
const MAX_THREADS: i64 = 1024;

/// Descriptors each connection thread's runtime holds (its epoll and its waker).
const DESCRIPTORS_PER_THREAD: u64 = 2;

/// The threads that serve connections: `--threads`, else the CPUs this process may use.
fn connection_threads(args: &Args) -> usize {
    args.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        usize::from,
    )
}

/// Raises the soft descriptor limit to the hard one and returns `wanted` lowered to fit under
/// it beside `threads` connection threads, so the connection cap is reached (and idle
/// connections evicted) before `accept` fails.
fn fit_under_descriptor_limit(wanted: usize, threads: usize) -> usize {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
        let soft = unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
                return wanted;
            }
            if lim.rlim_cur < lim.rlim_max {
                let raised = libc::rlimit {
                    rlim_cur: lim.rlim_max,
                    rlim_max: lim.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    lim.rlim_cur = lim.rlim_max;
                }
            }
            lim.rlim_cur
        };
        let reserved = RESERVED_DESCRIPTORS
            .saturating_add(DESCRIPTORS_PER_THREAD.saturating_mul(threads as u64));
        let room = soft.saturating_sub(reserved).max(1);
        let fitted = usize::try_from(room).unwrap_or(usize::MAX).min(wanted);
        if fitted < wanted {
            let _ = writeln!(
                std::io::stderr().lock(),
                "heldqr-mock: at most {fitted} connections (the descriptor limit is {soft})"
            );
        }
        fitted
    }
    #[cfg(not(unix))]
    {
        let _ = threads;
        wanted
    }
}

/// `heldqr-mock probe`: one `GET /healthz` over a plain TCP connection to `listen` (an
/// unspecified address means this machine), true when the answer's status is 200.
fn probe(listen: SocketAddr, timeout: Duration) -> Result<(), String> {
    use std::io::Read;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpStream};
    if listen.port() == 0 {
        return Err("--listen has port 0: give the port the server listens on".into());
    }
    let ip = match listen.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let addr = SocketAddr::new(ip, listen.port());
    let mut tcp = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let io_err = |e: std::io::Error| format!("{addr}: {e}");
    tcp.set_read_timeout(Some(timeout)).map_err(io_err)?;
    tcp.set_write_timeout(Some(timeout)).map_err(io_err)?;
    write!(
        tcp,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(io_err)?;
    // The status line is all we need; read at most a small head of the answer.
    let mut head = Vec::with_capacity(64);
    tcp.take(64).read_to_end(&mut head).map_err(io_err)?;
    let status_line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let status_line = String::from_utf8_lossy(status_line);
    match status_line.split_whitespace().nth(1) {
        Some("200") => Ok(()),
        Some(code) => Err(format!("{addr} answered /healthz with {code}")),
        None => Err(format!("{addr} sent no HTTP answer")),
    }
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    let n = s.strip_suffix('s').unwrap_or(s);
    n.parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| format!("expected whole seconds like 86400s, got {s:?}"))
}

fn parse_rate_limit(s: &str) -> Result<(u32, Duration), String> {
    let err = || format!("expected N/SECONDSs like 600/60s, got {s:?}");
    let (n, secs) = s.split_once('/').ok_or_else(err)?;
    let n = n.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(err)?;
    let window = parse_seconds(secs).map_err(|_| err())?;
    if window.is_zero() {
        return Err(err());
    }
    Ok((n, window))
}

fn parse_instant(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| format!("expected an RFC 3339 instant like 2026-06-01T09:00:00Z: {e}"))
}

/// One `--token TOKEN=PLAN[:ACCOUNT]` argument as given; `Debug` never shows it.
///
/// Clap only wraps the text (a failing value parser would echo it in clap's error message);
/// [`parse_token`] reads it later with errors that never repeat the token.
#[derive(Clone)]
struct RawToken(String);

impl std::fmt::Debug for RawToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RawToken(<redacted>)")
    }
}

fn raw_token(s: &str) -> Result<RawToken, std::convert::Infallible> {
    Ok(RawToken(s.to_owned()))
}

/// `TOKEN=PLAN[:ACCOUNT]`; errors never repeat the token.
fn parse_token(s: &str, position: usize) -> Result<TokenSpec, String> {
    let bad = |why: &str| format!("--token #{position}: {why} (expected TOKEN=PLAN[:ACCOUNT])");
    let (token, rest) = s.rsplit_once('=').ok_or_else(|| bad("missing '='"))?;
    if token.is_empty() {
        return Err(bad("empty token"));
    }
    let (plan, account) = match rest.split_once(':') {
        Some((p, a)) => (p, Some(a)),
        None => (rest, None),
    };
    let plan: Plan = plan
        .parse()
        .map_err(|_| bad("the plan must be free, pro or business"))?;
    let account = match account {
        Some("") => return Err(bad("empty account")),
        Some(a) => a.to_owned(),
        None => format!("acct_{plan}"),
    };
    Ok(TokenSpec::new(token, plan, account))
}

/// The server's configuration from the command line; `threads` is how many connection threads
/// will serve it (each holds descriptors the connection cap must leave room for).
fn config_from(args: &Args, threads: usize) -> Result<MockConfig, String> {
    let mut config = MockConfig::default()
        .listen(args.listen)
        .rate_limit(args.rate_limit.0, args.rate_limit.1)
        .idempotency_ttl(args.idempotency_ttl)
        .log_requests(!args.quiet)
        .propagation_delay(args.propagation_delay)
        .journal_size(args.journal_size)
        .faults(faults_from(args));
    for (i, raw) in args.tokens.iter().enumerate() {
        let spec = parse_token(&raw.0, i + 1)?;
        config = config.token(spec.token, spec.plan, spec.account);
    }
    if let Some(seed) = args.seed {
        config = config.seed(seed);
    }
    config = config
        .max_codes_per_account(args.max_codes)
        .max_connections(fit_under_descriptor_limit(args.max_connections, threads))
        .header_timeout(args.header_timeout)
        .body_timeout(args.body_timeout);
    if let Some(admin) = &args.admin_token {
        config = config.admin_token(admin.0.clone());
    }
    if let Some(url) = &args.public_url {
        config = config.public_url(url.clone());
    }
    if let Some(start) = args.clock_start {
        config = config.clock(MockClock::manual(start));
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

/// SIGINT and SIGTERM, registered when this is created (before the server starts, so a signal
/// that comes right after the address line is never the default action that kills the process).
struct StopSignals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn register() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            StopSignals {
                term: signal(SignalKind::terminate()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    /// Waits for the next SIGINT or SIGTERM.
    async fn next(&mut self) {
        #[cfg(unix)]
        {
            async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                () = recv(&mut self.term) => {}
                () = recv(&mut self.int) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// How long requests in flight may take to finish after SIGTERM/SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

async fn run(config: MockConfig, dev_tokens: bool, threads: usize) -> ExitCode {
    let mut signals = StopSignals::register();
    let listen = config.rate_limit_config();
    // Connections are served on one thread per core, each its own runtime (see `Workers`); this
    // runtime keeps the accept loop and the signals.
    let started = match Workers::start(threads) {
        Ok(workers) => MockServer::start_on(config.clone(), workers).await,
        Err(e) => Err(e),
    };
    let server = match started {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "heldqr-mock: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let mut out = std::io::stdout().lock();
    let bound = server.local_addr();
    let _ = writeln!(
        out,
        "heldqr-mock listening on {} (bound to {bound})",
        server.base_url()
    );
    if dev_tokens {
        for t in config.tokens() {
            let _ = writeln!(
                out,
                "heldqr-mock dev token: {} (plan {}, account {})",
                t.token, t.plan, t.account
            );
        }
    }
    let _ = writeln!(
        out,
        "heldqr-mock rate limit: {} requests per {} s per token",
        listen.limit,
        listen.window.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "heldqr-mock inspector: {}/_mock/ (open it in a browser to see every request)",
        server.base_url()
    );
    if !config.listens_on_loopback_only() && !config.has_admin_token() {
        tracing::warn!(
            "listening on {bound} with the /_mock routes open to anyone who can reach it (they \
             reset state and move the clock); set --admin-token (HELDQR_MOCK_ADMIN_TOKEN) to \
             guard them"
        );
    }
    if let Some(seed) = server.state().fault_seed() {
        let f = config.fault_config();
        let _ = writeln!(
            out,
            "heldqr-mock faults: {:.1}% of /api/v1 requests (replay with --fault-seed {seed})",
            f.fault_rate() * 100.0
        );
    }
    let _ = out.flush();
    drop(out);
    signals.next().await;
    tracing::info!("shutting down");
    // Requests in flight get a moment to finish; then the rest are cut, so `docker stop` and
    // CI teardown never wait on a slow client (or a long injected latency). A second signal
    // stops at once.
    tokio::select! {
        _ = tokio::time::timeout(SHUTDOWN_GRACE, server.shutdown()) => {}
        () = signals.next() => {}
    }
    ExitCode::SUCCESS
}

/// Runs the binary.
pub fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Command::Probe { timeout }) = args.command {
        return match probe(args.listen, Duration::from_secs(timeout.max(1))) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                let _ = writeln!(std::io::stderr().lock(), "heldqr-mock probe: {e}");
                ExitCode::from(1)
            }
        };
    }
    let threads = connection_threads(&args);
    let config = match config_from(&args, threads) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "heldqr-mock: {e}");
            return ExitCode::from(2);
        }
    };
    // Flushes the buffered log lines when dropped, after the server stopped.
    let _log = match logging::init(&args.log_level, args.log_format) {
        Ok(guard) => guard,
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "heldqr-mock: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr().lock(),
                "heldqr-mock: cannot start the runtime: {e}"
            );
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(run(config, args.tokens.is_empty(), threads));
    // A request stuck on a full log buffer (stderr not read) must not keep the process from
    // exiting: the runtime gets a moment, then the log its own grace (see `logging`).
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_argument_forms() {
        let t = parse_token("tok=pro", 1).unwrap();
        assert_eq!(
            (t.token.as_str(), t.plan, t.account.as_str()),
            ("tok", Plan::Pro, "acct_pro")
        );
        let t = parse_token("tok=business:acct_x", 1).unwrap();
        assert_eq!((t.plan, t.account.as_str()), (Plan::Business, "acct_x"));
        let e = parse_token("secret=gold", 3).unwrap_err();
        assert!(!e.contains("secret"), "{e}");
        assert!(parse_token("secret", 1).is_err());
    }

    #[test]
    fn debug_of_the_arguments_never_shows_a_token() {
        let args = Args::parse_from([
            "heldqr-mock",
            "--token",
            "s3cr3t-one=pro",
            "--token",
            "s3cr3t-two=business:acct_ci",
        ]);
        let shown = format!("{args:?} {args:#?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        // The tokens are still there for the configuration.
        let config = config_from(&args, 1).unwrap();
        let tokens: Vec<_> = config.tokens().iter().map(|t| t.token.clone()).collect();
        assert_eq!(tokens, ["s3cr3t-one", "s3cr3t-two"]);
        assert!(!format!("{config:?}").contains("s3cr3t"));
    }

    #[test]
    fn fault_flags() {
        let args = Args::parse_from([
            "heldqr-mock",
            "--fault-seed",
            "7",
            "--fault-drop",
            "0.05",
            "--fault-reset",
            "0.05",
            "--fault-500",
            "0.04",
            "--fault-503",
            "0.04",
            "--fault-unknown-code",
            "0.02",
            "--fault-429-burst",
            "0.02:4",
            "--fault-latency",
            "0.1:25",
        ]);
        let config = config_from(&args, 1).unwrap();
        let expected = FaultConfig::new()
            .seed(7)
            .drop_after_commit(0.05)
            .reset_after_commit(0.05)
            .internal_error(0.04)
            .service_unavailable(0.04)
            .unknown_code(0.02)
            .rate_limit_burst(0.02, 4)
            .latency(0.1, Duration::from_millis(25));
        assert_eq!(config.fault_config(), &expected);
        assert_eq!(parse_burst("0.5").unwrap(), (0.5, DEFAULT_BURST_LEN));
        assert!(parse_burst("0.5:0").is_err());
        assert!(parse_probability("1.5").is_err());
        assert!(parse_probability("-0.1").is_err());
        assert!(parse_probability("NaN").is_err());
        assert!(parse_latency("0.1").is_err());
        assert!(parse_latency("0.1:60001").is_err());
        let too_much =
            Args::parse_from(["heldqr-mock", "--fault-500", "0.7", "--fault-503", "0.7"]);
        assert!(config_from(&too_much, 1).unwrap_err().contains("add up"));
        let none = Args::parse_from(["heldqr-mock"]);
        assert!(!config_from(&none, 1).unwrap().fault_config().is_enabled());
    }

    #[test]
    fn listen_forms_resolve_no_names() {
        assert_eq!(
            parse_listen("localhost:8080").unwrap(),
            "127.0.0.1:8080".parse().unwrap()
        );
        assert_eq!(
            parse_listen("0.0.0.0:0").unwrap(),
            "0.0.0.0:0".parse().unwrap()
        );
        assert_eq!(parse_listen("[::1]:9").unwrap(), "[::1]:9".parse().unwrap());
        assert!(parse_listen("example.com:80").is_err());
        assert!(parse_listen("localhost:99999").is_err());
        assert!(parse_listen("localhost").is_err());
    }

    #[test]
    fn propagation_delay_and_journal_size() {
        let args = Args::parse_from([
            "heldqr-mock",
            "--propagation-delay",
            "60",
            "--journal-size",
            "0",
        ]);
        assert_eq!(args.propagation_delay, Duration::from_secs(60));
        assert_eq!(args.journal_size, 0);
        let defaults = Args::parse_from(["heldqr-mock"]);
        assert_eq!(defaults.propagation_delay, Duration::ZERO);
        assert_eq!(defaults.journal_size, heldqr_mock::DEFAULT_JOURNAL_SIZE);
        assert!(config_from(&args, 1).is_ok());
    }

    #[test]
    fn threads_default_to_the_cpus_and_are_at_least_one() {
        let args = Args::parse_from(["heldqr-mock", "--threads", "3"]);
        assert_eq!(connection_threads(&args), 3);
        let defaults = Args::parse_from(["heldqr-mock"]);
        assert_eq!(
            connection_threads(&defaults),
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
        assert!(Args::try_parse_from(["heldqr-mock", "--threads", "0"]).is_err());
        assert!(Args::try_parse_from(["heldqr-mock", "--threads", "1024"]).is_ok());
        assert!(Args::try_parse_from(["heldqr-mock", "--threads", "1025"]).is_err());
    }

    #[test]
    fn rate_limit_and_seconds_forms() {
        assert_eq!(
            parse_rate_limit("600/60s").unwrap(),
            (600, Duration::from_secs(60))
        );
        assert_eq!(
            parse_rate_limit("5/1").unwrap(),
            (5, Duration::from_secs(1))
        );
        assert!(parse_rate_limit("0/60s").is_err());
        assert!(parse_rate_limit("10/0s").is_err());
        assert_eq!(parse_seconds("86400s").unwrap(), Duration::from_secs(86400));
    }
}
