//! Open alerts grouped by type, and their resolution one at a time or in bulk.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::routing::{get, post};
use epms_engine::resolve::{self, Resolution};
use serde::Deserialize;

use super::audit::HistoryWindow;
use super::{PlanSummary, actor, mutate, named_in_body, plan_summary, resolve_error};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::framework::{
    Access, ApiJson, ApiPath, ApiQuery, ApiResult, Endpoint, endpoint, kept_reply, page_limit,
    reply,
};
use epms_engine::resolve::ResolveError;

pub(super) fn endpoints() -> Vec<Endpoint> {
    use Access::*;
    let list = vec![
        endpoint(
            "get",
            "/api/v1/properties/{id}/alerts",
            "Open alerts grouped by type, with the badge",
            Property,
            get(alerts),
        )
        .returns::<AlertsPage>(),
        endpoint(
            "get",
            "/api/v1/properties/{id}/alerts/history",
            "Resolved alerts, newest first, each with how it was closed",
            Property,
            get(alert_history),
        )
        .query::<HistoryWindow>()
        .returns::<AlertHistory>(),
        endpoint(
            "post",
            "/api/v1/properties/{id}/alerts/resolve",
            "Resolve alerts in bulk",
            Property,
            post(resolve_many),
        )
        .json_body::<BulkBody>()
        .returns::<PlanSummary>(),
        endpoint(
            "post",
            "/api/v1/properties/{id}/alerts/{alert}/resolve",
            "Resolve one alert",
            Property,
            post(resolve_one),
        )
        .numeric(&["alert"])
        .json_body::<ResolveBody>()
        .returns::<PlanSummary>(),
    ];
    list
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct AlertsPage<'a> {
    badge: usize,
    open: usize,
    pending_suggestions: usize,
    groups: BTreeMap<&'static str, Vec<&'a epms_engine::Alert>>,
}

async fn alerts(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult {
    let door = state.store.state(&id)?;
    // Rendered once per state: the alert list is read far more often than it changes.
    kept_reply(&state, &id, "alerts", &door, || alerts_page(&door)).await
}

fn alerts_page(door: &epms_engine::DoorState) -> AlertsPage<'_> {
    let mut groups: BTreeMap<&'static str, Vec<&epms_engine::Alert>> = BTreeMap::new();
    for a in door.alerts.values() {
        groups.entry(a.alert_type.as_str()).or_default().push(a);
    }
    AlertsPage {
        badge: door.badge(),
        open: door.open_alerts(),
        pending_suggestions: door.suggestions.len(),
        groups,
    }
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct AlertHistory {
    alerts: Vec<epms_engine::Alert>,
}

async fn alert_history(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(w): ApiQuery<HistoryWindow>,
) -> ApiResult {
    let limit = page_limit(w.limit, 100, 1_000)?;
    state.store.property(&id)?;
    reply(AlertHistory {
        alerts: state.store.alert_history(&id, limit)?,
    })
}

#[derive(Deserialize, schemars::JsonSchema)]
struct ResolveBody {
    resolution: Resolution,
}

async fn resolve_one(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, alert)): ApiPath<(String, u64)>,
    ApiJson(body): ApiJson<ResolveBody>,
) -> ApiResult {
    let now = state.now();
    let plan = mutate(&state, &id, |door| {
        resolve::resolve(door, alert, &body.resolution, &actor(&caller), now).map_err(|e| match e {
            // The alert is the path's; an account is the body's.
            ResolveError::NoSuchAccount(_) => {
                ApiError::invalid("resolution.account", e.to_string())
            }
            e => resolve_error(e),
        })
    })?;
    reply(plan_summary(&plan))
}

#[derive(Deserialize, schemars::JsonSchema)]
struct BulkItem {
    alert: u64,
    resolution: Resolution,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct BulkBody {
    #[schemars(length(max = epms_engine::resolve::MAX_BULK))]
    items: Vec<BulkItem>,
}

async fn resolve_many(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<BulkBody>,
) -> ApiResult {
    let now = state.now();
    let items: Vec<(u64, Resolution)> = body
        .items
        .into_iter()
        .map(|i| (i.alert, i.resolution))
        .collect();
    let plan = mutate(&state, &id, |door| {
        resolve::resolve_many(door, &items, &actor(&caller), now)
            .map_err(|e| named_in_body(resolve_error(e), "items"))
    })?;
    reply(plan_summary(&plan))
}
