//! Yardi Voyager connector: SOAP 1.1, `ItfResidentData`, MITS XML (see README.md for
//! the operations, the field and status mappings and every assumption).

use epms_connector_sdk::http::Request;
use epms_connector_sdk::record::Warnings;
use epms_connector_sdk::session::Memo;
use epms_connector_sdk::soap;
use epms_connector_sdk::status::{self, Vocabulary};
use epms_connector_sdk::xml::Element;
use epms_connector_sdk::{
    Config, Connector, ConnectorError, ConnectorInfo, HouseholdRole, Lease, LeasePage, LeaseStatus,
    PmsProperty, Resident, ResidentPage, Unit, UnitPage, export_connector, field, secret,
};
use std::rc::Rc;

pub const INTERFACE: &str = "ItfResidentData";
pub const NS: &str = "http://tempuri.org/YSI.Interfaces.WebServices/ItfResidentData";

pub const STATUSES: Vocabulary = &[
    ("Current", LeaseStatus::Current),
    ("Future", LeaseStatus::Future),
    ("Past", LeaseStatus::Past),
    ("Notice", LeaseStatus::Notice),
    // Eviction in progress: still living there, a current resident (docs/rules.md).
    ("Eviction", LeaseStatus::Current),
    ("Applicant", LeaseStatus::Applicant),
    ("Wait List", LeaseStatus::Applicant),
    ("Denied", LeaseStatus::Denied),
    ("Canceled", LeaseStatus::Cancelled),
    ("Cancelled", LeaseStatus::Cancelled),
];

/// A property's residents and leases: one answer holds both.
type ResidentsAndLeases = (Vec<Resident>, Vec<Lease>);

pub struct Yardi {
    base_url: String,
    username: String,
    server_name: String,
    database: String,
    platform: String,
    entity: String,
    /// The last GetResidents answer (residents and leases come from the same one).
    residents: Memo<String, ResidentsAndLeases>,
}

/// The `{op}Result` element of an answer, or the typed error it carries: a
/// `Messages` block (`Login failed.` is auth), or a numeric result code.
pub fn result_of<'a>(op: &str, text: &'a str) -> Result<Element<'a>, ConnectorError> {
    let body = soap::parse_body(text)?;
    let result = body
        .into_find(&format!("{op}Result"))
        .ok_or_else(|| ConnectorError::Protocol(format!("answer without {op}Result")))?;
    if let Some(messages) = result.child("Messages") {
        let errors: Vec<&str> = messages
            .children("Message")
            .filter(|m| {
                m.attr("messageType")
                    .is_none_or(|t| t.eq_ignore_ascii_case("Error"))
            })
            .filter_map(Element::trimmed)
            .collect();
        if !errors.is_empty() {
            let text = errors.join("; ");
            return Err(if text.to_ascii_lowercase().contains("login failed") {
                ConnectorError::Auth(text)
            } else {
                ConnectorError::Protocol(format!("Yardi: {text}"))
            });
        }
    }
    if result.children.is_empty() {
        match result.trimmed() {
            Some("0") => {
                return Err(ConnectorError::Transient(
                    "Yardi result 0: could not open batch".into(),
                ));
            }
            Some("-1") => {
                return Err(ConnectorError::Auth(
                    "Yardi result -1: insufficient rights".into(),
                ));
            }
            Some("-2") => {
                return Err(ConnectorError::NotFound(
                    "Yardi result -2: the interface entity has no access to this property".into(),
                ));
            }
            Some("-3") => {
                return Err(ConnectorError::Auth(
                    "Yardi result -3: interface entity or license refused".into(),
                ));
            }
            Some("-4") => return Err(ConnectorError::Auth("Yardi result -4: login failed".into())),
            _ => {}
        }
    }
    Ok(result)
}

fn role(relationship: Option<&str>, w: &mut Warnings) -> HouseholdRole {
    match relationship {
        Some("Roommate") | Some("Co-Tenant") | Some("Spouse") => HouseholdRole::CoResident,
        Some("Occupant") | Some("Child") | Some("Minor") => HouseholdRole::Occupant,
        Some("Guarantor") => HouseholdRole::Guarantor,
        None => HouseholdRole::Occupant,
        Some(other) => {
            w.push("role", format!("unknown relationship {other:?}"));
            HouseholdRole::Other
        }
    }
}

