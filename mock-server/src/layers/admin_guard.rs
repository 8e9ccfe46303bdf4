//! The guard of the mock-only routes: with an admin token configured
//! ([`MockConfig::admin_token`](crate::MockConfig::admin_token)), every `/_mock` request must
//! carry `Authorization: Bearer <admin token>`, or it is answered 401 in the error envelope
//! before any handler runs. API tokens are not admin tokens. Without one, the routes are open
//! (as WireMock's and LocalStack's admin APIs are); the binary says so when it listens beyond
//! loopback.
//!
//! The inspector page (`handlers::inspector`) cannot put a header on its live requests the way
//! a script can, so after it proves the admin token once (`POST /_mock/session` with the
//! header) it holds a session cookie ([`SESSION_COOKIE`]: HttpOnly, SameSite=Strict,
//! Path=/_mock) that this guard accepts as well. The cookie's value is a random secret made at
//! start, never the token. A cookie alone is enough for GET and HEAD; any other method also
//! needs the [`INSPECTOR_HEADER`] header, which a page on another origin (another port of
//! localhost is the same *site*) cannot send without a CORS preflight the mock never grants.
//! The page's static files (`GET /_mock/`, `/_mock/inspector/...`) and `GET /_mock/session`
//! (which only says whether the token is needed and held) carry no state and stay open, so a
//! browser can load the page that asks for the token.
//!
//! A server that listens on loopback only answers its `/_mock` routes for `localhost` or a
//! loopback address alone (403 `cross_origin_request` for any other `Host`): a web page whose
//! name an attacker points at 127.0.0.1 (DNS rebinding) is same-origin with itself, so no
//! origin check stops it, but it cannot make the browser send `Host: localhost`.
//!
//! With or without an admin token, a `/_mock` request that may change state (any method but
//! GET and HEAD) is refused (403 `cross_origin_request`) when the browser says it comes from a
//! page of another origin: `Sec-Fetch-Site: cross-site` or `same-site`, or an `Origin` whose
//! host and port are not the request's `Host`. Without this, any web page open in a
//! developer's browser could reset the mock's state with a form post or a `no-cors` fetch,
//! which need no preflight. Scripts and SDKs send neither header; the inspector page is
//! same-origin.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};

use super::auth::bearer_token;
use super::hook::{Hook, Step};
use crate::error::ApiError;
use crate::state::AppState;

/// True for the mock-only paths: `/_mock` and below.
pub(crate) fn is_admin_path(path: &str) -> bool {
    path.strip_prefix("/_mock")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Compares without stopping at the first differing byte, so the answer's timing does not
/// tell how much of a guess was right.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The name of the inspector's session cookie.
pub(crate) const SESSION_COOKIE: &str = "heldqr_mock_session";

/// The header the inspector page puts on its state-changing requests (any value).
pub(crate) const INSPECTOR_HEADER: &str = "x-heldqr-inspector";

/// The open `/_mock` requests: the inspector's static files and its session probe.
fn is_open(method: &Method, path: &str) -> bool {
    if method != Method::GET && method != Method::HEAD {
        return false;
    }
    matches!(path, "/_mock" | "/_mock/" | "/_mock/session")
        || path
            .strip_prefix("/_mock/inspector/")
            .is_some_and(|rest| !rest.contains('/'))
}

/// The values of every cookie named `name` in the request's `Cookie` headers.
fn cookies<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(move |pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k.trim() == name).then(|| v.trim())
        })
}

/// True when the request proves the admin role: no admin token is configured, or it carries
/// `Authorization: Bearer <admin token>`, or the session cookie (with [`INSPECTOR_HEADER`]
/// unless the method is GET or HEAD).
pub(crate) fn is_admin(state: &AppState, method: &Method, headers: &HeaderMap) -> bool {
    let Some(expected) = state.config().admin_token.as_ref() else {
        return true;
    };
    if bearer_token(headers)
        .is_some_and(|given| same_secret(given.as_bytes(), expected.0.as_bytes()))
    {
        return true;
    }
    let Some(session) = state.admin_session() else {
        return false;
    };
    let safe = method == Method::GET || method == Method::HEAD;
    (safe || headers.contains_key(INSPECTOR_HEADER))
        && cookies(headers, SESSION_COOKIE)
            .any(|given| same_secret(given.as_bytes(), session.as_bytes()))
}

