//! MRI connector: the OData-style `api.asp` REST API (see README.md for the APIs, the
//! field and status mappings and every assumption).

use epms_connector_sdk::http::{self, Request};
use epms_connector_sdk::json::{self, Document, Value};
use epms_connector_sdk::record::Warnings;
use epms_connector_sdk::session::Memo;
use epms_connector_sdk::status::{self, Vocabulary};
use epms_connector_sdk::{
    Config, Connector, ConnectorError, ConnectorInfo, HouseholdRole, Lease, LeasePage, LeaseStatus,
    PmsProperty, Resident, ResidentPage, Unit, UnitPage, dates, export_connector, field, log,
    paging, secret,
};

/// The lease holder's `ResidentStatus` (other members' rows say `Co-Resident` or
/// `Other Resident`), and `New` on `PendingMoveIns` rows. `Current` is refined by
/// `IsCurrent` and `LeaseMoveOut` (see [`canonical`]).
pub const STATUSES: Vocabulary = &[
    ("Current", LeaseStatus::Current),
    ("Old", LeaseStatus::Past),
    ("New", LeaseStatus::Future),
];

/// Rows per page asked of MRI.
pub const TOP: usize = 500;

/// Leases handed to the host per page.
pub const LEASES_PER_PAGE: usize = 1_000;

const LEASE_DETAILS: &str = "ResidentLeaseDetailsByPropertyID";
const RESIDENTS: &str = "ResidentsByPropertyID";
const PENDING: &str = "PendingMoveIns";

/// The cursor that starts the pending move-ins after the last resident page.
const PENDING_START: &str = "pending-move-ins";

pub struct Mri {
    base_url: String,
    user: String,
    /// Every lease of the last property read. MRI pages rows (one per person and
    /// lease), not leases: a lease may straddle two pages, so all rows are read and
    /// merged first, then handed out in pages.
    leases: Memo<String, Vec<Lease>>,
}

/// MRI numbers leases per unit (lease 1, 2, … of each unit): a lease is known by its
/// building, unit and number together.
pub fn lease_key(building: Option<&str>, unit: Option<&str>, lease: &str) -> String {
    format!(
        "{}/{}/{lease}",
        building.unwrap_or_default(),
        unit.unwrap_or_default()
    )
}

/// The canonical status of a lease from its holder's `ResidentStatus` and `IsCurrent`.
/// `Current` with a `LeaseMoveOut` is a notice while that date is today or later; once
/// it has passed, the resident has moved out and MRI has not closed the lease yet: past,
/// with a warning saying so.
pub fn canonical(
    raw: &str,
    is_current: bool,
    move_out: Option<&str>,
    today: &str,
    w: &mut Warnings,
) -> LeaseStatus {
    match status::canonical(STATUSES, raw) {
        LeaseStatus::Current if !is_current => LeaseStatus::Past,
        LeaseStatus::Current => match move_out {
            Some(d) if d < today => {
                w.push(
                    "status",
                    format!("MRI says Current, but the move-out date {d} has passed: read as past"),
                );
                LeaseStatus::Past
            }
            Some(_) => LeaseStatus::Notice,
            None => LeaseStatus::Current,
        },
        other => other,
    }
}

/// `ResidentType` of `ResidentsByPropertyID`: real answers carry one-letter codes
/// (`R` on every household member of the recording, so it does not tell the holder from
/// the others), older ones whole words.
fn role(raw: Option<String>, w: &mut Warnings) -> HouseholdRole {
    match raw.as_deref() {
        Some("Resident") => HouseholdRole::Primary,
        Some("R") | None => HouseholdRole::Other,
        Some("Co-Resident") | Some("C") => HouseholdRole::CoResident,
        Some("Occupant") | Some("O") => HouseholdRole::Occupant,
        Some("Guarantor") | Some("G") => HouseholdRole::Guarantor,
        Some(other) => {
            w.push("role", format!("unknown ResidentType {other:?}"));
            HouseholdRole::Other
        }
    }
}

