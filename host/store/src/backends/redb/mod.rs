//! The embedded backend: one redb file, for a single host. Every table is declared
//! in [`tables`] with its encoding.
//!
//! Schema: the `meta` table holds the schema version; a database written by a newer
//! version is refused with [`StoreError::NewerSchema`] rather than misread.

mod plugins;
pub mod tables;
mod webhooks;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use epms_engine::{AuditEntry, Change, DoorState, Plan};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;

use crate::codec::{dec, enc, enc_text};
use crate::read_cache::ReadCache;
use crate::{
    AdminStore, ClosedSuggestion, CredentialRecord, Dispositions, FeedRecord, FeedStore,
    LeaseOutcome, PlannedSync, PropertyRecord, PropertyStore, SERVICE_SCOPE, SecretBox, StoreError,
    SyncLeases, SyncRun, TokenRecord, check_new_property, opened_secrets, sealed_credential,
    token_id,
};
use tables::*;

/// The schema this build writes. 2: the audit log and the feed are indexed by
/// account (a file of schema 1 is indexed when it is first opened).
pub const SCHEMA_VERSION: u64 = 2;

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
    let mut feed_by_account = txn.open_table(FEED_BY_ACCOUNT)?;
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
                links.insert((property, enc_text(k).as_str()), a)?;
            }
            Change::DeleteLink(k) => {
                links.remove((property, enc_text(k).as_str()))?;
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
                mappings.insert((property, enc_text(k).as_str()), d)?;
            }
            Change::DeleteMapping(k) => {
                mappings.remove((property, enc_text(k).as_str()))?;
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
                feed_by_account.insert((property, event.account, next_seq), ())?;
                next_seq += 1;
            }
        }
    }
    Ok(())
}

/// The store. Cheap to share behind an `Arc`; redb serialises writers.
pub struct RedbStore {
    db: Database,
    secrets: SecretBox,
    read_cache: ReadCache,
    /// Sync leases: one process holds a redb file, so they live in its memory.
    leases: Mutex<HashMap<String, Lease>>,
}

struct Lease {
    holder: String,
    vendor: String,
    expires: Instant,
}

/// redb's page cache. Its default, 1 GiB, let a host's memory grow with its file (a
/// portfolio of 1,000 properties peaked past 1.1 GiB); a sync reads one property's
/// rows once, and API reads are served from decoded states (`ReadCache`), so a
/// small cache costs little speed.
const PAGE_CACHE_BYTES: usize = 64 << 20;

impl RedbStore {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path, secrets: SecretBox) -> Result<RedbStore, StoreError> {
        let db = redb::Builder::new()
            .set_cache_size(PAGE_CACHE_BYTES)
            .create(path)?;
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
                Some(SCHEMA_VERSION) => {}
                Some(_) => {
                    index_by_account(&txn)?;
                    meta.insert("schema-version", SCHEMA_VERSION)?;
                }
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
            txn.open_table(DISPOSITIONS)?;
            txn.open_table(ALERTS)?;
            txn.open_table(ALERT_HISTORY)?;
            txn.open_table(SYNC_RUNS)?;
            txn.open_table(AUDIT)?;
            txn.open_table(GRANTS)?;
            txn.open_table(SUGGESTIONS)?;
            txn.open_table(SUGGESTION_HISTORY)?;
            txn.open_table(MEMOS)?;
            txn.open_table(FEED)?;
            txn.open_table(AUDIT_BY_ACCOUNT)?;
            txn.open_table(FEED_BY_ACCOUNT)?;
            txn.open_table(TOKENS)?;
            txn.open_table(PLUGINS)?;
            txn.open_table(PLUGIN_BLOBS)?;
            txn.open_table(PLUGIN_DEFAULTS)?;
            txn.open_table(PLUGIN_PINS)?;
            txn.open_table(WEBHOOK_SUBSCRIPTIONS)?;
            txn.open_table(WEBHOOK_SECRETS)?;
            txn.open_table(WEBHOOK_OUTBOX)?;
            txn.open_table(WEBHOOK_ATTEMPTS)?;
        }
        txn.commit()?;
        Ok(RedbStore {
            db,
            secrets,
            read_cache: ReadCache::default(),
            leases: Mutex::default(),
        })
    }

    /// The cached state of `property`, or the state read afresh (and cached if `keep`).
    fn shared_state(&self, property: &str, keep: bool) -> Result<Arc<DoorState>, StoreError> {
        let txn = self.db.begin_read()?;
        let p = read_property(&txn, property)?;
        if let Some(hit) = self.read_cache.get(&p) {
            return Ok(hit);
        }
        // Decoded outside the cache's lock: readers of other properties do not wait.
        let state = Arc::new(state_of(&txn, &p)?);
        if keep {
            self.read_cache.put(&p, state.clone());
        }
        Ok(state)
    }

    /// A property's rows of a sequence-keyed table, newest first.
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

