//! Acme's wire format and the `Connector` impl: pure `parse_*` functions (unit-tested
//! natively below) and a thin layer that calls HTTP.

use epms_connector_sdk::http::{Request, Response};
use epms_connector_sdk::json::{self, Document, Value};
use epms_connector_sdk::record::Warnings;
use epms_connector_sdk::status;
use epms_connector_sdk::{
    Config, Connector, ConnectorError, ConnectorInfo, HouseholdRole, Lease, LeasePage, PmsProperty,
    Resident, ResidentPage, Unit, UnitPage, export_connector, field, paging, secret,
};

use crate::statuses::STATUSES;

pub struct Acme {
    base_url: String,
}

impl Acme {
    fn get(&self, path: &str) -> Result<Document, ConnectorError> {
        let resp = Request::get(format!("{}{path}", self.base_url))
            .header(
                "authorization",
                format!("Bearer {}", secret::placeholder("api-token")),
            )
            .header("accept", "application/json")
            .send()?;
        Document::parse(checked(resp)?.into_text()?)
    }

    fn page_path(
        property: &str,
        what: &str,
        cursor: Option<&str>,
    ) -> Result<String, ConnectorError> {
        let page = paging::page_number(cursor, 1)?;
        Ok(format!("/api/properties/{property}/{what}?page={page}"))
    }
}

fn checked(resp: Response) -> Result<Response, ConnectorError> {
    if resp.is_success() {
        Ok(resp)
    } else {
        Err(resp.status_error(""))
    }
}

fn next_cursor(doc: &Value) -> Option<String> {
    doc.get("next_page")
        .and_then(Value::as_u64)
        .map(|n| paging::page_cursor(n as u32))
}

/// A list under `key`; its absence means the answer is not what Acme sends.
fn records<'v, 'a>(doc: &'v Value<'a>, key: &str) -> Result<&'v Vec<Value<'a>>, ConnectorError> {
    doc.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| ConnectorError::Protocol(format!("answer has no {key:?} list")))
}

/// A record without an id cannot be referred to: a protocol error for the page.
fn id(v: &Value) -> Result<String, ConnectorError> {
    json::text(v, "id").ok_or_else(|| ConnectorError::Protocol("record without id".into()))
}

pub fn parse_properties(doc: &Value) -> Result<Vec<PmsProperty>, ConnectorError> {
    records(doc, "properties")?
        .iter()
        .map(|p| {
            Ok(PmsProperty {
                id: id(p)?,
                name: json::text(p, "name").unwrap_or_default(),
            })
        })
        .collect()
}

pub fn parse_units(doc: &Value) -> Result<UnitPage, ConnectorError> {
    let records = records(doc, "units")?
        .iter()
        .map(|u| {
            Ok(Unit {
                id: id(u)?,
                number: json::text(u, "number").unwrap_or_default(),
                building: json::text(u, "building"),
                floorplan: json::text(u, "floorplan"),
                vacant: u.get("vacant").and_then(Value::as_bool),
                warnings: vec![],
            })
        })
        .collect::<Result<_, ConnectorError>>()?;
    Ok(UnitPage {
        records,
        next: next_cursor(doc),
    })
}

fn role(raw: Option<String>, w: &mut Warnings) -> HouseholdRole {
    match raw.as_deref() {
        Some("primary") => HouseholdRole::Primary,
        Some("co-resident") => HouseholdRole::CoResident,
        Some("occupant") => HouseholdRole::Occupant,
        Some("guarantor") => HouseholdRole::Guarantor,
        None => HouseholdRole::Other,
        Some(other) => {
            w.push("role", format!("unknown role {other:?}"));
            HouseholdRole::Other
        }
    }
}

pub fn parse_residents(doc: &Value) -> Result<ResidentPage, ConnectorError> {
    let records = records(doc, "residents")?
        .iter()
        .map(|r| {
            let mut w = Warnings::new();
            Ok(Resident {
                id: id(r)?,
                lease_id: json::text(r, "lease_id"),
                unit_id: json::text(r, "unit_id"),
                first_name: json::text(r, "first_name").unwrap_or_default(),
                last_name: json::text(r, "last_name").unwrap_or_default(),
                email: w.email("email", json::text_ref(r, "email").as_deref()),
                phone: json::text(r, "phone"),
                role: role(json::text(r, "role"), &mut w),
                warnings: w.into_vec(),
            })
        })
        .collect::<Result<_, ConnectorError>>()?;
    Ok(ResidentPage {
        records,
        next: next_cursor(doc),
    })
}

