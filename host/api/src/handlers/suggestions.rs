//! Access suggestions (grant, revoke, no change): listed, approved, discarded.

use axum::extract::State;
use axum::routing::{delete, get, post};
use epms_engine::access;
use serde::Deserialize;

use super::audit::HistoryWindow;
use super::{PlanSummary, access_error, actor, mutate, named_in_body, plan_summary};
use crate::AppState;
use crate::auth::Caller;
use crate::framework::{
    Access, ApiJson, ApiPath, ApiQuery, ApiResult, Endpoint, endpoint, kept_reply, page_limit,
    reply,
};

pub(super) fn endpoints() -> Vec<Endpoint> {
    use Access::*;
    let list = vec![
        endpoint(
            "get",
            "/api/v1/properties/{id}/suggestions",
            "Access suggestions: grant, revoke, no change",
            Property,
            get(suggestions),
        )
        .query::<SuggestionWindow>()
        .returns::<Suggestions>(),
        endpoint(
            "get",
            "/api/v1/properties/{id}/suggestions/history",
            "Suggestions that left the list, newest first, each with its outcome (approved, discarded, superseded, held, withdrawn)",
            Property,
            get(suggestion_history),
        )
        .query::<HistoryWindow>()
        .returns::<SuggestionHistory>(),
        endpoint(
            "post",
            "/api/v1/properties/{id}/suggestions/approve",
            "Approve up to 50 suggestions",
            Property,
            post(approve),
        )
        .json_body::<ApproveBody>()
        .returns::<PlanSummary>(),
        endpoint(
            "delete",
            "/api/v1/properties/{id}/suggestions/{sid}",
            "Discard a suggestion",
            Property,
            delete(discard),
        )
        .numeric(&["sid"])
        .returns::<PlanSummary>(),
    ];
    list
}

#[derive(Deserialize, schemars::JsonSchema)]
struct SuggestionWindow {
    /// Suggestions to skip, in id order (default 0).
    offset: Option<usize>,
    /// Suggestions in the page (absent: all of them).
    #[schemars(range(min = 1, max = 100000))]
    limit: Option<usize>,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Suggestions<'a> {
    suggestions: Vec<&'a epms_engine::Suggestion>,
    /// Every pending suggestion, whatever the page.
    total: usize,
    next_offset: Option<usize>,
}

async fn suggestions(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(w): ApiQuery<SuggestionWindow>,
) -> ApiResult {
    let door = state.store.state(&id)?;
    let total = door.suggestions.len();
    let limit = match w.limit {
        Some(_) => page_limit(w.limit, 100, 100_000)?,
        None => total,
    };
    let offset = w.offset.unwrap_or(0);
    // Rendered once per state: without a limit this is every pending suggestion (a
    // first sync in Approval Required mode proposes thousands).
    let request = format!("suggestions {offset} {limit}");
    kept_reply(&state, &id, &request, &door, || {
        let page: Vec<&epms_engine::Suggestion> =
            door.suggestions.values().skip(offset).take(limit).collect();
        let next = offset.saturating_add(page.len());
        Suggestions {
            suggestions: page,
            total,
            next_offset: (next < total).then_some(next),
        }
    })
    .await
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct SuggestionHistory {
    suggestions: Vec<epms_store::ClosedSuggestion>,
}

async fn suggestion_history(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(w): ApiQuery<HistoryWindow>,
) -> ApiResult {
    let limit = page_limit(w.limit, 100, 1_000)?;
    state.store.property(&id)?;
    reply(SuggestionHistory {
        suggestions: state.store.suggestion_history(&id, limit)?,
    })
}

#[derive(Deserialize, schemars::JsonSchema)]
#[schemars(example = serde_json::json!({"ids": [1, 2]}))]
struct ApproveBody {
    /// Suggestion ids, each once.
    #[schemars(length(max = access::MAX_APPROVE), extend("uniqueItems" = true))]
    ids: Vec<u64>,
}

async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ApproveBody>,
) -> ApiResult {
    let now = state.now();
    let plan = mutate(&state, &id, |door| {
        access::approve(door, &body.ids, &actor(&caller), now)
            .map_err(|e| named_in_body(access_error(e), "ids"))
    })?;
    reply(plan_summary(&plan))
}

async fn discard(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, sid)): ApiPath<(String, u64)>,
) -> ApiResult {
    let now = state.now();
    let plan = mutate(&state, &id, |door| {
        access::discard(door, sid, &actor(&caller), now).map_err(access_error)
    })?;
    reply(plan_summary(&plan))
}
