//! The API's handlers, one module per resource. Each module lists its routes
//! (method, path, summary, who may call it, body) beside its handlers; [`endpoints`]
//! is the whole table, which the router enforces and `/openapi.json` documents.

mod alerts;
mod audit;
pub mod connectors;
mod console;
mod credentials;
mod explain;
mod people;
mod properties;
mod service;
mod suggestions;
mod syncs;
pub mod tokens;
mod units;
mod webhooks;

use epms_engine::access::AccessError;
use epms_engine::resolve::ResolveError;
use epms_engine::units_csv::UnitError;
use epms_engine::{Actor, DoorState, Plan};
use epms_store::StoreError;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::framework::Endpoint;

/// Every route of the API.
pub fn endpoints() -> Vec<Endpoint> {
    [
        service::endpoints(),
        console::endpoints(),
        connectors::installed_endpoints(),
        credentials::endpoints(),
        properties::endpoints(),
        people::endpoints(),
        explain::endpoints(),
        alerts::endpoints(),
        suggestions::endpoints(),
        units::endpoints(),
        syncs::endpoints(),
        audit::endpoints(),
        tokens::endpoints(),
        webhooks::endpoints(),
        connectors::endpoints(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// An entry of the service's audit log: what `caller` did through the API, by `rule`.
pub(super) fn service_entry(
    state: &AppState,
    caller: &Caller,
    rule: &str,
    action: &str,
    detail: String,
) -> epms_engine::AuditEntry {
    epms_engine::AuditEntry {
        at: state.now(),
        actor: actor(caller),
        action: action.to_owned(),
        rule: rule.to_owned(),
        account: None,
        pms_key: None,
        detail,
    }
}

/// Records what `caller` did through the API in the service's audit log, at once.
pub(super) fn record_service(
    state: &AppState,
    caller: &Caller,
    action: &str,
    detail: String,
) -> Result<(), ApiError> {
    state
        .store
        .record_service_event(&service_entry(state, caller, "api", action, detail))?;
    Ok(())
}

/// Applies a plan made from the current state, planning again if the state moved.
pub(super) fn mutate(
    state: &AppState,
    property: &str,
    make: impl Fn(&DoorState) -> Result<Plan, ApiError>,
) -> Result<Plan, ApiError> {
    for _ in 0..3 {
        let door = state.store.state(property)?;
        let plan = make(&door)?;
        match state.store.apply(property, &plan, None) {
            Ok(()) => return Ok(plan),
            Err(StoreError::Stale { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::conflict(
        "busy",
        "the property kept changing; try again",
    ))
}

pub(crate) fn actor(caller: &Caller) -> Actor {
    Actor::Manager(caller.0.name.clone())
}

/// What a change did, in counts.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(super) struct PlanSummary {
    accounts_created: usize,
    accounts_updated: usize,
    accounts_deleted: usize,
    alerts_changed: usize,
    grants_added: usize,
    grants_removed: usize,
    suggestions_closed: usize,
}

pub(super) fn plan_summary(plan: &Plan) -> PlanSummary {
    PlanSummary {
        accounts_created: plan.accounts_created.len(),
        accounts_updated: plan.accounts_updated.len(),
        accounts_deleted: plan.accounts_deleted.len(),
        alerts_changed: plan.alerts_opened.len() + plan.alerts_updated.len(),
        grants_added: plan.grants_added.len(),
        grants_removed: plan.grants_removed.len(),
        suggestions_closed: plan.suggestions_closed.len(),
    }
}

/// Something named in the body (not the path) does not exist: the request is what is
/// wrong (422, naming `field`), not its target (404).
pub(super) fn named_in_body(e: ApiError, field: &str) -> ApiError {
    if e.status == axum::http::StatusCode::NOT_FOUND {
        ApiError::invalid(field, e.detail)
    } else {
        e
    }
}

pub(super) fn resolve_error(e: ResolveError) -> ApiError {
    match e {
        ResolveError::NoSuchAlert(_) | ResolveError::NoSuchAccount(_) => {
            ApiError::not_found(e.to_string())
        }
        ResolveError::TooMany { .. } => ApiError::invalid("items", e.to_string()),
        ResolveError::AccountNotListed { .. } => {
            ApiError::invalid("resolution.account", e.to_string())
        }
        ResolveError::NotApplicable { .. } | ResolveError::Repeated(_) | ResolveError::NoEmail => {
            ApiError::invalid("resolution", e.to_string())
        }
        ResolveError::EmailTaken { .. } => ApiError::conflict("email-taken", e.to_string()),
    }
}

pub(super) fn access_error(e: AccessError) -> ApiError {
    match e {
        AccessError::TooMany { .. } => ApiError::invalid("ids", e.to_string()),
        AccessError::Repeated(_) => ApiError::invalid("ids", e.to_string()),
        AccessError::NoSuchSuggestion(_) | AccessError::NoSuchAccount(_) => {
            ApiError::not_found(e.to_string())
        }
    }
}

pub(super) fn unit_error(e: UnitError) -> ApiError {
    match e {
        UnitError::Rows(rows) => {
            let mut err = ApiError::invalid("rows", "some rows have errors; nothing was applied");
            err.detail = rows
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            err
        }
        UnitError::NoSuchDoorUnit(_) => ApiError::invalid("door_unit", e.to_string()),
        UnitError::NoSuchPmsUnit(_) | UnitError::NotMapped(_) => ApiError::not_found(e.to_string()),
    }
}
