//! Deterministic portfolios: the same seed gives the same properties, people and
//! leases on every machine, so a connector's output can be compared with the ground
//! truth record for record.

use epms_model::{HouseholdRole, Lease, LeaseStatus, Resident, Unit};
use serde::{Deserialize, Serialize};

/// Everything the simulator serves.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Portfolio {
    pub properties: Vec<SimProperty>,
    /// Credentials each vendor accepts (non-secret and secret fields alike).
    pub credentials: Vec<SimCredential>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimCredential {
    pub vendor: String,
    pub fields: Vec<(String, String)>,
}

/// One PMS property and its records, as connectors must return them.
///
/// Records are canonical: an email is trimmed (case kept); one that is not an email
/// at all is absent, with a warning on the field `email`. What the PMS stores when it
/// differs (padding, capitals, the malformed text) is in `wire_emails`, and that is
/// what the vendor APIs serve. Warnings are compared by field: their messages are
/// each connector's own words (the ground truth's are empty).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SimProperty {
    pub vendor: String,
    pub id: String,
    pub name: String,
    pub units: Vec<Unit>,
    pub residents: Vec<Resident>,
    pub leases: Vec<Lease>,
    /// Resident id → the email exactly as the PMS holds it, where it differs.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub wire_emails: std::collections::BTreeMap<String, String>,
    /// Positions by id, built on first use; `SimState::write` drops it.
    #[serde(skip)]
    positions: PositionsCache,
}

/// A cache, never part of a property's value: always equal.
#[derive(Debug, Clone, Default)]
struct PositionsCache(std::sync::OnceLock<Positions>);

impl PartialEq for PositionsCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

#[derive(Debug, Clone, Default)]
struct Positions {
    residents: std::collections::HashMap<String, usize>,
    leases: std::collections::HashMap<String, usize>,
    units: std::collections::HashMap<String, usize>,
    /// Unit id → the positions of its leases, in list order.
    leases_by_unit: std::collections::HashMap<String, Vec<usize>>,
    /// The position of each resident's lease, in resident list order: a paged listing
    /// walks every row before its page, and a hash lookup a row made that quadratic.
    lease_of_resident: Vec<Option<usize>>,
}

/// Lookups by id into one property (positions cached until the data changes).
pub struct PropertyIndex<'a> {
    property: &'a SimProperty,
    positions: &'a Positions,
}

impl<'a> PropertyIndex<'a> {
    pub fn resident(&self, id: &str) -> Option<&'a Resident> {
        self.positions
            .residents
            .get(id)
            .map(|i| &self.property.residents[*i])
    }
    pub fn lease(&self, id: Option<&str>) -> Option<&'a Lease> {
        id.and_then(|id| self.positions.leases.get(id))
            .map(|i| &self.property.leases[*i])
    }
    pub fn unit(&self, id: Option<&str>) -> Option<&'a Unit> {
        id.and_then(|id| self.positions.units.get(id))
            .map(|i| &self.property.units[*i])
    }
    /// Every resident, in list order, with its lease.
    pub fn residents_with_leases(
        &self,
    ) -> impl Iterator<Item = (&'a Resident, Option<&'a Lease>)> + use<'a> {
        let leases = &self.property.leases;
        self.property
            .residents
            .iter()
            .zip(&self.positions.lease_of_resident)
            .map(move |(r, l)| (r, l.map(|i| &leases[i])))
    }
    /// Where a unit stands in the property's list (a stable number for it).
    pub fn unit_position(&self, id: &str) -> usize {
        self.positions.units.get(id).copied().unwrap_or_default()
    }
    /// The leases on a unit, in list order.
    pub fn leases_of_unit(&self, unit_id: &str) -> impl Iterator<Item = &'a Lease> + use<'a> {
        let leases = &self.property.leases;
        self.positions
            .leases_by_unit
            .get(unit_id)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(move |i| &leases[*i])
    }
}

