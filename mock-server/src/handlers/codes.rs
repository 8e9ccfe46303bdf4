//! `/api/v1/codes` and `/api/v1/codes/{shortcode}`: list, create (idempotent), get, update.

use std::sync::OnceLock;

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{DataView, json_bytes, json_value, shortcode};
use crate::body::read_json_object;
use crate::error::ApiError;
use crate::layers::auth::Require;
use crate::model::{CodeRecord, CodeStatus, CodeView, EarlierTargets};
use crate::state::{AppState, Caller, Data, Fingerprint, IDEMPOTENCY_KEY, Lookup, StoredResponse};
use crate::validate;

static IDEMPOTENT_REPLAY: HeaderName = HeaderName::from_static("idempotent-replay");

#[derive(Serialize)]
struct PaginationView {
    page: u64,
    page_size: u64,
    total: u64,
    total_pages: u64,
}

#[derive(Serialize)]
struct CodeListView<'a> {
    data: Vec<CodeView<'a>>,
    pagination: PaginationView,
}
fn query_int(name: &str, value: &str, min: u64, max: u64) -> Result<u64, ApiError> {
    let parsed =
        if !value.is_empty() && value.len() <= 20 && value.bytes().all(|b| b.is_ascii_digit()) {
            value.parse::<u64>().ok()
        } else {
            None
        };
    parsed.filter(|n| (min..=max).contains(n)).ok_or_else(|| {
        ApiError::invalid_parameter(format!(
            "Query parameter {name} must be an integer from {min} to {max}."
        ))
    })
}

pub(crate) async fn list_codes(
    State(state): State<AppState>,
    Require(caller): Require,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(pairs) =
        query.map_err(|_| ApiError::invalid_parameter("The query string could not be read."))?;
    let (mut page, mut page_size) = (None, None);
    for (k, v) in &pairs {
        let slot = match k.as_str() {
            "page" => &mut page,
            "page_size" => &mut page_size,
            _ => continue, // unknown query parameters are ignored
        };
        if slot.is_some() {
            return Err(ApiError::invalid_parameter(format!(
                "Query parameter {k} is given more than once."
            )));
        }
        *slot = Some(v.as_str());
    }
    let page = page.map_or(Ok(1), |v| query_int("page", v, 1, 1_000_000_000))?;
    let page_size = page_size.map_or(Ok(50), |v| query_int("page_size", v, 1, 100))?;

    let base = state.public_base();
    let data = state.lock();
    let total = data.store.count(caller.account) as u64;
    let items = data
        .store
        .page(caller.account, (page - 1) * page_size, page_size as usize)
        .map(|c| c.view(base))
        .collect();
    let view = CodeListView {
        data: items,
        pagination: PaginationView {
            page,
            page_size,
            total,
            total_pages: total.div_ceil(page_size),
        },
    };
    Ok(json_value(StatusCode::OK, &view))
}

/// `Idempotency-Key`, its bytes as sent.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<Vec<u8>>, ApiError> {
    let Some(v) = headers.get(&IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = v.as_bytes();
    if valid_idempotency_key(key) {
        Ok(Some(key.to_vec()))
    } else {
        Err(ApiError::invalid_idempotency_key())
    }
}

/// The contract's key rule: 1-255 bytes that HTTP allows in a field value: visible ASCII and
/// bytes 0x80-0xFF, with spaces and tabs inside only (HTTP strips them at the edges, so such a
/// key could not arrive as sent). Any text encoding works; keys are compared byte for byte.
fn valid_idempotency_key(key: &[u8]) -> bool {
    let visible = |b: &u8| matches!(b, 0x21..=0x7e | 0x80..=0xff);
    !key.is_empty()
        && key.len() <= 255
        && key.first().is_some_and(visible)
        && key.last().is_some_and(visible)
        && key.iter().all(|b| visible(b) || *b == b' ' || *b == b'\t')
}

