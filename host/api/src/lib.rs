//! The admin HTTP API (axum, JSON): thin handlers over the engine, the store, the
//! runtime and the sync. `app(state)` is the whole router.
//!
//! Every route but `/healthz` takes `Authorization: Bearer <token>`. Errors are
//! `application/problem+json` with a stable `code` (and `field` on validation errors).

pub mod answer_cache;
pub mod auth;
pub mod error;
pub mod framework;
mod handlers;
pub mod metrics;
pub mod scheduler;
pub mod sync_pool;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use epms_runtime::{LoadedConnector, Runtime};
use epms_store::Storage;

pub use auth::{Caller, new_token, token_hash};
pub use error::ApiError;
pub use framework::{Access, Endpoint};
pub use handlers::{connectors as plugins, endpoints, tokens};

/// The OpenAPI document of the whole API.
pub fn openapi_document() -> serde_json::Value {
    framework::openapi::document(&endpoints())
}
pub use scheduler::{SchedulerConfig, SyncFailure, sync_property};

/// Largest JSON request body.
pub const JSON_BODY_LIMIT: usize = 1 << 20;
/// Largest CSV upload.
pub const CSV_BODY_LIMIT: usize = 4 << 20;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Storage>,
    pub runtime: Arc<Runtime>,
    /// Each vendor's active connector version (bundled, or activated through the API).
    pub connectors: Arc<RwLock<HashMap<String, Arc<LoadedConnector>>>>,
    /// Every loaded version, bundled and installed, by the hex SHA-256 of its bytes
    /// (what pins and activations refer to).
    pub versions: Arc<RwLock<HashMap<String, Arc<LoadedConnector>>>>,
    /// Which signatures an uploaded connector must carry.
    pub trust: Arc<RwLock<epms_runtime::signing::TrustedKeys>>,
    /// Syncs running now, by property: Sync Now during a sync waits for that one.
    pub(crate) running: Arc<Mutex<HashMap<String, scheduler::RunningSync>>>,
    pub metrics: Arc<metrics::Metrics>,
    /// The rendered answers of the most read pages, per state ([`answer_cache`]).
    pub answers: Arc<answer_cache::AnswerCache>,
    /// Where syncs run, apart from the API's workers (`None`: threads could not be
    /// started; syncs then run on the caller's runtime).
    pub sync_pool: Option<Arc<sync_pool::SyncPool>>,
    /// Unix seconds (injectable for tests).
    pub clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    /// This host's name: it holds sync leases by it, and its syncs carry it.
    pub host_id: Arc<str>,
    /// How long a sync lease lasts unless renewed (a third of it between renewals):
    /// the longest a property waits after its host died mid-sync.
    pub lease_ttl: Duration,
    /// Where webhook subscriptions may point (checked when one is created).
    pub webhook_policy: Arc<epms_webhooks::DestinationPolicy>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Storage>,
        runtime: Arc<Runtime>,
        connectors: HashMap<String, Arc<LoadedConnector>>,
    ) -> Self {
        let versions = connectors
            .values()
            .map(|c| (c.sha256().to_owned(), c.clone()))
            .collect();
        AppState {
            store,
            runtime,
            connectors: Arc::new(RwLock::new(connectors)),
            versions: Arc::new(RwLock::new(versions)),
            trust: Arc::default(),
            running: Arc::default(),
            metrics: Arc::default(),
            answers: Arc::default(),
            sync_pool: start_sync_pool(),
            host_id: Arc::from("local"),
            lease_ttl: Duration::from_secs(60),
            webhook_policy: Arc::default(),
            clock: Arc::new(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or_default()
            }),
        }
    }

    pub fn now(&self) -> i64 {
        (self.clock)()
    }

    pub fn connector(&self, vendor: &str) -> Option<Arc<LoadedConnector>> {
        self.connectors
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(vendor)
            .cloned()
    }

    /// Where the running sync of `property` is, and when it started; `None` when no
    /// sync of it runs.
    pub fn sync_progress(&self, property: &str) -> Option<(epms_sync::ProgressSnapshot, i64)> {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        running
            .get(property)
            .map(|s| (s.progress.snapshot(), s.started_at))
    }

    /// The connectors a sync of `property` uses: each vendor's active version, or the
    /// version pinned for this property (a canary).
    pub fn connectors_for(&self, property: &str) -> HashMap<String, Arc<LoadedConnector>> {
        let mut map = self.connectors_snapshot();
        match self.store.plugin_pin(property) {
            Ok(Some(sha)) => match self.version(&sha) {
                Some(pinned) => {
                    map.insert(pinned.info().vendor.clone(), pinned);
                }
                None => tracing::warn!(property, sha, "pinned connector version is not loaded"),
            },
            Ok(None) => {}
            Err(e) => tracing::warn!(property, "pins unreadable: {e}"),
        }
        map
    }

    /// A loaded connector version by its hash.
    pub fn version(&self, sha256: &str) -> Option<Arc<LoadedConnector>> {
        self.versions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(sha256)
            .cloned()
    }

    pub fn connectors_snapshot(&self) -> HashMap<String, Arc<LoadedConnector>> {
        self.connectors
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

fn start_sync_pool() -> Option<Arc<sync_pool::SyncPool>> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    match sync_pool::SyncPool::new(threads) {
        Ok(pool) => Some(Arc::new(pool)),
        Err(e) => {
            tracing::warn!("sync threads could not start ({e}); syncs share the API's");
            None
        }
    }
}

/// The whole API.
pub fn app(state: AppState) -> Router {
    framework::router(state, endpoints())
}
