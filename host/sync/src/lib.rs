//! One sync of one property, all or nothing (docs/rules.md, "Safety"): fetch every record
//! of every attached PMS property through the property's connector; if any fetch
//! fails, apply nothing and record the classified failure (the property keeps its
//! last good sync time); otherwise plan with the engine and apply the plan, with the
//! sync's record, in one store transaction. A sync whose input is settled (the same
//! input as the last sync that planned nothing, against the same state) is recorded
//! without planning.
//!
//! The scheduler (hourly, Sync Now, no overlap, bounded concurrency, retries) calls
//! this; it holds no state of its own.

pub mod schedule;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Instant;

use epms_engine::{
    PmsPropertyData, PmsSnapshot, SyncCounts, SyncOutcome, input_fingerprint, plan_sync,
};
use epms_model::RecordKind;
use epms_runtime::{CallError, Credential, LoadedConnector, Runtime};
use epms_store::{
    ConnectorUsed, PlannedSync, PropertyRecord, RunOutcome, Storage, StoreError, SyncRun,
};
use serde::Serialize;

/// Why a sync applied nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    #[error("property is not set up: {0}")]
    NotSetUp(String),
    #[error("no connector is loaded for vendor {0:?}")]
    NoConnector(String),
    #[error("fetching from the PMS failed: {0}")]
    Fetch(#[from] CallError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// A stable code for the sync record and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::NotSetUp(_) => "not-set-up",
            SyncError::NoConnector(_) => "no-connector",
            SyncError::Fetch(e) => e.code(),
            SyncError::Store(_) => "store",
        }
    }
}

/// What a successful sync did.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub run: SyncRun,
    /// The input was settled: nothing was planned.
    pub skipped: bool,
    pub accounts_created: usize,
    pub accounts_updated: usize,
    pub alerts_opened: usize,
    pub alerts_resolved: usize,
    pub grants_added: usize,
    pub grants_removed: usize,
    pub suggestions_added: usize,
    /// Set when the sync ran on another host and this answer was read from its
    /// history: then only the run (with its counts) is known, and the other numbers
    /// are zero.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ran_on: Option<String>,
}

impl SyncReport {
    /// Another host's sync, as its history records it.
    pub fn recorded(run: SyncRun) -> SyncReport {
        SyncReport {
            ran_on: Some(run.host.clone().unwrap_or_default()),
            skipped: false,
            accounts_created: run.counts.accounts_created,
            accounts_updated: run.counts.accounts_updated,
            alerts_opened: 0,
            alerts_resolved: 0,
            grants_added: 0,
            grants_removed: 0,
            suggestions_added: 0,
            run,
        }
    }
}

/// Where a running sync is, for progress displays (`epms sync`, the sync history).
#[derive(Debug, Default)]
pub struct Progress {
    phase: AtomicU8,
    pages: AtomicU64,
    records: AtomicU64,
}

/// The steps of a sync.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Starting,
    Units,
    Residents,
    Leases,
    Planning,
}

/// A copy of [`Progress`] at one moment.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProgressSnapshot {
    pub phase: Phase,
    /// Pages read so far, all record kinds.
    pub pages: u64,
    pub records: u64,
}

impl Progress {
    pub fn snapshot(&self) -> ProgressSnapshot {
        let phase = match self.phase.load(Ordering::Relaxed) {
            1 => Phase::Units,
            2 => Phase::Residents,
            3 => Phase::Leases,
            4 => Phase::Planning,
            _ => Phase::Starting,
        };
        ProgressSnapshot {
            phase,
            pages: self.pages.load(Ordering::Relaxed),
            records: self.records.load(Ordering::Relaxed),
        }
    }

    fn set_phase(&self, phase: Phase) {
        let before = self.phase.swap(phase as u8, Ordering::Relaxed);
        if before != phase as u8 {
            tracing::debug!(?phase, "sync phase");
        }
    }

