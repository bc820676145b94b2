//! Every resident record a sync is given gets one disposition, with the reason the
//! rule book gives for it (docs/rules.md, "Explanations").

mod common;

use common::*;
use epms_engine::*;
use epms_model::{HouseholdRole, LeaseStatus};

fn by_resident<'a>(out: &'a SyncOutcome, resident: &str) -> &'a RecordDisposition {
    out.dispositions
        .iter()
        .find(|d| d.pms_key.resident == resident)
        .unwrap_or_else(|| panic!("no disposition for {resident}"))
}

#[test]
fn each_record_gets_its_reason() {
    let mut state = DoorState::default();
    let mapped = mapped_unit(&mut state, "101");
    let manual = manual_account(&mut state, "Dana", "Park", Some("dana@example.com"), None);
    let other = manual_account(&mut state, "Dana", "Park", Some("dana.p@example.com"), None);
    let _ = other;
    let mut guarantor = current("g1", "Gus", "Tor", "gus@example.com", "101");
    guarantor.resident.role = HouseholdRole::Guarantor;
    let mut no_lease = current("n1", "Nia", "Less", "nia@example.com", "101");
    no_lease.resident.lease_id = None;
    no_lease.lease.resident_ids.clear();
    let mut excluded = current("x1", "Xav", "Cluded", "xav@example.com", "101");
    excluded.lease.raw_status = "Eviction".into();
    let applicant = rec(
        "a1",
        "Abe",
        "Plicant",
        Some("abe@example.com"),
        "101",
        LeaseStatus::Applicant,
    );
    let snap = snapshot(vec![
        current("s1", "Sam", "Sync", "sam@example.com", "101"),
        current("u1", "Una", "Mapped", "una@example.com", "999"),
        guarantor,
        no_lease,
        excluded,
        applicant,
        rec("m1", "Mo", "Mail", None, "101", LeaseStatus::Current),
        rec(
            "b1",
            "Bad",
            "Mail",
            Some("not an address"),
            "101",
            LeaseStatus::Current,
        ),
        current("d1", "Dee", "One", "shared@example.com", "101"),
        current("d2", "Dan", "Two", "shared@example.com", "102"),
        current("e1", "Dana", "Park", "dana@example.com", "101"),
        current("k1", "Kim", "Park", "dana.p@example.com", "101"),
    ]);
    let mut settings = Settings::default();
    settings.excluded_statuses.insert("Eviction".into());
    let out = plan_sync(&snap, &state, &settings, NOW);
    assert_eq!(out.dispositions.len(), 12, "one per resident record");

    let synced = by_resident(&out, "s1");
    assert!(
        matches!(
            synced.outcome,
            Disposition::Synced {
                linked: Linked::Created,
                door_unit: Some(u),
                unmapped_pms_unit: None,
                ..
            } if u == mapped
        ),
        "{synced:?}"
    );
    assert!(matches!(
        &by_resident(&out, "u1").outcome,
        Disposition::Synced { door_unit: None, unmapped_pms_unit: Some(u), .. } if u == "999"
    ));
    assert_eq!(by_resident(&out, "g1").outcome, Disposition::Guarantor);
    assert_eq!(by_resident(&out, "n1").outcome, Disposition::NoLease);
    let x = by_resident(&out, "x1");
    assert_eq!(x.outcome, Disposition::ExcludedStatus);
    assert_eq!(x.raw_statuses, vec!["Eviction".to_owned()]);
    assert_eq!(
        by_resident(&out, "a1").outcome,
        Disposition::StatusNeverSynced {
            statuses: vec![LeaseStatus::Applicant]
        }
    );
    let missing = by_resident(&out, "m1");
    assert_eq!(missing.outcome, Disposition::MissingEmail);
    assert_eq!(missing.alerts.len(), 1);
    assert_eq!(missing.alerts[0].alert_type, AlertType::MissingEmail);
    let bad = by_resident(&out, "b1");
    assert_eq!(
        bad.outcome,
        Disposition::MalformedEmail {
            detail: "not an email address: \"not an address\"".into()
        }
    );
    assert_eq!(bad.alerts[0].alert_type, AlertType::MissingEmail);
    let shared = by_resident(&out, "d1");
    let Disposition::SharesEmail { with } = &shared.outcome else {
        panic!("{shared:?}")
    };
    assert_eq!(with.len(), 1);
    assert_eq!(with[0].pms_key, key("d2"));
    assert_eq!(shared.alerts[0].alert_type, AlertType::DuplicateEmails);
    // Same email as one manual account: auto-linked.
    assert!(matches!(
        by_resident(&out, "e1").outcome,
        Disposition::Synced { account, linked: Linked::AutoLinkedExactMatch, .. } if account == manual
    ));
    // Same email as an account with another first name: Name Mismatch holds it.
    let held = by_resident(&out, "k1");
    assert_eq!(
        held.outcome,
        Disposition::WaitingOnAlert {
            alert_type: Some(AlertType::NameMismatch)
        }
    );
    let alert = &held.alerts[0];
    assert!(
        out.plan
            .alerts_opened
            .iter()
            .any(|a| a.id == alert.id && a.alert_type == AlertType::NameMismatch)
    );
}

