//! The request inspector: a page at `GET /_mock/` that shows, live, what clients sent and got
//! (the journal, grouped by idempotency key), the codes and scans of every account and each
//! token's rate budget, with reset, clock and journal controls. Its files (`inspector/` in
//! the crate: HTML, CSS, JS, an SVG favicon) are compiled in, so it works offline. It reads
//! `GET /_mock/requests` and `GET /_mock/state` (this module) and signs in through
//! `/_mock/session` (the cookie the admin guard accepts). `GET /` from a browser (`Accept`
//! naming `text/html`) is sent to the page; other clients keep the JSON 404.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use super::{DataView, json_value};
use crate::error::ApiError;
use crate::layers::admin_guard::{SESSION_COOKIE, is_admin};
use crate::model::rfc3339;
use crate::state::{AccountOverview, AppState, RateBudget};

/// Where the page lives.
pub(crate) const PAGE_PATH: &str = "/_mock/";

const INDEX_HTML: &str = include_str!("../../inspector/index.html");
const STYLE_CSS: &str = include_str!("../../inspector/style.css");
const APP_JS: &str = include_str!("../../inspector/app.js");
const FAVICON_SVG: &str = include_str!("../../inspector/favicon.svg");

/// Only the page's own files, no inline script or style, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// The page's files: name, content type, body.
const ASSETS: [(&str, &str, &str); 3] = [
    ("app.js", "text/javascript; charset=utf-8", APP_JS),
    ("style.css", "text/css; charset=utf-8", STYLE_CSS),
    ("favicon.svg", "image/svg+xml", FAVICON_SVG),
];

fn file(content_type: &'static str, body: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        body,
    )
        .into_response()
}

fn redirect(to: &'static str) -> Response {
    (
        StatusCode::TEMPORARY_REDIRECT,
        [(header::LOCATION, HeaderValue::from_static(to))],
    )
        .into_response()
}

/// `GET /_mock/`: the page.
pub(crate) async fn page() -> Response {
    file("text/html; charset=utf-8", INDEX_HTML)
}

/// `GET /_mock`: to the page.
pub(crate) async fn to_page() -> Response {
    redirect(PAGE_PATH)
}

/// `GET /_mock/inspector/{file}`: one of the page's files.
pub(crate) async fn asset(
    method: Method,
    uri: Uri,
    name: Result<Path<String>, PathRejection>,
) -> Response {
    let name = name.map(|Path(n)| n).unwrap_or_default();
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some(&(_, content_type, body)) => file(content_type, body),
        None => ApiError::route_not_found(method.as_str(), uri.path()).into_response(),
    }
}

/// `GET /`: a browser asking for HTML goes to the page; any other client gets the unknown
/// route's 404.
pub(crate) async fn root(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let wants_html = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/html"));
    if wants_html {
        redirect(PAGE_PATH)
    } else {
        ApiError::route_not_found(method.as_str(), uri.path()).into_response()
    }
}

/// `GET /_mock/session`: whether an admin token is configured and whether this request holds
/// it (header or session cookie). Open, so the page knows whether to ask.
pub(crate) async fn session_status(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    json_value(
        StatusCode::OK,
        &json!({ "data": {
            "admin_token_required": state.config().has_admin_token(),
            "signed_in": is_admin(&state, &method, &headers),
        }}),
    )
}

/// `POST /_mock/session` (behind the guard, so it proved the admin token): sets the session
/// cookie the guard accepts. Without an admin token there is nothing to hold: 204, no cookie.
pub(crate) async fn sign_in(State(state): State<AppState>) -> Result<Response, ApiError> {
    if !state.config().has_admin_token() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let session = state.admin_session().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "The system gave no randomness for a session; send the admin token on each request.",
        )
    })?;
    let cookie = format!("{SESSION_COOKIE}={session}; Path=/_mock; HttpOnly; SameSite=Strict");
    let cookie = HeaderValue::from_str(&cookie)
        .map_err(|_| ApiError::internal("could not build the session cookie"))?;
    Ok((
        StatusCode::NO_CONTENT,
        [
            (header::SET_COOKIE, cookie),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response())
}

/// `DELETE /_mock/session`: forgets the session cookie in this browser.
pub(crate) async fn sign_out() -> Response {
    let cookie = format!("{SESSION_COOKIE}=; Path=/_mock; HttpOnly; SameSite=Strict; Max-Age=0");
    match HeaderValue::from_str(&cookie) {
        Ok(v) => (StatusCode::NO_CONTENT, [(header::SET_COOKIE, v)]).into_response(),
        Err(_) => StatusCode::NO_CONTENT.into_response(),
    }
}

/// What `GET /_mock/state` answers.
#[derive(Serialize)]
struct Overview {
    now: String,
    clock_offset_seconds: u64,
    journal_enabled: bool,
    accounts: Vec<AccountOverview>,
    tokens: Vec<RateBudget>,
}

/// `GET /_mock/state`: the server clock, each account's newest codes with their scans, and
/// each token's rate budget (read without spending credit).
pub(crate) async fn state_overview(State(state): State<AppState>) -> Response {
    json_value(
        StatusCode::OK,
        &DataView {
            data: Overview {
                now: rfc3339(state.clock().now()),
                clock_offset_seconds: state.clock().offset().as_secs(),
                journal_enabled: state.journal().is_some(),
                accounts: state.accounts_overview(),
                tokens: state.rate_budgets(),
            },
        },
    )
}
