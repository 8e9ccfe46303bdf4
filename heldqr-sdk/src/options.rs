//! Per-call settings: what a request builder may override ([`RequestOptions`]), the client's
//! defaults ([`Defaults`]), and the one place they merge ([`Defaults::merge`]) into the
//! [`Settings`] the retry loop reads.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::retry::RetryPolicy;

/// A caller's hook, run just before each attempt goes on the wire (see `on_send` on the
/// request builders).
#[derive(Clone)]
pub(crate) struct OnSend(pub(crate) Arc<dyn Fn(u32) + Send + Sync>);

impl fmt::Debug for OnSend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OnSend(..)")
    }
}

impl PartialEq for OnSend {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// A caller's hook, run when a failed attempt is about to be retried (see `on_retry` on the
/// request builders).
#[derive(Clone)]
pub(crate) struct OnRetry(pub(crate) Arc<RetryHook>);

/// The attempt's number, its error, and the wait before the next attempt.
pub(crate) type RetryHook = dyn Fn(u32, &crate::Error, Duration) + Send + Sync;

impl fmt::Debug for OnRetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OnRetry(..)")
    }
}

impl PartialEq for OnRetry {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// What one call overrides; `None` keeps the client's default.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestOptions {
    /// `Some(None)`: no per-attempt timeout for this call.
    pub(crate) timeout: Option<Option<Duration>>,
    pub(crate) retry: Option<RetryPolicy>,
    /// Applied on top of whichever policy wins.
    pub(crate) max_retries: Option<u32>,
    /// `Some(None)`: no deadline for this call.
    pub(crate) deadline: Option<Option<Duration>>,
    pub(crate) on_send: Option<OnSend>,
    pub(crate) on_retry: Option<OnRetry>,
}

/// The client's defaults, set on [`crate::ClientBuilder`].
#[derive(Debug, Clone)]
pub(crate) struct Defaults {
    pub(crate) timeout: Option<Duration>,
    pub(crate) retry: RetryPolicy,
    pub(crate) deadline: Option<Duration>,
}

/// What the retry loop uses for one call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Settings {
    /// Per-attempt timeout.
    pub(crate) timeout: Option<Duration>,
    pub(crate) retry: RetryPolicy,
    /// Overall time for the call: attempts, backoff, `Retry-After` and pacing waits.
    pub(crate) deadline: Option<Duration>,
    /// Told each attempt's number as it goes on the wire (a per-call hook only).
    pub(crate) on_send: Option<OnSend>,
    /// Told each failed attempt that is retried, and the wait before the next (per call).
    pub(crate) on_retry: Option<OnRetry>,
}

impl Defaults {
    /// The one merge of client defaults and per-call options: a per-call value wins, and
    /// `max_retries` applies to whichever policy won.
    pub(crate) fn merge(&self, options: &RequestOptions) -> Settings {
        let mut retry = options.retry.clone().unwrap_or_else(|| self.retry.clone());
        if let Some(max_retries) = options.max_retries {
            retry.max_retries = max_retries;
        }
        Settings {
            timeout: options.timeout.unwrap_or(self.timeout),
            retry,
            deadline: options.deadline.unwrap_or(self.deadline),
            on_send: options.on_send.clone(),
            on_retry: options.on_retry.clone(),
        }
    }
}

