//! Entrata connector: JSON-RPC-style POSTs (see README.md for the operations, the
//! field and status mappings and every assumption).

use std::cell::RefCell;

use epms_connector_sdk::http::{Request, Response};
use epms_connector_sdk::json::{self, Value, json};
use epms_connector_sdk::record::Warnings;
use epms_connector_sdk::status::{self, Vocabulary};
use epms_connector_sdk::{
    Config, Connector, ConnectorError, ConnectorInfo, HouseholdRole, Lease, LeasePage, LeaseStatus,
    PmsProperty, RateLimit, Resident, ResidentPage, Unit, UnitPage, export_connector, field,
    paging, secret,
};

/// `leaseStatusType` names, with the ids Entrata gives them (1–6).
pub const STATUSES: Vocabulary = &[
    ("Applicant", LeaseStatus::Applicant),
    ("Cancelled", LeaseStatus::Cancelled),
    ("Future", LeaseStatus::Future),
    ("Current", LeaseStatus::Current),
    ("Notice", LeaseStatus::Notice),
    ("Past", LeaseStatus::Past),
];

/// Records per page asked of Entrata.
pub const PER_PAGE: u32 = 500;

pub struct Entrata {
    base_url: String,
    subdomain: Option<String>,
    api_key: bool,
    username: String,
}

thread_local! {
    /// The last page of leases read in this instance: residents and leases of one
    /// page come from the same answer.
    static LEASES: RefCell<Option<(String, u32, Value)>> = const { RefCell::new(None) };
}

/// The typed error for an Entrata answer that is not a success.
pub fn error_of(http_status: u16, doc: Option<&Value>) -> ConnectorError {
    let code = doc
        .and_then(|d| json::path(d, &["response", "error", "code"]))
        .and_then(Value::as_u64)
        .map(|c| c as u16)
        .unwrap_or(http_status);
    let message = doc
        .and_then(|d| json::path(d, &["response", "error", "message"]))
        .and_then(Value::as_str)
        .unwrap_or("no error message")
        .to_owned();
    let resp = Response {
        status: code,
        headers: vec![],
        body: vec![],
    };
    resp.status_error(&message)
}

/// The `result` of a successful answer; `None` for "No Records Found.".
pub fn result_of(doc: &Value) -> Result<Option<&Value>, ConnectorError> {
    if let Some(err) = json::path(doc, &["response", "error"]) {
        let _ = err;
        return Err(error_of(200, Some(doc)));
    }
    let code = json::path(doc, &["response", "code"]).and_then(Value::as_u64);
    if code != Some(200) {
        return Err(ConnectorError::Protocol(format!(
            "response.code is {code:?}, not 200"
        )));
    }
    let result = json::path(doc, &["response", "result"])
        .ok_or_else(|| ConnectorError::Protocol("response without result".into()))?;
    if result.get("success").is_some() {
        return Ok(None);
    }
    Ok(Some(result))
}

/// The next page after `page`, from `response.meta`.
pub fn next_page(doc: &Value, page: u32) -> Option<String> {
    let last = json::path(doc, &["response", "meta", "lastPage"]).and_then(Value::as_u64)?;
    (u64::from(page) < last).then(|| paging::page_cursor(page + 1))
}

fn role(raw: Option<String>, w: &mut Warnings) -> HouseholdRole {
    match raw.as_deref() {
        Some("Primary") => HouseholdRole::Primary,
        Some("Responsible") => HouseholdRole::CoResident,
        Some("Occupant") => HouseholdRole::Occupant,
        Some("Guarantor") => HouseholdRole::Guarantor,
        None => HouseholdRole::Other,
        Some(other) => {
            w.push("role", format!("unknown customerType {other:?}"));
            HouseholdRole::Other
        }
    }
}

fn id_of(v: &Value, what: &str) -> Result<String, ConnectorError> {
    json::text(v, "id").ok_or_else(|| ConnectorError::Protocol(format!("{what} without id")))
}

pub fn parse_units(result: Option<&Value>) -> Result<Vec<Unit>, ConnectorError> {
    let Some(result) = result else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for property in json::list(json::path(result, &["properties", "property"])) {
        for u in json::list(json::path(property, &["units", "unit"])) {
            out.push(Unit {
                id: id_of(u, "unit")?,
                number: json::text(u, "unitNumber").unwrap_or_default(),
                building: json::text(u, "buildingName"),
                floorplan: json::text(u, "floorplanName"),
                vacant: match json::text(u, "unitStatus").as_deref() {
                    Some("Vacant") => Some(true),
                    Some("Occupied") => Some(false),
                    _ => None,
                },
                warnings: vec![],
            });
        }
    }
    Ok(out)
}

