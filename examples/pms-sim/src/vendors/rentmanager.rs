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
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::SimState;
use crate::dataset::{SimCredential, SimProperty};
use crate::faults::Forced;
use crate::vendors::{WireId, zero_or_one};

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
        // The filter narrows a property's resources; the property list is whole.
        let positions = |count: fn(&SimProperty) -> usize| -> Vec<(&SimProperty, usize)> {
            if forced == Some(Forced::Empty) {
                return Vec::new();
            }
            portfolio
                .properties
                .iter()
                .filter(|p| {
                    p.vendor == "rentmanager"
                        && (resource == "Properties"
                            || property.as_ref().is_none_or(|id| *id == p.id))
                })
                .flat_map(|p| (0..count(p)).map(move |i| (p, i)))
                .collect()
        };
        let listing = Listing {
            size,
            page,
            partial: forced == Some(Forced::PartialPage),
        };
        Some(match resource.as_str() {
            "Properties" => listing.answer(&positions(|_| 1), |p, _| PropertyRow {
                property_id: WireId(&p.id),
                name: &p.name,
            }),
            "Units" => listing.answer(&positions(|p| p.units.len()), unit_row),
            "Tenants" => listing.answer(&positions(|p| p.leases.len()), tenant_row),
            "Leases" => listing.answer(&positions(|p| p.leases.len()), lease_row),
            _ => return None,
        })
    });
    answer.unwrap_or_else(|| {
        text(
            StatusCode::NOT_FOUND,
            &format!("No such resource {resource:?}"),
        )
    })
}

/// The paging of a request: page `page` of `size` rows.
struct Listing {
    size: usize,
    page: usize,
    partial: bool,
}

impl Listing {
    /// The page's rows (only those rendered, serialised straight from borrowed
    /// records); HTTP 206 when more rows follow.
    fn answer<'p, R: Serialize>(
        &self,
        positions: &[(&'p SimProperty, usize)],
        row: impl Fn(&'p SimProperty, usize) -> R,
    ) -> Response {
        let total = positions.len();
        let start = self
            .page
            .saturating_sub(1)
            .saturating_mul(self.size)
            .min(total);
        let end = start.saturating_add(self.size).min(total);
        let mut rows: Vec<R> = positions[start..end]
            .iter()
            .map(|(p, i)| row(p, *i))
            .collect();
        if self.partial {
            rows.truncate(rows.len() / 2);
        }
        let status = if end < total {
            StatusCode::PARTIAL_CONTENT
        } else {
            StatusCode::OK
        };
        super::json_answer(status, &rows, rows.len())
    }
}

/// A date as Rent Manager writes it: `YYYY-MM-DDT00:00:00`.
struct When<'a>(&'a str);

impl Serialize for When<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{}T00:00:00", self.0))
    }
}

fn when(date: &Option<String>) -> Option<When<'_>> {
    date.as_deref().map(When)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PropertyRow<'a> {
    #[serde(rename = "PropertyID")]
    property_id: WireId<'a>,
    name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct UnitRow<'a> {
    #[serde(rename = "UnitID")]
    unit_id: WireId<'a>,
    #[serde(rename = "PropertyID")]
    property_id: WireId<'a>,
    name: &'a str,
    comment: &'static str,
    #[serde(rename = "UnitTypeID")]
    unit_type_id: u32,
    sort_order: usize,
    create_date: &'static str,
    #[serde(rename = "CreateUserID")]
    create_user_id: u32,
    update_date: &'static str,
    #[serde(rename = "UpdateUserID")]
    update_user_id: u32,
}

fn unit_row(p: &SimProperty, i: usize) -> UnitRow<'_> {
    let u = &p.units[i];
    UnitRow {
        unit_id: WireId(&u.id),
        property_id: WireId(&p.id),
        name: &u.number,
        comment: "",
        unit_type_id: 3,
        sort_order: i + 1,
        create_date: "2017-10-15T17:31:43",
        create_user_id: 1,
        update_date: "2017-10-15T17:31:43",
        update_user_id: 1,
    }
}

fn applicant_type(role: HouseholdRole) -> &'static str {
    match role {
        HouseholdRole::Occupant => "Occupant",
        HouseholdRole::Guarantor => "Guarantor",
        _ => "Applicant",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TenantRow<'a> {
    #[serde(rename = "TenantID")]
    tenant_id: u64,
    #[serde(rename = "TenantDisplayID")]
    tenant_display_id: usize,
    name: String,
    comment: &'static str,
    rent_due_day: u32,
    rent_period: &'static str,
    #[serde(rename = "PropertyID")]
    property_id: WireId<'a>,
    posting_start_date: Option<When<'a>>,
    status: &'a str,
    /// As recorded: the primary contact again, without its addresses.
    primary_contact: Option<Contact<'a>>,
    contacts: Vec<Contact<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    posting_end_date: Option<When<'a>>,
}

