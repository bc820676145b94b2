//! The store: every property's DOOR state, the plans applied to it, the service's own
//! data and the access feed, behind one port ([`port`]) with two backends:
//!
//! - redb ([`RedbStore`]): one embedded file, for a single host, the demo and tests;
//! - PostgreSQL ([`PgStore`]): a database shared by a fleet of hosts.
//!
//! What a plan does is written once: the engine turns it into row-level changes
//! ([`epms_engine::Plan::changes`]), and [`records`] says what it does to the
//! property's record; a backend only stores rows. Secrets are sealed by [`SecretBox`]
//! before any backend sees them.

mod backends;
mod codec;
pub mod port;
mod read_cache;
mod records;
pub mod secret_box;
#[doc(hidden)]
pub mod test_database;
mod webhooks;

pub use backends::postgres::{PG_SCHEMA_VERSION, PgStore};
pub use backends::redb::{RedbStore, SCHEMA_VERSION, tables as redb_tables};
pub use port::{
    AdminStore, ConnectorStore, FeedStore, LeaseOutcome, PropertyStore, Storage, SyncLeases,
    WebhookStore,
};
pub use records::*;
pub use secret_box::{SecretBox, SecretError};
pub use webhooks::*;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(String),
    #[error(
        "the database was written by a newer version (schema {found}); this build reads up to {supported}"
    )]
    NewerSchema { found: u64, supported: u64 },
    #[error("property {0:?} does not exist")]
    NoSuchProperty(String),
    #[error("property {0:?} already exists")]
    PropertyExists(String),
    #[error("credential {0:?} does not exist")]
    NoSuchCredential(String),
    #[error("a property id must not be empty")]
    EmptyPropertyId,
    #[error("no token has the id {0:?}")]
    NoSuchToken(String),
    #[error("vendor {0:?} has no earlier version to roll back to")]
    NothingToRollBack(String),
    #[error("the plan was made against state version {plan}, but the property is at {current}")]
    Stale { plan: u64, current: u64 },
    #[error("stored value is unreadable: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("no store backend is called {0:?} (this build has: redb, postgres)")]
    UnknownBackend(String),
    #[error("the store location is not usable: {0}")]
    BadLocation(String),
    #[error("no webhook subscription has the id {0:?}")]
    NoSuchSubscription(String),
}

/// The audit scope of the service itself; no property may have this id.
pub const SERVICE_SCOPE: &str = "";

/// A token's public id: the first 16 hex digits of its hash (enough to name it, of
/// no use to authenticate).
pub fn token_id(hash: &str) -> &str {
    hash.get(..16).unwrap_or(hash)
}