pub fn parse_leases(doc: &Value) -> Result<LeasePage, ConnectorError> {
    let records = records(doc, "leases")?
        .iter()
        .map(|l| {
            let mut w = Warnings::new();
            let raw_status = json::text(l, "status").unwrap_or_default();
            Ok(Lease {
                id: id(l)?,
                unit_id: json::text(l, "unit_id"),
                resident_ids: json::list(l.get("resident_ids"))
                    .into_iter()
                    .filter_map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .or_else(|| v.as_u64().map(|n| n.to_string()))
                    })
                    .collect(),
                status: status::canonical(STATUSES, &raw_status),
                raw_status,
                start_date: w.date("start-date", json::text_ref(l, "start_date").as_deref()),
                end_date: w.date("end-date", json::text_ref(l, "end_date").as_deref()),
                move_in_date: w.date("move-in-date", json::text_ref(l, "move_in").as_deref()),
                move_out_date: w.date("move-out-date", json::text_ref(l, "move_out").as_deref()),
                warnings: w.into_vec(),
            })
        })
        .collect::<Result<_, ConnectorError>>()?;
    Ok(LeasePage {
        records,
        next: next_cursor(doc),
    })
}

impl Connector for Acme {
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            vendor: "acme".into(),
            display_name: "Acme PMS (template)".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            config_fields: vec![
                field(
                    "base-url",
                    "Base URL",
                    "e.g. https://acme.example.com",
                    false,
                    true,
                ),
                field(
                    "api-token",
                    "API token",
                    "Issued by Acme to the integration",
                    true,
                    true,
                ),
            ],
            status_vocabulary: status::raw_strings(STATUSES),
        }
    }

    fn new(config: Config) -> Result<Self, ConnectorError> {
        Ok(Acme {
            base_url: config.base_url()?.to_owned(),
        })
    }

    fn list_properties(&self) -> Result<Vec<PmsProperty>, ConnectorError> {
        parse_properties(self.get("/api/properties")?.root())
    }

    fn read_units(
        &self,
        property: &str,
        cursor: Option<String>,
    ) -> Result<UnitPage, ConnectorError> {
        parse_units(
            self.get(&Self::page_path(property, "units", cursor.as_deref())?)?
                .root(),
        )
    }

    fn read_residents(
        &self,
        property: &str,
        cursor: Option<String>,
    ) -> Result<ResidentPage, ConnectorError> {
        parse_residents(
            self.get(&Self::page_path(property, "residents", cursor.as_deref())?)?
                .root(),
        )
    }

    fn read_leases(
        &self,
        property: &str,
        cursor: Option<String>,
    ) -> Result<LeasePage, ConnectorError> {
        parse_leases(
            self.get(&Self::page_path(property, "leases", cursor.as_deref())?)?
                .root(),
        )
    }
}

export_connector!(Acme);

#[cfg(test)]
mod tests {
    use super::*;
    use epms_connector_sdk::json::json;

    fn parsed(built: json::Outgoing) -> Value<'static> {
        Value::from(built)
    }

    #[test]
    fn residents_keep_the_record_when_one_field_is_bad() {
        let doc = parsed(json!({"residents": [
            {"id": 7, "first_name": "Zoë", "last_name": "O'Neil", "email": " ZOE@Example.com ", "role": "primary"},
            {"id": "r2", "first_name": "Al", "last_name": "Bo", "email": "not-an-email", "role": "landlord"}
        ], "next_page": 2}));
        let page = parse_residents(&doc).unwrap();
        assert_eq!(page.next.as_deref(), Some("page:2"));
        assert_eq!(page.records[0].id, "7");
        assert_eq!(page.records[0].email.as_deref(), Some("ZOE@Example.com"));
        assert!(matches!(page.records[0].role, HouseholdRole::Primary));
        let bad = &page.records[1];
        assert_eq!(bad.email, None);
        assert!(matches!(bad.role, HouseholdRole::Other));
        let fields: Vec<&str> = bad.warnings.iter().map(|w| w.field.as_str()).collect();
        assert_eq!(fields, ["email", "role"]);
    }

    #[test]
    fn leases_map_statuses_and_dates() {
        let doc = parsed(json!({"leases": [
            {"id": "l1", "unit_id": "u1", "resident_ids": ["7", 8], "status": "Approved",
             "start_date": "2025-01-01", "end_date": "", "move_in": "01/02/2025", "move_out": "31/12/2025"}
        ], "next_page": null}));
        let page = parse_leases(&doc).unwrap();
        assert_eq!(page.next, None);
        let l = &page.records[0];
        assert!(matches!(l.status, epms_connector_sdk::LeaseStatus::Future));
        assert_eq!(l.raw_status, "Approved");
        assert_eq!(l.resident_ids, ["7", "8"]);
        assert_eq!(l.start_date.as_deref(), Some("2025-01-01"));
        assert_eq!(l.end_date, None);
        assert_eq!(l.move_in_date.as_deref(), Some("2025-01-02"));
        assert_eq!(l.move_out_date, None);
        assert_eq!(l.warnings.len(), 1);
    }

    #[test]
    fn a_page_without_its_list_is_a_protocol_error() {
        assert!(matches!(
            parse_units(&parsed(json!({"error": "x"}))),
            Err(ConnectorError::Protocol(_))
        ));
        assert!(matches!(
            parse_units(&parsed(json!({"units": [{"number": "1"}]}))),
            Err(ConnectorError::Protocol(_))
        ));
    }
}
