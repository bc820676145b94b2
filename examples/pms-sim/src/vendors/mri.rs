//! MRI: OData-style REST, in the shape of the recorded answers
//! (`tests/fixtures/real/mri/`).
//!
//! - `GET {base}/mriapiservices/api.asp?$api=MRI_S-PMRM_{Name}&$format=json&…`,
//!   HTTP Basic of `"{ClientID}/{Database}/{WebUser}/{PartnerKey}:{Password}"`.
//! - `MRI_S-PMRM_PropertyList` (low confidence): `PropertyID, PropertyName`.
//!   `MRI_S-PMRM_UnitVacancyInformation&PROPERTYID=` (low): `PropertyID, BuildingID,
//!   UnitID, UnitDescription, Vacant` (`Y`/`N`), plus `FloorplanName` (ours).
//!   `MRI_S-PMRM_ResidentsByPropertyID&RMPROPID=`: a row per person with
//!   `ResidentNameID, RMPROPID, RMBLDGID, UNITID, RMLEASEID, ResidentType, Status, …`;
//!   one-letter codes as recorded (`ResidentType` `R`, `G` for a guarantor (ours);
//!   `Status` `R`/`O`). Pending move-ins are in no resident list.
//!   `MRI_S-PMRM_ResidentLeaseDetailsByPropertyID&RMPROPID=`: a row per person and
//!   lease with `ResidentStatus` (`Current`/`Old` for the holder, `Co-Resident`/`Other
//!   Resident` for the others), `LeaseStart, LeaseEnd, OccupyDate, LeaseMoveOut,
//!   IsCurrent, Guarantor`. **Lease ids are numbered per unit** (1, 2, … on every unit).
//!   `MRI_S-PMRM_PendingMoveIns&PropertyID=`: the future lease holders, `ResidentID,
//!   ResidentStatus: New, ScheduledMoveInDate`, no lease dates.
//! - Paging: `{"odata.metadata":…,"value":[…],"nextLink":"…"}`, the link **absolute
//!   and `%24`-encoded**, absent on the last page. `$top`/`$skip` with the recorded
//!   off-by-one (`$skip` = `$top` + 1: the 1-based row the next page starts at) on most
//!   APIs, an opaque `_next=` cursor on UnitVacancyInformation. Default page 500 rows.
//! - Dates `2024-03-01T00:00:00`, `ScheduledMoveInDate` with seven fractional digits.
//!   Errors: non-200 with `{"error":{"code":…,"message":…}}`.
//!
//! [`as_served`] turns a generated property into what MRI's APIs can say about it:
//! that is the ground truth a connector must read back.

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
        LeaseStatus::Future => "New",
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

