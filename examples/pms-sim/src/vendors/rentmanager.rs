//! Rent Manager 12 REST API (docs/vendors.md, "Rent Manager"), in the recordings' shape.
//!
//! - `POST {base}/Authentication/AuthorizeUser` with `{"Username","Password","LocationID"}`
//!   answers the token as a bare JSON string; every other request sends it in
//!   `X-RM12Api-ApiToken` (401 without it).
//! - `GET /Properties`, `/Units`, `/Tenants` (`embeds=Contacts`: the people of a
//!   household), `/Leases`; `filters=PropertyID,eq,N`; `pageSize` + `pageNumber`
//!   (1-based). Answers are bare JSON arrays; a page that is not the last is HTTP 206.
//! - No status on a lease: the tenant's `Status` (`Current`, `Future`, `Past`) applies;
//!   a current tenant with a lease `MoveOutDate` has given notice. `MoveOutDate` is
//!   absent (not null) until there is one, as recorded.
//! - Ids are integers; dates `YYYY-MM-DDT00:00:00`. Roles from `ApplicantType`
//!   (`Applicant`, `Occupant`, `Guarantor`) and `IsPrimary`.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use epms_model::{HouseholdRole, LeaseStatus};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::SimState;
use crate::dataset::{SimCredential, SimProperty};
use crate::faults::Forced;
use crate::vendors::id_value;

pub const USERNAME: &str = "rm-api";
pub const PASSWORD: &str = "rm-pass-41c7";
pub const LOCATION: &str = "1";
/// What a page holds at most when `pageSize` is not given.
pub const DEFAULT_PAGE_SIZE: usize = 1_000;
/// The first tenant id (tenants are numbered apart from leases).
const TENANT_BASE: u64 = 218;

pub fn default_credential() -> SimCredential {
    SimCredential {
        vendor: "rentmanager".into(),
        fields: vec![
            ("username".into(), USERNAME.into()),
            ("password".into(), PASSWORD.into()),
            ("location-id".into(), LOCATION.into()),
        ],
    }
}

pub fn raw_status(status: LeaseStatus) -> &'static str {
    match status {
        LeaseStatus::Future => "Future",
        LeaseStatus::Current | LeaseStatus::Notice => "Current",
        LeaseStatus::Past => "Past",
        LeaseStatus::Applicant
        | LeaseStatus::Cancelled
        | LeaseStatus::Denied
        | LeaseStatus::Other => "Unknown",
    }
}

/// Rent Manager's tenants are future, current (notice included) or past; prospects are
/// another entity, not read.
pub fn serves(status: LeaseStatus) -> bool {
    matches!(
        status,
        LeaseStatus::Future | LeaseStatus::Current | LeaseStatus::Notice | LeaseStatus::Past
    )
}

/// The ground truth as Rent Manager can say it: integer ids; people only on a
/// household's lease; no building, floor plan or vacancy; the tenancy's dates are the
/// lease's (move-in to move-out), a notice is a move-out date on a current tenant.
pub fn as_served(p: &mut SimProperty) {
    crate::dataset::numbered_ids(p, true, true, true, 224);
    for u in &mut p.units {
        u.building = None;
        u.floorplan = None;
        u.vacant = None;
    }
    let units: HashMap<String, Option<String>> = p
        .leases
        .iter()
        .map(|l| (l.id.clone(), l.unit_id.clone()))
        .collect();
    p.residents
        .retain(|r| r.lease_id.as_ref().is_some_and(|l| units.contains_key(l)));
    for r in &mut p.residents {
        r.unit_id = r.lease_id.as_ref().and_then(|l| units[l].clone());
        if r.role == HouseholdRole::Other {
            r.role = HouseholdRole::CoResident;
        }
    }
    let people: std::collections::HashSet<String> =
        p.residents.iter().map(|r| r.id.clone()).collect();
    for (i, l) in p.leases.iter_mut().enumerate() {
        l.resident_ids.retain(|id| people.contains(id));
        match l.status {
            LeaseStatus::Current => l.move_out_date = None,
            LeaseStatus::Notice if l.move_out_date.is_none() => {
                l.move_out_date = Some(format!("2031-{:02}-28", 1 + i % 12));
            }
            _ => {}
        }
        l.start_date = l.move_in_date.clone();
        l.end_date = l.move_out_date.clone();
    }
}

