//! One test per Automated Access and Safety rule of docs/rules.md, named after the rule.

mod common;

use common::*;
use epms_engine::access::{AccessError, approve, discard, manual_status, replay};
use epms_engine::resolve::{Resolution, delete_account, resolve};
use epms_engine::*;
use epms_model::{DoorStatus, LeaseStatus};

fn ann(status: LeaseStatus, unit: &str) -> PmsSnapshot {
    snapshot(vec![rec(
        "t1",
        "Ann",
        "Lee",
        Some("ann@x.com"),
        unit,
        status,
    )])
}

fn ann_id(state: &DoorState) -> AccountId {
    account_by_email(state, "ann@x.com").unwrap().id
}

#[test]
fn becoming_current_grants_the_unit_key_and_every_common_key_fifteen_minutes_later() {
    let mut state = DoorState::default();
    let u = mapped_unit(&mut state, "101");
    let plan = sync(
        &mut state,
        &ann(LeaseStatus::Current, "101"),
        &access(AccessMode::Automatic),
    );
    let id = ann_id(&state);
    let mut expected = commons();
    expected.push(KeyRef::Unit(u));
    expected.sort();
    assert_eq!(keys_of(&state, id), expected);
    assert!(
        state
            .grants
            .values()
            .all(|g| g.start == NOW + 15 * 60 && g.source == GrantSource::Automatic)
    );
    assert_eq!(plan.feed.len(), 3);
    assert!(plan.feed.iter().all(|e| e.cause == "pms-status"));
}

#[test]
fn the_grant_delay_is_configurable_per_property() {
    let mut state = DoorState::default();
    let mut settings = access(AccessMode::Automatic);
    settings.access.grant_delay_secs = 0;
    sync(&mut state, &ann(LeaseStatus::Current, "101"), &settings);
    assert!(state.grants.values().all(|g| g.start == NOW));
}

#[test]
fn becoming_future_gives_no_access() {
    let mut state = DoorState::default();
    mapped_unit(&mut state, "101");
    sync(
        &mut state,
        &ann(LeaseStatus::Future, "101"),
        &access(AccessMode::Automatic),
    );
    assert!(state.grants.is_empty());
    assert!(state.suggestions.is_empty());
}

#[test]
fn a_unit_change_revokes_the_old_unit_key_and_grants_the_new_one() {
    let mut state = DoorState::default();
    let a = mapped_unit(&mut state, "101");
    let b = mapped_unit(&mut state, "202");
    let settings = access(AccessMode::Automatic);
    sync(&mut state, &ann(LeaseStatus::Current, "101"), &settings);
    let plan = sync(&mut state, &ann(LeaseStatus::Current, "202"), &settings);
    let keys = keys_of(&state, ann_id(&state));
    assert!(keys.contains(&KeyRef::Unit(b)) && !keys.contains(&KeyRef::Unit(a)));
    assert_eq!(keys.len(), 3, "common keys kept, not re-granted");
    assert!(
        plan.feed
            .iter()
            .any(|e| e.cause == "pms-unit-change" && e.key == KeyRef::Unit(a))
    );
    // Regression: the new unit's key was granted as a plain "lease current"; it has the
    // unit-change cause, like the old one's revoke.
    assert!(
        plan.feed
            .iter()
            .any(|e| e.cause == "pms-unit-change" && e.key == KeyRef::Unit(b)),
        "{:?}",
        plan.feed
    );
    assert!(
        plan.audit
            .iter()
            .any(|e| e.rule == "access.unit-change" && e.detail.contains("is theirs now"))
    );
}

#[test]
fn becoming_past_revokes_all_keys_manual_included_at_once() {
    let mut state = DoorState::default();
    mapped_unit(&mut state, "101");
    let settings = access(AccessMode::Automatic);
    sync(&mut state, &ann(LeaseStatus::Current, "101"), &settings);
    let id = ann_id(&state);
    // A manager also gave a key by hand (e.g. a storage room).
    state.grants.insert(
        99,
        Grant {
            id: 99,
            account: id,
            key: KeyRef::Common("Storage".into()),
            start: NOW,
            end: None,
            source: GrantSource::Manual,
            cause: None,
        },
    );
    state.next_grant_id = 100;
    let plan = sync(&mut state, &ann(LeaseStatus::Past, "101"), &settings);
    assert!(keys_of(&state, id).is_empty());
    assert_eq!(plan.feed.len(), 4);
    assert!(
        plan.feed
            .iter()
            .all(|e| e.action == FeedAction::Revoked { effective: NOW })
    );
}

