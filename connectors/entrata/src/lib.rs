//! Entrata connector: JSON-RPC-style POSTs (see README.md for the operations, the
//! field and status mappings and every assumption).

use epms_connector_sdk::http::{Request, Response};
use epms_connector_sdk::json::{self, Document, Outgoing, Value, json};
use epms_connector_sdk::record::Warnings;
use epms_connector_sdk::session::Memo;
use epms_connector_sdk::status::{self, Vocabulary};
use epms_connector_sdk::{
    Config, Connector, ConnectorError, ConnectorInfo, HouseholdRole, Lease, LeasePage, LeaseStatus,
    PmsProperty, RateLimit, Resident, ResidentPage, Unit, UnitPage, export_connector, field,
    paging, secret,
};
use std::rc::Rc;

/// Lease status names, in the order of Entrata's `leaseStatusTypeId` (1–6). Real
/// answers carry the id (`"4"`) and `leaseIntervalStatus` (`"Current"`), never a
/// `leaseStatusType` name; each customer has a `leaseCustomerStatus` of the same words.
pub const STATUSES: Vocabulary = &[
    ("Applicant", LeaseStatus::Applicant),
    ("Cancelled", LeaseStatus::Cancelled),
    ("Future", LeaseStatus::Future),
    ("Current", LeaseStatus::Current),
    ("Notice", LeaseStatus::Notice),
    ("Past", LeaseStatus::Past),
];

/// The cursor prefix of unit pages read from lease pages.
const UNITS_OF_LEASES: &str = "leases:";

/// Records per page asked of Entrata.
pub const PER_PAGE: u32 = 500;

pub struct Entrata {
    base_url: String,
    subdomain: Option<String>,
    api_key: bool,
    username: String,
    /// The last page of leases read: residents and leases of one page come from the
    /// same answer.
    leases: Memo<(String, u32), Document>,
}

/// The status name of a lease: its `leaseStatusTypeId`, else its
/// `leaseIntervalStatus`.
pub fn lease_status(lease: &Value, w: &mut Warnings) -> String {
    if let Some(id) = json::text(lease, "leaseStatusTypeId") {
        match id
            .parse::<usize>()
            .ok()
            .and_then(|i| STATUSES.get(i.wrapping_sub(1)))
        {
            Some((name, _)) => return (*name).to_owned(),
            None => w.push("status", format!("unknown leaseStatusTypeId {id:?}")),
        }
    }
    json::text(lease, "leaseIntervalStatus").unwrap_or_default()
}

/// When to try again by Entrata's rate-limit headers, which carry one value per window
/// (recorded: `x-ratelimit-remaining: 14987/day;999/hour;149/minute`,
/// `x-ratelimit-reset: 14656;256;16`, seconds until each window resets): the latest
/// reset among the windows used up.
pub fn window_reset(remaining: Option<&str>, reset: Option<&str>) -> Option<u32> {
    remaining?
        .split(';')
        .zip(reset?.split(';'))
        .filter(|(left, _)| left.split('/').next().map(str::trim) == Some("0"))
        .filter_map(|(_, secs)| secs.trim().parse::<u32>().ok())
        .max()
}