impl PropertyStore for RedbStore {
    // ---- properties -------------------------------------------------------

    fn create_property(&self, record: &PropertyRecord) -> Result<(), StoreError> {
        check_new_property(record)?;
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

    fn property(&self, id: &str) -> Result<PropertyRecord, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(PROPERTIES)?;
        let v = t
            .get(id)?
            .ok_or_else(|| StoreError::NoSuchProperty(id.to_owned()))?;
        dec(v.value())
    }

    fn properties(&self) -> Result<Vec<PropertyRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(PROPERTIES)?;
        t.iter()?.map(|e| dec(e?.1.value())).collect()
    }

    /// Changes a property's integration (credential, PMS ids, settings, name, interval);
    /// what belongs to the store is kept ([`PropertyRecord::changed_by`]).
    fn update_property(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut PropertyRecord),
    ) -> Result<PropertyRecord, StoreError> {
        let txn = self.db.begin_write()?;
        let updated = {
            let mut t = txn.open_table(PROPERTIES)?;
            let p: PropertyRecord = dec(t
                .get(id)?
                .ok_or_else(|| StoreError::NoSuchProperty(id.to_owned()))?
                .value())?;
            let p = p.changed_by(change);
            t.insert(id, enc(&p).as_slice())?;
            p
        };
        txn.commit()?;
        Ok(updated)
    }

    // ---- state and plans --------------------------------------------------

    /// One property's DOOR state, as the engine plans against it.
    fn load_state(&self, property: &str) -> Result<DoorState, StoreError> {
        let txn = self.db.begin_read()?;
        let p = read_property(&txn, property)?;
        state_of(&txn, &p)
    }

    /// The property's current state, shared: the cached copy when nothing has been
    /// applied since it was read (reads in the API do not decode the whole state
    /// each time).
    fn state(&self, property: &str) -> Result<Arc<DoorState>, StoreError> {
        self.shared_state(property, true)
    }

    fn state_for_scan(&self, property: &str) -> Result<Arc<DoorState>, StoreError> {
        self.shared_state(property, false)
    }

    /// Applies a plan (and records the sync run, if given) in one write transaction.
    /// A plan made against another state version is refused: plan again.
    fn apply(
        &self,
        property: &str,
        plan: &Plan,
        sync: Option<PlannedSync<'_>>,
    ) -> Result<(), StoreError> {
        let run = sync.map(|s| s.run);
        let txn = self.db.begin_write()?;
        let record = {
            let mut props = txn.open_table(PROPERTIES)?;
            let mut p: PropertyRecord = dec(props
                .get(property)?
                .ok_or_else(|| StoreError::NoSuchProperty(property.to_owned()))?
                .value())?;
            p.advance(plan, run)?;
            if !plan.is_empty() {
                apply_changes(&txn, property, plan)?;
            }
            append_audit(&txn, property, &plan.audit)?;
            webhooks::append_outbox(&txn, crate::events_of_plan(property, plan))?;
            if let Some(sync) = sync {
                append(&txn, SYNC_RUNS, property, std::iter::once(enc(sync.run)))?;
                if let Some(kept) = p.keep_dispositions(&sync) {
                    txn.open_table(DISPOSITIONS)?
                        .insert(property, enc(&kept).as_slice())?;
                }
            }
            props.insert(property, enc(&p).as_slice())?;
            p
        };
        let next = self.read_cache.prepare(&record, plan);
        txn.commit()?;
        if let Some(next) = next {
            self.read_cache.put(&record, next);
        }
        Ok(())
    }

    /// Whether a sync with this input fingerprint would plan nothing: the last sync
    /// with the same input planned nothing and the state has not changed since.
    fn is_settled(&self, property: &str, input_fingerprint: u64) -> Result<bool, StoreError> {
        Ok(self.property(property)?.is_settled(input_fingerprint))
    }

    /// Records a sync that applied nothing: a failed fetch (the last good sync time
    /// stays), or a settled input (it counts as a good sync).
    fn record_sync_run(&self, property: &str, run: &SyncRun) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut props = txn.open_table(PROPERTIES)?;
            let mut p: PropertyRecord = dec(props
                .get(property)?
                .ok_or_else(|| StoreError::NoSuchProperty(property.to_owned()))?
                .value())?;
            p.record_run(run);
            props.insert(property, enc(&p).as_slice())?;
        }
        append(&txn, SYNC_RUNS, property, std::iter::once(enc(run)))?;
        webhooks::append_outbox(&txn, crate::event_of_failed_run(property, run))?;
        txn.commit()?;
        Ok(())
    }

    // ---- views --------------------------------------------------------------

    /// Sync runs, newest first.
    fn sync_runs(&self, property: &str, limit: usize) -> Result<Vec<SyncRun>, StoreError> {
        self.newest(SYNC_RUNS, property, limit)
    }

    /// Audit entries with a sequence after `after`, oldest first, with their sequence.
    fn audit(
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
    /// Closed suggestions, newest first.
    fn suggestion_history(
        &self,
        property: &str,
        limit: usize,
    ) -> Result<Vec<ClosedSuggestion>, StoreError> {
        self.newest(SUGGESTION_HISTORY, property, limit)
    }

    fn account_audit(
        &self,
        property: &str,
        account: u64,
        limit: usize,
    ) -> Result<Vec<(u64, AuditEntry)>, StoreError> {
        let txn = self.db.begin_read()?;
        let audit = txn.open_table(AUDIT)?;
        let mut out = Vec::new();
        for seq in newest_of_account(&txn, AUDIT_BY_ACCOUNT, property, account, limit)? {
            if let Some(v) = audit.get((property, seq))? {
                out.push((seq, dec(v.value())?));
            }
        }
        Ok(out)
    }

    fn dispositions(&self, property: &str) -> Result<Option<Dispositions>, StoreError> {
        let txn = self.db.begin_read()?;
        let Some(kept) = txn.open_table(DISPOSITIONS)?.get(property)? else {
            return Ok(None);
        };
        let kept: Dispositions = dec(kept.value())?;
        let record: PropertyRecord = dec(txn
            .open_table(PROPERTIES)?
            .get(property)?
            .ok_or_else(|| StoreError::NoSuchProperty(property.to_owned()))?
            .value())?;
        Ok(Some(record.dispositions_as_of(kept)))
    }

    /// Resolved alerts, newest first.
    fn alert_history(
        &self,
        property: &str,
        limit: usize,
    ) -> Result<Vec<epms_engine::Alert>, StoreError> {
        self.newest(ALERT_HISTORY, property, limit)
    }
}

