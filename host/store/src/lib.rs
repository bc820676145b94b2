//! The redb store.
//!
//! A narrow interface, so that another backend can follow without touching the
//! engine: load one property's [`DoorState`], apply a [`Plan`] atomically (one write
//! transaction: the whole sync happens or none of it), and read views. Every table
//! is declared in [`tables`] with its encoding.
//!
//! Schema: the `meta` table holds the schema version; a database written by a newer
//! version is refused with [`StoreError::NewerSchema`] rather than misread.

mod plugins;
pub mod port;
pub mod secret_box;
pub mod tables;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use epms_engine::{
    AuditEntry, Change, DoorState, FeedEvent, Plan, Settings, Suggestion, SyncCounts,
};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use plugins::{PluginRecord, VendorDefault};
pub use port::{AdminStore, FeedStore, PropertyStore, Storage};
pub use secret_box::{SecretBox, SecretError};
use tables::*;

/// The schema this build writes.
pub const SCHEMA_VERSION: u64 = 1;

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
    #[error("no store backend is called {0:?} (this build has: redb)")]
    UnknownBackend(String),
}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.to_string())
            }
        }
    )*};
}
db_err!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// The audit scope of the service itself; no property may have this id.
pub const SERVICE_SCOPE: &str = "";

/// A token's public id: the first 16 hex digits of its hash (enough to name it, of
/// no use to authenticate).
pub fn token_id(hash: &str) -> &str {
    hash.get(..16).unwrap_or(hash)
}

/// A DOOR property and its integration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropertyRecord {
    pub id: String,
    pub name: String,
    pub credential_id: Option<String>,
    /// The PMS property ids attached (one or more, of the one credential).
    pub pms_property_ids: Vec<String>,
    pub settings: Settings,
    /// `DoorState::version` and id counters.
    pub version: u64,
    pub next_account_id: u64,
    pub next_alert_id: u64,
    pub next_door_unit_id: u64,
    #[serde(default = "one")]
    pub next_grant_id: u64,
    #[serde(default = "one")]
    pub next_suggestion_id: u64,
    /// When the last successful sync finished (unix seconds).
    pub last_sync_ok: Option<i64>,
    pub created_at: i64,
    /// The input fingerprint of the last sync that planned nothing, and the state
    /// version it left: a sync with the same input against the same version can be
    /// skipped (see `epms_engine::input_fingerprint`).
    #[serde(default)]
    pub settled: Option<Settled>,
    /// Minutes between scheduled syncs; `None`: the service's default (hourly).
    #[serde(default)]
    pub sync_interval_minutes: Option<u32>,
}

fn one() -> u64 {
    1
}

/// Who an API token speaks for.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Every property, connector and credential.
    Admin,
    /// Only the properties listed on the token.
    PropertyManager,
}

impl Role {
    /// Why a token of this role cannot list these properties, if it cannot: an admin
    /// sees every property, a property manager at least one. (Whether they exist is
    /// the caller's check, against the store.)
    pub fn scope_problem(&self, properties: &[String]) -> Option<&'static str> {
        match self {
            Role::Admin if !properties.is_empty() => {
                Some("an admin token sees every property: give it none")
            }
            Role::PropertyManager if properties.is_empty() => {
                Some("a property-manager token needs at least one property")
            }
            _ => None,
        }
    }
}

/// An API token as stored: its hash is the key; the token itself is shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub name: String,
    pub role: Role,
    /// For property managers: the properties they may see.
    pub properties: Vec<String>,
    pub created_at: i64,
}

/// One entry of the access event feed, as the lock platform reads it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedRecord {
    pub property: String,
    #[serde(flatten)]
    pub event: FeedEvent,
}

/// A suggestion that left the pending list, and why.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedSuggestion {
    pub suggestion: Suggestion,
    pub outcome: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settled {
    #[serde(with = "epms_model::u64_text")]
    pub input_fingerprint: u64,
    pub version: u64,
}

