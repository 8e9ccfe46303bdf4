//! Everything that can make `heldqr` fail, and the exit code each failure leaves with.
//!
//! [`CliError`] is the one error type of the CLI; [`ExitStatus`] is the documented table of exit
//! codes (shown in `heldqr --help`). [`CliError::describe`] turns an error into the message,
//! code, detail lines and hints that [`crate::output::Ui::report`] prints as
//! `error: MESSAGE (CODE)`. Messages never contain the token: SDK errors do not carry it, and
//! the CLI's own messages only ever show the masked form.

use std::process::ExitCode;

use heldqr_sdk::{ApiError, ErrorCode};

/// The documented exit codes. Stable: scripts switch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitStatus {
    /// Everything worked.
    Ok = 0,
    /// Anything not listed below: a server error after retries, a response that does not match
    /// the API, a local file that cannot be written.
    Other = 1,
    /// Usage: a bad flag or argument, an unreadable or malformed input file (clap uses 2 too).
    Usage = 2,
    /// Authentication: no token configured, or the API rejected the token (401).
    Auth = 3,
    /// Not found (404): no such code on this account.
    NotFound = 4,
    /// The API rejected the request as invalid: validation failed (422) or a bad request (400,
    /// 405, 413, 415).
    Invalid = 5,
    /// Conflict (409): the shortcode is taken, or an idempotency key was reused with another body.
    Conflict = 6,
    /// Still rate limited (429) after the retries.
    RateLimited = 7,
    /// Network: the API could not be reached, or did not answer in time.
    Network = 8,
    /// `codes import` finished but some rows failed (the summary names them).
    ImportRowsFailed = 9,
    /// Interrupted by Ctrl-C (128 + SIGINT, as shells report it).
    Interrupted = 130,
}

impl ExitStatus {
    /// The process exit code.
    pub fn code(self) -> ExitCode {
        ExitCode::from(self as u8)
    }
}

/// The table printed in `heldqr --help` (kept beside [`ExitStatus`] so they change together).
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    success
  1    other error (server error after retries, unexpected response, local I/O)
  2    usage: bad flag, argument or input file
  3    authentication: no token configured, or the token was rejected (401)
  4    not found (404)
  5    invalid request: validation failed (422) or bad request (400, 405, 413, 415)
  6    conflict (409): shortcode taken, or idempotency key reused with another body
  7    rate limited (429) after retries
  8    network: cannot reach the API, or it timed out
  9    codes import: some rows failed (named in the summary)
  130  interrupted (Ctrl-C)";

/// A failure of the CLI. `Display` is the message without the `error:` prefix or the code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The SDK failed: an API error, the network, an unexpected response.
    #[error("{0}")]
    Sdk(#[from] heldqr_sdk::Error),
    /// A bad argument combination or input the user gave (exit 2).
    #[error("{0}")]
    Usage(String),
    /// No token could be found for the host (exit 3).
    #[error(
        "no API token for {base_url}; run `heldqr auth login`, set HELDQR_TOKEN or pass --token"
    )]
    NoToken {
        /// The host a token was looked for.
        base_url: String,
        /// Whether that host is this machine (a local mock takes any token).
        local_host: bool,
        /// The hosts that do have a stored token (never sent to `base_url`).
        other_hosts: Vec<String>,
    },
    /// The config file or directory is unusable (exit 1).
    #[error("{0}")]
    Config(String),
    /// A local I/O failure (exit 1).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Some rows of an import failed; the summary has already been printed (exit 9).
    #[error("{failed} of {total} rows failed ({rows}); the summary above says why")]
    ImportRowsFailed {
        /// How many rows failed.
        failed: usize,
        /// How many rows the file has.
        total: usize,
        /// The failed rows, as printed (`rows 2, 5, 9`).
        rows: String,
    },
    /// Ctrl-C: stopped cleanly, what was done has been reported (exit 130).
    #[error("stopped by Ctrl-C")]
    Interrupted,
    /// Writing to stdout failed because the reader went away (`| head`): quiet success.
    #[error("broken pipe")]
    BrokenPipe,
    /// Anything else (exit 1).
    #[error("{0}")]
    Other(String),
}

