//! Rent Manager 12 connector: the REST API with a session token (see README.md for
//! the resources, the field, status and role mappings and every assumption).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use epms_connector_sdk::auth::{self, TokenSession};
use epms_connector_sdk::http::{Request, Response, query};
use epms_connector_sdk::json::{self, Document, Value, json};
use epms_connector_sdk::record::Warnings;
use epms_connector_sdk::{
    Config, Connector, ConnectorError, ConnectorInfo, HouseholdRole, Lease, LeasePage, LeaseStatus,
    PmsProperty, Resident, ResidentPage, Unit, UnitPage, export_connector, field, paging, secret,
};

/// Tenant statuses (Rent Manager keeps no status on a lease; its tenant's applies).
/// A current tenant whose lease has a move-out date has given notice.
pub const STATUSES: epms_connector_sdk::status::Vocabulary = &[
    ("Current", LeaseStatus::Current),
    ("Future", LeaseStatus::Future),
    ("Past", LeaseStatus::Past),
];

const DEFAULT_PAGE_SIZE: usize = 1_000;

pub struct RentManager {
    base_url: String,
    username: String,
    location_id: String,
    page_size: usize,
    guarantor_types: Vec<String>,
    occupant_types: Vec<String>,
    token: TokenSession,
    /// Each tenant's status and contact ids, as the residents read saw them: a lease
    /// takes its status and residents from its tenant.
    tenants: RefCell<HashMap<String, TenantFacts>>,
    /// Every `/Leases` page of the property, read once a session.
    leases: RefCell<Option<Rc<LeasePages>>>,
}

/// Tenant id → its newest lease: (lease id, unit id).
pub type TenantLeases = HashMap<String, (String, Option<String>)>;

/// Every `/Leases` page of a property. The residents read needs each tenant's newest
/// lease before its first page; the leases read then pages through the same answers
/// instead of asking Rent Manager for every page a second time (a sync's requests
/// count against the vendor's rate limits).
#[derive(Debug)]
pub struct LeasePages {
    property: String,
    pages: Vec<Page>,
    /// Each tenant's newest lease (latest `MoveInDate`), for the residents' lease and unit.
    pub by_tenant: TenantLeases,
}

impl LeasePages {
    /// Reads each tenant's newest lease from every page of a property.
    pub fn new(property: &str, pages: Vec<Page>) -> Result<LeasePages, ConnectorError> {
        let mut newest: HashMap<String, (String, String, Option<String>)> = HashMap::new();
        for l in pages.iter().flat_map(Page::rows) {
            let (tenant, lease) = (
                json::required(l, "TenantID")?,
                json::required(l, "LeaseID")?,
            );
            let move_in = json::text(l, "MoveInDate").unwrap_or_default();
            if newest.get(&tenant).is_none_or(|(m, _, _)| *m <= move_in) {
                newest.insert(tenant, (move_in, lease, json::text(l, "UnitID")));
            }
        }
        let by_tenant = newest
            .into_iter()
            .map(|(t, (_, l, u))| (t, (l, u)))
            .collect();
        Ok(LeasePages {
            property: property.to_owned(),
            pages,
            by_tenant,
        })
    }

    /// Page `number` (1-based), when it was read.
    pub fn page(&self, number: u32) -> Option<&Page> {
        self.pages
            .get(usize::try_from(number).ok()?.checked_sub(1)?)
    }
}

#[derive(Debug, Clone, Default)]
pub struct TenantFacts {
    pub status: String,
    pub contacts: Vec<String>,
}

/// A page: Rent Manager answers a bare JSON array (206 for a page that is not the last,
/// as one client reads it; a short or empty page ends the list either way). Its rows
/// are kept with the answer they are read from.
#[derive(Debug)]
pub struct Page(Document);

impl Page {
    pub fn parse(text: String) -> Result<Page, ConnectorError> {
        let doc = Document::parse(text)?;
        if !doc.root().is_array() {
            return Err(ConnectorError::Protocol("expected a JSON array".into()));
        }
        Ok(Page(doc))
    }

