//! The store as a port: what the API, the sync and the CLI hold (`Arc<dyn Storage>`),
//! whatever the backend. [`open`] takes a location (`redb:<path>`, a plain path, or a
//! `postgres://` URL); both backends implement every trait here, and apply a plan
//! through [`epms_engine::Plan::changes`] and [`crate::PropertyRecord::advance`], so
//! that what a plan means is never written twice.
//!
//! The traits are synchronous: callers that must not block an async worker already
//! run store work off it (syncs run on threads of their own), and a blocking call of
//! either backend is short.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use epms_engine::{AccountId, Alert, AuditEntry, DoorState, Plan};

use crate::{
    ClosedSuggestion, CredentialRecord, DeliveryAttempt, Dispositions, FeedRecord, OutboxEvent,
    PgStore, PlannedSync, PluginRecord, PropertyRecord, RedbStore, SecretBox, StoreError,
    Subscription, SyncRun, TokenRecord, VendorDefault,
};

/// Properties: their records, their DOOR state, plans applied to it, sync runs, the
/// property's audit log and histories.
pub trait PropertyStore: Send + Sync {
    fn create_property(&self, record: &PropertyRecord) -> Result<(), StoreError>;
    fn property(&self, id: &str) -> Result<PropertyRecord, StoreError>;
    fn properties(&self) -> Result<Vec<PropertyRecord>, StoreError>;
    /// Changes a property's record in one transaction; the new record.
    fn update_property(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut PropertyRecord),
    ) -> Result<PropertyRecord, StoreError>;
    /// The property's current state, read afresh.
    fn load_state(&self, property: &str) -> Result<DoorState, StoreError>;
    /// The property's current state (shared: it may be a cached copy, checked against
    /// the property's version).
    fn state(&self, property: &str) -> Result<Arc<DoorState>, StoreError>;
    /// [`PropertyStore::state`] for a scan of every property (the metrics): the cached
    /// copy when there is one, else read afresh and not cached, so that a scan does
    /// not push the properties in use out of the cache.
    fn state_for_scan(&self, property: &str) -> Result<Arc<DoorState>, StoreError>;
    /// Applies a plan made against the state's version, with the sync that made it
    /// (its run and record dispositions), all or nothing; `Stale` when the state moved.
    fn apply(
        &self,
        property: &str,
        plan: &Plan,
        sync: Option<PlannedSync<'_>>,
    ) -> Result<(), StoreError>;
    /// What the last sync that planned did with each PMS record (`None` before one).
    fn dispositions(&self, property: &str) -> Result<Option<Dispositions>, StoreError>;
    /// Whether the last sync with this input fingerprint left the state as it is.
    fn is_settled(&self, property: &str, input_fingerprint: u64) -> Result<bool, StoreError>;
    /// Records a sync that applied nothing (a failure).
    fn record_sync_run(&self, property: &str, run: &SyncRun) -> Result<(), StoreError>;
    /// The newest runs first.
    fn sync_runs(&self, property: &str, limit: usize) -> Result<Vec<SyncRun>, StoreError>;
    /// Entries after sequence number `after`, oldest first.
    fn audit(
        &self,
        property: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, AuditEntry)>, StoreError>;
    /// The property's audit entries about `account`, newest first.
    fn account_audit(
        &self,
        property: &str,
        account: AccountId,
        limit: usize,
    ) -> Result<Vec<(u64, AuditEntry)>, StoreError>;
    fn suggestion_history(
        &self,
        property: &str,
        limit: usize,
    ) -> Result<Vec<ClosedSuggestion>, StoreError>;
    fn alert_history(&self, property: &str, limit: usize) -> Result<Vec<Alert>, StoreError>;
}

