//! MRI connector: the OData-style `api.asp` REST API (see README.md for the APIs, the
//! field and status mappings and every assumption).

use std::cell::RefCell;

use epms_connector_sdk::http::{Request, join};
use epms_connector_sdk::json::{self, Value};
use epms_connector_sdk::record::Warnings;
use epms_connector_sdk::status::{self, Vocabulary};
use epms_connector_sdk::{
    Config, Connector, ConnectorError, ConnectorInfo, HouseholdRole, Lease, LeasePage, LeaseStatus,
    PmsProperty, Resident, ResidentPage, Unit, UnitPage, export_connector, field, paging, secret,
};

/// A lease's raw status is its primary's `ResidentStatus`. `Current` with a
/// `LeaseMoveOut` date is a notice (see `canonical`).
pub const STATUSES: Vocabulary = &[
    ("Current", LeaseStatus::Current),
    ("Old", LeaseStatus::Past),
    ("Pending", LeaseStatus::Future),
];

/// Rows per page asked of MRI.
pub const TOP: usize = 500;

pub struct Mri {
    base_url: String,
    user: String,
}

thread_local! {
    /// Every lease of the last property read in this instance. MRI pages rows (one
    /// per person and lease), not leases: a lease may straddle two pages, so all rows
    /// are read and merged first, then handed out in pages.
    static LEASES: RefCell<Option<(String, Vec<Lease>)>> = const { RefCell::new(None) };
}

/// Leases handed to the host per page.
pub const LEASES_PER_PAGE: usize = 1_000;

/// The canonical status of a lease row: `IsCurrent` Y with a move-out date is notice.
pub fn canonical(raw: &str, is_current: bool, move_out: bool) -> LeaseStatus {
    match status::canonical(STATUSES, raw) {
        LeaseStatus::Current if !is_current => LeaseStatus::Past,
        LeaseStatus::Current if move_out => LeaseStatus::Notice,
        other => other,
    }
}

fn role(raw: Option<String>, w: &mut Warnings) -> HouseholdRole {
    match raw.as_deref() {
        Some("Resident") => HouseholdRole::Primary,
        Some("Co-Resident") => HouseholdRole::CoResident,
        Some("Occupant") => HouseholdRole::Occupant,
        Some("Guarantor") => HouseholdRole::Guarantor,
        None => HouseholdRole::Other,
        Some(other) => {
            w.push("role", format!("unknown ResidentType {other:?}"));
            HouseholdRole::Other
        }
    }
}

/// An OData page: its rows and the next link.
pub fn page_of(doc: &Value) -> Result<(Vec<&Value>, Option<String>), ConnectorError> {
    let rows = doc
        .get("value")
        .and_then(Value::as_array)
        .ok_or_else(|| ConnectorError::Protocol("answer without value".into()))?;
    Ok((
        rows.iter().collect(),
        doc.get("nextLink")
            .and_then(Value::as_str)
            .map(str::to_owned),
    ))
}

fn required(row: &Value, key: &str) -> Result<String, ConnectorError> {
    json::text(row, key).ok_or_else(|| ConnectorError::Protocol(format!("row without {key}")))
}

pub fn parse_units(rows: &[&Value]) -> Result<Vec<Unit>, ConnectorError> {
    rows.iter()
        .map(|u| {
            Ok(Unit {
                id: required(u, "UnitID")?,
                number: json::text(u, "UnitDescription").unwrap_or_default(),
                building: json::text(u, "BuildingID"),
                floorplan: json::text(u, "FloorplanName"),
                vacant: match json::text(u, "Vacant").as_deref() {
                    Some("Y") => Some(true),
                    Some("N") => Some(false),
                    _ => None,
                },
                warnings: vec![],
            })
        })
        .collect()
}

pub fn parse_residents(rows: &[&Value]) -> Result<Vec<Resident>, ConnectorError> {
    rows.iter()
        .map(|r| {
            let mut w = Warnings::new();
            Ok(Resident {
                id: required(r, "ResidentNameID")?,
                lease_id: json::text(r, "RMLEASEID"),
                unit_id: json::text(r, "UNITID"),
                first_name: json::text(r, "FirstName").unwrap_or_default(),
                last_name: json::text(r, "LastName").unwrap_or_default(),
                email: w.email("email", json::text(r, "Email").as_deref()),
                phone: json::text(r, "PhoneNumber"),
                role: role(json::text(r, "ResidentType"), &mut w),
                warnings: w.into_vec(),
            })
        })
        .collect()
}

