//! RealPage OneSite connector, through the RPX gateway: SOAP 1.1 (WCF) (see
//! README.md for the operations, the field and status mappings and every assumption).

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

/// `Current` with a `noticegivendate` is a notice (see `canonical`).
pub const STATUSES: Vocabulary = &[
    ("Current", LeaseStatus::Current),
    ("Future Lease", LeaseStatus::Future),
    ("Applicant", LeaseStatus::Applicant),
    ("Applicant - Lease Signed", LeaseStatus::Future),
    ("Former", LeaseStatus::Past),
    ("Former Applicant", LeaseStatus::Cancelled),
];

/// A property's residents and leases: one answer holds both.
type ResidentsAndLeases = (Vec<Resident>, Vec<Lease>);

pub struct RealPage {
    base_url: String,
    partner: String,
    pmc_id: String,
    /// Residents and leases come from one answer per site.
    residents: Memo<String, ResidentsAndLeases>,
}

pub fn canonical(raw: &str, notice_given: bool) -> LeaseStatus {
    match status::canonical(STATUSES, raw) {
        LeaseStatus::Current if notice_given => LeaseStatus::Notice,
        other => other,
    }
}

fn role(relationship: Option<&str>, w: &mut Warnings) -> HouseholdRole {
    match relationship {
        Some("Head of Household") | None => HouseholdRole::Primary,
        Some("Roommate") | Some("Co-Head") | Some("Spouse") => HouseholdRole::CoResident,
        Some("Occupant") | Some("Dependent") => HouseholdRole::Occupant,
        Some("Guarantor") => HouseholdRole::Guarantor,
        Some(other) => {
            w.push("role", format!("unknown relationship {other:?}"));
            HouseholdRole::Other
        }
    }
}

/// The `{op}Result` of an answer; a fault becomes a typed error (a license refusal is
/// auth; "not found" is not-found).
pub fn result_of<'a>(op: &str, text: &'a str) -> Result<Element<'a>, ConnectorError> {
    let body = soap::parse_body(text).map_err(|e| match e {
        ConnectorError::Protocol(m) if m.starts_with("SOAP fault:") && m.contains("not found") => {
            ConnectorError::NotFound(m)
        }
        other => other,
    })?;
    body.into_find(&format!("{op}Result"))
        .ok_or_else(|| ConnectorError::Protocol(format!("answer without {op}Result")))
}

/// Units of `getunitlist` (id, number and building nested under `Address`) or of
/// `getunitsbyproperty` (the same fields flat on the `UnitObject`): both recorded. The
/// building is its name where given, else its id.
pub fn parse_units(result: &Element) -> Result<Vec<Unit>, ConnectorError> {
    let objects: Vec<&Element> = result
        .find("UnitObjects")
        .map(|u| u.children("UnitObject").collect())
        .or_else(|| {
            result
                .find("GetUnitsByProperty")
                .map(|u| u.children("UnitObject").collect())
        })
        .ok_or_else(|| ConnectorError::Protocol("answer without UnitObjects".into()))?;
    objects
        .into_iter()
        .map(|o| {
            let fields = o
                .child("Address")
                .filter(|a| a.child("UnitID").is_some())
                .unwrap_or(o);
            let id = fields
                .child_text("UnitID")
                .ok_or_else(|| ConnectorError::Protocol("UnitObject without UnitID".into()))?;
            let availability = o.child("Availability").unwrap_or(o);
            Ok(Unit {
                id: id.to_owned(),
                number: fields.child_text("UnitNumber").unwrap_or(id).to_owned(),
                building: fields
                    .child_text("BuildingName")
                    .or(fields.child_text("BuildingID"))
                    .map(str::to_owned),
                floorplan: o
                    .child("FloorPlan")
                    .and_then(|f| f.child_text("FloorPlanName"))
                    .or(o.child_text("FloorplanName"))
                    .map(str::to_owned),
                vacant: availability
                    .child_text("VacantBit")
                    .and_then(|v| v.parse().ok()),
                warnings: vec![],
            })
        })
        .collect()
}

