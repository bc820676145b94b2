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
use serde::Deserialize;
use serde_json::{Value, json};

use crate::SimState;
use crate::dataset::{SimCredential, SimProperty};
use crate::faults::Forced;
use crate::vendors::{object, us_date};

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

pub fn status_type(status: LeaseStatus) -> (u8, &'static str) {
    match status {
        LeaseStatus::Applicant => (1, "Applicant"),
        LeaseStatus::Cancelled | LeaseStatus::Denied => (2, "Cancelled"),
        LeaseStatus::Future => (3, "Future"),
        LeaseStatus::Current => (4, "Current"),
        LeaseStatus::Notice => (5, "Notice"),
        LeaseStatus::Past | LeaseStatus::Other => (6, "Past"),
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
                .map(|p| json!({"PropertyID": crate::vendors::id_value(&p.id), "MarketingName": p.name}))
                .collect();
            return Ok((json!({"PhysicalProperty": {"Property": props}}), None));
        }
        let Some(id) = property_id.as_deref() else {
            return Err((StatusCode::BAD_REQUEST, "propertyId is required.".to_owned()));
        };
        let Some(p) = portfolio.property("entrata", id) else {
            return Err((StatusCode::NOT_FOUND, format!("Property {id} was not found.")));
        };
        let total = match method {
            "getCustomers" => p.residents.len(),
            "getLeases" => p.leases.len(),
            _ => p.units.len(),
        };
        let last_page = total.div_ceil(per_page).max(1);
        let start = ((page - 1) * per_page).min(total);
        let mut slice = records(p, method, start..(start + per_page).min(total));
        if forced == Some(Forced::PartialPage) {
            slice.truncate(slice.len() / 2);
        }
        let meta = json!({"currentPage": page, "lastPage": last_page, "perPage": per_page, "total": total});
        let slice = Value::Array(slice);
        let result = match method {
            "getCustomers" => object([("Customers", object([("Customer", slice)]))]),
            "getLeases" => object([("leases", object([("lease", slice)]))]),
            _ => object([(
                "properties",
                object([("property", Value::Array(vec![object([("propertyId", crate::vendors::id_value(id)), ("units", object([("unit", slice)]))])]))]),
            )]),
        };
        Ok((result, Some(meta)))
    });
    match answer {
        Err((status, message)) => envelope(&request_id, status, &message),
        Ok((result, meta)) => {
            let empty = forced == Some(Forced::Empty)
                || result
                    .pointer("/Customers/Customer")
                    .is_some_and(|v| v.as_array().is_some_and(Vec::is_empty))
                || result
                    .pointer("/leases/lease")
                    .is_some_and(|v| v.as_array().is_some_and(Vec::is_empty));
            let result = if empty {
                json!({"success": "No Records Found."})
            } else {
                result
            };
            let mut body =
                json!({"response": {"requestId": request_id, "code": 200, "result": result}});
            if let Some(meta) = meta
                && !empty
            {
                body["response"]["meta"] = meta;
            }
            let mut r = Json(body).into_response();
            add_rate_headers(&mut r);
            r
        }
    }
}

fn phones(phone: &Option<String>) -> Value {
    match phone {
        Some(n) => json!({"phone": [{"phoneNumber": n, "phoneType": "Mobile"}]}),
        None => json!({"phone": []}),
    }
}

fn records(p: &SimProperty, method: &str, range: std::ops::Range<usize>) -> Vec<Value> {
    let idx = p.index();
    match method {
        "getCustomers" => p.residents[range]
            .iter()
            .map(|r| {
                let unit = idx.unit(r.unit_id.as_deref());
                json!({
                    "@attributes": {"Id": r.id},
                    "FirstName": r.first_name,
                    "LastName": r.last_name,
                    "Email": p.wire_email(r).unwrap_or_default(),
                    "PhoneNumber": r.phone.clone().unwrap_or_default(),
                    "UnitNumber": unit.map(|u| u.number.clone()).unwrap_or_default(),
                    "BuildingName": unit.and_then(|u| u.building.clone()).unwrap_or_default(),
                    "LeaseId": r.lease_id,
                    "CustomerType": customer_type(r.role),
                })
            })
            .collect(),
        "getLeases" => p.leases[range]
            .iter()
            .map(|l| {
                let (type_id, type_name) = status_type(l.status);
                let customers: Vec<Value> = l
                    .resident_ids
                    .iter()
                    .filter_map(|rid| idx.resident(rid))
                    .map(|r| {
                        let mut c = json!({
                            "id": crate::vendors::id_value(&r.id),
                            "customerType": customer_type(r.role),
                            "firstName": r.first_name,
                            "lastName": r.last_name,
                            "emailAddress": p.wire_email(r).unwrap_or_default(),
                            "leaseCustomerStatus": type_name,
                        });
                        c["phones"] = phones(&r.phone);
                        c
                    })
                    .collect();
                let mut lease = json!({
                    "id": l.id,
                    // As recorded: the id as a string, the name only as the interval's status.
                    "leaseStatusTypeId": type_id.to_string(),
                    "leaseIntervalStatus": type_name,
                    "propertyId": p.id,
                    "unitId": l.unit_id.clone().unwrap_or_default(),
                    "unitSpaces": {"unitSpace": idx.unit(l.unit_id.as_deref()).iter().map(|u| json!({"unitSpaceId": 90_000 + idx.unit_position(&u.id), "unitSpace": u.number})).collect::<Vec<_>>()},
                    "moveInDate": us_date(l.move_in_date.as_deref()),
                    "moveOutDate": us_date(l.move_out_date.as_deref()),
                    "leaseIntervals": {"leaseInterval": [{"startDate": us_date(l.start_date.as_deref()), "endDate": us_date(l.end_date.as_deref())}]},
                });
                // Moved in, not through json!: that would copy the customers again.
                lease["customers"] = object([("customer", Value::Array(customers))]);
                lease
            })
            .collect(),
        _ => p.units[range]
            .iter()
            .map(|u| {
                json!({
                    "id": u.id,
                    "unitNumber": u.number,
                    "buildingId": u.building.as_deref().map(|b| b.replace("Building ", "B")).unwrap_or_default(),
                    "buildingName": u.building.clone().unwrap_or_default(),
                    "floorplanName": u.floorplan.clone().unwrap_or_default(),
                    "unitStatus": match u.vacant { Some(true) => "Vacant", Some(false) => "Occupied", None => "" },
                })
            })
            .collect(),
    }
}
