//! RealPage OneSite through the RPX gateway: SOAP 1.1 (WCF) (docs/vendors.md, "RealPage").
//!
//! - `POST {base}/rpxgateway/partner/{Partner}/{Partner}.svc`, `Content-Type:
//!   text/xml`, `SOAPAction: http://tempuri.org/IRPXService/{op}`, body namespace
//!   `tem="http://tempuri.org/"`, auth in the body:
//!   `<tem:auth><tem:pmcid/><tem:siteid/><tem:licensekey/><tem:system>Onesite</tem:system></tem:auth>`.
//! - `getsitelist`: `getsitelistResponse/getsitelistResult/sitelist/site{siteid, sitename}`.
//! - `getunitlist` (also accepted as `unitlist`, the name client code uses) follows the recorded answer: `getunitlistResponse/getunitlistResult/
//!   GetUnitList xmlns=""/UnitObjects/UnitObject` with `Address/{UnitID, UnitNumber,
//!   BuildingID}`, `Availability/{VacantBit, VacantDate MM/DD/YYYY}`, `FloorPlan/
//!   {FloorPlanID, FloorPlanName}`; the building only by id (the dataset's building
//!   names become ids: `Building A` → `A`).
//! - `getresidentlistinfo` (lowercase tags): `getresidentlistinfoResponse/
//!   getresidentlistinfoResult/residentlist/resident` with `residentid` (the lease /
//!   household), `residentmemberid` (the person), `unitid, unitnumber, firstname,
//!   lastname, email, homephone, cellphone, leasestatus, begindate, enddate,
//!   moveindate, moveoutdate, noticegivendate`; (ours, low) `relationship`: Head of
//!   Household, Roommate, Occupant, Guarantor.
//! - Statuses: Current (notice given when `noticegivendate` is set), Future Lease,
//!   Applicant, Applicant - Lease Signed (future), Former, Former Applicant
//!   (cancelled). Dates `MM/DD/YYYY`. No pagination.
//! - Errors: a SOAP Fault; an unauthorized license key answers
//!   `LicenseKey is not authorized to call the method`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use epms_model::{HouseholdRole, LeaseStatus};

use crate::SimState;
use crate::dataset::{SimCredential, SimProperty};
use crate::faults::Forced;
use crate::vendors::soap::{el, envelope, fault, leaves};
use crate::vendors::us_date;

pub const PARTNER: &str = "DoorPartner";

pub fn default_credential() -> SimCredential {
    SimCredential {
        vendor: "realpage".into(),
        fields: vec![
            ("partner".into(), PARTNER.into()),
            ("pmc-id".into(), "1119387".into()),
            ("license-key".into(), "6f1e2b4c-sim-rpx-license".into()),
        ],
    }
}

pub fn raw_status(status: LeaseStatus) -> &'static str {
    match status {
        LeaseStatus::Applicant => "Applicant",
        LeaseStatus::Future => "Applicant - Lease Signed",
        LeaseStatus::Current | LeaseStatus::Notice => "Current",
        LeaseStatus::Past => "Former",
        LeaseStatus::Cancelled | LeaseStatus::Denied | LeaseStatus::Other => "Former Applicant",
    }
}

fn relationship(role: HouseholdRole) -> &'static str {
    match role {
        HouseholdRole::Primary => "Head of Household",
        HouseholdRole::CoResident => "Roommate",
        HouseholdRole::Occupant => "Occupant",
        HouseholdRole::Guarantor => "Guarantor",
        HouseholdRole::Other => "Other",
    }
}

pub fn router(state: SimState) -> Router {
    Router::new()
        .route("/rpxgateway/partner/{partner}/{svc}", post(endpoint))
        .with_state(state)
}

fn xml(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "text/xml; charset=utf-8")], body).into_response()
}