fn phone(e: &Element) -> Option<String> {
    e.children("Phone")
        .find_map(|p| p.child_text("PhoneNumber"))
        .map(str::to_owned)
}

/// Residents and leases from `MITS-ResidentData`: one `Resident` a lease (its tenant
/// code is the lease key and the primary's id), `OtherOccupants` the household.
pub fn parse_residents(mits: &Element) -> Result<(Vec<Resident>, Vec<Lease>), ConnectorError> {
    let mut residents = Vec::new();
    let mut leases = Vec::new();
    for r in mits.list("Residents", "Resident") {
        let code = r
            .attr("tCode")
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| ConnectorError::Protocol("Resident without tCode".into()))?
            .trim()
            .to_owned();
        let unit = r.child_text("UnitCode").map(str::to_owned);
        let mut w = Warnings::new();
        let raw_status = r.child_text("Status").unwrap_or_default().to_owned();
        let mut ids = vec![code.clone()];
        residents.push(Resident {
            id: code.clone(),
            lease_id: Some(code.clone()),
            unit_id: unit.clone(),
            first_name: r.child_text("FirstName").unwrap_or_default().to_owned(),
            last_name: r.child_text("LastName").unwrap_or_default().to_owned(),
            email: w.email("email", r.child_text("Email")),
            phone: phone(r),
            role: HouseholdRole::Primary,
            warnings: std::mem::take(&mut w).into_vec(),
        });
        let others = r.child("OtherOccupants").into_iter();
        for o in others.flat_map(|o| o.children("OtherOccupant")) {
            let Some(id) = o.attr("Code").map(str::trim).filter(|c| !c.is_empty()) else {
                continue;
            };
            let mut ow = Warnings::new();
            ids.push(id.to_owned());
            residents.push(Resident {
                id: id.to_owned(),
                lease_id: Some(code.clone()),
                unit_id: unit.clone(),
                first_name: o.child_text("FirstName").unwrap_or_default().to_owned(),
                last_name: o.child_text("LastName").unwrap_or_default().to_owned(),
                email: ow.email("email", o.child_text("Email")),
                phone: phone(o),
                role: role(o.child_text("Relationship"), &mut ow),
                warnings: ow.into_vec(),
            });
        }
        leases.push(Lease {
            id: code,
            unit_id: unit,
            resident_ids: ids,
            status: status::canonical(STATUSES, &raw_status),
            raw_status,
            start_date: w.date("start-date", r.child_text("LeaseFromDate")),
            end_date: w.date("end-date", r.child_text("LeaseToDate")),
            move_in_date: w.date("move-in-date", r.child_text("MoveInDate")),
            move_out_date: w.date("move-out-date", r.child_text("MoveOutDate")),
            warnings: w.into_vec(),
        });
    }
    Ok((residents, leases))
}

/// Units of a unit answer. The recorded answer (`PhysicalProperty/Property/RT_Customer/
/// RT_Unit`, fields under the `MITS:` prefix) lists a unit once per customer on it (four
/// units of the recording twice), so each `UnitID` is kept once; the documented
/// `UnitInformation/…/UnitInfo` shape reads too. An answer with neither is a protocol
/// error, never "no units".
pub fn parse_units(info: &Element) -> Result<Vec<Unit>, ConnectorError> {
    let recorded: Vec<&Element> = info
        .find("Property")
        .map(|p| {
            p.children("RT_Customer")
                .filter_map(|c| c.child("RT_Unit"))
                .collect()
        })
        .unwrap_or_default();
    let units: Vec<Unit> = if recorded.is_empty() {
        info.find("Units")
            .ok_or_else(|| {
                ConnectorError::Protocol(
                    "unit answer without Property/RT_Customer or Units/UnitInfo".into(),
                )
            })?
            .children("UnitInfo")
            .map(documented_unit)
            .collect::<Result<_, _>>()?
    } else {
        recorded
            .into_iter()
            .map(recorded_unit)
            .collect::<Result<_, _>>()?
    };
    let mut seen = std::collections::HashSet::new();
    Ok(units
        .into_iter()
        .filter(|u| seen.insert(u.id.clone()))
        .collect())
}