/// An OData page: its rows and the next link.
pub fn page_of<'v, 'a>(
    doc: &'v Value<'a>,
) -> Result<(Vec<&'v Value<'a>>, Option<String>), ConnectorError> {
    let rows = doc
        .get("value")
        .and_then(Value::as_array)
        .ok_or_else(|| ConnectorError::Protocol("answer without value".into()))?;
    Ok((rows.iter().collect(), json::text(doc, "nextLink")))
}

/// The rows of pages read whole (see `Mri::all_pages`), in order.
fn rows_of(pages: &[Document]) -> Vec<&Value<'_>> {
    pages
        .iter()
        .flat_map(|p| json::list(p.root().get("value")))
        .collect()
}

pub fn parse_units(rows: &[&Value]) -> Result<Vec<Unit>, ConnectorError> {
    rows.iter()
        .map(|u| {
            Ok(Unit {
                id: json::required(u, "UnitID")?,
                number: json::text(u, "UnitDescription").unwrap_or_default(),
                building: json::text(u, "BuildingID"),
                floorplan: json::text(u, "FloorplanName"),
                vacant: match json::text_ref(u, "Vacant").as_deref() {
                    Some("Y") => Some(true),
                    Some("N") => Some(false),
                    _ => None,
                },
                warnings: vec![],
            })
        })
        .collect()
}

/// The column names of a resident row: the two APIs that list people name them apart.
struct ResidentColumns {
    id: &'static str,
    building: &'static str,
    unit: &'static str,
    lease: &'static str,
    phone: &'static str,
}

fn parse_people(
    rows: &[&Value],
    c: &ResidentColumns,
    role_of: impl Fn(&Value, &mut Warnings) -> HouseholdRole,
) -> Result<Vec<Resident>, ConnectorError> {
    rows.iter()
        .map(|r| {
            let mut w = Warnings::new();
            let unit = json::text(r, c.unit);
            let building = json::text(r, c.building);
            Ok(Resident {
                id: json::required(r, c.id)?,
                lease_id: json::text_ref(r, c.lease)
                    .map(|l| lease_key(building.as_deref(), unit.as_deref(), &l)),
                unit_id: unit,
                first_name: json::text(r, "FirstName").unwrap_or_default(),
                last_name: json::text(r, "LastName").unwrap_or_default(),
                email: w.email("email", json::text_ref(r, "Email").as_deref()),
                phone: json::text(r, c.phone),
                role: role_of(r, &mut w),
                warnings: w.into_vec(),
            })
        })
        .collect()
}

/// Residents from `ResidentsByPropertyID` rows.
pub fn parse_residents(rows: &[&Value]) -> Result<Vec<Resident>, ConnectorError> {
    let columns = ResidentColumns {
        id: "ResidentNameID",
        building: "RMBLDGID",
        unit: "UNITID",
        lease: "RMLEASEID",
        phone: "PhoneNumber",
    };
    parse_people(rows, &columns, |r, w| {
        role(json::text(r, "ResidentType"), w)
    })
}

/// Future residents from `PendingMoveIns` rows: `ResidentID` (not `ResidentNameID`),
/// the lease holder of a lease not yet started.
pub fn parse_pending_residents(rows: &[&Value]) -> Result<Vec<Resident>, ConnectorError> {
    let columns = ResidentColumns {
        id: "ResidentID",
        building: "BuildingID",
        unit: "UnitID",
        lease: "LeaseID",
        phone: "Phone",
    };
    parse_people(rows, &columns, |_, _| HouseholdRole::Primary)
}

/// Is this lease-detail row the lease holder's (rather than a co-resident's)?
fn is_holder(row: &Value) -> bool {
    matches!(
        json::text_ref(row, "ResidentStatus").as_deref(),
        Some("Current") | Some("Old") | Some("New")
    )
}

