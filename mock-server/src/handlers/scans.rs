//! The scans report (`GET /api/v1/codes/{shortcode}/scans`) and the scan URL
//! (`/r/{shortcode}`), which records a scan and redirects.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{json_value, shortcode};
use crate::error::ApiError;
use crate::layers::auth::Require;
use crate::model::{CodeStatus, Device, country_from_header};
use crate::state::AppState;

static CF_IPCOUNTRY: HeaderName = HeaderName::from_static("cf-ipcountry");

pub(crate) async fn get_scans(
    State(state): State<AppState>,
    Require(caller): Require,
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
    let now_nanos = state.clock().now_nanos();
    let now = i64::try_from(now_nanos.div_euclid(1_000_000_000)).unwrap_or(i64::MAX);
    let mut data = state.lock();
    let record = data
        .store
        .get_any_mut(&sc)
        .ok_or_else(|| ApiError::code_not_found(&sc))?;
    if record.status == CodeStatus::Paused {
        return Err(ApiError::code_paused());
    }
    let location = location(record.scan_target(now_nanos, state.propagation_delay_nanos()));
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

/// The redirect's `Location` for `target`: the target as sent when it is ASCII, else its ASCII
/// form (punycode host, UTF-8 percent-encoded path, query and fragment, from the `url` crate);
/// a target `url` cannot read has its non-ASCII bytes percent-encoded. Never fails.
fn location(target: &str) -> HeaderValue {
    if target.is_ascii()
        && let Ok(v) = HeaderValue::from_str(target)
    {
        return v;
    }
    let ascii = match url::Url::parse(target) {
        Ok(u) => String::from(u),
        Err(_) => percent_encode_non_ascii(target),
    };
    HeaderValue::from_str(&ascii).unwrap_or_else(|_| {
        HeaderValue::from_maybe_shared(percent_encode_non_ascii(&ascii))
            .unwrap_or_else(|_| HeaderValue::from_static("/"))
    })
}

/// Every byte outside visible ASCII as `%HH`.
fn percent_encode_non_ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_graphic() {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::location;

    #[test]
    fn location_is_the_ascii_form() {
        let cases = [
            ("https://example.com/menu", "https://example.com/menu"),
            ("http://a", "http://a"),
            ("HTTPS://Example.COM/x", "HTTPS://Example.COM/x"),
            (
                "https://bücher.example/straße?q=ü#é",
                "https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%BC#%C3%A9",
            ),
            (
                "http://[2001:db8::7]:8080/é",
                "http://[2001:db8::7]:8080/%C3%A9",
            ),
            // A host IDNA refuses (a non-breaking space) still gets an ASCII Location.
            ("http://a\u{a0}b/", "http://a%C2%A0b/"),
        ];
        for (target, expected) in cases {
            assert_eq!(location(target).to_str().unwrap(), expected, "{target}");
        }
    }
}
