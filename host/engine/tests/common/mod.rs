//! A small harness: build PMS snapshots tersely, sync, apply.
#![allow(dead_code)]

use epms_engine::*;
use epms_model::{HouseholdRole, Lease, LeaseStatus, Resident, Unit};

pub const NOW: i64 = 1_800_000_000;

pub struct Rec {
    pub resident: Resident,
    pub lease: Lease,
}

/// A resident with their own lease in `unit`.
pub fn rec(
    id: &str,
    first: &str,
    last: &str,
    email: Option<&str>,
    unit: &str,
    status: LeaseStatus,
) -> Rec {
    Rec {
        resident: Resident {
            id: id.into(),
            lease_id: Some(format!("L-{id}")),
            unit_id: Some(unit.into()),
            first_name: first.into(),
            last_name: last.into(),
            email: email.map(Into::into),
            phone: None,
            role: HouseholdRole::Primary,
            warnings: vec![],
        },
        lease: Lease {
            id: format!("L-{id}"),
            unit_id: Some(unit.into()),
            resident_ids: vec![id.into()],
            raw_status: format!("{status:?}"),
            status,
            start_date: Some("2025-01-01".into()),
            end_date: None,
            move_in_date: None,
            move_out_date: None,
            warnings: vec![],
        },
    }
}

pub fn current(id: &str, first: &str, last: &str, email: &str, unit: &str) -> Rec {
    rec(id, first, last, Some(email), unit, LeaseStatus::Current)
}

pub fn snapshot(recs: Vec<Rec>) -> PmsSnapshot {
    let mut units: Vec<String> = recs
        .iter()
        .filter_map(|r| r.lease.unit_id.clone())
        .collect();
    units.sort();
    units.dedup();
    PmsSnapshot {
        vendor: "yardi".into(),
        properties: vec![PmsPropertyData {
            id: "P1".into(),
            units: units
                .into_iter()
                .map(|u| Unit {
                    id: u.clone(),
                    number: u,
                    building: None,
                    floorplan: None,
                    vacant: None,
                    warnings: vec![],
                })
                .collect(),
            residents: recs.iter().map(|r| r.resident.clone()).collect(),
            leases: recs.into_iter().map(|r| r.lease).collect(),
        }],
    }
}

pub fn key(resident: &str) -> PmsKey {
    PmsKey {
        vendor: "yardi".into(),
        property: "P1".into(),
        resident: resident.into(),
    }
}

pub fn unit_key(unit: &str) -> PmsUnitKey {
    PmsUnitKey {
        property: "P1".into(),
        unit: unit.into(),
    }
}

/// Plans and applies one sync; returns the plan.
pub fn sync(state: &mut DoorState, snap: &PmsSnapshot, settings: &Settings) -> Plan {
    let out = plan_sync(snap, state, settings, NOW);
    state.apply(&out.plan).expect("a fresh plan applies");
    out.plan
}

pub fn sync_default(state: &mut DoorState, snap: &PmsSnapshot) -> Plan {
    sync(state, snap, &Settings::default())
}

/// A DOOR account made by a manager before the integration.
pub fn manual_account(
    state: &mut DoorState,
    first: &str,
    last: &str,
    email: Option<&str>,
    door_unit: Option<DoorUnitId>,
) -> AccountId {
    let id = state.next_account_id;
    state.next_account_id += 1;
    state.accounts.insert(
        id,
        Account {
            id,
            first_name: first.into(),
            last_name: last.into(),
            email: email.map(Into::into),
            status: None,
            door_unit,
            pms_unit: None,
            source: AccountSource::Manual,
        },
    );
    id
}

pub fn door_unit(state: &mut DoorState, name: &str) -> DoorUnitId {
    let id = state.next_door_unit_id;
    state.next_door_unit_id += 1;
    state.door_units.insert(
        id,
        DoorUnit {
            id,
            name: name.into(),
            building: None,
        },
    );
    id
}

pub fn alerts_of(state: &DoorState, t: AlertType) -> Vec<&Alert> {
    state
        .alerts
        .values()
        .filter(|a| a.alert_type == t && a.state == AlertState::Open)
        .collect()
}

pub fn account_by_email<'a>(state: &'a DoorState, email: &str) -> Option<&'a Account> {
    state
        .accounts
        .values()
        .find(|a| a.email.as_deref().map(str::to_lowercase).as_deref() == Some(email))
}

pub fn manager() -> Actor {
    Actor::Manager("pat".into())
}

/// Settings with Automated Access on in `mode`.
pub fn access(mode: AccessMode) -> Settings {
    let mut s = Settings::default();
    s.access.enabled = true;
    s.access.mode = mode;
    s
}

/// A DOOR unit mapped to PMS unit `pms` of property P1.
pub fn mapped_unit(state: &mut DoorState, pms: &str) -> DoorUnitId {
    let id = door_unit(state, &format!("Unit {pms}"));
    state.mappings.insert(unit_key(pms), id);
    id
}

pub fn keys_of(state: &DoorState, account: AccountId) -> Vec<KeyRef> {
    let mut keys: Vec<KeyRef> = state
        .grants
        .values()
        .filter(|g| g.account == account)
        .map(|g| g.key.clone())
        .collect();
    keys.sort();
    keys
}

pub fn commons() -> Vec<KeyRef> {
    vec![
        KeyRef::Common("Resident Amenities".into()),
        KeyRef::Common("Resident Entrances".into()),
    ]
}