    /// The page past the last one (HTTP 204).
    pub fn empty() -> Page {
        Page(Document::new(String::new(), |_| Value::Array(Vec::new())))
    }

    pub fn rows(&self) -> &[Value<'_>] {
        self.0.root().as_array().map_or(&[], Vec::as_slice)
    }
}

pub fn parse_units(rows: &[Value]) -> Result<Vec<Unit>, ConnectorError> {
    rows.iter()
        .map(|u| {
            Ok(Unit {
                id: json::required(u, "UnitID")?,
                number: json::text(u, "Name").unwrap_or_default(),
                // As recorded: no building, no vacancy, a type id without its name.
                building: None,
                floorplan: None,
                vacant: None,
                warnings: vec![],
            })
        })
        .collect()
}

impl RentManager {
    fn role(&self, contact: &Value, w: &mut Warnings) -> HouseholdRole {
        let kind = json::text_ref(contact, "ApplicantType")
            .unwrap_or_default()
            .to_ascii_lowercase();
        if self.guarantor_types.contains(&kind) {
            HouseholdRole::Guarantor
        } else if self.occupant_types.contains(&kind) {
            HouseholdRole::Occupant
        } else if contact.get("IsPrimary").and_then(Value::as_bool) == Some(true) {
            HouseholdRole::Primary
        } else {
            if !matches!(kind.as_str(), "" | "applicant" | "co-applicant") {
                w.push("role", format!("unknown applicant type {kind:?}"));
            }
            HouseholdRole::CoResident
        }
    }

    /// Each contact of each tenant a resident; `leases` gives a tenant's lease and unit.
    pub fn parse_tenants(
        &self,
        rows: &[Value],
        leases: &TenantLeases,
    ) -> Result<Vec<Resident>, ConnectorError> {
        let mut out = Vec::new();
        for t in rows {
            let tenant = json::required(t, "TenantID")?;
            let lease = leases.get(&tenant);
            let mut facts = TenantFacts {
                status: json::text(t, "Status").unwrap_or_default(),
                contacts: Vec::new(),
            };
            for c in json::list(t.get("Contacts")) {
                let mut w = Warnings::new();
                let id = json::required(c, "ContactID")?;
                facts.contacts.push(id.clone());
                let phone = json::list(c.get("PhoneNumbers"))
                    .into_iter()
                    .find(|p| p.get("IsPrimary").and_then(Value::as_bool) == Some(true))
                    .and_then(|p| json::text(p, "PhoneNumber"));
                out.push(Resident {
                    id,
                    lease_id: lease.map(|l| l.0.clone()),
                    unit_id: lease.and_then(|l| l.1.clone()),
                    first_name: json::text(c, "FirstName").unwrap_or_default(),
                    last_name: json::text(c, "LastName").unwrap_or_default(),
                    email: w.email("email", json::text_ref(c, "Email").as_deref()),
                    phone,
                    role: self.role(c, &mut w),
                    warnings: w.into_vec(),
                });
            }
            self.tenants.borrow_mut().insert(tenant, facts);
        }
        Ok(out)
    }

    pub fn parse_leases(&self, rows: &[Value]) -> Result<Vec<Lease>, ConnectorError> {
        let tenants = self.tenants.borrow();
        rows.iter()
            .map(|l| {
                let mut w = Warnings::new();
                let tenant = tenants.get(&json::required(l, "TenantID")?).cloned();
                if tenant.is_none() {
                    w.push(
                        "status",
                        "the lease's tenant was not among the tenants read",
                    );
                }
                let tenant = tenant.unwrap_or_default();
                let move_out = w.date("move-out-date", json::text_ref(l, "MoveOutDate").as_deref());
                let status = match epms_connector_sdk::status::canonical(STATUSES, &tenant.status) {
                    LeaseStatus::Current if move_out.is_some() => LeaseStatus::Notice,
                    s => s,
                };
                let move_in = w.date("move-in-date", json::text_ref(l, "MoveInDate").as_deref());
                Ok(Lease {
                    id: json::required(l, "LeaseID")?,
                    unit_id: json::text(l, "UnitID"),
                    resident_ids: tenant.contacts,
                    raw_status: tenant.status,
                    status,
                    // No lease term is recorded: the tenancy runs move-in to move-out.
                    start_date: move_in.clone(),
                    end_date: move_out.clone(),
                    move_in_date: move_in,
                    move_out_date: move_out,
                    warnings: w.into_vec(),
                })
            })
            .collect()
    }