fn token() -> String {
    format!("rm12-session-{LOCATION}")
}

pub fn router(state: SimState) -> Router {
    Router::new()
        .route("/Authentication/AuthorizeUser", post(authorize))
        .route("/{resource}", get(resource))
        .with_state(state)
}

fn text(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"UserMessage": message}))).into_response()
}

async fn authorize(
    State(state): State<SimState>,
    forced: Option<Extension<Forced>>,
    body: String,
) -> Response {
    let expected = state.read(|p| {
        p.credential("rentmanager").map(|c| {
            (
                c.get("username").unwrap_or_default().to_owned(),
                c.get("password").unwrap_or_default().to_owned(),
                c.get("location-id").unwrap_or_default().to_owned(),
            )
        })
    });
    let given: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let field = |k: &str| match &given[k] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let ok = expected.is_some_and(|(u, p, l)| {
        field("Username") == u && field("Password") == p && field("LocationID") == l
    });
    if !ok || forced.map(|f| f.0) == Some(Forced::AuthFailure) {
        return text(StatusCode::UNAUTHORIZED, "Invalid username or password");
    }
    Json(Value::from(token())).into_response()
}

fn signed_in(headers: &HeaderMap) -> bool {
    headers
        .get("x-rm12api-apitoken")
        .and_then(|v| v.to_str().ok())
        == Some(token().as_str())
}

#[derive(Deserialize)]
struct ListQuery {
    filters: Option<String>,
    #[serde(rename = "pageSize")]
    page_size: Option<usize>,
    #[serde(rename = "pageNumber")]
    page_number: Option<usize>,
}

async fn resource(
    State(state): State<SimState>,
    axum::extract::Path(resource): axum::extract::Path<String>,
    Query(q): Query<ListQuery>,
    forced: Option<Extension<Forced>>,
    headers: HeaderMap,
) -> Response {
    let forced = forced.map(|f| f.0);
    if !signed_in(&headers) || forced == Some(Forced::AuthFailure) {
        return text(StatusCode::UNAUTHORIZED, "Invalid API token");
    }
    // `PropertyID,eq,N` is the one filter the connector sends.
    let property = q
        .filters
        .as_deref()
        .and_then(|f| f.strip_prefix("PropertyID,eq,"))
        .map(str::to_owned);
    let size = q.page_size.unwrap_or(DEFAULT_PAGE_SIZE).max(1);
    let page = q.page_number.unwrap_or(1).max(1);
    // Only the requested page's rows are built: building every row for each page made
    // a 5,000-unit read quadratic (the simulator must never be what a bench measures).
    let answer = state.read(|portfolio| {
        let (row, count): (Row, fn(&SimProperty) -> usize) = match resource.as_str() {
            "Properties" => (property_row, |_| 1),
            "Units" => (unit_row, |p| p.units.len()),
            "Tenants" => (tenant_row, |p| p.leases.len()),
            "Leases" => (lease_row, |p| p.leases.len()),
            _ => return None,
        };
        // The filter narrows a property's resources; the property list is whole.
        let listed = |p: &&SimProperty| {
            p.vendor == "rentmanager"
                && (resource == "Properties" || property.as_ref().is_none_or(|id| *id == p.id))
        };
        let mut positions: Vec<(&SimProperty, usize)> = portfolio
            .properties
            .iter()
            .filter(listed)
            .flat_map(|p| (0..count(p)).map(move |i| (p, i)))
            .collect();
        if forced == Some(Forced::Empty) {
            positions.clear();
        }
        Some(paged(&positions, size, page, row))
    });
    let Some((mut records, more)) = answer else {
        return text(
            StatusCode::NOT_FOUND,
            &format!("No such resource {resource:?}"),
        );
    };
    if forced == Some(Forced::PartialPage) {
        records.truncate(records.len() / 2);
    }
    let status = if more {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    (status, Json(records)).into_response()
}

/// One row of a resource: the property itself, or its `i`th unit or lease.
type Row = fn(&SimProperty, usize) -> Value;

/// Page `page` of `size` rows, only those built, and whether more rows follow.
fn paged(
    positions: &[(&SimProperty, usize)],
    size: usize,
    page: usize,
    row: Row,
) -> (Vec<Value>, bool) {
    let total = positions.len();
    let start = page.saturating_sub(1).saturating_mul(size).min(total);
    let end = start.saturating_add(size).min(total);
    let rows = positions[start..end]
        .iter()
        .map(|(p, i)| row(p, *i))
        .collect();
    (rows, end < total)
}

fn property_row(p: &SimProperty, _: usize) -> Value {
    json!({"PropertyID": id_value(&p.id), "Name": p.name})
}

fn when(date: &Option<String>) -> Option<String> {
    date.as_ref().map(|d| format!("{d}T00:00:00"))
}

fn unit_row(p: &SimProperty, i: usize) -> Value {
    let u = &p.units[i];
    json!({
        "UnitID": id_value(&u.id), "PropertyID": id_value(&p.id), "Name": u.number,
        "Comment": "", "UnitTypeID": 3, "SortOrder": i + 1,
        "CreateDate": "2017-10-15T17:31:43", "CreateUserID": 1,
        "UpdateDate": "2017-10-15T17:31:43", "UpdateUserID": 1,
    })
}

fn applicant_type(role: HouseholdRole) -> &'static str {
    match role {
        HouseholdRole::Occupant => "Occupant",
        HouseholdRole::Guarantor => "Guarantor",
        _ => "Applicant",
    }
}

