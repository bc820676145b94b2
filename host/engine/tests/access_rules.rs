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
    let current: std::collections::BTreeMap<GrantId, (AccountId, KeyRef, Option<i64>)> = state
        .grants
        .values()
        .map(|g| (g.id, (g.account, g.key.clone(), g.end)))
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

/// Ann on notice, moving out on `move_out`.
fn ann_on_notice(move_out: Option<&str>) -> PmsSnapshot {
    let mut r = rec(
        "t1",
        "Ann",
        "Lee",
        Some("ann@x.com"),
        "101",
        LeaseStatus::Notice,
    );
    r.lease.move_out_date = move_out.map(str::to_owned);
    snapshot(vec![r])
}

fn sync_at(state: &mut DoorState, snap: &PmsSnapshot, settings: &Settings, now: i64) -> Plan {
    let out = plan_sync(snap, state, settings, now);
    state.apply(&out.plan).unwrap();
    out.plan
}

/// NOW is 2027-01-15 08:00 UTC.
const JAN_31_END: i64 = 1_801_526_340; // 2027-02-01 23:59 UTC: Jan 31 + one day's grace

#[test]
fn a_notice_residents_keys_end_after_the_move_out_date_and_follow_it() {
    let mut state = DoorState::default();
    mapped_unit(&mut state, "101");
    let settings = access(AccessMode::Automatic);
    let plan = sync(&mut state, &ann_on_notice(Some("2027-01-31")), &settings);
    let id = ann_id(&state);
    assert_eq!(keys_of(&state, id).len(), 3);
    assert!(state.grants.values().all(|g| g.end == Some(JAN_31_END)));
    assert!(plan.feed.iter().all(|e| e.action
        == FeedAction::Granted {
            start: NOW + 900,
            end: Some(JAN_31_END)
        }));
    // The PMS moves the date: the same grants end later, said in the feed.
    let ids: Vec<GrantId> = state.grants.keys().copied().collect();
    let plan = sync(&mut state, &ann_on_notice(Some("2027-02-10")), &settings);
    let feb_11_end = JAN_31_END + 10 * 86_400;
    assert_eq!(state.grants.keys().copied().collect::<Vec<_>>(), ids);
    assert!(state.grants.values().all(|g| g.end == Some(feb_11_end)));
    assert_eq!(plan.feed.len(), 3);
    assert!(plan.feed.iter().all(|e| e.cause == "move-out-date"
        && e.action
            == FeedAction::Updated {
                start: NOW + 900,
                end: Some(feb_11_end)
            }));
    // The notice is withdrawn: no end.
    sync(&mut state, &ann(LeaseStatus::Current, "101"), &settings);
    assert!(state.grants.values().all(|g| g.end.is_none()));
    assert_eq!(state.grants.keys().copied().collect::<Vec<_>>(), ids);
    // Notice again; then the date passes with the PMS not updated: the keys go.
    sync(&mut state, &ann_on_notice(Some("2027-01-31")), &settings);
    let plan = sync_at(
        &mut state,
        &ann_on_notice(Some("2027-01-31")),
        &settings,
        JAN_31_END + 60,
    );
    assert!(keys_of(&state, id).is_empty());
    assert_eq!(plan.grants_removed.len(), 3);
    assert!(
        plan.feed
            .iter()
            .all(|e| e.cause == "move-out-date" && matches!(e.action, FeedAction::Revoked { .. }))
    );
}

#[test]
fn the_grace_cutoff_and_offset_are_the_propertys_and_ends_can_be_turned_off() {
    let mut state = DoorState::default();
    mapped_unit(&mut state, "101");
    let mut settings = access(AccessMode::Automatic);
    settings.access.move_out.grace_days = 0;
    settings.access.move_out.cutoff_minute = 12 * 60;
    settings.access.move_out.utc_offset_minutes = -300; // UTC-5
    sync(&mut state, &ann_on_notice(Some("2027-01-31")), &settings);
    // Noon in UTC-5 on Jan 31 is 17:00 UTC.
    let noon = JAN_31_END - 86_400 - (23 * 3600 + 59 * 60) + 17 * 3600;
    assert!(state.grants.values().all(|g| g.end == Some(noon)));
    settings.access.move_out.enabled = false;
    sync(&mut state, &ann_on_notice(Some("2027-01-31")), &settings);
    assert!(state.grants.values().all(|g| g.end.is_none()));
}