    fn sign_in(&self) -> Result<String, ConnectorError> {
        let body = json!({
            "Username": self.username,
            "Password": secret::placeholder("password"),
            "LocationID": self.location_id,
        });
        let url = format!("{}/Authentication/AuthorizeUser", self.base_url);
        auth::token_from(&Request::post(url, "application/json", body.to_string()).send()?)
    }

    fn get(&self, path: &str, params: &[(&str, &str)]) -> Result<Response, ConnectorError> {
        let url = format!("{}{path}?{}", self.base_url, query(params));
        let resp = self.token.send(
            || self.sign_in(),
            |token| {
                Ok(Request::get(&url)
                    .header("X-RM12Api-ApiToken", token)
                    .send()?)
            },
        )?;
        match resp.status {
            200..=299 => Ok(resp),
            _ => Err(resp.status_error(resp.text().unwrap_or_default().trim())),
        }
    }

    /// One page of a resource of `property`, and the next page's cursor.
    fn page(
        &self,
        resource: &str,
        embeds: &str,
        property: &str,
        cursor: Option<&str>,
    ) -> Result<(Page, Option<String>), ConnectorError> {
        let page = paging::page_number(cursor, 1)?;
        let filter = format!("PropertyID,eq,{property}");
        let (size, number) = (self.page_size.to_string(), page.to_string());
        let mut params = vec![
            ("filters", filter.as_str()),
            ("pageSize", &size),
            ("pageNumber", &number),
        ];
        if !embeds.is_empty() {
            params.push(("embeds", embeds));
        }
        let resp = self.get(resource, &params)?;
        // 204: past the last page.
        let rows = if resp.status == 204 {
            Page::empty()
        } else {
            Page::parse(resp.into_text()?)?
        };
        let next = paging::next_if_full(page, rows.rows().len(), self.page_size);
        Ok((rows, next))
    }

    /// Every page of a resource of `property`.
    fn all_pages(
        &self,
        resource: &str,
        embeds: &str,
        property: &str,
    ) -> Result<Vec<Page>, ConnectorError> {
        paging::all_pages(|c| {
            let (page, next) = self.page(resource, embeds, property, c)?;
            Ok((vec![page], next))
        })
    }

    /// Every lease page of `property`: read once a session.
    fn lease_pages(&self, property: &str) -> Result<Rc<LeasePages>, ConnectorError> {
        if let Some(known) = self.leases.borrow().as_ref()
            && known.property == property
        {
            return Ok(Rc::clone(known));
        }
        let pages = Rc::new(LeasePages::new(
            property,
            self.all_pages("/Leases", "", property)?,
        )?);
        *self.leases.borrow_mut() = Some(Rc::clone(&pages));
        Ok(pages)
    }
}