fn lease_list(result: Option<&Value>) -> Vec<&Value> {
    result
        .map(|r| json::list(json::path(r, &["leases", "lease"])))
        .unwrap_or_default()
}

pub fn parse_leases(result: Option<&Value>) -> Result<Vec<Lease>, ConnectorError> {
    lease_list(result)
        .into_iter()
        .map(|l| {
            let mut w = Warnings::new();
            let raw_status = json::text(l, "leaseStatusType").unwrap_or_default();
            let interval = json::list(json::path(l, &["leaseIntervals", "leaseInterval"]))
                .into_iter()
                .next();
            Ok(Lease {
                id: id_of(l, "lease")?,
                unit_id: json::text(l, "unitId"),
                resident_ids: json::list(json::path(l, &["customers", "customer"]))
                    .into_iter()
                    .filter_map(|c| json::text(c, "id"))
                    .collect(),
                status: status::canonical(STATUSES, &raw_status),
                raw_status,
                start_date: w.date(
                    "start-date",
                    interval.and_then(|i| json::text(i, "startDate")).as_deref(),
                ),
                end_date: w.date(
                    "end-date",
                    interval.and_then(|i| json::text(i, "endDate")).as_deref(),
                ),
                move_in_date: w.date("move-in-date", json::text(l, "moveInDate").as_deref()),
                move_out_date: w.date("move-out-date", json::text(l, "moveOutDate").as_deref()),
                warnings: w.into_vec(),
            })
        })
        .collect()
}

/// Every customer of the leases of a page, as residents of their lease's unit.
pub fn parse_residents(result: Option<&Value>) -> Result<Vec<Resident>, ConnectorError> {
    let mut out = Vec::new();
    for l in lease_list(result) {
        let lease_id = id_of(l, "lease")?;
        let unit = json::text(l, "unitId");
        for c in json::list(json::path(l, &["customers", "customer"])) {
            let mut w = Warnings::new();
            let phone = json::list(json::path(c, &["phones", "phone"]))
                .into_iter()
                .find_map(|p| json::text(p, "phoneNumber"));
            out.push(Resident {
                id: id_of(c, "customer")?,
                lease_id: Some(lease_id.clone()),
                unit_id: unit.clone(),
                first_name: json::text(c, "firstName").unwrap_or_default(),
                last_name: json::text(c, "lastName").unwrap_or_default(),
                email: w.email("email", json::text(c, "emailAddress").as_deref()),
                phone,
                role: role(json::text(c, "customerType"), &mut w),
                warnings: w.into_vec(),
            });
        }
    }
    Ok(out)
}

pub fn parse_properties(result: Option<&Value>) -> Vec<PmsProperty> {
    result
        .map(|r| json::list(json::path(r, &["PhysicalProperty", "Property"])))
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| {
            Some(PmsProperty {
                id: json::text(p, "PropertyID")?,
                name: json::text(p, "MarketingName").unwrap_or_default(),
            })
        })
        .collect()
}

impl Entrata {
    /// One JSON-RPC call; returns the whole answer document.
    fn call(
        &self,
        service: &str,
        method: &str,
        version: &str,
        params: Value,
        page: Option<u32>,
    ) -> Result<Value, ConnectorError> {
        let query = page
            .map(|p| format!("?page_no={p}&per_page={PER_PAGE}"))
            .unwrap_or_default();
        let (url, auth_type) = match (&self.subdomain, self.api_key) {
            (Some(sub), true) => (
                format!("{}/ext/orgs/{sub}/v1/{service}{query}", self.base_url),
                "apikey",
            ),
            _ => (
                format!("{}/api/v1/{service}{query}", self.base_url),
                "basic",
            ),
        };
        let body = json!({"auth": {"type": auth_type}, "requestId": "1", "method": {"name": method, "version": version, "params": params}});
        let mut req = Request::post(url, "application/json", body.to_string());
        req = if auth_type == "apikey" {
            req.header("x-api-key", secret::placeholder("api-key"))
        } else {
            req.header(
                "authorization",
                secret::basic_auth(&self.username, &secret::placeholder("password")),
            )
        };
        let resp = req.send()?;
        let doc = json::parse(resp.text()?);
        if resp.status == 429 {
            return Err(ConnectorError::RateLimited(RateLimit {
                retry_after_seconds: resp.retry_after(),
                message: "Entrata rate limit".into(),
            }));
        }
        if !resp.is_success() {
            return Err(error_of(resp.status, doc.as_ref().ok()));
        }
        doc
    }

