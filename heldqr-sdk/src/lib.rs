//! Typed async client for the [Heldqr](https://heldqr.com) Management API: create dynamic QR
//! codes, change where they point, read their scan analytics.
//!
//! The easy path is the correct one: every create carries an `Idempotency-Key` that every
//! retry reuses, so a network blip never creates a duplicate code; 429s wait exactly as long
//! as `Retry-After` says; 5xx, resets and timeouts back off with jitter; error codes this
//! version does not know still arrive as typed errors.
//!
//! # Quick start
//!
//! ```no_run
//! use heldqr_sdk::{Client, CodeStatus};
//!
//! # async fn demo() -> heldqr_sdk::Result<()> {
//! // HELDQR_TOKEN (required) and HELDQR_BASE_URL (optional).
//! let client = Client::from_env()?;
//!
//! // Create: the key is generated unless you give one; it is reused on every retry.
//! let created = client
//!     .codes()
//!     .create("https://example.com/menu")
//!     .label("Restaurant menu")
//!     .send()
//!     .await?;
//! // `scan_url` is optional: the API may leave it out of a response.
//! if let Some(scan_url) = &created.scan_url {
//!     println!("{} encodes {scan_url}", created.shortcode);
//! }
//!
//! // Change the destination; the printed QR keeps working.
//! client
//!     .codes()
//!     .update(&created.shortcode)
//!     .target_url("https://example.com/menu-2026")
//!     .send()
//!     .await?;
//!
//! // Pause it.
//! client.codes().update(&created.shortcode).status(CodeStatus::Paused).send().await?;
//! # Ok(()) }
//! ```
//!
//! Until `api.heldqr.com` answers, the same routes answer on `app.heldqr.com`: set
//! `HELDQR_BASE_URL=https://app.heldqr.com` or use [`FALLBACK_BASE_URL`].
//!
//! # Configuration
//!
//! ```
//! use std::time::Duration;
//! use heldqr_sdk::{Client, RetryPolicy};
//!
//! let client = Client::builder()
//!     .token("hkr_live_...")
//!     .base_url(heldqr_sdk::FALLBACK_BASE_URL) // until api.heldqr.com ships
//!     .timeout(Duration::from_secs(15)) // each attempt
//!     .deadline(Duration::from_secs(60)) // each call, retries and waits included
//!     .retry_policy(RetryPolicy::default().max_retries(5))
//!     .pace_rate_limit(true) // wait for the budget instead of hitting 429s
//!     .build()?;
//! // The token never shows in Debug output or errors.
//! assert!(!format!("{client:?}").contains("hkr_live_"));
//! # Ok::<(), heldqr_sdk::Error>(())
//! ```
//!
//! # Per-request options
//!
//! Every request builder takes `.timeout(..)`, `.retry_policy(..)` or `.max_retries(..)`, and
//! `.deadline(..)` for that call only; the client's settings stay the defaults. They merge
//! with the client's defaults in one place, which the retry loop reads.
//!
//! ```no_run
//! use std::time::Duration;
//! # async fn demo(client: heldqr_sdk::Client) -> heldqr_sdk::Result<()> {
//! // A health probe: one attempt, two seconds, whatever the client's policy.
//! let probe = client
//!     .codes()
//!     .list()
//!     .page_size(1)
//!     .max_retries(0)
//!     .timeout(Duration::from_secs(2))
//!     .send()
//!     .await;
//! // A create that may retry for up to a minute, waits included.
//! let code = client
//!     .codes()
//!     .create("https://example.com/menu")
//!     .max_retries(10)
//!     .deadline(Duration::from_secs(60))
//!     .send()
//!     .await?;
//! # let _ = (probe, code); Ok(()) }
//! ```
//!
//! # Every code, across pages
//!
//! The stream needs only this crate: its `StreamExt` is re-exported in [`stream`].
//!
//! ```no_run
//! use heldqr_sdk::stream::StreamExt;
//!
//! # async fn demo(client: heldqr_sdk::Client) -> heldqr_sdk::Result<()> {
//! let mut codes = client.codes().list().page_size(100).into_stream();
//! while let Some(code) = codes.next().await {
//!     let code = code?;
//!     println!("{} -> {}", code.shortcode, code.target_url);
//! }
//! // Or every code in one Vec:
//! let all = client.codes().list().page_size(100).all().await?;
//! # let _ = all; Ok(()) }
//! ```
//!
//! # Scans, typed by plan
//!
//! ```no_run
//! use heldqr_sdk::ScanReport;
//!
//! # async fn demo(client: heldqr_sdk::Client) -> heldqr_sdk::Result<()> {
//! match client.codes().scans("menu-v3").send().await?.into_inner() {
//!     ScanReport::Free(lifetime) => println!("{} scans", lifetime.total_scans),
//!     ScanReport::Pro(w) | ScanReport::Business(w) => {
//!         println!("{} scans in {} days", w.window_scans, w.window.days);
//!         for device in &w.devices {
//!             println!("  {}: {}", device.device, device.scans);
//!         }
//!     }
//!     other => println!("plan {}: {} scans", other.plan(), other.total_scans()),
//! }
//! # Ok(()) }
//! ```
//!
//! # Errors and retrying later
//!
//! Every failure is an [`Error`]. Server answers in the API's error envelope are
//! [`Error::Api`] with an [`ErrorCode`]; switch on the code, never the message. An error
//! status without the envelope (a proxy's HTML page) is [`Error::Http`]. Every error says how
//! many attempts were made ([`Error::attempts`]) and, when there was a response, its request
//! id ([`Error::request_id`]). Each carries the idempotency key its request used, so a create
//! that failed for good *as far as this process knows* can be retried later (after a crash,
//! tomorrow) without risking a duplicate:
//!
//! ```no_run
//! use heldqr_sdk::{Error, ErrorCode};
//!
//! # async fn demo(client: heldqr_sdk::Client) -> heldqr_sdk::Result<()> {
//! match client.codes().create("https://example.com/menu").shortcode("menu-v3").send().await {
//!     Ok(code) => println!("created {}", code.shortcode),
//!     Err(Error::Api(api)) if api.code == ErrorCode::ShortcodeTaken => {
//!         println!("menu-v3 is taken; pick another");
//!     }
//!     Err(Error::Api(api)) if api.code == ErrorCode::ValidationFailed => {
//!         for (field, problems) in &api.field_errors {
//!             println!("{field}: {}", problems.join(", "));
//!         }
//!     }
//!     Err(err) if err.is_retryable() => {
//!         // Retries were used up: save the key and try again later with it.
//!         println!(
//!             "gave up after {} attempts; try again later with key {:?}",
//!             err.attempts(),
//!             err.idempotency_key()
//!         );
//!     }
//!     Err(err) => return Err(err),
//! }
//! # Ok(()) }
//! ```
//!
//! # Observability
//!
//! With the `tracing` feature (on by default) every call is a span `heldqr.call` (INFO) with
//! `operation`, `http.method`, `url.path`, `idempotency_key`, and at its end `attempts`,
//! `http.status_code`, `request_id` and `elapsed_ms`; each attempt, retry (why, how long) and
//! pacing wait is a DEBUG event, and giving up on a retryable failure is a WARN event. The
//! token is never logged. Bodies are logged only with [`ClientBuilder::log_bodies`], at TRACE,
//! with the token masked. Without the feature the SDK does not depend on `tracing`.
//!
//! ```no_run
//! # async fn demo() -> heldqr_sdk::Result<()> {
//! // With tracing-subscriber in your application: RUST_LOG=heldqr_sdk=debug
//! // tracing_subscriber::fmt().with_env_filter(EnvFilter::from_default_env()).init();
//! let client = heldqr_sdk::ClientBuilder::from_env()?.log_bodies(false).build()?;
//! client.codes().list().send().await?; // one span, one "attempt succeeded" event
//! # Ok(()) }
//! ```
//!
//! # Cargo features
//!
//! | feature | default | what it does |
//! | --- | --- | --- |
//! | `rustls` | yes | TLS with rustls (aws-lc-rs) and the platform's verifier |
//! | `native-tls` | no | TLS with the platform's library instead (OpenSSL on Linux) |
//! | `http2` | yes | HTTP/2 by ALPN, and [`ClientBuilder::http2_prior_knowledge`] |
//! | `tracing` | yes | spans and events as above |
//!
//! `default-features = false, features = ["native-tls"]` builds without rustls and aws-lc;
//! with neither TLS feature only `http://` base URLs work (a mock server, a local proxy).
//!
//! # Testing your application
//!
//! **Unit tests: fakes.** Put the calls your application makes behind a small trait of your
//! own, implement it with the SDK in production and with a fake in tests. Every type a call
//! returns has a constructor ([`Code::new`], [`Page::new`], [`Pagination::new`],
//! [`LifetimeScans::new`], [`WindowedScans::new`], [`Response::new`], [`ResponseMeta::new`])
//! and so do the errors ([`ApiError::new`], [`HttpError::new`]), so the fake returns exactly
//! the value or error the test is about:
//!
//! ```
//! use heldqr_sdk::{ApiError, Code, Error, ErrorCode, Result};
//! use heldqr_sdk::time::OffsetDateTime;
//!
//! // Your application's seam.
//! trait Codes {
//!     async fn create(&self, target: &str) -> Result<Code>;
//! }
//!
//! // Production: the SDK.
//! impl Codes for heldqr_sdk::Client {
//!     async fn create(&self, target: &str) -> Result<Code> {
//!         Ok(self.codes().create(target).send().await?.into_inner())
//!     }
//! }
//!
//! // Tests: a fake that answers what the test needs.
//! struct Taken;
//! impl Codes for Taken {
//!     async fn create(&self, _: &str) -> Result<Code> {
//!         Err(ApiError::new(409, ErrorCode::ShortcodeTaken, "taken").into())
//!     }
//! }
//!
//! // The code under test.
//! async fn publish(codes: &impl Codes) -> String {
//!     match codes.create("https://example.com/menu").await {
//!         Ok(code) => code.shortcode,
//!         Err(Error::Api(api)) if api.code == ErrorCode::ShortcodeTaken => "taken".into(),
//!         Err(_) => "failed".into(),
//!     }
//! }
//!
//! struct Works;
//! impl Codes for Works {
//!     async fn create(&self, target: &str) -> Result<Code> {
//!         Ok(Code::new("menu-v3", target, OffsetDateTime::UNIX_EPOCH))
//!     }
//! }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! assert_eq!(publish(&Taken).await, "taken");
//! assert_eq!(publish(&Works).await, "menu-v3");
//! # });
//! ```
//!
//! **Integration tests: the in-process mock.** The `heldqr-mock` crate runs the whole API in
//! your test process on `127.0.0.1`, port 0: point [`ClientBuilder::base_url`] at it and use
//! its dev tokens (`hkr_test_free`, `hkr_test_pro`, `hkr_test_business`). Its clock moves
//! without sleeping, seeded fault injection (drops, resets, 5xx, 429 bursts) proves your
//! retries, and its request journal (`MockServer::requests`, or `GET /_mock/requests`) shows
//! what your code sent. A dev-dependency on `heldqr-mock` and `tokio` is all it takes:
//!
//! ```
//! use std::time::Duration;
//! use heldqr_mock::{DEV_TOKEN_PRO, FaultConfig, MockConfig, MockServer, RequestFilter};
//! use heldqr_sdk::{Client, RetryPolicy};
//!
//! // In your tests: #[tokio::test] async fn a_create_survives_resets() { ... }
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! // Half the creates have their connection reset right after the server committed them.
//! let faults = FaultConfig::new().seed(7).reset_after_commit(0.5);
//! let mock = MockServer::start(MockConfig::default().faults(faults)).await.unwrap();
//! let client = Client::builder()
//!     .token(DEV_TOKEN_PRO)
//!     .base_url(mock.base_url())
//!     .retry_policy(RetryPolicy::default().max_retries(8).initial_backoff(Duration::from_millis(5)))
//!     .build()
//!     .unwrap();
//!
//! let code = client.codes().create("https://example.com/menu").send().await.unwrap();
//!
//! // The journal holds every attempt, each with the one key the SDK chose.
//! let posts = mock.requests(&RequestFilter::new().method("POST").path("/api/v1/codes"));
//! assert_eq!(posts.len(), code.meta().attempts as usize);
//! assert!(posts.iter().all(|p| p.idempotency_key == code.meta().idempotency_key));
//! // And the account holds exactly one code.
//! assert_eq!(client.codes().list().all().await.unwrap().len(), 1);
//! mock.shutdown().await;
//! # });
//! ```
//!
//! # Anything else
//!
//! [`Client::request`] makes a raw call with the same auth, retries and error handling and
//! returns the JSON body; [`RawRequest::body`] sends bytes as given, and
//! [`RawRequest::send_raw`] returns the status line, the headers (never a credential) and the
//! body's bytes as a [`RawResponse`].