#[test]
fn approval_required_is_the_default_and_turns_every_change_into_a_suggestion() {
    assert_eq!(AccessSettings::default().mode, AccessMode::ApprovalRequired);
    let mut state = DoorState::default();
    mapped_unit(&mut state, "101");
    let settings = access(AccessMode::ApprovalRequired);
    let plan = sync(&mut state, &ann(LeaseStatus::Current, "101"), &settings);
    assert!(state.grants.is_empty() && plan.feed.is_empty());
    assert_eq!(state.suggestions.len(), 3);
    assert!(
        state
            .suggestions
            .values()
            .all(|s| s.kind == SuggestionKind::Grant)
    );
    assert_eq!(state.badge(), 3, "the badge counts pending suggestions");
    // The same sync again suggests nothing new.
    assert!(sync(&mut state, &ann(LeaseStatus::Current, "101"), &settings).is_empty());
}

#[test]
fn approving_applies_suggestions_and_more_than_fifty_is_an_error_not_a_truncation() {
    let mut state = DoorState::default();
    mapped_unit(&mut state, "101");
    let settings = access(AccessMode::ApprovalRequired);
    sync(&mut state, &ann(LeaseStatus::Current, "101"), &settings);
    let ids: Vec<SuggestionId> = state.suggestions.keys().copied().collect();
    let too_many: Vec<SuggestionId> = (0..51).collect();
    assert_eq!(
        approve(&state, &too_many, &manager(), NOW).unwrap_err(),
        AccessError::TooMany { given: 51, max: 50 }
    );
    let plan = approve(&state, &ids, &manager(), NOW + 60).unwrap();
    state.apply(&plan).unwrap();
    assert_eq!(state.grants.len(), 3);
    assert!(state.suggestions.is_empty());
    assert_eq!(plan.feed.len(), 3);
    assert!(plan.audit.iter().all(|a| a.actor == manager()));
    assert!(
        sync(&mut state, &ann(LeaseStatus::Current, "101"), &settings).is_empty(),
        "nothing left to suggest"
    );
}

#[test]
fn approving_a_grant_after_its_start_time_starts_it_at_approval() {
    let mut state = DoorState::default();
    mapped_unit(&mut state, "101");
    sync(
        &mut state,
        &ann(LeaseStatus::Current, "101"),
        &access(AccessMode::ApprovalRequired),
    );
    let ids: Vec<SuggestionId> = state.suggestions.keys().copied().collect();
    let early = approve(&state, &ids[..1], &manager(), NOW + 60).unwrap();
    assert_eq!(
        early.grants_added[0].start,
        NOW + 15 * 60,
        "before its start: the suggested start"
    );
    let late = approve(&state, &ids[..1], &manager(), NOW + 3600).unwrap();
    assert_eq!(
        late.grants_added[0].start,
        NOW + 3600,
        "after its start: starts at approval"
    );
}

#[test]
fn discarding_removes_one_suggestion() {
    let mut state = DoorState::default();
    mapped_unit(&mut state, "101");
    sync(
        &mut state,
        &ann(LeaseStatus::Current, "101"),
        &access(AccessMode::ApprovalRequired),
    );
    let id = *state.suggestions.keys().next().unwrap();
    state
        .apply(&discard(&state, id, &manager(), NOW).unwrap())
        .unwrap();
    assert_eq!(state.suggestions.len(), 2);
    assert_eq!(
        discard(&state, id, &manager(), NOW).unwrap_err(),
        AccessError::NoSuchSuggestion(id)
    );
}

#[test]
fn a_later_sync_supersedes_a_stale_suggestion() {
    let mut state = DoorState::default();
    mapped_unit(&mut state, "101");
    let settings = access(AccessMode::ApprovalRequired);
    let first = sync(&mut state, &ann(LeaseStatus::Current, "101"), &settings);
    let stale: Vec<SuggestionId> = state.suggestions.keys().copied().collect();
    // Each suggestion a sync makes is in the audit trail, applied or not.
    let created: Vec<&AuditEntry> = first
        .audit
        .iter()
        .filter(|e| e.action == "suggestion.created")
        .collect();
    assert_eq!(created.len(), stale.len());
    for (e, id) in created.iter().zip(&stale) {
        assert_eq!(e.actor, Actor::Sync);
        assert!(
            e.detail.starts_with(&format!("suggestion {id}: ")),
            "{}",
            e.detail
        );
    }
    // Before anyone approved, the lease was cancelled back to future.
    let plan = sync(&mut state, &ann(LeaseStatus::Future, "101"), &settings);
    assert_eq!(plan.suggestions_closed.len(), 3);
    assert!(
        plan.suggestions_closed
            .iter()
            .all(|(_, why)| why.contains("superseded"))
    );
    let superseded = plan
        .audit
        .iter()
        .filter(|e| e.action == "suggestion.superseded")
        .count();
    assert_eq!(superseded, 3, "each supersession is audited");
    assert!(
        approve(&state, &stale, &manager(), NOW).is_err(),
        "a stale suggestion cannot be approved"
    );
}