#[test]
fn in_approval_mode_the_grant_carries_its_end_and_an_ended_one_is_a_revoke_to_approve() {
    let mut state = DoorState::default();
    mapped_unit(&mut state, "101");
    let settings = access(AccessMode::ApprovalRequired);
    sync(&mut state, &ann_on_notice(Some("2027-01-31")), &settings);
    assert!(
        state
            .suggestions
            .values()
            .all(|s| s.kind == SuggestionKind::Grant && s.end == Some(JAN_31_END))
    );
    // Approved after the end passed: nothing is granted.
    let ids: Vec<SuggestionId> = state.suggestions.keys().copied().collect();
    let late = approve(&state, &ids, &manager(), JAN_31_END + 1).unwrap();
    assert!(late.grants_added.is_empty());
    // Approved in time: the keys carry the end; once it passes, revokes wait.
    state
        .apply(&approve(&state, &ids, &manager(), NOW).unwrap())
        .unwrap();
    assert!(state.grants.values().all(|g| g.end == Some(JAN_31_END)));
    let approver = state.grants.values().next().unwrap().cause.clone().unwrap();
    assert_eq!(approver.by, manager());
    assert!(approver.reason.contains("approved by pat"), "{approver:?}");
    sync_at(
        &mut state,
        &ann_on_notice(Some("2027-01-31")),
        &settings,
        JAN_31_END + 60,
    );
    assert_eq!(state.grants.len(), 3, "kept until a manager approves");
    let revokes: Vec<&Suggestion> = state.suggestions.values().collect();
    assert_eq!(revokes.len(), 3);
    assert!(
        revokes
            .iter()
            .all(|s| s.kind == SuggestionKind::Revoke && s.rule == "access.move-out")
    );
    // A new notice resident whose move-out already passed is given nothing.
    let mut fresh = DoorState::default();
    mapped_unit(&mut fresh, "101");
    sync(&mut fresh, &ann_on_notice(Some("2026-12-01")), &settings);
    assert!(fresh.suggestions.is_empty() && fresh.grants.is_empty());
}

#[test]
fn why_access_says_each_key_with_its_cause_what_waits_and_what_the_pms_said() {
    let mut state = DoorState::default();
    mapped_unit(&mut state, "101");
    let settings = access(AccessMode::ApprovalRequired);
    let out = plan_sync(&ann_on_notice(Some("2027-01-31")), &state, &settings, NOW);
    state.apply(&out.plan).unwrap();
    let id = ann_id(&state);
    let why =
        epms_engine::why::explain_access(&state, &settings, id, &out.dispositions, NOW).unwrap();
    assert!(why.keys.is_empty());
    assert_eq!(why.pending.len(), 3);
    assert_eq!(why.records.len(), 1);
    let text = why.summary.join("\n");
    assert!(
        text.contains("The PMS says current (lease status Notice)"),
        "{text}"
    );
    assert!(text.contains("No keys: none has been given yet"), "{text}");
    assert!(text.contains("Waiting for a manager's approval"), "{text}");
    let ids: Vec<SuggestionId> = state.suggestions.keys().copied().collect();
    state
        .apply(&approve(&state, &ids, &manager(), NOW).unwrap())
        .unwrap();
    let why =
        epms_engine::why::explain_access(&state, &settings, id, &out.dispositions, NOW).unwrap();
    let text = why.summary.join("\n");
    assert_eq!(why.keys.len(), 3);
    assert!(
        text.contains(
            "Has the key of unit Unit 101 from 2027-01-15 08:15 UTC, until 2027-02-01 23:59 UTC"
        ),
        "{text}"
    );
    assert!(text.contains("approved by pat"), "{text}");
    assert!(text.contains("(by pat, 2027-01-15 08:00 UTC)"), "{text}");
    assert!(epms_engine::why::explain_access(&state, &settings, 999, &[], NOW).is_none());
}
