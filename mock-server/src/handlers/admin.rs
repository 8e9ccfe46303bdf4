//! The mock-only routes under `/_mock/`: bulk scans, the clock, reset.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::{json_value, shortcode};
use crate::body::read_json_object;
use crate::error::{ApiError, FieldErrors};
use crate::model::{Plan, rfc3339};
use crate::state::AppState;
use crate::validate::{self, SCAN_BATCH_MAX_DAYS};

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
    // Bounds that keep one call small (see MockScanBatch in the document): at most
    // SCAN_BATCH_MAX_DAYS days, ending at most that many days after today; days before the
    // longest plan window keep no per-day record.
    let today = state.clock().now().date();
    let latest = today.to_julian_day() + SCAN_BATCH_MAX_DAYS as i32;
    if batch.to.to_julian_day() > latest {
        let mut e = FieldErrors::new();
        e.insert(
            "to".into(),
            vec![format!(
                "must be at most {SCAN_BATCH_MAX_DAYS} days after the server's current day"
            )],
        );
        return Err(ApiError::validation(e));
    }
    let keep_from = today.to_julian_day() - Plan::LONGEST_WINDOW_DAYS as i32;
    let mut added = 0u64;
    let mut day = batch.from;
    loop {
        // Bulk scans are stamped at midnight UTC of their day.
        let at = day.midnight().assume_utc().unix_timestamp();
        record
            .scans
            .add_kept_from(at, batch.per_day, batch.country, batch.device, keep_from);
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
    // What expired with the jump goes now, not at the next sweep.
    state.reclaim_expired();
    Ok(clock_response(&state))
}

pub(crate) async fn mock_reset(State(state): State<AppState>) -> StatusCode {
    state.reset();
    StatusCode::NO_CONTENT
}
