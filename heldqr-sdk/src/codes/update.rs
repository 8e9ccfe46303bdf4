//! `PATCH /api/v1/codes/{shortcode}`: change target, label or status.

use reqwest::Method;
use serde::Serialize;

use crate::client::Call;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::models::{Code, CodeStatus};
use crate::options::{RequestOptions, request_options};
use crate::response::Response;

/// Builder for [`crate::Codes::update`]; serializes to the request body, which holds only
/// the fields set (an empty body changes nothing and returns the code).
///
/// ```no_run
/// # async fn demo(client: heldqr_sdk::Client) -> heldqr_sdk::Result<()> {
/// use heldqr_sdk::CodeStatus;
/// let code = client
///     .codes()
///     .update("menu-v3")
///     .target_url("https://example.com/menu-2026")
///     .clear_label()
///     .status(CodeStatus::Active)
///     .send()
///     .await?;
/// # let _ = code; Ok(()) }
/// ```
#[derive(Debug, Clone, Serialize)]
#[must_use = "a request does nothing until `send` is awaited"]
pub struct UpdateCode {
    #[serde(skip)]
    client: Client,
    #[serde(skip)]
    shortcode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_url: Option<String>,
    /// `Some(None)` sends `"label": null` (clears it).
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<CodeStatus>,
    #[serde(skip)]
    options: RequestOptions,
}

request_options!(UpdateCode);

impl UpdateCode {
    pub(crate) fn new(client: Client, shortcode: String) -> Self {
        Self {
            client,
            shortcode,
            target_url: None,
            label: None,
            status: None,
            options: RequestOptions::default(),
        }
    }

    /// A new destination; the printed QR keeps working and scans land there.
    pub fn target_url(mut self, target_url: impl Into<String>) -> Self {
        self.target_url = Some(target_url.into());
        self
    }

    /// A new label.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(Some(label.into()));
        self
    }

    /// Removes the label (sends `"label": null`).
    pub fn clear_label(mut self) -> Self {
        self.label = Some(None);
        self
    }

    /// Pauses ([`CodeStatus::Paused`]) or resumes ([`CodeStatus::Active`]) the code.
    pub fn status(mut self, status: CodeStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Sends the request. Retried like a read: setting fields twice is harmless.
    pub async fn send(self) -> Result<Response<Code>> {
        let url = self.client.codes_url(Some(&self.shortcode), None)?;
        let body = serde_json::to_vec(&self)
            .map_err(|e| Error::config(format!("could not serialize the body: {e}")))?;
        self.client
            .execute_data(
                Call::new("codes.update", Method::PATCH, url)
                    .body(body)
                    .options(self.options),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use crate::codes::test_client;
    use crate::models::CodeStatus;
    use serde_json::json;

    #[test]
    fn body_has_only_what_was_set() {
        let codes = test_client().codes();
        assert_eq!(
            serde_json::to_value(codes.update("menu-v3")).unwrap(),
            json!({})
        );
        assert_eq!(
            serde_json::to_value(
                codes
                    .update("menu-v3")
                    .target_url("https://example.com/menu-2026")
            )
            .unwrap(),
            json!({"target_url": "https://example.com/menu-2026"})
        );
        assert_eq!(
            serde_json::to_value(codes.update("menu-v3").clear_label()).unwrap(),
            json!({"label": null})
        );
        assert_eq!(
            serde_json::to_value(
                codes
                    .update("menu-v3")
                    .label("Menu")
                    .status(CodeStatus::Paused)
            )
            .unwrap(),
            json!({"label": "Menu", "status": "paused"})
        );
    }
}