impl AdminStore for RedbStore {
    // ---- API tokens ---------------------------------------------------------

    /// Stores a token by the hex sha-256 of its value.
    fn put_token(&self, hash: &str, record: &TokenRecord) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        txn.open_table(TOKENS)?
            .insert(hash, enc(record).as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// The token with this hash, if any.
    fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(TOKENS)?;
        t.get(hash)?.map(|v| dec(v.value())).transpose()
    }

    /// Every token: its public id ([`token_id`]) and record, never the hash itself.
    fn tokens(&self) -> Result<Vec<(String, TokenRecord)>, StoreError> {
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
    fn revoke_token(&self, id: &str) -> Result<TokenRecord, StoreError> {
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
    fn record_service_event(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        append(&txn, AUDIT, SERVICE_SCOPE, std::iter::once(enc(entry)))?;
        txn.commit()?;
        Ok(())
    }

    /// The service's audit log after sequence `after`, oldest first.
    fn service_audit(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, AuditEntry)>, StoreError> {
        self.audit(SERVICE_SCOPE, after, limit)
    }

    // ---- credentials ------------------------------------------------------

    /// Stores a credential; `secrets` are sealed before they are written.
    fn put_credential(
        &self,
        id: &str,
        vendor: &str,
        settings: BTreeMap<String, String>,
        secrets: &BTreeMap<String, String>,
    ) -> Result<CredentialRecord, StoreError> {
        let record = sealed_credential(&self.secrets, id, vendor, settings, secrets);
        let txn = self.db.begin_write()?;
        txn.open_table(CREDENTIALS)?
            .insert(id, enc(&record).as_slice())?;
        txn.commit()?;
        Ok(record)
    }

    /// A credential with its secrets still sealed (safe to show: names only).
    fn credential(&self, id: &str) -> Result<CredentialRecord, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(CREDENTIALS)?;
        let v = t
            .get(id)?
            .ok_or_else(|| StoreError::NoSuchCredential(id.to_owned()))?;
        dec(v.value())
    }

    fn credentials(&self) -> Result<Vec<CredentialRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(CREDENTIALS)?;
        t.iter()?.map(|e| dec(e?.1.value())).collect()
    }

    /// The opened secrets of a credential: for the outbound gate only.
    fn credential_secrets(&self, id: &str) -> Result<BTreeMap<String, String>, StoreError> {
        opened_secrets(&self.secrets, &self.credential(id)?)
    }
}

