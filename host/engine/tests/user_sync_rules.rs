//! One test per User Sync and Unit Sync rule of docs/rules.md, named after the rule.

mod common;

use common::*;
use epms_engine::resolve::{Resolution, ResolveError, delete_account, resolve, resolve_many};
use epms_engine::units_csv::{
    NewDoorUnit, UnitError, parse_csv, plan_create_units, plan_map_unit, plan_map_units,
    plan_unmap_unit,
};
use epms_engine::*;
use epms_model::{DoorStatus, HouseholdRole, LeaseStatus};

#[test]
fn excluded_raw_lease_statuses_are_never_pulled() {
    let mut state = DoorState::default();
    let mut settings = Settings::default();
    settings.excluded_statuses.insert("Notice".into());
    let snap = snapshot(vec![
        rec(
            "t1",
            "Ann",
            "Lee",
            Some("ann@x.com"),
            "101",
            LeaseStatus::Notice,
        ),
        current("t2", "Bo", "Kim", "bo@x.com", "102"),
    ]);
    sync(&mut state, &snap, &settings);
    assert!(account_by_email(&state, "ann@x.com").is_none());
    assert!(account_by_email(&state, "bo@x.com").is_some());
    assert!(
        state.alerts.is_empty(),
        "excluded residents raise nothing either"
    );
}

#[test]
fn applicant_cancelled_and_denied_are_never_synced() {
    let mut state = DoorState::default();
    let snap = snapshot(vec![
        rec(
            "t1",
            "A",
            "One",
            Some("a1@x.com"),
            "1",
            LeaseStatus::Applicant,
        ),
        rec(
            "t2",
            "A",
            "Two",
            Some("a2@x.com"),
            "2",
            LeaseStatus::Cancelled,
        ),
        rec(
            "t3",
            "A",
            "Three",
            Some("a3@x.com"),
            "3",
            LeaseStatus::Denied,
        ),
        rec("t4", "A", "Four", Some("a4@x.com"), "4", LeaseStatus::Other),
        rec(
            "t5",
            "A",
            "Five",
            Some("a5@x.com"),
            "5",
            LeaseStatus::Future,
        ),
    ]);
    sync_default(&mut state, &snap);
    assert_eq!(state.accounts.len(), 1);
    assert_eq!(
        account_by_email(&state, "a5@x.com").unwrap().status,
        Some(DoorStatus::Future)
    );
}

#[test]
fn effective_lease_prefers_current_then_future_then_past_later_start_first() {
    let mut state = DoorState::default();
    // One person, three leases (a transfer): past in 101, current in 202, future in 303.
    let mut past = rec(
        "t1",
        "Ann",
        "Lee",
        Some("ann@x.com"),
        "101",
        LeaseStatus::Past,
    );
    past.lease.start_date = Some("2023-01-01".into());
    let cur = rec(
        "t2",
        "Ann",
        "Lee",
        Some("ann@x.com"),
        "202",
        LeaseStatus::Current,
    );
    let mut fut = rec(
        "t3",
        "Ann",
        "Lee",
        Some("ann@x.com"),
        "303",
        LeaseStatus::Future,
    );
    fut.lease.start_date = Some("2026-01-01".into());
    sync_default(&mut state, &snapshot(vec![past, cur, fut]));
    let ann = account_by_email(&state, "ann@x.com").unwrap();
    assert_eq!(ann.status, Some(DoorStatus::Current));
    assert_eq!(ann.pms_unit, Some(unit_key("202")));

    // Two past leases: the later start wins.
    let mut state = DoorState::default();
    let mut old = rec(
        "t1",
        "Bo",
        "Kim",
        Some("bo@x.com"),
        "101",
        LeaseStatus::Past,
    );
    old.lease.start_date = Some("2020-01-01".into());
    let mut newer = rec(
        "t2",
        "Bo",
        "Kim",
        Some("bo@x.com"),
        "102",
        LeaseStatus::Past,
    );
    newer.lease.start_date = Some("2022-01-01".into());
    sync_default(&mut state, &snapshot(vec![old, newer]));
    assert_eq!(
        account_by_email(&state, "bo@x.com").unwrap().pms_unit,
        Some(unit_key("102"))
    );
}