    fn page(&self, kind: RecordKind, records: usize) {
        self.set_phase(match kind {
            RecordKind::Units => Phase::Units,
            RecordKind::Residents => Phase::Residents,
            RecordKind::Leases => Phase::Leases,
        });
        self.pages.fetch_add(1, Ordering::Relaxed);
        self.records.fetch_add(records as u64, Ordering::Relaxed);
    }
}

/// Reads every attached PMS property whole through a connector session.
async fn fetch(
    runtime: &Runtime,
    connector: &LoadedConnector,
    credential: &Credential,
    pms_ids: &[String],
    progress: &Arc<Progress>,
) -> Result<PmsSnapshot, CallError> {
    let mut session = runtime.session(connector, credential).await?;
    let observer = progress.clone();
    session.observe_pages(Box::new(move |kind, n| observer.page(kind, n)));
    let mut properties = Vec::new();
    for id in pms_ids {
        properties.push(PmsPropertyData {
            id: id.clone(),
            units: session.all_units(id).await?,
            residents: session.all_residents(id).await?,
            leases: session.all_leases(id).await?,
        });
    }
    Ok(PmsSnapshot {
        vendor: connector.info().vendor.clone(),
        properties,
    })
}

/// The property's credential, opened for `connector` (its settings and secrets).
fn credential_for(
    store: &dyn Storage,
    record: &PropertyRecord,
    connector: &LoadedConnector,
) -> Result<Credential, SyncError> {
    let cred_id = record
        .credential_id
        .clone()
        .ok_or_else(|| SyncError::NotSetUp("no credential attached".into()))?;
    if record.pms_property_ids.is_empty() {
        return Err(SyncError::NotSetUp("no PMS property attached".into()));
    }
    let cred = store.credential(&cred_id)?;
    if cred.vendor != connector.info().vendor {
        return Err(SyncError::NotSetUp(format!(
            "credential {cred_id} is for {}, the connector for {}",
            cred.vendor,
            connector.info().vendor
        )));
    }
    let mut fields: BTreeMap<String, String> = cred.settings.clone();
    fields.extend(store.credential_secrets(&cred_id)?);
    Credential::from_fields(connector.info(), fields)
        .map_err(|e| SyncError::NotSetUp(format!("credential {cred_id}: {e}")))
}

/// The connector of the property's credential's vendor.
fn connector_for(
    store: &dyn Storage,
    record: &PropertyRecord,
    connectors: &HashMap<String, Arc<LoadedConnector>>,
) -> Result<Arc<LoadedConnector>, SyncError> {
    let cred_id = record
        .credential_id
        .as_deref()
        .ok_or_else(|| SyncError::NotSetUp("no credential attached".into()))?;
    let vendor = store.credential(cred_id)?.vendor;
    connectors
        .get(&vendor)
        .cloned()
        .ok_or(SyncError::NoConnector(vendor))
}

/// What a sync with `connector` would plan now, applying nothing and recording
/// nothing: the dry run of a candidate connector version.
pub async fn dry_run(
    runtime: &Runtime,
    store: &dyn Storage,
    connector: &LoadedConnector,
    property: &str,
    now: i64,
) -> Result<SyncOutcome, SyncError> {
    let record = store.property(property)?;
    let credential = credential_for(store, &record, connector)?;
    let snapshot = fetch(
        runtime,
        connector,
        &credential,
        &record.pms_property_ids,
        &Arc::default(),
    )
    .await?;
    let state = store.state(property)?;
    Ok(off_the_async_workers(|| {
        plan_sync(&snapshot, &state, &record.settings, now)
    }))
}

/// Runs one sync of `property` at `now` (unix seconds).
pub async fn sync_once(
    runtime: &Runtime,
    store: &dyn Storage,
    connectors: &HashMap<String, Arc<LoadedConnector>>,
    property: &str,
    now: i64,
) -> Result<SyncReport, SyncError> {
    sync_once_observed(
        runtime,
        store,
        connectors,
        property,
        now,
        None,
        &Arc::default(),
    )
    .await
}