#[test]
fn a_status_change_without_key_effect_is_a_grey_suggestion() {
    let mut state = DoorState::default();
    let settings = access(AccessMode::ApprovalRequired);
    sync(&mut state, &ann(LeaseStatus::Future, "101"), &settings);
    sync(&mut state, &ann(LeaseStatus::Past, "101"), &settings);
    let kinds: Vec<SuggestionKind> = state.suggestions.values().map(|s| s.kind).collect();
    assert_eq!(kinds, vec![SuggestionKind::NoChange]);
    assert!(
        sync(&mut state, &ann(LeaseStatus::Past, "101"), &settings).is_empty(),
        "it stays until handled"
    );
}

#[test]
fn automatic_mode_applies_during_the_sync_and_records_the_same_way() {
    let mut state = DoorState::default();
    mapped_unit(&mut state, "101");
    let plan = sync(
        &mut state,
        &ann(LeaseStatus::Current, "101"),
        &access(AccessMode::Automatic),
    );
    assert!(state.suggestions.is_empty());
    let granted = plan
        .audit
        .iter()
        .filter(|a| a.action == "grant.added")
        .count();
    assert_eq!(granted, 3);
    assert!(
        plan.audit
            .iter()
            .filter(|a| a.action == "grant.added")
            .all(|a| a.actor == Actor::Sync
                && a.rule == "access.current"
                && a.detail.contains("Current"))
    );
}

#[test]
fn manual_future_to_current_grants_keys_by_the_pms_unit_at_once() {
    let mut state = DoorState::default();
    let u = mapped_unit(&mut state, "101");
    let settings = access(AccessMode::ApprovalRequired);
    sync(&mut state, &ann(LeaseStatus::Future, "101"), &settings);
    let id = ann_id(&state);
    let plan = manual_status(
        &state,
        &settings.access,
        id,
        DoorStatus::Current,
        &manager(),
        NOW + 10,
    )
    .unwrap();
    state.apply(&plan).unwrap();
    assert!(keys_of(&state, id).contains(&KeyRef::Unit(u)));
    assert!(
        state
            .grants
            .values()
            .all(|g| g.start == NOW + 10 && g.source == GrantSource::Manual)
    );
    assert_eq!(state.accounts[&id].status, Some(DoorStatus::Current));
    // It sticks while the PMS still says future…
    assert!(sync(&mut state, &ann(LeaseStatus::Future, "101"), &settings).is_empty());
    assert_eq!(state.grants.len(), 3);
    // …until the PMS status itself changes.
    sync(&mut state, &ann(LeaseStatus::Past, "101"), &settings);
    assert_eq!(
        state
            .suggestions
            .values()
            .filter(|s| s.kind == SuggestionKind::Revoke)
            .count(),
        3
    );
}

#[test]
fn manual_current_to_past_or_future_revokes_all_keys_manual_and_automatic() {
    for to in [DoorStatus::Past, DoorStatus::Future] {
        let mut state = DoorState::default();
        mapped_unit(&mut state, "101");
        let settings = access(AccessMode::Automatic);
        sync(&mut state, &ann(LeaseStatus::Current, "101"), &settings);
        let id = ann_id(&state);
        state.grants.insert(
            50,
            Grant {
                id: 50,
                account: id,
                key: KeyRef::Common("Gym".into()),
                start: NOW,
                end: None,
                source: GrantSource::Manual,
                cause: None,
            },
        );
        state.next_grant_id = 51;
        let plan = manual_status(&state, &settings.access, id, to, &manager(), NOW).unwrap();
        state.apply(&plan).unwrap();
        assert!(keys_of(&state, id).is_empty(), "{to:?}");
        assert!(plan.feed.iter().all(|e| e.cause == "manager"));
        // The PMS still says current: the override stands, nothing is re-granted.
        assert!(
            sync(&mut state, &ann(LeaseStatus::Current, "101"), &settings).is_empty(),
            "{to:?}"
        );
    }
}