/// Leases from lease-detail rows (one row per person and lease), in first-seen order.
pub fn parse_leases(rows: &[&Value]) -> Result<Vec<Lease>, ConnectorError> {
    let mut out: Vec<Lease> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for row in rows {
        let id = required(row, "LeaseID")?;
        let person = required(row, "ResidentNameID")?;
        let i = match at.get(&id) {
            Some(&i) => i,
            None => {
                at.insert(id.clone(), out.len());
                out.push(Lease {
                    id: id.clone(),
                    unit_id: json::text(row, "UnitID"),
                    resident_ids: vec![],
                    raw_status: String::new(),
                    status: LeaseStatus::Other,
                    start_date: None,
                    end_date: None,
                    move_in_date: None,
                    move_out_date: None,
                    warnings: vec![],
                });
                out.len() - 1
            }
        };
        let lease = &mut out[i];
        lease.resident_ids.push(person);
        // The primary's row carries the lease's status and dates.
        if json::text(row, "ResidentType").as_deref() == Some("Resident")
            || lease.raw_status.is_empty()
        {
            let mut w = Warnings::new();
            let raw = json::text(row, "ResidentStatus").unwrap_or_default();
            lease.start_date = w.date("start-date", json::text(row, "LeaseStart").as_deref());
            lease.end_date = w.date("end-date", json::text(row, "LeaseEnd").as_deref());
            lease.move_in_date = w.date("move-in-date", json::text(row, "OccupyDate").as_deref());
            lease.move_out_date =
                w.date("move-out-date", json::text(row, "LeaseMoveOut").as_deref());
            let is_current = json::text(row, "IsCurrent").as_deref() == Some("Y");
            lease.status = canonical(&raw, is_current, lease.move_out_date.is_some());
            lease.raw_status = raw;
            lease.warnings = w.into_vec();
        }
    }
    Ok(out)
}

impl Mri {
    fn get(&self, url: &str) -> Result<Value, ConnectorError> {
        let resp = Request::get(url)
            .header(
                "authorization",
                secret::basic_auth(
                    &format!("{}/{}", self.user, secret::placeholder("partner-key")),
                    &secret::placeholder("password"),
                ),
            )
            .header("accept", "application/json")
            .send()?;
        if !resp.is_success() {
            let message = json::parse(resp.text().unwrap_or_default())
                .ok()
                .and_then(|d| {
                    json::path(&d, &["error", "message"])
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .unwrap_or_default();
            return Err(resp.status_error(&message));
        }
        json::parse(resp.text()?)
    }

    fn api(&self, api: &str, params: &str, cursor: Option<&str>) -> Result<Value, ConnectorError> {
        let url = match cursor {
            Some(link) if link.starts_with("/mriapiservices/") => join(&self.base_url, link),
            Some(other) => {
                return Err(ConnectorError::Protocol(format!(
                    "cursor {other:?} is not an MRI link"
                )));
            }
            None => format!(
                "{}/mriapiservices/api.asp?$api=MRI_S-PMRM_{api}&$format=json{params}&$top={TOP}",
                self.base_url
            ),
        };
        self.get(&url)
    }

    /// Every lease of a property: lease details, then pending move-ins, all pages.
    fn all_leases(&self, property: &str) -> Result<Vec<Lease>, ConnectorError> {
        let params = format!("&RMPROPID={property}");
        let mut rows = Vec::new();
        for api in ["ResidentLeaseDetailsByPropertyID", "PendingMoveIns"] {
            let mut link: Option<String> = None;
            loop {
                let doc = self.api(api, &params, link.as_deref())?;
                let (page, next) = page_of(&doc)?;
                rows.extend(page.into_iter().cloned());
                match next {
                    Some(n) if Some(&n) != link.as_ref() => link = Some(n),
                    Some(n) => {
                        return Err(ConnectorError::Protocol(format!("nextLink {n:?} repeats")));
                    }
                    None => break,
                }
            }
        }
        let refs: Vec<&Value> = rows.iter().collect();
        parse_leases(&refs)
    }
}

impl Connector for Mri {
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            vendor: "mri".into(),
            display_name: "MRI Residential".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            config_fields: vec![
                field(
                    "base-url",
                    "Base URL",
                    "Your MRI API host, e.g. https://mrix5api.saas.mrisoftware.com",
                    false,
                    true,
                ),
                field("client-id", "Client ID", "MRI client id", false, true),
                field("database", "Database", "MRI database name", false, true),
                field("web-user", "Web user", "API web user", false, true),
                field(
                    "partner-key",
                    "Partner key",
                    "Vendor partner key",
                    true,
                    true,
                ),
                field("password", "Password", "Web user's password", true, true),
            ],
            status_vocabulary: status::raw_strings(STATUSES),
        }
    }

    fn new(config: Config) -> Result<Self, ConnectorError> {
        let user = format!(
            "{}/{}/{}",
            config.require("client-id")?,
            config.require("database")?,
            config.require("web-user")?
        );
        Ok(Mri {
            base_url: config.base_url()?.to_owned(),
            user,
        })
    }