#[test]
fn guarantors_do_not_become_accounts() {
    let mut state = DoorState::default();
    let mut g = current("g1", "Gus", "Guarantor", "gus@x.com", "101");
    g.resident.role = HouseholdRole::Guarantor;
    let out = plan_sync(
        &snapshot(vec![g, current("t1", "Ann", "Lee", "ann@x.com", "101")]),
        &state,
        &Settings::default(),
        NOW,
    );
    assert_eq!(out.counts.guarantors, 1);
    state.apply(&out.plan).unwrap();
    assert_eq!(state.accounts.len(), 1);
    assert!(account_by_email(&state, "gus@x.com").is_none());
}

#[test]
fn duplicate_emails_are_not_synced_and_listed_in_one_alert_per_email() {
    let mut state = DoorState::default();
    let snap = snapshot(vec![
        current("t1", "Ann", "Lee", "family@x.com", "101"),
        current("t2", "Bo", "Lee", " FAMILY@x.com ", "101"),
        current("t3", "Cy", "Lee", "family@x.com", "101"),
        current("t4", "Di", "Ng", "di@x.com", "102"),
    ]);
    sync_default(&mut state, &snap);
    assert_eq!(state.accounts.len(), 1, "only Di syncs");
    let alerts = alerts_of(&state, AlertType::DuplicateEmails);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].email.as_deref(), Some("family@x.com"));
    assert_eq!(alerts[0].people.len(), 3);
}

#[test]
fn same_email_and_same_name_is_one_person_a_transfer() {
    let mut state = DoorState::default();
    let snap = snapshot(vec![
        rec(
            "t1",
            "Ann",
            "Lee",
            Some("ann@x.com"),
            "101",
            LeaseStatus::Past,
        ),
        rec(
            "t2",
            "ANN",
            "lee",
            Some("Ann@X.com"),
            "202",
            LeaseStatus::Current,
        ),
    ]);
    sync_default(&mut state, &snap);
    assert_eq!(state.accounts.len(), 1);
    assert!(state.alerts.is_empty());
    let ann = account_by_email(&state, "ann@x.com").unwrap();
    assert_eq!(state.links.get(&key("t1")), Some(&ann.id));
    assert_eq!(state.links.get(&key("t2")), Some(&ann.id));
}

#[test]
fn duplicate_emails_alert_clears_itself_when_the_pms_fixes_it() {
    let mut state = DoorState::default();
    sync_default(
        &mut state,
        &snapshot(vec![
            current("t1", "Ann", "Lee", "family@x.com", "101"),
            current("t2", "Bo", "Lee", "family@x.com", "101"),
        ]),
    );
    assert_eq!(alerts_of(&state, AlertType::DuplicateEmails).len(), 1);
    sync_default(
        &mut state,
        &snapshot(vec![
            current("t1", "Ann", "Lee", "ann@x.com", "101"),
            current("t2", "Bo", "Lee", "bo@x.com", "101"),
        ]),
    );
    assert!(state.alerts.is_empty());
    assert_eq!(state.accounts.len(), 2, "both imported on the next sync");
}

#[test]
fn missing_or_invalid_email_raises_missing_email() {
    let mut state = DoorState::default();
    sync_default(
        &mut state,
        &snapshot(vec![
            rec("t1", "No", "Mail", None, "101", LeaseStatus::Current),
            rec(
                "t2",
                "Bad",
                "Mail",
                Some("bad@"),
                "102",
                LeaseStatus::Current,
            ),
        ]),
    );
    assert!(state.accounts.is_empty());
    assert_eq!(alerts_of(&state, AlertType::MissingEmail).len(), 2);
}

