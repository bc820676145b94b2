//! The conformance suite: random sequences of syncs, alert resolutions, unit
//! mappings, approvals and discards, applied through the port to each backend and to
//! the engine's own in-memory state (the model), compared after every step: the
//! state read afresh, the shared read state, the audit trail, and the property's
//! access feed.

mod backend;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use backend::*;
use epms_engine::resolve::{Resolution, delete_account, resolve};
use epms_engine::units_csv::{NewDoorUnit, plan_create_units, plan_map_unit, plan_unmap_unit};
use epms_engine::*;
use epms_model::{HouseholdRole, LeaseStatus};
use epms_store::*;
use proptest::prelude::*;
use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};

#[path = "../../engine/tests/common/mod.rs"]
mod common;
use common::{NOW, rec, snapshot};

const FIRSTS: &[&str] = &["Ann", "ANN", "Bo", "José", "Zoë"];
const EMAILS: &[Option<&str>] = &[
    Some("ann@x.com"),
    Some(" ANN@x.com"),
    Some("bo@x.com"),
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
];

#[derive(Debug, Clone)]
struct Person {
    first: usize,
    email: usize,
    unit: usize,
    status: usize,
    guarantor: bool,
}

#[derive(Debug, Clone)]
enum Op {
    Sync(Vec<Person>),
    Resolve {
        alert: usize,
        how: usize,
        account: usize,
    },
    Map {
        pms: usize,
        door: usize,
    },
    Unmap(usize),
    DeleteAccount(usize),
    Approve(usize),
    Discard(usize),
}

fn person() -> impl Strategy<Value = Person> {
    (
        0..FIRSTS.len(),
        0..EMAILS.len(),
        0..4usize,
        0..STATUSES.len(),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(first, email, unit, status, guarantor)| Person {
            first,
            email,
            unit,
            status,
            guarantor,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::collection::vec(person(), 0..10).prop_map(Op::Sync),
        2 => (0..10usize, 0..5usize, 0..3usize).prop_map(|(alert, how, account)| Op::Resolve { alert, how, account }),
        2 => (0..4usize, 0..3usize).prop_map(|(pms, door)| Op::Map { pms, door }),
        2 => (0..4usize).prop_map(Op::Unmap),
        1 => (0..8usize).prop_map(Op::DeleteAccount),
        2 => (0..60usize).prop_map(Op::Approve),
        1 => (0..10usize).prop_map(Op::Discard),
    ]
}

/// The same position across snapshots is the same PMS resident.
fn build(people: &[Person]) -> PmsSnapshot {
    snapshot(
        people
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut r = rec(
                    &format!("t{i}"),
                    FIRSTS[p.first],
                    "Lee",
                    EMAILS[p.email],
                    &format!("U{}", p.unit),
                    STATUSES[p.status],
                );
                if p.guarantor {
                    r.resident.role = HouseholdRole::Guarantor;
                }
                r
            })
            .collect(),
    )
}

/// A plan for `op` against the model, if the op applies to this state.
fn plan_for(op: &Op, model: &DoorState, settings: &Settings) -> Option<Plan> {
    let manager = Actor::Manager("pat".into());
    match op {
        Op::Sync(people) => Some(plan_sync(&build(people), model, settings, NOW).plan),
        Op::Resolve {
            alert,
            how,
            account,
        } => {
            let a = model
                .alerts
                .values()
                .nth(alert % model.alerts.len().max(1))?;
            let resolution = match how {
                0 => Resolution::Dismiss,
                1 => Resolution::KeepDoorValue,
                2 | 3 => Resolution::Merge {
                    account: a.accounts.get(account % a.accounts.len().max(1)).copied()?,
                    use_pms_name: *how == 3,
                },
                _ => Resolution::CreateSeparate {
                    delete_old: account % 2 == 0,
                },
            };
            resolve(model, a.id, &resolution, &manager, NOW).ok()
        }
        Op::Map { pms, door } => {
            let unit = model.pms_units.get(*pms)?;
            let door = *model.door_units.keys().nth(*door)?;
            plan_map_unit(model, &unit.key, door, &manager, NOW).ok()
        }
        Op::Unmap(pms) => {
            let unit = model.pms_units.get(*pms)?;
            plan_unmap_unit(model, &unit.key, &manager, NOW).ok()
        }
        Op::DeleteAccount(i) => {
            let id = *model.accounts.keys().nth(*i)?;
            delete_account(model, id, &manager, NOW).ok()
        }
        Op::Approve(n) => {
            let ids: Vec<SuggestionId> = model
                .suggestions
                .keys()
                .copied()
                .take(*n.min(&50))
                .collect();
            access::approve(model, &ids, &manager, NOW).ok()
        }
        Op::Discard(i) => {
            let id = *model.suggestions.keys().nth(*i)?;
            access::discard(model, id, &manager, NOW).ok()
        }
    }
}

static NEXT_PROPERTY: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Every kind of row change the sequences applied, so that a suite that never
    /// reaches one (and so could not catch a backend getting it wrong) fails.
    static SEEN: RefCell<BTreeSet<&'static str>> = const { RefCell::new(BTreeSet::new()) };
}

const EVERY_CHANGE: [&str; 18] = [
    "put-account",
    "delete-account",
    "put-link",
    "delete-link",
    "put-alert",
    "archive-alert",
    "set-pms-units",
    "put-door-unit",
    "put-mapping",
    "delete-mapping",
    "put-grant",
    "delete-grant",
    "put-suggestion",
    "close-suggestion",
    "put-memo",
    "delete-memo",
    "append-feed",
    "audit",
];

