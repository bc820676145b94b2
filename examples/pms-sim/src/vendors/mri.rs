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
use serde::Serialize;
use serde_json::json;

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

/// A date as MRI writes it (`YYYY-MM-DDT00:00:00`), or null.
struct MriDate<'a>(Option<&'a str>);

impl Serialize for MriDate<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(d) => serializer.collect_str(&format_args!("{d}T00:00:00")),
            None => serializer.serialize_none(),
        }
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
    let listing = Listing {
        api,
        host: &host,
        query: &q,
        skip,
        top,
        forced,
    };
    // Only the requested page is rendered, and serialised straight from borrowed rows.
    state.read(|portfolio| {
        if forced == Some(Forced::Empty) {
            // Whatever was asked: an empty page (before any check of the property).
            return listing.answer(std::iter::empty::<()>(), |()| ());
        }
        if api == "MRI_S-PMRM_PropertyList" {
            let props = portfolio.properties.iter().filter(|p| p.vendor == "mri");
            return listing.answer(props, |p| PropertyRow {
                property_id: &p.id,
                property_name: &p.name,
            });
        }
        let Some(id) = property.as_deref() else {
            return error(StatusCode::BAD_REQUEST, "Missing RMPROPID.");
        };
        let Some(p) = portfolio.property("mri", id) else {
            return error(StatusCode::NOT_FOUND, &format!("Property {id} not found."));
        };
        let idx = p.index();
        match api {
            "MRI_S-PMRM_UnitVacancyInformation" => listing.answer(p.units.iter(), |u| UnitRow {
                property_id: &p.id,
                building_id: u.building.as_deref(),
                unit_id: &u.id,
                unit_description: &u.number,
                vacant: match u.vacant {
                    Some(true) => "Y",
                    Some(false) => "N",
                    None => "",
                },
                floorplan_name: u.floorplan.as_deref(),
            }),
            "MRI_S-PMRM_ResidentsByPropertyID" => {
                let rows = idx.residents_with_leases().filter(|(_, l)| !is_pending(*l));
                listing.answer(rows, |(r, lease)| ResidentRow {
                    resident_name_id: &r.id,
                    rm_prop_id: &p.id,
                    rm_bldg_id: building_of(&idx, r),
                    unit_id: r.unit_id.as_deref(),
                    rm_lease_id: r.lease_id.as_deref().map(lease_number),
                    resident_type: resident_type(r.role),
                    status: if lease.is_some_and(|l| l.status == LeaseStatus::Past) {
                        "O"
                    } else {
                        "R"
                    },
                    first_name: &r.first_name,
                    last_name: &r.last_name,
                    email: p.wire_email(r),
                    phone_number: r.phone.as_deref(),
                    occupant_occupy_date: MriDate(lease.and_then(|l| l.move_in_date.as_deref())),
                    vacate_date: MriDate(lease.and_then(|l| l.move_out_date.as_deref())),
                    last_update_date: "2026-11-01T00:00:00",
                    namegroup: r.lease_id.as_deref(),
                })
            }
            "MRI_S-PMRM_ResidentLeaseDetailsByPropertyID" => {
                let rows = idx
                    .residents_with_leases()
                    .filter_map(|(r, l)| l.map(|l| (r, l)))
                    .filter(|(_, l)| l.status != LeaseStatus::Future);
                listing.answer(rows, |(r, l)| lease_row(p, &idx, r, l))
            }
            "MRI_S-PMRM_PendingMoveIns" => {
                let rows = idx
                    .residents_with_leases()
                    .filter_map(|(r, l)| l.map(|l| (r, l)))
                    .filter(|(_, l)| l.status == LeaseStatus::Future);
                listing.answer(rows, |(r, l)| PendingRow {
                    resident_id: &r.id,
                    first_name: &r.first_name,
                    last_name: &r.last_name,
                    property_id: &p.id,
                    building_id: building_of(&idx, r),
                    unit_id: l.unit_id.as_deref(),
                    lease_id: lease_number(&l.id),
                    resident_status: "New",
                    scheduled_move_in_date: l
                        .move_in_date
                        .as_deref()
                        .map(|d| format!("{d}T00:00:00.0000000")),
                    email: p.wire_email(r),
                    phone: r.phone.as_deref(),
                    previous_address: [],
                })
            }
            _ => error(StatusCode::NOT_FOUND, &format!("Unknown API {api}.")),
        }
    })
}

/// What shapes a page of any API: the request's paging and where it came from.
struct Listing<'a> {
    api: &'a str,
    host: &'a str,
    query: &'a [(String, String)],
    skip: usize,
    top: usize,
    forced: Option<Forced>,
}

impl Listing<'_> {
    /// The page of `items` the request asks for (only its rows rendered), with the
    /// `nextLink` of the rest.
    fn answer<T, R: Serialize>(
        &self,
        items: impl Iterator<Item = T>,
        render: impl Fn(T) -> R,
    ) -> Response {
        // The page's rows, and whether any row follows them (all a link needs: the
        // rows after that are never looked at).
        let mut rest = items.skip(self.skip);
        let mut value: Vec<R> = rest.by_ref().take(self.top).map(render).collect();
        let more = rest.next().is_some();
        let end = self.skip.saturating_add(value.len());
        if self.forced == Some(Forced::PartialPage) {
            value.truncate(value.len() / 2);
        }
        let (host, api) = (self.host, self.api);
        let metadata = format!(
            "http://{host}/mriapiservices/api.asp?$api={api}&$metadata#MRI.{}-container/{}",
            api.to_ascii_lowercase(),
            api.to_ascii_lowercase()
        );
        let next_link = more.then(|| {
            let encode = |k: &str| k.replace('$', "%24");
            let rest: Vec<String> = self
                .query
                .iter()
                .filter(|(k, _)| k != "$skip" && k != "$top" && k != "_next")
                .map(|(k, v)| format!("{}={v}", encode(k)))
                .collect();
            let position = if api == "MRI_S-PMRM_UnitVacancyInformation" {
                format!("_next={end:x}")
            } else {
                format!("%24top={}&%24skip={}", self.top, end + 1)
            };
            format!(
                "http://{host}/mriapiservices/api.asp?{}&{position}",
                rest.join("&")
            )
        });
        let rows = value.len();
        let page = Page {
            metadata,
            value,
            next_link,
        };
        super::json_answer(StatusCode::OK, &page, rows)
    }
}

