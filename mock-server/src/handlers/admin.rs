//! The mock-only routes under `/_mock/`: bulk scans, the clock, reset.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::{json_value, shortcode};
use crate::body::read_json_object;
use crate::error::ApiError;
use crate::model::rfc3339;
use crate::state::AppState;
use crate::validate;

pub(crate) async fn mock_add_scans(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let sc = shortcode(path)?;
    let map = read_json_object(&headers, body).await?;
    let mut data = state.lock();
    let record = data
        .store
        .get_any_mut(&sc)
        .ok_or_else(|| ApiError::code_not_found(&sc))?;
    let batch = validate::scan_batch(&map).map_err(ApiError::validation)?;
    let mut added = 0u64;
    let mut day = batch.from;
    loop {
        // Bulk scans are stamped at midnight UTC of their day.
        let at = day.midnight().assume_utc().unix_timestamp();
        record
            .scans
            .add(at, batch.per_day, batch.country, batch.device);
        added += batch.per_day;
        match day.next_day() {
            Some(next) if day < batch.to => day = next,
            _ => break,
        }
    }
    Ok(json_value(
        StatusCode::OK,
        &json!({ "data": { "added": added } }),
    ))
}

fn clock_response(state: &AppState) -> Response {
    json_value(
        StatusCode::OK,
        &json!({ "data": { "now": rfc3339(state.clock().now()) } }),
    )
}

pub(crate) async fn mock_clock(State(state): State<AppState>) -> Response {
    clock_response(&state)
}

pub(crate) async fn mock_advance_clock(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let map = read_json_object(&headers, body).await?;
    let seconds = validate::clock_advance(&map).map_err(ApiError::validation)?;
    state
        .clock()
        .advance(std::time::Duration::from_secs(seconds));
    Ok(clock_response(&state))
}

pub(crate) async fn mock_reset(State(state): State<AppState>) -> StatusCode {
    state.reset();
    StatusCode::NO_CONTENT
}
