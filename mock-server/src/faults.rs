//! The seam for fault injection: every request passes through [`decide`] before routing, where a
//! per-request fault (an injected 500/503, a delay, a dropped connection) can be chosen. No
//! fault is configured today, so every request goes through untouched.

use axum::extract::Request;
use axum::response::Response;

use crate::state::AppState;

/// The answer to give instead of routing `req`, if a fault is chosen for it.
pub(crate) fn decide(_state: &AppState, _req: &Request) -> Option<Response> {
    None
}
