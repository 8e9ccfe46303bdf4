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
//! println!("{} encodes {}", created.shortcode, created.scan_url);
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
//! # Configuration
//!
//! ```
//! use std::time::Duration;
//! use heldqr_sdk::{Client, RetryPolicy};
//!
//! let client = Client::builder()
//!     .token("hkr_live_...")
//!     .base_url(heldqr_sdk::FALLBACK_BASE_URL) // until api.heldqr.com ships
//!     .timeout(Duration::from_secs(15))
//!     .retry_policy(RetryPolicy::default().max_retries(5))
//!     .pace_rate_limit(true) // wait for the budget instead of hitting 429s
//!     .build()?;
//! // The token never shows in Debug output or errors.
//! assert!(!format!("{client:?}").contains("hkr_live_"));
//! # Ok::<(), heldqr_sdk::Error>(())
//! ```
//!
//! # Every code, across pages
//!
//! ```no_run
//! use futures_util::StreamExt;
//!
//! # async fn demo(client: heldqr_sdk::Client) -> heldqr_sdk::Result<()> {
//! let mut codes = client.codes().list().page_size(100).into_stream();
//! while let Some(code) = codes.next().await {
//!     let code = code?;
//!     println!("{} -> {}", code.shortcode, code.target_url);
//! }
//! # Ok(()) }
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
//! Every failure is an [`Error`]. Server answers are [`Error::Api`] with an [`ErrorCode`];
//! switch on the code, never the message. Each error carries the idempotency key its request
//! used, so a create that failed for good *as far as this process knows* can be retried later
//! (after a crash, tomorrow) without risking a duplicate:
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
//!         println!("try again later with key {:?}", err.idempotency_key());
//!     }
//!     Err(err) => return Err(err),
//! }
//! # Ok(()) }
//! ```
//!
//! # Anything else
//!
//! [`Client::request`] makes a raw call with the same auth, retries and error handling and
//! returns the JSON body.
//!
//! # Testing against the mock server
//!
//! The `heldqr-mock` crate runs the whole API in-process; point [`ClientBuilder::base_url`]
//! at its `base_url()` and use its dev tokens (`hkr_test_free`, `hkr_test_pro`,
//! `hkr_test_business`).

#![warn(missing_docs)]

mod client;
mod codes;
mod config;
#[cfg(test)]
mod contract_tests;
mod enums;
mod error;
mod models;
mod pacing;
mod response;
mod retry;

pub use client::{Client, MAX_ERROR_BODY_BYTES, MAX_RESPONSE_BYTES, RawRequest};
pub use codes::{Codes, CreateCode, GetCode, GetScans, ListCodes, UpdateCode};
pub use config::{
    ClientBuilder, DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, ENV_BASE_URL,
    ENV_TOKEN, FALLBACK_BASE_URL, SDK_USER_AGENT, validate_base_url,
};
pub use error::{ApiError, Error, ErrorCode, Result};
pub use models::{
    Code, CodeStatus, CountryScans, DailyScans, Device, DeviceScans, LifetimeScans, Page,
    Pagination, Plan, ScanReport, ScanWindow, WindowedScans,
};
pub use response::{RateLimit, Response, ResponseMeta};
pub use retry::RetryPolicy;

/// The `reqwest` version the SDK is built on (for [`reqwest::Method`] in
/// [`Client::request`] and for [`ClientBuilder::http_client`]).
pub use reqwest;

/// The `time` version the models use (`time::OffsetDateTime`, `time::Date`).
pub use time;