impl SimProperty {
    pub fn index(&self) -> PropertyIndex<'_> {
        let positions = self.positions.0.get_or_init(|| {
            let leases: std::collections::HashMap<String, usize> = self
                .leases
                .iter()
                .enumerate()
                .map(|(i, l)| (l.id.clone(), i))
                .collect();
            Positions {
                lease_of_resident: self
                    .residents
                    .iter()
                    .map(|r| r.lease_id.as_deref().and_then(|id| leases.get(id).copied()))
                    .collect(),
                residents: self
                    .residents
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (r.id.clone(), i))
                    .collect(),
                leases,
                units: self
                    .units
                    .iter()
                    .enumerate()
                    .map(|(i, u)| (u.id.clone(), i))
                    .collect(),
                leases_by_unit: self.leases.iter().enumerate().fold(
                    std::collections::HashMap::new(),
                    |mut by_unit: std::collections::HashMap<String, Vec<usize>>, (i, l)| {
                        if let Some(unit) = &l.unit_id {
                            by_unit.entry(unit.clone()).or_default().push(i);
                        }
                        by_unit
                    },
                ),
            }
        });
        PropertyIndex {
            property: self,
            positions,
        }
    }

    /// Forgets cached positions (after the records changed).
    pub fn invalidate(&mut self) {
        self.positions = PositionsCache::default();
    }

    /// The email of a resident as the PMS serves it.
    pub fn wire_email<'a>(&'a self, r: &'a Resident) -> Option<&'a str> {
        self.wire_emails
            .get(&r.id)
            .or(r.email.as_ref())
            .map(String::as_str)
    }

    /// Sets a resident's email as the PMS would hold it; the canonical record follows.
    pub fn set_email(&mut self, resident: usize, raw: Option<String>) {
        let r = &mut self.residents[resident];
        r.warnings.retain(|w| w.field != "email");
        self.wire_emails.remove(&r.id);
        let Some(raw) = raw else {
            r.email = None;
            return;
        };
        let trimmed = raw.trim().to_owned();
        if trimmed != raw {
            self.wire_emails.insert(r.id.clone(), raw.clone());
        }
        if trimmed.is_empty() {
            r.email = None;
        } else if is_email(&trimmed) {
            r.email = Some(trimmed);
        } else {
            self.wire_emails.insert(r.id.clone(), raw);
            r.email = None;
            r.warnings.push(epms_model::RecordWarning {
                field: "email".into(),
                message: String::new(),
            });
        }
    }
}

/// One `@`, something before it, a dotted domain after it, no spaces.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !s.chars().any(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
}

impl Portfolio {
    pub fn property(&self, vendor: &str, id: &str) -> Option<&SimProperty> {
        self.properties
            .iter()
            .find(|p| p.vendor == vendor && p.id == id)
    }

    pub fn credential(&self, vendor: &str) -> Option<&SimCredential> {
        self.credentials.iter().find(|c| c.vendor == vendor)
    }
}

