//! Sync orchestration: never two syncs of one property at once (a second request
//! joins the running one), scheduled syncs every property's interval with jitter,
//! bounded concurrency overall and per vendor, and retries with exponential backoff
//! that honours the PMS's `Retry-After`.
//!
//! Decisions where the issue is silent:
//! - A property is scheduled once it has a credential and PMS properties attached.
//! - A property never synced, or whose last good sync is older than its interval, is
//!   due at start-up, spread over `startup_spread` so a restart does not fire every
//!   sync in the same second.
//! - Each wait is the interval ± `jitter_percent`, drawn afresh each time.
//! - A retry releases its concurrency slots while it waits. A `Retry-After` longer
//!   than the interval is not waited for: the next scheduled sync takes over.
//! - Every attempt is recorded in the sync history (failed attempts too), so the
//!   history shows what the retries saw.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use crate::AppState;
use crate::error::ApiError;

/// Shortest sync interval a property may choose.
pub const MIN_INTERVAL_MINUTES: u32 = 5;
/// Longest sync interval a property may choose (a week).
pub const MAX_INTERVAL_MINUTES: u32 = 7 * 24 * 60;

/// How scheduled syncs run. Every field has a default that works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerConfig {
    /// Run scheduled syncs at all (Sync Now works either way).
    pub enabled: bool,
    /// Interval of properties that set none.
    pub default_interval_minutes: u32,
    /// Each wait is the interval ± this percentage.
    pub jitter_percent: u8,
    /// Syncs running at once, all vendors together.
    pub max_concurrent: usize,
    /// Syncs running at once against one vendor.
    pub max_per_vendor: usize,
    /// Attempts of one scheduled sync, the first included.
    pub max_attempts: u32,
    /// First backoff; doubles each retry.
    pub retry_base_seconds: u64,
    /// Longest backoff (a `Retry-After` may be longer, up to the interval).
    pub retry_max_seconds: u64,
    /// Due properties at start-up are spread over this many seconds.
    pub startup_spread_seconds: u64,
    /// How often due properties are looked for, in milliseconds.
    pub tick_millis: u64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            enabled: true,
            default_interval_minutes: 60,
            jitter_percent: 10,
            max_concurrent: 8,
            max_per_vendor: 3,
            max_attempts: 4,
            retry_base_seconds: 5,
            retry_max_seconds: 300,
            startup_spread_seconds: 30,
            tick_millis: 1_000,
        }
    }
}

impl SchedulerConfig {
    /// Checks the values a person may get wrong.
    pub fn validate(&self) -> Result<(), String> {
        if !(MIN_INTERVAL_MINUTES..=MAX_INTERVAL_MINUTES).contains(&self.default_interval_minutes) {
            return Err(format!(
                "default_interval_minutes must be between {MIN_INTERVAL_MINUTES} and {MAX_INTERVAL_MINUTES}"
            ));
        }
        if self.jitter_percent > 50 {
            return Err("jitter_percent must be at most 50".into());
        }
        if self.max_concurrent == 0 || self.max_per_vendor == 0 || self.max_attempts == 0 {
            return Err(
                "max_concurrent, max_per_vendor and max_attempts must be at least 1".into(),
            );
        }
        if self.tick_millis == 0 {
            return Err("tick_millis must be at least 1".into());
        }
        Ok(())
    }

    fn interval(&self, property_minutes: Option<u32>) -> Duration {
        Duration::from_secs(
            u64::from(property_minutes.unwrap_or(self.default_interval_minutes)) * 60,
        )
    }

    fn jittered(&self, interval: Duration) -> Duration {
        let spread = interval.as_secs_f64() * f64::from(self.jitter_percent) / 100.0;
        let offset = (fastrand::f64() * 2.0 - 1.0) * spread;
        Duration::from_secs_f64((interval.as_secs_f64() + offset).max(1.0))
    }

    /// The wait before retry number `retry` (1-based), honouring the PMS's hint.
    pub fn backoff(
        &self,
        retry: u32,
        retry_after: Option<Duration>,
        interval: Duration,
    ) -> Option<Duration> {
        let wait = match retry_after {
            Some(hint) => hint,
            None => {
                let base = Duration::from_secs(self.retry_base_seconds);
                let exp = base.saturating_mul(1u32 << retry.saturating_sub(1).min(16));
                let capped = exp.min(Duration::from_secs(self.retry_max_seconds));
                // Up to a quarter more, so retries of many properties do not align.
                capped + capped.mul_f64(fastrand::f64() * 0.25)
            }
        };
        (wait < interval).then_some(wait)
    }
}

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
            &store,
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

/// A sync's concurrency slots. The vendor's first: a task waiting for its vendor
/// must not hold one of the overall slots that other vendors' syncs could use.
async fn slots(
    vendor: &Arc<Semaphore>,
    overall: &Arc<Semaphore>,
) -> Option<(OwnedSemaphorePermit, OwnedSemaphorePermit)> {
    let one = vendor.clone().acquire_owned().await.ok()?;
    let all = overall.clone().acquire_owned().await.ok()?;
    Some((one, all))
}

