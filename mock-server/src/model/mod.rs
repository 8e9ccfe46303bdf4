//! The domain types the state, validation and handlers share: a code (record, status, wire
//! view), its scans (device, country, aggregated stats and the plan-shaped report) and the
//! plan. Imports nothing from state, layers or handlers.

mod code;
mod plan;
mod scans;

pub(crate) use code::{CodeRecord, CodeStatus, CodeView, EarlierTargets, rfc3339};
pub use plan::{Plan, UnknownPlan};
pub(crate) use scans::{Country, Device, ScanStats, country_from_header};
