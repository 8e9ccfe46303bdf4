//! `heldqr-mock`: the stateful reference mock server of the Heldqr Management API.
//!
//! It implements the whole contract in `openapi.yaml` (served at `GET /reference`): bearer
//! tokens on accounts with plans, the per-token sliding-window rate limit, idempotent creates,
//! the one error envelope, pagination, the scan URL that records scans and redirects, the
//! plan-shaped scans report, and mock-only routes under `/_mock/` to add scans, move the clock
//! and reset state. For tests of clients under failure, [`FaultConfig`] injects seeded faults
//! into `/api/v1` requests (dropped and reset connections after a committed create, 500/503,
//! an unfamiliar error code, 429 bursts, latency).
//!
//! Use it in tests with [`MockServer`] (a real port) or [`app`] (no port, with
//! `tower::ServiceExt::oneshot`), or run the `heldqr-mock` binary.
//!
//! ```
//! # async fn demo() -> std::io::Result<()> {
//! use heldqr_mock::{MockConfig, MockServer, DEV_TOKEN_BUSINESS};
//!
//! let server = MockServer::start(MockConfig::default().seed(7)).await?;
//! // Point a client at server.base_url() with `Authorization: Bearer hkr_test_business`.
//! println!("{} {}", server.base_url(), DEV_TOKEN_BUSINESS);
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod body;
mod clock;
mod config;
mod connections;
mod error;
mod handlers;
mod header_timer;
mod layers;
mod model;
mod routes;
mod server;
mod state;
mod validate;
mod when_woken;
mod workers;

pub use body::BODY_LIMIT;
pub use clock::MockClock;
pub use config::{
    ConfigError, DEFAULT_BODY_TIMEOUT, DEFAULT_BURST_LEN, DEFAULT_HEADER_TIMEOUT,
    DEFAULT_JOURNAL_BYTES, DEFAULT_JOURNAL_SIZE, DEFAULT_MAX_CODES_PER_ACCOUNT,
    DEFAULT_MAX_CONNECTIONS, DEV_TOKEN_BUSINESS, DEV_TOKEN_FREE, DEV_TOKEN_PRO, FaultConfig,
    MAX_CONNECTION_TIMEOUT, MAX_LATENCY, MockConfig, RateLimitConfig, TokenSpec, UNKNOWN_CODE,
    UNKNOWN_CODE_STATUS,
};
pub use handlers::reference::OPENAPI_YAML;
pub use layers::log::REQUEST_TARGET as REQUEST_LOG_TARGET;
pub use model::{Plan, UnknownPlan};
pub use routes::app;
pub use server::MockServer;
pub use state::{
    AppState, FaultCounts, JOURNAL_BODY_LIMIT, JOURNAL_HEADER_LIMIT, JournalEntry, JournalMessage,
    RequestFilter,
};
pub use workers::Workers;