async fn endpoint(
    State(state): State<SimState>,
    Path((partner, svc)): Path<(String, String)>,
    forced: Option<Extension<Forced>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let forced = forced.map(|f| f.0);
    if svc != format!("{partner}.svc") || partner != PARTNER {
        return xml(
            StatusCode::NOT_FOUND,
            fault("s:Client", "The requested service is not available."),
        );
    }
    let action = headers
        .get("soapaction")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim_matches('"')
        .to_owned();
    let Some(op) = action
        .strip_prefix("http://tempuri.org/IRPXService/")
        .map(str::to_owned)
    else {
        return xml(
            StatusCode::INTERNAL_SERVER_ERROR,
            fault(
                "s:Client",
                "The message with Action '' cannot be processed at the receiver.",
            ),
        );
    };
    let Some(args) = leaves(&body) else {
        return xml(
            StatusCode::BAD_REQUEST,
            fault("s:Client", "The request is not well-formed XML."),
        );
    };
    let arg = |k: &str| args.get(k).map(String::as_str).unwrap_or_default();
    let authorized = state.read(|p| {
        p.credential("realpage").is_some_and(|c| {
            c.get("pmc-id") == Some(arg("pmcid"))
                && c.get("license-key") == Some(arg("licensekey"))
                && arg("system") == "Onesite"
        })
    });
    if forced == Some(Forced::AuthFailure) || !authorized {
        return xml(
            StatusCode::INTERNAL_SERVER_ERROR,
            fault(
                "s:Client",
                "LicenseKey is not authorized to call the method",
            ),
        );
    }
    let empty = forced == Some(Forced::Empty);
    let partial = forced == Some(Forced::PartialPage);
    let inner = state.read(|portfolio| {
        if op == "getsitelist" {
            let mut out = String::from("<sitelist>");
            for p in portfolio
                .properties
                .iter()
                .filter(|p| p.vendor == "realpage")
            {
                out.push_str("<site>");
                el(&mut out, "siteid", &p.id);
                el(&mut out, "sitename", &p.name);
                out.push_str("</site>");
            }
            out.push_str("</sitelist>");
            return Ok(out);
        }
        let Some(p) = portfolio.property("realpage", arg("siteid")) else {
            return Err(format!(
                "Site {} is not available to this license.",
                arg("siteid")
            ));
        };
        match op.as_str() {
            "getunitlist" | "unitlist" => Ok(units(p, empty)),
            "getresidentlistinfo" => Ok(residents(p, empty, partial)),
            other => Err(format!("Operation {other} is not supported.")),
        }
    });
    match inner {
        Ok(inner) => xml(
            StatusCode::OK,
            envelope(&format!(
                "<{op}Response xmlns=\"http://tempuri.org/\"><{op}Result>{inner}</{op}Result></{op}Response>"
            )),
        ),
        Err(message) => xml(
            StatusCode::INTERNAL_SERVER_ERROR,
            fault("s:Client", &message),
        ),
    }
}

fn units(p: &SimProperty, empty: bool) -> String {
    let mut out = String::from("<GetUnitList xmlns=\"\"><UnitObjects>");
    if !empty {
        for (i, u) in p.units.iter().enumerate() {
            out.push_str("<UnitObject>");
            el(&mut out, "PropertyNumberID", &p.id);
            out.push_str("<Address>");
            el(&mut out, "UnitID", &u.id);
            el(&mut out, "UnitNumber", &u.number);
            // As recorded: the building only as its id (no name).
            el(
                &mut out,
                "BuildingID",
                u.building.as_deref().unwrap_or_default(),
            );
            out.push_str("</Address><Availability>");
            el(
                &mut out,
                "VacantBit",
                match u.vacant {
                    Some(true) => "true",
                    Some(false) => "false",
                    None => "",
                },
            );
            el(
                &mut out,
                "VacantDate",
                if u.vacant == Some(true) {
                    "10/26/2026"
                } else {
                    ""
                },
            );
            out.push_str("</Availability><FloorPlan>");
            el(&mut out, "FloorPlanID", i % 4 + 1);
            el(
                &mut out,
                "FloorPlanName",
                u.floorplan.as_deref().unwrap_or_default(),
            );
            out.push_str("</FloorPlan></UnitObject>");
        }
    }
    out.push_str("</UnitObjects></GetUnitList>");
    out
}

fn residents(p: &SimProperty, empty: bool, partial: bool) -> String {
    let mut rows: Vec<&epms_model::Resident> = if empty {
        Vec::new()
    } else {
        p.residents.iter().collect()
    };
    if partial {
        rows.truncate(rows.len() / 2);
    }
    let idx = p.index();
    let mut out = String::from("<residentlist>");
    for r in rows {
        let lease = idx.lease(r.lease_id.as_deref());
        let unit = idx.unit(r.unit_id.as_deref());
        let notice = lease
            .filter(|l| l.status == LeaseStatus::Notice)
            .and_then(|l| l.start_date.as_deref());
        out.push_str("<resident>");
        el(
            &mut out,
            "residentid",
            r.lease_id.as_deref().unwrap_or_default(),
        );
        el(&mut out, "residentmemberid", &r.id);
        el(&mut out, "relationship", relationship(r.role));
        el(&mut out, "unitid", r.unit_id.as_deref().unwrap_or_default());
        el(
            &mut out,
            "unitnumber",
            unit.map(|u| u.number.as_str()).unwrap_or_default(),
        );
        el(&mut out, "firstname", &r.first_name);
        el(&mut out, "lastname", &r.last_name);
        el(&mut out, "email", p.wire_email(r).unwrap_or_default());
        el(&mut out, "homephone", "");
        el(
            &mut out,
            "cellphone",
            r.phone.as_deref().unwrap_or_default(),
        );
        el(
            &mut out,
            "leasestatus",
            lease.map(|l| l.raw_status.as_str()).unwrap_or_default(),
        );
        el(
            &mut out,
            "begindate",
            us_date(lease.and_then(|l| l.start_date.as_deref())),
        );
        el(
            &mut out,
            "enddate",
            us_date(lease.and_then(|l| l.end_date.as_deref())),
        );
        el(
            &mut out,
            "moveindate",
            us_date(lease.and_then(|l| l.move_in_date.as_deref())),
        );
        el(
            &mut out,
            "moveoutdate",
            us_date(lease.and_then(|l| l.move_out_date.as_deref())),
        );
        el(&mut out, "noticegivendate", us_date(notice));
        out.push_str("</resident>");
    }
    out.push_str("</residentlist>");
    out
}
