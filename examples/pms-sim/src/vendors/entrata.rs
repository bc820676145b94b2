//! Entrata: JSON-RPC-style POSTs (docs/vendors.md, "Entrata").
//!
//! - `POST {base}/ext/orgs/{subdomain}/v1/{service}` with `X-Api-Key` and
//!   `"auth":{"type":"apikey"}`, or the legacy `POST {base}/api/v1/{service}` with
//!   HTTP Basic and `"auth":{"type":"basic"}`. Body:
//!   `{"auth":…,"requestId":…,"method":{"name":…,"version":…,"params":{…}}}`.
//! - Services: `properties` (getProperties), `customers` (getCustomers), `leases`
//!   (getLeases r2), `propertyunits` (getPropertyUnits).
//! - Paging (low confidence, our choice): `?page_no=N&per_page=M` on customers,
//!   leases and units; the answer carries `response.meta{currentPage, lastPage,
//!   perPage, total}`.
//! - Errors: `{"response":{"requestId":…,"error":{"code":N,"message":…}}}`; we send the
//!   same code as the HTTP status (401 auth, 400 bad request, 404 unknown property).
//!   No data is `code: 200` with `result: {"success":"No Records Found."}` (recorded).
//! - Rate-limit headers on every answer: `x-ratelimit-limit/-remaining/-reset` as
//!   `day;hour;minute`.
//! - Statuses: `leaseStatusTypeId` 1 Applicant, 2 Cancelled, 3 Future, 4 Current,
//!   5 Notice, 6 Past; as recorded, the id is a string (`"4"`) and the name appears only
//!   as `leaseIntervalStatus` and each customer's `leaseCustomerStatus`.
//!   `customerType`: Primary, Responsible (co-resident), Occupant, Guarantor.
//!   Dates `MM/DD/YYYY`. Unit vacancy (our choice): `unitStatus` Vacant/Occupied.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use base64::Engine as _;
use epms_model::{HouseholdRole, LeaseStatus};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::SimState;
use crate::dataset::{PropertyIndex, SimCredential, SimProperty};
use crate::faults::Forced;
use crate::vendors::{UsDate, WireId, us_date, zero_or_one};

pub const API_KEY: &str = "entrata-key-7f3a";
pub const USERNAME: &str = "epms-integration";
pub const PASSWORD: &str = "entrata-pass-19";
pub const SUBDOMAIN: &str = "demo";
pub const DEFAULT_PER_PAGE: usize = 500;

pub fn default_credential() -> SimCredential {
    SimCredential {
        vendor: "entrata".into(),
        fields: vec![
            ("subdomain".into(), SUBDOMAIN.into()),
            ("username".into(), USERNAME.into()),
            ("password".into(), PASSWORD.into()),
            ("api-key".into(), API_KEY.into()),
        ],
    }
}

/// The lease status type id (as the recordings write it, a string) and its name.
pub fn status_type(status: LeaseStatus) -> (&'static str, &'static str) {
    match status {
        LeaseStatus::Applicant => ("1", "Applicant"),
        LeaseStatus::Cancelled | LeaseStatus::Denied => ("2", "Cancelled"),
        LeaseStatus::Future => ("3", "Future"),
        LeaseStatus::Current => ("4", "Current"),
        LeaseStatus::Notice => ("5", "Notice"),
        LeaseStatus::Past | LeaseStatus::Other => ("6", "Past"),
    }
}

pub fn raw_status(status: LeaseStatus) -> &'static str {
    status_type(status).1
}

fn customer_type(role: HouseholdRole) -> &'static str {
    match role {
        HouseholdRole::Primary => "Primary",
        HouseholdRole::CoResident => "Responsible",
        HouseholdRole::Occupant => "Occupant",
        HouseholdRole::Guarantor => "Guarantor",
        HouseholdRole::Other => "Other",
    }
}

pub fn router(state: SimState) -> Router {
    Router::new()
        .route("/api/v1/{service}", post(legacy))
        .route("/ext/orgs/{subdomain}/v1/{service}", post(modern))
        .with_state(state)
}

#[derive(Deserialize)]
struct Paging {
    page_no: Option<usize>,
    per_page: Option<usize>,
}

fn envelope(request_id: &Value, status: StatusCode, message: &str) -> Response {
    let mut r = (
        status,
        Json(json!({"response": {"requestId": request_id, "error": {"code": status.as_u16(), "message": message}}})),
    )
        .into_response();
    add_rate_headers(&mut r);
    r
}

