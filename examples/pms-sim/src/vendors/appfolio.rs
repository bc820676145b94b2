//! AppFolio reports API v2 (docs/vendors.md, "AppFolio").
//!
//! - `POST {base}/api/v2/reports/{report}.json`, HTTP Basic `client_id:client_secret`,
//!   a JSON filter body (`{"properties":{"properties_ids":[…]}}`).
//! - Reports: `property_directory`, `unit_directory`, `tenant_directory`, `rent_roll`.
//! - Paging: `{"results":[…],"next_page_url":"/api/v2/reports/….json?…"}` (relative);
//!   POST `{}` to it until it is null. At most 5,000 rows a page; `?per_page=N` on the
//!   first request lowers it (our extension, for tests).
//! - Rate limit: 7 requests per 15 s per credential, then `429` with `Retry-After`.
//! - Errors are plain HTTP codes 400/401/404/429/500 with a short text body.
//! - Statuses: Current, Notice, Past, Future, Evict; AppFolio's directory has no
//!   applicants or cancelled leases, so the dataset drops them for this vendor.
//! - `emails` is semicolon-separated: a second address is added for some tenants
//!   (the first is the one connectors keep). Low confidence, our choice: `tenant_type`
//!   (Primary, Roommate, Occupant, Guarantor) for the household role; `unit_type` on
//!   unit rows (no building, no vacancy: the recorded unit directory has neither).
//!   As recorded: ids are integers, rent-roll dates ISO (`2026-10-31`) or `null`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use base64::Engine as _;
use epms_model::{HouseholdRole, LeaseStatus};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::SimState;
use crate::dataset::{SimCredential, SimProperty};
use crate::faults::Forced;
use crate::vendors::object;

pub const CLIENT_ID: &str = "af-client-2c71";
pub const CLIENT_SECRET: &str = "af-secret-9d04";
pub const MAX_PER_PAGE: usize = 5_000;
/// Requests allowed per window, per credential.
pub const RATE_LIMIT: (usize, Duration) = (7, Duration::from_secs(15));

pub fn default_credential() -> SimCredential {
    SimCredential {
        vendor: "appfolio".into(),
        fields: vec![
            ("client-id".into(), CLIENT_ID.into()),
            ("client-secret".into(), CLIENT_SECRET.into()),
        ],
    }
}

pub fn raw_status(status: LeaseStatus) -> &'static str {
    match status {
        LeaseStatus::Future => "Future",
        LeaseStatus::Current => "Current",
        LeaseStatus::Notice => "Notice",
        LeaseStatus::Past => "Past",
        // Not in AppFolio's vocabulary; the dataset drops such leases for this vendor.
        LeaseStatus::Applicant
        | LeaseStatus::Cancelled
        | LeaseStatus::Denied
        | LeaseStatus::Other => "Unknown",
    }
}

/// Whether AppFolio's reports carry leases of this status.
pub fn serves(status: LeaseStatus) -> bool {
    matches!(
        status,
        LeaseStatus::Future | LeaseStatus::Current | LeaseStatus::Notice | LeaseStatus::Past
    )
}

fn tenant_type(role: HouseholdRole) -> &'static str {
    match role {
        HouseholdRole::Primary => "Primary",
        HouseholdRole::CoResident => "Roommate",
        HouseholdRole::Occupant => "Occupant",
        HouseholdRole::Guarantor => "Guarantor",
        HouseholdRole::Other => "Other",
    }
}

pub fn router(state: SimState) -> Router {
    Router::new()
        .route("/api/v2/reports/{report}", post(report))
        .with_state(state)
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<usize>,
    per_page: Option<usize>,
    properties_ids: Option<String>,
}

fn plain(status: StatusCode, text: &str) -> Response {
    (status, text.to_owned()).into_response()
}

/// Counts the request against the credential's window; `Some(retry_after)` if over.
fn rate_limited(state: &SimState) -> Option<u64> {
    let mut all = state.requests.lock().unwrap_or_else(|p| p.into_inner());
    let times: &mut VecDeque<Instant> = all.entry("appfolio".into()).or_default();
    let now = Instant::now();
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= RATE_LIMIT.1)
    {
        times.pop_front();
    }
    if times.len() >= RATE_LIMIT.0 {
        let oldest = *times.front()?;
        return Some(
            RATE_LIMIT
                .1
                .saturating_sub(now.duration_since(oldest))
                .as_secs()
                .max(1),
        );
    }
    times.push_back(now);
    None
}