#[test]
fn a_second_record_of_a_linked_person_is_merged_and_linked_records_say_so() {
    let mut state = DoorState::default();
    sync_default(
        &mut state,
        &snapshot(vec![current(
            "t1",
            "Tia",
            "Moves",
            "tia@example.com",
            "101",
        )]),
    );
    let out = plan_sync(
        &snapshot(vec![
            current("t1", "Tia", "Moves", "tia@example.com", "101"),
            current("t2", "Tia", "Moves", "tia@example.com", "202"),
        ]),
        &state,
        &Settings::default(),
        NOW,
    );
    assert!(matches!(
        by_resident(&out, "t1").outcome,
        Disposition::Synced {
            linked: Linked::AlreadyLinked,
            ..
        }
    ));
    assert!(matches!(
        by_resident(&out, "t2").outcome,
        Disposition::Synced {
            linked: Linked::Merged,
            ..
        }
    ));
}

#[test]
fn a_linked_record_whose_email_goes_missing_stays_synced_with_its_alert() {
    let mut state = DoorState::default();
    sync_default(
        &mut state,
        &snapshot(vec![current(
            "r1",
            "Ray",
            "Linked",
            "ray@example.com",
            "101",
        )]),
    );
    let out = plan_sync(
        &snapshot(vec![rec(
            "r1",
            "Ray",
            "Linked",
            None,
            "101",
            LeaseStatus::Current,
        )]),
        &state,
        &Settings::default(),
        NOW,
    );
    let d = by_resident(&out, "r1");
    assert!(matches!(d.outcome, Disposition::Synced { .. }), "{d:?}");
    assert_eq!(d.alerts[0].alert_type, AlertType::MissingEmail);
}

#[test]
fn an_email_the_connector_could_not_read_is_malformed_with_its_warning() {
    let mut r = rec("w1", "Wen", "Warn", None, "101", LeaseStatus::Current);
    r.resident.warnings.push(epms_model::RecordWarning {
        field: "email".into(),
        message: "not an email address: \"ann at home\"".into(),
    });
    let out = plan_sync(
        &snapshot(vec![r]),
        &DoorState::default(),
        &Settings::default(),
        NOW,
    );
    assert_eq!(
        out.dispositions[0].outcome,
        Disposition::MalformedEmail {
            detail: "not an email address: \"ann at home\"".into()
        }
    );
}

#[test]
fn search_matches_name_email_pms_id_and_unit_in_any_case() {
    let out = plan_sync(
        &snapshot(vec![current(
            "R-77",
            "Zoë",
            "Quist",
            "ZQ@Example.com",
            "4B",
        )]),
        &DoorState::default(),
        &Settings::default(),
        NOW,
    );
    let d = &out.dispositions[0];
    for needle in ["zoë quist", "quist", "zq@example", "r-77", "4b"] {
        assert!(d.matches(needle), "{needle}");
    }
    assert!(!d.matches("nobody"));
}
