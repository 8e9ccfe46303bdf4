//! The cross-cutting concerns of the request path, one module and one layer each, in the order
//! a request meets them (see [`app`](crate::app)): `request_id` (a fresh `X-Request-Id` on every
//! answer), `auth`'s `Identify` (the caller of a known bearer token, looked up once), `log` (one
//! line per request), `admin_guard` (the admin token on the mock-only routes), `journal` (the
//! request journal of `/api/v1` and `/r/`), `faults` (injected faults, decided before the
//! credit is spent), `auth`'s `Meter` (rate-limit credit and headers), `method_not_allowed` (the
//! router's own 405 in the error envelope). Each is a [`hook::Hook`] on the one layer type of
//! [`hook`]. `auth`'s `Require` is not a layer: it is the extractor every operation takes first.

pub(crate) mod admin_guard;
pub(crate) mod auth;
pub(crate) mod faults;
pub(crate) mod hook;
pub(crate) mod journal;
pub(crate) mod log;
pub(crate) mod method_not_allowed;
pub(crate) mod request_id;

/// True for the paths of the API itself: `/api/v1` and below.
pub(crate) fn in_api(path: &str) -> bool {
    path.strip_prefix("/api/v1")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::in_api;

    #[test]
    fn api_paths_only() {
        assert!(in_api("/api/v1"));
        assert!(in_api("/api/v1/codes"));
        assert!(!in_api("/api/v10"));
        assert!(!in_api("/healthz"));
        assert!(!in_api("/_mock/reset"));
        assert!(!in_api("/r/abc"));
    }
}