async fn report(
    State(state): State<SimState>,
    Path(report): Path<String>,
    Query(q): Query<PageQuery>,
    forced: Option<Extension<Forced>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let forced = forced.map(|f| f.0);
    let expected = state.read(|p| {
        p.credential("appfolio").map(|c| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    c.get("client-id").unwrap_or_default(),
                    c.get("client-secret").unwrap_or_default()
                ))
            )
        })
    });
    if forced == Some(Forced::AuthFailure)
        || expected.is_none()
        || headers.get("authorization").and_then(|v| v.to_str().ok()) != expected.as_deref()
    {
        return plain(StatusCode::UNAUTHORIZED, "HTTP Basic: Access denied.");
    }
    if state.rate_limit_enabled("appfolio")
        && let Some(retry) = rate_limited(&state)
    {
        let mut r = plain(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded");
        r.headers_mut()
            .insert("retry-after", HeaderValue::from(retry));
        return r;
    }
    let Some(name) = report.strip_suffix(".json") else {
        return plain(StatusCode::NOT_ACCEPTABLE, "Only .json reports are served.");
    };
    let filter: Value = if body.trim().is_empty() {
        json!({})
    } else {
        match serde_json::from_str(&body) {
            Ok(v) => v,
            Err(_) => return plain(StatusCode::BAD_REQUEST, "Malformed JSON body."),
        }
    };
    // The first page names the properties in the body; later pages carry them in the URL.
    let ids: Vec<String> = match &q.properties_ids {
        Some(list) => list
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        None => filter
            .pointer("/properties/properties_ids")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .or_else(|| v.as_u64().map(|n| n.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    let page = q.page.unwrap_or(1).max(1);
    let per_page = q.per_page.unwrap_or(MAX_PER_PAGE).clamp(1, MAX_PER_PAGE);
    let rows = state.read(|portfolio| {
        let props: Vec<&SimProperty> = portfolio
            .properties
            .iter()
            .filter(|p| p.vendor == "appfolio" && (ids.is_empty() || ids.contains(&p.id)))
            .collect();
        match name {
            "property_directory" => Some(
                props
                    .iter()
                    .map(|p| json!({"property_id": crate::vendors::id_value(&p.id), "property_name": p.name}))
                    .collect::<Vec<_>>(),
            ),
            "unit_directory" => Some(props.iter().flat_map(|p| unit_rows(p)).collect()),
            "tenant_directory" => Some(props.iter().flat_map(|p| tenant_rows(p)).collect()),
            "rent_roll" => Some(props.iter().flat_map(|p| rent_roll_rows(p)).collect()),
            _ => None,
        }
    });
    let Some(rows) = rows else {
        return plain(StatusCode::NOT_FOUND, "No such report.");
    };
    let rows = if forced == Some(Forced::Empty) {
        Vec::new()
    } else {
        rows
    };
    let start = ((page - 1) * per_page).min(rows.len());
    let end = (start + per_page).min(rows.len());
    let mut results = rows[start..end].to_vec();
    if forced == Some(Forced::PartialPage) {
        results.truncate(results.len() / 2);
    }
    let next = (end < rows.len()).then(|| {
        format!(
            "/api/v2/reports/{report}?page={}&per_page={per_page}&properties_ids={}",
            page + 1,
            ids.join(",")
        )
    });
    Json(object([
        ("results", Value::Array(results)),
        ("next_page_url", json!(next)),
    ]))
    .into_response()
}

fn unit_rows(p: &SimProperty) -> Vec<Value> {
    p.units
        .iter()
        .map(|u| {
            json!({
                "unit_id": crate::vendors::id_value(&u.id),
                "unit_name": u.number,
                "property_id": crate::vendors::id_value(&p.id),
                "unit_address": format!("{} Example St {}", p.id, u.number),
                "bedrooms": 1,
                "unit_type": u.floorplan,
            })
        })
        .collect()
}

/// A second address for some tenants, to exercise the semicolon list. Only after a
/// valid first address: a connector keeps the first valid one, which the ground truth
/// (the canonical record) then still describes.
fn emails(id: &str, email: Option<&str>) -> String {
    match email {
        Some(e)
            if crate::dataset::is_email(e.trim())
                && id.bytes().map(u32::from).sum::<u32>() % 5 == 0 =>
        {
            format!("{e}; {id}@alt.example.com")
        }
        Some(e) => e.to_owned(),
        None => String::new(),
    }
}

fn tenant_rows(p: &SimProperty) -> Vec<Value> {
    let idx = p.index();
    p.residents
        .iter()
        .map(|r| {
            let unit = idx.unit(r.unit_id.as_deref());
            let status = idx
                .lease(r.lease_id.as_deref())
                .map(|l| l.raw_status.clone())
                .unwrap_or_default();
            json!({
                "selected_tenant_id": crate::vendors::id_value(&r.id),
                "occupancy_id": r.lease_id.as_deref().map(crate::vendors::id_value),
                "property_id": crate::vendors::id_value(&p.id),
                "unit_id": r.unit_id.as_deref().map(crate::vendors::id_value),
                "unit": unit.map(|u| u.number.clone()),
                "first_name": r.first_name,
                "last_name": r.last_name,
                "emails": emails(&r.id, p.wire_email(r)),
                "phone_numbers": r.phone.clone().unwrap_or_default(),
                "status": status,
                "tenant_type": tenant_type(r.role),
            })
        })
        .collect()
}

fn rent_roll_rows(p: &SimProperty) -> Vec<Value> {
    let idx = p.index();
    p.leases
        .iter()
        .map(|l| {
            let unit = idx.unit(l.unit_id.as_deref());
            let primary = l.resident_ids.first().cloned().unwrap_or_default();
            json!({
                "property_id": crate::vendors::id_value(&p.id),
                "unit_id": l.unit_id.as_deref().map(crate::vendors::id_value),
                "unit": unit.map(|u| u.number.clone()),
                "building_id": unit.and_then(|u| u.building.clone()),
                "occupancy_id": crate::vendors::id_value(&l.id),
                "tenant_id": crate::vendors::id_value(&primary),
                "additional_tenant_ids": l.resident_ids.iter().skip(1).cloned().collect::<Vec<_>>().join(","),
                "status": l.raw_status,
                // ISO dates and `null`, as recorded.
                "lease_from": l.start_date,
                "lease_to": l.end_date,
                "move_in": l.move_in_date,
                "move_out": l.move_out_date,
            })
        })
        .collect()
}