fn add_rate_headers(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(
        "x-ratelimit-limit",
        HeaderValue::from_static("100000;10000;1000"),
    );
    h.insert(
        "x-ratelimit-remaining",
        HeaderValue::from_static("99990;9990;990"),
    );
    h.insert(
        "x-ratelimit-reset",
        HeaderValue::from_static("86400;3600;60"),
    );
}

fn basic_ok(headers: &HeaderMap, cred: &SimCredential) -> bool {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            cred.get("username").unwrap_or_default(),
            cred.get("password").unwrap_or_default()
        ))
    );
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str())
}

async fn legacy(
    State(state): State<SimState>,
    Path(service): Path<String>,
    Query(paging): Query<Paging>,
    forced: Option<Extension<Forced>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let authorized = state.read(|p| {
        p.credential("entrata")
            .is_some_and(|c| basic_ok(&headers, c))
    });
    handle(
        state,
        &service,
        paging,
        forced.map(|f| f.0),
        authorized,
        "basic",
        &body,
    )
}

async fn modern(
    State(state): State<SimState>,
    Path((subdomain, service)): Path<(String, String)>,
    Query(paging): Query<Paging>,
    forced: Option<Extension<Forced>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let authorized = state.read(|p| {
        p.credential("entrata").is_some_and(|c| {
            c.get("subdomain") == Some(subdomain.as_str())
                && headers.get("x-api-key").and_then(|v| v.to_str().ok()) == c.get("api-key")
        })
    });
    handle(
        state,
        &service,
        paging,
        forced.map(|f| f.0),
        authorized,
        "apikey",
        &body,
    )
}

