//! The places the store can keep its rows.

pub mod postgres;
pub mod redb;