impl Connector for RentManager {
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            vendor: "rentmanager".into(),
            display_name: "Rent Manager 12".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            config_fields: vec![
                field(
                    "base-url",
                    "Base URL",
                    "https://{company}.api.rentmanager.com",
                    false,
                    true,
                ),
                field(
                    "username",
                    "Username",
                    "A Rent Manager user allowed the API",
                    false,
                    true,
                ),
                field("password", "Password", "That user's password", true, true),
                field(
                    "location-id",
                    "Location ID",
                    "The database location to sign in to",
                    false,
                    true,
                ),
                field(
                    "guarantor-types",
                    "Guarantor applicant types",
                    "Comma-separated (default: Guarantor)",
                    false,
                    false,
                ),
                field(
                    "occupant-types",
                    "Occupant applicant types",
                    "Comma-separated (default: Occupant, Minor, Child, Dependent)",
                    false,
                    false,
                ),
                field(
                    "page-size",
                    "Page size",
                    "Records a page (default 1000)",
                    false,
                    false,
                ),
            ],
            status_vocabulary: epms_connector_sdk::status::raw_strings(STATUSES),
        }
    }

    fn new(config: Config) -> Result<Self, ConnectorError> {
        Ok(RentManager {
            base_url: config.base_url()?.to_owned(),
            username: config.require("username")?.to_owned(),
            location_id: config.require("location-id")?.to_owned(),
            page_size: config.number("page-size", DEFAULT_PAGE_SIZE, 1..=10_000)?,
            guarantor_types: config.list("guarantor-types", "Guarantor"),
            occupant_types: config.list("occupant-types", "Occupant,Minor,Child,Dependent"),
            token: TokenSession::default(),
            tenants: RefCell::default(),
            leases: RefCell::default(),
        })
    }

    fn list_properties(&self) -> Result<Vec<PmsProperty>, ConnectorError> {
        let resp = self.get("/Properties", &[("fields", "PropertyID,Name")])?;
        Page::parse(resp.into_text()?)?
            .rows()
            .iter()
            .map(|p| {
                Ok(PmsProperty {
                    id: json::required(p, "PropertyID")?,
                    name: json::text(p, "Name").unwrap_or_default(),
                })
            })
            .collect()
    }

    fn read_units(
        &self,
        property: &str,
        cursor: Option<String>,
    ) -> Result<UnitPage, ConnectorError> {
        let (page, next) = self.page("/Units", "", property, cursor.as_deref())?;
        Ok(UnitPage {
            records: parse_units(page.rows())?,
            next,
        })
    }

    fn read_residents(
        &self,
        property: &str,
        cursor: Option<String>,
    ) -> Result<ResidentPage, ConnectorError> {
        let leases = self.lease_pages(property)?;
        let (page, next) = self.page("/Tenants", "Contacts", property, cursor.as_deref())?;
        Ok(ResidentPage {
            records: self.parse_tenants(page.rows(), &leases.by_tenant)?,
            next,
        })
    }

    fn read_leases(
        &self,
        property: &str,
        cursor: Option<String>,
    ) -> Result<LeasePage, ConnectorError> {
        let leases = self.lease_pages(property)?;
        if cursor.is_none() && self.tenants.borrow().is_empty() {
            // Leases read without the residents first: the tenants give their status.
            for page in self.all_pages("/Tenants", "Contacts", property)? {
                self.parse_tenants(page.rows(), &leases.by_tenant)?;
            }
        }
        let number = paging::page_number(cursor.as_deref(), 1)?;
        let fetched;
        let (page, next) = match leases.page(number) {
            Some(kept) => (
                kept,
                paging::next_if_full(number, kept.rows().len(), self.page_size),
            ),
            // A cursor past the pages read (the list grew since): asked for.
            None => {
                fetched = self.page("/Leases", "", property, cursor.as_deref())?;
                (&fetched.0, fetched.1.clone())
            }
        };
        Ok(LeasePage {
            records: self.parse_leases(page.rows())?,
            next,
        })
    }
}

export_connector!(RentManager);

#[cfg(test)]
mod tests {
    use super::*;
    use epms_connector_sdk::Setting;

    fn connector(extra: &[(&str, &str)]) -> RentManager {
        let mut settings = vec![
            ("base-url", "https://acme.api.rentmanager.com"),
            ("username", "api"),
            ("location-id", "1"),
        ];
        settings.extend_from_slice(extra);
        RentManager::new(Config::new(
            settings
                .into_iter()
                .map(|(name, value)| Setting {
                    name: name.into(),
                    value: value.into(),
                })
                .collect(),
        ))
        .unwrap()
    }