    fn leases_page(&self, property: &str, page: u32) -> Result<Value, ConnectorError> {
        let cached = LEASES.with(|c| {
            c.borrow()
                .as_ref()
                .filter(|(p, n, _)| p == property && *n == page)
                .map(|(_, _, v)| v.clone())
        });
        if let Some(doc) = cached {
            return Ok(doc);
        }
        let doc = self.call(
            "leases",
            "getLeases",
            "r2",
            json!({"propertyId": property, "includeLeaseHistory": "1"}),
            Some(page),
        )?;
        LEASES.with(|c| *c.borrow_mut() = Some((property.to_owned(), page, doc.clone())));
        Ok(doc)
    }
}

impl Connector for Entrata {
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            vendor: "entrata".into(),
            display_name: "Entrata".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            config_fields: vec![
                field(
                    "base-url",
                    "Base URL",
                    "https://apis.entrata.com, or the legacy https://{subdomain}.entrata.com",
                    false,
                    true,
                ),
                field(
                    "auth-mode",
                    "Authentication",
                    "api-key (X-Api-Key, the default) or basic (legacy hosts)",
                    false,
                    false,
                ),
                field(
                    "subdomain",
                    "Subdomain",
                    "Your Entrata organisation's subdomain (api-key mode)",
                    false,
                    false,
                ),
                field(
                    "api-key",
                    "API key",
                    "Issued by Entrata for the integration (api-key mode)",
                    true,
                    false,
                ),
                field(
                    "username",
                    "User name",
                    "API user (basic mode)",
                    false,
                    false,
                ),
                field(
                    "password",
                    "Password",
                    "API user's password (basic mode)",
                    true,
                    false,
                ),
            ],
            status_vocabulary: status::raw_strings(STATUSES),
        }
    }

    fn new(config: Config) -> Result<Self, ConnectorError> {
        let api_key = match config.get("auth-mode").unwrap_or("api-key") {
            "api-key" => true,
            "basic" => false,
            other => {
                return Err(ConnectorError::Config(format!(
                    "auth-mode must be api-key or basic, not {other:?}"
                )));
            }
        };
        let subdomain = config.get("subdomain").map(str::to_owned);
        if api_key && subdomain.is_none() {
            return Err(ConnectorError::Config(
                "api-key mode needs the subdomain".into(),
            ));
        }
        let username = if api_key {
            String::new()
        } else {
            config.require("username")?.to_owned()
        };
        Ok(Entrata {
            base_url: config.base_url()?.to_owned(),
            subdomain,
            api_key,
            username,
        })
    }

    fn list_properties(&self) -> Result<Vec<PmsProperty>, ConnectorError> {
        let doc = self.call("properties", "getProperties", "r1", json!({}), None)?;
        Ok(parse_properties(result_of(&doc)?))
    }

    fn read_units(
        &self,
        property: &str,
        cursor: Option<String>,
    ) -> Result<UnitPage, ConnectorError> {
        let page = paging::page_number(cursor.as_deref(), 1)?;
        let doc = self.call(
            "propertyunits",
            "getPropertyUnits",
            "r1",
            json!({"propertyIds": property}),
            Some(page),
        )?;
        Ok(UnitPage {
            records: parse_units(result_of(&doc)?)?,
            next: next_page(&doc, page),
        })
    }

    fn read_residents(
        &self,
        property: &str,
        cursor: Option<String>,
    ) -> Result<ResidentPage, ConnectorError> {
        let page = paging::page_number(cursor.as_deref(), 1)?;
        let doc = self.leases_page(property, page)?;
        Ok(ResidentPage {
            records: parse_residents(result_of(&doc)?)?,
            next: next_page(&doc, page),
        })
    }

    fn read_leases(
        &self,
        property: &str,
        cursor: Option<String>,
    ) -> Result<LeasePage, ConnectorError> {
        let page = paging::page_number(cursor.as_deref(), 1)?;
        let doc = self.leases_page(property, page)?;
        Ok(LeasePage {
            records: parse_leases(result_of(&doc)?)?,
            next: next_page(&doc, page),
        })
    }
}