/// What MRI's APIs carry of a generated property, rewritten in place:
/// - leases numbered per unit: id `{BuildingID}/{UnitID}/{n}`, as a connector keys them;
/// - `ResidentType` says only resident (`R`) or guarantor (`G`): other roles read as
///   `other`; a guarantor is on no lease's member list;
/// - a future lease is its holder's pending move-in: only the holder, only the
///   scheduled move-in date; the rest of that household is in no API;
/// - a notice is a current lease with a planned `LeaseMoveOut` still ahead (a date that
///   has passed reads as past).
pub fn as_served(p: &mut SimProperty) {
    use std::collections::{HashMap, HashSet};
    let buildings: HashMap<String, String> = p
        .units
        .iter()
        .map(|u| (u.id.clone(), u.building.clone().unwrap_or_default()))
        .collect();
    let mut per_unit: HashMap<String, u32> = HashMap::new();
    let mut rename: HashMap<String, String> = HashMap::new();
    let today_days = epms_connector_sdk::dates::days_since_epoch_today();
    let roles: HashMap<String, HouseholdRole> =
        p.residents.iter().map(|r| (r.id.clone(), r.role)).collect();
    let mut dropped: HashSet<String> = HashSet::new();
    for (i, l) in p.leases.iter_mut().enumerate() {
        let unit = l.unit_id.clone().unwrap_or_default();
        let n = per_unit.entry(unit.clone()).or_insert(0);
        *n += 1;
        let id = format!(
            "{}/{unit}/{n}",
            buildings.get(&unit).cloned().unwrap_or_default()
        );
        rename.insert(l.id.clone(), id.clone());
        l.id = id;
        match l.status {
            LeaseStatus::Future => {
                l.move_in_date = l.start_date.take();
                l.end_date = None;
                for rid in &l.resident_ids {
                    if roles.get(rid) != Some(&HouseholdRole::Primary) {
                        dropped.insert(rid.clone());
                    }
                }
            }
            LeaseStatus::Notice => {
                l.move_out_date = Some(epms_connector_sdk::dates::from_days(
                    today_days + 30 + (i as i64 % 60),
                ));
            }
            _ => {}
        }
        l.resident_ids.retain(|rid| {
            !dropped.contains(rid) && roles.get(rid) != Some(&HouseholdRole::Guarantor)
        });
    }
    p.residents.retain(|r| !dropped.contains(&r.id));
    let future: HashSet<String> = p
        .leases
        .iter()
        .filter(|l| l.status == LeaseStatus::Future)
        .map(|l| l.id.clone())
        .collect();
    for r in &mut p.residents {
        if let Some(new) = r.lease_id.as_ref().and_then(|l| rename.get(l)) {
            r.lease_id = Some(new.clone());
        }
        let pending = r.lease_id.as_ref().is_some_and(|l| future.contains(l));
        r.role = match r.role {
            HouseholdRole::Guarantor => HouseholdRole::Guarantor,
            _ if pending => HouseholdRole::Primary,
            _ => HouseholdRole::Other,
        };
    }
    p.invalidate();
}

/// `ResidentType`: the recorded one-letter codes.
fn resident_type(role: HouseholdRole) -> &'static str {
    match role {
        HouseholdRole::Guarantor => "G",
        _ => "R",
    }
}

