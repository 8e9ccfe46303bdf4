//! The guard of the mock-only routes: with an admin token configured
//! ([`MockConfig::admin_token`](crate::MockConfig::admin_token)), every `/_mock` request must
//! carry `Authorization: Bearer <admin token>`, or it is answered 401 in the error envelope
//! before any handler runs. API tokens are not admin tokens. Without one, the routes are open
//! (as WireMock's and LocalStack's admin APIs are); the binary says so when it listens beyond
//! loopback.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::auth::bearer_token;
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

/// 401 for a `/_mock` request without the admin token, when one is configured.
pub(crate) async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(expected) = state.config().admin_token.as_ref() else {
        return next.run(req).await;
    };
    if !is_admin_path(req.uri().path()) {
        return next.run(req).await;
    }
    let allowed = bearer_token(req.headers())
        .is_some_and(|given| same_secret(given.as_bytes(), expected.0.as_bytes()));
    if allowed {
        next.run(req).await
    } else {
        ApiError::admin_unauthorized().into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::{is_admin_path, same_secret};

    #[test]
    fn admin_paths_only() {
        assert!(is_admin_path("/_mock"));
        assert!(is_admin_path("/_mock/reset"));
        assert!(!is_admin_path("/_mockery"));
        assert!(!is_admin_path("/api/v1/codes"));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"adm_1", b"adm_1"));
        assert!(!same_secret(b"adm_2", b"adm_1"));
        assert!(!same_secret(b"adm_1x", b"adm_1"));
        assert!(!same_secret(b"", b"adm_1"));
    }
}