#[test]
fn linked_name_mismatch_does_not_overwrite_but_status_and_unit_flow() {
    let mut state = DoorState::default();
    let u = door_unit(&mut state, "12B");
    state.mappings.insert(unit_key("202"), u);
    sync_default(
        &mut state,
        &snapshot(vec![current("t1", "Ann", "Lee", "ann@x.com", "101")]),
    );
    // The PMS renames her and moves her to notice in another unit.
    let mut moved = rec(
        "t1",
        "Anna",
        "Lee-Park",
        Some("ann@x.com"),
        "202",
        LeaseStatus::Notice,
    );
    moved.lease.id = "L-t1".into();
    sync_default(&mut state, &snapshot(vec![moved]));
    let ann = account_by_email(&state, "ann@x.com").unwrap();
    assert_eq!(
        (ann.first_name.as_str(), ann.last_name.as_str()),
        ("Ann", "Lee"),
        "name not overwritten"
    );
    assert_eq!(
        ann.status,
        Some(DoorStatus::Current),
        "notice is a current resident"
    );
    assert_eq!(ann.door_unit, Some(u), "unit still flows");
    assert_eq!(alerts_of(&state, AlertType::NameMismatch).len(), 1);
}

#[test]
fn linked_email_mismatch_does_not_overwrite() {
    let mut state = DoorState::default();
    sync_default(
        &mut state,
        &snapshot(vec![current("t1", "Ann", "Lee", "ann@x.com", "101")]),
    );
    sync_default(
        &mut state,
        &snapshot(vec![rec(
            "t1",
            "Ann",
            "Lee",
            Some("ann.new@x.com"),
            "101",
            LeaseStatus::Past,
        )]),
    );
    let ann = state.accounts.values().next().unwrap();
    assert_eq!(ann.email.as_deref(), Some("ann@x.com"));
    assert_eq!(
        ann.status,
        Some(DoorStatus::Past),
        "a move-out never waits on the email"
    );
    assert_eq!(alerts_of(&state, AlertType::EmailMismatch).len(), 1);
}

#[test]
fn unlinked_without_candidates_creates_and_links() {
    let mut state = DoorState::default();
    let plan = sync_default(
        &mut state,
        &snapshot(vec![current("t1", "Ann", "Lee", " Ann@X.com ", "101")]),
    );
    assert_eq!(plan.accounts_created.len(), 1);
    let ann = &plan.accounts_created[0];
    assert_eq!(
        ann.email.as_deref(),
        Some("Ann@X.com"),
        "kept as the PMS has it, trimmed"
    );
    assert_eq!(ann.source, AccountSource::Pms);
    assert_eq!(state.links.get(&key("t1")), Some(&ann.id));
    assert!(
        plan.audit
            .iter()
            .any(|a| a.action == "account.created" && a.rule == "user-sync.unlinked.create")
    );
}

#[test]
fn unlinked_exact_match_is_linked_automatically() {
    let mut state = DoorState::default();
    let id = manual_account(&mut state, "Ann", "Lee", Some("ann@x.com"), None);
    sync_default(
        &mut state,
        &snapshot(vec![current("t1", "ANN", "LEE", "ann@x.com", "101")]),
    );
    assert_eq!(state.accounts.len(), 1);
    assert_eq!(state.links.get(&key("t1")), Some(&id));
    assert_eq!(state.accounts[&id].status, Some(DoorStatus::Current));
    assert!(state.alerts.is_empty());
}

#[test]
fn auto_link_exact_matches_off_raises_duplicate_account_for_review() {
    let mut state = DoorState::default();
    let id = manual_account(&mut state, "Ann", "Lee", Some("ann@x.com"), None);
    let settings = Settings {
        auto_link_exact_matches: false,
        ..Settings::default()
    };
    sync(
        &mut state,
        &snapshot(vec![current("t1", "Ann", "Lee", "ann@x.com", "101")]),
        &settings,
    );
    assert!(state.links.is_empty());
    let alerts = alerts_of(&state, AlertType::DuplicateAccount);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].accounts, vec![id]);
}

#[test]
fn unlinked_same_email_other_name_raises_name_mismatch() {
    let mut state = DoorState::default();
    let id = manual_account(&mut state, "Annie", "Lee", Some("ann@x.com"), None);
    sync_default(
        &mut state,
        &snapshot(vec![current("t1", "Ann", "Lee", "ann@x.com", "101")]),
    );
    assert!(state.links.is_empty());
    let alerts = alerts_of(&state, AlertType::NameMismatch);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].accounts, vec![id]);
}