/// Residents (one `resident` a person) and their leases (grouped by `residentid`).
pub fn parse_residents(result: &Element) -> Result<(Vec<Resident>, Vec<Lease>), ConnectorError> {
    let rows = result.list("residentlist", "resident");
    let mut residents = Vec::new();
    let mut leases: Vec<Lease> = Vec::new();
    let mut lease_at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for r in rows {
        let lease_id = r
            .child_text("residentid")
            .ok_or_else(|| ConnectorError::Protocol("resident without residentid".into()))?;
        let id = r
            .child_text("residentmemberid")
            .ok_or_else(|| ConnectorError::Protocol("resident without residentmemberid".into()))?;
        let unit = r.child_text("unitid").map(str::to_owned);
        let mut w = Warnings::new();
        residents.push(Resident {
            id: id.to_owned(),
            lease_id: Some(lease_id.to_owned()),
            unit_id: unit.clone(),
            first_name: r.child_text("firstname").unwrap_or_default().to_owned(),
            last_name: r.child_text("lastname").unwrap_or_default().to_owned(),
            email: w.email("email", r.child_text("email")),
            phone: r
                .child_text("cellphone")
                .or(r.child_text("homephone"))
                .map(str::to_owned),
            role: role(r.child_text("relationship"), &mut w),
            warnings: w.into_vec(),
        });
        match lease_at.get(lease_id) {
            Some(&i) => leases[i].resident_ids.push(id.to_owned()),
            None => {
                lease_at.insert(lease_id.to_owned(), leases.len());
                let mut lw = Warnings::new();
                let raw_status = r.child_text("leasestatus").unwrap_or_default().to_owned();
                let notice = lw
                    .date("notice-date", r.child_text("noticegivendate"))
                    .is_some();
                leases.push(Lease {
                    id: lease_id.to_owned(),
                    unit_id: unit,
                    resident_ids: vec![id.to_owned()],
                    status: canonical(&raw_status, notice),
                    raw_status,
                    start_date: lw.date("start-date", r.child_text("begindate")),
                    end_date: lw.date("end-date", r.child_text("enddate")),
                    move_in_date: lw.date("move-in-date", r.child_text("moveindate")),
                    move_out_date: lw.date("move-out-date", r.child_text("moveoutdate")),
                    warnings: lw.into_vec(),
                });
            }
        }
    }
    Ok((residents, leases))
}

