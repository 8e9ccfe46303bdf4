//! `GET /api/v1/codes/{shortcode}/scans`: the scans report, shaped by plan.

use reqwest::Method;

use crate::client::Call;
use crate::client::Client;
use crate::error::Result;
use crate::models::ScanReport;
use crate::options::{RequestOptions, request_options};
use crate::response::Response;

/// Builder for [`crate::Codes::scans`].
///
/// ```no_run
/// # async fn demo(client: heldqr_sdk::Client) -> heldqr_sdk::Result<()> {
/// use heldqr_sdk::ScanReport;
/// match client.codes().scans("menu-v3").send().await?.into_inner() {
///     ScanReport::Free(r) => println!("{} scans", r.total_scans),
///     ScanReport::Pro(r) | ScanReport::Business(r) => {
///         for day in &r.daily {
///             println!("{}: {}", day.date, day.scans);
///         }
///     }
///     other => println!("{} scans (plan {})", other.total_scans(), other.plan()),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until `send` is awaited"]
pub struct GetScans {
    client: Client,
    shortcode: String,
    options: RequestOptions,
}

request_options!(GetScans);

impl GetScans {
    pub(crate) fn new(client: Client, shortcode: String) -> Self {
        Self {
            client,
            shortcode,
            options: RequestOptions::default(),
        }
    }

    /// Sends the request.
    pub async fn send(self) -> Result<Response<ScanReport>> {
        let url = self
            .client
            .codes_url(Some(&self.shortcode), Some("scans"))?;
        self.client
            .execute_data(Call::new("codes.scans", Method::GET, url).options(self.options))
            .await
    }
}
