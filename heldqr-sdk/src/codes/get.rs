//! `GET /api/v1/codes/{shortcode}`: read one code.

use reqwest::Method;

use crate::client::Call;
use crate::client::Client;
use crate::error::Result;
use crate::models::Code;
use crate::options::{RequestOptions, request_options};
use crate::response::Response;

/// Builder for [`crate::Codes::get`].
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until `send` is awaited"]
pub struct GetCode {
    client: Client,
    shortcode: String,
    options: RequestOptions,
}

request_options!(GetCode);

impl GetCode {
    pub(crate) fn new(client: Client, shortcode: String) -> Self {
        Self {
            client,
            shortcode,
            options: RequestOptions::default(),
        }
    }

    /// Sends the request. A code on another account answers 404 like a missing one.
    pub async fn send(self) -> Result<Response<Code>> {
        let url = self.client.codes_url(Some(&self.shortcode), None)?;
        self.client
            .execute_data(Call::new("codes.get", Method::GET, url).options(self.options))
            .await
    }
}