fn handle(
    state: SimState,
    service: &str,
    paging: Paging,
    forced: Option<Forced>,
    authorized: bool,
    auth_type: &str,
    body: &str,
) -> Response {
    let Ok(req) = serde_json::from_str::<Value>(body) else {
        return envelope(
            &Value::Null,
            StatusCode::BAD_REQUEST,
            "Invalid JSON request body.",
        );
    };
    let request_id = req.get("requestId").cloned().unwrap_or(Value::Null);
    if !authorized
        || forced == Some(Forced::AuthFailure)
        || req.pointer("/auth/type").and_then(Value::as_str) != Some(auth_type)
    {
        return envelope(
            &request_id,
            StatusCode::UNAUTHORIZED,
            "Authorization Failed. Please check your credentials.",
        );
    }
    let method = req
        .pointer("/method/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let params = req
        .pointer("/method/params")
        .cloned()
        .unwrap_or(Value::Null);
    let expected = match service {
        "properties" => "getProperties",
        "customers" => "getCustomers",
        "leases" => "getLeases",
        "propertyunits" => "getPropertyUnits",
        _ => return envelope(&request_id, StatusCode::NOT_FOUND, "Invalid service."),
    };
    if method != expected {
        return envelope(
            &request_id,
            StatusCode::BAD_REQUEST,
            &format!("Method {method} is not supported by {service}."),
        );
    }
    if method == "getLeases" && req.pointer("/method/version").and_then(Value::as_str) != Some("r2")
    {
        return envelope(
            &request_id,
            StatusCode::BAD_REQUEST,
            "getLeases requires version r2.",
        );
    }
    let property_id = params
        .get("propertyId")
        .or_else(|| params.get("propertyIds"))
        .and_then(|v| {
            v.as_str()
                .map(str::to_owned)
                .or_else(|| v.as_u64().map(|n| n.to_string()))
        });
    let page = paging.page_no.unwrap_or(1).max(1);
    let per_page = paging.per_page.unwrap_or(DEFAULT_PER_PAGE).clamp(1, 5_000);

    let answer = state.read(|portfolio| {
        if method == "getProperties" {
            let props: Vec<Value> = portfolio
                .properties
                .iter()
                .filter(|p| p.vendor == "entrata")
                .map(|p| json!({"PropertyID": WireId(&p.id), "MarketingName": p.name}))
                .collect();
            let rows = props.len();
            let result = json!({"PhysicalProperty": {"Property": props}});
            return Ok(answer(&request_id, &result, None, rows));
        }
        let Some(id) = property_id.as_deref() else {
            return Err((
                StatusCode::BAD_REQUEST,
                "propertyId is required.".to_owned(),
            ));
        };
        let Some(p) = portfolio.property("entrata", id) else {
            return Err((
                StatusCode::NOT_FOUND,
                format!("Property {id} was not found."),
            ));
        };
        let total = match method {
            "getCustomers" => p.residents.len(),
            "getLeases" => p.leases.len(),
            _ => p.units.len(),
        };
        let last_page = total.div_ceil(per_page).max(1);
        let start = ((page - 1) * per_page).min(total);
        let mut range = start..(start + per_page).min(total);
        if forced == Some(Forced::PartialPage) {
            range.end = range.start + range.len() / 2;
        }
        let meta = Meta {
            current_page: page,
            last_page,
            per_page,
            total,
        };
        // Entrata answers an empty list of customers or leases with a message, no meta.
        let no_records = forced == Some(Forced::Empty)
            || (range.is_empty() && matches!(method, "getCustomers" | "getLeases"));
        if no_records {
            return Ok(answer(
                &request_id,
                &json!({"success": "No Records Found."}),
                None,
                0,
            ));
        }
        let idx = p.index();
        Ok(match method {
            "getCustomers" => {
                let customer: Vec<CustomerRow> = p.residents[range]
                    .iter()
                    .map(|r| customer_row(p, &idx, r))
                    .collect();
                let rows = customer.len();
                answer(
                    &request_id,
                    &Customers {
                        customers: CustomerList { customer },
                    },
                    Some(meta),
                    rows,
                )
            }
            "getLeases" => {
                let lease: Vec<LeaseRow> = p.leases[range]
                    .iter()
                    .map(|l| lease_row(p, &idx, l))
                    .collect();
                let rows = lease.len();
                answer(
                    &request_id,
                    &Leases {
                        leases: LeaseList { lease },
                    },
                    Some(meta),
                    rows,
                )
            }
            _ => {
                let unit: Vec<UnitRow> = p.units[range].iter().map(unit_row).collect();
                let rows = unit.len();
                let result = Units {
                    properties: PropertyList {
                        property: [PropertyUnits {
                            property_id: WireId(id),
                            units: UnitList { unit },
                        }],
                    },
                };
                answer(&request_id, &result, Some(meta), rows)
            }
        })
    });
    match answer {
        Err((status, message)) => envelope(&request_id, status, &message),
        Ok(body) => {
            let mut r = ([("content-type", "application/json")], body).into_response();
            add_rate_headers(&mut r);
            r
        }
    }
}

/// The whole answer, serialised straight from borrowed rows (a page is never built as
/// a `serde_json::Value` tree: that cost more than everything else of serving it), into a
/// buffer reserved for its `rows`.
fn answer(request_id: &Value, result: &impl Serialize, meta: Option<Meta>, rows: usize) -> Vec<u8> {
    #[derive(Serialize)]
    struct Answer<'a, R> {
        response: Body<'a, R>,
    }
    #[derive(Serialize)]
    struct Body<'a, R> {
        #[serde(rename = "requestId")]
        request_id: &'a Value,
        code: u16,
        result: R,
        #[serde(skip_serializing_if = "Option::is_none")]
        meta: Option<Meta>,
    }
    let answer = Answer {
        response: Body {
            request_id,
            code: 200,
            result,
            meta,
        },
    };
    super::json_body(&answer, rows)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    current_page: usize,
    last_page: usize,
    per_page: usize,
    total: usize,
}

#[derive(Serialize)]
struct Customers<'a> {
    #[serde(rename = "Customers")]
    customers: CustomerList<'a>,
}

#[derive(Serialize)]
struct CustomerList<'a> {
    #[serde(rename = "Customer")]
    customer: Vec<CustomerRow<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CustomerRow<'a> {
    #[serde(rename = "@attributes")]
    attributes: Attributes<'a>,
    first_name: &'a str,
    last_name: &'a str,
    email: &'a str,
    phone_number: &'a str,
    unit_number: &'a str,
    building_name: &'a str,
    lease_id: Option<&'a str>,
    customer_type: &'static str,
}

#[derive(Serialize)]
struct Attributes<'a> {
    #[serde(rename = "Id")]
    id: &'a str,
}

fn customer_row<'a>(
    p: &'a SimProperty,
    idx: &PropertyIndex<'a>,
    r: &'a epms_model::Resident,
) -> CustomerRow<'a> {
    let unit = idx.unit(r.unit_id.as_deref());
    CustomerRow {
        attributes: Attributes { id: &r.id },
        first_name: &r.first_name,
        last_name: &r.last_name,
        email: p.wire_email(r).unwrap_or_default(),
        phone_number: r.phone.as_deref().unwrap_or_default(),
        unit_number: unit.map(|u| u.number.as_str()).unwrap_or_default(),
        building_name: unit.and_then(|u| u.building.as_deref()).unwrap_or_default(),
        lease_id: r.lease_id.as_deref(),
        customer_type: customer_type(r.role),
    }
}