impl FeedStore for RedbStore {
    fn feed(&self, cursor: u64, limit: usize) -> Result<Vec<(u64, FeedRecord)>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(FEED)?;
        let mut out = Vec::new();
        for e in t.range(cursor.saturating_add(1)..)?.take(limit) {
            let (k, v) = e?;
            out.push((k.value(), dec(v.value())?));
        }
        Ok(out)
    }

    fn account_feed(
        &self,
        property: &str,
        account: u64,
        limit: usize,
    ) -> Result<Vec<(u64, FeedRecord)>, StoreError> {
        let txn = self.db.begin_read()?;
        let feed = txn.open_table(FEED)?;
        let mut out = Vec::new();
        for seq in newest_of_account(&txn, FEED_BY_ACCOUNT, property, account, limit)? {
            if let Some(v) = feed.get(seq)? {
                out.push((seq, dec(v.value())?));
            }
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
) -> Result<u64, StoreError> {
    let mut t = txn.open_table(table)?;
    let first = match t.range((property, 0)..=(property, u64::MAX))?.next_back() {
        Some(e) => e?.0.value().1 + 1,
        None => 1,
    };
    for (seq, v) in (first..).zip(values) {
        t.insert((property, seq), v.as_slice())?;
    }
    Ok(first)
}

/// The newest sequences `index` (an audit or feed index by account) holds for one
/// account of a property.
fn newest_of_account(
    txn: &redb::ReadTransaction,
    index: TableDefinition<(&str, u64, u64), ()>,
    property: &str,
    account: u64,
    limit: usize,
) -> Result<Vec<u64>, StoreError> {
    let t = txn.open_table(index)?;
    let mut out = Vec::new();
    for e in t
        .range((property, account, 0)..=(property, account, u64::MAX))?
        .rev()
        .take(limit)
    {
        out.push(e?.0.value().2);
    }
    Ok(out)
}

/// Appends a property's audit entries, indexing the ones about an account.
fn append_audit(
    txn: &redb::WriteTransaction,
    property: &str,
    entries: &[AuditEntry],
) -> Result<(), StoreError> {
    let first = append(txn, AUDIT, property, entries.iter().map(enc))?;
    let mut by_account = txn.open_table(AUDIT_BY_ACCOUNT)?;
    for (seq, e) in (first..).zip(entries) {
        if let Some(account) = e.account {
            by_account.insert((property, account, seq), ())?;
        }
    }
    Ok(())
}

/// Builds the by-account indexes of a file from before they existed.
fn index_by_account(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    let audit = txn.open_table(AUDIT)?;
    let mut by_account = txn.open_table(AUDIT_BY_ACCOUNT)?;
    for e in audit.iter()? {
        let (k, v) = e?;
        let (scope, seq) = k.value();
        let entry: AuditEntry = dec(v.value())?;
        if let Some(account) = entry.account {
            by_account.insert((scope, account, seq), ())?;
        }
    }
    let feed = txn.open_table(FEED)?;
    let mut feed_by_account = txn.open_table(FEED_BY_ACCOUNT)?;
    for e in feed.iter()? {
        let (k, v) = e?;
        let record: FeedRecord = dec(v.value())?;
        feed_by_account.insert(
            (record.property.as_str(), record.event.account, k.value()),
            (),
        )?;
    }
    Ok(())
}

impl SyncLeases for RedbStore {
    fn acquire_lease(
        &self,
        property: &str,
        vendor: &str,
        holder: &str,
        ttl: Duration,
        max_per_vendor: usize,
    ) -> Result<LeaseOutcome, StoreError> {
        let now = Instant::now();
        let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        leases.retain(|_, l| l.expires > now);
        if let Some(l) = leases.get(property)
            && l.holder != holder
        {
            return Ok(LeaseOutcome::HeldBy(l.holder.clone()));
        }
        let of_vendor = leases
            .iter()
            .filter(|(p, l)| l.vendor == vendor && p.as_str() != property)
            .count();
        if of_vendor >= max_per_vendor {
            return Ok(LeaseOutcome::VendorAtLimit);
        }
        leases.insert(
            property.to_owned(),
            Lease {
                holder: holder.to_owned(),
                vendor: vendor.to_owned(),
                expires: now + ttl,
            },
        );
        Ok(LeaseOutcome::Taken)
    }

    fn release_lease(&self, property: &str, holder: &str) -> Result<(), StoreError> {
        let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        if leases.get(property).is_some_and(|l| l.holder == holder) {
            leases.remove(property);
        }
        Ok(())
    }

    fn lease_holder(&self, property: &str) -> Result<Option<String>, StoreError> {
        let leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        Ok(leases
            .get(property)
            .filter(|l| l.expires > Instant::now())
            .map(|l| l.holder.clone()))
    }
}