/// Leases from lease-detail rows (one per person and lease) and pending move-in rows
/// (one per future lease holder), in first-seen order. The holder's row carries the
/// lease's status and dates; a guarantor's row (`Guarantor: Y`) adds nobody to the
/// lease, since a guarantor does not live there.
pub fn parse_leases(rows: &[&Value], today: &str) -> Result<Vec<Lease>, ConnectorError> {
    let mut out: Vec<Lease> = Vec::new();
    let mut holder_seen: Vec<bool> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for row in rows {
        let pending = row.get("ResidentID").is_some() && row.get("ResidentNameID").is_none();
        let person = if pending {
            json::required(row, "ResidentID")?
        } else {
            json::required(row, "ResidentNameID")?
        };
        let unit = json::text(row, "UnitID");
        let id = lease_key(
            json::text_ref(row, "BuildingID").as_deref(),
            unit.as_deref(),
            &json::required(row, "LeaseID")?,
        );
        let i = *at.entry(id.clone()).or_insert_with(|| {
            out.push(Lease {
                id,
                unit_id: unit,
                resident_ids: vec![],
                raw_status: String::new(),
                status: LeaseStatus::Other,
                start_date: None,
                end_date: None,
                move_in_date: None,
                move_out_date: None,
                warnings: vec![],
            });
            holder_seen.push(false);
            out.len() - 1
        });
        let lease = &mut out[i];
        let guarantor = json::text_ref(row, "Guarantor").as_deref() == Some("Y");
        if !guarantor && !lease.resident_ids.contains(&person) {
            lease.resident_ids.push(person);
        }
        // The holder's row sets status and dates; until it comes, the first member's
        // row stands in (a lease seen only through its members).
        let holder = is_holder(row);
        if holder_seen[i] || !(holder || lease.raw_status.is_empty()) {
            continue;
        }
        holder_seen[i] = holder;
        let mut w = Warnings::new();
        if pending {
            lease.raw_status = json::text(row, "ResidentStatus").unwrap_or_default();
            lease.status = status::canonical(STATUSES, &lease.raw_status);
            lease.move_in_date = w.date(
                "move-in-date",
                json::text_ref(row, "ScheduledMoveInDate").as_deref(),
            );
        } else {
            let is_current = json::text_ref(row, "IsCurrent").as_deref() == Some("Y");
            // A lease seen only through its members' rows: IsCurrent alone tells.
            let raw = match json::text(row, "ResidentStatus") {
                Some(s) if is_holder(row) => s,
                _ if is_current => "Current".to_owned(),
                _ => "Old".to_owned(),
            };
            lease.start_date = w.date("start-date", json::text_ref(row, "LeaseStart").as_deref());
            lease.end_date = w.date("end-date", json::text_ref(row, "LeaseEnd").as_deref());
            lease.move_in_date =
                w.date("move-in-date", json::text_ref(row, "OccupyDate").as_deref());
            lease.move_out_date = w.date(
                "move-out-date",
                json::text_ref(row, "LeaseMoveOut").as_deref(),
            );
            lease.status = canonical(
                &raw,
                is_current,
                lease.move_out_date.as_deref(),
                today,
                &mut w,
            );
            lease.raw_status = raw;
        }
        lease.warnings = w.into_vec();
    }
    Ok(out)
}

impl Mri {
    fn get(&self, url: &str) -> Result<http::Response, ConnectorError> {
        Ok(Request::get(url)
            .header(
                "authorization",
                secret::basic_auth(
                    &format!("{}/{}", self.user, secret::placeholder("partner-key")),
                    &secret::placeholder("password"),
                ),
            )
            .header("accept", "application/json")
            .send()?)
    }