/// `RT_Unit` of the recorded answer: the code in `UnitID`, the rest under
/// `Unit/MITS:Information`, the vacancy in `UnitEconomicStatusDescription`.
fn recorded_unit(u: &Element) -> Result<Unit, ConnectorError> {
    let id = u
        .child_text("UnitID")
        .ok_or_else(|| ConnectorError::Protocol("RT_Unit without UnitID".into()))?;
    let i = u.path(&["Unit", "Information"]);
    let text = |name: &str| i.and_then(|i| i.child_text(name)).map(str::to_owned);
    let mut w = Warnings::new();
    let vacant = match text("UnitEconomicStatusDescription") {
        Some(d) if d.starts_with("Vacant") => Some(true),
        Some(d) if d.starts_with("Occupied") || d.starts_with("Notice") => Some(false),
        Some(d) => {
            w.push(
                "vacant",
                format!("unknown UnitEconomicStatusDescription {d:?}"),
            );
            None
        }
        None => None,
    };
    Ok(Unit {
        id: id.to_owned(),
        number: id.to_owned(),
        building: text("BuildingID"),
        floorplan: text("FloorplanName"),
        vacant,
        warnings: w.into_vec(),
    })
}

/// `UnitInfo` of the documented (unrecorded) `UnitInformation` answer.
fn documented_unit(u: &Element) -> Result<Unit, ConnectorError> {
    let id = u
        .child_text("UnitID")
        .ok_or_else(|| ConnectorError::Protocol("UnitInfo without UnitID".into()))?;
    Ok(Unit {
        id: id.to_owned(),
        number: u.child_text("UnitNumber").unwrap_or(id).to_owned(),
        building: u.child_text("BuildingName").map(str::to_owned),
        floorplan: u.child_text("FloorplanName").map(str::to_owned),
        vacant: u.child_text("Vacant").and_then(|v| v.parse().ok()),
        warnings: vec![],
    })
}

pub fn parse_properties(result: &Element) -> Vec<PmsProperty> {
    result
        .list("Properties", "Property")
        .filter_map(|p| {
            Some(PmsProperty {
                id: p.child_text("Code")?.to_owned(),
                name: p.child_text("MarketingName").unwrap_or_default().to_owned(),
            })
        })
        .collect()
}

impl Yardi {
    /// Calls `op` and hands its result to `read` (the result borrows the answer).
    fn call<T>(
        &self,
        op: &str,
        property: &str,
        read: impl FnOnce(&Element<'_>) -> Result<T, ConnectorError>,
    ) -> Result<T, ConnectorError> {
        let body = format!(
            "<{op} xmlns=\"{NS}\">{}{}{}{}{}{}{}{}{}</{op}>",
            soap::element("UserName", &self.username),
            soap::element_raw("Password", &secret::placeholder("password")),
            soap::element("ServerName", &self.server_name),
            soap::element("Database", &self.database),
            soap::element("Platform", &self.platform),
            soap::element("YardiPropertyId", property),
            soap::element("InterfaceEntity", &self.entity),
            soap::element_raw(
                "InterfaceLicense",
                &secret::placeholder("interface-license")
            ),
            soap::element("MoveOut1", ""),
        );
        let resp = Request::post(
            format!("{}/webservices/{INTERFACE}.asmx", self.base_url),
            "text/xml; charset=utf-8",
            soap::envelope(&body, &[]),
        )
        .header("soapaction", format!("{NS}/{op}"))
        .send()?;
        read(&result_of(op, soap::answer_text(&resp)?)?)
    }

    fn residents(&self, property: &str) -> Result<Rc<ResidentsAndLeases>, ConnectorError> {
        self.residents.get_or_try(&property.to_owned(), || {
            self.call("GetResidents", property, parse_residents)
        })
    }
}

impl Connector for Yardi {
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            vendor: "yardi".into(),
            display_name: "Yardi Voyager".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            config_fields: vec![
                field(
                    "base-url",
                    "Base URL",
                    "Your Voyager web services host, e.g. https://www.yardiasp14.com/21253beta",
                    false,
                    true,
                ),
                field("username", "User name", "Web services user", false, true),
                field("password", "Password", "Web services password", true, true),
                field(
                    "server-name",
                    "Server name",
                    "Voyager database server",
                    false,
                    true,
                ),
                field("database", "Database", "Voyager database", false, true),
                field(
                    "platform",
                    "Platform",
                    "Database platform (default SQL Server)",
                    false,
                    false,
                ),
                field(
                    "interface-entity",
                    "Interface entity",
                    "Name of the licensed interface",
                    false,
                    true,
                ),
                field(
                    "interface-license",
                    "Interface license",
                    "License key issued by Yardi",
                    true,
                    true,
                ),
            ],
            status_vocabulary: status::raw_strings(STATUSES),
        }
    }

    fn new(config: Config) -> Result<Self, ConnectorError> {
        Ok(Yardi {
            base_url: config.base_url()?.to_owned(),
            username: config.require("username")?.to_owned(),
            server_name: config.require("server-name")?.to_owned(),
            database: config.require("database")?.to_owned(),
            platform: config.get("platform").unwrap_or("SQL Server").to_owned(),
            entity: config.require("interface-entity")?.to_owned(),
            residents: Memo::default(),
        })
    }

    fn list_properties(&self) -> Result<Vec<PmsProperty>, ConnectorError> {
        self.call("GetPropertyConfigurations", "", |result| {
            Ok(parse_properties(result))
        })
    }

    /// No pagination: a whole property in one page.
    fn read_units(
        &self,
        property: &str,
        _cursor: Option<String>,
    ) -> Result<UnitPage, ConnectorError> {
        Ok(UnitPage {
            records: self.call("GetUnitInformation", property, parse_units)?,
            next: None,
        })
    }

    fn read_residents(
        &self,
        property: &str,
        _cursor: Option<String>,
    ) -> Result<ResidentPage, ConnectorError> {
        Ok(ResidentPage {
            records: self.residents(property)?.0.clone(),
            next: None,
        })
    }

    fn read_leases(
        &self,
        property: &str,
        _cursor: Option<String>,
    ) -> Result<LeasePage, ConnectorError> {
        Ok(LeasePage {
            records: self.residents(property)?.1.clone(),
            next: None,
        })
    }
}