#[test]
fn a_resident_who_disappears_is_never_revoked_automatically_and_raises_missing_from_pms_after_two_syncs()
 {
    let mut state = DoorState::default();
    mapped_unit(&mut state, "101");
    let settings = access(AccessMode::Automatic);
    sync(
        &mut state,
        &snapshot(vec![
            rec(
                "t1",
                "Ann",
                "Lee",
                Some("ann@x.com"),
                "101",
                LeaseStatus::Current,
            ),
            rec(
                "t2",
                "Bo",
                "Ng",
                Some("bo@x.com"),
                "102",
                LeaseStatus::Current,
            ),
        ]),
        &settings,
    );
    let id = ann_id(&state);
    let only_bo = snapshot(vec![rec(
        "t2",
        "Bo",
        "Ng",
        Some("bo@x.com"),
        "102",
        LeaseStatus::Current,
    )]);
    sync(&mut state, &only_bo, &settings);
    assert!(
        state
            .alerts
            .values()
            .all(|a| a.alert_type != AlertType::MissingFromPms),
        "one sync is not enough"
    );
    sync(&mut state, &only_bo, &settings);
    let alert = state
        .alerts
        .values()
        .find(|a| a.alert_type == AlertType::MissingFromPms)
        .unwrap()
        .clone();
    assert_eq!(alert.accounts, vec![id]);
    assert_eq!(keys_of(&state, id).len(), 3, "still no automatic revoke");
    assert!(sync(&mut state, &only_bo, &settings).is_empty(), "settled");
    let plan = resolve(&state, alert.id, &Resolution::RevokeAccess, &manager(), NOW).unwrap();
    state.apply(&plan).unwrap();
    assert!(keys_of(&state, id).is_empty());
    assert!(plan.feed.iter().all(|e| e.cause == "missing-from-pms"));
}

#[test]
fn the_mass_revocation_guard_holds_every_revoke_even_in_automatic_mode() {
    let mut state = DoorState::default();
    let settings = access(AccessMode::Automatic);
    let people = |status: LeaseStatus| {
        snapshot(
            (0..10)
                .map(|i| {
                    rec(
                        &format!("t{i}"),
                        "P",
                        &format!("N{i}"),
                        Some(&format!("p{i}@x.com")),
                        "101",
                        status,
                    )
                })
                .collect(),
        )
    };
    sync(&mut state, &people(LeaseStatus::Current), &settings);
    assert_eq!(state.grants.len(), 20);
    // All ten turn past at once: more than max(5, 20 % of 10).
    let plan = sync(&mut state, &people(LeaseStatus::Past), &settings);
    assert!(plan.feed.is_empty(), "nothing revoked");
    let held_in_audit = plan
        .audit
        .iter()
        .filter(|e| {
            e.action == "suggestion.created"
                && e.detail.contains("held by the mass-revocation guard")
        })
        .count();
    assert_eq!(
        held_in_audit, 20,
        "each held revoke says so in the audit trail"
    );
    assert_eq!(state.grants.len(), 20);
    assert_eq!(
        state
            .suggestions
            .values()
            .filter(|s| s.kind == SuggestionKind::Revoke)
            .count(),
        20
    );
    let held = state
        .alerts
        .values()
        .find(|a| a.alert_type == AlertType::SyncHeld)
        .unwrap();
    assert_eq!(held.accounts.len(), 10);
    // A manager approves; the held revokes apply.
    let ids: Vec<SuggestionId> = state.suggestions.keys().copied().collect();
    state
        .apply(&approve(&state, &ids, &manager(), NOW).unwrap())
        .unwrap();
    assert!(state.grants.is_empty());
    sync(&mut state, &people(LeaseStatus::Past), &settings);
    assert!(
        state
            .alerts
            .values()
            .all(|a| a.alert_type != AlertType::SyncHeld),
        "cleared once nothing is held"
    );
}

