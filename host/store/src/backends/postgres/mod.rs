//! The shared backend: a PostgreSQL database that several hosts use at once.
//!
//! - Migrations (`migrations/NNNN_*.sql`) are applied at start, in one transaction
//!   under an advisory lock (hosts starting together migrate once); a database whose
//!   schema is newer than this build's is refused, as redb's is.
//! - A plan is applied in one transaction that holds the property's row lock, so two
//!   hosts never apply against the same version: the second sees `Stale`.
//! - Feed sequences are taken under the feed counter's row lock, held to the commit:
//!   sequence order is commit order, with no gaps ([`FeedStore`]).
//! - A plan's changes are written in batches, one statement over arrays per run of
//!   changes of one kind ([`changes`]), so a plan of thousands of rows costs a few
//!   round trips.

mod changes;
mod pool;
mod webhooks;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use epms_engine::{Alert, AuditEntry, DoorState, Plan};
use serde::de::DeserializeOwned;
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, IsolationLevel, Transaction};

use crate::codec::{dec, enc_text};
use crate::read_cache::ReadCache;
use crate::{
    AdminStore, ClosedSuggestion, ConnectorStore, CredentialRecord, Dispositions, FeedRecord,
    FeedStore, LeaseOutcome, PlannedSync, PluginRecord, PropertyRecord, PropertyStore,
    SERVICE_SCOPE, SecretBox, StoreError, SyncLeases, SyncRun, TokenRecord, VendorDefault,
    check_new_property, opened_secrets, rollback_audit, sealed_credential, token_id,
};
use changes::apply_changes;
use pool::{Cached, Conn, Pool, block_on};

/// A transaction, its statements prepared once per connection.
type Tx<'a, 't> = Cached<'a, Transaction<'t>>;

/// The migrations, in order; the schema version is their count.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_explanations.sql"),
    include_str!("migrations/0003_webhooks.sql"),
];

/// The schema this build writes.
pub const PG_SCHEMA_VERSION: u64 = MIGRATIONS.len() as u64;

/// Any key the advisory lock of migrations uses (an arbitrary constant: "epms").
const MIGRATION_LOCK: i64 = 0x6570_6d73;

/// The store on PostgreSQL. Cheap to share behind an `Arc`.
pub struct PgStore {
    pool: Pool,
    secrets: SecretBox,
    read_cache: ReadCache,
}

fn sql_id(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("id {v} is out of range")))
}

fn row_id(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("stored id {v} is negative")))
}

fn decode<T: DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    dec(text.as_bytes())
}

impl PgStore {
    /// The cached state of `property`, or the state read afresh (and cached if `keep`).
    fn shared_state(&self, property: &str, keep: bool) -> Result<Arc<DoorState>, StoreError> {
        let p = self.property(property)?;
        if let Some(hit) = self.read_cache.get(&p) {
            return Ok(hit);
        }
        let (p, state) = self.snapshot(async |txn| {
            let p = read_property(txn, property).await?;
            let state = state_of(txn, &p).await?;
            Ok((p, state))
        })?;
        let state = Arc::new(state);
        if keep {
            self.read_cache.put(&p, state.clone());
        }
        Ok(state)
    }

