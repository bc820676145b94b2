//! MRI: OData-style REST (VENDORS.md, "MRI").
//!
//! - `GET {base}/mriapiservices/api.asp?$api=MRI_S-PMRM_{Name}&$format=json&…`,
//!   HTTP Basic of `"{ClientID}/{Database}/{WebUser}/{PartnerKey}:{Password}"`.
//! - `MRI_S-PMRM_PropertyList` (low confidence): `PropertyID, PropertyName`.
//!   `MRI_S-PMRM_UnitVacancyInformation&PROPERTYID=` (low): `PropertyID, BuildingID,
//!   UnitID, UnitDescription, Vacant` (`Y`/`N`), plus `FloorplanName` (ours).
//!   `MRI_S-PMRM_ResidentsByPropertyID&RMPROPID=`: a row per person with
//!   `ResidentNameID, RMPROPID, RMBLDGID, UNITID, RMLEASEID, ResidentType, Status, …`.
//!   `MRI_S-PMRM_ResidentLeaseDetailsByPropertyID&RMPROPID=`: a row per person and
//!   lease with `ResidentStatus, LeaseStart, LeaseEnd, OccupyDate, LeaseMoveOut,
//!   IsCurrent`. Future residents are not there: `MRI_S-PMRM_PendingMoveIns&RMPROPID=`.
//! - Paging: `$top`/`$skip`; `{"odata.metadata":…,"value":[…],"nextLink":"…"}`, the
//!   link absent on the last page. Default page 500 rows.
//! - Statuses (our reading of the medium-confidence vocabulary): a lease's raw status
//!   is its primary's `ResidentStatus`: `Current` (`IsCurrent` Y; notice given when
//!   `LeaseMoveOut` is set), `Old` (past, `IsCurrent` N), `Pending` (from
//!   PendingMoveIns). Co-residents and occupants show `Co-Resident` / `Other Resident`.
//!   MRI serves no applicants or cancelled leases; the dataset drops them for MRI.
//! - `ResidentType` (ours, low): Resident, Co-Resident, Occupant, Guarantor.
//! - Dates `2024-03-01T00:00:00`. Errors: non-200 with `{"error":{"code":…,"message":…}}`.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use base64::Engine as _;
use epms_model::{HouseholdRole, LeaseStatus, Resident};
use serde_json::{Value, json};

use crate::SimState;
use crate::dataset::{PropertyIndex, SimCredential, SimProperty};
use crate::faults::Forced;

pub const CLIENT_ID: &str = "C9921";
pub const DATABASE: &str = "MRIDEMO";
pub const WEB_USER: &str = "epmsapi";
pub const PARTNER_KEY: &str = "pk-51e0c7";
pub const PASSWORD: &str = "mri-pass-44";
pub const DEFAULT_TOP: usize = 500;

pub fn default_credential() -> SimCredential {
    SimCredential {
        vendor: "mri".into(),
        fields: vec![
            ("client-id".into(), CLIENT_ID.into()),
            ("database".into(), DATABASE.into()),
            ("web-user".into(), WEB_USER.into()),
            ("partner-key".into(), PARTNER_KEY.into()),
            ("password".into(), PASSWORD.into()),
        ],
    }
}

pub fn raw_status(status: LeaseStatus) -> &'static str {
    match status {
        LeaseStatus::Current | LeaseStatus::Notice => "Current",
        LeaseStatus::Past => "Old",
        LeaseStatus::Future => "Pending",
        LeaseStatus::Applicant
        | LeaseStatus::Cancelled
        | LeaseStatus::Denied
        | LeaseStatus::Other => "Unknown",
    }
}

pub fn serves(status: LeaseStatus) -> bool {
    matches!(
        status,
        LeaseStatus::Current | LeaseStatus::Notice | LeaseStatus::Past | LeaseStatus::Future
    )
}

fn resident_type(role: HouseholdRole) -> &'static str {
    match role {
        HouseholdRole::Primary => "Resident",
        HouseholdRole::CoResident => "Co-Resident",
        HouseholdRole::Occupant => "Occupant",
        HouseholdRole::Guarantor => "Guarantor",
        HouseholdRole::Other => "Other",
    }
}