export_connector!(Yardi);

#[cfg(test)]
mod tests {
    use super::*;
    use epms_connector_sdk::xml;

    fn fixture(name: &str) -> String {
        epms_connector_sdk::recordings::read("yardi", name)
    }

    #[test]
    fn the_recorded_get_residents_answer_parses_with_its_quirks() {
        let recorded = fixture("GetResidents.result.xml");
        let mits = xml::parse(&recorded).unwrap();
        let (residents, leases) = parse_residents(&mits).unwrap();
        assert_eq!(leases.len(), 1);
        let l = &leases[0];
        assert_eq!(l.id, "t0012026");
        assert_eq!(
            l.unit_id.as_deref(),
            Some("103"),
            "the unit is the UnitCode child"
        );
        assert_eq!(l.raw_status, "Applicant");
        assert!(matches!(l.status, LeaseStatus::Applicant));
        assert_eq!(l.start_date.as_deref(), Some("2008-12-15"));
        assert_eq!(l.end_date.as_deref(), Some("2009-12-14"));
        assert_eq!(l.move_out_date, None, "empty MoveOutDate");
        assert!(l.warnings.is_empty());
        assert_eq!(residents[0].first_name, "Ronal");
        assert_eq!(residents[0].phone, None, "Phone elements without numbers");
        assert!(matches!(residents[0].role, HouseholdRole::Primary));
    }

    /// Regression: a unit answer without `Units/UnitInfo` read as "no units", silently.
    #[test]
    fn the_recorded_unit_information_parses_and_a_missing_list_is_an_error() {
        let recorded = fixture("GetUnitInformation_Login.result.xml");
        let root = xml::parse(&recorded).unwrap();
        let result = Element {
            name: "Result".into(),
            children: vec![root],
            ..Element::default()
        };
        let units = parse_units(&result).unwrap();
        assert_eq!(units.len(), 62, "66 rows, 4 units twice");
        let u = units.iter().find(|u| u.id == "106").unwrap();
        assert_eq!(u.number, "106");
        assert_eq!(u.building, None, "<MITS:BuildingID/> is empty");
        assert_eq!(u.floorplan.as_deref(), Some("1 bedroom, 1 bath"));
        assert_eq!(u.vacant, Some(true), "Vacant Unrented Not Ready");
        assert_eq!(
            units.iter().find(|u| u.id == "107").unwrap().vacant,
            Some(false)
        );
        let empty = Element {
            name: "Result".into(),
            children: vec![xml::parse("<UnitInformation/>").unwrap()],
            ..Element::default()
        };
        assert!(matches!(
            parse_units(&empty),
            Err(ConnectorError::Protocol(_))
        ));
    }