fn tenant_row(p: &SimProperty, i: usize) -> Value {
    let l = &p.leases[i];
    let people = p.index();
    let household: Vec<&epms_model::Resident> = l
        .resident_ids
        .iter()
        .filter_map(|id| people.resident(id))
        .collect();
    let contacts: Vec<Value> = household
        .iter()
        .map(|r| {
            let phones: Vec<Value> = r
                .phone
                .iter()
                .map(|phone| {
                    json!({"PhoneNumberTypeID": 1, "PhoneNumber": phone, "Extension": "",
                    "StrippedPhoneNumber": phone.chars().filter(char::is_ascii_digit).collect::<String>(),
                    "IsPrimary": true, "ParentType": "Contact"})
                })
                .collect();
            json!({
                "ContactID": id_value(&r.id), "FirstName": r.first_name, "LastName": r.last_name,
                "MiddleName": "", "IsPrimary": r.role == HouseholdRole::Primary,
                "Email": p.wire_email(r).unwrap_or_default(), "ApplicantType": applicant_type(r.role),
                "ParentType": "Tenant", "PhoneNumbers": phones, "Addresses": [],
            })
        })
        .collect();
    // The household's name, as recorded ("A & B Surname" style).
    let name = household
        .iter()
        .map(|r| format!("{} {}", r.first_name, r.last_name))
        .collect::<Vec<_>>()
        .join(" & ");
    let mut row = json!({
        "TenantID": TENANT_BASE + i as u64, "TenantDisplayID": i + 1, "Name": name,
        "Comment": "", "RentDueDay": 1, "RentPeriod": "Monthly", "PropertyID": id_value(&p.id),
        "PostingStartDate": when(&l.move_in_date), "Status": l.raw_status,
        // As recorded: the primary contact again, without its addresses.
        "PrimaryContact": contacts.first().map(|c| {
            let mut c = c.clone();
            if let Some(o) = c.as_object_mut() {
                o.remove("Addresses");
            }
            c
        }),
        "Contacts": contacts,
    });
    if let Some(out) = when(&l.move_out_date) {
        row["PostingEndDate"] = json!(out);
    }
    row
}

fn lease_row(p: &SimProperty, i: usize) -> Value {
    let l = &p.leases[i];
    let mut row = json!({
        "LeaseID": id_value(&l.id), "TenantID": TENANT_BASE + i as u64,
        "UnitID": l.unit_id.as_deref().map(id_value), "PropertyID": id_value(&p.id),
        "SortOrder": i + 1, "CreateDate": "2017-10-15T17:33:54",
    });
    // Absent, not null, when there is none (as recorded).
    if let Some(d) = when(&l.move_in_date) {
        row["MoveInDate"] = json!(d);
    }
    if let Some(d) = when(&l.move_out_date) {
        row["MoveOutDate"] = json!(d);
    }
    row
}