#[test]
fn unlinked_same_name_and_unit_other_email_raises_email_mismatch() {
    let mut state = DoorState::default();
    let u = door_unit(&mut state, "101");
    state.mappings.insert(unit_key("101"), u);
    let id = manual_account(&mut state, "Ann", "Lee", Some("ann.old@x.com"), Some(u));
    sync_default(
        &mut state,
        &snapshot(vec![current("t1", "Ann", "Lee", "ann@x.com", "101")]),
    );
    let alerts = alerts_of(&state, AlertType::EmailMismatch);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].accounts, vec![id]);
    assert_eq!(
        state.accounts.len(),
        1,
        "no account created while the mismatch is open"
    );
}

#[test]
fn several_candidates_raise_duplicate_account_listing_all() {
    let mut state = DoorState::default();
    let u = door_unit(&mut state, "101");
    state.mappings.insert(unit_key("101"), u);
    let by_email = manual_account(&mut state, "Annie", "Lee", Some("ann@x.com"), None);
    let by_name = manual_account(&mut state, "Ann", "Lee", Some("other@x.com"), Some(u));
    sync_default(
        &mut state,
        &snapshot(vec![current("t1", "Ann", "Lee", "ann@x.com", "101")]),
    );
    let alerts = alerts_of(&state, AlertType::DuplicateAccount);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].accounts, vec![by_email, by_name]);
}

#[test]
fn a_candidate_linked_to_another_pms_resident_raises_duplicate_account() {
    let mut state = DoorState::default();
    sync_default(
        &mut state,
        &snapshot(vec![current("t1", "Ann", "Lee", "ann@x.com", "101")]),
    );
    // The same person appears a second time in the PMS under another name spelling.
    sync_default(
        &mut state,
        &snapshot(vec![
            current("t1", "Ann", "Lee", "ann.lee@x.com", "101"),
            current("t9", "Anne", "Lee", "ann@x.com", "101"),
        ]),
    );
    let alerts = alerts_of(&state, AlertType::DuplicateAccount);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].people[0].keys, vec![key("t9")]);
}

#[test]
fn merge_links_and_takes_the_pms_name_when_asked_then_the_next_sync_stays_clear() {
    let mut state = DoorState::default();
    let id = manual_account(&mut state, "Annie", "Lee", Some("ann@x.com"), None);
    let snap = snapshot(vec![current("t1", "Ann", "Lee", "ann@x.com", "101")]);
    sync_default(&mut state, &snap);
    let alert = alerts_of(&state, AlertType::NameMismatch)[0].id;
    let plan = resolve(
        &state,
        alert,
        &Resolution::Merge {
            account: id,
            use_pms_name: true,
        },
        &manager(),
        NOW,
    )
    .unwrap();
    state.apply(&plan).unwrap();
    assert_eq!(state.accounts[&id].first_name, "Ann");
    assert_eq!(state.links.get(&key("t1")), Some(&id));
    assert!(state.alerts.is_empty());
    assert!(plan.audit.iter().any(|a| a.actor == manager()));
    assert!(
        sync_default(&mut state, &snap).is_empty(),
        "the next sync has nothing to do"
    );
}

#[test]
fn merge_keeping_the_door_name_stays_closed_until_the_pms_name_changes() {
    let mut state = DoorState::default();
    let id = manual_account(&mut state, "Annie", "Lee", Some("ann@x.com"), None);
    sync_default(
        &mut state,
        &snapshot(vec![current("t1", "Ann", "Lee", "ann@x.com", "101")]),
    );
    let alert = alerts_of(&state, AlertType::NameMismatch)[0].id;
    state
        .apply(
            &resolve(
                &state,
                alert,
                &Resolution::Merge {
                    account: id,
                    use_pms_name: false,
                },
                &manager(),
                NOW,
            )
            .unwrap(),
        )
        .unwrap();
    assert_eq!(state.accounts[&id].first_name, "Annie");
    sync_default(
        &mut state,
        &snapshot(vec![current("t1", "Ann", "Lee", "ann@x.com", "101")]),
    );
    assert_eq!(state.open_alerts(), 0, "same data: stays closed");
    sync_default(
        &mut state,
        &snapshot(vec![current("t1", "Anna", "Lee", "ann@x.com", "101")]),
    );
    assert_eq!(
        alerts_of(&state, AlertType::NameMismatch).len(),
        1,
        "new data: back"
    );
}

