//! `GET /reference`: the contract (`openapi.yaml`, compiled in) as YAML, or as JSON when the
//! client prefers `application/json` in `Accept`.

use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The OpenAPI document this server implements, as YAML.
pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

/// The document converted to JSON once, on first use.
fn openapi_json() -> Result<&'static [u8], &'static str> {
    static JSON: OnceLock<Result<Vec<u8>, String>> = OnceLock::new();
    JSON.get_or_init(|| {
        let value: serde_json::Value =
            serde_norway::from_str(OPENAPI_YAML).map_err(|e| e.to_string())?;
        serde_json::to_vec(&value).map_err(|e| e.to_string())
    })
    .as_ref()
    .map(Vec::as_slice)
    .map_err(String::as_str)
}

/// The `q` of each media range in `Accept` that names JSON or YAML; JSON wins when its `q` is
/// strictly higher.
fn prefers_json(headers: &HeaderMap) -> bool {
    let (mut json, mut yaml) = (0.0f32, 0.0f32);
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for range in value.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.trim().parse::<f32>().ok())
                })
                .next()
                .unwrap_or(1.0);
            match media.as_str() {
                "application/json" => json = json.max(q),
                "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => {
                    yaml = yaml.max(q)
                }
                _ => {}
            }
        }
    }
    json > yaml
}

pub(crate) async fn serve(headers: HeaderMap) -> Response {
    if prefers_json(&headers) {
        match openapi_json() {
            Ok(body) => (
                StatusCode::OK,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            Err(e) => {
                ApiError::internal(format!("The document could not be converted to JSON: {e}"))
                    .into_response()
            }
        }
    } else {
        (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/yaml"),
            )],
            OPENAPI_YAML,
        )
            .into_response()
    }
}
