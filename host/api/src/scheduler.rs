//! Sync orchestration: never two syncs of one property at once (a second request
//! joins the running one), and the driver of scheduled syncs. When each property
//! syncs, the limits and the retries are decided by `epms_sync::schedule` (no clock,
//! no randomness of its own); this module runs what it decides on tokio. Every
//! attempt is recorded in the sync history (failed attempts too), so the history shows
//! what the retries saw.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use epms_store::LeaseOutcome;
use epms_sync::schedule::{Outcome, Schedulable, Schedule};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::AppState;
use crate::error::ApiError;

pub use epms_sync::schedule::{MAX_INTERVAL_MINUTES, MIN_INTERVAL_MINUTES, SchedulerConfig};

/// Why a sync applied nothing, as its callers see it.
#[derive(Debug, Clone)]
pub struct SyncFailure {
    pub error: ApiError,
    /// Trying again later may succeed (rate limits, transient faults, deadlines).
    pub retryable: bool,
    /// The PMS's `Retry-After`.
    pub retry_after: Option<Duration>,
}

/// A sync in progress: later callers wait on its outcome; its progress shows in the
/// sync history and in `epms sync`.
#[derive(Clone)]
pub(crate) struct RunningSync {
    outcome: watch::Receiver<Option<Result<Value, SyncFailure>>>,
    pub(crate) progress: Arc<epms_sync::Progress>,
    pub(crate) started_at: i64,
}

fn report_view(r: &epms_sync::SyncReport) -> Value {
    // Plain data (numbers, strings, string-keyed maps): serialising cannot fail.
    serde_json::to_value(r).expect("a sync report serialises")
}

fn failure(e: epms_sync::SyncError) -> SyncFailure {
    match e {
        epms_sync::SyncError::Fetch(call) => SyncFailure {
            retryable: call.is_retryable(),
            retry_after: call.retry_after(),
            error: ApiError::from_call(call),
        },
        epms_sync::SyncError::Store(s) => SyncFailure {
            error: ApiError::from(s),
            retryable: false,
            retry_after: None,
        },
        // The caller's to fix (set the integration up, install the connector): not
        // the PMS's or the host's failure.
        other @ epms_sync::SyncError::NotSetUp(_) => SyncFailure {
            error: ApiError::conflict("not-set-up", other.to_string()),
            retryable: false,
            retry_after: None,
        },
        other @ epms_sync::SyncError::NoConnector(_) => SyncFailure {
            error: ApiError::conflict("no-connector", other.to_string()),
            retryable: false,
            retry_after: None,
        },
        other => SyncFailure {
            error: ApiError::internal(other.to_string()),
            retryable: false,
            retry_after: None,
        },
    }
}

/// Runs one sync of `property`, or joins the one already running, here or on another
/// host (Sync Now: the vendor's limit of syncs at once does not hold a person back).
/// A lease that lapses without a record (its host died mid-sync) is taken over.
///
/// The sync itself is a task of its own (on the sync pool): a caller that goes away
/// (an HTTP client hanging up on Sync Now) does not cancel it, and the next caller
/// never joins a sync that nobody runs.
pub async fn sync_property(state: &AppState, property: &str) -> Result<Value, SyncFailure> {
    let asked_at = state.now();
    loop {
        match start_here(state, property, usize::MAX)? {
            Here::Running(outcome) => return wait_local(outcome).await,
            Here::HeldBy(host) => {
                if let Some(done) = wait_remote(state, property, &host, asked_at).await {
                    return done;
                }
            }
            // Not with an unlimited vendor; should the store say so, ask again.
            Here::VendorAtLimit => tokio::time::sleep(REMOTE_POLL).await,
        }
    }
}

/// A scheduled sync: runs here if it can start now; deferred when another host syncs
/// the property (that host's good sync reschedules it here too) or its vendor is at
/// its limit across hosts.
async fn scheduled_sync(state: &AppState, property: &str, max_per_vendor: usize) -> Outcome {
    let ran = match start_here(state, property, max_per_vendor) {
        Ok(Here::Running(outcome)) => wait_local(outcome).await,
        Ok(Here::HeldBy(_)) => {
            return Outcome::Deferred {
                wait: state.lease_ttl,
            };
        }
        Ok(Here::VendorAtLimit) => {
            return Outcome::Deferred {
                wait: VENDOR_BUSY_WAIT,
            };
        }
        Err(f) => Err(f),
    };
    match ran {
        Ok(_) => Outcome::Succeeded,
        Err(f) => {
            tracing::info!(%property, error = %f.error, retryable = f.retryable, "scheduled sync failed");
            Outcome::Failed {
                retryable: f.retryable,
                retry_after: f.retry_after,
            }
        }
    }
}