    fn recording(name: &str) -> Page {
        Page::parse(epms_connector_sdk::recordings::read("rentmanager", name)).unwrap()
    }

    /// Regression: the leases read asked Rent Manager for every `/Leases` page again,
    /// after the residents read had read them all. (A request here would panic: a
    /// native test has no host to send it.)
    #[test]
    fn the_leases_read_pages_through_the_lease_pages_kept_by_the_residents_read() {
        let rm = connector(&[("page-size", "40")]);
        let recorded = recording("Leases.json");
        let pages: Vec<Page> = recorded
            .rows()
            .chunks(40)
            .map(|rows| Page::parse(Value::Array(rows.to_vec()).to_string()).unwrap())
            .collect();
        let kept = LeasePages::new("1", pages).unwrap();
        rm.parse_tenants(
            recording("Tenants.embed-contacts.json").rows(),
            &kept.by_tenant,
        )
        .unwrap();
        *rm.leases.borrow_mut() = Some(Rc::new(kept));
        let first = rm.read_leases("1", None).unwrap();
        assert_eq!(first.records.len(), 40);
        assert_eq!(first.next.as_deref(), Some("page:2"));
        let second = rm.read_leases("1", first.next).unwrap();
        assert_eq!(second.records.len(), 30);
        assert_eq!(second.next, None);
        let (_, whole) = read_recorded(&rm);
        let paged: Vec<&str> = first
            .records
            .iter()
            .chain(&second.records)
            .map(|l| l.id.as_str())
            .collect();
        assert_eq!(
            paged,
            whole.iter().map(|l| l.id.as_str()).collect::<Vec<_>>()
        );
    }

    /// Tenants and leases as recorded, joined as a sync joins them.
    fn read_recorded(rm: &RentManager) -> (Vec<Resident>, Vec<Lease>) {
        let lease_page = recording("Leases.json");
        let lease_rows = lease_page.rows();
        let leases: HashMap<_, _> = lease_rows
            .iter()
            .map(|l| {
                (
                    json::text(l, "TenantID").unwrap(),
                    (json::text(l, "LeaseID").unwrap(), json::text(l, "UnitID")),
                )
            })
            .collect();
        let residents = rm
            .parse_tenants(recording("Tenants.embed-contacts.json").rows(), &leases)
            .unwrap();
        (residents, rm.parse_leases(lease_rows).unwrap())
    }

    #[test]
    fn the_recorded_units_read_with_their_labels() {
        let units = parse_units(recording("Units.embed-addresses.json").rows()).unwrap();
        assert_eq!(units.len(), 76);
        assert_eq!(
            (units[0].id.as_str(), units[0].number.as_str()),
            ("250", "Lot 1")
        );
        assert!(
            units
                .iter()
                .all(|u| u.building.is_none() && u.vacant.is_none())
        );
    }