/// [`sync_once`], telling `progress` where it is.
pub async fn sync_once_observed(
    runtime: &Runtime,
    store: &dyn Storage,
    connectors: &HashMap<String, Arc<LoadedConnector>>,
    property: &str,
    now: i64,
    host: Option<&str>,
    progress: &Arc<Progress>,
) -> Result<SyncReport, SyncError> {
    let record = store.property(property)?;
    let started = Instant::now();
    let finished = || now + started.elapsed().as_secs() as i64;
    let connector = connector_for(store, &record, connectors);
    let used = connector.as_ref().ok().map(|c| ConnectorUsed {
        vendor: c.info().vendor.clone(),
        version: c.info().version.clone(),
        sha256: c.sha256().to_owned(),
    });
    let failed = |e: &SyncError| SyncRun {
        started_at: now,
        finished_at: finished(),
        outcome: RunOutcome::Failed,
        counts: SyncCounts::default(),
        error_code: Some(e.code().to_owned()),
        error: Some(e.to_string()),
        input_fingerprint: None,
        connector: used.clone(),
        host: host.map(str::to_owned),
    };
    let prepared = async {
        let connector = connector?;
        let credential = credential_for(store, &record, &connector)?;
        let snapshot = fetch(
            runtime,
            &connector,
            &credential,
            &record.pms_property_ids,
            progress,
        )
        .await?;
        progress.set_phase(Phase::Planning);
        Ok::<_, SyncError>(snapshot)
    };
    let snapshot = match prepared.await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(property, code = e.code(), error = %e, "sync failed; nothing applied");
            store.record_sync_run(property, &failed(&e))?;
            return Err(e);
        }
    };

    let fingerprint = input_fingerprint(&snapshot, &record.settings);
    if store.is_settled(property, fingerprint)? && !store.state(property)?.an_end_has_passed(now) {
        let run = SyncRun {
            started_at: now,
            finished_at: finished(),
            outcome: RunOutcome::Succeeded,
            counts: SyncCounts::default(),
            error_code: None,
            error: None,
            input_fingerprint: Some(fingerprint),
            connector: used.clone(),
            host: host.map(str::to_owned),
        };
        store.record_sync_run(property, &run)?;
        return Ok(SyncReport {
            run,
            skipped: true,
            accounts_created: 0,
            accounts_updated: 0,
            alerts_opened: 0,
            alerts_resolved: 0,
            grants_added: 0,
            grants_removed: 0,
            suggestions_added: 0,
            ran_on: None,
        });
    }
    // A manager's change may land between loading and applying: plan again then.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let applied = off_the_async_workers(|| {
            let state = store.state(property)?;
            let out = plan_sync(&snapshot, &state, &record.settings, now);
            let run = SyncRun {
                started_at: now,
                finished_at: finished(),
                outcome: RunOutcome::Succeeded,
                counts: out.counts.clone(),
                error_code: None,
                error: None,
                input_fingerprint: Some(fingerprint),
                connector: used.clone(),
                host: host.map(str::to_owned),
            };
            let planned = PlannedSync {
                run: &run,
                dispositions: &out.dispositions,
            };
            store
                .apply(property, &out.plan, Some(planned))
                .map(|()| (out, run))
        });
        match applied {
            Ok((out, run)) => {
                let p = &out.plan;
                return Ok(SyncReport {
                    run,
                    skipped: false,
                    accounts_created: p.accounts_created.len(),
                    accounts_updated: p.accounts_updated.len(),
                    alerts_opened: p.alerts_opened.len(),
                    alerts_resolved: p
                        .alerts_updated
                        .iter()
                        .filter(|a| !a.state.is_live())
                        .count(),
                    grants_added: p.grants_added.len(),
                    grants_removed: p.grants_removed.len(),
                    suggestions_added: p.suggestions_added.len(),
                    ran_on: None,
                });
            }
            Err(StoreError::Stale { .. }) if attempts < 3 => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Planning and the write transaction are CPU and disk work of tens of
/// milliseconds on a large property: on a multi-threaded runtime they run with
/// `block_in_place`, so the tasks queued behind them (API requests) move to another
/// worker instead of waiting.
fn off_the_async_workers<T>(work: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}