/// The `LeaseID` MRI serves for a lease id made by [`as_served`]: its last part.
fn lease_number(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
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
    // `$skip=k` starts at the k-th row, 1-based (MRI's links say `$skip` = `$top` + 1);
    // `_next` is an opaque cursor (ours: the row offset in hex).
    let skip: usize = match (get("$skip"), get("_next")) {
        (_, Some(cursor)) => usize::from_str_radix(cursor, 16).unwrap_or(0),
        (Some(k), None) => k.parse::<usize>().unwrap_or(0).saturating_sub(1),
        (None, None) => 0,
    };
    let property = get("RMPROPID")
        .or_else(|| get("PROPERTYID"))
        .or_else(|| get("PropertyID"))
        .map(str::to_owned);
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
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
            "MRI_S-PMRM_ResidentsByPropertyID" => {
                let rows = p.residents.iter().filter(|r| !is_pending(&idx, r));
                Ok(window(rows, skip, top, |r| {
                    let lease = lease_of(&idx, r);
                    json!({"ResidentNameID": r.id, "RMPROPID": p.id, "RMBLDGID": building_of(&idx, r), "UNITID": r.unit_id,
                        "RMLEASEID": r.lease_id.as_deref().map(lease_number), "ResidentType": resident_type(r.role),
                        "Status": if lease.is_some_and(|l| l.status == LeaseStatus::Past) { "O" } else { "R" },
                        "FirstName": r.first_name, "LastName": r.last_name, "Email": p.wire_email(r),
                        "PhoneNumber": r.phone, "OccupantOccupyDate": mri_date(lease.and_then(|l| l.move_in_date.as_deref())),
                        "VacateDate": mri_date(lease.and_then(|l| l.move_out_date.as_deref())),
                        "LastUpdateDate": "2026-11-01T00:00:00", "Namegroup": r.lease_id})
                }))
            }
            "MRI_S-PMRM_ResidentLeaseDetailsByPropertyID" => {
                let rows = p
                    .residents
                    .iter()
                    .filter_map(|r| lease_of(&idx, r).map(|l| (r, l)))
                    .filter(|(_, l)| l.status != LeaseStatus::Future);
                Ok(window(rows, skip, top, |(r, l)| lease_row(p, &idx, r, l)))
            }
            "MRI_S-PMRM_PendingMoveIns" => {
                let rows = p
                    .residents
                    .iter()
                    .filter_map(|r| lease_of(&idx, r).map(|l| (r, l)))
                    .filter(|(_, l)| l.status == LeaseStatus::Future);
                Ok(window(rows, skip, top, |(r, l)| json!({
                    "ResidentID": r.id, "FirstName": r.first_name, "LastName": r.last_name, "PropertyID": p.id,
                    "BuildingID": building_of(&idx, r), "UnitID": l.unit_id, "LeaseID": lease_number(&l.id),
                    "ResidentStatus": "New",
                    "ScheduledMoveInDate": l.move_in_date.as_deref().map(|d| format!("{d}T00:00:00.0000000")),
                    "Email": p.wire_email(r), "Phone": r.phone, "PreviousAddress": []
                })))
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
            json!(format!(
                "http://{host}/mriapiservices/api.asp?$api={api}&$metadata#MRI.{}-container/{}",
                api.to_ascii_lowercase(),
                api.to_ascii_lowercase()
            )),
        ),
        ("value", Value::Array(value)),
    ]);
    if end < total {
        let encode = |k: &str| k.replace('$', "%24");
        let rest: Vec<String> = q
            .iter()
            .filter(|(k, _)| k != "$skip" && k != "$top" && k != "_next")
            .map(|(k, v)| format!("{}={v}", encode(k)))
            .collect();
        let position = if api == "MRI_S-PMRM_UnitVacancyInformation" {
            format!("_next={end:x}")
        } else {
            format!("%24top={top}&%24skip={}", end + 1)
        };
        body["nextLink"] = json!(format!(
            "http://{host}/mriapiservices/api.asp?{}&{position}",
            rest.join("&")
        ));
    }
    Json(body).into_response()
}

/// A future lease's holder: in PendingMoveIns only.
fn is_pending(idx: &PropertyIndex<'_>, r: &Resident) -> bool {
    lease_of(idx, r).is_some_and(|l| l.status == LeaseStatus::Future)
}

fn lease_of<'a>(idx: &PropertyIndex<'a>, r: &Resident) -> Option<&'a epms_model::Lease> {
    idx.lease(r.lease_id.as_deref())
}

fn building_of(idx: &PropertyIndex<'_>, r: &Resident) -> Option<String> {
    idx.unit(r.unit_id.as_deref())
        .and_then(|u| u.building.clone())
}

/// A person's `ResidentStatus`: the lease's for its holder (the first member), the
/// words MRI uses for the other members.
fn person_status(idx: &PropertyIndex<'_>, r: &Resident) -> String {
    let Some(lease) = lease_of(idx, r) else {
        return String::new();
    };
    match lease.resident_ids.iter().position(|id| id == &r.id) {
        Some(0) => lease.raw_status.clone(),
        Some(1) => "Co-Resident".into(),
        _ => "Other Resident".into(),
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
        "LeaseID": lease_number(&l.id), "FirstName": r.first_name, "LastName": r.last_name, "Email": p.wire_email(r),
        "ResidentStatus": person_status(idx, r),
        "Guarantor": if r.role == HouseholdRole::Guarantor { "Y" } else { "N" },
        "Namegroup": l.id,
        "LeaseStart": mri_date(l.start_date.as_deref()), "LeaseEnd": mri_date(l.end_date.as_deref()),
        "OccupyDate": mri_date(l.move_in_date.as_deref()),
        "LeaseMoveOut": mri_date(l.move_out_date.as_deref()),
        "IsCurrent": if matches!(l.status, LeaseStatus::Current | LeaseStatus::Notice) { "Y" } else { "N" },
    })
}
