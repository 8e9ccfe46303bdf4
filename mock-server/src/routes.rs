//! [`app`]: the layers of the request path, outermost first, around the route table.

use std::convert::Infallible;

use axum::Router;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::{get, post};
use tower::{Service, ServiceBuilder};

use crate::handlers::{self, admin, codes, inspector, reference, scans};
use crate::layers::admin_guard::AdminGuard;
use crate::layers::auth::{Identify, Meter};
use crate::layers::faults::InjectFaults;
use crate::layers::hook::HookLayer;
use crate::layers::journal::RecordRequests;
use crate::layers::log::RequestLog;
use crate::layers::method_not_allowed::MethodNotAllowedEnvelope;
use crate::layers::request_id::RequestIds;
use crate::state::AppState;

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
    Router::new().fallback_service(service(state))
}

/// The layers, outermost first, around the route table, as one service: what [`app`] routes
/// to, and what the server's connections call directly (one copy per connection, no router
/// in front). Every service in it is always ready.
pub(crate) fn service(
    state: AppState,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ Sync
+ 'static {
    ServiceBuilder::new()
        // A fresh X-Request-Id on the request and on its answer.
        .layer(HookLayer(RequestIds(state.clone())))
        // Who calls: a known bearer token's caller, looked up once for everything inside.
        .layer(HookLayer(Identify(state.clone())))
        // One log line per request, after the answer.
        .layer(HookLayer(RequestLog(state.clone())))
        // The admin token on the mock-only /_mock routes, when one is configured.
        .layer(HookLayer(AdminGuard(state.clone())))
        // The request journal (GET /_mock/requests), outside faults: it sees dropped answers.
        .layer(HookLayer(RecordRequests(state.clone())))
        // Injected faults, before the credit is spent and `Require` (an injected answer spends
        // no credit).
        .layer(HookLayer(InjectFaults(state.clone())))
        // Rate-limit credit and headers on every /api/v1 answer of a known caller.
        .layer(HookLayer(Meter::new(state.clone())))
        // The router's own 405 in the error envelope.
        .layer(HookLayer(MethodNotAllowedEnvelope))
        // The route table's future, boxed once: each layer's future then holds a pointer, not
        // a copy of everything inside it, so passing it out through the layers moves little.
        .map_future(|answer| -> BoxedAnswer { Box::pin(answer) })
        // The layers wrap the route table as one service, so they see its answers complete
        // (`Allow` included).
        .service(route_table(state))
}

type BoxedAnswer =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, Infallible>> + Send>>;

/// Every route. The `/api/v1` operations take auth's `Require` first (401, 429).
fn route_table(state: AppState) -> Router {
    Router::new()
        .route(
            "/api/v1/codes",
            get(codes::list_codes).post(codes::create_code),
        )
        .route(
            "/api/v1/codes/{shortcode}",
            get(codes::get_code).patch(codes::update_code),
        )
        .route("/api/v1/codes/{shortcode}/scans", get(scans::get_scans))
        .route("/r/{shortcode}", get(scans::scan_redirect))
        .route("/reference", get(reference::serve))
        .route("/healthz", get(handlers::healthz))
        // The inspector: `/` from a browser goes to its page; its files and data.
        .route("/", get(inspector::root))
        .route("/_mock", get(inspector::to_page))
        .route("/_mock/", get(inspector::page))
        .route("/_mock/inspector/{file}", get(inspector::asset))
        .route(
            "/_mock/session",
            get(inspector::session_status)
                .post(inspector::sign_in)
                .delete(inspector::sign_out),
        )
        .route("/_mock/state", get(inspector::state_overview))
        .route(
            "/_mock/codes/{shortcode}/scans",
            post(admin::mock_add_scans),
        )
        .route("/_mock/clock", get(admin::mock_clock))
        .route("/_mock/clock/advance", post(admin::mock_advance_clock))
        .route("/_mock/reset", post(admin::mock_reset))
        .route(
            "/_mock/requests",
            get(admin::mock_requests).delete(admin::mock_clear_requests),
        )
        .fallback(handlers::route_not_found)
        .with_state(state)
}
