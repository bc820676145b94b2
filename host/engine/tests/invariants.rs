//! Property tests of the engine's invariants over random portfolios and random
//! sequences of syncs and resolutions.

mod common;

use std::collections::{BTreeSet, HashSet};

use common::*;
use epms_engine::resolve::{Resolution, resolve};
use epms_engine::*;
use epms_model::{HouseholdRole, LeaseStatus};
use proptest::prelude::*;

const FIRSTS: &[&str] = &["Ann", "ANN", "Bo", "José", "Jose", "Zoë"];
const LASTS: &[&str] = &["Lee", "Núñez", "O'Brien", "Lee "];
const EMAILS: &[Option<&str>] = &[
    Some("ann@x.com"),
    Some(" ANN@x.com"),
    Some("bo@x.com"),
    Some("jose@x.com"),
    Some("zoe@x.com"),
    Some("family@x.com"),
    Some("bad@"),
    None,
];
const STATUSES: &[LeaseStatus] = &[
    LeaseStatus::Current,
    LeaseStatus::Notice,
    LeaseStatus::Future,
    LeaseStatus::Past,
    LeaseStatus::Applicant,
    LeaseStatus::Cancelled,
];

#[derive(Debug, Clone)]
struct RecSpec {
    first: usize,
    last: usize,
    email: usize,
    unit: usize,
    status: usize,
    guarantor: bool,
}

fn rec_spec() -> impl Strategy<Value = RecSpec> {
    (
        0..FIRSTS.len(),
        0..LASTS.len(),
        0..EMAILS.len(),
        0..4usize,
        0..STATUSES.len(),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(first, last, email, unit, status, guarantor)| RecSpec {
            first,
            last,
            email,
            unit,
            status,
            guarantor,
        })
}

/// A snapshot from specs; resident ids come from the spec's position, so the same
/// position across snapshots is the same PMS resident.
fn build(specs: &[RecSpec]) -> PmsSnapshot {
    snapshot(
        specs
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut r = rec(
                    &format!("t{i}"),
                    FIRSTS[s.first],
                    LASTS[s.last],
                    EMAILS[s.email],
                    &format!("U{}", s.unit),
                    STATUSES[s.status],
                );
                if s.guarantor {
                    r.resident.role = HouseholdRole::Guarantor;
                }
                r
            })
            .collect(),
    )
}

#[derive(Debug, Clone)]
enum Op {
    Sync(Vec<RecSpec>),
    Resolve {
        alert: usize,
        how: usize,
        account: usize,
    },
    Map {
        unit: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::collection::vec(rec_spec(), 0..14).prop_map(Op::Sync),
        3 => (0..20usize, 0..5usize, 0..4usize).prop_map(|(alert, how, account)| Op::Resolve { alert, how, account }),
        1 => (0..4usize).prop_map(|unit| Op::Map { unit }),
    ]
}

fn check_invariants(state: &DoorState) -> Result<(), TestCaseError> {
    let mut emails = HashSet::new();
    for a in state.accounts.values() {
        if let Some(e) = a.email.as_deref().and_then(normalize::email) {
            prop_assert!(emails.insert(e.clone()), "two accounts share {e}");
        }
    }
    for (key, account) in &state.links {
        prop_assert!(
            state.accounts.contains_key(account),
            "link {key} points at a missing account"
        );
    }
    let mut identities = HashSet::new();
    for a in state.alerts.values() {
        prop_assert!(a.state.is_live());
        prop_assert!(
            identities.insert(a.identity.clone()),
            "two live alerts share {}",
            a.identity
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any sequence of syncs, resolutions and mappings keeps the invariants, and a
    /// sync repeated on the same snapshot plans nothing and keeps the alert count.
    #[test]
    fn invariants_hold_over_any_sequence(
        ops in prop::collection::vec(op(), 1..12),
        auto_link in any::<bool>(),
        preexisting in prop::collection::vec((0..FIRSTS.len(), 0..LASTS.len(), 0..EMAILS.len()), 0..4),
    ) {
        let mut state = DoorState::default();
        let mut taken = HashSet::new();
        for (f, l, e) in preexisting {
            // Pre-existing DOOR accounts respect email uniqueness, as DOOR does.
            let email = EMAILS[e];
            if let Some(n) = email.and_then(normalize::email)
                && !taken.insert(n) {
                continue;
            }
            manual_account(&mut state, FIRSTS[f], LASTS[l], email, None);
        }
        let settings = Settings { auto_link_exact_matches: auto_link, ..Settings::default() };
        let mut last_snapshot: Option<PmsSnapshot> = None;
        for op in ops {
            match op {
                Op::Sync(specs) => {
                    let snap = build(&specs);
                    sync(&mut state, &snap, &settings);
                    check_invariants(&state)?;
                    let alerts = state.alerts.len();
                    let again = plan_sync(&snap, &state, &settings, NOW).plan;
                    prop_assert!(again.is_empty(), "second identical sync planned {again:#?}");
                    prop_assert_eq!(state.alerts.len(), alerts);
                    last_snapshot = Some(snap);
                }
                Op::Resolve { alert, how, account } => {
                    let Some(a) = state.alerts.values().nth(alert % state.alerts.len().max(1)).cloned() else { continue };
                    let resolution = match how {
                        0 => Resolution::Dismiss,
                        1 => Resolution::KeepDoorValue,
                        2 | 3 => Resolution::Merge {
                            account: a.accounts.get(account % a.accounts.len().max(1)).copied().unwrap_or(0),
                            use_pms_name: how == 3,
                        },
                        _ => Resolution::CreateSeparate { delete_old: account % 2 == 0 },
                    };
                    if let Ok(plan) = resolve(&state, a.id, &resolution, &manager(), NOW) {
                        state.apply(&plan).unwrap();
                    }
                    check_invariants(&state)?;
                }
                Op::Map { unit } => {
                    let key = unit_key(&format!("U{unit}"));
                    if state.pms_units.iter().any(|u| u.key == key) {
                        let name = format!("D{unit}-{}", state.next_door_unit_id);
                        let id = door_unit(&mut state, &name);
                        state.mappings.insert(key, id);
                    }
                }
            }
        }
        // Whatever happened, a sync of the last snapshot settles: the one after plans nothing.
        if let Some(snap) = last_snapshot {
            sync(&mut state, &snap, &settings);
            prop_assert!(plan_sync(&snap, &state, &settings, NOW).plan.is_empty());
        }
    }

    /// No account is ever created for a resident whose only leases are excluded.
    #[test]
    fn no_account_for_an_excluded_status(specs in prop::collection::vec(rec_spec(), 0..14), excluded in prop::collection::btree_set(0..STATUSES.len(), 0..3)) {
        let raw: BTreeSet<String> = excluded.iter().map(|i| format!("{:?}", STATUSES[*i])).collect();
        let settings = Settings { excluded_statuses: raw.clone(), ..Settings::default() };
        let snap = build(&specs);
        let mut state = DoorState::default();
        sync(&mut state, &snap, &settings);
        for key in state.links.keys() {
            let lease = snap.properties[0].leases.iter().find(|l| l.resident_ids.contains(&key.resident)).unwrap();
            prop_assert!(!raw.contains(&lease.raw_status), "{key} synced with excluded {}", lease.raw_status);
            prop_assert!(lease.status.door_status().is_some());
        }
        check_invariants(&state)?;
    }
}