/// One scheduled sync with its retries; returns the property id.
async fn scheduled_sync(
    state: AppState,
    config: Arc<SchedulerConfig>,
    overall: Arc<Semaphore>,
    vendor: Arc<Semaphore>,
    property: String,
    interval: Duration,
) -> String {
    let mut attempt = 1;
    loop {
        let outcome = {
            let Some(_slots) = slots(&vendor, &overall).await else {
                return property; // semaphores are never closed
            };
            sync_property(&state, &property).await
        };
        match outcome {
            Ok(_) => return property,
            Err(f) if f.retryable && attempt < config.max_attempts => {
                let Some(wait) = config.backoff(attempt, f.retry_after, interval) else {
                    tracing::info!(%property, error = %f.error, "not retrying before the next scheduled sync");
                    return property;
                };
                tracing::info!(%property, attempt, ?wait, error = %f.error, "sync failed; retrying");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(f) => {
                tracing::warn!(%property, attempt, error = %f.error, "scheduled sync failed");
                return property;
            }
        }
    }
}

/// Runs scheduled syncs until `shutdown` turns true; then waits for the syncs running.
pub async fn run(state: AppState, config: SchedulerConfig, mut shutdown: watch::Receiver<bool>) {
    let config = Arc::new(config);
    let overall = Arc::new(Semaphore::new(config.max_concurrent));
    let mut per_vendor: HashMap<String, Arc<Semaphore>> = HashMap::new();
    // When each property is next due, as unix seconds.
    let mut due: HashMap<String, f64> = HashMap::new();
    let mut in_flight: HashSet<String> = HashSet::new();
    let mut tasks = JoinSet::new();
    let tick = Duration::from_millis(config.tick_millis);
    loop {
        while let Some(done) = tasks.try_join_next() {
            match done {
                Ok(property) => {
                    in_flight.remove(&property);
                }
                Err(e) => tracing::error!(error = %e, "a scheduled sync task failed"),
            }
        }
        let now = state.now() as f64;
        match state.store.properties() {
            Ok(properties) => {
                for p in properties {
                    if p.credential_id.is_none() || p.pms_property_ids.is_empty() {
                        due.remove(&p.id);
                        continue;
                    }
                    let interval = config.interval(p.sync_interval_minutes);
                    let next = *due.entry(p.id.clone()).or_insert_with(|| {
                        let spread = fastrand::f64() * config.startup_spread_seconds as f64;
                        match p.last_sync_ok {
                            Some(t) if (t as f64) + interval.as_secs_f64() > now => {
                                t as f64 + config.jittered(interval).as_secs_f64()
                            }
                            _ => now + spread,
                        }
                    });
                    if next > now || in_flight.contains(&p.id) {
                        continue;
                    }
                    let vendor = match p
                        .credential_id
                        .as_deref()
                        .map(|c| state.store.credential(c))
                    {
                        Some(Ok(c)) => c.vendor,
                        _ => String::new(), // the sync records the missing credential
                    };
                    let vendor_slots = per_vendor
                        .entry(vendor)
                        .or_insert_with(|| Arc::new(Semaphore::new(config.max_per_vendor)))
                        .clone();
                    due.insert(p.id.clone(), now + config.jittered(interval).as_secs_f64());
                    in_flight.insert(p.id.clone());
                    tasks.spawn(scheduled_sync(
                        state.clone(),
                        config.clone(),
                        overall.clone(),
                        vendor_slots,
                        p.id,
                        interval,
                    ));
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot list properties to schedule syncs"),
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
        }
    }
    while tasks.join_next().await.is_some() {}
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

    #[test]
    fn backoff_doubles_caps_and_honours_retry_after() {
        let c = SchedulerConfig {
            retry_base_seconds: 2,
            retry_max_seconds: 10,
            ..SchedulerConfig::default()
        };
        let hour = Duration::from_secs(3600);
        let first = c.backoff(1, None, hour).unwrap();
        assert!(first >= Duration::from_secs(2) && first <= Duration::from_millis(2_500));
        let second = c.backoff(2, None, hour).unwrap();
        assert!(second >= Duration::from_secs(4) && second <= Duration::from_secs(5));
        let capped = c.backoff(30, None, hour).unwrap();
        assert!(capped >= Duration::from_secs(10) && capped <= Duration::from_millis(12_500));
        assert_eq!(
            c.backoff(1, Some(Duration::from_secs(42)), hour),
            Some(Duration::from_secs(42))
        );
        assert_eq!(c.backoff(1, Some(Duration::from_secs(7200)), hour), None);
    }

    #[tokio::test]
    async fn a_sync_waiting_for_its_vendor_leaves_the_overall_slots_to_other_vendors() {
        let overall = Arc::new(Semaphore::new(2));
        let (yardi, mri) = (Arc::new(Semaphore::new(1)), Arc::new(Semaphore::new(1)));
        let running = slots(&yardi, &overall).await.unwrap();
        let waiting = tokio::spawn({
            let (yardi, overall) = (yardi.clone(), overall.clone());
            async move { slots(&yardi, &overall).await.map(drop) }
        });
        tokio::task::yield_now().await;
        let other = tokio::time::timeout(Duration::from_secs(5), slots(&mri, &overall)).await;
        assert!(other.is_ok(), "another vendor's sync was starved");
        drop((running, other));
        assert!(waiting.await.unwrap().is_some());
    }

    #[test]
    fn jitter_stays_within_its_percentage() {
        let c = SchedulerConfig::default();
        for _ in 0..1_000 {
            let d = c.jittered(Duration::from_secs(3600)).as_secs_f64();
            assert!((3240.0..=3960.0).contains(&d), "{d}");
        }
    }

    #[test]
    fn bad_configs_are_refused() {
        for bad in [
            SchedulerConfig {
                default_interval_minutes: 1,
                ..Default::default()
            },
            SchedulerConfig {
                jitter_percent: 90,
                ..Default::default()
            },
            SchedulerConfig {
                max_concurrent: 0,
                ..Default::default()
            },
            SchedulerConfig {
                tick_millis: 0,
                ..Default::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        assert_eq!(SchedulerConfig::default().validate(), Ok(()));
    }
}