impl PropertyRecord {
    pub fn new(id: &str, name: &str, now: i64) -> Self {
        PropertyRecord {
            id: id.to_owned(),
            name: name.to_owned(),
            credential_id: None,
            pms_property_ids: Vec::new(),
            settings: Settings::default(),
            version: 0,
            next_account_id: 1,
            next_alert_id: 1,
            next_door_unit_id: 1,
            next_grant_id: 1,
            next_suggestion_id: 1,
            last_sync_ok: None,
            created_at: now,
            settled: None,
            sync_interval_minutes: None,
        }
    }
}

/// A vendor login. Secret fields are sealed; they leave the store only through
/// [`Store::credential_secrets`], for the outbound gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialRecord {
    pub id: String,
    pub vendor: String,
    /// Non-secret fields.
    pub settings: BTreeMap<String, String>,
    /// Secret fields, sealed with the host's key.
    pub sealed_secrets: BTreeMap<String, String>,
}

/// How a sync ended.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunOutcome {
    Succeeded,
    /// Nothing was applied; `error` says why.
    Failed,
}

/// One sync's record.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRun {
    pub started_at: i64,
    pub finished_at: i64,
    pub outcome: RunOutcome,
    pub counts: SyncCounts,
    /// Classified error code and message when it failed.
    pub error_code: Option<String>,
    pub error: Option<String>,
    /// The engine's input fingerprint of a sync that ran the planner.
    #[serde(default, with = "epms_model::u64_text::option")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub input_fingerprint: Option<u64>,
    /// The connector version that fetched (absent when none was reached).
    #[serde(default)]
    pub connector: Option<ConnectorUsed>,
}

/// Which connector version a sync ran.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorUsed {
    pub vendor: String,
    pub version: String,
    pub sha256: String,
}

fn enc<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("engine types serialise")
}

fn dec<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A plan's row-level changes (`Plan::changes`: the one statement of what a plan
/// means), each on its table, in one write transaction.
fn apply_changes(
    txn: &redb::WriteTransaction,
    property: &str,
    plan: &Plan,
) -> Result<(), StoreError> {
    let mut accounts = txn.open_table(ACCOUNTS)?;
    let mut links = txn.open_table(LINKS)?;
    let mut alerts = txn.open_table(ALERTS)?;
    let mut alert_history = txn.open_table(ALERT_HISTORY)?;
    let mut pms_units = txn.open_table(PMS_UNITS)?;
    let mut door_units = txn.open_table(DOOR_UNITS)?;
    let mut mappings = txn.open_table(MAPPINGS)?;
    let mut grants = txn.open_table(GRANTS)?;
    let mut suggestions = txn.open_table(SUGGESTIONS)?;
    let mut suggestion_history = txn.open_table(SUGGESTION_HISTORY)?;
    let mut memos = txn.open_table(MEMOS)?;
    let mut feed = txn.open_table(FEED)?;
    let mut next_seq = match feed.last()? {
        Some((k, _)) => k.value() + 1,
        None => 1,
    };
    for change in plan.changes() {
        match change {
            Change::PutAccount(a) => {
                accounts.insert((property, a.id), enc(a).as_slice())?;
            }
            Change::DeleteAccount(id) => {
                accounts.remove((property, id))?;
            }
            Change::PutLink(k, a) => {
                links.insert((property, key_str(k).as_str()), a)?;
            }
            Change::DeleteLink(k) => {
                links.remove((property, key_str(k).as_str()))?;
            }
            Change::PutAlert(a) => {
                alerts.insert((property, a.id), enc(a).as_slice())?;
            }
            Change::ArchiveAlert(a) => {
                alerts.remove((property, a.id))?;
                alert_history.insert((property, a.id), enc(a).as_slice())?;
            }
            Change::SetPmsUnits(units) => {
                pms_units.insert(property, enc(&units).as_slice())?;
            }
            Change::PutDoorUnit(u) => {
                door_units.insert((property, u.id), enc(u).as_slice())?;
            }
            Change::PutMapping(k, d) => {
                mappings.insert((property, key_str(k).as_str()), d)?;
            }
            Change::DeleteMapping(k) => {
                mappings.remove((property, key_str(k).as_str()))?;
            }
            Change::PutGrant(g) => {
                grants.insert((property, g.id), enc(g).as_slice())?;
            }
            Change::DeleteGrant(id) => {
                grants.remove((property, id))?;
            }
            Change::PutSuggestion(sg) => {
                suggestions.insert((property, sg.id), enc(sg).as_slice())?;
            }
            Change::CloseSuggestion(id, outcome) => {
                if let Some(old) = suggestions.remove((property, id))? {
                    let closed = ClosedSuggestion {
                        suggestion: dec(old.value())?,
                        outcome: outcome.to_owned(),
                    };
                    drop(old);
                    suggestion_history.insert((property, id), enc(&closed).as_slice())?;
                }
            }
            Change::PutMemo(id, m) => {
                memos.insert((property, id), enc(m).as_slice())?;
            }
            Change::DeleteMemo(id) => {
                memos.remove((property, id))?;
            }
            Change::AppendFeed(event) => {
                let record = FeedRecord {
                    property: property.to_owned(),
                    event: event.clone(),
                };
                feed.insert(next_seq, enc(&record).as_slice())?;
                next_seq += 1;
            }
        }
    }
    Ok(())
}