export_connector!(Entrata);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_no_records_answer_is_an_empty_result_not_an_error() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures/real/entrata/no-records-found.json"
        ))
        .unwrap();
        let doc = json::parse(&text).unwrap();
        assert!(result_of(&doc).unwrap().is_none());
        assert!(parse_leases(result_of(&doc).unwrap()).unwrap().is_empty());
        assert!(parse_residents(None).unwrap().is_empty());
    }

    #[test]
    fn leases_map_status_names_dates_and_customers() {
        let doc = json!({"response": {"requestId": "1", "code": 200, "result": {"leases": {"lease": [
            {"id": 881, "leaseStatusTypeId": 5, "leaseStatusType": "Notice", "unitId": "u-1",
             "moveInDate": "03/01/2024", "moveOutDate": "",
             "leaseIntervals": {"leaseInterval": {"startDate": "03/01/2024", "endDate": "02/28/2025"}},
             "customers": {"customer": [
                {"id": 1, "customerType": "Primary", "firstName": "Zoë", "lastName": "O'Neil", "emailAddress": " ZOE@X.COM ", "phones": {"phone": [{"phoneNumber": "555-0101"}]}},
                {"id": 2, "customerType": "Guarantor", "firstName": "Al", "lastName": "Bo", "emailAddress": "al at x.com", "phones": {"phone": []}}
             ]}}
        ]}}, "meta": {"currentPage": 1, "lastPage": 3}}});
        let result = result_of(&doc).unwrap();
        let leases = parse_leases(result).unwrap();
        assert_eq!(leases[0].id, "881");
        assert!(matches!(leases[0].status, LeaseStatus::Notice));
        assert_eq!(leases[0].start_date.as_deref(), Some("2024-03-01"));
        assert_eq!(
            leases[0].end_date.as_deref(),
            Some("2025-02-28"),
            "a lone interval object, not a list"
        );
        assert_eq!(leases[0].move_out_date, None);
        assert_eq!(leases[0].resident_ids, ["1", "2"]);
        let residents = parse_residents(result).unwrap();
        assert_eq!(residents[0].email.as_deref(), Some("ZOE@X.COM"));
        assert_eq!(residents[0].phone.as_deref(), Some("555-0101"));
        assert_eq!(residents[0].unit_id.as_deref(), Some("u-1"));
        assert!(matches!(residents[1].role, HouseholdRole::Guarantor));
        assert_eq!(residents[1].email, None);
        assert_eq!(residents[1].warnings[0].field, "email");
        assert_eq!(next_page(&doc, 1).as_deref(), Some("page:2"));
        assert_eq!(next_page(&doc, 3), None);
    }

    #[test]
    fn error_envelopes_become_typed_errors() {
        let doc = |code: u64| json!({"response": {"requestId": "1", "error": {"code": code, "message": "x"}}});
        assert!(matches!(result_of(&doc(401)), Err(ConnectorError::Auth(_))));
        assert!(matches!(
            result_of(&doc(404)),
            Err(ConnectorError::NotFound(_))
        ));
        assert!(matches!(
            result_of(&doc(500)),
            Err(ConnectorError::Transient(_))
        ));
        assert!(matches!(
            result_of(&json!({"response": {"code": 200}})),
            Err(ConnectorError::Protocol(_))
        ));
        assert!(matches!(
            json::parse("{\"response\": {\"code\": 2"),
            Err(ConnectorError::Protocol(_))
        ));
    }

    #[test]
    fn units_read_building_floorplan_and_vacancy() {
        let doc = json!({"properties": {"property": [{"units": {"unit": [
            {"id": "u1", "unitNumber": "101", "buildingName": "A", "floorplanName": "1x1", "unitStatus": "Vacant"},
            {"id": "u2", "unitNumber": "102", "buildingName": "", "unitStatus": "Occupied"}
        ]}}]}});
        let units = parse_units(Some(&doc)).unwrap();
        assert_eq!(units[0].vacant, Some(true));
        assert_eq!(units[1].building, None);
        assert_eq!(units[1].vacant, Some(false));
    }
}