impl SimCredential {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A change to the PMS data, as the control API takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Mutation {
    /// A new household (one primary) with a current lease in `unit`.
    MoveIn {
        vendor: String,
        property: String,
        unit: String,
        first_name: String,
        last_name: String,
        email: Option<String>,
    },
    /// The lease ends: past, with a move-out date.
    MoveOut {
        vendor: String,
        property: String,
        lease: String,
    },
    /// The resident moves to `to_unit`: the old lease ends (past), a new resident
    /// record and a current lease in the new unit (as Yardi does with tenant codes).
    Transfer {
        vendor: String,
        property: String,
        resident: String,
        to_unit: String,
    },
    Rename {
        vendor: String,
        property: String,
        resident: String,
        first_name: String,
        last_name: String,
    },
    ChangeEmail {
        vendor: String,
        property: String,
        resident: String,
        email: Option<String>,
    },
    /// `resident` takes the email of `from`: two people share an email.
    DuplicateEmail {
        vendor: String,
        property: String,
        resident: String,
        from: String,
    },
}

/// A mutation that names something that is not there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MutationError {
    #[error("no property {1:?} for vendor {0:?}")]
    NoProperty(String, String),
    #[error("no {0} {1:?}")]
    Missing(&'static str, String),
}

impl Portfolio {
    /// Applies a mutation; returns what it did.
    pub fn apply(&mut self, m: &Mutation) -> Result<String, MutationError> {
        let (vendor, property) = match m {
            Mutation::MoveIn {
                vendor, property, ..
            }
            | Mutation::MoveOut {
                vendor, property, ..
            }
            | Mutation::Transfer {
                vendor, property, ..
            }
            | Mutation::Rename {
                vendor, property, ..
            }
            | Mutation::ChangeEmail {
                vendor, property, ..
            }
            | Mutation::DuplicateEmail {
                vendor, property, ..
            } => (vendor.clone(), property.clone()),
        };
        let p = self
            .properties
            .iter_mut()
            .find(|p| p.vendor == vendor && p.id == property)
            .ok_or_else(|| MutationError::NoProperty(vendor.clone(), property.clone()))?;
        let raw = |s: LeaseStatus| crate::vendors::raw_status(&vendor, s).to_owned();
        let resident_index = |p: &SimProperty, id: &str| {
            p.residents
                .iter()
                .position(|r| r.id == id)
                .ok_or_else(|| MutationError::Missing("resident", id.to_owned()))
        };
        match m {
            Mutation::MoveIn {
                unit,
                first_name,
                last_name,
                email,
                ..
            } => {
                if !p.units.iter().any(|u| &u.id == unit) {
                    return Err(MutationError::Missing("unit", unit.clone()));
                }
                let n = p.residents.len() + p.leases.len() + 1;
                let lease = format!("{}-MI{n:05}", p.id);
                let rid = primary_id(p, &lease, format!("{}-MR{n:05}", p.id));
                p.residents.push(Resident {
                    id: rid.clone(),
                    lease_id: Some(lease.clone()),
                    unit_id: Some(unit.clone()),
                    first_name: first_name.clone(),
                    last_name: last_name.clone(),
                    email: email.clone(),
                    phone: None,
                    role: HouseholdRole::Primary,
                    warnings: vec![],
                });
                p.leases.push(Lease {
                    id: lease.clone(),
                    unit_id: Some(unit.clone()),
                    resident_ids: vec![rid.clone()],
                    raw_status: raw(LeaseStatus::Current),
                    status: LeaseStatus::Current,
                    start_date: Some("2026-11-01".into()),
                    end_date: Some("2027-10-31".into()),
                    move_in_date: Some("2026-11-01".into()),
                    move_out_date: None,
                    warnings: vec![],
                });
                Ok(format!("resident {rid} moved into {unit} on lease {lease}"))
            }
            Mutation::MoveOut { lease, .. } => {
                let l = p
                    .leases
                    .iter_mut()
                    .find(|l| &l.id == lease)
                    .ok_or_else(|| MutationError::Missing("lease", lease.clone()))?;
                l.status = LeaseStatus::Past;
                l.raw_status = raw(LeaseStatus::Past);
                l.move_out_date = Some("2026-11-30".into());
                Ok(format!("lease {lease} ended"))
            }
            Mutation::Transfer {
                resident, to_unit, ..
            } => {
                if !p.units.iter().any(|u| &u.id == to_unit) {
                    return Err(MutationError::Missing("unit", to_unit.clone()));
                }
                let i = resident_index(p, resident)?;
                let old = p.residents[i].clone();
                if let Some(l) = p
                    .leases
                    .iter_mut()
                    .find(|l| Some(&l.id) == old.lease_id.as_ref())
                {
                    l.status = LeaseStatus::Past;
                    l.raw_status = raw(LeaseStatus::Past);
                    l.move_out_date = Some("2026-11-30".into());
                }
                let n = p.residents.len() + p.leases.len() + 1;
                let lease = format!("{}-TL{n:05}", p.id);
                let rid = primary_id(p, &lease, format!("{}-TR{n:05}", p.id));
                if let Some(wire) = p.wire_emails.get(&old.id).cloned() {
                    p.wire_emails.insert(rid.clone(), wire);
                }
                p.residents.push(Resident {
                    id: rid.clone(),
                    lease_id: Some(lease.clone()),
                    unit_id: Some(to_unit.clone()),
                    role: HouseholdRole::Primary,
                    ..old
                });
                p.leases.push(Lease {
                    id: lease.clone(),
                    unit_id: Some(to_unit.clone()),
                    resident_ids: vec![rid.clone()],
                    raw_status: raw(LeaseStatus::Current),
                    status: LeaseStatus::Current,
                    start_date: Some("2026-12-01".into()),
                    end_date: None,
                    move_in_date: Some("2026-12-01".into()),
                    move_out_date: None,
                    warnings: vec![],
                });
                Ok(format!(
                    "resident {resident} transferred to {to_unit} as {rid} on lease {lease}"
                ))
            }
            Mutation::Rename {
                resident,
                first_name,
                last_name,
                ..
            } => {
                let i = resident_index(p, resident)?;
                p.residents[i].first_name = first_name.clone();
                p.residents[i].last_name = last_name.clone();
                Ok(format!("resident {resident} renamed"))
            }
            Mutation::ChangeEmail {
                resident, email, ..
            } => {
                let i = resident_index(p, resident)?;
                p.set_email(i, email.clone());
                Ok(format!("resident {resident} email changed"))
            }
            Mutation::DuplicateEmail { resident, from, .. } => {
                let from_email = p
                    .wire_email(&p.residents[resident_index(p, from)?])
                    .map(str::to_owned);
                let i = resident_index(p, resident)?;
                p.set_email(i, from_email);
                Ok(format!(
                    "resident {resident} now shares the email of {from}"
                ))
            }
        }
    }
}

/// A small, fast, seedable generator (xorshift64*): deterministic across platforms.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const FIRST_NAMES: &[&str] = &[
    "Ana",
    "José",
    "Zoë",
    "Renée",
    "Björn",
    "Chloé",
    "Mary-Kate",
    "Siobhán",
    "Liam",
    "Noah",
    "Olivia",
    "Emma",
    "Ava",
    "Sofía",
    "Mateo",
    "Léa",
    "Jean-Luc",
    "Aaliyah",
    "Kwame",
    "Mei",
    "Hiroshi",
    "Priya",
    "Dmitri",
    "Ingrid",
    "Tomás",
    "Nuñez",
    "Chiara",
    "Oğuz",
    "Thảo",
    "Ewan",
];
const LAST_NAMES: &[&str] = &[
    "Smith",
    "Núñez",
    "O'Brien",
    "Smith-Jones",
    "van der Berg",
    "García López",
    "Müller",
    "D'Angelo",
    "Nguyen",
    "Johnson",
    "Kowalski",
    "Øvergaard",
    "MacDonald",
    "de la Cruz",
    "Brown",
    "Okafor",
    "Chen",
    "Haddad",
    "Fernández",
    "St. James",
    "Żukowski",
    "Lee",
    "Patel",
    "Williams",
    "Dubois",
    "Rossi",
    "Kim",
    "Ó Súilleabháin",
    "Taylor",
    "Ivanova",
];

