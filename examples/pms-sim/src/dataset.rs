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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SimProperty {
    pub vendor: String,
    pub id: String,
    pub name: String,
    pub units: Vec<Unit>,
    pub residents: Vec<Resident>,
    pub leases: Vec<Lease>,
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

/// Generates a portfolio from a spec. Credentials are fixed per vendor.
pub fn generate(spec: &Spec) -> Portfolio {
    let mut rng = Rng::new(spec.seed);
    let mut portfolio = Portfolio::default();
    for (vendor, id, units) in &spec.properties {
        let mut p = generate_property(&mut rng, vendor, id, *units);
        for lease in &mut p.leases {
            lease.raw_status = crate::vendors::raw_status(vendor, lease.status).to_owned();
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
    fn email_locals_fold_to_ascii() {
        assert_eq!(email_local("José", "O'Brien"), "jose.obrien");
        assert_eq!(email_local("Zoë", "van der Berg"), "zoe.vanderberg");
    }
}