/// True when a browser marks the request as sent by a page of another origin: its
/// `Sec-Fetch-Site` says so, or its `Origin` is not `http(s)://` + the request's `Host`
/// (HTTP/2: its `:authority`), `Origin: null` (an opaque origin) included.
fn from_another_origin(req: &Request) -> bool {
    let headers = req.headers();
    let text = |name| headers.get(name).map(|v| v.to_str().unwrap_or(""));
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site"))
        && (site.eq_ignore_ascii_case("cross-site") || site.eq_ignore_ascii_case("same-site"))
    {
        return true;
    }
    let Some(origin) = text(header::ORIGIN) else {
        return false;
    };
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    let host = text(header::HOST).or_else(|| req.uri().authority().map(|a| a.as_str()));
    match (authority, host) {
        (Some(authority), Some(host)) => !authority.eq_ignore_ascii_case(host),
        _ => true,
    }
}

/// True when a server listening on loopback only is asked for a host name that is not
/// `localhost` (or below it) or a loopback address: what a DNS-rebinding page sends (its own
/// name, resolved to 127.0.0.1). A request without `Host` (HTTP/2 without `:authority`, a
/// test calling the app directly) is not refused.
fn rebound(state: &AppState, req: &Request) -> bool {
    if !state.config().listens_on_loopback_only() {
        return false;
    }
    // Every name the request gives must be a loopback one: each `Host` header, and the
    // target's authority (absolute form, HTTP/2's `:authority`).
    req.headers()
        .get_all(header::HOST)
        .iter()
        .map(|value| value.to_str().unwrap_or("?"))
        .chain(req.uri().authority().map(|a| a.as_str()))
        .any(|host| !is_loopback_host(host))
}

/// `localhost`, a name under `.localhost`, or a loopback IP address, with any port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        // `[::1]:8080`: after the bracket, only a port.
        Some(rest) => match rest.split_once(']') {
            Some((ip, after))
                if after.is_empty()
                    || after
                        .strip_prefix(':')
                        .is_some_and(|port| port.bytes().all(|b| b.is_ascii_digit())) =>
            {
                ip
            }
            _ => return false,
        },
        // `::1`, unbracketed: an IPv6 address has more than one colon, a name with a port one.
        None if host.matches(':').count() > 1 => host,
        None => host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                name
            } else {
                host
            }
        }),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name
            .parse::<std::net::IpAddr>()
            // `::ffff:127.0.0.1`, an IPv4 loopback address written as IPv6, included.
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// 401 for a `/_mock` request without the admin token, when one is configured; 403 for one
/// that may change state from a page of another origin, or for a loopback server asked for
/// another host name.
#[derive(Clone)]
pub(crate) struct AdminGuard(pub AppState);

impl Hook for AdminGuard {
    type Carry = ();

    fn before(&self, req: &mut Request) -> Step<()> {
        let state = &self.0;
        let path = req.uri().path();
        if !is_admin_path(path) {
            return Step::Pass;
        }
        let answer = if rebound(state, req) {
            ApiError::rebound_host()
        } else if req.method() != Method::GET
            && req.method() != Method::HEAD
            && from_another_origin(req)
        {
            ApiError::cross_origin()
        } else if state.config().admin_token.is_none()
            || is_open(req.method(), path)
            || is_admin(state, req.method(), req.headers())
        {
            return Step::Pass;
        } else {
            ApiError::admin_unauthorized()
        };
        Step::Answer(answer.into_response())
    }

    fn after(&self, (): (), res: Response) -> Response {
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_paths_only() {
        assert!(is_admin_path("/_mock"));
        assert!(is_admin_path("/_mock/reset"));
        assert!(!is_admin_path("/_mockery"));
        assert!(!is_admin_path("/api/v1/codes"));
    }

    #[test]
    fn only_the_page_and_the_session_probe_are_open() {
        assert!(is_open(&Method::GET, "/_mock/"));
        assert!(is_open(&Method::HEAD, "/_mock"));
        assert!(is_open(&Method::GET, "/_mock/inspector/app.js"));
        assert!(is_open(&Method::GET, "/_mock/session"));
        assert!(!is_open(&Method::POST, "/_mock/session"));
        assert!(!is_open(&Method::DELETE, "/_mock/session"));
        assert!(!is_open(&Method::POST, "/_mock/"));
        assert!(!is_open(&Method::GET, "/_mock/inspector/a/b"));
        assert!(!is_open(&Method::GET, "/_mock/state"));
        assert!(!is_open(&Method::GET, "/_mock/requests"));
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            "a=1; heldqr_mock_session=abc ; b=2".parse().unwrap(),
        );
        h.append(header::COOKIE, "heldqr_mock_session=def".parse().unwrap());
        let found: Vec<&str> = cookies(&h, SESSION_COOKIE).collect();
        assert_eq!(found, ["abc", "def"]);
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"adm_1", b"adm_1"));
        assert!(!same_secret(b"adm_2", b"adm_1"));
        assert!(!same_secret(b"adm_1x", b"adm_1"));
        assert!(!same_secret(b"", b"adm_1"));
    }
}