    fn list_properties(&self) -> Result<Vec<PmsProperty>, ConnectorError> {
        let doc = self.api("PropertyList", "", None)?;
        let (rows, _) = page_of(&doc)?;
        Ok(rows
            .iter()
            .filter_map(|p| {
                Some(PmsProperty {
                    id: json::text(p, "PropertyID")?,
                    name: json::text(p, "PropertyName").unwrap_or_default(),
                })
            })
            .collect())
    }

    fn read_units(
        &self,
        property: &str,
        cursor: Option<String>,
    ) -> Result<UnitPage, ConnectorError> {
        let doc = self.api(
            "UnitVacancyInformation",
            &format!("&PROPERTYID={property}"),
            cursor.as_deref(),
        )?;
        let (rows, next) = page_of(&doc)?;
        Ok(UnitPage {
            records: parse_units(&rows)?,
            next,
        })
    }

    fn read_residents(
        &self,
        property: &str,
        cursor: Option<String>,
    ) -> Result<ResidentPage, ConnectorError> {
        let doc = self.api(
            "ResidentsByPropertyID",
            &format!("&RMPROPID={property}"),
            cursor.as_deref(),
        )?;
        let (rows, next) = page_of(&doc)?;
        Ok(ResidentPage {
            records: parse_residents(&rows)?,
            next,
        })
    }

    fn read_leases(
        &self,
        property: &str,
        cursor: Option<String>,
    ) -> Result<LeasePage, ConnectorError> {
        let cached = LEASES.with(|c| {
            c.borrow()
                .as_ref()
                .filter(|(p, _)| p == property)
                .map(|(_, l)| l.clone())
        });
        let leases = match (cached, &cursor) {
            (Some(leases), Some(_)) => leases,
            _ => {
                let leases = self.all_leases(property)?;
                LEASES.with(|c| *c.borrow_mut() = Some((property.to_owned(), leases.clone())));
                leases
            }
        };
        let (records, next) = paging::slice(&leases, cursor.as_deref(), LEASES_PER_PAGE)?;
        Ok(LeasePage { records, next })
    }
}

export_connector!(Mri);

#[cfg(test)]
mod tests {
    use super::*;
    use epms_connector_sdk::xml;

    /// The recorded XML answer (`$format=xml`) as rows like the JSON ones.
    fn recorded_rows() -> Vec<Value> {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures/real/mri/ResidentLeaseDetailsByPropertyID.xml"
        ))
        .unwrap();
        let root = xml::parse(&text).unwrap();
        root.children("entry")
            .map(|e| {
                let mut row = json::Map::new();
                for c in &e.children {
                    if let Some(t) = c.trimmed() {
                        row.insert(c.name.clone(), Value::String(t.to_owned()));
                    }
                }
                // The recording predates ResidentType: its first person per lease is the primary.
                Value::Object(row)
            })
            .collect()
    }

    #[test]
    fn the_recorded_answer_parses_with_its_quirks() {
        let rows = recorded_rows();
        let refs: Vec<&Value> = rows.iter().collect();
        let leases = parse_leases(&refs).unwrap();
        assert!(!leases.is_empty());
        // Dates with seven fractional digits; empty elements are missing values.
        assert!(
            leases
                .iter()
                .any(|l| l.move_out_date.as_deref().is_some_and(|d| d.len() == 10))
        );
        assert!(leases.iter().any(|l| l.start_date.is_none()));
        // Old + IsCurrent N is past; Current + IsCurrent Y with a past move-out is a notice.
        assert!(
            leases
                .iter()
                .any(|l| l.raw_status == "Old" && matches!(l.status, LeaseStatus::Past))
        );
        assert!(
            leases.iter().all(|l| l.warnings.is_empty()),
            "every recorded date reads"
        );
    }

    #[test]
    fn notice_is_current_with_a_move_out_date() {
        assert!(matches!(
            canonical("Current", true, true),
            LeaseStatus::Notice
        ));
        assert!(matches!(
            canonical("Current", true, false),
            LeaseStatus::Current
        ));
        assert!(matches!(
            canonical("Current", false, false),
            LeaseStatus::Past
        ));
        assert!(matches!(
            canonical("Pending", false, false),
            LeaseStatus::Future
        ));
        assert!(matches!(
            canonical("Co-Resident", true, false),
            LeaseStatus::Other
        ));
    }

    #[test]
    fn residents_read_type_and_a_malformed_email() {
        let doc = json::json!({"value": [
            {"ResidentNameID": "WF0001", "RMLEASEID": "1", "UNITID": "101", "ResidentType": "Co-Resident", "FirstName": "Ann", "LastName": "Lee", "Email": "ann at x"}
        ], "nextLink": "/mriapiservices/api.asp?$api=X&$skip=500"});
        let (rows, next) = page_of(&doc).unwrap();
        assert!(next.is_some());
        let r = &parse_residents(&rows).unwrap()[0];
        assert!(matches!(r.role, HouseholdRole::CoResident));
        assert_eq!(r.email, None);
        assert_eq!(r.warnings[0].field, "email");
    }
}