fn key_str<T: Serialize>(k: &T) -> String {
    serde_json::to_string(k).expect("keys serialise")
}

/// The store. Cheap to share behind an `Arc`; redb serialises writers.
pub struct Store {
    db: Database,
    secrets: SecretBox,
    /// The last state read per property, for API reads: valid while the property's
    /// version (bumped by every non-empty plan, the only writer of state rows) and
    /// creation time are unchanged.
    read_cache: Mutex<HashMap<String, Arc<DoorState>>>,
}

impl Store {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path, secrets: SecretBox) -> Result<Store, StoreError> {
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let found = meta.get("schema-version")?.map(|v| v.value());
            match found {
                Some(v) if v > SCHEMA_VERSION => {
                    return Err(StoreError::NewerSchema {
                        found: v,
                        supported: SCHEMA_VERSION,
                    });
                }
                Some(_) => {}
                None => {
                    meta.insert("schema-version", SCHEMA_VERSION)?;
                }
            }
            // Create every table so that readers never meet a missing one.
            txn.open_table(PROPERTIES)?;
            txn.open_table(CREDENTIALS)?;
            txn.open_table(ACCOUNTS)?;
            txn.open_table(LINKS)?;
            txn.open_table(DOOR_UNITS)?;
            txn.open_table(MAPPINGS)?;
            txn.open_table(PMS_UNITS)?;
            txn.open_table(ALERTS)?;
            txn.open_table(ALERT_HISTORY)?;
            txn.open_table(SYNC_RUNS)?;
            txn.open_table(AUDIT)?;
            txn.open_table(GRANTS)?;
            txn.open_table(SUGGESTIONS)?;
            txn.open_table(SUGGESTION_HISTORY)?;
            txn.open_table(MEMOS)?;
            txn.open_table(FEED)?;
            txn.open_table(TOKENS)?;
            txn.open_table(PLUGINS)?;
            txn.open_table(PLUGIN_BLOBS)?;
            txn.open_table(PLUGIN_DEFAULTS)?;
            txn.open_table(PLUGIN_PINS)?;
        }
        txn.commit()?;
        Ok(Store {
            db,
            secrets,
            read_cache: Mutex::default(),
        })
    }

    // ---- properties -------------------------------------------------------

    pub fn create_property(&self, record: &PropertyRecord) -> Result<(), StoreError> {
        // The empty scope is the service's own audit log (see [`SERVICE_SCOPE`]).
        if record.id.trim().is_empty() {
            return Err(StoreError::EmptyPropertyId);
        }
        let txn = self.db.begin_write()?;
        {
            let mut t = txn.open_table(PROPERTIES)?;
            if t.get(record.id.as_str())?.is_some() {
                return Err(StoreError::PropertyExists(record.id.clone()));
            }
            t.insert(record.id.as_str(), enc(record).as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    pub fn property(&self, id: &str) -> Result<PropertyRecord, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(PROPERTIES)?;
        let v = t
            .get(id)?
            .ok_or_else(|| StoreError::NoSuchProperty(id.to_owned()))?;
        dec(v.value())
    }

    pub fn properties(&self) -> Result<Vec<PropertyRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(PROPERTIES)?;
        t.iter()?.map(|e| dec(e?.1.value())).collect()
    }

    /// Changes a property's integration (credential, PMS ids, settings, name).
    /// Counters and version are the store's and are kept.
    pub fn update_property(
        &self,
        id: &str,
        change: impl FnOnce(&mut PropertyRecord),
    ) -> Result<PropertyRecord, StoreError> {
        let txn = self.db.begin_write()?;
        let updated = {
            let mut t = txn.open_table(PROPERTIES)?;
            let mut p: PropertyRecord = dec(t
                .get(id)?
                .ok_or_else(|| StoreError::NoSuchProperty(id.to_owned()))?
                .value())?;
            let (version, a, b, c, last) = (
                p.version,
                p.next_account_id,
                p.next_alert_id,
                p.next_door_unit_id,
                p.last_sync_ok,
            );
            change(&mut p);
            (
                p.version,
                p.next_account_id,
                p.next_alert_id,
                p.next_door_unit_id,
                p.last_sync_ok,
            ) = (version, a, b, c, last);
            p.id = id.to_owned();
            t.insert(id, enc(&p).as_slice())?;
            p
        };
        txn.commit()?;
        Ok(updated)
    }

    // ---- API tokens ---------------------------------------------------------

    /// Stores a token by the hex sha-256 of its value.
    pub fn put_token(&self, hash: &str, record: &TokenRecord) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        txn.open_table(TOKENS)?
            .insert(hash, enc(record).as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// The token with this hash, if any.
    pub fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(TOKENS)?;
        t.get(hash)?.map(|v| dec(v.value())).transpose()
    }

    /// Every token: its public id ([`token_id`]) and record, never the hash itself.
    pub fn tokens(&self) -> Result<Vec<(String, TokenRecord)>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(TOKENS)?;
        let mut out = Vec::new();
        for e in t.iter()? {
            let (k, v) = e?;
            out.push((token_id(k.value()).to_owned(), dec(v.value())?));
        }
        Ok(out)
    }

    /// Deletes the token with this public id; it is refused from the next request on.
    pub fn revoke_token(&self, id: &str) -> Result<TokenRecord, StoreError> {
        let txn = self.db.begin_write()?;
        let record = {
            let mut t = txn.open_table(TOKENS)?;
            let hash = t
                .iter()?
                .map_while(Result::ok)
                .map(|(k, _)| k.value().to_owned())
                .find(|hash| !id.is_empty() && token_id(hash) == id)
                .ok_or_else(|| StoreError::NoSuchToken(id.to_owned()))?;
            let removed = t.remove(hash.as_str())?.map(|v| dec(v.value()));
            removed.ok_or_else(|| StoreError::NoSuchToken(id.to_owned()))??
        };
        txn.commit()?;
        Ok(record)
    }

    // ---- the service's own audit log -------------------------------------------

    /// Appends an entry to the service's audit log (tokens, connectors: what belongs
    /// to no one property).
    pub fn record_service_event(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        append(&txn, AUDIT, SERVICE_SCOPE, std::iter::once(enc(entry)))?;
        txn.commit()?;
        Ok(())
    }

    /// The service's audit log after sequence `after`, oldest first.
    pub fn service_audit(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, AuditEntry)>, StoreError> {
        self.audit(SERVICE_SCOPE, after, limit)
    }

    // ---- credentials ------------------------------------------------------

    /// Stores a credential; `secrets` are sealed before they are written.
    pub fn put_credential(
        &self,
        id: &str,
        vendor: &str,
        settings: BTreeMap<String, String>,
        secrets: &BTreeMap<String, String>,
    ) -> Result<CredentialRecord, StoreError> {
        let record = CredentialRecord {
            id: id.to_owned(),
            vendor: vendor.to_owned(),
            settings,
            sealed_secrets: secrets
                .iter()
                .map(|(k, v)| (k.clone(), self.secrets.seal(v)))
                .collect(),
        };
        let txn = self.db.begin_write()?;
        txn.open_table(CREDENTIALS)?
            .insert(id, enc(&record).as_slice())?;
        txn.commit()?;
        Ok(record)
    }

    /// A credential with its secrets still sealed (safe to show: names only).
    pub fn credential(&self, id: &str) -> Result<CredentialRecord, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(CREDENTIALS)?;
        let v = t
            .get(id)?
            .ok_or_else(|| StoreError::NoSuchCredential(id.to_owned()))?;
        dec(v.value())
    }

    pub fn credentials(&self) -> Result<Vec<CredentialRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(CREDENTIALS)?;
        t.iter()?.map(|e| dec(e?.1.value())).collect()
    }

    /// The opened secrets of a credential: for the outbound gate only.
    pub fn credential_secrets(&self, id: &str) -> Result<BTreeMap<String, String>, StoreError> {
        let c = self.credential(id)?;
        c.sealed_secrets
            .iter()
            .map(|(k, v)| Ok((k.clone(), self.secrets.open(v)?)))
            .collect()
    }

    // ---- state and plans --------------------------------------------------

    /// One property's DOOR state, as the engine plans against it.
    pub fn load_state(&self, property: &str) -> Result<DoorState, StoreError> {
        let txn = self.db.begin_read()?;
        let p = read_property(&txn, property)?;
        state_of(&txn, &p)
    }

    /// The property's current state, shared: the cached copy when nothing has been
    /// applied since it was read (reads in the API do not decode the whole state
    /// each time).
    pub fn state(&self, property: &str) -> Result<Arc<DoorState>, StoreError> {
        let txn = self.db.begin_read()?;
        let p = read_property(&txn, property)?;
        let cache_key = Self::cache_key(&p);
        if let Some(hit) = self.cached(&cache_key)
            && hit.version == p.version
        {
            return Ok(hit);
        }
        // Decoded outside the lock: readers of other properties do not wait for it.
        let state = Arc::new(state_of(&txn, &p)?);
        self.cache_newer(cache_key, state.clone());
        Ok(state)
    }

    /// A property's cache key: a property deleted and created again is another one.
    fn cache_key(p: &PropertyRecord) -> String {
        format!("{}@{}", p.created_at, p.id)
    }

    fn cached(&self, key: &str) -> Option<Arc<DoorState>> {
        let cache = self.read_cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.get(key).cloned()
    }

    /// Caches `state` unless a newer version is there already.
    fn cache_newer(&self, key: String, state: Arc<DoorState>) {
        let mut cache = self.read_cache.lock().unwrap_or_else(|e| e.into_inner());
        match cache.get(&key) {
            Some(old) if old.version > state.version => {}
            _ => {
                cache.insert(key, state);
            }
        }
    }

    /// After a committed plan: the cached state at the plan's base version becomes
    /// the next one by the plan's in-memory meaning ([`DoorState::apply`], which the
    /// transaction follows), so the first read after a sync does not decode the
    /// whole property again. The writer pays the copy, not a reader.
    fn advance_cache(&self, key: String, plan: &Plan) {
        let Some(hit) = self.cached(&key) else {
            return;
        };
        if hit.version != plan.base_version || plan.is_empty() {
            return;
        }
        let mut next = (*hit).clone();
        if next.apply(plan).is_ok() {
            self.cache_newer(key, Arc::new(next));
        }
    }

    /// Applies a plan (and records the sync run, if given) in one write transaction.
    /// A plan made against another state version is refused: plan again.
    pub fn apply(
        &self,
        property: &str,
        plan: &Plan,
        run: Option<&SyncRun>,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        let cache_key;
        {
            let mut props = txn.open_table(PROPERTIES)?;
            let mut p: PropertyRecord = dec(props
                .get(property)?
                .ok_or_else(|| StoreError::NoSuchProperty(property.to_owned()))?
                .value())?;
            if p.version != plan.base_version {
                return Err(StoreError::Stale {
                    plan: plan.base_version,
                    current: p.version,
                });
            }
            if !plan.is_empty() {
                apply_changes(&txn, property, plan)?;
                p.version += 1;
            }
            append(&txn, AUDIT, property, plan.audit.iter().map(enc))?;
            if let Some(run) = run {
                append(&txn, SYNC_RUNS, property, std::iter::once(enc(run)))?;
                if run.outcome == RunOutcome::Succeeded {
                    p.last_sync_ok = Some(run.finished_at);
                }
                p.settled = match run.input_fingerprint {
                    Some(fp) if plan.is_empty() => Some(Settled {
                        input_fingerprint: fp,
                        version: p.version,
                    }),
                    _ => None,
                };
            }
            p.next_account_id = plan.next_account_id;
            p.next_alert_id = plan.next_alert_id;
            p.next_door_unit_id = plan.next_door_unit_id;
            p.next_grant_id = plan.next_grant_id;
            p.next_suggestion_id = plan.next_suggestion_id;
            props.insert(property, enc(&p).as_slice())?;
            cache_key = Self::cache_key(&p);
        }
        txn.commit()?;
        self.advance_cache(cache_key, plan);
        Ok(())
    }

    /// Whether a sync with this input fingerprint would plan nothing: the last sync
    /// with the same input planned nothing and the state has not changed since.
    pub fn is_settled(&self, property: &str, input_fingerprint: u64) -> Result<bool, StoreError> {
        let p = self.property(property)?;
        Ok(p.settled
            == Some(Settled {
                input_fingerprint,
                version: p.version,
            }))
    }

    /// Records a sync that applied nothing: a failed fetch (the last good sync time
    /// stays), or a settled input (it counts as a good sync).
    pub fn record_sync_run(&self, property: &str, run: &SyncRun) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut props = txn.open_table(PROPERTIES)?;
            let mut p: PropertyRecord = dec(props
                .get(property)?
                .ok_or_else(|| StoreError::NoSuchProperty(property.to_owned()))?
                .value())?;
            if run.outcome == RunOutcome::Succeeded {
                p.last_sync_ok = Some(run.finished_at);
                props.insert(property, enc(&p).as_slice())?;
            }
        }
        append(&txn, SYNC_RUNS, property, std::iter::once(enc(run)))?;
        txn.commit()?;
        Ok(())
    }

    // ---- views --------------------------------------------------------------

    /// Sync runs, newest first.
    pub fn sync_runs(&self, property: &str, limit: usize) -> Result<Vec<SyncRun>, StoreError> {
        self.newest(SYNC_RUNS, property, limit)
    }

    /// Audit entries with a sequence after `after`, oldest first, with their sequence.
    pub fn audit(
        &self,
        property: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, AuditEntry)>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(AUDIT)?;
        let mut out = Vec::new();
        for e in t
            .range((property, after.saturating_add(1))..=(property, u64::MAX))?
            .take(limit)
        {
            let (k, v) = e?;
            out.push((k.value().1, dec(v.value())?));
        }
        Ok(out)
    }

    /// The access event feed after sequence `cursor`, oldest first, at most `limit`
    /// entries. Readers keep the last sequence they processed and pass it back: every
    /// applied grant and revoke appears once, in commit order, with no gaps.
    pub fn feed(&self, cursor: u64, limit: usize) -> Result<Vec<(u64, FeedRecord)>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(FEED)?;
        let mut out = Vec::new();
        for e in t.range(cursor.saturating_add(1)..)?.take(limit) {
            let (k, v) = e?;
            out.push((k.value(), dec(v.value())?));
        }
        Ok(out)
    }

    /// Closed suggestions, newest first.
    pub fn suggestion_history(
        &self,
        property: &str,
        limit: usize,
    ) -> Result<Vec<ClosedSuggestion>, StoreError> {
        self.newest(SUGGESTION_HISTORY, property, limit)
    }

    /// Resolved alerts, newest first.
    pub fn alert_history(
        &self,
        property: &str,
        limit: usize,
    ) -> Result<Vec<epms_engine::Alert>, StoreError> {
        self.newest(ALERT_HISTORY, property, limit)
    }

    fn newest<T: DeserializeOwned>(
        &self,
        table: TableDefinition<(&str, u64), &[u8]>,
        property: &str,
        limit: usize,
    ) -> Result<Vec<T>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(table)?;
        let mut out = Vec::new();
        for e in t
            .range((property, 0)..=(property, u64::MAX))?
            .rev()
            .take(limit)
        {
            out.push(dec(e?.1.value())?);
        }
        Ok(out)
    }
}