/// ASCII, lower-case local part for an email made from a name.
pub fn email_local(first: &str, last: &str) -> String {
    let fold = |s: &str| -> String {
        s.chars()
            .filter_map(|c| {
                let c = match c {
                    'á' | 'à' | 'â' | 'ä' | 'ã' | 'Á' => 'a',
                    'é' | 'è' | 'ê' | 'ë' | 'É' => 'e',
                    'í' | 'ì' | 'î' | 'ï' => 'i',
                    'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'Ó' | 'Ø' | 'ø' => 'o',
                    'ú' | 'ù' | 'û' | 'ü' => 'u',
                    'ñ' | 'Ñ' => 'n',
                    'ç' => 'c',
                    'ğ' => 'g',
                    'ả' => 'a',
                    'Ż' | 'ż' => 'z',
                    c => c,
                };
                c.is_ascii_alphanumeric().then(|| c.to_ascii_lowercase())
            })
            .collect()
    };
    format!("{}.{}", fold(first), fold(last))
}

/// Parameters of a generated portfolio.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Spec {
    pub seed: u64,
    /// `(vendor, PMS property id, units)` for each property.
    pub properties: Vec<(String, String, usize)>,
}

/// One household on one lease: a primary, maybe a co-resident, an occupant, a guarantor.
#[allow(clippy::too_many_arguments)]
fn household(
    rng: &mut Rng,
    p: &mut SimProperty,
    person: &mut usize,
    unit_id: &str,
    lease_id: &str,
    status: LeaseStatus,
    year: i32,
    month: u64,
) {
    let id = p.id.clone();
    let mut members = vec![HouseholdRole::Primary];
    if rng.chance(55) {
        members.push(HouseholdRole::CoResident);
    }
    if rng.chance(25) {
        members.push(HouseholdRole::Occupant);
    }
    if rng.chance(10) {
        members.push(HouseholdRole::Guarantor);
    }
    let family = *rng.pick(LAST_NAMES);
    let mut resident_ids = Vec::new();
    for role in members {
        *person += 1;
        let n = *person;
        let first = *rng.pick(FIRST_NAMES);
        let last = if rng.chance(70) {
            family
        } else {
            *rng.pick(LAST_NAMES)
        };
        let rid = format!("{id}-R{n:06}");
        let email = match rng.below(100) {
            0..=2 => None,
            _ => Some(format!("{}{n}@example.com", email_local(first, last))),
        };
        p.residents.push(Resident {
            id: rid.clone(),
            lease_id: Some(lease_id.to_owned()),
            unit_id: Some(unit_id.to_owned()),
            first_name: first.to_owned(),
            last_name: last.to_owned(),
            email,
            phone: Some(format!("555-{:04}", n % 10_000)),
            role,
            warnings: vec![],
        });
        resident_ids.push(rid);
    }
    let start = format!("{year}-{month:02}-01");
    let end = format!("{}-{month:02}-01", year + 1);
    let moved_in = matches!(
        status,
        LeaseStatus::Current | LeaseStatus::Notice | LeaseStatus::Past
    );
    p.leases.push(Lease {
        id: lease_id.to_owned(),
        unit_id: Some(unit_id.to_owned()),
        resident_ids,
        raw_status: String::new(), // set by the vendor that serves it
        status,
        start_date: Some(start.clone()),
        end_date: Some(end.clone()),
        move_in_date: moved_in.then(|| start.clone()),
        move_out_date: (status == LeaseStatus::Past).then(|| end.clone()),
        warnings: vec![],
    });
}

