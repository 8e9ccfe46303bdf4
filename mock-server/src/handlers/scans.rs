//! The scans report (`GET /api/v1/codes/{shortcode}/scans`) and the scan URL
//! (`/r/{shortcode}`), which records a scan and redirects.

use axum::Extension;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{json_value, shortcode};
use crate::error::ApiError;
use crate::model::{CodeStatus, Device, country_from_header};
use crate::state::{AppState, Caller};

static CF_IPCOUNTRY: HeaderName = HeaderName::from_static("cf-ipcountry");

pub(crate) async fn get_scans(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let sc = shortcode(path)?;
    let today = state.clock().now().date();
    let data = state.lock();
    let record = data
        .store
        .get(caller.account, &sc)
        .ok_or_else(|| ApiError::code_not_found(&sc))?;
    let report = record.scans.report(&record.shortcode, caller.plan, today);
    drop(data);
    Ok(json_value(StatusCode::OK, &json!({ "data": report })))
}
pub(crate) async fn scan_redirect(
    State(state): State<AppState>,
    method: Method,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let sc = shortcode(path)?;
    let now = state.clock().now().unix_timestamp();
    let mut data = state.lock();
    let record = data
        .store
        .get_any_mut(&sc)
        .ok_or_else(|| ApiError::code_not_found(&sc))?;
    if record.status == CodeStatus::Paused {
        return Err(ApiError::code_paused());
    }
    let location = HeaderValue::from_str(&record.target_url)
        .map_err(|_| ApiError::internal("The stored target_url is not a valid header value."))?;
    // A HEAD (link previews, checkers) is answered like a GET but is not a scan.
    if method != Method::HEAD {
        let country = country_from_header(headers.get(&CF_IPCOUNTRY).map(HeaderValue::as_bytes));
        let device = Device::classify(
            headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok()),
        );
        record.scans.add(now, 1, country, device);
    }
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response())
}
