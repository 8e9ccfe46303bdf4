//! Workspace-level package of heldqr-rs.
//!
//! This package has no API of its own: it owns the workspace examples
//! (`cargo run --example quickstart`) and the contract tests in `tests/`, which run the
//! SDK and the CLI against the mock server. The products are the crates `heldqr-sdk`,
//! `heldqr-cli` and `heldqr-mock`.
