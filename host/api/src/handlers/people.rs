//! People (DOOR accounts with their PMS links and access), a page at a time; a
//! manual status change; accounts made and deleted by hand.

use std::collections::HashMap;

use axum::extract::State;
use axum::routing::{delete, get, post};
use epms_engine::access;
use epms_engine::accounts;
use epms_engine::resolve;
use epms_model::DoorStatus;
use serde::Deserialize;

use super::{PlanSummary, access_error, actor, mutate, plan_summary, resolve_error};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::framework::{
    Access, ApiJson, ApiPath, ApiQuery, ApiResult, Endpoint, created, endpoint, kept_reply,
    page_limit, reply,
};

pub(super) fn endpoints() -> Vec<Endpoint> {
    use Access::*;
    let list = vec![
        endpoint(
            "get",
            "/api/v1/properties/{id}/people",
            "People with status, unit, source and link",
            Property,
            get(people),
        )
        .query::<Page>()
        .returns::<PeoplePage>(),
        endpoint(
            "post",
            "/api/v1/properties/{id}/people/{account}/status",
            "Change a person's status by hand",
            Property,
            post(manual_status),
        )
        .numeric(&["account"])
        .json_body::<StatusChange>()
        .returns::<PlanSummary>(),
        endpoint(
            "post",
            "/api/v1/properties/{id}/accounts",
            "Create a DOOR account by hand (matched against PMS residents by the next sync)",
            Property,
            post(create_account),
        )
        .json_body::<accounts::NewAccount>()
        .creates::<CreatedAccount>(),
        endpoint(
            "delete",
            "/api/v1/properties/{id}/accounts/{account}",
            "Delete a DOOR account",
            Property,
            delete(delete_account),
        )
        .numeric(&["account"])
        .returns::<PlanSummary>(),
    ];
    list
}

#[derive(Deserialize, schemars::JsonSchema)]
struct Page {
    /// Text in the name or email (any case).
    #[schemars(length(max = 200))]
    q: Option<String>,
    /// Only people with this status.
    status: Option<DoorStatus>,
    /// Only people from this source.
    source: Option<epms_engine::AccountSource>,
    /// People to skip (default 0).
    offset: Option<usize>,
    /// People in the page (default 100).
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<usize>,
}

/// People, in account order, a page at a time (default 100, at most 1,000), filtered
/// by text, status and source; `total` counts the people the filters keep.
async fn people(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult {
    let limit = page_limit(page.limit, 100, 1_000)?;
    let offset = page.offset.unwrap_or(0);
    let needle = match page.q.as_deref().map(str::trim) {
        Some(q) if q.chars().count() > 200 => {
            return Err(ApiError::invalid("q", "at most 200 characters"));
        }
        Some(q) => q.to_lowercase(),
        None => String::new(),
    };
    let door = state.store.state(&id)?;
    // The same page of the same state is the same answer: rendered once per state.
    let request = format!(
        "people {needle:?} {:?} {:?} {offset} {limit}",
        page.status, page.source
    );
    kept_reply(&state, &id, &request, &door, || {
        people_page(&door, &page, &needle, offset, limit)
    })
    .await
}

/// The page of people the filters keep, from `offset`.
fn people_page<'a>(
    door: &'a epms_engine::DoorState,
    page: &Page,
    needle: &str,
    offset: usize,
    limit: usize,
) -> PeoplePage<'a> {
    let kept = |a: &&epms_engine::Account| {
        page.status.is_none_or(|s| a.status == Some(s))
            && page.source.is_none_or(|s| a.source == s)
            && (needle.is_empty()
                || format!("{} {}", a.first_name, a.last_name)
                    .to_lowercase()
                    .contains(needle)
                || a.email
                    .as_deref()
                    .is_some_and(|e| e.to_lowercase().contains(needle)))
    };
    let filtered = page.status.is_some() || page.source.is_some() || !needle.is_empty();
    let total = if filtered {
        door.accounts.values().filter(kept).count()
    } else {
        door.accounts.len()
    };
    let accounts: Vec<&epms_engine::Account> = door
        .accounts
        .values()
        .filter(kept)
        .skip(offset)
        .take(limit)
        .collect();
    // The page's PMS keys, in one pass over the links.
    let mut keys: HashMap<u64, Vec<String>> = accounts.iter().map(|a| (a.id, Vec::new())).collect();
    for (key, account) in &door.links {
        if let Some(list) = keys.get_mut(account) {
            list.push(key.to_string());
        }
    }
    let mut views = access::access_views(door, accounts.iter().map(|a| a.id));
    let people: Vec<PersonView> = accounts
        .into_iter()
        .map(|a| {
            let pms_keys = keys.remove(&a.id).unwrap_or_default();
            PersonView {
                account: a,
                linked: !pms_keys.is_empty(),
                pms_keys,
                access: views.remove(&a.id),
            }
        })
        .collect();
    let next = offset.saturating_add(people.len());
    PeoplePage {
        total,
        next_offset: (next < total).then_some(next),
        people,
    }
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct PersonView<'a> {
    account: &'a epms_engine::Account,
    linked: bool,
    pms_keys: Vec<String>,
    access: Option<access::AccessView<'a>>,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct PeoplePage<'a> {
    people: Vec<PersonView<'a>>,
    total: usize,
    next_offset: Option<usize>,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct StatusChange {
    status: DoorStatus,
}

async fn manual_status(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, account)): ApiPath<(String, u64)>,
    ApiJson(body): ApiJson<StatusChange>,
) -> ApiResult {
    let settings = state.store.property(&id)?.settings;
    let now = state.now();
    let plan = mutate(&state, &id, |door| {
        access::manual_status(
            door,
            &settings.access,
            account,
            body.status,
            &actor(&caller),
            now,
        )
        .map_err(access_error)
    })?;
    reply(plan_summary(&plan))
}

async fn create_account(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<accounts::NewAccount>,
) -> ApiResult {
    let now = state.now();
    let plan = mutate(&state, &id, |door| {
        accounts::plan_create_account(door, &body, &actor(&caller), now).map_err(|e| match e {
            accounts::AccountError::EmailTaken { .. } => {
                ApiError::conflict("email-taken", e.to_string())
            }
            _ => ApiError::invalid(e.field(), e.to_string()),
        })
    })?;
    created(CreatedAccount {
        account: plan.accounts_created.into_iter().next(),
    })
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct CreatedAccount {
    account: Option<epms_engine::Account>,
}

async fn delete_account(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, account)): ApiPath<(String, u64)>,
) -> ApiResult {
    let now = state.now();
    let plan = mutate(&state, &id, |door| {
        resolve::delete_account(door, account, &actor(&caller), now).map_err(resolve_error)
    })?;
    reply(plan_summary(&plan))
}