#[test]
fn create_separate_creates_a_linked_account_and_deletes_the_old_one_now_or_later() {
    for delete_now in [true, false] {
        let mut state = DoorState::default();
        let u = door_unit(&mut state, "101");
        state.mappings.insert(unit_key("101"), u);
        let old = manual_account(&mut state, "Ann", "Lee", Some("ann.old@x.com"), Some(u));
        sync_default(
            &mut state,
            &snapshot(vec![current("t1", "Ann", "Lee", "ann@x.com", "101")]),
        );
        let alert = alerts_of(&state, AlertType::EmailMismatch)[0].id;
        let plan = resolve(
            &state,
            alert,
            &Resolution::CreateSeparate {
                delete_old: delete_now,
            },
            &manager(),
            NOW,
        )
        .unwrap();
        state.apply(&plan).unwrap();
        let new = account_by_email(&state, "ann@x.com").unwrap().id;
        assert_ne!(new, old);
        assert_eq!(state.links.get(&key("t1")), Some(&new));
        assert_eq!(state.accounts.contains_key(&old), !delete_now);
        if !delete_now {
            state
                .apply(&delete_account(&state, old, &manager(), NOW).unwrap())
                .unwrap();
            assert!(!state.accounts.contains_key(&old));
        }
        assert!(
            sync_default(
                &mut state,
                &snapshot(vec![current("t1", "Ann", "Lee", "ann@x.com", "101")])
            )
            .is_empty()
        );
    }
}

#[test]
fn keep_door_value_acknowledges_until_the_pms_is_corrected() {
    let mut state = DoorState::default();
    sync_default(
        &mut state,
        &snapshot(vec![current("t1", "Ann", "Lee", "ann@x.com", "101")]),
    );
    sync_default(
        &mut state,
        &snapshot(vec![current("t1", "Ann", "Leee", "ann@x.com", "101")]),
    );
    let alert = alerts_of(&state, AlertType::NameMismatch)[0].id;
    state
        .apply(&resolve(&state, alert, &Resolution::KeepDoorValue, &manager(), NOW).unwrap())
        .unwrap();
    assert_eq!(state.alerts[&alert].state, AlertState::Acknowledged);
    assert_eq!(state.open_alerts(), 0, "not in the badge");
    sync_default(
        &mut state,
        &snapshot(vec![current("t1", "Ann", "Leee", "ann@x.com", "101")]),
    );
    assert_eq!(
        state.alerts[&alert].state,
        AlertState::Acknowledged,
        "waits for the PMS"
    );
    sync_default(
        &mut state,
        &snapshot(vec![current("t1", "Ann", "Lee", "ann@x.com", "101")]),
    );
    assert!(state.alerts.is_empty(), "the PMS was corrected: cleared");
    assert_eq!(state.accounts.values().next().unwrap().last_name, "Lee");
}

#[test]
fn keep_door_value_does_not_apply_to_duplicate_emails() {
    let mut state = DoorState::default();
    sync_default(
        &mut state,
        &snapshot(vec![
            current("t1", "Ann", "Lee", "f@x.com", "101"),
            current("t2", "Bo", "Lee", "f@x.com", "101"),
        ]),
    );
    let alert = alerts_of(&state, AlertType::DuplicateEmails)[0].id;
    assert!(matches!(
        resolve(&state, alert, &Resolution::KeepDoorValue, &manager(), NOW),
        Err(ResolveError::NotApplicable { .. })
    ));
}