/// Generates one property's units, households and leases.
pub fn generate_property(rng: &mut Rng, vendor: &str, id: &str, units: usize) -> SimProperty {
    let mut p = SimProperty {
        vendor: vendor.to_owned(),
        id: id.to_owned(),
        name: format!(
            "{} Residences {id}",
            LAST_NAMES[(id.len() * 7) % LAST_NAMES.len()]
        ),
        ..SimProperty::default()
    };
    let mut person = 0usize;
    for u in 0..units {
        let floor = u / 20 + 1;
        let unit_id = format!("{id}-U{u:05}");
        let occupied = rng.chance(92);
        p.units.push(Unit {
            id: unit_id.clone(),
            number: format!("{floor}{:02}", u % 20 + 1),
            building: Some(format!("Building {}", (b'A' + (u % 3) as u8) as char)),
            floorplan: Some(rng.pick(&["Studio", "1x1", "2x2", "3x2"]).to_string()),
            vacant: Some(!occupied),
            warnings: vec![],
        });
        if !occupied {
            continue;
        }
        let status = match rng.below(100) {
            0..=69 => LeaseStatus::Current,
            70..=74 => LeaseStatus::Notice,
            75..=82 => LeaseStatus::Future,
            83..=92 => LeaseStatus::Past,
            93..=96 => LeaseStatus::Applicant,
            _ => LeaseStatus::Cancelled,
        };
        let year = 2024 + (rng.below(3) as i32);
        let month = 1 + rng.below(12);
        household(
            rng,
            &mut p,
            &mut person,
            &unit_id,
            &format!("{id}-L{u:05}"),
            status,
            year,
            month,
        );
        // Lease history: the household that lived here before.
        if rng.chance(35) {
            household(
                rng,
                &mut p,
                &mut person,
                &unit_id,
                &format!("{id}-L{u:05}-P"),
                LeaseStatus::Past,
                year - 2,
                month,
            );
        }
    }
    p
}

