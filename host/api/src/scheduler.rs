//! Sync orchestration: never two syncs of one property at once (a second request
//! joins the running one), and the driver of scheduled syncs. When each property
//! syncs, the limits and the retries are decided by `epms_sync::schedule` (no clock,
//! no randomness of its own); this module runs what it decides on tokio. Every
//! attempt is recorded in the sync history (failed attempts too), so the history shows
//! what the retries saw.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// Runs one sync of `property`, or joins the one already running.
///
/// The sync itself is a task of its own (on the sync pool): a caller that goes
/// away (an HTTP client hanging up on Sync Now) does not cancel it, and the next
/// caller never joins a sync that nobody runs.
pub async fn sync_property(state: &AppState, property: &str) -> Result<Value, SyncFailure> {
    let mut outcome = {
        let mut running = state.running.lock().unwrap_or_else(|p| p.into_inner());
        match running.get(property) {
            Some(sync) => sync.outcome.clone(),
            None => {
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
                start_sync(state, property, tx, progress);
                rx
            }
        }
    };
    let vanished = || SyncFailure {
        error: ApiError::internal("the sync stopped without an outcome (see the host's log)"),
        retryable: true,
        retry_after: None,
    };
    let done = outcome
        .wait_for(Option::is_some)
        .await
        .map_err(|_| vanished())?;
    done.clone().unwrap_or_else(|| Err(vanished()))
}

/// Takes a property off the running list when its sync task ends, however it ends
/// (a panic included): the next Sync Now starts afresh.
struct RunningEntry {
    running: Arc<std::sync::Mutex<HashMap<String, RunningSync>>>,
    property: String,
}

impl Drop for RunningEntry {
    fn drop(&mut self) {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.property);
    }
}

fn start_sync(
    state: &AppState,
    property: &str,
    outcome: watch::Sender<Option<Result<Value, SyncFailure>>>,
    progress: Arc<epms_sync::Progress>,
) {
    let entry = RunningEntry {
        running: state.running.clone(),
        property: property.to_owned(),
    };
    let (runtime, store, metrics) = (
        state.runtime.clone(),
        state.store.clone(),
        state.metrics.clone(),
    );
    let connectors = state.connectors_for(property);
    let now = state.now();
    let work = async move {
        let started = Instant::now();
        let result = epms_sync::sync_once_observed(
            &runtime,
            store.as_ref(),
            &connectors,
            &entry.property,
            now,
            &progress,
        )
        .await;
        metrics.record_sync(&result, started.elapsed());
        if let Err(e) = &result {
            tracing::warn!(property = %entry.property, code = e.code(), "sync failed: {e}");
        }
        // Off the running list first: a caller arriving now starts a new sync.
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
            tasks.spawn(async move {
                let outcome = match sync_property(&state, &property).await {
                    Ok(_) => Outcome::Succeeded,
                    Err(f) => {
                        tracing::info!(%property, error = %f.error, retryable = f.retryable, "scheduled sync failed");
                        Outcome::Failed {
                            retryable: f.retryable,
                            retry_after: f.retry_after,
                        }
                    }
                };
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