    #[test]
    fn the_recorded_three_property_configurations_list_each() {
        let recorded = fixture("GetPropertyConfigurations.3-properties.result.xml");
        let root = xml::parse(&recorded).unwrap();
        let props = parse_properties(&Element {
            name: "Result".into(),
            children: vec![root],
            ..Element::default()
        });
        assert_eq!(props.len(), 3);
    }

    #[test]
    fn the_recorded_property_configurations_list_properties() {
        let recorded = fixture("GetPropertyConfigurations.result.xml");
        let root = xml::parse(&recorded).unwrap();
        let props = parse_properties(&Element {
            name: "Result".into(),
            children: vec![root],
            ..Element::default()
        });
        assert_eq!(props[0].id, "rnttrk01");
        assert_eq!(props[0].name, "RentTrack Test Property");
    }

    #[test]
    fn the_recorded_transactions_answer_is_readable_xml_with_roommates() {
        // Another interface (ItfResidentTransactions20), not called by this connector:
        // checks the parser on a 284 KB single line with a default namespace.
        let recorded = fixture("GetResidentTransactions_Login.result.xml");
        let root = xml::parse(&recorded).unwrap();
        let text = fixture("GetResidentTransactions_Login.result.xml");
        assert!(text.contains("Type=\"customer\""));
        assert!(root.find("Customer").is_some());
    }

    fn envelope(op: &str, inner: &str) -> String {
        soap::envelope(
            &format!(
                "<{op}Response xmlns=\"{NS}\"><{op}Result>{inner}</{op}Result></{op}Response>"
            ),
            &[],
        )
    }

    #[test]
    fn errors_inside_http_200_become_typed_errors() {
        let login = envelope(
            "GetResidents",
            "<Messages><Message messageType=\"Error\">Login failed.</Message></Messages>",
        );
        assert!(
            matches!(result_of("GetResidents", &login), Err(ConnectorError::Auth(m)) if m.contains("Login failed"))
        );
        assert!(matches!(
            result_of("GetResidents", &envelope("GetResidents", "-3")),
            Err(ConnectorError::Auth(_))
        ));
        assert!(matches!(
            result_of("GetResidents", &envelope("GetResidents", "-2")),
            Err(ConnectorError::NotFound(_))
        ));
        assert!(matches!(
            result_of("GetResidents", &envelope("GetResidents", "0")),
            Err(ConnectorError::Transient(_))
        ));
        let truncated = &envelope("GetResidents", "<MITS-ResidentData/>")[..80];
        assert!(matches!(
            result_of("GetResidents", truncated),
            Err(ConnectorError::Protocol(_))
        ));
    }

    #[test]
    fn households_come_from_other_occupants() {
        let inner = r#"<MITS-ResidentData xmlns=""><PropertyResidents Code="p1"><Residents>
            <Resident tCode="t0000001"><Status>Eviction</Status><FirstName>Ann</FirstName><LastName>Lee</LastName>
              <Email> ANN@X.COM </Email><Phone PhoneType="cell"><PhoneNumber>555</PhoneNumber></Phone><UnitCode>A101</UnitCode>
              <LeaseFromDate>02/30/2024</LeaseFromDate><OtherOccupants>
                <OtherOccupant Code="r0000002"><FirstName>Bo</FirstName><LastName>Lee</LastName><Email>bo@x</Email><Relationship>Guarantor</Relationship></OtherOccupant>
              </OtherOccupants></Resident></Residents></PropertyResidents></MITS-ResidentData>"#;
        let answer = envelope("GetResidents", inner);
        let result = result_of("GetResidents", &answer).unwrap();
        let (residents, leases) = parse_residents(&result).unwrap();
        assert_eq!(leases[0].resident_ids, ["t0000001", "r0000002"]);
        assert!(
            matches!(leases[0].status, LeaseStatus::Current),
            "eviction in progress is current"
        );
        assert_eq!(leases[0].start_date, None);
        assert_eq!(leases[0].warnings[0].field, "start-date");
        assert_eq!(residents[0].email.as_deref(), Some("ANN@X.COM"));
        assert!(matches!(residents[1].role, HouseholdRole::Guarantor));
        assert_eq!(residents[1].email, None);
        assert_eq!(residents[1].unit_id.as_deref(), Some("A101"));
    }
}
