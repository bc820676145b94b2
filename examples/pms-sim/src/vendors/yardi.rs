//! Yardi Voyager: SOAP 1.1 with MITS-style XML (docs/vendors.md, "Yardi Voyager").
//!
//! - `POST {base}/webservices/ItfResidentData.asmx`, `Content-Type: text/xml`,
//!   `SOAPAction: http://tempuri.org/YSI.Interfaces.WebServices/ItfResidentData/{Op}`.
//! - Credentials in every body: `UserName, Password, ServerName, Database, Platform`
//!   ("SQL Server"), `InterfaceEntity, InterfaceLicense`, plus `YardiPropertyId`.
//! - `GetResidents(YardiPropertyId, MoveOut1)`: `MITS-ResidentData xmlns=""` /
//!   `PropertyResidents[@Code]/Residents/Resident[@tCode]` with `Status, FirstName,
//!   LastName, Email, Phone, UnitCode, LeaseFromDate, LeaseToDate, MoveInDate,
//!   MoveOutDate, NoticeDate` (dates `MM/DD/YYYY`, empty elements when unknown) and the
//!   household as `OtherOccupants/OtherOccupant[@Code]`. The tenant code is the lease
//!   key; roommate codes start with `r`. Low confidence, our choice: an occupant's
//!   `Relationship` (Roommate, Occupant, Guarantor).
//! - `GetUnitInformation(YardiPropertyId)`: served in the shape of the only recorded Yardi
//!   unit answer (`GetUnitInformation_Login`, see `units`), `UnitID` the unit code that
//!   residents' `UnitCode` names (the dataset's unit numbers become the codes).
//! - `GetPropertyConfigurations` (medium-low; served here on ItfResidentData):
//!   `Properties/Property/{Code, MarketingName}` as recorded.
//! - No pagination: a whole property per answer.
//! - Errors inside HTTP 200: a wrong user or password gives
//!   `<Messages><Message messageType="Error">Login failed.</Message></Messages>`; a wrong
//!   interface entity or license gives the numeric result `-3`; a property the entity
//!   cannot see gives `-2`.
//! - Statuses: Current, Future, Past, Notice, Eviction, Applicant, Wait List, Denied,
//!   Canceled.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use epms_model::{HouseholdRole, LeaseStatus};

use crate::SimState;
use crate::dataset::{SimCredential, SimProperty};
use crate::faults::Forced;
use crate::vendors::soap::{el, envelope, esc, leaves, push_escaped};
use crate::vendors::us_date;

pub const NS: &str = "http://tempuri.org/YSI.Interfaces.WebServices/ItfResidentData";

pub fn default_credential() -> SimCredential {
    SimCredential {
        vendor: "yardi".into(),
        fields: vec![
            ("username".into(), "epms_ws".into()),
            ("password".into(), "yardi-pass-3301".into()),
            ("server-name".into(), "voyager_sim".into()),
            ("database".into(), "vsim_live".into()),
            ("interface-entity".into(), "DOOR ePMS".into()),
            (
                "interface-license".into(),
                "MIIBEDCCAYECAQEwDQYJ-sim-license".into(),
            ),
        ],
    }
}

pub fn raw_status(status: LeaseStatus) -> &'static str {
    match status {
        LeaseStatus::Applicant => "Applicant",
        LeaseStatus::Future => "Future",
        LeaseStatus::Current => "Current",
        LeaseStatus::Notice => "Notice",
        LeaseStatus::Past => "Past",
        LeaseStatus::Cancelled => "Canceled",
        LeaseStatus::Denied => "Denied",
        LeaseStatus::Other => "Wait List",
    }
}

fn relationship(role: HouseholdRole) -> &'static str {
    match role {
        HouseholdRole::CoResident => "Roommate",
        HouseholdRole::Occupant => "Occupant",
        HouseholdRole::Guarantor => "Guarantor",
        HouseholdRole::Primary | HouseholdRole::Other => "Other",
    }
}

pub fn router(state: SimState) -> Router {
    Router::new()
        .route("/webservices/ItfResidentData.asmx", post(endpoint))
        .with_state(state)
}

