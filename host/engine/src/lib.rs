//! The reconciliation and access engine: pure rules, no I/O, no clock, no wasmtime.
//!
//! `(PMS snapshot of one property, its DOOR state, its settings, now) → plan`. The
//! store applies a plan in one transaction; [`state::DoorState::apply`] is the
//! in-memory meaning of a plan, which the store must match. See `docs/engine.md`
//! for the definitions and invariants.

pub mod access;
pub mod accounts;
pub mod compare;
pub mod dates;
pub mod disposition;
pub mod normalize;
pub mod plan;
pub mod resolve;
pub mod state;
pub mod units_csv;
pub mod user_sync;
pub mod why;

pub use disposition::{AlertRef, Disposition, Linked, RecordDisposition, SharedWith};
pub use plan::{Actor, ApplyError, AuditEntry, Change, Plan};
pub use state::*;
pub use user_sync::{
    PmsPropertyData, PmsSnapshot, RULES_VERSION, SyncCounts, SyncOutcome, input_fingerprint,
    plan_sync,
};
