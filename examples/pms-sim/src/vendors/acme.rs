//! "Acme PMS": the made-up JSON API that `examples/connector-template` speaks (see
//! its crate docs for the wire format).

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use epms_model::{HouseholdRole, LeaseStatus};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::SimState;
use crate::dataset::SimCredential;

pub const TOKEN: &str = "acme-secret-token-0001";

pub fn default_credential() -> SimCredential {
    SimCredential {
        vendor: "acme".into(),
        fields: vec![("api-token".into(), TOKEN.into())],
    }
}

pub fn raw_status(status: LeaseStatus) -> &'static str {
    match status {
        LeaseStatus::Applicant => "applicant",
        LeaseStatus::Future => "future",
        LeaseStatus::Current => "current",
        LeaseStatus::Notice => "notice",
        LeaseStatus::Past => "past",
        LeaseStatus::Cancelled => "cancelled",
        LeaseStatus::Denied => "denied",
        LeaseStatus::Other => "other",
    }
}

fn role(r: HouseholdRole) -> &'static str {
    match r {
        HouseholdRole::Primary => "primary",
        HouseholdRole::CoResident => "co-resident",
        HouseholdRole::Occupant => "occupant",
        HouseholdRole::Guarantor => "guarantor",
        HouseholdRole::Other => "other",
    }
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<usize>,
    per_page: Option<usize>,
}

const DEFAULT_PER_PAGE: usize = 100;

pub fn router(state: SimState) -> Router {
    Router::new()
        .route("/api/properties", get(properties))
        .route("/api/properties/{id}/{what}", get(records))
        .with_state(state)
}

fn authorized(state: &SimState, headers: &HeaderMap) -> bool {
    let expected = state.read(|p| {
        p.credential("acme")
            .and_then(|c| c.get("api-token"))
            .map(|t| format!("Bearer {t}"))
    });
    let given = headers.get("authorization").and_then(|v| v.to_str().ok());
    expected.is_some() && given == expected.as_deref()
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": "invalid token"})),
    )
        .into_response()
}

async fn properties(State(state): State<SimState>, headers: HeaderMap) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let list: Vec<Value> = state.read(|p| {
        p.properties
            .iter()
            .filter(|p| p.vendor == "acme")
            .map(|p| json!({"id": p.id, "name": p.name}))
            .collect()
    });
    Json(json!({ "properties": list })).into_response()
}

async fn records(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((id, what)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let page = q.page.unwrap_or(1).max(1);
    let per_page = q.per_page.unwrap_or(DEFAULT_PER_PAGE).clamp(1, 1000);
    let body = state.read(|p| {
        let prop = p.property("acme", &id)?;
        // Only the page's records become JSON: a whole-property conversion per page
        // made reading a large property quadratic.
        fn window<T>(all: &[T], page: usize, per_page: usize) -> (&[T], bool) {
            let start = ((page - 1) * per_page).min(all.len());
            let end = (start + per_page).min(all.len());
            (&all[start..end], end < all.len())
        }
        let (items, more): (Vec<Value>, bool) = match what.as_str() {
            "units" => {
                let (units, more) = window(&prop.units, page, per_page);
                (units
                    .iter()
                    .map(|u| json!({"id": u.id, "number": u.number, "building": u.building, "floorplan": u.floorplan, "vacant": u.vacant}))
                    .collect(), more)
            }
            "residents" => {
                let (residents, more) = window(&prop.residents, page, per_page);
                (residents
                    .iter()
                    .map(|r| json!({"id": r.id, "lease_id": r.lease_id, "unit_id": r.unit_id, "first_name": r.first_name,
                        "last_name": r.last_name, "email": prop.wire_email(r), "phone": r.phone, "role": role(r.role)}))
                    .collect(), more)
            }
            "leases" => {
                let (leases, more) = window(&prop.leases, page, per_page);
                (leases
                    .iter()
                    .map(|l| json!({"id": l.id, "unit_id": l.unit_id, "resident_ids": l.resident_ids, "status": l.raw_status,
                        "start_date": l.start_date, "end_date": l.end_date, "move_in": l.move_in_date, "move_out": l.move_out_date}))
                    .collect(), more)
            }
            _ => return None,
        };
        let next = more.then_some(page + 1);
        Some(json!({ what.as_str(): items, "next_page": next }))
    });
    match body {
        Some(b) => Json(b).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "no such property or collection"})),
        )
            .into_response(),
    }
}