impl RealPage {
    /// Calls `op` and hands its result to `read` (the result borrows the answer).
    fn call<T>(
        &self,
        op: &str,
        site: &str,
        extra: &str,
        read: impl FnOnce(&Element<'_>) -> Result<T, ConnectorError>,
    ) -> Result<T, ConnectorError> {
        let body = format!(
            "<tem:{op}><tem:auth>{}{}{}{}</tem:auth>{extra}</tem:{op}>",
            soap::element("tem:pmcid", &self.pmc_id),
            soap::element("tem:siteid", site),
            soap::element_raw("tem:licensekey", &secret::placeholder("license-key")),
            soap::element("tem:system", "Onesite"),
        );
        let resp = Request::post(
            format!(
                "{0}/rpxgateway/partner/{1}/{1}.svc",
                self.base_url, self.partner
            ),
            "text/xml; charset=utf-8",
            soap::envelope(&body, &[("tem", "http://tempuri.org/")]),
        )
        .header("soapaction", format!("http://tempuri.org/IRPXService/{op}"))
        .send()?;
        // WCF answers faults with HTTP 500 and an envelope.
        read(&result_of(op, soap::answer_text(&resp)?)?)
    }

    fn residents(&self, site: &str) -> Result<Rc<ResidentsAndLeases>, ConnectorError> {
        self.residents.get_or_try(&site.to_owned(), || {
            let extra = "<tem:getresidentlistinfo><tem:status>ALL</tem:status><tem:headofhousehold>0</tem:headofhousehold></tem:getresidentlistinfo>";
            self.call("getresidentlistinfo", site, extra, parse_residents)
        })
    }
}

impl Connector for RealPage {
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            vendor: "realpage".into(),
            display_name: "RealPage OneSite (RPX)".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            config_fields: vec![
                field(
                    "base-url",
                    "Base URL",
                    "The RPX gateway, e.g. https://gateway.rpx.realpage.com",
                    false,
                    true,
                ),
                field(
                    "partner",
                    "Partner",
                    "Your RPX partner name (the service path)",
                    false,
                    true,
                ),
                field("pmc-id", "PMC ID", "Management company id", false, true),
                field("license-key", "License key", "RPX license key", true, true),
            ],
            status_vocabulary: status::raw_strings(STATUSES),
        }
    }

    fn new(config: Config) -> Result<Self, ConnectorError> {
        Ok(RealPage {
            base_url: config.base_url()?.to_owned(),
            partner: config.require("partner")?.to_owned(),
            pmc_id: config.require("pmc-id")?.to_owned(),
            residents: Memo::default(),
        })
    }

    fn list_properties(&self) -> Result<Vec<PmsProperty>, ConnectorError> {
        self.call("getsitelist", "", "", |result| {
            Ok(result
                .list("sitelist", "site")
                .filter_map(|s| {
                    Some(PmsProperty {
                        id: s.child_text("siteid")?.to_owned(),
                        name: s.child_text("sitename").unwrap_or_default().to_owned(),
                    })
                })
                .collect())
        })
    }

    fn read_units(
        &self,
        property: &str,
        _cursor: Option<String>,
    ) -> Result<UnitPage, ConnectorError> {
        Ok(UnitPage {
            records: self.call("getunitlist", property, "", parse_units)?,
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

export_connector!(RealPage);

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        epms_connector_sdk::recordings::read("realpage", name)
    }

    /// Regression: the building was dropped when the unit carries only
    /// `Address/BuildingID` (as recorded), not a `BuildingName`.
    #[test]
    fn the_recorded_unit_list_parses_with_nested_ids_and_its_building() {
        let text = fixture("getunitlist.envelope.xml");
        let units = parse_units(&result_of("getunitlist", &text).unwrap()).unwrap();
        assert_eq!(units.len(), 1);
        assert_eq!(units[0].id, "2", "UnitID nested under Address");
        assert_eq!(units[0].number, "508");
        assert_eq!(units[0].building.as_deref(), Some("1"));
        assert_eq!(units[0].vacant, Some(true));
        assert!(units.iter().all(|u| u.warnings.is_empty()));
    }

    #[test]
    fn the_recorded_flat_units_by_property_parse_too() {
        let text = fixture("getunitsbyproperty.envelope.xml");
        let units = parse_units(&result_of("getunitsbyproperty", &text).unwrap()).unwrap();
        assert!(units.len() >= 2);
        assert_eq!(
            (units[0].id.as_str(), units[0].number.as_str()),
            ("1", "100")
        );
        assert_eq!(units[0].building.as_deref(), Some("1"));
        assert_eq!(units[0].vacant, Some(false));
    }

    #[test]
    fn an_answer_without_unit_objects_is_a_protocol_error_not_no_units() {
        let env = soap::envelope(
            "<getunitlistResponse xmlns=\"http://tempuri.org/\"><getunitlistResult><GetUnitList/></getunitlistResult></getunitlistResponse>",
            &[],
        );
        assert!(matches!(
            parse_units(&result_of("getunitlist", &env).unwrap()),
            Err(ConnectorError::Protocol(_))
        ));
    }

    #[test]
    fn residents_group_into_leases_and_notice_is_current_with_a_notice_date() {
        let inner = r#"<residentlist>
            <resident><residentid>L1</residentid><residentmemberid>M1</residentmemberid><relationship>Head of Household</relationship><unitid>u9</unitid>
              <firstname>Ann</firstname><lastname>Lee</lastname><email> Ann@X.com</email><cellphone>555</cellphone><leasestatus>Current</leasestatus>
              <begindate>01/01/2025</begindate><enddate>12/31/2025</enddate><moveindate>01/01/2025</moveindate><moveoutdate/><noticegivendate>10/01/2025</noticegivendate></resident>
            <resident><residentid>L1</residentid><residentmemberid>M2</residentmemberid><relationship>Guarantor</relationship><unitid>u9</unitid>
              <firstname>Bo</firstname><lastname>Lee</lastname><email/><leasestatus>Current</leasestatus></resident>
          </residentlist>"#;
        let env = soap::envelope(
            &format!(
                "<getresidentlistinfoResponse xmlns=\"http://tempuri.org/\"><getresidentlistinfoResult>{inner}</getresidentlistinfoResult></getresidentlistinfoResponse>"
            ),
            &[],
        );
        let (residents, leases) =
            parse_residents(&result_of("getresidentlistinfo", &env).unwrap()).unwrap();
        assert_eq!(leases.len(), 1);
        assert_eq!(leases[0].resident_ids, ["M1", "M2"]);
        assert!(matches!(leases[0].status, LeaseStatus::Notice));
        assert_eq!(leases[0].raw_status, "Current");
        assert_eq!(residents[0].email.as_deref(), Some("Ann@X.com"));
        assert!(matches!(residents[1].role, HouseholdRole::Guarantor));
    }

    #[test]
    fn faults_become_typed_errors() {
        let fault = |s: &str| {
            soap::envelope(
                &format!(
                    "<s:Fault><faultcode>s:Client</faultcode><faultstring>{s}</faultstring></s:Fault>"
                ),
                &[],
            )
        };
        assert!(matches!(
            result_of(
                "x",
                &fault("LicenseKey is not authorized to call the method")
            ),
            Err(ConnectorError::Auth(_))
        ));
        assert!(matches!(
            result_of("x", &fault("Site 9 was not found.")),
            Err(ConnectorError::NotFound(_))
        ));
        assert!(matches!(
            result_of("x", "<s:Envelope><s:Body>"),
            Err(ConnectorError::Protocol(_))
        ));
    }
}