#[test]
fn a_dismissed_alert_returns_only_on_new_data() {
    let mut state = DoorState::default();
    let dup = |second: &str| {
        snapshot(vec![
            current("t1", "Ann", "Lee", "f@x.com", "101"),
            current("t2", second, "Lee", "f@x.com", "101"),
        ])
    };
    sync_default(&mut state, &dup("Bo"));
    let alert = alerts_of(&state, AlertType::DuplicateEmails)[0].id;
    state
        .apply(&resolve(&state, alert, &Resolution::Dismiss, &manager(), NOW).unwrap())
        .unwrap();
    assert!(
        sync_default(&mut state, &dup("Bo")).is_empty(),
        "same data: nothing"
    );
    assert_eq!(state.open_alerts(), 0);
    sync_default(&mut state, &dup("Cy"));
    let back = alerts_of(&state, AlertType::DuplicateEmails);
    assert_eq!(back.len(), 1);
    assert_eq!(
        back[0].id, alert,
        "the same alert reopens, not a second one"
    );
}

#[test]
fn a_later_sync_updates_an_alert_and_never_duplicates_it() {
    let mut state = DoorState::default();
    sync_default(
        &mut state,
        &snapshot(vec![
            current("t1", "Ann", "Lee", "f@x.com", "101"),
            current("t2", "Bo", "Lee", "f@x.com", "101"),
        ]),
    );
    let first = alerts_of(&state, AlertType::DuplicateEmails)[0].id;
    sync_default(
        &mut state,
        &snapshot(vec![
            current("t1", "Ann", "Lee", "f@x.com", "101"),
            current("t2", "Bo", "Lee", "f@x.com", "101"),
            current("t3", "Cy", "Lee", "f@x.com", "101"),
        ]),
    );
    let alerts = alerts_of(&state, AlertType::DuplicateEmails);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].id, first);
    assert_eq!(alerts[0].people.len(), 3, "updated with the third resident");
}

#[test]
fn bulk_resolution_is_all_or_nothing_and_capped_at_fifty() {
    let mut state = DoorState::default();
    let recs: Vec<_> = (0..60)
        .map(|i| {
            rec(
                &format!("t{i}"),
                "No",
                &format!("Mail{i}"),
                None,
                "101",
                LeaseStatus::Current,
            )
        })
        .collect();
    sync_default(&mut state, &snapshot(recs));
    let ids: Vec<AlertId> = state.alerts.keys().copied().collect();
    assert_eq!(ids.len(), 60);
    let dismiss = |ids: &[AlertId]| {
        ids.iter()
            .map(|i| (*i, Resolution::Dismiss))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        resolve_many(&state, &dismiss(&ids[..51]), &manager(), NOW).unwrap_err(),
        ResolveError::TooMany { given: 51, max: 50 }
    );
    let mut bad = dismiss(&ids[..3]);
    bad.push((ids[0], Resolution::KeepDoorValue));
    assert!(resolve_many(&state, &bad, &manager(), NOW).is_err());
    let mut wrong = dismiss(&ids[..3]);
    wrong.push((ids[3], Resolution::KeepDoorValue)); // not applicable to Missing Email
    assert!(resolve_many(&state, &wrong, &manager(), NOW).is_err());
    let plan = resolve_many(&state, &dismiss(&ids[..50]), &manager(), NOW).unwrap();
    state.apply(&plan).unwrap();
    assert_eq!(state.open_alerts(), 10);
}

#[test]
fn a_second_sync_of_the_same_snapshot_plans_nothing() {
    let mut state = DoorState::default();
    let snap = snapshot(vec![
        current("t1", "Ann", "Lee", "ann@x.com", "101"),
        current("t2", "Bo", "Lee", "f@x.com", "102"),
        current("t3", "Cy", "Lee", "f@x.com", "102"),
        rec("t4", "No", "Mail", None, "103", LeaseStatus::Current),
    ]);
    assert!(!sync_default(&mut state, &snap).is_empty());
    assert!(sync_default(&mut state, &snap).is_empty());
}