#[derive(Serialize)]
struct Page<R> {
    #[serde(rename = "odata.metadata")]
    metadata: String,
    value: Vec<R>,
    #[serde(rename = "nextLink", skip_serializing_if = "Option::is_none")]
    next_link: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PropertyRow<'a> {
    #[serde(rename = "PropertyID")]
    property_id: &'a str,
    property_name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct UnitRow<'a> {
    #[serde(rename = "PropertyID")]
    property_id: &'a str,
    #[serde(rename = "BuildingID")]
    building_id: Option<&'a str>,
    #[serde(rename = "UnitID")]
    unit_id: &'a str,
    unit_description: &'a str,
    vacant: &'static str,
    floorplan_name: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ResidentRow<'a> {
    #[serde(rename = "ResidentNameID")]
    resident_name_id: &'a str,
    #[serde(rename = "RMPROPID")]
    rm_prop_id: &'a str,
    #[serde(rename = "RMBLDGID")]
    rm_bldg_id: Option<&'a str>,
    #[serde(rename = "UNITID")]
    unit_id: Option<&'a str>,
    #[serde(rename = "RMLEASEID")]
    rm_lease_id: Option<&'a str>,
    resident_type: &'static str,
    status: &'static str,
    first_name: &'a str,
    last_name: &'a str,
    email: Option<&'a str>,
    phone_number: Option<&'a str>,
    occupant_occupy_date: MriDate<'a>,
    vacate_date: MriDate<'a>,
    last_update_date: &'static str,
    namegroup: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PendingRow<'a> {
    #[serde(rename = "ResidentID")]
    resident_id: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    #[serde(rename = "PropertyID")]
    property_id: &'a str,
    #[serde(rename = "BuildingID")]
    building_id: Option<&'a str>,
    #[serde(rename = "UnitID")]
    unit_id: Option<&'a str>,
    #[serde(rename = "LeaseID")]
    lease_id: &'a str,
    resident_status: &'static str,
    scheduled_move_in_date: Option<String>,
    email: Option<&'a str>,
    phone: Option<&'a str>,
    previous_address: [(); 0],
}

/// A future lease's holder: in PendingMoveIns only.
fn is_pending(lease: Option<&epms_model::Lease>) -> bool {
    lease.is_some_and(|l| l.status == LeaseStatus::Future)
}

fn building_of<'a>(idx: &PropertyIndex<'a>, r: &Resident) -> Option<&'a str> {
    idx.unit(r.unit_id.as_deref())
        .and_then(|u| u.building.as_deref())
}

/// A person's `ResidentStatus`: the lease's for its holder (the first member), the
/// words MRI uses for the other members.
fn person_status<'a>(lease: &'a epms_model::Lease, r: &Resident) -> &'a str {
    match lease.resident_ids.iter().position(|id| id == &r.id) {
        Some(0) => &lease.raw_status,
        Some(1) => "Co-Resident",
        _ => "Other Resident",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct LeaseRow<'a> {
    #[serde(rename = "ResidentNameID")]
    resident_name_id: &'a str,
    #[serde(rename = "PropertyID")]
    property_id: &'a str,
    #[serde(rename = "BuildingID")]
    building_id: Option<&'a str>,
    #[serde(rename = "UnitID")]
    unit_id: Option<&'a str>,
    #[serde(rename = "LeaseID")]
    lease_id: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    email: Option<&'a str>,
    resident_status: &'a str,
    guarantor: &'static str,
    namegroup: &'a str,
    lease_start: MriDate<'a>,
    lease_end: MriDate<'a>,
    occupy_date: MriDate<'a>,
    lease_move_out: MriDate<'a>,
    is_current: &'static str,
}

fn lease_row<'a>(
    p: &'a SimProperty,
    idx: &PropertyIndex<'a>,
    r: &'a Resident,
    l: &'a epms_model::Lease,
) -> LeaseRow<'a> {
    LeaseRow {
        resident_name_id: &r.id,
        property_id: &p.id,
        building_id: building_of(idx, r),
        unit_id: l.unit_id.as_deref(),
        lease_id: lease_number(&l.id),
        first_name: &r.first_name,
        last_name: &r.last_name,
        email: p.wire_email(r),
        resident_status: person_status(l, r),
        guarantor: if r.role == HouseholdRole::Guarantor {
            "Y"
        } else {
            "N"
        },
        namegroup: &l.id,
        lease_start: MriDate(l.start_date.as_deref()),
        lease_end: MriDate(l.end_date.as_deref()),
        occupy_date: MriDate(l.move_in_date.as_deref()),
        lease_move_out: MriDate(l.move_out_date.as_deref()),
        is_current: if matches!(l.status, LeaseStatus::Current | LeaseStatus::Notice) {
            "Y"
        } else {
            "N"
        },
    }
}
