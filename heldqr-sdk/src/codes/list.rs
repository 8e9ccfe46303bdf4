//! `GET /api/v1/codes`: one page, or every code as a stream across pages.

use futures_util::{Stream, StreamExt, stream};
use reqwest::Method;
use serde::Serialize;

use crate::client::Call;
use crate::client::Client;
use crate::error::Result;
use crate::models::{Code, Page};
use crate::options::{RequestOptions, request_options};
use crate::response::Response;

/// Builder for [`crate::Codes::list`]; serializes to the query string.
///
/// ```no_run
/// # async fn demo(client: heldqr_sdk::Client) -> heldqr_sdk::Result<()> {
/// use heldqr_sdk::stream::StreamExt; // re-exported: no futures crate to add
///
/// // One page:
/// let page = client.codes().list().page(2).page_size(20).send().await?;
/// println!("page {} of {}", page.pagination.page, page.pagination.total_pages);
///
/// // Every code, fetching pages as they are needed:
/// let mut codes = client.codes().list().page_size(100).into_stream();
/// while let Some(code) = codes.next().await {
///     println!("{}", code?.shortcode);
/// }
///
/// // Or all of them at once:
/// let all = client.codes().list().page_size(100).all().await?;
/// println!("{} codes", all.len());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Serialize)]
#[must_use = "a request does nothing until `send` is awaited"]
pub struct ListCodes {
    #[serde(skip)]
    client: Client,
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    page_size: Option<u32>,
    #[serde(skip)]
    options: RequestOptions,
}

request_options!(ListCodes);

impl ListCodes {
    pub(crate) fn new(client: Client) -> Self {
        Self {
            client,
            page: None,
            page_size: None,
            options: RequestOptions::default(),
        }
    }

    /// The page to read, from 1 (default 1). For a stream, the first page to read.
    pub fn page(mut self, page: u32) -> Self {
        self.page = Some(page);
        self
    }

    /// Codes per page, 1-100 (server default 50).
    pub fn page_size(mut self, page_size: u32) -> Self {
        self.page_size = Some(page_size);
        self
    }

    /// Reads one page. A page past the end is empty, not an error.
    pub async fn send(self) -> Result<Response<Page<Code>>> {
        let mut url = self.client.codes_url(None, None)?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(page) = self.page {
                query.append_pair("page", &page.to_string());
            }
            if let Some(page_size) = self.page_size {
                query.append_pair("page_size", &page_size.to_string());
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        self.client
            .execute_body(Call::new("codes.list", Method::GET, url).options(self.options))
            .await
    }

    /// Every code from the starting page on, oldest first, in one `Vec` (the stream of
    /// [`ListCodes::into_stream`], collected). Stops at the first error.
    pub async fn all(self) -> Result<Vec<Code>> {
        use futures_util::TryStreamExt;
        self.into_stream().try_collect().await
    }

    /// Every code from the starting page on, oldest first, fetching pages as the stream is
    /// polled (each page with the usual retries). Stops after an empty page or the last page
    /// (when [`Page::has_next`] is false). An error is yielded as an item and ends the stream.
    pub fn into_stream(self) -> impl Stream<Item = Result<Code>> + Send + Unpin + 'static {
        let first = self.page.unwrap_or(1);
        let pages = stream::unfold(Some((self, first)), |state| async move {
            let (request, page) = state?;
            match request.clone().page(page).send().await {
                Err(error) => Some((vec![Err(error)], None)),
                Ok(response) => {
                    let page_data = response.into_inner();
                    if page_data.items.is_empty() {
                        return None;
                    }
                    let next = page_data
                        .has_next()
                        .then(|| page.checked_add(1))
                        .flatten()
                        .map(|next| (request, next));
                    Some((
                        page_data.items.into_iter().map(Ok).collect::<Vec<_>>(),
                        next,
                    ))
                }
            }
        });
        Box::pin(pages.flat_map(stream::iter))
    }
}

#[cfg(test)]
mod tests {
    use crate::codes::test_client;
    use serde_json::json;

    #[test]
    fn query_has_only_what_was_set() {
        let codes = test_client().codes();
        assert_eq!(serde_json::to_value(codes.list()).unwrap(), json!({}));
        assert_eq!(
            serde_json::to_value(codes.list().page(3).page_size(20)).unwrap(),
            json!({"page": 3, "page_size": 20})
        );
    }
}