    /// The recorded household: people are `Contacts[]`, the tenant's `Name` is the
    /// household's; leases carry no status and take their tenant's.
    #[test]
    fn the_recorded_tenants_are_people_and_leases_take_their_tenants_status() {
        let rm = connector(&[]);
        let (residents, leases) = read_recorded(&rm);
        assert_eq!(residents.len(), 73, "70 tenants, 73 contacts");
        let first = &residents[0];
        assert_eq!(
            (
                first.id.as_str(),
                first.first_name.as_str(),
                first.last_name.as_str()
            ),
            ("224", "Name001", "Name002")
        );
        assert_eq!(first.lease_id.as_deref(), Some("155"));
        assert_eq!(first.unit_id.as_deref(), Some("251"));
        assert_eq!(first.email.as_deref(), Some("user001@example.com"));
        assert_eq!(first.phone.as_deref(), Some("(555)555-0001"));
        assert_eq!(first.role, HouseholdRole::Primary);
        assert_eq!(
            residents
                .iter()
                .filter(|r| r.role == HouseholdRole::CoResident)
                .count(),
            3,
            "the second contacts of three households"
        );
        assert_eq!(leases.len(), 70);
        let by_status = |s: LeaseStatus| leases.iter().filter(|l| l.status == s).count();
        assert_eq!(
            (
                by_status(LeaseStatus::Current),
                by_status(LeaseStatus::Past)
            ),
            (57, 13)
        );
        let lease = leases.iter().find(|l| l.id == "155").unwrap();
        assert_eq!(lease.raw_status, "Current");
        assert_eq!(lease.resident_ids, ["224"]);
        assert_eq!(lease.move_in_date.as_deref(), Some("2017-05-01"));
        assert_eq!(lease.move_out_date, None, "MoveOutDate absent, not null");
        assert!(
            leases.iter().all(|l| l.warnings.is_empty()),
            "every tenant known"
        );
        let past = leases
            .iter()
            .find(|l| l.status == LeaseStatus::Past)
            .unwrap();
        assert!(past.move_out_date.is_some());
    }

    #[test]
    fn applicant_types_give_roles_and_are_configurable() {
        let rm = connector(&[("guarantor-types", "Co-Signer"), ("occupant-types", "Kid")]);
        let contact = |kind: &str, primary: bool| {
            Value::from(json!({"ContactID": 1, "ApplicantType": kind, "IsPrimary": primary}))
        };
        let mut w = Warnings::new();
        assert_eq!(
            rm.role(&contact("Co-Signer", false), &mut w),
            HouseholdRole::Guarantor
        );
        assert_eq!(
            rm.role(&contact("kid", false), &mut w),
            HouseholdRole::Occupant
        );
        assert_eq!(
            rm.role(&contact("Applicant", true), &mut w),
            HouseholdRole::Primary
        );
        assert!(w.is_empty());
        assert_eq!(
            rm.role(&contact("Pet", false), &mut w),
            HouseholdRole::CoResident
        );
        assert!(!w.is_empty(), "an unknown type is said");
        let default = connector(&[]);
        assert_eq!(
            default.role(&contact("Guarantor", false), &mut w),
            HouseholdRole::Guarantor
        );
        assert_eq!(
            default.role(&contact("Minor", false), &mut w),
            HouseholdRole::Occupant
        );
    }

    #[test]
    fn a_current_tenant_with_a_move_out_date_has_given_notice() {
        let rm = connector(&[]);
        rm.tenants.borrow_mut().insert(
            "7".into(),
            TenantFacts {
                status: "Current".into(),
                contacts: vec!["70".into()],
            },
        );
        let lease = Value::from(json!({"LeaseID": 1, "TenantID": 7, "UnitID": 3,
            "MoveInDate": "2024-01-01T00:00:00", "MoveOutDate": "2030-06-30T00:00:00"}));
        let leases = rm.parse_leases(&[lease]).unwrap();
        assert_eq!(leases[0].status, LeaseStatus::Notice);
        assert_eq!(leases[0].raw_status, "Current");
    }

    #[test]
    fn an_answer_that_is_not_an_array_and_a_bad_page_size_are_refused() {
        assert!(matches!(
            Page::parse("{\"error\": 1}".into()),
            Err(ConnectorError::Protocol(_))
        ));
        assert!(Page::empty().rows().is_empty());
        let bad = RentManager::new(Config::new(vec![
            Setting {
                name: "base-url".into(),
                value: "https://x".into(),
            },
            Setting {
                name: "username".into(),
                value: "u".into(),
            },
            Setting {
                name: "location-id".into(),
                value: "1".into(),
            },
            Setting {
                name: "page-size".into(),
                value: "0".into(),
            },
        ]));
        assert!(matches!(bad, Err(ConnectorError::Config(_))));
    }
}