impl CliError {
    /// An I/O error with context; a broken pipe becomes [`CliError::BrokenPipe`].
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::BrokenPipe {
            return CliError::BrokenPipe;
        }
        CliError::Io {
            context: context.into(),
            source,
        }
    }

    /// The exit status this error leaves with.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            CliError::Sdk(err) => sdk_exit_status(err),
            CliError::Usage(_) => ExitStatus::Usage,
            CliError::NoToken { .. } => ExitStatus::Auth,
            CliError::Config(_) | CliError::Io { .. } | CliError::Other(_) => ExitStatus::Other,
            CliError::ImportRowsFailed { .. } => ExitStatus::ImportRowsFailed,
            CliError::Interrupted => ExitStatus::Interrupted,
            CliError::BrokenPipe => ExitStatus::Ok,
        }
    }

    /// The short identifier shown in parentheses after the message.
    pub fn code(&self) -> &str {
        match self {
            CliError::Sdk(err) => sdk_code(err),
            CliError::Usage(_) => "usage",
            CliError::NoToken { .. } => "no_token",
            CliError::Config(_) => "config",
            CliError::Io { .. } => "io",
            CliError::ImportRowsFailed { .. } => "import_rows_failed",
            CliError::Interrupted => "interrupted",
            CliError::BrokenPipe => "broken_pipe",
            CliError::Other(_) => "error",
        }
    }
}

/// An error as printed: `error: {message} ({code})`, then `details` (one per line), then hints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    /// The message.
    pub message: String,
    /// The short code in parentheses.
    pub code: String,
    /// Lines printed under the message (field errors, request id).
    pub details: Vec<String>,
    /// `hint:` lines: what to do next.
    pub hints: Vec<String>,
}

/// What the hints may assume about the run that failed, so they point somewhere useful.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HintContext {
    /// Which command failed, where a hint depends on it.
    pub command: HintCommand,
    /// The host is this machine (`localhost`, a loopback address): most likely a local
    /// `heldqr-mock`, so token hints name its dev tokens instead of how to get a real one.
    pub local_host: bool,
    /// The host is the built-in production host (`https://api.heldqr.com`): when it cannot be
    /// reached, the hint names the fallback host that serves the same routes until it ships.
    pub default_host: bool,
}

/// The commands whose failures need their own hints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HintCommand {
    /// `auth status`: do not send the user back to it.
    AuthStatus,
    /// `auth login`: the token just given was rejected; nothing was saved.
    AuthLogin,
    /// `codes import`: each row's idempotency key comes from the row, so running the same
    /// command again is the safe retry (the import says so itself); there is no key to pass.
    Import,
    /// Anything else.
    #[default]
    Other,
}

/// The dev tokens `heldqr-mock` serves when started without `--token`.
const MOCK_DEV_TOKENS_HINT: &str = "a local heldqr-mock accepts its dev tokens hkr_test_free, hkr_test_pro and hkr_test_business (it prints them at start) unless started with --token";

/// Where a token comes from.
fn get_a_token_hint(local_host: bool) -> String {
    if local_host {
        MOCK_DEV_TOKENS_HINT.into()
    } else {
        "get a token by emailing api@heldqr.com".into()
    }
}

impl CliError {
    /// The message, code, details and hints to print, with hints for any command.
    #[cfg(test)]
    pub fn describe(&self) -> Described {
        self.describe_in(HintContext::default())
    }

    /// The message, code, details and hints to print after a run described by `context`.
    pub fn describe_in(&self, context: HintContext) -> Described {
        let mut details = Vec::new();
        let mut hints = Vec::new();
        let message = match self {
            CliError::Sdk(err) => describe_sdk(err, context, &mut details, &mut hints),
            CliError::NoToken {
                base_url,
                local_host,
                other_hosts,
            } => {
                if !other_hosts.is_empty() {
                    hints.push(format!(
                        "a stored token is only sent to its own host; tokens are stored for {}: pick one with --base-url or `heldqr auth switch --base-url URL`, or log in here with `heldqr auth login --base-url {base_url}`",
                        other_hosts.join(", ")
                    ));
                }
                hints.push(get_a_token_hint(context.local_host || *local_host));
                self.to_string()
            }
            other => other.to_string(),
        };
        Described {
            message,
            code: self.code().to_string(),
            details,
            hints,
        }
    }
}