#[test]
fn unit_sync_lists_every_pms_unit_with_its_mapping_state() {
    let mut state = DoorState::default();
    let snap = snapshot(vec![
        current("t1", "Ann", "Lee", "ann@x.com", "101"),
        current("t2", "Bo", "Ng", "bo@x.com", "102"),
    ]);
    sync_default(&mut state, &snap);
    assert_eq!(state.pms_units.len(), 2);
    let u = door_unit(&mut state, "Unit 101");
    state
        .apply(&plan_map_unit(&state, &unit_key("101"), u, &manager(), NOW).unwrap())
        .unwrap();
    let mapped: Vec<bool> = state
        .pms_units
        .iter()
        .map(|p| state.mappings.contains_key(&p.key))
        .collect();
    assert_eq!(mapped, vec![true, false]);
    assert!(matches!(
        plan_map_unit(&state, &unit_key("999"), u, &manager(), NOW),
        Err(UnitError::NoSuchPmsUnit(_))
    ));
    assert!(matches!(
        plan_map_unit(&state, &unit_key("102"), 999, &manager(), NOW),
        Err(UnitError::NoSuchDoorUnit(999))
    ));
}

#[test]
fn many_units_are_mapped_at_once_or_none_with_an_error_per_bad_item() {
    let mut state = DoorState::default();
    let snap = snapshot(vec![
        current("t1", "Ann", "Lee", "ann@x.com", "101"),
        current("t2", "Bo", "Ng", "bo@x.com", "102"),
    ]);
    sync_default(&mut state, &snap);
    let (a, b) = (door_unit(&mut state, "A"), door_unit(&mut state, "B"));
    let bad = plan_map_units(
        &state,
        &[
            (unit_key("101"), a),
            (unit_key("999"), b),
            (unit_key("101"), b),
            (unit_key("102"), 77),
        ],
        &manager(),
        NOW,
    );
    let Err(UnitError::Rows(rows)) = bad else {
        panic!("refused: {bad:?}")
    };
    assert_eq!(
        rows.iter().map(|r| r.row).collect::<Vec<_>>(),
        vec![2, 3, 4]
    );
    let plan = plan_map_units(
        &state,
        &[(unit_key("101"), a), (unit_key("102"), b)],
        &manager(),
        NOW,
    )
    .unwrap();
    state.apply(&plan).unwrap();
    assert_eq!(state.mappings.len(), 2);
    assert!(
        plan_map_units(&state, &[(unit_key("101"), a)], &manager(), NOW)
            .unwrap()
            .is_empty(),
        "mapping again is no change"
    );
}

#[test]
fn a_mapped_unit_is_assigned_on_the_next_sync_and_an_unmapped_one_syncs_without_unit() {
    let mut state = DoorState::default();
    let snap = snapshot(vec![current("t1", "Ann", "Lee", "ann@x.com", "101")]);
    sync_default(&mut state, &snap);
    assert_eq!(
        account_by_email(&state, "ann@x.com").unwrap().door_unit,
        None,
        "unmapped: no unit"
    );
    let u = door_unit(&mut state, "Unit 101");
    state
        .apply(&plan_map_unit(&state, &unit_key("101"), u, &manager(), NOW).unwrap())
        .unwrap();
    assert_eq!(
        account_by_email(&state, "ann@x.com").unwrap().door_unit,
        None,
        "assignment waits for the sync"
    );
    sync_default(&mut state, &snap);
    assert_eq!(
        account_by_email(&state, "ann@x.com").unwrap().door_unit,
        Some(u)
    );
}