/// The data problems the alerts exist for, added to a generated property:
/// - a household sharing one email (≈ 4 % of leases with two adults): Duplicate Emails;
/// - malformed emails (≈ 1 %): Missing Email;
/// - emails differing only in case or padding (≈ 3 %): must still match;
/// - unit transfers (≈ 2 % of current leases): the primary gets a new resident record
///   and a future lease in a vacant unit, the old lease turns notice: the same person
///   twice, which is one person, not a duplicate.
pub fn add_data_problems(rng: &mut Rng, p: &mut SimProperty) {
    // Each lease's residents by position, in list order: a scan of every resident per
    // lease made a 5,000-unit property take seconds. Residents are only appended
    // below (and their leases and roles never change), so the positions stay right.
    let mut members: std::collections::HashMap<String, Vec<usize>> =
        std::collections::HashMap::new();
    for (i, r) in p.residents.iter().enumerate() {
        if let Some(lease) = &r.lease_id {
            members.entry(lease.clone()).or_default().push(i);
        }
    }
    for lease in 0..p.leases.len() {
        let adults: Vec<usize> = members
            .get(&p.leases[lease].id)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| {
                matches!(
                    p.residents[i].role,
                    HouseholdRole::Primary | HouseholdRole::CoResident
                )
            })
            .collect();
        if adults.len() >= 2 && rng.chance(4) {
            let shared = p.residents[adults[0]].email.clone();
            p.set_email(adults[1], shared);
        }
    }
    for i in 0..p.residents.len() {
        let Some(email) = p.residents[i].email.clone() else {
            continue;
        };
        match rng.below(100) {
            0 => p.set_email(i, Some(email.replace('@', " at "))),
            1..=3 => {
                let (local, domain) = email.split_once('@').unwrap_or((&email, ""));
                p.set_email(i, Some(format!(" {}@{} ", local, domain.to_uppercase())));
            }
            _ => {}
        }
    }
    let vacant: Vec<String> = p
        .units
        .iter()
        .filter(|u| u.vacant == Some(true))
        .map(|u| u.id.clone())
        .collect();
    let mut vacant = vacant.into_iter();
    // The first unit of each id (as a search from the start finds it).
    let mut unit_at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, u) in p.units.iter().enumerate() {
        unit_at.entry(u.id.clone()).or_insert(i);
    }
    let current: Vec<usize> = p
        .leases
        .iter()
        .enumerate()
        .filter(|(_, l)| l.status == LeaseStatus::Current)
        .map(|(i, _)| i)
        .collect();
    for li in current {
        if !rng.chance(2) {
            continue;
        }
        let Some(to_unit) = vacant.next() else { break };
        let old = p.leases[li].clone();
        let Some(primary) = members
            .get(&old.id)
            .into_iter()
            .flatten()
            .map(|&i| &p.residents[i])
            .find(|r| r.role == HouseholdRole::Primary)
            .cloned()
        else {
            continue;
        };
        p.leases[li].status = LeaseStatus::Notice;
        let new_lease = format!("{}-T", old.id);
        let new_resident = format!("{}-T", primary.id);
        if let Some(wire) = p.wire_emails.get(&primary.id).cloned() {
            p.wire_emails.insert(new_resident.clone(), wire);
        }
        p.residents.push(Resident {
            id: new_resident.clone(),
            lease_id: Some(new_lease.clone()),
            unit_id: Some(to_unit.clone()),
            ..primary
        });
        p.leases.push(Lease {
            id: new_lease,
            unit_id: Some(to_unit.clone()),
            resident_ids: vec![new_resident],
            raw_status: String::new(),
            status: LeaseStatus::Future,
            start_date: old.end_date.clone(),
            end_date: None,
            move_in_date: None,
            move_out_date: None,
            warnings: vec![],
        });
        if let Some(&u) = unit_at.get(&to_unit) {
            p.units[u].vacant = Some(false);
        }
    }
}

/// The id of a new household's primary: on Yardi the lease's tenant code (as
/// [`yardi_codes`] gives generated households), elsewhere `own`.
fn primary_id(p: &SimProperty, lease: &str, own: String) -> String {
    if p.vendor == "yardi" {
        lease.to_owned()
    } else {
        own
    }
}

/// New ids for a property's records, applied everywhere an id is referred to.
#[derive(Debug, Default)]
pub struct Renames {
    pub residents: std::collections::HashMap<String, String>,
    pub leases: std::collections::HashMap<String, String>,
    pub units: std::collections::HashMap<String, String>,
}

impl Renames {
    /// Rewrites ids in the records, their references and the wire emails.
    pub fn apply(&self, p: &mut SimProperty) {
        let get = |map: &std::collections::HashMap<String, String>, id: &mut String| {
            if let Some(new) = map.get(id.as_str()) {
                *id = new.clone();
            }
        };
        for r in &mut p.residents {
            get(&self.residents, &mut r.id);
            r.lease_id.iter_mut().for_each(|l| get(&self.leases, l));
            r.unit_id.iter_mut().for_each(|u| get(&self.units, u));
        }
        for l in &mut p.leases {
            get(&self.leases, &mut l.id);
            l.unit_id.iter_mut().for_each(|u| get(&self.units, u));
            l.resident_ids
                .iter_mut()
                .for_each(|r| get(&self.residents, r));
        }
        for u in &mut p.units {
            get(&self.units, &mut u.id);
        }
        p.wire_emails = std::mem::take(&mut p.wire_emails)
            .into_iter()
            .map(|(k, v)| (self.residents.get(&k).cloned().unwrap_or(k), v))
            .collect();
        p.invalidate();
    }
}