#[derive(Serialize)]
struct Leases<'a> {
    leases: LeaseList<'a>,
}

#[derive(Serialize)]
struct LeaseList<'a> {
    lease: Vec<LeaseRow<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LeaseRow<'a> {
    id: &'a str,
    /// As recorded: the id as a string, the name only as the interval's status.
    lease_status_type_id: &'static str,
    lease_interval_status: &'static str,
    property_id: &'a str,
    unit_id: &'a str,
    unit_spaces: UnitSpaces<'a>,
    move_in_date: UsDate<'a>,
    move_out_date: UsDate<'a>,
    lease_intervals: LeaseIntervals<'a>,
    customers: LeaseCustomers<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UnitSpaces<'a> {
    #[serde(serialize_with = "zero_or_one")]
    unit_space: Option<UnitSpace<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UnitSpace<'a> {
    unit_space_id: usize,
    unit_space: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LeaseIntervals<'a> {
    lease_interval: [LeaseInterval<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LeaseInterval<'a> {
    start_date: UsDate<'a>,
    end_date: UsDate<'a>,
}

#[derive(Serialize)]
struct LeaseCustomers<'a> {
    customer: Vec<LeaseCustomer<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LeaseCustomer<'a> {
    id: WireId<'a>,
    customer_type: &'static str,
    first_name: &'a str,
    last_name: &'a str,
    email_address: &'a str,
    lease_customer_status: &'static str,
    phones: Phones<'a>,
}

#[derive(Serialize)]
struct Phones<'a> {
    #[serde(serialize_with = "zero_or_one")]
    phone: Option<Phone<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Phone<'a> {
    phone_number: &'a str,
    phone_type: &'static str,
}

fn lease_row<'a>(
    p: &'a SimProperty,
    idx: &PropertyIndex<'a>,
    l: &'a epms_model::Lease,
) -> LeaseRow<'a> {
    let (type_id, type_name) = status_type(l.status);
    let customer = l
        .resident_ids
        .iter()
        .filter_map(|rid| idx.resident(rid))
        .map(|r| LeaseCustomer {
            id: WireId(&r.id),
            customer_type: customer_type(r.role),
            first_name: &r.first_name,
            last_name: &r.last_name,
            email_address: p.wire_email(r).unwrap_or_default(),
            lease_customer_status: type_name,
            phones: Phones {
                phone: r.phone.as_deref().map(|n| Phone {
                    phone_number: n,
                    phone_type: "Mobile",
                }),
            },
        })
        .collect();
    LeaseRow {
        id: &l.id,
        lease_status_type_id: type_id,
        lease_interval_status: type_name,
        property_id: &p.id,
        unit_id: l.unit_id.as_deref().unwrap_or_default(),
        unit_spaces: UnitSpaces {
            unit_space: idx.unit(l.unit_id.as_deref()).map(|u| UnitSpace {
                unit_space_id: 90_000 + idx.unit_position(&u.id),
                unit_space: &u.number,
            }),
        },
        move_in_date: us_date(l.move_in_date.as_deref()),
        move_out_date: us_date(l.move_out_date.as_deref()),
        lease_intervals: LeaseIntervals {
            lease_interval: [LeaseInterval {
                start_date: us_date(l.start_date.as_deref()),
                end_date: us_date(l.end_date.as_deref()),
            }],
        },
        customers: LeaseCustomers { customer },
    }
}

#[derive(Serialize)]
struct Units<'a> {
    properties: PropertyList<'a>,
}

#[derive(Serialize)]
struct PropertyList<'a> {
    property: [PropertyUnits<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PropertyUnits<'a> {
    property_id: WireId<'a>,
    units: UnitList<'a>,
}

#[derive(Serialize)]
struct UnitList<'a> {
    unit: Vec<UnitRow<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UnitRow<'a> {
    id: &'a str,
    unit_number: &'a str,
    building_id: String,
    building_name: &'a str,
    floorplan_name: &'a str,
    unit_status: &'static str,
}

fn unit_row(u: &epms_model::Unit) -> UnitRow<'_> {
    UnitRow {
        id: &u.id,
        unit_number: &u.number,
        building_id: u
            .building
            .as_deref()
            .map(|b| b.replace("Building ", "B"))
            .unwrap_or_default(),
        building_name: u.building.as_deref().unwrap_or_default(),
        floorplan_name: u.floorplan.as_deref().unwrap_or_default(),
        unit_status: match u.vacant {
            Some(true) => "Vacant",
            Some(false) => "Occupied",
            None => "",
        },
    }
}