#![warn(missing_docs)]

mod client;
mod codes;
mod config;
#[cfg(test)]
mod contract_tests;
mod enums;
mod error;
mod models;
mod options;
mod pacing;
mod response;
mod retry;
mod telemetry;

pub use client::{Client, MAX_ERROR_BODY_BYTES, MAX_RESPONSE_BYTES, RawRequest, RawResponse};
pub use codes::{Codes, CreateCode, GetCode, GetScans, ListCodes, UpdateCode};
pub use config::{
    ClientBuilder, DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, ENV_BASE_URL,
    ENV_TOKEN, FALLBACK_BASE_URL, SDK_USER_AGENT, validate_base_url,
};
pub use enums::UnknownValue;
pub use error::{ApiError, Error, ErrorCode, HttpError, Result};
pub use models::{
    Code, CodeStatus, CountryScans, DailyScans, Device, DeviceScans, LifetimeScans, Page,
    Pagination, Plan, ScanReport, ScanWindow, UnknownReport, WindowedScans,
};
pub use response::{RateLimit, Response, ResponseHead, ResponseMeta};
pub use retry::RetryPolicy;

/// The `reqwest` version the SDK is built on (for [`reqwest::Method`] in
/// [`Client::request`] and for [`ClientBuilder::http_client`]).
pub use reqwest;

/// The stream traits for [`ListCodes::into_stream`], re-exported so a program needs no
/// `futures` dependency of its own to walk the pages.
pub mod stream {
    pub use futures_util::stream::{Stream, StreamExt, TryStreamExt};
}

/// The `time` version the models use (`time::OffsetDateTime`, `time::Date`).
pub use time;
