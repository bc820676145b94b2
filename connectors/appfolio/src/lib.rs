//! AppFolio connector: the reports API v2 (see README.md for the reports, the field
//! and status mappings and every assumption).

use std::cell::RefCell;
use std::rc::Rc;

use epms_connector_sdk::http::{Request, join};
use epms_connector_sdk::json::{self, Document, Value, json};
use epms_connector_sdk::record::Warnings;
use epms_connector_sdk::status::{self, Vocabulary};
use epms_connector_sdk::{
    Config, Connector, ConnectorError, ConnectorInfo, HouseholdRole, Lease, LeasePage, LeaseStatus,
    PmsProperty, Resident, ResidentPage, Unit, UnitPage, export_connector, field, secret,
};

pub const STATUSES: Vocabulary = &[
    ("Current", LeaseStatus::Current),
    ("Notice", LeaseStatus::Notice),
    ("Past", LeaseStatus::Past),
    ("Future", LeaseStatus::Future),
    // Eviction in progress: still living there, a current resident (docs/rules.md).
    ("Evict", LeaseStatus::Current),
];

pub struct AppFolio {
    base_url: String,
    client_id: String,
}

thread_local! {
    /// Rent-roll pages by URL: leases and the unit of each tenant come from them.
    /// Shared, not copied: a 5,000-unit rent roll is megabytes of JSON tree.
    static RENT_ROLL: RefCell<Vec<(String, Rc<Document>)>> = const { RefCell::new(Vec::new()) };
}

/// A report page: its rows and the next page's URL.
pub fn page_of<'v, 'a>(
    doc: &'v Value<'a>,
) -> Result<(Vec<&'v Value<'a>>, Option<String>), ConnectorError> {
    let rows = doc
        .get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| ConnectorError::Protocol("report answer without results".into()))?;
    let next = doc
        .get("next_page_url")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok((rows.iter().collect(), next))
}

fn role(raw: Option<String>, w: &mut Warnings) -> HouseholdRole {
    match raw.as_deref() {
        Some("Primary") => HouseholdRole::Primary,
        Some("Roommate") => HouseholdRole::CoResident,
        Some("Occupant") => HouseholdRole::Occupant,
        Some("Guarantor") => HouseholdRole::Guarantor,
        None => HouseholdRole::Primary,
        Some(other) => {
            w.push("role", format!("unknown tenant_type {other:?}"));
            HouseholdRole::Other
        }
    }
}

pub fn parse_units(rows: &[&Value]) -> Result<Vec<Unit>, ConnectorError> {
    rows.iter()
        .map(|u| {
            Ok(Unit {
                id: json::required(u, "unit_id")?,
                number: json::text(u, "unit_name").unwrap_or_default(),
                // The unit directory (recorded) names no building and no vacancy.
                building: None,
                floorplan: json::text(u, "unit_type"),
                vacant: None,
                warnings: vec![],
            })
        })
        .collect()
}

pub fn parse_tenants(rows: &[&Value]) -> Result<Vec<Resident>, ConnectorError> {
    rows.iter()
        .map(|t| {
            let mut w = Warnings::new();
            Ok(Resident {
                id: json::required(t, "selected_tenant_id")?,
                lease_id: json::text(t, "occupancy_id"),
                unit_id: json::text(t, "unit_id"),
                first_name: json::text(t, "first_name").unwrap_or_default(),
                last_name: json::text(t, "last_name").unwrap_or_default(),
                // Semicolon-separated: the first valid address.
                email: w.email("email", json::text_ref(t, "emails").as_deref()),
                phone: json::text(t, "phone_numbers"),
                role: role(json::text(t, "tenant_type"), &mut w),
                warnings: w.into_vec(),
            })
        })
        .collect()
}

