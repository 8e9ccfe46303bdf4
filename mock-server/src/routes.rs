//! The router ([`app`]) and every handler: the `/api/v1` operations, the scan URL, the document,
//! liveness and the mock-only routes; plus the two middlewares, the outer one (request id, the
//! envelope for the router's own 405, the request log, fault injection) and the auth one
//! (bearer token, rate limit and its headers).

use std::io::Write;
use std::time::Instant;

use axum::Extension;
use axum::Router;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::body::read_json_object;
use crate::error::ApiError;
use crate::faults::{self, Action, ConnControl, DropKind};
use crate::idempotency::{Lookup, StoredResponse};
use crate::ratelimit::RateDecision;
use crate::scans::{Device, country_from_header};
use crate::state::{AppState, Caller, Data};
use crate::store::{CodeRecord, CodeStatus, CodeView, rfc3339};
use crate::{reference, validate};

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
static X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
static X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
static IDEMPOTENT_REPLAY: HeaderName = HeaderName::from_static("idempotent-replay");
static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
static CF_IPCOUNTRY: HeaderName = HeaderName::from_static("cf-ipcountry");

/// Builds the whole mock server as one router over `state`.
///
/// Serve it with `axum::serve`, or drive it without a port with `tower::ServiceExt::oneshot`:
///
/// ```
/// # async fn demo() {
/// use axum::body::Body;
/// use axum::http::Request;
/// use heldqr_mock::{AppState, MockConfig, app, DEV_TOKEN_PRO};
/// use tower::ServiceExt;
///
/// let app = app(AppState::new(MockConfig::default()).unwrap());
/// let res = app
///     .oneshot(
///         Request::get("/api/v1/codes")
///             .header("authorization", format!("Bearer {DEV_TOKEN_PRO}"))
///             .body(Body::empty())
///             .unwrap(),
///     )
///     .await
///     .unwrap();
/// assert_eq!(res.status(), 200);
/// # }
/// ```
pub fn app(state: AppState) -> Router {
    let auth = middleware::from_fn_with_state(state.clone(), auth_layer);
    let routes = Router::new()
        .route(
            "/api/v1/codes",
            get(list_codes).post(create_code).route_layer(auth.clone()),
        )
        .route(
            "/api/v1/codes/{shortcode}",
            get(get_code).patch(update_code).route_layer(auth.clone()),
        )
        .route(
            "/api/v1/codes/{shortcode}/scans",
            get(get_scans).route_layer(auth),
        )
        .route("/r/{shortcode}", get(scan_redirect))
        .route("/reference", get(reference::serve))
        .route("/healthz", get(healthz))
        .route("/_mock/codes/{shortcode}/scans", post(mock_add_scans))
        .route("/_mock/clock", get(mock_clock))
        .route("/_mock/clock/advance", post(mock_advance_clock))
        .route("/_mock/reset", post(mock_reset))
        .fallback(route_not_found)
        .with_state(state.clone());
    // The outer layer wraps the whole router as one service, so it sees responses complete
    // (a layer on the router itself would run inside each route, before `Allow` is set).
    Router::new()
        .fallback_service(routes)
        .layer(middleware::from_fn_with_state(state, outer_layer))
}

/// The account of an authenticated request, for the request log.
#[derive(Clone, Copy)]
struct LoggedAccount(u32);

async fn outer_layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = state.next_request_id();
    let method = req.method().clone();
    let log = state.config().log_requests;
    let path = if log {
        req.uri().path().to_owned()
    } else {
        String::new()
    };

    let plan = faults::decide(&state, &req);
    if let Some(delay) = plan.delay {
        tokio::time::sleep(delay).await;
    }
    let injected = matches!(plan.action, Action::Respond(_));
    let mut res = match plan.action {
        Action::Pass => next.run(req).await,
        Action::Respond(res) => res,
        Action::DropAfter(kind) => {
            let control = req.extensions().get::<ConnControl>().cloned();
            let res = next.run(req).await;
            // Handled (and committed); now the connection goes away instead of the answer.
            if control.is_some_and(|c| c.drop_connection(kind)) {
                if let Some(f) = state.faults() {
                    f.record_drop(kind);
                }
                if log {
                    let ms = started.elapsed().as_secs_f64() * 1000.0;
                    let what = match kind {
                        DropKind::Close => "closed",
                        DropKind::Reset => "reset",
                    };
                    let _ = writeln!(
                        std::io::stderr().lock(),
                        "heldqr-mock: {method} {path} {} {ms:.2}ms request_id={request_id} fault=connection-{what}",
                        res.status().as_u16()
                    );
                }
                drop(res);
                // The connection task drops this request with its connection.
                return std::future::pending().await;
            }
            // Served without a connection (`oneshot`): nothing to drop, answer normally.
            res
        }
    };

    // The router answers a known route with a wrong method by itself (405 + Allow, no body):
    // give it the envelope.
    if res.status() == StatusCode::METHOD_NOT_ALLOWED
        && !res.headers().contains_key(header::CONTENT_TYPE)
    {
        let allow = res
            .headers()
            .get(header::ALLOW)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        res = ApiError::method_not_allowed(method.as_str(), &allow).into_response();
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(X_REQUEST_ID.clone(), v);
    }
    if log {
        let account = res
            .extensions()
            .get::<LoggedAccount>()
            .map_or("-", |a| state.account_name(a.0));
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let fault = if injected { " fault=injected" } else { "" };
        let _ = writeln!(
            std::io::stderr().lock(),
            "heldqr-mock: {method} {path} {} {ms:.2}ms request_id={request_id} account={account}{fault}",
            res.status().as_u16()
        );
    }
    res
}