/// Adds `timeout`, `no_timeout`, `retry_policy`, `max_retries`, `deadline`, `no_deadline`,
/// `on_send` and `on_retry` to a request builder with an `options: RequestOptions` field.
macro_rules! request_options {
    ($builder:ty) => {
        impl $builder {
            /// Per-attempt timeout for this call only, overriding
            /// [`ClientBuilder::timeout`](crate::ClientBuilder::timeout).
            pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
                self.options.timeout = Some(Some(timeout));
                self
            }

            /// No per-attempt timeout for this call (the deadline, if any, still applies).
            pub fn no_timeout(mut self) -> Self {
                self.options.timeout = Some(None);
                self
            }

            /// The retry policy for this call only, overriding
            /// [`ClientBuilder::retry_policy`](crate::ClientBuilder::retry_policy).
            pub fn retry_policy(mut self, policy: $crate::RetryPolicy) -> Self {
                self.options.retry = Some(policy);
                self
            }

            /// Retries after the first attempt for this call only (the rest of the policy as
            /// configured); `0` sends exactly one attempt.
            pub fn max_retries(mut self, max_retries: u32) -> Self {
                self.options.max_retries = Some(max_retries);
                self
            }

            /// Overall time for this call, retries, backoff, `Retry-After` and pacing waits
            /// included, overriding
            /// [`ClientBuilder::deadline`](crate::ClientBuilder::deadline). When it runs out
            /// the call returns its last error (or [`Error::Timeout`](crate::Error::Timeout)
            /// with `deadline_exceeded`), never a retry that could not finish in time.
            pub fn deadline(mut self, deadline: std::time::Duration) -> Self {
                self.options.deadline = Some(Some(deadline));
                self
            }

            /// No overall deadline for this call.
            pub fn no_deadline(mut self) -> Self {
                self.options.deadline = Some(None);
                self
            }

            /// Calls `hook` with the attempt's number (1 for the first) just before each
            /// attempt goes on the wire: after any wait for the rate limit (see
            /// [`ClientBuilder::pace_rate_limit`](crate::ClientBuilder::pace_rate_limit)) or
            /// backoff. A call dropped before the hook first ran sent nothing, so a caller
            /// that cancels (a Ctrl-C, a timeout of its own) can tell "never sent" from "may
            /// have been processed". The count is per call: a list walked page by page
            /// (`all`, `into_stream`) makes a call per page, each from attempt 1. Keep it short:
            /// it runs on the request's task.
            ///
            /// ```
            /// # async fn demo(client: heldqr_sdk::Client) -> heldqr_sdk::Result<()> {
            /// use std::sync::Arc;
            /// use std::sync::atomic::{AtomicU32, Ordering};
            ///
            /// let sent = Arc::new(AtomicU32::new(0));
            /// let seen = Arc::clone(&sent);
            /// let code = client
            ///     .codes()
            ///     .create("https://example.com/menu")
            ///     .on_send(move |attempt| seen.store(attempt, Ordering::Relaxed))
            ///     .send()
            ///     .await?;
            /// assert!(sent.load(Ordering::Relaxed) >= 1);
            /// # let _ = code;
            /// # Ok(())
            /// # }
            /// ```
            pub fn on_send(mut self, hook: impl Fn(u32) + Send + Sync + 'static) -> Self {
                self.options.on_send = Some($crate::options::OnSend(std::sync::Arc::new(hook)));
                self
            }

            /// Calls `hook` with the attempt's number, its error and the wait before the next
            /// attempt, each time a failed attempt is retried (not for the last, whose error
            /// the call returns). With [`Error::is_retryable`](crate::Error::is_retryable)
            /// errors only: a 429, a 5xx, a transport error or timeout, a proxy's 408, an
            /// error code this SDK does not know; never another 4xx. A caller that needs to know whether *any*
            /// attempt may have been processed (a timeout, a 5xx) looks here as well as at
            /// the returned error. Keep it short: it runs on the request's task.
            ///
            /// ```
            /// # async fn demo(client: heldqr_sdk::Client) -> heldqr_sdk::Result<()> {
            /// let code = client
            ///     .codes()
            ///     .create("https://example.com/menu")
            ///     .on_retry(|attempt, error, wait| {
            ///         eprintln!("attempt {attempt} failed ({error}); again in {wait:?}");
            ///     })
            ///     .send()
            ///     .await?;
            /// # let _ = code;
            /// # Ok(())
            /// # }
            /// ```
            pub fn on_retry(
                mut self,
                hook: impl Fn(u32, &$crate::Error, std::time::Duration) + Send + Sync + 'static,
            ) -> Self {
                self.options.on_retry = Some($crate::options::OnRetry(std::sync::Arc::new(hook)));
                self
            }
        }
    };
}

pub(crate) use request_options;

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Defaults {
        Defaults {
            timeout: Some(Duration::from_secs(30)),
            retry: RetryPolicy::default(),
            deadline: None,
        }
    }

    #[test]
    fn nothing_set_is_the_client_default() {
        let settings = defaults().merge(&RequestOptions::default());
        assert_eq!(settings.timeout, Some(Duration::from_secs(30)));
        assert_eq!(settings.retry, RetryPolicy::default());
        assert_eq!(settings.deadline, None);
    }

    #[test]
    fn per_call_values_win() {
        let options = RequestOptions {
            timeout: Some(None),
            retry: Some(RetryPolicy::none().jitter(false)),
            max_retries: None,
            deadline: Some(Some(Duration::from_secs(5))),
            on_send: Some(OnSend(Arc::new(|_| {}))),
            on_retry: Some(OnRetry(Arc::new(|_, _, _| {}))),
        };
        let settings = defaults().merge(&options);
        assert_eq!(settings.timeout, None);
        assert_eq!(settings.retry, RetryPolicy::none().jitter(false));
        assert_eq!(settings.deadline, Some(Duration::from_secs(5)));
        assert_eq!(settings.on_send, options.on_send);
        assert_eq!(settings.on_retry, options.on_retry);
    }

    #[test]
    fn max_retries_applies_to_the_winning_policy() {
        let mut client = defaults();
        client.retry = RetryPolicy::default().max_retry_after(Duration::from_secs(90));
        let settings = client.merge(&RequestOptions {
            max_retries: Some(7),
            ..RequestOptions::default()
        });
        assert_eq!(settings.retry.max_retries, 7);
        assert_eq!(settings.retry.max_retry_after, Duration::from_secs(90));
        let settings = client.merge(&RequestOptions {
            retry: Some(RetryPolicy::default()),
            max_retries: Some(0),
            ..RequestOptions::default()
        });
        assert_eq!(settings.retry, RetryPolicy::none());
    }
}