/// Where the sync of a property stands for a host that wants one.
enum Here {
    /// Running on this host (joined, or started now with the lease taken).
    Running(watch::Receiver<Option<Result<Value, SyncFailure>>>),
    /// Another host holds the property's lease.
    HeldBy(String),
    /// The vendor's limit across hosts is reached; nothing started.
    VendorAtLimit,
}

/// How often a host waiting on another host's sync looks at its lease.
const REMOTE_POLL: Duration = Duration::from_millis(250);

/// Joins the sync of `property` running on this host, or takes the property's lease
/// and starts one here.
fn start_here(
    state: &AppState,
    property: &str,
    max_per_vendor: usize,
) -> Result<Here, SyncFailure> {
    let mut running = state.running.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(sync) = running.get(property) {
        return Ok(Here::Running(sync.outcome.clone()));
    }
    // Under the lock: two callers on this host never both take the lease.
    let vendor = vendor_of(state, property);
    Ok(
        match take_lease(state, property, &vendor, max_per_vendor)? {
            LeaseOutcome::Taken => {
                let (tx, rx) = watch::channel(None);
                let progress = Arc::new(epms_sync::Progress::default());
                running.insert(
                    property.to_owned(),
                    RunningSync {
                        outcome: rx.clone(),
                        progress: progress.clone(),
                        started_at: state.now(),
                    },
                );
                start_sync(state, property, vendor, tx, progress);
                Here::Running(rx)
            }
            LeaseOutcome::HeldBy(host) => Here::HeldBy(host),
            LeaseOutcome::VendorAtLimit => Here::VendorAtLimit,
        },
    )
}

fn take_lease(
    state: &AppState,
    property: &str,
    vendor: &str,
    max_per_vendor: usize,
) -> Result<LeaseOutcome, SyncFailure> {
    state
        .store
        .acquire_lease(
            property,
            vendor,
            &state.host_id,
            state.lease_ttl,
            max_per_vendor,
        )
        .map_err(|e| failure(epms_sync::SyncError::Store(e)))
}

/// The vendor of a property's credential ("" when it has none: the sync will say so).
fn vendor_of(state: &AppState, property: &str) -> String {
    state
        .store
        .property(property)
        .ok()
        .and_then(|p| p.credential_id)
        .and_then(|c| state.store.credential(&c).ok())
        .map(|c| c.vendor)
        .unwrap_or_default()
}

fn vanished() -> SyncFailure {
    SyncFailure {
        error: ApiError::internal("the sync stopped without an outcome (see the host's log)"),
        retryable: true,
        retry_after: None,
    }
}

async fn wait_local(
    mut outcome: watch::Receiver<Option<Result<Value, SyncFailure>>>,
) -> Result<Value, SyncFailure> {
    let done = outcome
        .wait_for(Option::is_some)
        .await
        .map_err(|_| vanished())?;
    done.clone().unwrap_or_else(|| Err(vanished()))
}