fn seen(plan: &Plan) {
    SEEN.with_borrow_mut(|seen| record(seen, plan));
}

fn record(seen: &mut BTreeSet<&'static str>, plan: &Plan) {
    if !plan.audit.is_empty() {
        seen.insert("audit");
    }
    for change in plan.changes() {
        seen.insert(match change {
            Change::PutAccount(_) => "put-account",
            Change::DeleteAccount(_) => "delete-account",
            Change::PutLink(..) => "put-link",
            Change::DeleteLink(_) => "delete-link",
            Change::PutAlert(_) => "put-alert",
            Change::ArchiveAlert(_) => "archive-alert",
            Change::SetPmsUnits(_) => "set-pms-units",
            Change::PutDoorUnit(_) => "put-door-unit",
            Change::PutMapping(..) => "put-mapping",
            Change::DeleteMapping(_) => "delete-mapping",
            Change::PutGrant(_) => "put-grant",
            Change::DeleteGrant(_) => "delete-grant",
            Change::PutSuggestion(_) => "put-suggestion",
            Change::CloseSuggestion(..) => "close-suggestion",
            Change::PutMemo(..) => "put-memo",
            Change::DeleteMemo(_) => "delete-memo",
            Change::AppendFeed(_) => "append-feed",
        });
    }
}

fn run_sequence(
    store: &Arc<dyn Storage>,
    ops: &[Op],
    automatic: bool,
) -> Result<(), TestCaseError> {
    let property = format!("door-{}", NEXT_PROPERTY.fetch_add(1, Ordering::Relaxed));
    let mut settings = Settings::default();
    settings.access.enabled = true;
    settings.access.guard_min_residents = 2;
    settings.access.mode = if automatic {
        AccessMode::Automatic
    } else {
        AccessMode::ApprovalRequired
    };
    store
        .create_property(&PropertyRecord::new(&property, "B", NOW))
        .unwrap();
    let mut model = store.load_state(&property).unwrap();
    let units = ["D0", "D1", "D2"].map(|name| NewDoorUnit {
        name: name.into(),
        building: None,
    });
    let setup = plan_create_units(&model, &units, &Actor::Manager("pat".into()), NOW).unwrap();
    let mut plans = vec![setup];
    let mut audit: Vec<AuditEntry> = Vec::new();
    let mut feed: Vec<FeedEvent> = Vec::new();
    let mut ops = ops.iter();
    loop {
        for plan in plans.drain(..) {
            // Warm the shared read state, so that applying also advances it in memory.
            let _ = store.state(&property).unwrap();
            store.apply(&property, &plan, None).unwrap();
            model.apply(&plan).unwrap();
            seen(&plan);
            audit.extend(plan.audit.iter().cloned());
            feed.extend(plan.feed.iter().cloned());
            prop_assert_eq!(
                &store.load_state(&property).unwrap(),
                &model,
                "state read afresh"
            );
            prop_assert_eq!(
                &*store.state(&property).unwrap(),
                &model,
                "shared read state"
            );
            let stored = store.audit(&property, 0, usize::MAX).unwrap();
            prop_assert!(
                stored.windows(2).all(|w| w[0].0 < w[1].0),
                "audit sequences ascend"
            );
            let stored: Vec<AuditEntry> = stored.into_iter().map(|(_, e)| e).collect();
            prop_assert_eq!(&stored, &audit, "the audit trail, in order");
            let own_feed: Vec<FeedEvent> = store
                .feed(0, usize::MAX)
                .unwrap()
                .into_iter()
                .filter(|(_, r)| r.property == property)
                .map(|(_, r)| r.event)
                .collect();
            prop_assert_eq!(&own_feed, &feed, "the property's feed");
        }
        let Some(op) = ops.next() else {
            return Ok(());
        };
        plans.extend(plan_for(op, &model, &settings));
    }
}

fn conformance(backend: &Backend, cases: u32) {
    let store = open(backend);
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    // A fixed seed: the same sequences on every run, so that the coverage check below
    // cannot pass on one run and fail on the next.
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let sequences = (prop::collection::vec(op(), 1..16), any::<bool>());
    if let Err(e) = runner.run(&sequences, |(ops, automatic)| {
        run_sequence(&store, &ops, automatic)
    }) {
        panic!("{e}");
    }
    // The feed as a whole: sequences strictly increasing from 1, with no gaps.
    let seqs: Vec<u64> = store
        .feed(0, usize::MAX)
        .unwrap()
        .iter()
        .map(|(s, _)| *s)
        .collect();
    assert!(seqs.iter().copied().eq(1..=seqs.len() as u64), "{seqs:?}");
    let missed: Vec<&str> = SEEN.with_borrow(|seen| {
        EVERY_CHANGE
            .into_iter()
            .filter(|c| !seen.contains(c))
            .collect()
    });
    assert!(missed.is_empty(), "the sequences never applied: {missed:?}");
}

#[test]
fn random_sequences_on_redb_match_the_engine() {
    conformance(&redb(), 64);
}

#[test]
fn random_sequences_on_postgres_match_the_engine() {
    if let Some(backend) = postgres("conformance") {
        conformance(&backend, 48);
    }
}