    /// Connects to the database a `postgres://` URL names and migrates it to this
    /// build's schema.
    pub fn connect(url: &str, secrets: SecretBox) -> Result<PgStore, StoreError> {
        let config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::BadLocation(format!("not a PostgreSQL URL: {e}")))?;
        let store = PgStore {
            pool: Pool::new(config)?,
            secrets,
            read_cache: ReadCache::default(),
        };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&self) -> Result<(), StoreError> {
        self.write(async |txn| {
            txn.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .await?;
            txn.batch_execute(
                "CREATE TABLE IF NOT EXISTS epms_schema (version bigint PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
            )
            .await?;
            let found: i64 = txn
                .query_one("SELECT coalesce(max(version), 0) FROM epms_schema", &[])
                .await?
                .get(0);
            let found = u64::try_from(found).unwrap_or(0);
            if found > PG_SCHEMA_VERSION {
                return Err(StoreError::NewerSchema {
                    found,
                    supported: PG_SCHEMA_VERSION,
                });
            }
            for (version, sql) in (1..).zip(MIGRATIONS).skip(found as usize) {
                txn.batch_execute(sql).await?;
                txn.execute(
                    "INSERT INTO epms_schema (version) VALUES ($1)",
                    &[&(version as i64)],
                )
                .await?;
                tracing::info!(version, "PostgreSQL schema migrated");
            }
            Ok(())
        })
    }

    /// Runs `work` in a read-write transaction, committed when it succeeds.
    fn write<T>(
        &self,
        work: impl AsyncFnOnce(&Tx<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.transaction(false, work)
    }

    /// Runs `work` in a read-only snapshot: every read sees one committed state.
    fn snapshot<T>(
        &self,
        work: impl AsyncFnOnce(&Tx<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.transaction(true, work)
    }

    fn transaction<T>(
        &self,
        snapshot: bool,
        work: impl AsyncFnOnce(&Tx<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.pool.get()?;
        let Conn { client, prepared } = &mut *conn;
        block_on(async {
            let mut begin = client.build_transaction();
            if snapshot {
                begin = begin
                    .isolation_level(IsolationLevel::RepeatableRead)
                    .read_only(true);
            }
            let txn = begin.start().await?;
            let out = work(&Cached {
                inner: &txn,
                prepared,
            })
            .await?;
            txn.commit().await?;
            Ok(out)
        })
    }

    /// Runs `work` on a connection, each statement on its own (autocommit).
    fn read<T>(
        &self,
        work: impl AsyncFnOnce(&Cached<'_, tokio_postgres::Client>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.pool.get()?;
        block_on(work(&Cached {
            inner: &conn.client,
            prepared: &conn.prepared,
        }))
    }

    /// The first column of the row a query returns, if it returns one.
    fn first_column<T>(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<T>, StoreError>
    where
        T: for<'a> tokio_postgres::types::FromSql<'a>,
    {
        self.read(async |db| Ok(db.query_opt(sql, params).await?.map(|r| r.get(0))))
    }

    /// The one-value rows of a query, decoded (column 0: JSON text).
    fn values<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<T>, StoreError> {
        self.read(async |txn| {
            txn.query(sql, params)
                .await?
                .iter()
                .map(|r| decode(r.get(0)))
                .collect()
        })
    }
}

/// A property's record, locked for the rest of the transaction.
async fn locked_property(txn: &Tx<'_, '_>, property: &str) -> Result<PropertyRecord, StoreError> {
    let row = txn
        .query_opt(
            "SELECT record::text FROM properties WHERE id = $1 FOR UPDATE",
            &[&property],
        )
        .await?
        .ok_or_else(|| StoreError::NoSuchProperty(property.to_owned()))?;
    decode(row.get(0))
}

async fn save_property(txn: &Tx<'_, '_>, p: &PropertyRecord) -> Result<(), StoreError> {
    txn.execute(
        "UPDATE properties SET record = $2::text::jsonb WHERE id = $1",
        &[&p.id, &enc_text(p)],
    )
    .await?;
    Ok(())
}

async fn read_property(
    client: &Cached<'_, impl GenericClient>,
    property: &str,
) -> Result<PropertyRecord, StoreError> {
    let row = client
        .query_opt(
            "SELECT record::text FROM properties WHERE id = $1",
            &[&property],
        )
        .await?
        .ok_or_else(|| StoreError::NoSuchProperty(property.to_owned()))?;
    decode(row.get(0))
}

/// Appends to a scope's log (sync runs or audit) under its next sequence numbers; the
/// caller holds the scope's lock (the property row, or the service-audit counter).
const APPEND_AUDIT: &str = "INSERT INTO audit (scope, seq, value) \
     SELECT $1, coalesce(max(seq), 0) + 1, $2::text::jsonb FROM audit WHERE scope = $1";
/// Many entries at once, numbered in their order after the scope's last.
const APPEND_AUDIT_MANY: &str = "INSERT INTO audit (scope, seq, value) \
     SELECT $1, last.seq + r.n, r.value::jsonb \
     FROM (SELECT coalesce(max(seq), 0) AS seq FROM audit WHERE scope = $1) AS last, \
     unnest($2::text[]) WITH ORDINALITY AS r(value, n)";
const APPEND_RUN: &str = "INSERT INTO sync_runs (property, seq, value) \
     SELECT $1, coalesce(max(seq), 0) + 1, $2::text::jsonb FROM sync_runs WHERE property = $1";

/// An entry of the service's audit log, serialised with every other admin write.
async fn append_service_audit(txn: &Tx<'_, '_>, entry: &AuditEntry) -> Result<(), StoreError> {
    lock_service(txn).await?;
    txn.execute(APPEND_AUDIT, &[&SERVICE_SCOPE, &enc_text(entry)])
        .await?;
    Ok(())
}

/// Takes the lock every write of the service's own data holds (connector versions,
/// the service audit log): they are few, and in one order across hosts.
async fn lock_service(txn: &Tx<'_, '_>) -> Result<(), StoreError> {
    txn.execute(
        "SELECT value FROM counters WHERE name = 'service-audit' FOR UPDATE",
        &[],
    )
    .await?;
    Ok(())
}

/// A property's rows of an id-keyed table.
async fn rows<T: DeserializeOwned>(
    txn: &Tx<'_, '_>,
    sql: &str,
    property: &str,
) -> Result<BTreeMap<u64, T>, StoreError> {
    let mut out = BTreeMap::new();
    for r in txn.query(sql, &[&property]).await? {
        out.insert(row_id(r.get(0))?, decode(r.get(1))?);
    }
    Ok(out)
}

/// A property's rows of a table keyed by a JSON-encoded key.
async fn keyed_rows<K: DeserializeOwned + Ord>(
    txn: &Tx<'_, '_>,
    sql: &str,
    property: &str,
) -> Result<BTreeMap<K, u64>, StoreError> {
    let mut out = BTreeMap::new();
    for r in txn.query(sql, &[&property]).await? {
        out.insert(decode(r.get(0))?, row_id(r.get(1))?);
    }
    Ok(out)
}

/// A property's whole state, in the caller's snapshot.
async fn state_of(txn: &Tx<'_, '_>, p: &PropertyRecord) -> Result<DoorState, StoreError> {
    let property = p.id.as_str();
    let (grants, suggestions, memos, accounts, door_units, alerts, links, mappings, pms_units) = futures::try_join!(
        rows(
            txn,
            "SELECT id, value::text FROM grants WHERE property = $1",
            property
        ),
        rows(
            txn,
            "SELECT id, value::text FROM suggestions WHERE property = $1",
            property
        ),
        rows(
            txn,
            "SELECT id, value::text FROM access_memos WHERE property = $1",
            property
        ),
        rows(
            txn,
            "SELECT id, value::text FROM accounts WHERE property = $1",
            property
        ),
        rows(
            txn,
            "SELECT id, value::text FROM door_units WHERE property = $1",
            property
        ),
        rows(
            txn,
            "SELECT id, value::text FROM alerts WHERE property = $1",
            property
        ),
        keyed_rows(
            txn,
            "SELECT key, account FROM links WHERE property = $1",
            property
        ),
        keyed_rows(
            txn,
            "SELECT key, door_unit FROM unit_mappings WHERE property = $1",
            property
        ),
        async {
            let row = txn
                .query_opt(
                    "SELECT value::text FROM pms_units WHERE property = $1",
                    &[&property],
                )
                .await?;
            row.map(|r| decode(r.get(0))).transpose()
        },
    )?;
    Ok(DoorState {
        version: p.version,
        next_account_id: p.next_account_id,
        next_alert_id: p.next_alert_id,
        next_door_unit_id: p.next_door_unit_id,
        next_grant_id: p.next_grant_id,
        next_suggestion_id: p.next_suggestion_id,
        grants,
        suggestions,
        memos,
        accounts,
        door_units,
        alerts,
        links,
        mappings,
        pms_units: pms_units.unwrap_or_default(),
    })
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn after(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl PropertyStore for PgStore {
    fn create_property(&self, record: &PropertyRecord) -> Result<(), StoreError> {
        check_new_property(record)?;
        let inserted = self.write(async |txn| {
            Ok(txn
                .execute(
                    "INSERT INTO properties (id, record) VALUES ($1, $2::text::jsonb) ON CONFLICT (id) DO NOTHING",
                    &[&record.id, &enc_text(record)],
                )
                .await?)
        })?;
        if inserted == 0 {
            return Err(StoreError::PropertyExists(record.id.clone()));
        }
        Ok(())
    }

    fn property(&self, id: &str) -> Result<PropertyRecord, StoreError> {
        self.read(async |txn| read_property(txn, id).await)
    }

    fn properties(&self) -> Result<Vec<PropertyRecord>, StoreError> {
        self.values("SELECT record::text FROM properties ORDER BY id", &[])
    }

    fn update_property(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut PropertyRecord),
    ) -> Result<PropertyRecord, StoreError> {
        self.write(async |txn| {
            let p = locked_property(txn, id).await?.changed_by(change);
            save_property(txn, &p).await?;
            Ok(p)
        })
    }

    fn load_state(&self, property: &str) -> Result<DoorState, StoreError> {
        self.snapshot(async |txn| {
            let p = read_property(txn, property).await?;
            state_of(txn, &p).await
        })
    }

    fn state(&self, property: &str) -> Result<Arc<DoorState>, StoreError> {
        self.shared_state(property, true)
    }

    fn state_for_scan(&self, property: &str) -> Result<Arc<DoorState>, StoreError> {
        self.shared_state(property, false)
    }

    fn apply(
        &self,
        property: &str,
        plan: &Plan,
        sync: Option<PlannedSync<'_>>,
    ) -> Result<(), StoreError> {
        let run = sync.map(|s| s.run);
        let (record, next) = self.write(async |txn| {
            let mut p = locked_property(txn, property).await?;
            p.advance(plan, run)?;
            if !plan.is_empty() {
                apply_changes(txn, property, plan).await?;
            }
            if !plan.audit.is_empty() {
                let entries: Vec<String> = plan.audit.iter().map(enc_text).collect();
                txn.execute(APPEND_AUDIT_MANY, &[&property, &entries])
                    .await?;
            }
            webhooks::append_outbox(txn, crate::events_of_plan(property, plan)).await?;
            if let Some(sync) = sync {
                txn.execute(APPEND_RUN, &[&property, &enc_text(sync.run)])
                    .await?;
                if let Some(kept) = p.keep_dispositions(&sync) {
                    txn.execute(
                        "INSERT INTO dispositions (property, value) VALUES ($1, $2::text::jsonb) \
                         ON CONFLICT (property) DO UPDATE SET value = excluded.value",
                        &[&property, &enc_text(&kept)],
                    )
                    .await?;
                }
            }
            save_property(txn, &p).await?;
            let next = self.read_cache.prepare(&p, plan);
            Ok((p, next))
        })?;
        if let Some(next) = next {
            self.read_cache.put(&record, next);
        }
        Ok(())
    }

    fn is_settled(&self, property: &str, input_fingerprint: u64) -> Result<bool, StoreError> {
        Ok(self.property(property)?.is_settled(input_fingerprint))
    }

    fn record_sync_run(&self, property: &str, run: &SyncRun) -> Result<(), StoreError> {
        self.write(async |txn| {
            let mut p = locked_property(txn, property).await?;
            p.record_run(run);
            save_property(txn, &p).await?;
            txn.execute(APPEND_RUN, &[&property, &enc_text(run)])
                .await?;
            webhooks::append_outbox(
                txn,
                crate::event_of_failed_run(property, run)
                    .into_iter()
                    .collect(),
            )
            .await?;
            Ok(())
        })
    }

    fn sync_runs(&self, property: &str, n: usize) -> Result<Vec<SyncRun>, StoreError> {
        self.values(
            "SELECT value::text FROM sync_runs WHERE property = $1 ORDER BY seq DESC LIMIT $2",
            &[&property, &limit(n)],
        )
    }

    fn audit(
        &self,
        property: &str,
        from: u64,
        n: usize,
    ) -> Result<Vec<(u64, AuditEntry)>, StoreError> {
        self.read(async |txn| {
            txn.query(
                "SELECT seq, value::text FROM audit WHERE scope = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                &[&property, &after(from), &limit(n)],
            )
            .await?
            .iter()
            .map(|r| Ok((row_id(r.get(0))?, decode(r.get(1))?)))
            .collect()
        })
    }

    fn suggestion_history(
        &self,
        property: &str,
        n: usize,
    ) -> Result<Vec<ClosedSuggestion>, StoreError> {
        self.values(
            "SELECT value::text FROM suggestion_history WHERE property = $1 ORDER BY id DESC LIMIT $2",
            &[&property, &limit(n)],
        )
    }

    fn account_audit(
        &self,
        property: &str,
        account: u64,
        n: usize,
    ) -> Result<Vec<(u64, AuditEntry)>, StoreError> {
        self.read(async |txn| {
            txn.query(
                "SELECT seq, value::text FROM audit WHERE scope = $1 AND (value->>'account')::bigint = $2 ORDER BY seq DESC LIMIT $3",
                &[&property, &sql_id(account)?, &limit(n)],
            )
            .await?
            .iter()
            .map(|r| Ok((row_id(r.get(0))?, decode(r.get(1))?)))
            .collect()
        })
    }

    fn dispositions(&self, property: &str) -> Result<Option<Dispositions>, StoreError> {
        self.snapshot(async |txn| {
            let Some(row) = txn
                .query_opt(
                    "SELECT value::text FROM dispositions WHERE property = $1",
                    &[&property],
                )
                .await?
            else {
                return Ok(None);
            };
            let kept: Dispositions = decode(row.get(0))?;
            let record = read_property(txn, property).await?;
            Ok(Some(record.dispositions_as_of(kept)))
        })
    }

    fn alert_history(&self, property: &str, n: usize) -> Result<Vec<Alert>, StoreError> {
        self.values(
            "SELECT value::text FROM alert_history WHERE property = $1 ORDER BY id DESC LIMIT $2",
            &[&property, &limit(n)],
        )
    }
}

impl AdminStore for PgStore {
    fn put_token(&self, hash: &str, record: &TokenRecord) -> Result<(), StoreError> {
        self.write(async |txn| {
            txn.execute(
                "INSERT INTO api_tokens (hash, record) VALUES ($1, $2::text::jsonb) ON CONFLICT (hash) DO UPDATE SET record = excluded.record",
                &[&hash, &enc_text(record)],
            )
            .await?;
            Ok(())
        })
    }

    fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        Ok(self
            .values(
                "SELECT record::text FROM api_tokens WHERE hash = $1",
                &[&hash],
            )?
            .pop())
    }

    fn tokens(&self) -> Result<Vec<(String, TokenRecord)>, StoreError> {
        self.read(async |txn| {
            txn.query(
                "SELECT hash, record::text FROM api_tokens ORDER BY hash",
                &[],
            )
            .await?
            .iter()
            .map(|r| Ok((token_id(r.get(0)).to_owned(), decode(r.get(1))?)))
            .collect()
        })
    }

    fn revoke_token(&self, id: &str) -> Result<TokenRecord, StoreError> {
        if id.is_empty() {
            return Err(StoreError::NoSuchToken(id.to_owned()));
        }
        self.write(async |txn| {
            let row = txn
                .query_opt(
                    "DELETE FROM api_tokens WHERE hash = \
                     (SELECT hash FROM api_tokens WHERE left(hash, 16) = $1 ORDER BY hash LIMIT 1) \
                     RETURNING hash, record::text",
                    &[&id],
                )
                .await?
                .ok_or_else(|| StoreError::NoSuchToken(id.to_owned()))?;
            // `left` and `token_id` agree on every hash; checked, not assumed.
            if token_id(row.get(0)) != id {
                return Err(StoreError::NoSuchToken(id.to_owned()));
            }
            decode(row.get(1))
        })
    }

    fn record_service_event(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.write(async |txn| append_service_audit(txn, entry).await)
    }

    fn service_audit(&self, from: u64, n: usize) -> Result<Vec<(u64, AuditEntry)>, StoreError> {
        self.audit(SERVICE_SCOPE, from, n)
    }

    fn put_credential(
        &self,
        id: &str,
        vendor: &str,
        settings: BTreeMap<String, String>,
        secrets: &BTreeMap<String, String>,
    ) -> Result<CredentialRecord, StoreError> {
        let record = sealed_credential(&self.secrets, id, vendor, settings, secrets);
        self.write(async |txn| {
            txn.execute(
                "INSERT INTO credentials (id, record) VALUES ($1, $2::text::jsonb) ON CONFLICT (id) DO UPDATE SET record = excluded.record",
                &[&id, &enc_text(&record)],
            )
            .await?;
            Ok(())
        })?;
        Ok(record)
    }

    fn credential(&self, id: &str) -> Result<CredentialRecord, StoreError> {
        self.values("SELECT record::text FROM credentials WHERE id = $1", &[&id])?
            .pop()
            .ok_or_else(|| StoreError::NoSuchCredential(id.to_owned()))
    }

    fn credentials(&self) -> Result<Vec<CredentialRecord>, StoreError> {
        self.values("SELECT record::text FROM credentials ORDER BY id", &[])
    }

    fn credential_secrets(&self, id: &str) -> Result<BTreeMap<String, String>, StoreError> {
        opened_secrets(&self.secrets, &self.credential(id)?)
    }
}

async fn vendor_default(
    txn: &Tx<'_, '_>,
    vendor: &str,
) -> Result<Option<VendorDefault>, StoreError> {
    txn.query_opt(
        "SELECT value::text FROM plugin_defaults WHERE vendor = $1",
        &[&vendor],
    )
    .await?
    .map(|r| decode(r.get(0)))
    .transpose()
}

async fn save_vendor_default(
    txn: &Tx<'_, '_>,
    vendor: &str,
    d: &VendorDefault,
) -> Result<(), StoreError> {
    txn.execute(
        "INSERT INTO plugin_defaults (vendor, value) VALUES ($1, $2::text::jsonb) ON CONFLICT (vendor) DO UPDATE SET value = excluded.value",
        &[&vendor, &enc_text(d)],
    )
    .await?;
    Ok(())
}

impl ConnectorStore for PgStore {
    fn install_plugin(
        &self,
        record: &PluginRecord,
        wasm: &[u8],
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.write(async |txn| {
            lock_service(txn).await?;
            let new = txn
                .execute(
                    "INSERT INTO plugins (sha256, record) VALUES ($1, $2::text::jsonb) ON CONFLICT (sha256) DO NOTHING",
                    &[&record.sha256, &enc_text(record)],
                )
                .await?
                == 1;
            if new {
                txn.execute(
                    "INSERT INTO plugin_blobs (sha256, bytes) VALUES ($1, $2) ON CONFLICT (sha256) DO UPDATE SET bytes = excluded.bytes",
                    &[&record.sha256, &wasm],
                )
                .await?;
                append_service_audit(txn, audit).await?;
            }
            Ok(new)
        })
    }

    fn plugin(&self, sha256: &str) -> Result<Option<PluginRecord>, StoreError> {
        Ok(self
            .values(
                "SELECT record::text FROM plugins WHERE sha256 = $1",
                &[&sha256],
            )?
            .pop())
    }

    fn plugins(&self) -> Result<Vec<PluginRecord>, StoreError> {
        let mut out: Vec<PluginRecord> =
            self.values("SELECT record::text FROM plugins ORDER BY sha256", &[])?;
        out.sort_by_key(|p| p.installed_at);
        Ok(out)
    }

    fn remove_plugin(&self, sha256: &str, audit: &AuditEntry) -> Result<bool, StoreError> {
        self.write(async |txn| {
            lock_service(txn).await?;
            let removed = txn
                .execute("DELETE FROM plugins WHERE sha256 = $1", &[&sha256])
                .await?
                == 1;
            if removed {
                txn.execute("DELETE FROM plugin_blobs WHERE sha256 = $1", &[&sha256])
                    .await?;
                let rows = txn
                    .query("SELECT vendor, value::text FROM plugin_defaults", &[])
                    .await?;
                for r in rows {
                    let vendor: &str = r.get(0);
                    let mut d: VendorDefault = decode(r.get(1))?;
                    if d.forget(sha256) {
                        save_vendor_default(txn, vendor, &d).await?;
                    }
                }
                append_service_audit(txn, audit).await?;
            }
            Ok(removed)
        })
    }

    fn plugin_bytes(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.first_column(
            "SELECT bytes FROM plugin_blobs WHERE sha256 = $1",
            &[&sha256],
        )
    }

    fn plugin_defaults(&self) -> Result<BTreeMap<String, VendorDefault>, StoreError> {
        self.read(async |txn| {
            txn.query("SELECT vendor, value::text FROM plugin_defaults", &[])
                .await?
                .iter()
                .map(|r| Ok((r.get::<_, String>(0), decode(r.get(1))?)))
                .collect()
        })
    }

    fn activate_plugin(
        &self,
        vendor: &str,
        sha256: &str,
        replacing: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.write(async |txn| {
            lock_service(txn).await?;
            let mut d = vendor_default(txn, vendor).await?.unwrap_or_default();
            d.activate(sha256, replacing);
            save_vendor_default(txn, vendor, &d).await?;
            append_service_audit(txn, audit).await
        })
    }

    fn rollback_plugin(&self, vendor: &str, audit: &AuditEntry) -> Result<String, StoreError> {
        self.write(async |txn| {
            lock_service(txn).await?;
            let mut d = vendor_default(txn, vendor)
                .await?
                .ok_or_else(|| StoreError::NothingToRollBack(vendor.to_owned()))?;
            let back = d
                .roll_back()
                .ok_or_else(|| StoreError::NothingToRollBack(vendor.to_owned()))?;
            save_vendor_default(txn, vendor, &d).await?;
            append_service_audit(txn, &rollback_audit(audit, &back)).await?;
            Ok(back)
        })
    }

    fn pin_plugin(
        &self,
        property: &str,
        sha256: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.write(async |txn| {
            lock_service(txn).await?;
            read_property(txn, property).await?;
            match sha256 {
                Some(sha) => {
                    txn.execute(
                        "INSERT INTO plugin_pins (property, sha256) VALUES ($1, $2) ON CONFLICT (property) DO UPDATE SET sha256 = excluded.sha256",
                        &[&property, &sha],
                    )
                    .await?
                }
                None => {
                    txn.execute("DELETE FROM plugin_pins WHERE property = $1", &[&property])
                        .await?
                }
            };
            append_service_audit(txn, audit).await
        })
    }

    fn plugin_pin(&self, property: &str) -> Result<Option<String>, StoreError> {
        self.first_column(
            "SELECT sha256 FROM plugin_pins WHERE property = $1",
            &[&property],
        )
    }

    fn plugin_pins(&self) -> Result<BTreeMap<String, String>, StoreError> {
        self.read(async |txn| {
            Ok(txn
                .query("SELECT property, sha256 FROM plugin_pins", &[])
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect())
        })
    }
}

impl FeedStore for PgStore {
    fn feed(&self, cursor: u64, n: usize) -> Result<Vec<(u64, FeedRecord)>, StoreError> {
        self.read(async |txn| {
            txn.query(
                "SELECT seq, value::text FROM access_feed WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&after(cursor), &limit(n)],
            )
            .await?
            .iter()
            .map(|r| Ok((row_id(r.get(0))?, decode(r.get(1))?)))
            .collect()
        })
    }

    fn account_feed(
        &self,
        property: &str,
        account: u64,
        n: usize,
    ) -> Result<Vec<(u64, FeedRecord)>, StoreError> {
        self.read(async |txn| {
            txn.query(
                "SELECT seq, value::text FROM access_feed WHERE property = $1 AND (value->>'account')::bigint = $2 ORDER BY seq DESC LIMIT $3",
                &[&property, &sql_id(account)?, &limit(n)],
            )
            .await?
            .iter()
            .map(|r| Ok((row_id(r.get(0))?, decode(r.get(1))?)))
            .collect()
        })
    }
}

impl SyncLeases for PgStore {
    fn acquire_lease(
        &self,
        property: &str,
        vendor: &str,
        holder: &str,
        ttl: Duration,
        max_per_vendor: usize,
    ) -> Result<LeaseOutcome, StoreError> {
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        self.write(async |txn| {
            // The vendor's row serialises every taking of its leases, on every host.
            txn.execute(
                "INSERT INTO vendor_locks (vendor) VALUES ($1) ON CONFLICT DO NOTHING",
                &[&vendor],
            )
            .await?;
            txn.execute(
                "SELECT vendor FROM vendor_locks WHERE vendor = $1 FOR UPDATE",
                &[&vendor],
            )
            .await?;
            let held_elsewhere = txn
                .query_opt(
                    "SELECT holder FROM sync_leases WHERE property = $1 AND holder <> $2 AND expires_at > clock_timestamp()",
                    &[&property, &holder],
                )
                .await?;
            if let Some(row) = held_elsewhere {
                return Ok(LeaseOutcome::HeldBy(row.get(0)));
            }
            let of_vendor: i64 = txn
                .query_one(
                    "SELECT count(*) FROM sync_leases WHERE vendor = $1 AND property <> $2 AND expires_at > clock_timestamp()",
                    &[&vendor, &property],
                )
                .await?
                .get(0);
            if of_vendor >= limit(max_per_vendor) {
                return Ok(LeaseOutcome::VendorAtLimit);
            }
            txn.execute(
                "INSERT INTO sync_leases (property, vendor, holder, expires_at) \
                 VALUES ($1, $2, $3, clock_timestamp() + $4::bigint * interval '1 millisecond') \
                 ON CONFLICT (property) DO UPDATE SET vendor = excluded.vendor, holder = excluded.holder, expires_at = excluded.expires_at",
                &[&property, &vendor, &holder, &ttl_ms],
            )
            .await?;
            Ok(LeaseOutcome::Taken)
        })
    }

    fn release_lease(&self, property: &str, holder: &str) -> Result<(), StoreError> {
        self.write(async |txn| {
            txn.execute(
                "DELETE FROM sync_leases WHERE property = $1 AND holder = $2",
                &[&property, &holder],
            )
            .await?;
            Ok(())
        })
    }

    fn lease_holder(&self, property: &str) -> Result<Option<String>, StoreError> {
        self.first_column(
            "SELECT holder FROM sync_leases WHERE property = $1 AND expires_at > clock_timestamp()",
            &[&property],
        )
    }
}