/// Yardi keys: a lease's tenant code (`t0000001`) is also its primary's id, other
/// members get roommate codes (`r0000002`), and a unit is known by its code, which is
/// the number a person sees (`106`).
pub fn yardi_codes(p: &mut SimProperty) {
    let mut renames = Renames::default();
    let mut n = 0u32;
    let primaries: std::collections::HashSet<&str> = p
        .residents
        .iter()
        .filter(|r| r.role == HouseholdRole::Primary)
        .map(|r| r.id.as_str())
        .collect();
    for l in &p.leases {
        n += 1;
        let code = format!("t{n:07}");
        renames.leases.insert(l.id.clone(), code.clone());
        let primary = l
            .resident_ids
            .iter()
            .find(|id| primaries.contains(id.as_str()));
        for rid in &l.resident_ids {
            if Some(rid) == primary {
                renames.residents.insert(rid.clone(), code.clone());
            } else {
                n += 1;
                renames.residents.insert(rid.clone(), format!("r{n:07}"));
            }
        }
    }
    renames.units = p
        .units
        .iter()
        .map(|u| (u.id.clone(), u.number.clone()))
        .collect();
    renames.apply(p);
}

/// Integer ids, as vendors whose APIs number their records send them (Entrata's
/// customers, AppFolio's tenants, occupancies and units): each kind counted from `base`.
pub fn numbered_ids(p: &mut SimProperty, residents: bool, leases: bool, units: bool, base: u64) {
    let number = |ids: Vec<String>| -> std::collections::HashMap<String, String> {
        ids.into_iter()
            .enumerate()
            .map(|(i, id)| (id, (base + i as u64).to_string()))
            .collect()
    };
    let renames = Renames {
        residents: if residents {
            number(p.residents.iter().map(|r| r.id.clone()).collect())
        } else {
            Default::default()
        },
        leases: if leases {
            number(p.leases.iter().map(|l| l.id.clone()).collect())
        } else {
            Default::default()
        },
        units: if units {
            number(p.units.iter().map(|u| u.id.clone()).collect())
        } else {
            Default::default()
        },
    };
    renames.apply(p);
}

