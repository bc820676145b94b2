//! DOOR units: created one at a time or from a CSV file, and PMS unit mappings.
//!
//! CSV: a header row with `name` and optionally `building` (any order, any case),
//! then one unit per row. Any bad row rejects the whole file (nothing half-imported)
//! with an error per row: blank or over-long name, a name used twice in the file or
//! already taken in DOOR, a wrong number of fields.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::plan::{Actor, AuditEntry, Plan};
use crate::state::{DoorState, DoorUnit, DoorUnitId, PmsUnitKey};

pub const MAX_NAME: usize = 100;
/// Most rows one upload may hold.
pub const MAX_ROWS: usize = 10_000;

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDoorUnit {
    /// 1 to 100 characters, not blank, unique (any case) within the property.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 100)))]
    pub name: String,
    pub building: Option<String>,
}

/// A problem with one row (1-based, the header being row 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("row {row}: {message}")]
pub struct RowError {
    pub row: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("some rows have errors; nothing was applied")]
    Rows(Vec<RowError>),
    #[error("DOOR unit {0} does not exist")]
    NoSuchDoorUnit(DoorUnitId),
    #[error("PMS unit {0:?} was not reported by the last sync of this property")]
    NoSuchPmsUnit(PmsUnitKey),
    #[error("PMS unit {0:?} is not mapped")]
    NotMapped(PmsUnitKey),
}

fn check_name(
    name: &str,
    existing: &HashSet<String>,
    in_file: &mut HashSet<String>,
) -> Result<(), String> {
    let key = name.trim().to_lowercase();
    if key.is_empty() {
        return Err("name is blank".into());
    }
    if name.chars().count() > MAX_NAME {
        return Err(format!("name is longer than {MAX_NAME} characters"));
    }
    if existing.contains(&key) {
        return Err(format!(
            "a DOOR unit named {:?} already exists",
            name.trim()
        ));
    }
    if !in_file.insert(key) {
        return Err(format!(
            "{:?} appears more than once in the file",
            name.trim()
        ));
    }
    Ok(())
}

fn existing_names(state: &DoorState) -> HashSet<String> {
    state
        .door_units
        .values()
        .map(|u| u.name.trim().to_lowercase())
        .collect()
}

/// Parses and validates a CSV upload against the property's existing units.
pub fn parse_csv(text: &str, state: &DoorState) -> Result<Vec<NewDoorUnit>, UnitError> {
    let err = |row: usize, message: String| UnitError::Rows(vec![RowError { row, message }]);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| err(1, format!("unreadable header: {e}")))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let name_col = col("name").ok_or_else(|| err(1, "the header has no \"name\" column".into()))?;
    let building_col = col("building");
    let existing = existing_names(state);
    let mut in_file = HashSet::new();
    let mut units = Vec::new();
    let mut errors = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let row = i + 2;
        if row > MAX_ROWS + 1 {
            errors.push(RowError {
                row,
                message: format!("more than {MAX_ROWS} rows"),
            });
            break;
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError {
                    row,
                    message: e.to_string(),
                });
                continue;
            }
        };
        let name = record.get(name_col).unwrap_or_default().to_owned();
        if let Err(message) = check_name(&name, &existing, &mut in_file) {
            errors.push(RowError { row, message });
            continue;
        }
        let building = building_col
            .and_then(|c| record.get(c))
            .filter(|b| !b.is_empty())
            .map(str::to_owned);
        units.push(NewDoorUnit { name, building });
    }
    if !errors.is_empty() {
        return Err(UnitError::Rows(errors));
    }
    if units.is_empty() {
        return Err(err(2, "the file has no units".into()));
    }
    Ok(units)
}

fn audit(actor: &Actor, now: i64, action: &str, detail: String) -> AuditEntry {
    AuditEntry {
        at: now,
        actor: actor.clone(),
        action: action.to_owned(),
        rule: "manager.units".into(),
        account: None,
        pms_key: None,
        detail,
    }
}

