//! The mock-only routes under `/_mock/`: bulk scans, the clock, reset (all, or one account),
//! the request journal.

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::json;

use super::{json_bytes, json_value, shortcode};
use crate::body::read_json_object;
use crate::error::ApiError;
use crate::model::{Plan, rfc3339};
use crate::state::{AppState, RequestFilter};
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
        return Err(ApiError::invalid_field(
            "to",
            format!("must be at most {SCAN_BATCH_MAX_DAYS} days after the server's current day"),
        ));
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
    if !state
        .clock()
        .try_advance(std::time::Duration::from_secs(seconds))
    {
        return Err(ApiError::invalid_field(
            "seconds",
            "would move the clock past the last time it can show (9999-12-31T23:59:59Z, or \
             584 years after its start)",
        ));
    }
    // What expired with the jump goes now, not at the next sweep.
    state.reclaim_expired();
    Ok(clock_response(&state))
}

/// `POST /_mock/reset`: everything, or with `?account=ID` that account only.
pub(crate) async fn mock_reset(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<StatusCode, ApiError> {
    let pairs = query_pairs(query)?;
    match single(&pairs, "account")? {
        None => state.reset(),
        Some(account) => {
            if !state.reset_account(account) {
                let shown: String = account.chars().take(64).collect();
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    format!("No account {shown}."),
                ));
            }
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

fn query_pairs(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Vec<(String, String)>, ApiError> {
    query
        .map(|Query(p)| p)
        .map_err(|_| ApiError::invalid_parameter("The query string could not be read."))
}

/// The value of query parameter `name`; given twice is 400.
fn single<'a>(pairs: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, ApiError> {
    let mut found = None;
    for (k, v) in pairs {
        if k == name {
            if found.is_some() {
                return Err(ApiError::invalid_parameter(format!(
                    "Query parameter {name} is given more than once."
                )));
            }
            found = Some(v.as_str());
        }
    }
    Ok(found)
}

fn integer(name: &str, value: &str, min: u64, max: u64) -> Result<u64, ApiError> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n) && value.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            ApiError::invalid_parameter(format!(
                "Query parameter {name} must be an integer from {min} to {max}."
            ))
        })
}

/// The query parameters `GET /_mock/requests` takes.
const JOURNAL_FILTERS: [&str; 8] = [
    "method",
    "path",
    "status",
    "account",
    "idempotency_key",
    "since",
    "after",
    "limit",
];

/// `GET /_mock/requests`: the journal, oldest first, filtered.
pub(crate) async fn mock_requests(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(query)?;
    // A misspelt filter is an error, not silently the whole journal.
    if let Some((name, _)) = pairs
        .iter()
        .find(|(n, _)| !JOURNAL_FILTERS.contains(&n.as_str()))
    {
        let name: String = name.chars().take(64).collect();
        return Err(ApiError::invalid_parameter(format!(
            "Unknown query parameter {name:?}; the journal takes {}.",
            JOURNAL_FILTERS.join(", ")
        )));
    }
    let mut filter = RequestFilter::new();
    if let Some(v) = single(&pairs, "method")? {
        filter = filter.method(v);
    }
    if let Some(v) = single(&pairs, "path")? {
        filter = filter.path(v);
    }
    if let Some(v) = single(&pairs, "status")? {
        filter = filter.status(integer("status", v, 100, 599)? as u16);
    }
    if let Some(v) = single(&pairs, "account")? {
        filter = filter.account(v);
    }
    if let Some(v) = single(&pairs, "idempotency_key")? {
        filter = filter.idempotency_key(v);
    }
    if let Some(v) = single(&pairs, "since")? {
        filter = filter.since(integer("since", v, 0, i64::MAX as u64)?);
    }
    if let Some(v) = single(&pairs, "after")? {
        filter = filter.after(integer("after", v, 0, i64::MAX as u64)?);
    }
    if let Some(v) = single(&pairs, "limit")? {
        filter = filter.limit(integer("limit", v, 1, 10_000)? as usize);
    }
    let (ids, cursor) = state.request_ids(&filter);
    Ok(journal_page(state, ids, cursor))
}

/// About how many bytes of entries (as the journal charges them) one piece of a journal
/// answer holds.
const JOURNAL_PIECE_BYTES: usize = 16 * 1024;

/// `GET /_mock/requests`'s body, `{"data": [entries], "cursor": N}`. A selection larger than
/// one piece is streamed: its entries are made and written a piece at a time as the client
/// reads, so a read of a full journal (whose entries as JSON can be several times the bytes
/// they are kept in) holds one piece, not the whole answer. An entry evicted before its piece
/// is made is left out.
fn journal_page(state: AppState, ids: Vec<u64>, cursor: u64) -> Response {
    let mut page = JournalPage {
        state,
        ids,
        next: 0,
        written: false,
        cursor,
        permit: None,
    };
    let mut first = br#"{"data":["#.to_vec();
    let done = match page.write_piece(&mut first) {
        Ok(done) => done,
        Err(e) => {
            return ApiError::internal(format!("could not serialize the journal: {e}"))
                .into_response();
        }
    };
    if done {
        return json_bytes(StatusCode::OK, first);
    }
    // Larger than one piece: sent only with one of the few permits, held until it is sent.
    let Some(permit) = page.state.large_journal_read() else {
        return ApiError::journal_readers_busy(crate::state::JOURNAL_LARGE_READS).into_response();
    };
    page.permit = Some(permit);
    let rest = futures_util::stream::unfold(Some(page), |page| async move {
        let mut page = page?;
        let mut piece = Vec::with_capacity(JOURNAL_PIECE_BYTES);
        match page.write_piece(&mut piece) {
            Ok(false) => Some((Ok(Bytes::from(piece)), Some(page))),
            Ok(true) => Some((Ok(Bytes::from(piece)), None)),
            // Ends the answer short: the client sees a broken body, not a wrong one.
            Err(e) => Some((Err(e), None)),
        }
    });
    let pieces = futures_util::stream::once(async { Ok(Bytes::from(first)) }).chain(rest);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        Body::from_stream(pieces),
    )
        .into_response()
}

/// A journal answer being written: the ids selected, how many are written.
struct JournalPage {
    state: AppState,
    ids: Vec<u64>,
    next: usize,
    written: bool,
    cursor: u64,
    /// For an answer larger than one piece: its place among the reads sent at once.
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl JournalPage {
    /// Appends the next piece of entries to `out`, and the answer's end after the last;
    /// returns true when the answer is whole.
    fn write_piece(&mut self, out: &mut Vec<u8>) -> std::io::Result<bool> {
        if self.next < self.ids.len() {
            let (entries, used) = self
                .state
                .requests_of(&self.ids[self.next..], JOURNAL_PIECE_BYTES);
            self.next += used;
            for entry in &entries {
                if self.written {
                    out.push(b',');
                }
                self.written = true;
                serde_json::to_writer(&mut *out, entry).map_err(std::io::Error::other)?;
            }
        }
        if self.next < self.ids.len() {
            return Ok(false);
        }
        out.extend_from_slice(format!(r#"],"cursor":{}}}"#, self.cursor).as_bytes());
        Ok(true)
    }
}

/// `DELETE /_mock/requests`: forgets the journal (ids go on increasing).
pub(crate) async fn mock_clear_requests(State(state): State<AppState>) -> StatusCode {
    state.clear_requests();
    StatusCode::NO_CONTENT
}