/// Generates a portfolio from a spec. Credentials are fixed per vendor.
pub fn generate(spec: &Spec) -> Portfolio {
    let mut rng = Rng::new(spec.seed);
    let mut portfolio = Portfolio::default();
    for (vendor, id, units) in &spec.properties {
        let mut p = generate_property(&mut rng, vendor, id, *units);
        add_data_problems(&mut rng, &mut p);
        // Keep only what the vendor's API can carry: that is the ground truth.
        let dropped: std::collections::HashSet<String> = p
            .leases
            .iter()
            .filter(|l| !crate::vendors::serves(vendor, l.status))
            .map(|l| l.id.clone())
            .collect();
        p.leases.retain(|l| !dropped.contains(&l.id));
        p.residents
            .retain(|r| r.lease_id.as_ref().is_none_or(|l| !dropped.contains(l)));
        for lease in &mut p.leases {
            lease.raw_status = crate::vendors::raw_status(vendor, lease.status).to_owned();
        }
        match vendor.as_str() {
            "yardi" => yardi_codes(&mut p),
            "entrata" => numbered_ids(&mut p, true, false, false, 528_000),
            "appfolio" => {
                numbered_ids(&mut p, true, true, true, 100);
                // The unit directory names no building and says nothing of vacancy.
                for u in &mut p.units {
                    u.building = None;
                    u.vacant = None;
                }
            }
            _ => {}
        }
        if vendor == "mri" {
            crate::vendors::mri::as_served(&mut p);
        }
        if vendor == "rentmanager" {
            crate::vendors::rentmanager::as_served(&mut p);
        }
        if vendor == "realpage" {
            // RealPage names a unit's building by id only.
            for u in &mut p.units {
                u.building = u.building.take().map(|b| b.replace("Building ", ""));
            }
        }
        portfolio.properties.push(p);
        if portfolio.credential(vendor).is_none() {
            portfolio
                .credentials
                .push(crate::vendors::default_credential(vendor));
        }
    }
    portfolio
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(seed: u64) -> Spec {
        Spec {
            seed,
            properties: vec![("acme".into(), "P1".into(), 50)],
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_portfolio() {
        assert_eq!(generate(&spec(7)), generate(&spec(7)));
        assert_ne!(generate(&spec(7)), generate(&spec(8)));
    }

    #[test]
    fn every_lease_points_at_existing_residents_and_units() {
        let p = &generate(&spec(1)).properties[0];
        assert_eq!(p.units.len(), 50);
        for lease in &p.leases {
            assert!(
                p.units
                    .iter()
                    .any(|u| Some(&u.id) == lease.unit_id.as_ref())
            );
            for rid in &lease.resident_ids {
                assert!(p.residents.iter().any(|r| &r.id == rid));
            }
            assert!(!lease.raw_status.is_empty());
        }
    }

    #[test]
    fn a_yardi_household_moved_in_or_transferred_is_keyed_by_its_tenant_code() {
        let mut portfolio = generate(&Spec {
            seed: 1,
            properties: vec![("yardi".into(), "Y".into(), 5)],
        });
        let unit = portfolio.properties[0].units[0].id.clone();
        portfolio
            .apply(&Mutation::MoveIn {
                vendor: "yardi".into(),
                property: "Y".into(),
                unit: unit.clone(),
                first_name: "Ana".into(),
                last_name: "Diaz".into(),
                email: None,
            })
            .unwrap();
        let r = portfolio.properties[0].residents.last().unwrap().clone();
        assert_eq!(
            r.lease_id.as_ref(),
            Some(&r.id),
            "the primary is the lease's tCode"
        );
        portfolio
            .apply(&Mutation::Transfer {
                vendor: "yardi".into(),
                property: "Y".into(),
                resident: r.id.clone(),
                to_unit: unit,
            })
            .unwrap();
        let t = portfolio.properties[0].residents.last().unwrap();
        assert_ne!(t.id, r.id);
        assert_eq!(t.lease_id.as_ref(), Some(&t.id));
    }

    #[test]
    fn generated_properties_carry_every_data_problem() {
        let p = &generate(&Spec {
            seed: 5,
            properties: vec![("acme".into(), "P1".into(), 600)],
        })
        .properties[0];
        let emails: Vec<&str> = p
            .residents
            .iter()
            .filter_map(|r| r.email.as_deref())
            .collect();
        assert!(
            p.residents.iter().any(|r| r.email.is_none()),
            "missing emails"
        );
        assert!(
            emails.iter().all(|e| is_email(e) && e.trim() == *e),
            "canonical emails are trimmed and valid"
        );
        let wire: Vec<&String> = p.wire_emails.values().collect();
        assert!(
            wire.iter().any(|e| !e.contains('@')),
            "malformed emails on the wire"
        );
        assert!(
            p.residents
                .iter()
                .any(|r| r.warnings.iter().any(|w| w.field == "email")),
            "with a warning"
        );
        assert!(
            wire.iter()
                .any(|e| e.starts_with(' ') && e.chars().any(|c| c.is_ascii_uppercase())),
            "case/space variants on the wire"
        );
        let mut seen = std::collections::HashMap::new();
        let mut shared = false;
        for r in &p.residents {
            if let Some(e) = &r.email
                && let Some(other) =
                    seen.insert(e.clone(), (r.first_name.clone(), r.last_name.clone()))
                && other != (r.first_name.clone(), r.last_name.clone())
            {
                shared = true;
            }
        }
        assert!(shared, "shared household emails");
        assert!(
            p.residents.iter().any(|r| r.id.ends_with("-T")),
            "transfers"
        );
        let roles: std::collections::HashSet<_> = p.residents.iter().map(|r| r.role).collect();
        assert_eq!(roles.len(), 4, "primary, co-resident, occupant, guarantor");
        let statuses: std::collections::HashSet<_> = p.leases.iter().map(|l| l.status).collect();
        for s in [
            LeaseStatus::Applicant,
            LeaseStatus::Future,
            LeaseStatus::Current,
            LeaseStatus::Notice,
            LeaseStatus::Past,
            LeaseStatus::Cancelled,
        ] {
            assert!(statuses.contains(&s), "{s:?}");
        }
    }

    #[test]
    fn email_locals_fold_to_ascii() {
        assert_eq!(email_local("José", "O'Brien"), "jose.obrien");
        assert_eq!(email_local("Zoë", "van der Berg"), "zoe.vanderberg");
    }
}