/// Waits while `host` holds the lease of `property`; then the record of the sync that
/// ended since `asked_at`, or `None` when there is none (the host died).
async fn wait_remote(
    state: &AppState,
    property: &str,
    host: &str,
    asked_at: i64,
) -> Option<Result<Value, SyncFailure>> {
    tracing::debug!(%property, %host, "joining the sync running on another host");
    // The run that host records is the first one newer than this. Run times are whole
    // seconds from the sync's start, so a sync under a second long can record a
    // finish before `asked_at`: a newer record is the sure sign.
    let before = match state.store.sync_runs(property, 1) {
        Ok(mut runs) => runs.pop(),
        Err(e) => return Some(Err(failure(epms_sync::SyncError::Store(e)))),
    };
    loop {
        match state.store.lease_holder(property) {
            Ok(Some(_)) => tokio::time::sleep(REMOTE_POLL).await,
            Ok(None) => break,
            Err(e) => return Some(Err(failure(epms_sync::SyncError::Store(e)))),
        }
    }
    let newest = match state.store.sync_runs(property, 1) {
        Ok(mut runs) => runs.pop(),
        Err(e) => return Some(Err(failure(epms_sync::SyncError::Store(e)))),
    };
    let run = newest.filter(|r| before.as_ref() != Some(r) || r.finished_at >= asked_at)?;
    Some(match run.outcome {
        epms_store::RunOutcome::Succeeded => Ok(report_view(&epms_sync::SyncReport::recorded(run))),
        epms_store::RunOutcome::Failed => Err(SyncFailure {
            error: ApiError::bad_gateway(
                "sync-failed-elsewhere",
                format!(
                    "the sync ran on host {}, and failed: {}",
                    run.host.as_deref().unwrap_or(host),
                    run.error.as_deref().unwrap_or("no reason recorded")
                ),
            ),
            retryable: true,
            retry_after: None,
        }),
    })
}

/// Takes a property off the running list when its sync task ends, however it ends
/// (a panic included), and gives its lease up: the next Sync Now, here or elsewhere,
/// starts afresh.
struct RunningEntry {
    running: Arc<std::sync::Mutex<HashMap<String, RunningSync>>>,
    store: Arc<dyn epms_store::Storage>,
    host_id: Arc<str>,
    property: String,
}

impl Drop for RunningEntry {
    fn drop(&mut self) {
        if let Err(e) = self.store.release_lease(&self.property, &self.host_id) {
            // It lapses on its own after its time to live.
            tracing::warn!(property = %self.property, "cannot release the sync lease: {e}");
        }
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.property);
    }
}

fn start_sync(
    state: &AppState,
    property: &str,
    vendor: String,
    outcome: watch::Sender<Option<Result<Value, SyncFailure>>>,
    progress: Arc<epms_sync::Progress>,
) {
    let entry = RunningEntry {
        running: state.running.clone(),
        store: state.store.clone(),
        host_id: state.host_id.clone(),
        property: property.to_owned(),
    };
    let (runtime, store, metrics) = (
        state.runtime.clone(),
        state.store.clone(),
        state.metrics.clone(),
    );
    let connectors = state.connectors_for(property);
    let now = state.now();
    let (host_id, ttl) = (state.host_id.clone(), state.lease_ttl);
    let work = async move {
        let started = Instant::now();
        let sync = epms_sync::sync_once_observed(
            &runtime,
            store.as_ref(),
            &connectors,
            &entry.property,
            now,
            Some(&host_id),
            &progress,
        );
        let result = renewing_lease(
            sync,
            store.as_ref(),
            &entry.property,
            &vendor,
            &host_id,
            ttl,
        )
        .await;
        metrics.record_sync(&result, started.elapsed());
        if let Err(e) = &result {
            tracing::warn!(property = %entry.property, code = e.code(), "sync failed: {e}");
        }
        // Off the running list (and the lease given up) first: a caller arriving now
        // starts a new sync.
        drop(entry);
        let _ = outcome.send(Some(result.map(|r| report_view(&r)).map_err(failure)));
    };
    match &state.sync_pool {
        Some(pool) => pool.spawn(work),
        None => {
            tokio::spawn(work);
        }
    }
}

/// Runs `sync`, renewing the property's lease every third of its time to live. A
/// renewal refused (the lease lapsed and another host took it: this host stalled
/// longer than the lease) is logged; the sync's apply is still safe, since a plan
/// made against a state that moved is refused as stale.
async fn renewing_lease<T>(
    sync: impl std::future::Future<Output = T>,
    store: &dyn epms_store::Storage,
    property: &str,
    vendor: &str,
    host_id: &str,
    ttl: Duration,
) -> T {
    let mut sync = std::pin::pin!(sync);
    let mut renew = tokio::time::interval(ttl / 3);
    renew.tick().await;
    loop {
        tokio::select! {
            done = &mut sync => return done,
            _ = renew.tick() => match store.acquire_lease(property, vendor, host_id, ttl, usize::MAX) {
                Ok(LeaseOutcome::Taken) => {}
                Ok(other) => tracing::error!(%property, ?other, "the sync lease was lost while syncing"),
                Err(e) => tracing::warn!(%property, "cannot renew the sync lease: {e}"),
            },
        }
    }
}