/// How an SDK error is printed (also used for the failed rows of an import).
pub fn describe_sdk_error(err: &heldqr_sdk::Error) -> Described {
    let mut details = Vec::new();
    let mut hints = Vec::new();
    let message = describe_sdk(err, HintContext::default(), &mut details, &mut hints);
    Described {
        message,
        code: sdk_code(err).to_string(),
        details,
        hints,
    }
}

fn describe_sdk(
    err: &heldqr_sdk::Error,
    context: HintContext,
    details: &mut Vec<String>,
    hints: &mut Vec<String>,
) -> String {
    use heldqr_sdk::Error;
    let message = match err {
        Error::Api(api) => {
            match &api.code {
                ErrorCode::Unauthorized => {
                    hints.push(match context.command {
                        HintCommand::AuthStatus => "the API rejected this token: store a working one with `heldqr auth login`, or fix --token / HELDQR_TOKEN if the source above is one of them".into(),
                        HintCommand::AuthLogin => "the API rejected the token you gave, so nothing was saved: check it was copied whole".into(),
                        HintCommand::Import | HintCommand::Other => "check the token with `heldqr auth status`; store a new one with `heldqr auth login`".into(),
                    });
                    hints.push(get_a_token_hint(context.local_host));
                }
                ErrorCode::RateLimited => {
                    let wait = api
                        .retry_after
                        .map(|d| format!(" (the API asked to wait {}s)", d.as_secs()))
                        .unwrap_or_default();
                    hints.push(format!(
                        "the rate limit is still spent after retrying{wait}; try again later"
                    ));
                }
                _ => {}
            }
            if api.idempotent_replay {
                hints.push(
                    "this is the answer the API stored for this idempotency key; a changed request needs a new key".into(),
                );
            }
            if api.status >= 500
                && let Some(id) = &api.request_id
            {
                details.push(format!("  request id: {id} (quote it to support)"));
            }
            // The first line says what is wrong with which field, so the one line a script
            // keeps (`2>&1 | head -1`) is enough to fix the input.
            let fields: Vec<String> = api
                .field_errors
                .iter()
                .flat_map(|(field, problems)| {
                    problems
                        .iter()
                        .map(move |problem| format!("{field}: {problem}"))
                })
                .collect();
            let message = api_message(api);
            let message = if fields.is_empty() {
                message
            } else {
                format!(
                    "{}: {}",
                    message.trim_end().trim_end_matches('.'),
                    fields.join("; ")
                )
            };
            format!("{message}{}", after_attempts(err, " (", ")"))
        }
        Error::Http(http) => {
            if http.status >= 500
                && let Some(id) = &http.request_id
            {
                details.push(format!("  request id: {id} (quote it to support)"));
            }
            format!("{}{}", http.message, after_attempts(err, " (", ")"))
        }
        Error::Transport { message, .. } => {
            if context.default_host && is_connect_error(err) {
                hints.push(default_host_unreachable_hint());
            }
            format!(
                "cannot reach the API{}: {message}",
                after_attempts(err, " ", "")
            )
        }
        Error::Timeout {
            deadline_exceeded, ..
        } => {
            let what = if *deadline_exceeded {
                "the API did not answer within the time allowed for the call"
            } else {
                "the API did not answer in time"
            };
            format!("{what}{}", after_attempts(err, " ", ""))
        }
        Error::Decode {
            status, message, ..
        } => {
            format!("unexpected response from the API (HTTP {status}): {message}")
        }
        Error::Config(message) => message.clone(),
        other => other.to_string(),
    };
    if may_have_reached_the_server(err)
        && context.command != HintCommand::Import
        && let Some(key) = err.idempotency_key()
    {
        hints.push(format!(
                "the create may have gone through; run the same command with --idempotency-key {key} to retry it without a duplicate"
            ));
    }
    message
}

/// `after N attempts` between `before` and `after` when the SDK retried, else nothing: an error
/// after retries says how many attempts were made.
fn after_attempts(err: &heldqr_sdk::Error, before: &str, after: &str) -> String {
    match err.attempts() {
        n if n > 1 => format!("{before}after {n} attempts{after}"),
        _ => String::new(),
    }
}