pub fn parse_rent_roll(rows: &[&Value]) -> Result<Vec<Lease>, ConnectorError> {
    rows.iter()
        .map(|r| {
            let mut w = Warnings::new();
            let raw_status = json::text(r, "status").unwrap_or_default();
            let mut resident_ids: Vec<String> = json::text(r, "tenant_id").into_iter().collect();
            resident_ids.extend(
                json::text(r, "additional_tenant_ids")
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
            Ok(Lease {
                id: json::required(r, "occupancy_id")?,
                unit_id: json::text(r, "unit_id"),
                resident_ids,
                status: status::canonical(STATUSES, &raw_status),
                raw_status,
                start_date: w.date("start-date", json::text_ref(r, "lease_from").as_deref()),
                end_date: w.date("end-date", json::text_ref(r, "lease_to").as_deref()),
                move_in_date: w.date("move-in-date", json::text_ref(r, "move_in").as_deref()),
                move_out_date: w.date("move-out-date", json::text_ref(r, "move_out").as_deref()),
                warnings: w.into_vec(),
            })
        })
        .collect()
}

impl AppFolio {
    /// One report page: the first from the report's name and filter, the next from
    /// the cursor (AppFolio's `next_page_url`, POSTed with `{}`).
    fn report(
        &self,
        report: &str,
        property: &str,
        cursor: Option<&str>,
    ) -> Result<Document, ConnectorError> {
        let (url, body) = match cursor {
            Some(next) => {
                if !next.starts_with("/api/v2/reports/") {
                    return Err(ConnectorError::Protocol(format!(
                        "cursor {next:?} is not an AppFolio report URL"
                    )));
                }
                (join(&self.base_url, next), json!({}))
            }
            None if property.is_empty() => (
                format!("{}/api/v2/reports/{report}.json", self.base_url),
                json!({}),
            ),
            None => (
                format!("{}/api/v2/reports/{report}.json", self.base_url),
                json!({"properties": {"properties_ids": [property]}, "tenant_visibility": "all"}),
            ),
        };
        let resp = Request::post(url, "application/json", body.to_string())
            .header(
                "authorization",
                secret::basic_auth(&self.client_id, &secret::placeholder("client-secret")),
            )
            .send()?;
        if !resp.is_success() {
            return Err(resp.status_error(resp.text().unwrap_or_default().trim()));
        }
        Document::parse(resp.into_text()?)
    }
}

impl Connector for AppFolio {
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            vendor: "appfolio".into(),
            display_name: "AppFolio".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            config_fields: vec![
                field(
                    "base-url",
                    "Base URL",
                    "https://{database}.appfolio.com",
                    false,
                    true,
                ),
                field(
                    "client-id",
                    "Client ID",
                    "Reports API client id",
                    false,
                    true,
                ),
                field(
                    "client-secret",
                    "Client secret",
                    "Reports API client secret",
                    true,
                    true,
                ),
            ],
            status_vocabulary: status::raw_strings(STATUSES),
        }
    }

    fn new(config: Config) -> Result<Self, ConnectorError> {
        Ok(AppFolio {
            base_url: config.base_url()?.to_owned(),
            client_id: config.require("client-id")?.to_owned(),
        })
    }

    fn list_properties(&self) -> Result<Vec<PmsProperty>, ConnectorError> {
        let doc = self.report("property_directory", "", None)?;
        let (rows, _) = page_of(doc.root())?;
        Ok(rows
            .iter()
            .filter_map(|p| {
                Some(PmsProperty {
                    id: json::text(p, "property_id")?,
                    name: json::text(p, "property_name").unwrap_or_default(),
                })
            })
            .collect())
    }

    fn read_units(
        &self,
        property: &str,
        cursor: Option<String>,
    ) -> Result<UnitPage, ConnectorError> {
        let doc = self.report("unit_directory", property, cursor.as_deref())?;
        let (rows, next) = page_of(doc.root())?;
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
        let doc = self.report("tenant_directory", property, cursor.as_deref())?;
        let (rows, next) = page_of(doc.root())?;
        Ok(ResidentPage {
            records: parse_tenants(&rows)?,
            next,
        })
    }

    fn read_leases(
        &self,
        property: &str,
        cursor: Option<String>,
    ) -> Result<LeasePage, ConnectorError> {
        let key = cursor
            .clone()
            .unwrap_or_else(|| format!("first:{property}"));
        let cached = RENT_ROLL.with(|c| {
            c.borrow()
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.clone())
        });
        let doc = match cached {
            Some(doc) => doc,
            None => {
                let doc = Rc::new(self.report("rent_roll", property, cursor.as_deref())?);
                RENT_ROLL.with(|c| c.borrow_mut().push((key, Rc::clone(&doc))));
                doc
            }
        };
        let (rows, next) = page_of(doc.root())?;
        Ok(LeasePage {
            records: parse_rent_roll(&rows)?,
            next,
        })
    }
}