/// How long a scheduled sync waits when its vendor is at its limit across hosts.
const VENDOR_BUSY_WAIT: Duration = Duration::from_secs(5);

/// Runs scheduled syncs until `shutdown` turns true; then waits for the syncs running.
/// The decisions are [`Schedule`]'s; this loop only feeds it the properties, the time
/// (a monotonic clock) and random numbers, starts what it says and reports how each
/// sync ended.
pub async fn run(state: AppState, config: SchedulerConfig, mut shutdown: watch::Receiver<bool>) {
    let tick = Duration::from_millis(config.tick_millis);
    let mut schedule = Schedule::new(config);
    let started = Instant::now();
    let now = || u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut random = fastrand::f64;
    let mut tasks: JoinSet<(String, Outcome)> = JoinSet::new();
    loop {
        match schedulable(&state, schedule.config()) {
            Ok(properties) => schedule.update(now(), properties, &mut random),
            Err(e) => tracing::error!(error = %e, "cannot list properties to schedule syncs"),
        }
        for property in schedule.start_due(now(), &mut random) {
            let state = state.clone();
            let max_per_vendor = schedule.config().max_per_vendor;
            tasks.spawn(async move {
                let outcome = scheduled_sync(&state, &property, max_per_vendor).await;
                (property, outcome)
            });
        }
        // Until the next sync is due, a sync ends, or the next look at the properties.
        let wait = schedule
            .next_due()
            .map_or(tick, |due| Duration::from_millis(due.saturating_sub(now())))
            .min(tick);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            Some(done) = tasks.join_next(), if !tasks.is_empty() => match done {
                Ok((property, outcome)) => schedule.finished(&property, now(), outcome, &mut random),
                Err(e) => tracing::error!(error = %e, "a scheduled sync task failed"),
            },
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// The properties that can be synced (a credential and PMS properties attached), with
/// their vendor, interval and last good sync.
fn schedulable(
    state: &AppState,
    config: &SchedulerConfig,
) -> Result<Vec<Schedulable>, epms_store::StoreError> {
    let now = state.now();
    let mut out = Vec::new();
    for p in state.store.properties()? {
        let Some(credential) = p.credential_id.as_deref() else {
            continue;
        };
        if p.pms_property_ids.is_empty() {
            continue;
        }
        // A missing credential still syncs: the sync records the problem.
        let vendor = state
            .store
            .credential(credential)
            .map(|c| c.vendor)
            .unwrap_or_default();
        out.push(Schedulable {
            id: p.id.clone(),
            vendor,
            interval: config.interval(p.sync_interval_minutes),
            since_last_ok: p
                .last_sync_ok
                .map(|t| Duration::from_secs(u64::try_from(now - t).unwrap_or(0))),
            last_ok_marker: p.last_sync_ok,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_sync_failure_has_its_own_code_and_a_rate_limit_its_retry_after() {
        use axum::response::IntoResponse as _;
        let rate_limited = failure(epms_sync::SyncError::Fetch(
            epms_runtime::CallError::Connector(epms_model::ConnectorError::RateLimited {
                retry_after_seconds: Some(9),
                message: "slow down".into(),
            }),
        ));
        assert_eq!(rate_limited.error.code, "pms-rate-limited");
        assert_eq!(
            rate_limited.error.status,
            axum::http::StatusCode::BAD_GATEWAY
        );
        let response = rate_limited.error.into_response();
        assert_eq!(response.headers()["retry-after"], "9");
        let auth = failure(epms_sync::SyncError::Fetch(
            epms_runtime::CallError::Connector(epms_model::ConnectorError::Auth {
                message: "no".into(),
            }),
        ));
        assert_eq!(auth.error.code, "pms-auth");
        let trap = failure(epms_sync::SyncError::Fetch(epms_runtime::CallError::Trap {
            message: "boom".into(),
        }));
        assert_eq!(trap.error.code, "connector-trap");
        let bare = failure(epms_sync::SyncError::NotSetUp("door-1".into()));
        assert_eq!(bare.error.status, axum::http::StatusCode::CONFLICT);
        assert_eq!(bare.error.code, "not-set-up");
    }
}