fn xml(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "text/xml; charset=utf-8")], body).into_response()
}

fn result(op: &str, inner: &str) -> Response {
    xml(
        StatusCode::OK,
        envelope(&format!(
            "<{op}Response xmlns=\"{NS}\"><{op}Result>{inner}</{op}Result></{op}Response>"
        )),
    )
}

async fn endpoint(
    State(state): State<SimState>,
    forced: Option<Extension<Forced>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let forced = forced.map(|f| f.0);
    let action = headers
        .get("soapaction")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim_matches('"')
        .to_owned();
    let Some(op) = action.strip_prefix(&format!("{NS}/")).map(str::to_owned) else {
        return xml(
            StatusCode::INTERNAL_SERVER_ERROR,
            crate::vendors::soap::fault(
                "soap:Client",
                "Server did not recognize the value of HTTP Header SOAPAction.",
            ),
        );
    };
    let Some(args) = leaves(&body) else {
        return xml(
            StatusCode::BAD_REQUEST,
            crate::vendors::soap::fault("soap:Client", "The request is not well-formed XML."),
        );
    };
    let arg = |k: &str| args.get(k).map(String::as_str).unwrap_or_default();
    let cred = state.read(|p| p.credential("yardi").cloned());
    let Some(cred) = cred else {
        return result(&op, "-3");
    };
    let ok = |field: &str, name: &str| cred.get(field) == Some(arg(name));
    if forced == Some(Forced::AuthFailure)
        || !ok("username", "UserName")
        || !ok("password", "Password")
    {
        return result(
            &op,
            "<Messages><Message messageType=\"Error\">Login failed.</Message></Messages>",
        );
    }
    if !ok("interface-entity", "InterfaceEntity")
        || !ok("interface-license", "InterfaceLicense")
        || !ok("database", "Database")
        || !ok("server-name", "ServerName")
        || arg("Platform") != "SQL Server"
    {
        return result(&op, "-3");
    }
    let empty = forced == Some(Forced::Empty);
    let partial = forced == Some(Forced::PartialPage);
    let answer = state.read(|portfolio| {
        if op == "GetPropertyConfigurations" {
            let props: String = portfolio
                .properties
                .iter()
                .filter(|p| p.vendor == "yardi")
                .fold(String::new(), |mut out, p| {
                    out.push_str("<Property>");
                    el(&mut out, "Code", &p.id);
                    el(&mut out, "MarketingName", &p.name);
                    out.push_str("</Property>");
                    out
                });
            return Some(format!("<Properties xmlns=\"\">{props}</Properties>"));
        }
        let p = portfolio.property("yardi", arg("YardiPropertyId"))?;
        Some(match op.as_str() {
            "GetResidents" => residents(p, empty, partial),
            "GetUnitInformation" => units(p, empty),
            _ => return Some(String::from("<Messages><Message messageType=\"Error\">Unknown operation.</Message></Messages>")),
        })
    });
    match answer {
        Some(inner) => result(&op, &inner),
        None => result(&op, "-2"),
    }
}