#[test]
fn the_guard_thresholds_are_configurable_and_a_small_move_out_passes() {
    let mut state = DoorState::default();
    let mut settings = access(AccessMode::Automatic);
    let people = |past: usize| {
        snapshot(
            (0..10)
                .map(|i| {
                    let status = if i < past {
                        LeaseStatus::Past
                    } else {
                        LeaseStatus::Current
                    };
                    rec(
                        &format!("t{i}"),
                        "P",
                        &format!("N{i}"),
                        Some(&format!("p{i}@x.com")),
                        "101",
                        status,
                    )
                })
                .collect(),
        )
    };
    sync(&mut state, &people(0), &settings);
    sync(&mut state, &people(5), &settings);
    assert_eq!(state.grants.len(), 10, "5 move-outs ≤ max(5, 2): applied");
    settings.access.guard_min_residents = 1;
    settings.access.guard_percent = 10;
    sync(&mut state, &people(8), &settings);
    assert_eq!(state.grants.len(), 10, "3 more > max(1, 10 % of 5): held");
    assert!(
        state
            .alerts
            .values()
            .any(|a| a.alert_type == AlertType::SyncHeld)
    );
}

#[test]
fn every_applied_grant_and_revoke_is_in_the_feed_which_replays_to_the_current_grants() {
    let mut state = DoorState::default();
    mapped_unit(&mut state, "101");
    mapped_unit(&mut state, "202");
    let settings = access(AccessMode::Automatic);
    let mut feed = Vec::new();
    for (status, unit) in [
        (LeaseStatus::Current, "101"),
        (LeaseStatus::Current, "202"),
        (LeaseStatus::Past, "202"),
        (LeaseStatus::Current, "202"),
    ] {
        feed.extend(sync(&mut state, &ann(status, unit), &settings).feed);
    }
    let replayed = replay(&feed);
    let current: std::collections::BTreeMap<GrantId, (AccountId, KeyRef)> = state
        .grants
        .values()
        .map(|g| (g.id, (g.account, g.key.clone())))
        .collect();
    assert_eq!(replayed, current);
}

#[test]
fn deleting_an_account_revokes_its_keys() {
    let mut state = DoorState::default();
    mapped_unit(&mut state, "101");
    sync(
        &mut state,
        &ann(LeaseStatus::Current, "101"),
        &access(AccessMode::Automatic),
    );
    let id = ann_id(&state);
    let plan = delete_account(&state, id, &manager(), NOW).unwrap();
    state.apply(&plan).unwrap();
    assert!(state.grants.is_empty() && state.memos.is_empty());
    assert_eq!(plan.feed.len(), 3);
    assert!(plan.feed.iter().all(|e| e.cause == "account-deleted"));
}

#[test]
fn turning_the_integration_off_keeps_all_accounts_and_grants() {
    let mut state = DoorState::default();
    mapped_unit(&mut state, "101");
    sync(
        &mut state,
        &ann(LeaseStatus::Current, "101"),
        &access(AccessMode::Automatic),
    );
    let off = Settings {
        user_sync: false,
        ..access(AccessMode::Automatic)
    };
    assert!(sync(&mut state, &ann(LeaseStatus::Past, "101"), &off).is_empty());
    assert_eq!(state.grants.len(), 3);
    assert_eq!(state.accounts.len(), 1);
}

/// Regression (found by `access_invariants_hold_over_any_sequence`): a manager
/// discarded a revoke for a resident whose lease had turned future; the resident's
/// record then stopped syncing (an applicant status), so no sync looked at them again
/// and they kept their keys silently. Access now follows the last known status of a
/// resident still in the feed, so the revoke is suggested again.
#[test]
fn a_discarded_revoke_comes_back_when_the_record_is_no_longer_synced() {
    let mut state = DoorState::default();
    mapped_unit(&mut state, "101");
    let settings = access(AccessMode::ApprovalRequired);
    sync(&mut state, &ann(LeaseStatus::Current, "101"), &settings);
    let ids: Vec<SuggestionId> = state.suggestions.keys().copied().collect();
    state
        .apply(&approve(&state, &ids, &manager(), NOW).unwrap())
        .unwrap();
    sync(&mut state, &ann(LeaseStatus::Future, "101"), &settings);
    let revoke = *state.suggestions.keys().next().unwrap();
    state
        .apply(&discard(&state, revoke, &manager(), NOW).unwrap())
        .unwrap();
    assert_eq!(state.suggestions.len(), 2);
    sync(&mut state, &ann(LeaseStatus::Applicant, "101"), &settings);
    assert_eq!(
        state
            .suggestions
            .values()
            .filter(|s| s.kind == SuggestionKind::Revoke)
            .count(),
        3
    );
}
