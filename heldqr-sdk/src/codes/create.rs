//! `POST /api/v1/codes`: create a code, idempotently.

use reqwest::Method;
use serde::Serialize;

use crate::client::Client;
use crate::client::{Call, new_idempotency_key, validate_idempotency_key};
use crate::error::{Error, Result};
use crate::models::Code;
use crate::options::{RequestOptions, request_options};
use crate::response::Response;

/// Builder for [`crate::Codes::create`]; serializes to the request body.
///
/// The Idempotency-Key is chosen once, before the first attempt: yours, or a generated
/// UUIDv4. Every retry of this call sends the same key, and the key is on the response
/// ([`crate::ResponseMeta::idempotency_key`]) and on any error ([`Error::idempotency_key`]),
/// so a later retry (after a crash, say) gets the original code back instead of a duplicate.
///
/// ```no_run
/// # async fn demo(client: heldqr_sdk::Client) -> heldqr_sdk::Result<()> {
/// let created = client
///     .codes()
///     .create("https://example.com/menu")
///     .label("Restaurant menu")
///     .idempotency_key("menu-2026-import-line-17")
///     .send()
///     .await?;
/// if created.meta().idempotent_replay {
///     println!("already created earlier: {}", created.shortcode);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Serialize)]
#[must_use = "a request does nothing until `send` is awaited"]
pub struct CreateCode {
    #[serde(skip)]
    client: Client,
    #[serde(skip)]
    idempotency_key: Option<String>,
    target_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shortcode: Option<String>,
    #[serde(skip)]
    options: RequestOptions,
}

request_options!(CreateCode);

impl CreateCode {
    pub(crate) fn new(client: Client, target_url: String) -> Self {
        Self {
            client,
            idempotency_key: None,
            target_url,
            label: None,
            shortcode: None,
            options: RequestOptions::default(),
        }
    }

    /// A label for people (at most 200 characters).
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// A chosen shortcode (3-64 of `[a-z0-9-]`, not starting or ending with `-`); without
    /// one the server generates 7 characters.
    pub fn shortcode(mut self, shortcode: impl Into<String>) -> Self {
        self.shortcode = Some(shortcode.into());
        self
    }

    /// Your Idempotency-Key: 1-255 bytes of UTF-8 text with no control characters (tab is
    /// allowed) and no leading or trailing space or tab. It is sent byte for byte, so
    /// `"commande-été-7"` or `"menu import line 17"` work. Derive it from what the code is for
    /// (a row id, a UUIDv5 of a name) to make a whole job safe to re-run. A key breaking
    /// these rules fails the call with [`Error::Config`] before anything is sent.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Sends the request; 201 with the code (or the stored original, with
    /// `meta().idempotent_replay`).
    pub async fn send(self) -> Result<Response<Code>> {
        let key = match &self.idempotency_key {
            Some(key) => {
                validate_idempotency_key(key)?;
                key.clone()
            }
            None => new_idempotency_key(),
        };
        let body = serde_json::to_vec(&self)
            .map_err(|e| Error::config(format!("could not serialize the body: {e}")))?;
        let url = self.client.codes_url(None, None)?;
        self.client
            .execute_data(
                Call::new("codes.create", Method::POST, url)
                    .body(body)
                    .idempotency_key(Some(key))
                    .options(self.options),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use crate::codes::test_client;
    use serde_json::json;

    #[test]
    fn body_has_only_what_was_set() {
        let codes = test_client().codes();
        let minimal = codes.create("https://example.com/menu");
        assert_eq!(
            serde_json::to_value(&minimal).unwrap(),
            json!({"target_url": "https://example.com/menu"})
        );
        let full = codes
            .create("https://example.com/menu")
            .label("Restaurant menu")
            .shortcode("menu-v3")
            .idempotency_key("k-1");
        assert_eq!(
            serde_json::to_value(&full).unwrap(),
            json!({"target_url": "https://example.com/menu", "label": "Restaurant menu", "shortcode": "menu-v3"})
        );
    }

    #[tokio::test]
    async fn an_invalid_key_is_refused_before_sending() {
        let err = test_client()
            .codes()
            .create("https://example.com")
            .idempotency_key(" leading space")
            .send()
            .await
            .unwrap_err();
        assert!(matches!(err, crate::error::Error::Config(_)));
    }
}