/// The typed error for an Entrata answer that is not a success.
pub fn error_of(http_status: u16, doc: Option<&Value>) -> ConnectorError {
    let code = doc
        .and_then(|d| json::path(d, &["response", "error", "code"]))
        .and_then(json::as_text)
        .and_then(|c| c.parse::<u16>().ok())
        .unwrap_or(http_status);
    // 310: the queued answer "is still in process, please try again later".
    if code == 310 {
        let message = doc
            .and_then(|d| json::path(d, &["response", "error", "message"]))
            .and_then(Value::as_str)
            .unwrap_or("still in process");
        return ConnectorError::Transient(format!("Entrata 310: {message}"));
    }
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

/// The `result` of a successful answer; `None` when it holds no records: `{"success":
/// "No Records Found."}`, or a plain string such as "No records found with mentioned
/// preferences." (both recorded). An error envelope, even under HTTP 200, is an error;
/// a `code` other than 200 is one too (some answers carry none at all).
pub fn result_of<'v, 'a>(doc: &'v Value<'a>) -> Result<Option<&'v Value<'a>>, ConnectorError> {
    if json::path(doc, &["response", "error"]).is_some() {
        return Err(error_of(200, Some(doc)));
    }
    let code = json::path(doc, &["response", "code"]);
    if let Some(code) = code
        && json::as_text(code).as_deref() != Some("200")
    {
        return Err(ConnectorError::Protocol(format!(
            "response.code is {code}, not 200"
        )));
    }
    let result = json::path(doc, &["response", "result"])
        .ok_or_else(|| ConnectorError::Protocol("response without result".into()))?;
    if result.is_string() || result.get("success").is_some() {
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
        Some("Responsible") | Some("Co-Applicant") => HouseholdRole::CoResident,
        Some("Occupant") | Some("Minor") => HouseholdRole::Occupant,
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
        // A property without `units` (recorded: `unitCount` only) lists none here.
        for u in json::list(json::path(property, &["units", "unit"])) {
            out.push(Unit {
                id: id_of(u, "unit")?,
                number: json::text(u, "unitNumber").unwrap_or_default(),
                building: json::text(u, "buildingName"),
                floorplan: json::text(u, "floorplanName"),
                vacant: match json::text_ref(u, "unitStatus").as_deref() {
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

/// Units as the leases name them: `unitId`, numbered by the lease's first
/// `unitSpaces.unitSpace` (`"206"`, `"515-C"`), for properties whose unit listing
/// carries no units.
pub fn units_of_leases(result: Option<&Value>) -> Vec<Unit> {
    let mut seen = std::collections::HashSet::new();
    lease_list(result)
        .into_iter()
        .filter_map(|l| {
            let id = json::text(l, "unitId")?;
            seen.insert(id.clone()).then(|| Unit {
                number: json::list(json::path(l, &["unitSpaces", "unitSpace"]))
                    .into_iter()
                    .find_map(|s| json::text(s, "unitSpace"))
                    .unwrap_or_default(),
                id,
                building: json::text(l, "buildingName"),
                floorplan: json::text(l, "floorPlanName"),
                vacant: Some(false),
                warnings: vec![],
            })
        })
        .collect()
}

/// The leases of an answer, each id once: an answer may repeat a lease (recorded: the
/// same id five times, only `leaseSubStatus` differing); the first is kept.
fn lease_list<'v, 'a>(result: Option<&'v Value<'a>>) -> Vec<&'v Value<'a>> {
    let mut seen = std::collections::HashSet::new();
    result
        .map(|r| json::list(json::path(r, &["leases", "lease"])))
        .unwrap_or_default()
        .into_iter()
        .filter(|l| seen.insert(json::text(l, "id")))
        .collect()
}

/// The lease a customer belongs to: the lease itself, or, when the customer's own
/// `leaseCustomerStatus` differs from the lease's (a co-applicant who left a current
/// lease is `Past`), a lease of their own, `{lease id}-c{customer id}`, with their status.
fn lease_id_of(lease_id: &str, lease_status: &str, customer: &Value) -> String {
    match (
        json::text(customer, "leaseCustomerStatus"),
        json::text(customer, "id"),
    ) {
        (Some(own), Some(c)) if !own.eq_ignore_ascii_case(lease_status) => {
            format!("{lease_id}-c{c}")
        }
        _ => lease_id.to_owned(),
    }
}

pub fn parse_leases(result: Option<&Value>) -> Result<Vec<Lease>, ConnectorError> {
    let mut out = Vec::new();
    for l in lease_list(result) {
        let mut w = Warnings::new();
        let id = id_of(l, "lease")?;
        let raw_status = lease_status(l, &mut w);
        let interval = json::list(json::path(l, &["leaseIntervals", "leaseInterval"]))
            .into_iter()
            .next();
        let mut lease = Lease {
            id: id.clone(),
            unit_id: json::text(l, "unitId"),
            resident_ids: vec![],
            status: status::canonical(STATUSES, &raw_status),
            raw_status: raw_status.clone(),
            start_date: w.date(
                "start-date",
                interval.and_then(|i| json::text(i, "startDate")).as_deref(),
            ),
            end_date: w.date(
                "end-date",
                interval.and_then(|i| json::text(i, "endDate")).as_deref(),
            ),
            move_in_date: w.date("move-in-date", json::text_ref(l, "moveInDate").as_deref()),
            move_out_date: w.date("move-out-date", json::text_ref(l, "moveOutDate").as_deref()),
            warnings: w.into_vec(),
        };
        let mut own: Vec<Lease> = Vec::new();
        for c in json::list(json::path(l, &["customers", "customer"])) {
            let Some(cid) = json::text(c, "id") else {
                continue;
            };
            let lid = lease_id_of(&id, &raw_status, c);
            if lid != id {
                let status_name = json::text(c, "leaseCustomerStatus").unwrap_or_default();
                let mut cw = Warnings::new();
                own.push(Lease {
                    id: lid,
                    resident_ids: vec![cid],
                    status: status::canonical(STATUSES, &status_name),
                    raw_status: status_name,
                    move_out_date: cw
                        .date("move-out-date", json::text_ref(c, "moveOutDate").as_deref())
                        .or(lease.move_out_date.clone()),
                    warnings: cw.into_vec(),
                    ..lease.clone()
                });
            } else if !lease.resident_ids.contains(&cid) {
                lease.resident_ids.push(cid);
            }
        }
        out.push(lease);
        out.extend(own);
    }
    Ok(out)
}

/// Every customer of the leases of a page, as residents of their lease's unit.
pub fn parse_residents(result: Option<&Value>) -> Result<Vec<Resident>, ConnectorError> {
    let mut out = Vec::new();
    for l in lease_list(result) {
        let lease_id = id_of(l, "lease")?;
        let raw_status = lease_status(l, &mut Warnings::new());
        let unit = json::text(l, "unitId");
        for c in json::list(json::path(l, &["customers", "customer"])) {
            let mut w = Warnings::new();
            let phone = json::list(json::path(c, &["phones", "phone"]))
                .into_iter()
                .find_map(|p| json::text(p, "phoneNumber"));
            out.push(Resident {
                id: id_of(c, "customer")?,
                lease_id: Some(lease_id_of(&lease_id, &raw_status, c)),
                unit_id: unit.clone(),
                first_name: json::text(c, "firstName").unwrap_or_default(),
                last_name: json::text(c, "lastName").unwrap_or_default(),
                email: w.email("email", json::text_ref(c, "emailAddress").as_deref()),
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
        params: Outgoing,
        page: Option<u32>,
    ) -> Result<Document, ConnectorError> {
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
        if resp.status == 429 {
            return Err(ConnectorError::RateLimited(RateLimit {
                retry_after_seconds: resp.retry_after().or_else(|| {
                    window_reset(
                        resp.header("x-ratelimit-remaining"),
                        resp.header("x-ratelimit-reset"),
                    )
                }),
                message: "Entrata rate limit".into(),
            }));
        }
        if !resp.is_success() {
            let doc = resp.text().ok().and_then(|t| json::parse(t).ok());
            return Err(error_of(resp.status, doc.as_ref()));
        }
        Document::parse(resp.into_text()?)
    }

    /// A page of units read from a page of leases (see `read_units`).
    fn units_of_lease_page(&self, property: &str, page: u32) -> Result<UnitPage, ConnectorError> {
        let page_doc = self.leases_page(property, page)?;
        let doc = page_doc.root();
        Ok(UnitPage {
            records: units_of_leases(result_of(doc)?),
            next: next_page(doc, page).map(|c| format!("{UNITS_OF_LEASES}{c}")),
        })
    }

    fn leases_page(&self, property: &str, page: u32) -> Result<Rc<Document>, ConnectorError> {
        self.leases.get_or_try(&(property.to_owned(), page), || {
            self.call(
                "leases",
                "getLeases",
                "r2",
                json!({"propertyId": property, "includeLeaseHistory": "1"}),
                Some(page),
            )
        })
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
            leases: Memo::default(),
        })
    }

    fn list_properties(&self) -> Result<Vec<PmsProperty>, ConnectorError> {
        let doc = self.call("properties", "getProperties", "r1", json!({}), None)?;
        Ok(parse_properties(result_of(doc.root())?))
    }

    /// `getPropertyUnits`; a property listed without units (as recorded) is read from
    /// its leases instead, so that every unit a resident lives in has a number.
    fn read_units(
        &self,
        property: &str,
        cursor: Option<String>,
    ) -> Result<UnitPage, ConnectorError> {
        if let Some(lease_page) = cursor
            .as_deref()
            .and_then(|c| c.strip_prefix(UNITS_OF_LEASES))
        {
            return self.units_of_lease_page(property, paging::page_number(Some(lease_page), 1)?);
        }
        let page = paging::page_number(cursor.as_deref(), 1)?;
        let doc = self.call(
            "propertyunits",
            "getPropertyUnits",
            "r1",
            json!({"propertyIds": property}),
            Some(page),
        )?;
        let doc = doc.root();
        let result = result_of(doc)?;
        let listed = result.is_some_and(|r| {
            json::list(json::path(r, &["properties", "property"]))
                .iter()
                .any(|p| p.get("units").is_some())
        });
        if page == 1 && !listed {
            return self.units_of_lease_page(property, 1);
        }
        Ok(UnitPage {
            records: parse_units(result)?,
            next: next_page(doc, page),
        })
    }

    fn read_residents(
        &self,
        property: &str,
        cursor: Option<String>,
    ) -> Result<ResidentPage, ConnectorError> {
        let page = paging::page_number(cursor.as_deref(), 1)?;
        let page_doc = self.leases_page(property, page)?;
        let doc = page_doc.root();
        Ok(ResidentPage {
            records: parse_residents(result_of(doc)?)?,
            next: next_page(doc, page),
        })
    }

    fn read_leases(
        &self,
        property: &str,
        cursor: Option<String>,
    ) -> Result<LeasePage, ConnectorError> {
        let page = paging::page_number(cursor.as_deref(), 1)?;
        let page_doc = self.leases_page(property, page)?;
        let doc = page_doc.root();
        Ok(LeasePage {
            records: parse_leases(result_of(doc)?)?,
            next: next_page(doc, page),
        })
    }
}

export_connector!(Entrata);

#[cfg(test)]
mod tests {
    //! Every recorded Entrata answer of a method this connector calls (and the error
    //! and empty shapes), parsed and checked (tests/fixtures/real/entrata, README there).
    use super::*;

    fn fixture(name: &str) -> Value<'static> {
        json::parse(&epms_connector_sdk::recordings::read("entrata", name))
            .unwrap()
            .into_owned()
    }

    /// A recording as a value to change before it is read.
    fn fixture_to_change(name: &str) -> Outgoing {
        serde_json::from_str(&epms_connector_sdk::recordings::read("entrata", name)).unwrap()
    }

    /// Regression: the status was read from `leaseStatusType`, which no real answer
    /// has, so every Entrata resident was `other` and never synced; the repeated lease
    /// came out five times.
    #[test]
    fn the_recorded_leases_read_their_status_id_once_each() {
        let doc = fixture("getLeases.r2.shayyxi.json");
        let result = result_of(&doc).unwrap();
        let leases = parse_leases(result).unwrap();
        assert_eq!(leases.len(), 1, "lease 397346 five times is one lease");
        let l = &leases[0];
        assert_eq!(l.id, "397346");
        assert_eq!(
            (l.raw_status.as_str(), l.status),
            ("Current", LeaseStatus::Current)
        );
        assert_eq!(l.unit_id.as_deref(), Some("88816"));
        assert_eq!(l.resident_ids, ["528368"]);
        assert_eq!(
            l.move_in_date.as_deref(),
            Some("2024-08-14"),
            "escaped 08\\/14\\/2024"
        );
        assert_eq!(l.start_date.as_deref(), Some("2024-08-14"));
        assert_eq!(l.end_date.as_deref(), Some("2025-08-13"));
        assert!(l.warnings.is_empty());
        let residents = parse_residents(result).unwrap();
        assert_eq!(residents.len(), 1);
        let r = &residents[0];
        assert_eq!(
            (r.id.as_str(), r.first_name.as_str(), r.last_name.as_str()),
            ("528368", "First001", "Last001")
        );
        assert_eq!(r.lease_id.as_deref(), Some("397346"));
        assert_eq!(r.email.as_deref(), Some("user001@example.com"));
        assert_eq!(r.phone.as_deref(), Some("+1 5555550001"));
        assert_eq!(r.role, HouseholdRole::Primary);
    }

    /// Regression: unit numbers lived only in `unitSpaces` and never reached a record.
    #[test]
    fn recorded_unit_spaces_number_the_units_of_the_leases() {
        let doc = fixture("getLeases.r2.shayyxi.json");
        let units = units_of_leases(result_of(&doc).unwrap());
        assert_eq!(units.len(), 1);
        assert_eq!(
            (units[0].id.as_str(), units[0].number.as_str()),
            ("88816", "111")
        );
        assert_eq!(units[0].floorplan.as_deref(), Some("B1"));
    }

    #[test]
    fn the_recorded_property_units_answer_without_units_lists_none() {
        let doc = fixture("getPropertyUnits.shayyxi.json");
        assert!(parse_units(result_of(&doc).unwrap()).unwrap().is_empty());
    }

    /// Regression: each customer's own status was ignored (a `Past` co-applicant on a
    /// current lease kept access), and Co-Applicant and Minor were unknown roles.
    #[test]
    fn a_customer_whose_own_status_differs_gets_a_lease_of_their_own() {
        let mut doc = fixture_to_change("getLeases.r2.shayyxi.json");
        let lease = &mut doc["response"]["result"]["leases"]["lease"][0];
        let mut other = lease["customers"]["customer"][0].clone();
        other["id"] = json!(528369);
        other["customerType"] = json!("Co-Applicant");
        other["leaseCustomerStatus"] = json!("Past");
        let mut minor = other.clone();
        minor["id"] = json!(528370);
        minor["customerType"] = json!("Minor");
        minor["leaseCustomerStatus"] = json!("Current");
        let list = lease["customers"]["customer"].as_array_mut().unwrap();
        list.push(other);
        list.push(minor);
        let doc = Value::from(doc);
        let result = result_of(&doc).unwrap();
        let leases = parse_leases(result).unwrap();
        assert_eq!(leases[0].resident_ids, ["528368", "528370"]);
        let own = leases.iter().find(|l| l.id == "397346-c528369").unwrap();
        assert_eq!(
            (own.raw_status.as_str(), own.status),
            ("Past", LeaseStatus::Past)
        );
        assert_eq!(own.resident_ids, ["528369"]);
        assert_eq!(own.unit_id.as_deref(), Some("88816"));
        let residents = parse_residents(result).unwrap();
        assert_eq!(residents[1].lease_id.as_deref(), Some("397346-c528369"));
        assert_eq!(residents[1].role, HouseholdRole::CoResident);
        assert_eq!(residents[2].role, HouseholdRole::Occupant);
        assert!(residents.iter().all(|r| r.warnings.is_empty()));
    }

    #[test]
    fn recorded_empty_and_error_answers() {
        for name in [
            "no-records-found.json",
            "no-records-found.string-result.json",
        ] {
            assert!(result_of(&fixture(name)).unwrap().is_none(), "{name}");
        }
        assert!(matches!(
            result_of(&fixture("error-310-queue-in-process.gmhleasr.json")),
            Err(ConnectorError::Transient(m)) if m.contains("still in process")
        ));
        assert!(matches!(
            result_of(&fixture("error-108-no-method-name.recorded.json")),
            Err(ConnectorError::Protocol(m)) if m.contains("method name")
        ));
        assert!(matches!(
            result_of(&fixture("getStatus.recorded.json")),
            Ok(Some(_))
        ));
    }

    #[test]
    fn rate_limit_windows_say_when_to_retry() {
        let headers =
            epms_connector_sdk::recordings::read("entrata", "getProperties.recorded.headers.txt");
        let header = |name: &str| {
            headers
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                .map(str::to_owned)
        };
        let (remaining, reset) = (header("x-ratelimit-remaining"), header("x-ratelimit-reset"));
        assert_eq!(remaining.as_deref(), Some("14987/day;999/hour;149/minute"));
        assert_eq!(
            window_reset(remaining.as_deref(), reset.as_deref()),
            None,
            "none used up"
        );
        let minute_used_up = remaining.unwrap().replace("149/minute", "0/minute");
        assert_eq!(
            window_reset(Some(&minute_used_up), reset.as_deref()),
            Some(16)
        );
        assert_eq!(
            window_reset(Some("0/day;0/hour;3/minute"), reset.as_deref()),
            Some(14656)
        );
        assert_eq!(window_reset(None, reset.as_deref()), None);
    }

    #[test]
    fn the_recorded_property_list_reads_int_ids() {
        let doc = fixture("getProperties.recorded.json");
        let props = parse_properties(result_of(&doc).unwrap());
        assert_eq!(props.len(), 20);
        assert_eq!(
            (props[0].id.as_str(), props[0].name.as_str()),
            ("739076", "1008 S. 4th")
        );
    }

    #[test]
    fn the_recorded_no_records_answer_is_an_empty_result_not_an_error() {
        let doc = fixture("no-records-found.json");
        assert!(result_of(&doc).unwrap().is_none());
        assert!(parse_leases(result_of(&doc).unwrap()).unwrap().is_empty());
        assert!(parse_residents(None).unwrap().is_empty());
    }

    #[test]
    fn leases_map_status_names_dates_and_customers() {
        let doc = Value::from(
            json!({"response": {"requestId": "1", "code": 200, "result": {"leases": {"lease": [
            {"id": 881, "leaseStatusTypeId": 5, "leaseStatusType": "Notice", "unitId": "u-1",
             "moveInDate": "03/01/2024", "moveOutDate": "",
             "leaseIntervals": {"leaseInterval": {"startDate": "03/01/2024", "endDate": "02/28/2025"}},
             "customers": {"customer": [
                {"id": 1, "customerType": "Primary", "firstName": "Zoë", "lastName": "O'Neil", "emailAddress": " ZOE@X.COM ", "phones": {"phone": [{"phoneNumber": "555-0101"}]}},
                {"id": 2, "customerType": "Guarantor", "firstName": "Al", "lastName": "Bo", "emailAddress": "al at x.com", "phones": {"phone": []}}
             ]}}
        ]}}, "meta": {"currentPage": 1, "lastPage": 3}}}),
        );
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
        let doc = |code: u64| {
            Value::from(
                json!({"response": {"requestId": "1", "error": {"code": code, "message": "x"}}}),
            )
        };
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
            result_of(&Value::from(json!({"response": {"code": 200}}))),
            Err(ConnectorError::Protocol(_))
        ));
        assert!(matches!(
            json::parse("{\"response\": {\"code\": 2"),
            Err(ConnectorError::Protocol(_))
        ));
    }

    #[test]
    fn units_read_building_floorplan_and_vacancy() {
        let doc = Value::from(json!({"properties": {"property": [{"units": {"unit": [
            {"id": "u1", "unitNumber": "101", "buildingName": "A", "floorplanName": "1x1", "unitStatus": "Vacant"},
            {"id": "u2", "unitNumber": "102", "buildingName": "", "unitStatus": "Occupied"}
        ]}}]}}));
        let units = parse_units(Some(&doc)).unwrap();
        assert_eq!(units[0].vacant, Some(true));
        assert_eq!(units[1].building, None);
        assert_eq!(units[1].vacant, Some(false));
    }
}