/// The service's own data: API tokens, vendor credentials (secrets sealed) and the
/// service audit log.
pub trait AdminStore: Send + Sync {
    fn put_token(&self, hash: &str, record: &TokenRecord) -> Result<(), StoreError>;
    fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError>;
    /// Every token with its public id.
    fn tokens(&self) -> Result<Vec<(String, TokenRecord)>, StoreError>;
    fn revoke_token(&self, id: &str) -> Result<TokenRecord, StoreError>;
    fn record_service_event(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    fn service_audit(&self, after: u64, limit: usize)
    -> Result<Vec<(u64, AuditEntry)>, StoreError>;
    fn put_credential(
        &self,
        id: &str,
        vendor: &str,
        settings: BTreeMap<String, String>,
        secrets: &BTreeMap<String, String>,
    ) -> Result<CredentialRecord, StoreError>;
    fn credential(&self, id: &str) -> Result<CredentialRecord, StoreError>;
    fn credentials(&self) -> Result<Vec<CredentialRecord>, StoreError>;
    /// A credential's secrets, opened.
    fn credential_secrets(&self, id: &str) -> Result<BTreeMap<String, String>, StoreError>;
}

/// Connector versions shipped to running hosts: installed (bytes kept by their
/// hash), activated per vendor (with the versions before, for rollback) and pinned per
/// property (canary). Every change is written with its audit entry, at once.
pub trait ConnectorStore: Send + Sync {
    fn install_plugin(
        &self,
        record: &PluginRecord,
        wasm: &[u8],
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    fn plugin(&self, sha256: &str) -> Result<Option<PluginRecord>, StoreError>;
    fn plugins(&self) -> Result<Vec<PluginRecord>, StoreError>;
    fn remove_plugin(&self, sha256: &str, audit: &AuditEntry) -> Result<bool, StoreError>;
    fn plugin_bytes(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn plugin_defaults(&self) -> Result<BTreeMap<String, VendorDefault>, StoreError>;
    fn activate_plugin(
        &self,
        vendor: &str,
        sha256: &str,
        replacing: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    fn rollback_plugin(&self, vendor: &str, audit: &AuditEntry) -> Result<String, StoreError>;
    fn pin_plugin(
        &self,
        property: &str,
        sha256: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    fn plugin_pin(&self, property: &str) -> Result<Option<String>, StoreError>;
    fn plugin_pins(&self) -> Result<BTreeMap<String, String>, StoreError>;
}

/// The access event feed, for the lock platform: every applied grant and revoke, in
/// order, read after a cursor.
pub trait FeedStore: Send + Sync {
    fn feed(&self, cursor: u64, limit: usize) -> Result<Vec<(u64, FeedRecord)>, StoreError>;
    /// The feed events of one account of a property, newest first.
    fn account_feed(
        &self,
        property: &str,
        account: AccountId,
        limit: usize,
    ) -> Result<Vec<(u64, FeedRecord)>, StoreError>;
}

/// Who syncs a property now. Each property's sync runs on one host at a time: a host
/// holds the property's lease while it syncs, renews it, and releases it when done;
/// a host that dies stops renewing, and the lease lapses after its time to live. The
/// vendor's concurrency limit counts the live leases of all hosts.
pub trait SyncLeases: Send + Sync {
    /// Takes (or renews) the lease of `property` for `holder` for `ttl`, unless another
    /// holder's lease is live or `max_per_vendor` other properties of `vendor` are
    /// being synced (by any host).
    fn acquire_lease(
        &self,
        property: &str,
        vendor: &str,
        holder: &str,
        ttl: Duration,
        max_per_vendor: usize,
    ) -> Result<LeaseOutcome, StoreError>;
    /// Gives the lease up, if `holder` has it.
    fn release_lease(&self, property: &str, holder: &str) -> Result<(), StoreError>;
    /// The holder of the live lease of `property`, if any.
    fn lease_holder(&self, property: &str) -> Result<Option<String>, StoreError>;
}

/// What asking for a sync lease gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseOutcome {
    /// The caller holds it now (taken, or renewed).
    Taken,
    /// Another host syncs the property; it holds the lease.
    HeldBy(String),
    /// The vendor's limit of syncs at once is reached (across hosts).
    VendorAtLimit,
}

/// Webhook subscriptions, the outbox of notifications (appended by `apply` and
/// `record_sync_run` in their own transaction) and delivery attempts.
pub trait WebhookStore: Send + Sync {
    /// Adds a subscription, its cursor at the end of the outbox (it is sent what
    /// happens from now on), its signing secret sealed.
    fn create_subscription(
        &self,
        subscription: &Subscription,
        secret: &str,
    ) -> Result<Subscription, StoreError>;
    fn subscription(&self, id: &str) -> Result<Subscription, StoreError>;
    fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError>;
    /// The signing secret, opened.
    fn subscription_secret(&self, id: &str) -> Result<String, StoreError>;
    fn update_subscription(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut Subscription),
    ) -> Result<Subscription, StoreError>;
    /// Removes a subscription with its secret and attempts.
    fn delete_subscription(&self, id: &str) -> Result<(), StoreError>;
    /// Outbox events after sequence `after`, oldest first.
    fn outbox(&self, after: u64, limit: usize) -> Result<Vec<(u64, OutboxEvent)>, StoreError>;
    /// Records an attempt and what it did to the subscription, in one transaction
    /// (only the newest [`crate::ATTEMPTS_KEPT`] attempts are kept).
    fn record_attempt(
        &self,
        id: &str,
        attempt: &DeliveryAttempt,
        change: &mut dyn FnMut(&mut Subscription),
    ) -> Result<Subscription, StoreError>;
    /// Attempts, newest first.
    fn attempts(&self, id: &str, limit: usize) -> Result<Vec<DeliveryAttempt>, StoreError>;
    /// Drops the outbox events every subscription's cursor has passed (all of them
    /// when there is no subscription); how many.
    fn prune_outbox(&self) -> Result<u64, StoreError>;
}

/// All of the store, as one handle.
pub trait Storage:
    PropertyStore + AdminStore + ConnectorStore + FeedStore + SyncLeases + WebhookStore
{
}

impl<T: PropertyStore + AdminStore + ConnectorStore + FeedStore + SyncLeases + WebhookStore> Storage
    for T
{
}

/// Opens the store a location names: `redb:<path>`, `redb://<path>` or a plain path is
/// the embedded redb file (created when missing); `postgres://…` (or `postgresql://…`)
/// is a PostgreSQL database, migrated to this build's schema. Any other scheme is
/// refused by name.
pub fn open(location: &str, secrets: SecretBox) -> Result<Arc<dyn Storage>, StoreError> {
    let path = match location.split_once("://").map(|(s, _)| s) {
        None => location.strip_prefix("redb:").unwrap_or(location),
        Some("redb") => &location["redb://".len()..],
        Some("postgres" | "postgresql") => {
            return Ok(Arc::new(PgStore::connect(location, secrets)?));
        }
        Some(other) => return Err(StoreError::UnknownBackend(other.to_owned())),
    };
    Ok(Arc::new(RedbStore::open(Path::new(path), secrets)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_names_its_backend_and_an_unknown_one_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        for location in [
            dir.path().join("a.redb").display().to_string(),
            format!("redb:{}", dir.path().join("b.redb").display()),
            format!("redb://{}", dir.path().join("c.redb").display()),
        ] {
            let store = open(&location, SecretBox::new([3; 32])).unwrap();
            store
                .create_property(&PropertyRecord::new("door-1", "One", 0))
                .unwrap();
            assert_eq!(store.properties().unwrap().len(), 1, "{location}");
        }
        assert!(matches!(
            open("mysql://db/epms", SecretBox::new([3; 32])),
            Err(StoreError::UnknownBackend(s)) if s == "mysql"
        ));
    }
}