    fn error_of(resp: &http::Response) -> ConnectorError {
        let message = json::parse(resp.text().unwrap_or_default())
            .ok()
            .and_then(|d| {
                json::path(&d, &["error", "message"])
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        resp.status_error(&message)
    }

    /// The URL of a first page, or of the page a `nextLink` names. Links are followed
    /// as MRI wrote them (absolute and `%24`-encoded, `$top`/`$skip` or an opaque
    /// `_next` cursor, any case), on the credential's own host.
    fn url(
        &self,
        api: &str,
        params: &[(&str, &str)],
        link: Option<&str>,
    ) -> Result<String, ConnectorError> {
        if let Some(link) = link {
            // A recorded PendingMoveIns link asks for `$format=xml` although the first
            // page was JSON; this connector reads JSON only.
            let link = link
                .replace("%24format=xml", "%24format=json")
                .replace("$format=xml", "$format=json");
            return Ok(http::rebase(&self.base_url, &link)?);
        }
        let api = format!("MRI_S-PMRM_{api}");
        let top = TOP.to_string();
        let mut pairs = vec![("$api", api.as_str()), ("$format", "json")];
        pairs.extend_from_slice(params);
        pairs.push(("$top", &top));
        Ok(format!(
            "{}/mriapiservices/api.asp?{}",
            self.base_url,
            http::query(&pairs)
        ))
    }

    /// One page of an API.
    fn page(
        &self,
        api: &str,
        params: &[(&str, &str)],
        link: Option<&str>,
    ) -> Result<Document, ConnectorError> {
        let resp = self.get(&self.url(api, params, link)?)?;
        if !resp.is_success() {
            return Err(Self::error_of(&resp));
        }
        Document::parse(resp.into_text()?)
    }

    /// One page of pending move-ins. A partner not licensed for this one API gets
    /// HTTP 400: then there are no future residents to read, which is logged, and the
    /// rest of the sync goes on.
    fn pending_page(
        &self,
        property: &str,
        link: Option<&str>,
    ) -> Result<Option<Document>, ConnectorError> {
        let resp = self.get(&self.url(PENDING, &[("PropertyID", property)], link)?)?;
        if resp.status == 400 {
            log::warn(&format!(
                "MRI refused PendingMoveIns ({}): future residents are not read",
                Self::error_of(&resp)
            ));
            return Ok(None);
        }
        if !resp.is_success() {
            return Err(Self::error_of(&resp));
        }
        Document::parse(resp.into_text()?).map(Some)
    }

    /// Every page of an API, into `pages` (each checked to be a page: see [`page_of`]).
    fn all_pages(
        &self,
        mut page: impl FnMut(Option<&str>) -> Result<Option<Document>, ConnectorError>,
        pages: &mut Vec<Document>,
    ) -> Result<(), ConnectorError> {
        let mut seen = std::collections::HashSet::new();
        let mut link: Option<String> = None;
        while let Some(doc) = page(link.as_deref())? {
            let next = page_of(doc.root())?.1;
            pages.push(doc);
            match next {
                Some(n) if seen.insert(n.clone()) => link = Some(n),
                Some(n) => return Err(ConnectorError::Protocol(format!("nextLink {n:?} repeats"))),
                None => break,
            }
        }
        Ok(())
    }

    /// Every lease of a property: lease details, then pending move-ins, all pages.
    fn all_leases(&self, property: &str) -> Result<Vec<Lease>, ConnectorError> {
        let mut pages = Vec::new();
        self.all_pages(
            |link| {
                self.page(LEASE_DETAILS, &[("RMPROPID", property)], link)
                    .map(Some)
            },
            &mut pages,
        )?;
        self.all_pages(|link| self.pending_page(property, link), &mut pages)?;
        parse_leases(&rows_of(&pages), &dates::today())
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
            leases: Memo::default(),
        })
    }

    fn list_properties(&self) -> Result<Vec<PmsProperty>, ConnectorError> {
        let mut pages = Vec::new();
        self.all_pages(
            |link| self.page("PropertyList", &[], link).map(Some),
            &mut pages,
        )?;
        Ok(rows_of(&pages)
            .into_iter()
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
        let doc = self.page(
            "UnitVacancyInformation",
            &[("PROPERTYID", property)],
            cursor.as_deref(),
        )?;
        let (rows, next) = page_of(doc.root())?;
        Ok(UnitPage {
            records: parse_units(&rows)?,
            next,
        })
    }

    /// `ResidentsByPropertyID`, then `PendingMoveIns` (future residents appear in no
    /// resident list of their own).
    fn read_residents(
        &self,
        property: &str,
        cursor: Option<String>,
    ) -> Result<ResidentPage, ConnectorError> {
        let pending_link = match cursor.as_deref() {
            Some(PENDING_START) => Some(None),
            Some(link) if link.contains(PENDING) => Some(Some(link)),
            _ => None,
        };
        if let Some(link) = pending_link {
            let Some(doc) = self.pending_page(property, link)? else {
                return Ok(ResidentPage {
                    records: vec![],
                    next: None,
                });
            };
            let (rows, next) = page_of(doc.root())?;
            return Ok(ResidentPage {
                records: parse_pending_residents(&rows)?,
                next,
            });
        }
        let doc = self.page(RESIDENTS, &[("RMPROPID", property)], cursor.as_deref())?;
        let (rows, next) = page_of(doc.root())?;
        Ok(ResidentPage {
            records: parse_residents(&rows)?,
            next: next.or_else(|| Some(PENDING_START.to_owned())),
        })
    }

    fn read_leases(
        &self,
        property: &str,
        cursor: Option<String>,
    ) -> Result<LeasePage, ConnectorError> {
        if cursor.is_none() {
            // A new read: never hand out a list read before.
            self.leases.clear();
        }
        let leases = self
            .leases
            .get_or_try(&property.to_owned(), || self.all_leases(property))?;
        let (records, next) = paging::slice(&leases, cursor.as_deref(), LEASES_PER_PAGE)?;
        Ok(LeasePage { records, next })
    }
}

export_connector!(Mri);

#[cfg(test)]
mod tests {
    //! Every recorded MRI answer of an API this connector calls, parsed and checked
    //! against what the recording says (tests/fixtures/real/mri, README there).
    use super::*;
    use epms_connector_sdk::xml;

