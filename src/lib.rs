//! Workspace-level package of heldqr-rs.
//!
//! This package has no API of its own: it owns the workspace examples
//! (`cargo run --example quickstart`), the contract tests in `tests/` (the SDK against an
//! in-process mock server, exactly-once creates under injected faults) and the benches in
//! `benches/`. The products are the crates `heldqr-sdk`, `heldqr-cli` and `heldqr-mock`.

/// Compiles the Rust snippets of `README.md` as doctests, so the README cannot drift from the
/// SDK without a test failing.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