fn mri_date(iso: Option<&str>) -> Value {
    match iso {
        Some(d) => json!(format!("{d}T00:00:00")),
        None => Value::Null,
    }
}

pub fn router(state: SimState) -> Router {
    Router::new()
        .route("/mriapiservices/api.asp", get(api))
        .with_state(state)
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": status.as_u16(), "message": message}})),
    )
        .into_response()
}

fn params(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.replace("%24", "$"), v.replace("%20", " ")))
        .collect()
}

async fn api(
    State(state): State<SimState>,
    RawQuery(query): RawQuery,
    forced: Option<Extension<Forced>>,
    headers: HeaderMap,
) -> Response {
    let forced = forced.map(|f| f.0);
    let expected = state.read(|p| {
        p.credential("mri").map(|c| {
            let user = format!(
                "{}/{}/{}/{}",
                c.get("client-id").unwrap_or_default(),
                c.get("database").unwrap_or_default(),
                c.get("web-user").unwrap_or_default(),
                c.get("partner-key").unwrap_or_default()
            );
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{user}:{}", c.get("password").unwrap_or_default()))
            )
        })
    });
    if forced == Some(Forced::AuthFailure)
        || expected.is_none()
        || headers.get("authorization").and_then(|v| v.to_str().ok()) != expected.as_deref()
    {
        return error(
            StatusCode::UNAUTHORIZED,
            "The user name or password is incorrect.",
        );
    }
    let query = query.unwrap_or_default();
    let q = params(&query);
    let get = |k: &str| {
        q.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    };
    let Some(api) = get("$api") else {
        return error(StatusCode::BAD_REQUEST, "Missing $api.");
    };
    if get("$format") != Some("json") {
        return error(StatusCode::BAD_REQUEST, "Only $format=json is served here.");
    }
    let top: usize = get("$top")
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_TOP)
        .clamp(1, 5_000);
    let skip: usize = get("$skip").and_then(|v| v.parse().ok()).unwrap_or(0);
    let property = get("RMPROPID")
        .or_else(|| get("PROPERTYID"))
        .map(str::to_owned);
    let empty = forced == Some(Forced::Empty);
    // Only the requested page is rendered: (total rows, rows of the page).
    let page = state.read(|portfolio| -> Result<(usize, Vec<Value>), (StatusCode, String)> {
        fn window<T>(items: impl Iterator<Item = T>, skip: usize, top: usize, render: impl Fn(T) -> Value) -> (usize, Vec<Value>) {
            let mut total = 0;
            let mut out = Vec::new();
            for item in items {
                if total >= skip && out.len() < top {
                    out.push(render(item));
                }
                total += 1;
            }
            (total, out)
        }
        if empty {
            return Ok((0, Vec::new()));
        }
        if api == "MRI_S-PMRM_PropertyList" {
            let props = portfolio.properties.iter().filter(|p| p.vendor == "mri");
            return Ok(window(props, skip, top, |p| json!({"PropertyID": p.id, "PropertyName": p.name})));
        }
        let Some(id) = property.as_deref() else {
            return Err((StatusCode::BAD_REQUEST, "Missing RMPROPID.".into()));
        };
        let Some(p) = portfolio.property("mri", id) else {
            return Err((StatusCode::NOT_FOUND, format!("Property {id} not found.")));
        };
        let idx = p.index();
        match api {
            "MRI_S-PMRM_UnitVacancyInformation" => Ok(window(p.units.iter(), skip, top, |u| {
                json!({"PropertyID": p.id, "BuildingID": u.building, "UnitID": u.id, "UnitDescription": u.number,
                    "Vacant": match u.vacant { Some(true) => "Y", Some(false) => "N", None => "" },
                    "FloorplanName": u.floorplan})
            })),
            "MRI_S-PMRM_ResidentsByPropertyID" => Ok(window(p.residents.iter(), skip, top, |r| {
                json!({"ResidentNameID": r.id, "RMPROPID": p.id, "RMBLDGID": building_of(&idx, r), "UNITID": r.unit_id,
                    "RMLEASEID": r.lease_id, "ResidentType": resident_type(r.role), "Status": person_status(&idx, r),
                    "FirstName": r.first_name, "LastName": r.last_name, "Email": p.wire_email(r),
                    "PhoneNumber": r.phone, "OccupantOccupyDate": mri_date(lease_of(&idx, r).and_then(|l| l.move_in_date.as_deref())),
                    "VacateDate": mri_date(lease_of(&idx, r).and_then(|l| l.move_out_date.as_deref())),
                    "LastUpdateDate": "2026-11-01T00:00:00"})
            })),
            "MRI_S-PMRM_ResidentLeaseDetailsByPropertyID" | "MRI_S-PMRM_PendingMoveIns" => {
                let pending = api == "MRI_S-PMRM_PendingMoveIns";
                let rows = p
                    .residents
                    .iter()
                    .filter_map(|r| lease_of(&idx, r).map(|l| (r, l)))
                    .filter(|(_, l)| (l.status == LeaseStatus::Future) == pending);
                Ok(window(rows, skip, top, |(r, l)| lease_row(p, &idx, r, l)))
            }
            _ => Err((StatusCode::NOT_FOUND, format!("Unknown API {api}."))),
        }
    });
    let (total, mut value) = match page {
        Ok(page) => page,
        Err((status, message)) => return error(status, &message),
    };
    let end = skip.saturating_add(value.len()).min(total);
    if forced == Some(Forced::PartialPage) {
        value.truncate(value.len() / 2);
    }
    let mut body = crate::vendors::object([
        (
            "odata.metadata",
            json!(format!("mriapiservices/api.asp/$metadata#{api}")),
        ),
        ("value", Value::Array(value)),
    ]);
    if end < total {
        let rest: Vec<String> = q
            .iter()
            .filter(|(k, _)| k != "$skip" && k != "$top")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        body["nextLink"] = json!(format!(
            "/mriapiservices/api.asp?{}&$top={top}&$skip={end}",
            rest.join("&")
        ));
    }
    Json(body).into_response()
}

