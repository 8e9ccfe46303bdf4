//! End-to-end tests: the real `heldqr` binary against a real `heldqr-mock` process on
//! 127.0.0.1 port 0. Needs the mock binary built (`cargo build -p heldqr-mock`; `cargo test
//! --workspace` builds it). Target URLs are data only: nothing here follows a redirect.

mod support;

mod api;
mod auth;
mod codes;
mod exactly_once;
mod exit_codes;
mod faults;
mod import;
mod jq;
mod lists;
mod output;
mod qr;
mod scans;
mod verbose;