/// Creates a code for `caller` from a parsed body: 201, 409 `shortcode_taken`, 422, or the
/// mock-only 403 `code_limit_reached` when the account holds `--max-codes` codes.
fn create_in(
    data: &mut Data,
    state: &AppState,
    caller: Caller,
    body: &Map<String, Value>,
) -> StoredResponse {
    let new = match validate::create(body) {
        Ok(n) => n,
        Err(fe) => return stored_error(ApiError::validation(fe)),
    };
    let cap = state.config().max_codes_per_account;
    if data.store.count(caller.account) >= cap {
        return stored_error(ApiError::code_limit_reached(cap));
    }
    let shortcode = match new.shortcode {
        Some(s) if data.store.contains(&s) => return stored_error(ApiError::shortcode_taken(&s)),
        Some(s) => s,
        None => data.generate_shortcode(),
    };
    let now = state.clock().now().unix_timestamp();
    let record = data.store.insert(CodeRecord {
        shortcode: shortcode.into(),
        account: caller.account,
        target_url: new.target_url.into(),
        label: new.label.map(Into::into),
        status: CodeStatus::Active,
        created_at: now,
        updated_at: now,
        scans: Default::default(),
        earlier_targets: EarlierTargets::default(),
        shown: OnceLock::new(),
    });
    match serde_json::to_vec(&DataView {
        data: record.view(state.public_base()),
    }) {
        Ok(b) => StoredResponse {
            status: StatusCode::CREATED,
            body: b.into(),
        },
        Err(e) => stored_error(ApiError::internal(format!(
            "could not serialize the code: {e}"
        ))),
    }
}

fn stored_error(e: ApiError) -> StoredResponse {
    StoredResponse {
        status: e.status,
        body: e.body_bytes().into(),
    }
}

pub(crate) async fn create_code(
    State(state): State<AppState>,
    Require(caller): Require,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let body = read_json_object(&headers, body).await?;
    let ttl = i128::try_from(state.config().idempotency_ttl.as_nanos()).unwrap_or(i128::MAX / 4);

    // The lock is held from lookup to store: same-key requests are serialized.
    let mut data = state.lock();
    let Some(key) = key else {
        let r = create_in(&mut data, &state, caller, &body);
        return Ok(json_bytes(r.status, r.body));
    };
    let now = state.clock().now_nanos();
    let fingerprint = Fingerprint::of(&body);
    match data
        .idempotency
        .lookup(caller.token, &key, fingerprint, now, ttl)
    {
        Lookup::Replay(r) => {
            let mut res = json_bytes(r.status, r.body);
            res.headers_mut()
                .insert(IDEMPOTENT_REPLAY.clone(), HeaderValue::from_static("true"));
            Ok(res)
        }
        Lookup::Conflict => Err(ApiError::idempotency_conflict()),
        Lookup::Fresh => {
            let r = create_in(&mut data, &state, caller, &body);
            // Only a created code binds the key (Stripe's rule): a 422 or a 409
            // `shortcode_taken` is not stored, so a corrected retry with the key succeeds.
            if r.status == StatusCode::CREATED {
                data.idempotency
                    .store(caller.token, &key, fingerprint, r.clone(), now);
            }
            Ok(json_bytes(r.status, r.body))
        }
    }
}

// ---- /api/v1/codes/{shortcode} ------------------------------------------------------------

/// The longest answer body a code keeps for its next reads.
const SHOWN_LIMIT: usize = 1024;

/// `200 {"data": Code}`: the body made once per version of the code (a read of an unchanged
/// code serializes nothing).
fn code_response(state: &AppState, record: &CodeRecord) -> Response {
    if let Some(body) = record.shown.get() {
        return json_bytes(StatusCode::OK, body.clone());
    }
    let mut body = Vec::with_capacity(512);
    let view = DataView {
        data: record.view(state.public_base()),
    };
    match serde_json::to_writer(&mut body, &view) {
        Ok(()) => {
            // Kept at its length, and only when short (every usual code): a read code costs its
            // answer's bytes, no more, and the worst case per code stays as the document says.
            let body = Bytes::from(body.into_boxed_slice());
            if body.len() <= SHOWN_LIMIT {
                let _ = record.shown.set(body.clone());
            }
            json_bytes(StatusCode::OK, body)
        }
        Err(_) => json_value(StatusCode::OK, &view),
    }
}

