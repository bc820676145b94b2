//! Sync Now and a property's sync history.

use axum::extract::State;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::framework::{
    Access, ApiPath, ApiQuery, ApiResult, Endpoint, endpoint, ok, page_limit, reply,
};

pub(super) fn endpoints() -> Vec<Endpoint> {
    use Access::*;
    vec![
        endpoint(
            "post",
            "/api/v1/properties/{id}/sync",
            "Sync now (joins a sync already running)",
            Property,
            post(sync_now),
        )
        .returns::<epms_sync::SyncReport>(),
        endpoint(
            "get",
            "/api/v1/properties/{id}/syncs",
            "Sync history (newest first) and the last successful sync",
            Property,
            get(sync_history),
        )
        .query::<RunsWindow>()
        .returns::<History>(),
    ]
}

async fn sync_now(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult {
    state.store.property(&id)?;
    let report = crate::scheduler::sync_property(&state, &id)
        .await
        .map_err(|f| f.error)?;
    ok(report)
}

#[derive(Deserialize, schemars::JsonSchema)]
struct RunsWindow {
    /// Runs to show (default 50).
    #[schemars(range(min = 1, max = 500))]
    limit: Option<usize>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Running {
    started_at: i64,
    progress: epms_sync::ProgressSnapshot,
}

#[derive(Serialize, schemars::JsonSchema)]
struct History {
    last_sync_ok: Option<i64>,
    /// The sync running now on this host, if one is.
    running: Option<Running>,
    /// The host syncing the property now, if it is another one (a fleet on a shared
    /// store); its progress shows on that host.
    running_on: Option<String>,
    runs: Vec<epms_store::SyncRun>,
}

async fn sync_history(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(w): ApiQuery<RunsWindow>,
) -> ApiResult {
    let limit = page_limit(w.limit, 50, 500)?;
    let p = state.store.property(&id)?;
    let running = state
        .sync_progress(&id)
        .map(|(progress, started_at)| Running {
            started_at,
            progress,
        });
    let running_on = match running {
        Some(_) => None,
        None => state
            .store
            .lease_holder(&id)?
            .filter(|host| **host != *state.host_id),
    };
    reply(History {
        last_sync_ok: p.last_sync_ok,
        running,
        running_on,
        runs: state.store.sync_runs(&id, limit)?,
    })
}