#[test]
fn removing_a_mapping_keeps_existing_assignments_and_stops_new_ones() {
    let mut state = DoorState::default();
    let u = door_unit(&mut state, "Unit 101");
    state.mappings.insert(unit_key("101"), u);
    sync_default(
        &mut state,
        &snapshot(vec![current("t1", "Ann", "Lee", "ann@x.com", "101")]),
    );
    assert_eq!(
        account_by_email(&state, "ann@x.com").unwrap().door_unit,
        Some(u)
    );
    state
        .apply(&plan_unmap_unit(&state, &unit_key("101"), &manager(), NOW).unwrap())
        .unwrap();
    sync_default(
        &mut state,
        &snapshot(vec![
            current("t1", "Ann", "Lee", "ann@x.com", "101"),
            current("t2", "Bo", "Ng", "bo@x.com", "101"),
        ]),
    );
    assert_eq!(
        account_by_email(&state, "ann@x.com").unwrap().door_unit,
        Some(u),
        "Ann stays assigned"
    );
    assert_eq!(
        account_by_email(&state, "bo@x.com").unwrap().door_unit,
        None,
        "Bo is not assigned"
    );
    // Ann moves to another unmapped unit: the old assignment no longer describes her.
    sync_default(
        &mut state,
        &snapshot(vec![current("t1", "Ann", "Lee", "ann@x.com", "205")]),
    );
    assert_eq!(
        account_by_email(&state, "ann@x.com").unwrap().door_unit,
        None
    );
}

#[test]
fn door_units_from_csv_reject_the_whole_file_on_any_bad_row() {
    let mut state = DoorState::default();
    door_unit(&mut state, "101");
    let bad = "Building,Name\nA,102\nA,\nA,101\nB,102\n";
    match parse_csv(bad, &state) {
        Err(UnitError::Rows(rows)) => {
            let rows: Vec<usize> = rows.iter().map(|r| r.row).collect();
            assert_eq!(rows, vec![3, 4, 5], "blank, taken, repeated");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(state.door_units.len(), 1, "nothing imported");
    assert!(
        matches!(parse_csv("unit\n1\n", &state), Err(UnitError::Rows(_))),
        "no name column"
    );
    let ok = parse_csv("name,building\n102,A\n\"103, corner\",\n", &state).unwrap();
    assert_eq!(
        ok[1],
        NewDoorUnit {
            name: "103, corner".into(),
            building: None
        }
    );
    state
        .apply(&plan_create_units(&state, &ok, &manager(), NOW).unwrap())
        .unwrap();
    assert_eq!(state.door_units.len(), 3);
    let single = [NewDoorUnit {
        name: "101".into(),
        building: None,
    }];
    assert!(
        plan_create_units(&state, &single, &manager(), NOW).is_err(),
        "single creation checks too"
    );
}

#[test]
fn a_stale_plan_is_refused() {
    let mut state = DoorState::default();
    let snap = snapshot(vec![current("t1", "Ann", "Lee", "ann@x.com", "101")]);
    let plan = plan_sync(&snap, &state, &Settings::default(), NOW).plan;
    let other = plan.clone();
    state.apply(&plan).unwrap();
    assert!(matches!(state.apply(&other), Err(ApplyError::Stale { .. })));
}

#[test]
fn user_sync_off_changes_nothing() {
    let mut state = DoorState::default();
    let settings = Settings {
        user_sync: false,
        ..Settings::default()
    };
    assert!(
        sync(
            &mut state,
            &snapshot(vec![current("t1", "Ann", "Lee", "ann@x.com", "101")]),
            &settings
        )
        .is_empty()
    );
}

#[test]
fn the_input_fingerprint_changes_with_any_field_and_with_the_settings() {
    let base = snapshot(vec![current("t1", "Ann", "Lee", "ann@x.com", "101")]);
    let settings = Settings::default();
    let fp = input_fingerprint(&base, &settings);
    assert_eq!(fp, input_fingerprint(&base.clone(), &settings));
    let mut renamed = base.clone();
    renamed.properties[0].residents[0].last_name = "Leigh".into();
    let mut moved = base.clone();
    moved.properties[0].leases[0].move_out_date = Some("2026-01-31".into());
    let mut phone = base.clone();
    phone.properties[0].residents[0].phone = Some("555".into());
    for changed in [renamed, moved, phone] {
        assert_ne!(input_fingerprint(&changed, &settings), fp);
    }
    let mut excluding = settings.clone();
    excluding.excluded_statuses.insert("Current".into());
    assert_ne!(input_fingerprint(&base, &excluding), fp);
}