/// Creates DOOR units (one, or a validated CSV's worth).
pub fn plan_create_units(
    state: &DoorState,
    units: &[NewDoorUnit],
    actor: &Actor,
    now: i64,
) -> Result<Plan, UnitError> {
    let existing = existing_names(state);
    let mut in_file = HashSet::new();
    let errors: Vec<RowError> = units
        .iter()
        .enumerate()
        .filter_map(|(i, u)| {
            check_name(&u.name, &existing, &mut in_file)
                .err()
                .map(|message| RowError {
                    row: i + 1,
                    message,
                })
        })
        .collect();
    if !errors.is_empty() {
        return Err(UnitError::Rows(errors));
    }
    let mut plan = Plan::empty(state);
    for u in units {
        let id = plan.next_door_unit_id;
        plan.next_door_unit_id += 1;
        plan.door_units_created.push(DoorUnit {
            id,
            name: u.name.trim().to_owned(),
            building: u.building.clone(),
        });
        plan.audit.push(audit(
            actor,
            now,
            "door-unit.created",
            format!("DOOR unit {id} {:?}", u.name.trim()),
        ));
    }
    Ok(plan)
}

/// Maps a PMS unit (as listed by the last sync) to a DOOR unit. Residents are
/// assigned on the next sync.
pub fn plan_map_unit(
    state: &DoorState,
    pms: &PmsUnitKey,
    door: DoorUnitId,
    actor: &Actor,
    now: i64,
) -> Result<Plan, UnitError> {
    if !state.door_units.contains_key(&door) {
        return Err(UnitError::NoSuchDoorUnit(door));
    }
    if !state.pms_units.iter().any(|u| &u.key == pms) {
        return Err(UnitError::NoSuchPmsUnit(pms.clone()));
    }
    plan_map_units(state, &[(pms.clone(), door)], actor, now)
}

/// Maps many PMS units at once: all or none, with an error per bad item (1-based
/// `row`). Mapping a unit to the DOOR unit it already has is no change.
pub fn plan_map_units(
    state: &DoorState,
    mappings: &[(PmsUnitKey, DoorUnitId)],
    actor: &Actor,
    now: i64,
) -> Result<Plan, UnitError> {
    let listed: HashSet<&PmsUnitKey> = state.pms_units.iter().map(|u| &u.key).collect();
    let mut seen = HashSet::new();
    let mut errors = Vec::new();
    for (i, (pms, door)) in mappings.iter().enumerate() {
        let message = if !state.door_units.contains_key(door) {
            Some(format!("DOOR unit {door} does not exist"))
        } else if !listed.contains(pms) {
            Some(format!(
                "PMS unit {}/{} was not reported by the last sync",
                pms.property, pms.unit
            ))
        } else if !seen.insert(pms) {
            Some(format!(
                "PMS unit {}/{} appears more than once",
                pms.property, pms.unit
            ))
        } else {
            None
        };
        if let Some(message) = message {
            errors.push(RowError {
                row: i + 1,
                message,
            });
        }
    }
    if !errors.is_empty() {
        return Err(UnitError::Rows(errors));
    }
    let mut plan = Plan::empty(state);
    for (pms, door) in mappings {
        if state.mappings.get(pms) != Some(door) {
            plan.mappings_set.push((pms.clone(), *door));
            plan.audit.push(audit(
                actor,
                now,
                "mapping.set",
                format!("PMS unit {}/{} → DOOR unit {door}", pms.property, pms.unit),
            ));
        }
    }
    Ok(plan)
}

/// Removes a mapping: residents already assigned stay; new assignments stop.
pub fn plan_unmap_unit(
    state: &DoorState,
    pms: &PmsUnitKey,
    actor: &Actor,
    now: i64,
) -> Result<Plan, UnitError> {
    if !state.mappings.contains_key(pms) {
        return Err(UnitError::NotMapped(pms.clone()));
    }
    let mut plan = Plan::empty(state);
    plan.mappings_removed.push(pms.clone());
    plan.audit.push(audit(
        actor,
        now,
        "mapping.removed",
        format!("PMS unit {}/{} unmapped", pms.property, pms.unit),
    ));
    Ok(plan)
}
