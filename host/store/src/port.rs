//! The store as a port: what the API, the sync and the CLI hold (`Arc<dyn Storage>`),
//! whatever the backend. redb ([`crate::Store`]) is the embedded one; another backend
//! implements the same three traits, and applies a plan through
//! [`epms_engine::Plan::changes`] so that what a plan means is never written again.
//!
//! The traits are synchronous, as redb is: callers that must not block an async worker
//! already run store work off it (syncs run on their own threads).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use epms_engine::{Alert, AuditEntry, DoorState, Plan};

use crate::{
    ClosedSuggestion, CredentialRecord, FeedRecord, PluginRecord, PropertyRecord, SecretBox, Store,
    StoreError, SyncRun, TokenRecord, VendorDefault,
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
    /// The property's current state (shared: it may be a cached copy).
    fn state(&self, property: &str) -> Result<Arc<DoorState>, StoreError>;
    /// Applies a plan made against the state's version, with the sync run that made
    /// it, all or nothing; `Stale` when the state moved.
    fn apply(&self, property: &str, plan: &Plan, run: Option<&SyncRun>) -> Result<(), StoreError>;
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
    fn suggestion_history(
        &self,
        property: &str,
        limit: usize,
    ) -> Result<Vec<ClosedSuggestion>, StoreError>;
    fn alert_history(&self, property: &str, limit: usize) -> Result<Vec<Alert>, StoreError>;
}

/// The service's own data: API tokens, vendor credentials (secrets sealed), connector
/// versions, and the service audit log.
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
}

/// All of the store, as one handle.
pub trait Storage: PropertyStore + AdminStore + FeedStore {}

impl<T: PropertyStore + AdminStore + FeedStore> Storage for T {}

/// Opens the store a location names: `redb:<path>` or a plain path is the embedded
/// redb file (created when missing). Any other scheme is refused by name.
pub fn open(location: &str, secrets: SecretBox) -> Result<Arc<dyn Storage>, StoreError> {
    let path = match location.split_once("://").map(|(s, _)| s) {
        None => location.strip_prefix("redb:").unwrap_or(location),
        Some("redb") => &location["redb://".len()..],
        Some(other) => return Err(StoreError::UnknownBackend(other.to_owned())),
    };
    Ok(Arc::new(Store::open(Path::new(path), secrets)?))
}

impl PropertyStore for Store {
    fn create_property(&self, record: &PropertyRecord) -> Result<(), StoreError> {
        Store::create_property(self, record)
    }
    fn property(&self, id: &str) -> Result<PropertyRecord, StoreError> {
        Store::property(self, id)
    }
    fn properties(&self) -> Result<Vec<PropertyRecord>, StoreError> {
        Store::properties(self)
    }
    fn update_property(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut PropertyRecord),
    ) -> Result<PropertyRecord, StoreError> {
        Store::update_property(self, id, change)
    }
    fn state(&self, property: &str) -> Result<Arc<DoorState>, StoreError> {
        Store::state(self, property)
    }
    fn apply(&self, property: &str, plan: &Plan, run: Option<&SyncRun>) -> Result<(), StoreError> {
        Store::apply(self, property, plan, run)
    }
    fn is_settled(&self, property: &str, input_fingerprint: u64) -> Result<bool, StoreError> {
        Store::is_settled(self, property, input_fingerprint)
    }
    fn record_sync_run(&self, property: &str, run: &SyncRun) -> Result<(), StoreError> {
        Store::record_sync_run(self, property, run)
    }
    fn sync_runs(&self, property: &str, limit: usize) -> Result<Vec<SyncRun>, StoreError> {
        Store::sync_runs(self, property, limit)
    }
    fn audit(
        &self,
        property: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, AuditEntry)>, StoreError> {
        Store::audit(self, property, after, limit)
    }
    fn suggestion_history(
        &self,
        property: &str,
        limit: usize,
    ) -> Result<Vec<ClosedSuggestion>, StoreError> {
        Store::suggestion_history(self, property, limit)
    }
    fn alert_history(&self, property: &str, limit: usize) -> Result<Vec<Alert>, StoreError> {
        Store::alert_history(self, property, limit)
    }
}

impl AdminStore for Store {
    fn put_token(&self, hash: &str, record: &TokenRecord) -> Result<(), StoreError> {
        Store::put_token(self, hash, record)
    }
    fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        Store::token(self, hash)
    }
    fn tokens(&self) -> Result<Vec<(String, TokenRecord)>, StoreError> {
        Store::tokens(self)
    }
    fn revoke_token(&self, id: &str) -> Result<TokenRecord, StoreError> {
        Store::revoke_token(self, id)
    }
    fn record_service_event(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        Store::record_service_event(self, entry)
    }
    fn service_audit(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, AuditEntry)>, StoreError> {
        Store::service_audit(self, after, limit)
    }
    fn put_credential(
        &self,
        id: &str,
        vendor: &str,
        settings: BTreeMap<String, String>,
        secrets: &BTreeMap<String, String>,
    ) -> Result<CredentialRecord, StoreError> {
        Store::put_credential(self, id, vendor, settings, secrets)
    }
    fn credential(&self, id: &str) -> Result<CredentialRecord, StoreError> {
        Store::credential(self, id)
    }
    fn credentials(&self) -> Result<Vec<CredentialRecord>, StoreError> {
        Store::credentials(self)
    }
    fn credential_secrets(&self, id: &str) -> Result<BTreeMap<String, String>, StoreError> {
        Store::credential_secrets(self, id)
    }
    fn install_plugin(
        &self,
        record: &PluginRecord,
        wasm: &[u8],
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        Store::install_plugin(self, record, wasm, audit)
    }
    fn plugin(&self, sha256: &str) -> Result<Option<PluginRecord>, StoreError> {
        Store::plugin(self, sha256)
    }
    fn plugins(&self) -> Result<Vec<PluginRecord>, StoreError> {
        Store::plugins(self)
    }
    fn remove_plugin(&self, sha256: &str, audit: &AuditEntry) -> Result<bool, StoreError> {
        Store::remove_plugin(self, sha256, audit)
    }
    fn plugin_bytes(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Store::plugin_bytes(self, sha256)
    }
    fn plugin_defaults(&self) -> Result<BTreeMap<String, VendorDefault>, StoreError> {
        Store::plugin_defaults(self)
    }
    fn activate_plugin(
        &self,
        vendor: &str,
        sha256: &str,
        replacing: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        Store::activate_plugin(self, vendor, sha256, replacing, audit)
    }
    fn rollback_plugin(&self, vendor: &str, audit: &AuditEntry) -> Result<String, StoreError> {
        Store::rollback_plugin(self, vendor, audit)
    }
    fn pin_plugin(
        &self,
        property: &str,
        sha256: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        Store::pin_plugin(self, property, sha256, audit)
    }
    fn plugin_pin(&self, property: &str) -> Result<Option<String>, StoreError> {
        Store::plugin_pin(self, property)
    }
    fn plugin_pins(&self) -> Result<BTreeMap<String, String>, StoreError> {
        Store::plugin_pins(self)
    }
}

impl FeedStore for Store {
    fn feed(&self, cursor: u64, limit: usize) -> Result<Vec<(u64, FeedRecord)>, StoreError> {
        Store::feed(self, cursor, limit)
    }
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