/// The published description: until `api.heldqr.com` ships, the same routes answer on
/// `app.heldqr.com`. The CLI says so instead of switching hosts on its own (a token goes only
/// where the user pointed it).
fn default_host_unreachable_hint() -> String {
    format!(
        "{} does not answer yet; until it ships the same API answers on {}: add --base-url {}, or log in there with `heldqr auth login --base-url {}` (it becomes the default host)",
        heldqr_sdk::DEFAULT_BASE_URL,
        heldqr_sdk::FALLBACK_BASE_URL,
        heldqr_sdk::FALLBACK_BASE_URL,
        heldqr_sdk::FALLBACK_BASE_URL
    )
}

/// Whether a failed request may have been processed: the server may have committed it (a
/// timeout, a connection lost after sending, a 5xx, an error code this CLI does not know, an
/// answer whose body could not be read). A
/// connection that was never made (refused, DNS) sent nothing, and a 429 or a known 4xx
/// committed nothing.
pub(crate) fn may_have_reached_the_server(err: &heldqr_sdk::Error) -> bool {
    use heldqr_sdk::Error;
    match err {
        Error::Timeout { .. } => true,
        Error::Transport { .. } => !is_connect_error(err),
        Error::Api(api) => api.status >= 500 || matches!(&api.code, ErrorCode::Unknown(_)),
        Error::Http(http) => http.status >= 500,
        // A success status with a body the SDK could not read: the create went through.
        Error::Decode { .. } => true,
        _ => false,
    }
}

/// A failure to open the connection (refused, unreachable, DNS), found in the source chain.
fn is_connect_error(err: &heldqr_sdk::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(error) = cause {
        if let Some(reqwest) = error.downcast_ref::<heldqr_sdk::reqwest::Error>()
            && reqwest.is_connect()
        {
            return true;
        }
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::AddrNotAvailable
            )
        {
            return true;
        }
        cause = error.source();
    }
    false
}

fn api_message(api: &ApiError) -> String {
    if api.message.trim().is_empty() {
        format!("the API answered HTTP {}", api.status)
    } else {
        api.message.clone()
    }
}

fn sdk_code(err: &heldqr_sdk::Error) -> &str {
    use heldqr_sdk::Error;
    match err {
        Error::Api(api) => api.code.as_str(),
        Error::Http(_) => "http_error",
        Error::Transport { .. } => "network",
        Error::Timeout { .. } => "timeout",
        Error::Decode { .. } => "unexpected_response",
        Error::Config(_) => "usage",
        _ => "error",
    }
}

fn sdk_exit_status(err: &heldqr_sdk::Error) -> ExitStatus {
    use heldqr_sdk::Error;
    match err {
        Error::Api(api) => match &api.code {
            ErrorCode::Unauthorized => ExitStatus::Auth,
            ErrorCode::NotFound => ExitStatus::NotFound,
            ErrorCode::ValidationFailed
            | ErrorCode::InvalidJson
            | ErrorCode::InvalidParameter
            | ErrorCode::InvalidIdempotencyKey
            | ErrorCode::MethodNotAllowed
            | ErrorCode::PayloadTooLarge
            | ErrorCode::UnsupportedMediaType => ExitStatus::Invalid,
            ErrorCode::IdempotencyKeyConflict | ErrorCode::ShortcodeTaken => ExitStatus::Conflict,
            ErrorCode::RateLimited => ExitStatus::RateLimited,
            _ => status_exit_status(api.status),
        },
        Error::Http(http) => status_exit_status(http.status),
        Error::Transport { .. } | Error::Timeout { .. } => ExitStatus::Network,
        Error::Config(_) => ExitStatus::Usage,
        _ => ExitStatus::Other,
    }
}

/// The exit status for an error answer judged by its HTTP status alone.
fn status_exit_status(status: u16) -> ExitStatus {
    match status {
        401 => ExitStatus::Auth,
        404 => ExitStatus::NotFound,
        400 | 405 | 413 | 415 | 422 => ExitStatus::Invalid,
        409 => ExitStatus::Conflict,
        429 => ExitStatus::RateLimited,
        _ => ExitStatus::Other,
    }
}

