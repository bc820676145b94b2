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

/// Move-out dates of a notice lease around `NOW` (2027-01-15 08:00 UTC): none, passed,
/// today (its end, with a day's grace, is still ahead), months ahead, not a date.
const MOVE_OUTS: &[Option<&str>] = &[
    None,
    Some("2026-12-01"),
    Some("2027-01-15"),
    Some("2027-06-30"),
    Some("soon"),
];

#[derive(Debug, Clone)]
struct RecSpec {
    first: usize,
    last: usize,
    email: usize,
    unit: usize,
    status: usize,
    guarantor: bool,
    move_out: usize,
}

fn rec_spec() -> impl Strategy<Value = RecSpec> {
    (
        0..FIRSTS.len(),
        0..LASTS.len(),
        0..EMAILS.len(),
        0..4usize,
        0..STATUSES.len(),
        prop::bool::weighted(0.1),
        0..MOVE_OUTS.len(),
    )
        .prop_map(
            |(first, last, email, unit, status, guarantor, move_out)| RecSpec {
                first,
                last,
                email,
                unit,
                status,
                guarantor,
                move_out,
            },
        )
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
                r.lease.move_out_date = MOVE_OUTS[s.move_out].map(str::to_owned);
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
    #![proptest_config(ProptestConfig::default())]

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
                    let out = plan_sync(&snap, &state, &settings, NOW);
                    state.apply(&out.plan).unwrap();
                    check_invariants(&state)?;
                    check_dispositions(&snap, &state, &out.dispositions)?;
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

#[derive(Debug, Clone)]
enum AccessOp {
    Sync(Vec<RecSpec>),
    Approve(usize),
    Discard(usize),
    Manual { account: usize, status: usize },
    RevokeMissing,
}

fn access_op() -> impl Strategy<Value = AccessOp> {
    prop_oneof![
        5 => prop::collection::vec(rec_spec(), 0..12).prop_map(AccessOp::Sync),
        2 => (0..60usize).prop_map(AccessOp::Approve),
        1 => (0..10usize).prop_map(AccessOp::Discard),
        1 => (0..6usize, 0..3usize).prop_map(|(account, status)| AccessOp::Manual { account, status }),
        1 => Just(AccessOp::RevokeMissing),
    ]
}

/// Every key held by a resident who should not have one is waiting on a pending
/// revoke (Approval Required, or held by the guard): no silent access. `after_sync`:
/// a manager may discard a revoke; the next sync suggests it again, so the strict
/// check runs after syncs.
/// Every resident record has one disposition; a synced one names an account that
/// exists and is linked to it; every alert named is live.
fn check_dispositions(
    snap: &PmsSnapshot,
    state: &DoorState,
    dispositions: &[RecordDisposition],
) -> Result<(), TestCaseError> {
    let records: usize = snap.properties.iter().map(|p| p.residents.len()).sum();
    prop_assert_eq!(dispositions.len(), records);
    let keys: BTreeSet<&PmsKey> = dispositions.iter().map(|d| &d.pms_key).collect();
    prop_assert_eq!(keys.len(), records, "a record listed twice");
    for d in dispositions {
        if let Disposition::Synced { account, .. } = d.outcome {
            prop_assert!(state.accounts.contains_key(&account), "{d:?}");
            prop_assert_eq!(state.links.get(&d.pms_key), Some(&account));
        } else if matches!(
            d.outcome,
            Disposition::MissingEmail
                | Disposition::MalformedEmail { .. }
                | Disposition::SharesEmail { .. }
                | Disposition::WaitingOnAlert { .. }
        ) {
            // Held before reaching an account (a record that stops syncing, say as an
            // applicant, keeps the link it had).
            prop_assert!(!state.links.contains_key(&d.pms_key), "{d:?} is linked");
            prop_assert!(!d.alerts.is_empty(), "{d:?} is held by no alert");
        }
        for a in &d.alerts {
            prop_assert!(
                state.alerts.contains_key(&a.id),
                "{d:?} names a closed alert"
            );
        }
    }
    Ok(())
}

fn check_access(
    state: &DoorState,
    feed: &[FeedEvent],
    after_sync: bool,
) -> Result<(), TestCaseError> {
    let mut held = HashSet::new();
    for g in state.grants.values() {
        prop_assert!(
            state.accounts.contains_key(&g.account),
            "grant {} of a deleted account",
            g.id
        );
        prop_assert!(
            held.insert((g.account, g.key.clone())),
            "account {} holds {} twice",
            g.account,
            g.key
        );
        let effective = state.memos.get(&g.account).and_then(AccessMemo::effective);
        // No silent access: a key whose end has passed waits on a revoke too.
        if after_sync && g.end.is_some_and(|end| end <= NOW) {
            let pending = state
                .suggestions
                .values()
                .any(|s| s.grant == Some(g.id) && s.kind == SuggestionKind::Revoke);
            prop_assert!(
                pending,
                "grant {} ended at {:?} and is still held with no pending revoke",
                g.id,
                g.end
            );
        }
        if after_sync && effective != Some(epms_model::DoorStatus::Current) {
            let pending = state
                .suggestions
                .values()
                .any(|s| s.grant == Some(g.id) && s.kind == SuggestionKind::Revoke);
            let missing = state
                .memos
                .get(&g.account)
                .is_some_and(|m| m.pms_status.is_none() || m.missing_syncs > 0);
            prop_assert!(
                pending || missing || effective.is_none(),
                "account {} ({effective:?}) holds {} with no pending revoke",
                g.account,
                g.key
            );
        }
    }
    let replayed = epms_engine::access::replay(feed);
    let current: std::collections::BTreeMap<GrantId, (AccountId, KeyRef, Option<i64>)> = state
        .grants
        .values()
        .map(|g| (g.id, (g.account, g.key.clone(), g.end)))
        .collect();
    prop_assert_eq!(
        replayed,
        current,
        "the feed replayed differs from the grants"
    );
    for e in feed {
        if let FeedAction::Revoked { .. } = e.action {
            prop_assert!(
                [
                    "pms-status",
                    "pms-unit-change",
                    "manager",
                    "missing-from-pms",
                    "account-deleted",
                    "move-out-date"
                ]
                .contains(&e.cause.as_str()),
                "revoke without an explicit cause: {e:?}"
            );
        }
    }
    // The one-pass views the people list uses agree with the per-account view.
    let views = epms_engine::access::access_views(state, state.accounts.keys().copied());
    prop_assert_eq!(views.len(), state.accounts.len());
    for (account, view) in &views {
        prop_assert_eq!(view, &epms_engine::access::access_view(state, *account));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::default())]

    /// Automated Access over any sequence of syncs, approvals, discards, manual status
    /// changes and Missing From PMS revokes, in either mode.
    #[test]
    fn access_invariants_hold_over_any_sequence(
        ops in prop::collection::vec(access_op(), 1..14),
        automatic in any::<bool>(),
        guard_min in 0..4usize,
    ) {
        let mut state = DoorState::default();
        for u in 0..4 {
            let id = door_unit(&mut state, &format!("D{u}"));
            state.mappings.insert(unit_key(&format!("U{u}")), id);
        }
        let mut settings = access(if automatic { AccessMode::Automatic } else { AccessMode::ApprovalRequired });
        settings.access.guard_min_residents = guard_min;
        let mut feed: Vec<FeedEvent> = Vec::new();
        for op in ops {
            match op {
                AccessOp::Sync(specs) => {
                    let snap = build(&specs);
                    let plan = sync(&mut state, &snap, &settings);
                    // A past resident keeps no automatic grant that is not awaiting a revoke.
                    for (_, raw) in plan.audit.iter().filter(|a| a.action == "grant.added").map(|a| (a.account, &a.rule)) {
                        // Only a current resident is granted: as current, or as one who moved.
                        prop_assert!(raw == "access.current" || raw == "access.unit-change", "{raw}");
                    }
                    feed.extend(plan.feed);
                    check_access(&state, &feed, true)?;
                    // The same sync again grants nothing twice, and settles.
                    let again = sync(&mut state, &snap, &settings);
                    prop_assert!(again.grants_added.is_empty(), "a repeated sync granted {:?}", again.grants_added);
                    feed.extend(again.feed);
                    for _ in 0..settings.access.missing_after_syncs {
                        feed.extend(sync(&mut state, &snap, &settings).feed);
                    }
                    prop_assert!(plan_sync(&snap, &state, &settings, NOW).plan.is_empty(), "does not settle");
                    check_access(&state, &feed, true)?;
                }
                AccessOp::Approve(n) => {
                    let ids: Vec<SuggestionId> = state.suggestions.keys().copied().take(n.min(50)).collect();
                    let plan = epms_engine::access::approve(&state, &ids, &manager(), NOW).unwrap();
                    state.apply(&plan).unwrap();
                    feed.extend(plan.feed);
                }
                AccessOp::Discard(i) => {
                    if let Some(id) = state.suggestions.keys().nth(i).copied() {
                        let plan = epms_engine::access::discard(&state, id, &manager(), NOW).unwrap();
                        state.apply(&plan).unwrap();
                    }
                }
                AccessOp::Manual { account, status } => {
                    if let Some(id) = state.accounts.keys().nth(account).copied() {
                        let status = [epms_model::DoorStatus::Future, epms_model::DoorStatus::Current, epms_model::DoorStatus::Past][status];
                        let plan = epms_engine::access::manual_status(&state, &settings.access, id, status, &manager(), NOW).unwrap();
                        state.apply(&plan).unwrap();
                        feed.extend(plan.feed);
                    }
                }
                AccessOp::RevokeMissing => {
                    if let Some(a) = state.alerts.values().find(|a| a.alert_type == AlertType::MissingFromPms).cloned() {
                        let plan = resolve(&state, a.id, &Resolution::RevokeAccess, &manager(), NOW).unwrap();
                        state.apply(&plan).unwrap();
                        feed.extend(plan.feed);
                    }
                }
            }
            check_invariants(&state)?;
            check_access(&state, &feed, false)?;
        }
    }
}