#[derive(Serialize, Clone, Copy)]
#[serde(rename_all = "PascalCase")]
struct Contact<'a> {
    #[serde(rename = "ContactID")]
    contact_id: WireId<'a>,
    first_name: &'a str,
    last_name: &'a str,
    middle_name: &'static str,
    is_primary: bool,
    email: &'a str,
    applicant_type: &'static str,
    parent_type: &'static str,
    #[serde(serialize_with = "zero_or_one")]
    phone_numbers: Option<ContactPhone<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    addresses: Option<[(); 0]>,
}

#[derive(Serialize, Clone, Copy)]
#[serde(rename_all = "PascalCase")]
struct ContactPhone<'a> {
    #[serde(rename = "PhoneNumberTypeID")]
    phone_number_type_id: u32,
    phone_number: &'a str,
    extension: &'static str,
    stripped_phone_number: Digits<'a>,
    is_primary: bool,
    parent_type: &'static str,
}

/// The digits of a phone number, written as a string.
#[derive(Clone, Copy)]
struct Digits<'a>(&'a str);

impl Serialize for Digits<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let digits: String = self.0.chars().filter(char::is_ascii_digit).collect();
        serializer.serialize_str(&digits)
    }
}

fn tenant_row(p: &SimProperty, i: usize) -> TenantRow<'_> {
    let l = &p.leases[i];
    let people = p.index();
    let household: Vec<&epms_model::Resident> = l
        .resident_ids
        .iter()
        .filter_map(|id| people.resident(id))
        .collect();
    let contacts: Vec<Contact> = household
        .iter()
        .map(|r| Contact {
            contact_id: WireId(&r.id),
            first_name: &r.first_name,
            last_name: &r.last_name,
            middle_name: "",
            is_primary: r.role == HouseholdRole::Primary,
            email: p.wire_email(r).unwrap_or_default(),
            applicant_type: applicant_type(r.role),
            parent_type: "Tenant",
            phone_numbers: r.phone.as_deref().map(|phone| ContactPhone {
                phone_number_type_id: 1,
                phone_number: phone,
                extension: "",
                stripped_phone_number: Digits(phone),
                is_primary: true,
                parent_type: "Contact",
            }),
            addresses: Some([]),
        })
        .collect();
    // The household's name, as recorded ("A & B Surname" style).
    let name = household
        .iter()
        .map(|r| format!("{} {}", r.first_name, r.last_name))
        .collect::<Vec<_>>()
        .join(" & ");
    TenantRow {
        tenant_id: TENANT_BASE + i as u64,
        tenant_display_id: i + 1,
        name,
        comment: "",
        rent_due_day: 1,
        rent_period: "Monthly",
        property_id: WireId(&p.id),
        posting_start_date: when(&l.move_in_date),
        status: &l.raw_status,
        primary_contact: contacts.first().map(|c| Contact {
            addresses: None,
            ..*c
        }),
        contacts,
        posting_end_date: when(&l.move_out_date),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct LeaseRow<'a> {
    #[serde(rename = "LeaseID")]
    lease_id: WireId<'a>,
    #[serde(rename = "TenantID")]
    tenant_id: u64,
    #[serde(rename = "UnitID")]
    unit_id: Option<WireId<'a>>,
    #[serde(rename = "PropertyID")]
    property_id: WireId<'a>,
    sort_order: usize,
    create_date: &'static str,
    // Absent, not null, when there is none (as recorded).
    #[serde(skip_serializing_if = "Option::is_none")]
    move_in_date: Option<When<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    move_out_date: Option<When<'a>>,
}

fn lease_row(p: &SimProperty, i: usize) -> LeaseRow<'_> {
    let l = &p.leases[i];
    LeaseRow {
        lease_id: WireId(&l.id),
        tenant_id: TENANT_BASE + i as u64,
        unit_id: l.unit_id.as_deref().map(WireId),
        property_id: WireId(&p.id),
        sort_order: i + 1,
        create_date: "2017-10-15T17:33:54",
        move_in_date: when(&l.move_in_date),
        move_out_date: when(&l.move_out_date),
    }
}
