//! The connector template's wire format, unchanged, with its own status table: the
//! smallest real upgrade of a connector, and one whose effect on residents a dry run
//! must show.

#[path = "../../../../examples/connector-template/src/connector.rs"]
mod connector;
mod statuses;