/// Converts an I/O error while writing to stdout.
impl From<std::io::Error> for CliError {
    fn from(err: std::io::Error) -> Self {
        CliError::io("cannot write output", err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_table_lists_every_status() {
        for status in [
            ExitStatus::Ok,
            ExitStatus::Other,
            ExitStatus::Usage,
            ExitStatus::Auth,
            ExitStatus::NotFound,
            ExitStatus::Invalid,
            ExitStatus::Conflict,
            ExitStatus::RateLimited,
            ExitStatus::Network,
            ExitStatus::ImportRowsFailed,
            ExitStatus::Interrupted,
        ] {
            let line = format!("\n  {:<5}", status as u8);
            assert!(EXIT_CODES_HELP.contains(&line), "missing {status:?}");
        }
    }

    #[test]
    fn only_requests_that_may_have_been_processed_get_the_retry_hint() {
        assert!(may_have_reached_the_server(&heldqr_sdk::Error::Timeout {
            idempotency_key: Some("k".into()),
            request_id: None,
            attempts: 1,
            deadline_exceeded: false,
        }));
        let refused = heldqr_sdk::Error::Transport {
            message: "connect".into(),
            idempotency_key: Some("k".into()),
            request_id: None,
            attempts: 1,
            source: Some(Box::new(std::io::Error::from(
                std::io::ErrorKind::ConnectionRefused,
            ))),
        };
        assert!(!may_have_reached_the_server(&refused));
        let reset = heldqr_sdk::Error::Transport {
            message: "reset".into(),
            idempotency_key: Some("k".into()),
            request_id: None,
            attempts: 1,
            source: Some(Box::new(std::io::Error::from(
                std::io::ErrorKind::ConnectionReset,
            ))),
        };
        assert!(may_have_reached_the_server(&reset));
    }

    #[test]
    fn an_import_is_retried_by_running_it_again_not_with_a_key() {
        let timeout = CliError::Sdk(heldqr_sdk::Error::Timeout {
            idempotency_key: Some("row-key".into()),
            request_id: None,
            attempts: 4,
            deadline_exceeded: false,
        });
        let create = timeout.describe();
        assert!(
            create
                .hints
                .iter()
                .any(|h| h.contains("--idempotency-key row-key")),
            "{create:?}"
        );
        let import = timeout.describe_in(HintContext {
            command: HintCommand::Import,
            ..HintContext::default()
        });
        assert!(
            import
                .hints
                .iter()
                .all(|h| !h.contains("--idempotency-key")),
            "{import:?}"
        );
    }

    #[test]
    fn errors_after_retries_say_how_many_attempts() {
        let timeout = |attempts| heldqr_sdk::Error::Timeout {
            idempotency_key: None,
            request_id: None,
            attempts,
            deadline_exceeded: false,
        };
        assert_eq!(
            describe_sdk_error(&timeout(4)).message,
            "the API did not answer in time after 4 attempts"
        );
        assert_eq!(
            describe_sdk_error(&timeout(1)).message,
            "the API did not answer in time"
        );
        let api = heldqr_sdk::Error::Api(Box::new(
            heldqr_sdk::ApiError::new(503, ErrorCode::ServiceUnavailable, "Try later.")
                .with_attempts(3),
        ));
        assert_eq!(
            describe_sdk_error(&api).message,
            "Try later. (after 3 attempts)"
        );
    }

    #[test]
    fn broken_pipe_is_quiet_success() {
        let err = CliError::io("x", std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert_eq!(err.exit_status(), ExitStatus::Ok);
    }

    /// Only a refused or unresolvable connection to the production host names the fallback
    /// host; any other host, or an answer from it, does not.
    #[test]
    fn an_unreachable_default_host_names_the_fallback() {
        let refused = CliError::Sdk(heldqr_sdk::Error::Transport {
            message: "connect".into(),
            idempotency_key: None,
            request_id: None,
            attempts: 1,
            source: Some(Box::new(std::io::Error::from(
                std::io::ErrorKind::ConnectionRefused,
            ))),
        });
        let default_host = HintContext {
            default_host: true,
            ..HintContext::default()
        };
        let names_fallback = |d: &Described| {
            d.hints
                .iter()
                .any(|h| h.contains(heldqr_sdk::FALLBACK_BASE_URL))
        };
        assert!(names_fallback(&refused.describe_in(default_host)));
        assert!(!names_fallback(
            &refused.describe_in(HintContext::default())
        ));
        let timeout = CliError::Sdk(heldqr_sdk::Error::Timeout {
            idempotency_key: None,
            request_id: None,
            attempts: 1,
            deadline_exceeded: false,
        });
        assert!(!names_fallback(&timeout.describe_in(default_host)));
    }
}