/// `Bearer <token>` (scheme case-insensitive) from `Authorization`.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn put_rate_headers(res: &mut Response, d: &RateDecision) {
    let h = res.headers_mut();
    h.insert(X_RATELIMIT_LIMIT.clone(), HeaderValue::from(d.limit));
    h.insert(
        X_RATELIMIT_REMAINING.clone(),
        HeaderValue::from(d.remaining),
    );
    h.insert(X_RATELIMIT_RESET.clone(), HeaderValue::from(d.reset.max(0)));
}

async fn auth_layer(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(caller) = bearer_token(req.headers()).and_then(|t| state.caller(t)) else {
        return ApiError::unauthorized().into_response();
    };
    let decision = state.spend_credit(caller.token);
    let mut res = match decision.retry_after {
        Some(wait) => ApiError::rate_limited(wait).into_response(),
        None => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
    };
    put_rate_headers(&mut res, &decision);
    res.extensions_mut().insert(LoggedAccount(caller.account));
    res
}

fn json_bytes(status: StatusCode, body: impl Into<Body>) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.into(),
    )
        .into_response()
}

fn json_value<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(b) => json_bytes(status, b),
        Err(e) => {
            ApiError::internal(format!("could not serialize the response: {e}")).into_response()
        }
    }
}

async fn route_not_found(method: Method, req: Request) -> ApiError {
    ApiError::route_not_found(method.as_str(), req.uri().path())
}

async fn healthz() -> Response {
    json_bytes(StatusCode::OK, Bytes::from_static(br#"{"status":"ok"}"#))
}

/// A shortcode from the path; a path that cannot be decoded names no code (404).
fn shortcode(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(s)| s)
        .map_err(|_| ApiError::code_not_found("?"))
}

// ---- /api/v1/codes -------------------------------------------------------------------------

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

#[derive(Serialize)]
struct DataView<T> {
    data: T,
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

async fn list_codes(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
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

/// `Idempotency-Key`: 1-255 bytes of UTF-8 text, read byte for byte.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get(&IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    match std::str::from_utf8(v.as_bytes()) {
        Ok(key) if valid_idempotency_key(key) => Ok(Some(key.to_owned())),
        _ => Err(ApiError::invalid_idempotency_key()),
    }
}

/// The contract's key rule: 1-255 bytes, no control character but tab, no leading or trailing
/// space or tab (HTTP strips those in transit, so such a key could not arrive as sent).
fn valid_idempotency_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 255
        && !key.chars().any(|c| c.is_control() && c != '\t')
        && !key.starts_with([' ', '\t'])
        && !key.ends_with([' ', '\t'])
}

/// Creates a code for `caller` from a parsed body: 201, 409 `shortcode_taken` or 422.
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

async fn create_code(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
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
    match data.idempotency.lookup(caller.token, &key, &body, now, ttl) {
        Lookup::Replay(r) => {
            let mut res = json_bytes(r.status, r.body);
            res.headers_mut()
                .insert(IDEMPOTENT_REPLAY.clone(), HeaderValue::from_static("true"));
            Ok(res)
        }
        Lookup::Conflict => Err(ApiError::idempotency_conflict()),
        Lookup::Fresh => {
            let r = create_in(&mut data, &state, caller, &body);
            if matches!(
                r.status,
                StatusCode::CREATED | StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY
            ) {
                data.idempotency
                    .store(caller.token, &key, body, r.clone(), now);
            }
            Ok(json_bytes(r.status, r.body))
        }
    }
}

// ---- /api/v1/codes/{shortcode} ------------------------------------------------------------

fn code_response(state: &AppState, record: &CodeRecord) -> Response {
    json_value(
        StatusCode::OK,
        &DataView {
            data: record.view(state.public_base()),
        },
    )
}

async fn get_code(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
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

async fn update_code(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let sc = shortcode(path)?;
    let map = read_json_object(&headers, body).await?;
    let now = state.clock().now().unix_timestamp();
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
        record.target_url = url.into();
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
        record.updated_at = now;
    }
    Ok(code_response(&state, record))
}

async fn get_scans(
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

// ---- /r/{shortcode} ------------------------------------------------------------------------

async fn scan_redirect(
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

// ---- /_mock --------------------------------------------------------------------------------

async fn mock_add_scans(
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

async fn mock_clock(State(state): State<AppState>) -> Response {
    clock_response(&state)
}

async fn mock_advance_clock(
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

async fn mock_reset(State(state): State<AppState>) -> StatusCode {
    state.reset();
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::valid_idempotency_key;

    #[test]
    fn idempotency_key_rule() {
        for ok in [
            "menu import line 17",
            "commande-été-7",
            "tab\tinside",
            "x",
            &"é".repeat(127),
        ] {
            assert!(valid_idempotency_key(ok), "{ok:?}");
        }
        for bad in [
            "",
            &"a".repeat(256),
            &"é".repeat(128),
            " lead",
            "trail ",
            "\tlead",
            "trail\t",
            "\u{1b}x",
            "x\u{7f}",
            "x\u{85}y",
            "line\nbreak",
        ] {
            assert!(!valid_idempotency_key(bad), "{bad:?}");
        }
    }
}