/// A property's rows of an id-keyed table, decoded.
fn read_property(
    txn: &redb::ReadTransaction,
    property: &str,
) -> Result<PropertyRecord, StoreError> {
    let t = txn.open_table(PROPERTIES)?;
    let v = t
        .get(property)?
        .ok_or_else(|| StoreError::NoSuchProperty(property.to_owned()))?;
    dec(v.value())
}

/// A property's whole state, read in one transaction.
fn state_of(txn: &redb::ReadTransaction, p: &PropertyRecord) -> Result<DoorState, StoreError> {
    let property = p.id.as_str();
    let mut state = DoorState {
        version: p.version,
        next_account_id: p.next_account_id,
        next_alert_id: p.next_alert_id,
        next_door_unit_id: p.next_door_unit_id,
        next_grant_id: p.next_grant_id,
        next_suggestion_id: p.next_suggestion_id,
        ..DoorState::default()
    };
    state.grants = rows(txn, GRANTS, property)?;
    state.suggestions = rows(txn, SUGGESTIONS, property)?;
    state.memos = rows(txn, MEMOS, property)?;
    state.accounts = rows(txn, ACCOUNTS, property)?;
    state.door_units = rows(txn, DOOR_UNITS, property)?;
    state.alerts = rows(txn, ALERTS, property)?;
    state.links = keyed_rows(txn, LINKS, property)?;
    state.mappings = keyed_rows(txn, MAPPINGS, property)?;
    if let Some(v) = txn.open_table(PMS_UNITS)?.get(property)? {
        state.pms_units = dec(v.value())?;
    }
    Ok(state)
}