fn lease_of<'a>(idx: &PropertyIndex<'a>, r: &Resident) -> Option<&'a epms_model::Lease> {
    idx.lease(r.lease_id.as_deref())
}

fn building_of(idx: &PropertyIndex<'_>, r: &Resident) -> Option<String> {
    idx.unit(r.unit_id.as_deref())
        .and_then(|u| u.building.clone())
}

/// A person's `ResidentStatus`: the lease's for the primary, the role-ish words MRI
/// uses for others while the lease is current.
fn person_status(idx: &PropertyIndex<'_>, r: &Resident) -> String {
    let raw = lease_of(idx, r)
        .map(|l| l.raw_status.clone())
        .unwrap_or_default();
    match (r.role, raw.as_str()) {
        (HouseholdRole::CoResident, "Current") => "Co-Resident".into(),
        (HouseholdRole::Occupant | HouseholdRole::Guarantor | HouseholdRole::Other, "Current") => {
            "Other Resident".into()
        }
        _ => raw,
    }
}

fn lease_row(
    p: &SimProperty,
    idx: &PropertyIndex<'_>,
    r: &Resident,
    l: &epms_model::Lease,
) -> Value {
    json!({
        "ResidentNameID": r.id, "PropertyID": p.id, "BuildingID": building_of(idx, r), "UnitID": l.unit_id,
        "LeaseID": l.id, "FirstName": r.first_name, "LastName": r.last_name, "Email": p.wire_email(r),
        "ResidentStatus": person_status(idx, r), "ResidentType": resident_type(r.role),
        "LeaseStart": mri_date(l.start_date.as_deref()), "LeaseEnd": mri_date(l.end_date.as_deref()),
        "OccupyDate": mri_date(l.move_in_date.as_deref()),
        "LeaseMoveOut": mri_date(l.move_out_date.as_deref()),
        "IsCurrent": if matches!(l.status, LeaseStatus::Current | LeaseStatus::Notice) { "Y" } else { "N" },
    })
}