    fn fixture(name: &str) -> String {
        epms_connector_sdk::recordings::read("mri", name)
    }

    fn json_rows(name: &str) -> (Vec<Value<'static>>, Option<String>) {
        let text = fixture(name);
        let doc = json::parse(&text).unwrap();
        let (rows, next) = page_of(&doc).unwrap();
        (
            rows.into_iter().map(|r| r.clone().into_owned()).collect(),
            next,
        )
    }

    /// The recorded XML answer (`$format=xml`) as rows like the JSON ones.
    fn xml_rows() -> Vec<Value<'static>> {
        let recorded = fixture("ResidentLeaseDetailsByPropertyID.xml");
        let root = xml::parse(&recorded).unwrap();
        root.children("entry")
            .map(|e| {
                let mut row = json::Object::default();
                for c in &e.children {
                    if let Some(t) = c.trimmed() {
                        row.insert(c.name.to_string(), Value::String(t.to_owned().into()));
                    }
                }
                Value::Object(row)
            })
            .collect()
    }

    const TODAY: &str = "2026-12-01";

    fn lease<'a>(leases: &'a [Lease], id: &str) -> &'a Lease {
        leases
            .iter()
            .find(|l| l.id == id)
            .unwrap_or_else(|| panic!("no lease {id}"))
    }

    /// Regression: leases were grouped by LeaseID alone, but MRI numbers them per
    /// unit, so lease "1" held 19 people on 15 units.
    #[test]
    fn recorded_lease_details_are_keyed_per_unit() {
        let rows = xml_rows();
        let refs: Vec<&Value> = rows.iter().collect();
        let leases = parse_leases(&refs, TODAY).unwrap();
        assert_eq!(rows.len(), 24);
        assert_eq!(leases.len(), 18, "one lease per (building, unit, LeaseID)");
        for l in &leases {
            let unit = l.unit_id.as_deref().unwrap();
            assert!(l.id.contains(&format!("/{unit}/")), "{} on {unit}", l.id);
        }
        let old = lease(&leases, "01/101/1");
        assert_eq!(old.resident_ids, ["0000000001"]);
        assert_eq!(
            (old.raw_status.as_str(), old.status),
            ("Old", LeaseStatus::Past)
        );
        assert_eq!(
            old.move_out_date.as_deref(),
            Some("2007-10-31"),
            "seven fractional digits"
        );
        assert_eq!(old.start_date, None, "empty <LeaseStart />");
        let current = lease(&leases, "01/101/2");
        assert_eq!(current.resident_ids, ["0000000091", "WF00000422"]);
        assert_eq!(current.status, LeaseStatus::Current);
        assert_eq!(current.end_date.as_deref(), Some("2025-02-19"));
        // A co-resident's row does not make the lease: Baby Brady ("Other Resident").
        let brady = lease(&leases, "02/202/1");
        assert_eq!(brady.resident_ids, ["0000000012", "0000000013"]);
        assert_eq!(brady.raw_status, "Current");
    }

    /// Regression: the same person's old and current leases (a transfer: Marsha
    /// Smith, Old on 103, Current on 108) swapped statuses.
    #[test]
    fn a_transfer_keeps_each_lease_its_own_status() {
        let rows = xml_rows();
        let refs: Vec<&Value> = rows.iter().collect();
        let leases = parse_leases(&refs, "2008-03-01").unwrap();
        let old = lease(&leases, "01/103/2");
        assert_eq!(old.resident_ids, ["0000000004"]);
        assert_eq!(old.status, LeaseStatus::Past);
        let new = lease(&leases, "01/108/1");
        assert_eq!(new.resident_ids, ["WF00000095"]);
        assert_eq!(
            new.status,
            LeaseStatus::Notice,
            "move-out 2008-04-30 is ahead on 2008-03-01"
        );
        assert!(new.warnings.is_empty());
    }

    /// Regression: `Current` with a move-out date long past was read as notice.
    #[test]
    fn a_current_lease_whose_move_out_has_passed_is_past_with_a_warning() {
        let rows = xml_rows();
        let refs: Vec<&Value> = rows.iter().collect();
        let leases = parse_leases(&refs, TODAY).unwrap();
        let l = lease(&leases, "01/108/1");
        assert_eq!(
            (l.raw_status.as_str(), l.status),
            ("Current", LeaseStatus::Past)
        );
        assert_eq!(l.warnings[0].field, "status");
        assert!(l.warnings[0].message.contains("2008-04-30"));
        let today_is_move_out = parse_leases(&refs, "2008-04-30").unwrap();
        assert_eq!(
            lease(&today_is_move_out, "01/108/1").status,
            LeaseStatus::Notice
        );
    }

    #[test]
    fn the_recorded_json_page_keys_members_and_links_absolutely() {
        let (rows, next) = json_rows("ResidentLeaseDetailsByPropertyID.page1.json");
        let refs: Vec<&Value> = rows.iter().collect();
        let leases = parse_leases(&refs, TODAY).unwrap();
        assert_eq!(leases.len(), 1);
        let l = &leases[0];
        assert_eq!(l.id, "01/101/1");
        assert_eq!(
            l.resident_ids,
            ["0000000001", "0000000002"],
            "the Other Resident shares lease 1"
        );
        assert_eq!(
            (l.raw_status.as_str(), l.status),
            ("Old", LeaseStatus::Past)
        );
        assert_eq!(l.start_date.as_deref(), Some("2019-05-01"));
        assert_eq!(l.move_out_date.as_deref(), Some("2020-01-01"));
        let next = next.unwrap();
        assert!(next.starts_with("https://") && next.contains("%24skip=301"));
        assert_eq!(
            http::rebase("http://127.0.0.1:1/", &next).unwrap(),
            "http://127.0.0.1:1/mriapiservices/api.asp?%24api=MRI_S-PMRM_ResidentLeaseDetailsByPropertyID&RMPROPID=GCNS01&%24format=json&%24top=300&%24skip=301"
        );
    }

    #[test]
    fn the_recorded_resident_page_reads_one_letter_codes() {
        let (rows, next) = json_rows("ResidentsByPropertyID.page1.json");
        let refs: Vec<&Value> = rows.iter().collect();
        let residents = parse_residents(&refs).unwrap();
        assert_eq!(residents.len(), 2);
        let r = &residents[0];
        assert_eq!(r.id, "0000000001");
        assert_eq!(
            r.lease_id.as_deref(),
            Some("01/101/1"),
            "the same key as the lease"
        );
        assert_eq!(r.unit_id.as_deref(), Some("101"));
        assert_eq!(
            (r.first_name.as_str(), r.last_name.as_str()),
            ("S.A. DE C.V.", "CJ LOGISTICS MEXICO")
        );
        assert_eq!(r.email, None, "null, not a string");
        assert_eq!(r.role, HouseholdRole::Other);
        assert!(
            residents.iter().all(|r| r.warnings.is_empty()),
            "R is a known code"
        );
        assert!(next.unwrap().contains("%24skip=301"));
    }

    /// Regression: PendingMoveIns rows carry ResidentID and status New; one such row
    /// aborted the whole lease read, and the person was in no resident list.
    #[test]
    fn recorded_pending_move_ins_are_future_residents_and_leases() {
        let (rows, next) = json_rows("PendingMoveIns.array-address.json");
        let refs: Vec<&Value> = rows.iter().collect();
        let residents = parse_pending_residents(&refs).unwrap();
        assert_eq!(residents.len(), 1);
        let r = &residents[0];
        assert_eq!(r.id, "00S0009003");
        assert_eq!(r.lease_id.as_deref(), Some("01/0809/2"));
        assert_eq!(r.email.as_deref(), Some("user001@example.com"));
        assert_eq!(r.role, HouseholdRole::Primary);
        let leases = parse_leases(&refs, TODAY).unwrap();
        let l = &leases[0];
        assert_eq!(l.id, "01/0809/2");
        assert_eq!(l.resident_ids, ["00S0009003"]);
        assert_eq!(
            (l.raw_status.as_str(), l.status),
            ("New", LeaseStatus::Future)
        );
        assert_eq!(l.move_in_date.as_deref(), Some("2025-06-18"));
        assert!(
            next.unwrap().contains("PropertyID=GCCH02"),
            "the parameter is PropertyID"
        );
    }

    #[test]
    fn both_recorded_paging_styles_are_followed_as_given() {
        for name in ["nextLink.cursor.json", "nextLink.top-skip.json"] {
            let (_, next) = json_rows(name);
            let url = http::rebase("https://pms.test", &next.unwrap()).unwrap();
            assert!(
                url.starts_with("https://pms.test/mriapiservices/api.asp?%24api="),
                "{url}"
            );
        }
        let (_, cursor) = json_rows("nextLink.cursor.json");
        assert!(cursor.unwrap().ends_with("_next=ae4940b2ae3c4f29"));
    }

    #[test]
    fn a_guarantor_row_adds_nobody_to_the_lease() {
        let rows = [
            json::json!({"ResidentNameID": "1", "BuildingID": "01", "UnitID": "7", "LeaseID": "1", "ResidentStatus": "Current", "IsCurrent": "Y", "Guarantor": "N"}),
            json::json!({"ResidentNameID": "2", "BuildingID": "01", "UnitID": "7", "LeaseID": "1", "ResidentStatus": "Other Resident", "IsCurrent": "Y", "Guarantor": "Y"}),
        ]
        .map(Value::from);
        let refs: Vec<&Value> = rows.iter().collect();
        assert_eq!(parse_leases(&refs, TODAY).unwrap()[0].resident_ids, ["1"]);
    }

    #[test]
    fn statuses_follow_is_current_and_the_move_out_date() {
        let mut w = Warnings::new();
        let c = |raw, cur, out| canonical(raw, cur, out, TODAY, &mut Warnings::new());
        assert_eq!(c("Current", true, Some("2027-01-31")), LeaseStatus::Notice);
        assert_eq!(c("Current", true, None), LeaseStatus::Current);
        assert_eq!(c("Current", false, None), LeaseStatus::Past);
        assert_eq!(c("New", false, None), LeaseStatus::Future);
        assert_eq!(c("Co-Resident", true, None), LeaseStatus::Other);
        assert_eq!(
            canonical("Current", true, Some("2026-11-30"), TODAY, &mut w),
            LeaseStatus::Past
        );
        assert_eq!(w.into_vec().len(), 1);
    }

    #[test]
    fn residents_read_type_and_a_malformed_email() {
        let doc = Value::from(json::json!({"value": [
            {"ResidentNameID": "WF0001", "RMLEASEID": "1", "RMBLDGID": "01", "UNITID": "101", "ResidentType": "Co-Resident", "FirstName": "Ann", "LastName": "Lee", "Email": "ann at x"}
        ]}));
        let (rows, next) = page_of(&doc).unwrap();
        assert!(next.is_none());
        let r = &parse_residents(&rows).unwrap()[0];
        assert!(matches!(r.role, HouseholdRole::CoResident));
        assert_eq!(r.email, None);
        assert_eq!(r.warnings[0].field, "email");
    }
}