fn rows<T: DeserializeOwned>(
    txn: &redb::ReadTransaction,
    table: TableDefinition<(&str, u64), &[u8]>,
    property: &str,
) -> Result<BTreeMap<u64, T>, StoreError> {
    let mut out = BTreeMap::new();
    for e in txn
        .open_table(table)?
        .range((property, 0)..=(property, u64::MAX))?
    {
        let (k, v) = e?;
        out.insert(k.value().1, dec(v.value())?);
    }
    Ok(out)
}

/// A property's rows of a table keyed by a JSON-encoded key, decoded.
fn keyed_rows<K: DeserializeOwned + Ord>(
    txn: &redb::ReadTransaction,
    table: TableDefinition<(&str, &str), u64>,
    property: &str,
) -> Result<BTreeMap<K, u64>, StoreError> {
    let mut out = BTreeMap::new();
    for e in txn.open_table(table)?.range((property, "")..)? {
        let (k, v) = e?;
        let (p, key) = k.value();
        if p != property {
            break;
        }
        out.insert(dec(key.as_bytes())?, v.value());
    }
    Ok(out)
}

/// Appends values under the next sequence numbers of a property.
fn append(
    txn: &redb::WriteTransaction,
    table: TableDefinition<(&str, u64), &[u8]>,
    property: &str,
    values: impl Iterator<Item = Vec<u8>>,
) -> Result<(), StoreError> {
    let mut t = txn.open_table(table)?;
    let first = match t.range((property, 0)..=(property, u64::MAX))?.next_back() {
        Some(e) => e?.0.value().1 + 1,
        None => 1,
    };
    for (seq, v) in (first..).zip(values) {
        t.insert((property, seq), v.as_slice())?;
    }
    Ok(())
}