export_connector!(AppFolio);

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value<'static> {
        json::parse(&epms_connector_sdk::recordings::read("appfolio", name))
            .unwrap()
            .into_owned()
    }

    /// Regression: the `1970-01-01` move-in placeholder passed as a real date.
    #[test]
    fn the_recorded_rent_roll_row_reads_int_ids_and_drops_the_epoch_placeholder() {
        let row = fixture("rent_roll.row.json");
        let leases = parse_rent_roll(&[&row]).unwrap();
        let l = &leases[0];
        assert_eq!(l.id, "137", "occupancy_id is an int");
        assert_eq!(l.unit_id.as_deref(), Some("157"));
        assert_eq!(l.resident_ids, ["137"], "additional_tenant_ids: null");
        assert_eq!(
            (l.raw_status.as_str(), l.status),
            ("Current", LeaseStatus::Current)
        );
        assert_eq!(l.start_date, None, "lease_from: null");
        assert_eq!(l.end_date.as_deref(), Some("2026-10-31"));
        assert_eq!(l.move_in_date, None, "1970-01-01 is AppFolio's 'no date'");
        assert!(l.warnings.is_empty());
    }

    #[test]
    fn the_recorded_unit_directory_row_reads() {
        let row = fixture("unit_directory.row.json");
        let units = parse_units(&[&row]).unwrap();
        assert_eq!(
            (units[0].id.as_str(), units[0].number.as_str()),
            ("342", "1")
        );
        assert_eq!(units[0].vacant, None);
    }

    #[test]
    fn tenants_take_the_first_of_semicolon_separated_emails() {
        let doc = Value::from(json!({"results": [
            {"selected_tenant_id": 11, "occupancy_id": 7, "unit_id": 3, "first_name": "Ann", "last_name": "Lee",
             "emails": "ann@x.com; ann.work@y.com", "phone_numbers": "555", "status": "Current", "tenant_type": "Primary"},
            {"selected_tenant_id": 12, "occupancy_id": 7, "unit_id": 3, "first_name": "Bo", "last_name": "Lee",
             "emails": "bo at x.com", "tenant_type": "Roommate"},
            {"selected_tenant_id": 13, "occupancy_id": 7, "emails": "", "tenant_type": "Landlord"}
        ], "next_page_url": "/api/v2/reports/tenant_directory.json?page=2"}));
        let (rows, next) = page_of(&doc).unwrap();
        assert_eq!(
            next.as_deref(),
            Some("/api/v2/reports/tenant_directory.json?page=2")
        );
        let t = parse_tenants(&rows).unwrap();
        assert_eq!(t[0].id, "11");
        assert_eq!(t[0].email.as_deref(), Some("ann@x.com"));
        assert!(matches!(t[1].role, HouseholdRole::CoResident));
        assert_eq!(t[1].email, None);
        assert_eq!(t[1].warnings[0].field, "email");
        assert!(matches!(t[2].role, HouseholdRole::Other));
        assert_eq!(t[2].email, None);
    }

    #[test]
    fn the_rent_roll_gives_leases_with_their_tenants() {
        let doc = Value::from(
            json!({"results": [{"occupancy_id": 7, "unit_id": 3, "tenant_id": 11, "additional_tenant_ids": "12, 13",
            "status": "Evict", "lease_from": "01/01/2025", "lease_to": "", "move_in": "01/02/2025", "move_out": null}], "next_page_url": null}),
        );
        let (rows, next) = page_of(&doc).unwrap();
        assert_eq!(next, None);
        let l = &parse_rent_roll(&rows).unwrap()[0];
        assert_eq!(l.resident_ids, ["11", "12", "13"]);
        assert!(
            matches!(l.status, LeaseStatus::Current),
            "eviction in progress is current"
        );
        assert_eq!(l.raw_status, "Evict");
        assert_eq!(l.start_date.as_deref(), Some("2025-01-01"));
        assert_eq!(l.end_date, None);
    }

    #[test]
    fn an_answer_without_results_is_a_protocol_error() {
        assert!(matches!(
            page_of(&Value::from(json!({"error": "x"}))),
            Err(ConnectorError::Protocol(_))
        ));
    }
}