pub(crate) async fn get_code(
    State(state): State<AppState>,
    Require(caller): Require,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let sc = shortcode(path)?;
    let data = state.lock();
    let record = data
        .store
        .get(caller.account, &sc)
        .ok_or_else(|| ApiError::code_not_found(&sc))?;
    Ok(code_response(&state, record))
}

pub(crate) async fn update_code(
    State(state): State<AppState>,
    Require(caller): Require,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let sc = shortcode(path)?;
    let map = read_json_object(&headers, body).await?;
    let now_nanos = state.clock().now_nanos();
    let now = i64::try_from(now_nanos.div_euclid(1_000_000_000)).unwrap_or(i64::MAX);
    let mut data = state.lock();
    let record = data
        .store
        .get_mut(caller.account, &sc)
        .ok_or_else(|| ApiError::code_not_found(&sc))?;
    let patch = validate::update(&map).map_err(ApiError::validation)?;
    let mut changed = false;
    if let Some(url) = patch.target_url
        && *record.target_url != *url
    {
        record.set_target(url.into(), now_nanos, state.propagation_delay_nanos());
        changed = true;
    }
    if let Some(label) = patch.label
        && record.label.as_deref() != label.as_deref()
    {
        record.label = label.map(Into::into);
        changed = true;
    }
    if let Some(status) = patch.status
        && record.status != status
    {
        record.status = status;
        changed = true;
    }
    if changed {
        // (The store forgot the code's kept answer when it lent it out for changing.)
        record.updated_at = now;
    }
    Ok(code_response(&state, record))
}

#[cfg(test)]
mod tests {
    use super::valid_idempotency_key;

    /// The document's pattern, read over the bytes as ISO-8859-1 (one character per byte), is
    /// the server's rule: checked on random byte strings.
    #[test]
    fn the_documents_key_schema_is_the_server_rule() {
        let doc: serde_json::Value =
            serde_norway::from_str(crate::handlers::reference::OPENAPI_YAML).unwrap();
        let schema = &doc["components"]["parameters"]["IdempotencyKey"]["schema"];
        let pattern = regex::Regex::new(schema["pattern"].as_str().unwrap()).unwrap();
        let max = schema["maxLength"].as_u64().unwrap() as usize;
        let alphabet: Vec<u8> = [0u8, 9, 10, 31, 32, 33, 65, 126, 127, 128, 200, 255].to_vec();
        let mut rng = fastrand::Rng::with_seed(8);
        for _ in 0..20_000 {
            let len = match rng.u8(..4) {
                0 => rng.usize(250..260),
                _ => rng.usize(0..6),
            };
            let key: Vec<u8> = (0..len)
                .map(|_| {
                    if rng.bool() {
                        alphabet[rng.usize(..alphabet.len())]
                    } else {
                        rng.u8(..)
                    }
                })
                .collect();
            let latin1: String = key.iter().map(|&b| char::from(b)).collect();
            let by_schema = !key.is_empty() && key.len() <= max && pattern.is_match(&latin1);
            assert_eq!(valid_idempotency_key(&key), by_schema, "{key:?}");
        }
    }

    #[test]
    fn idempotency_key_rule() {
        for ok in [
            &b"menu import line 17"[..],
            "commande-été-7".as_bytes(),
            b"caf\xe9",
            b"tab\tinside",
            b"x",
            "x\u{85}y".as_bytes(),
            &[0xff; 255],
            "é".repeat(127).as_bytes(),
        ] {
            assert!(valid_idempotency_key(ok), "{ok:?}");
        }
        for bad in [
            &b""[..],
            &[b'a'; 256],
            "é".repeat(128).as_bytes(),
            b" lead",
            b"trail ",
            b"\tlead",
            b"trail\t",
            b"\x1bx",
            b"x\x7f",
            b"line\nbreak",
            b"nul\0",
        ] {
            assert!(!valid_idempotency_key(bad), "{bad:?}");
        }
    }
}