fn residents(p: &SimProperty, empty: bool, partial: bool) -> String {
    let mut leases: Vec<&epms_model::Lease> = if empty {
        Vec::new()
    } else {
        p.leases.iter().collect()
    };
    if partial {
        leases.truncate(leases.len() / 2);
    }
    let idx = p.index();
    let mut out = format!(
        "<MITS-ResidentData xmlns=\"\"><PropertyResidents Code=\"{}\"><Residents>",
        esc(&p.id)
    );
    for l in leases {
        let members: Vec<&epms_model::Resident> = l
            .resident_ids
            .iter()
            .filter_map(|id| idx.resident(id))
            .collect();
        let Some(primary) = members.iter().find(|r| r.role == HouseholdRole::Primary) else {
            continue;
        };
        out.push_str("<Resident tCode=\"");
        push_escaped(&mut out, &l.id);
        out.push_str("\" pCode=\"p");
        push_escaped(&mut out, &p.id);
        out.push_str("\">");
        el(&mut out, "Status", &l.raw_status);
        el(&mut out, "FirstName", &primary.first_name);
        el(&mut out, "LastName", &primary.last_name);
        el(&mut out, "Email", p.wire_email(primary).unwrap_or_default());
        phone(&mut out, primary.phone.as_deref());
        el(
            &mut out,
            "UnitCode",
            l.unit_id.as_deref().unwrap_or_default(),
        );
        el(&mut out, "LeaseFromDate", us_date(l.start_date.as_deref()));
        el(&mut out, "LeaseToDate", us_date(l.end_date.as_deref()));
        el(&mut out, "MoveInDate", us_date(l.move_in_date.as_deref()));
        el(&mut out, "MoveOutDate", us_date(l.move_out_date.as_deref()));
        out.push_str("<NoticeDate/>");
        let others: Vec<&&epms_model::Resident> =
            members.iter().filter(|r| r.id != primary.id).collect();
        if !others.is_empty() {
            out.push_str("<OtherOccupants>");
            for o in others {
                out.push_str("<OtherOccupant Code=\"");
                push_escaped(&mut out, &o.id);
                out.push_str("\">");
                el(&mut out, "FirstName", &o.first_name);
                el(&mut out, "LastName", &o.last_name);
                el(&mut out, "Email", p.wire_email(o).unwrap_or_default());
                phone(&mut out, o.phone.as_deref());
                el(&mut out, "Relationship", relationship(o.role));
                out.push_str("</OtherOccupant>");
            }
            out.push_str("</OtherOccupants>");
        }
        out.push_str("</Resident>");
    }
    out.push_str("</Residents></PropertyResidents></MITS-ResidentData>");
    out
}

fn phone(out: &mut String, number: Option<&str>) {
    out.push_str("<Phone PhoneType=\"cell\"><PhoneDescription>Mobile</PhoneDescription>");
    if let Some(n) = number {
        el(out, "PhoneNumber", n);
    }
    out.push_str("</Phone>");
}

/// In the recorded shape (`GetUnitInformation_Login`): a unit per customer on it
/// (`RT_Customer/{CustomerID, RT_Unit}`), the status text in `CustomerID` for a vacant
/// unit, fields under the `MITS:` prefix, the vacancy in
/// `UnitEconomicStatusDescription`; a unit with two leases appears twice.
fn units(p: &SimProperty, empty: bool) -> String {
    let mut out = String::from(
        "<PhysicalProperty xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:MITS=\"http://my-company.com/namespace\" xmlns=\"\"><Property>",
    );
    if !empty {
        let idx = p.index();
        for (i, u) in p.units.iter().enumerate() {
            let customers: Vec<&str> = idx.leases_of_unit(&u.id).map(|l| l.id.as_str()).collect();
            let status = match u.vacant {
                Some(true) => "Vacant Unrented Not Ready",
                Some(false) => "Occupied No Notice",
                None => "Model",
            };
            let first = customers.first().copied().unwrap_or(status);
            let mut rows = vec![first];
            rows.extend(customers.iter().skip(1));
            for customer in rows {
                out.push_str("<RT_Customer>");
                el(&mut out, "CustomerID", customer);
                out.push_str("<RT_Unit>");
                el(&mut out, "UnitID", &u.id);
                el(&mut out, "UnitIDValue", 17_000 + i);
                out.push_str("<Unit><MITS:Information>");
                el(&mut out, "MITS:UnitID", &u.id);
                el(&mut out, "MITS:UnitEconomicStatus", "Residential");
                el(&mut out, "MITS:UnitEconomicStatusDescription", status);
                el(
                    &mut out,
                    "MITS:FloorplanName",
                    u.floorplan.as_deref().unwrap_or_default(),
                );
                el(
                    &mut out,
                    "MITS:BuildingID",
                    u.building.as_deref().unwrap_or_default(),
                );
                out.push_str("</MITS:Information>");
                el(&mut out, "MITS:PropertyPrimaryID", &p.id);
                out.push_str("</Unit></RT_Unit></RT_Customer>");
            }
        }
    }
    out.push_str("</Property></PhysicalProperty>");
    out
}
