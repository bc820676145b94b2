//! Databases written by earlier releases must keep opening. `fixtures/schema-v1.redb`
//! was written by the first release of the store (schema 1) with
//! `EPMS_WRITE_FIXTURE=1 cargo test -p epms-store --test compatibility -- --ignored`;
//! a change of encoding or table layout that cannot read it fails here.

use epms_engine::*;
use epms_model::{HouseholdRole, Lease, LeaseStatus, Resident, Unit};
use epms_store::*;

const KEY: [u8; 32] = [0x11; 32];

fn fixture_snapshot() -> PmsSnapshot {
    let person = |id: &str, first: &str, email: Option<&str>, status: LeaseStatus| {
        (
            Resident {
                id: id.into(),
                lease_id: Some(format!("L{id}")),
                unit_id: Some("101".into()),
                first_name: first.into(),
                last_name: "Núñez".into(),
                email: email.map(Into::into),
                phone: None,
                role: HouseholdRole::Primary,
                warnings: vec![],
            },
            Lease {
                id: format!("L{id}"),
                unit_id: Some("101".into()),
                resident_ids: vec![id.into()],
                raw_status: "Current".into(),
                status,
                start_date: Some("2025-01-01".into()),
                end_date: None,
                move_in_date: None,
                move_out_date: None,
                warnings: vec![],
            },
        )
    };
    let people = [
        person("t1", "José", Some("jose@x.com"), LeaseStatus::Current),
        person("t2", "Ana", None, LeaseStatus::Current),
    ];
    PmsSnapshot {
        vendor: "yardi".into(),
        properties: vec![PmsPropertyData {
            id: "P1".into(),
            units: vec![Unit {
                id: "101".into(),
                number: "101".into(),
                building: None,
                floorplan: None,
                vacant: Some(false),
                warnings: vec![],
            }],
            residents: people.iter().map(|p| p.0.clone()).collect(),
            leases: people.iter().map(|p| p.1.clone()).collect(),
        }],
    }
}

#[test]
#[ignore = "writes the fixture; run by hand when a new schema is released"]
fn write_fixture() {
    if std::env::var_os("EPMS_WRITE_FIXTURE").is_none() {
        return;
    }
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema-v1.redb");
    let _ = std::fs::remove_file(&path);
    let store = RedbStore::open(&path, SecretBox::new(KEY)).unwrap();
    store
        .create_property(&PropertyRecord::new(
            "door-1",
            "123 Building",
            1_800_000_000,
        ))
        .unwrap();
    let secrets =
        std::collections::BTreeMap::from([("password".to_owned(), "fixture-secret".to_owned())]);
    store
        .put_credential("cred-1", "yardi", Default::default(), &secrets)
        .unwrap();
    let state = store.load_state("door-1").unwrap();
    let plan = plan_sync(
        &fixture_snapshot(),
        &state,
        &Settings::default(),
        1_800_000_000,
    )
    .plan;
    store.apply("door-1", &plan, None).unwrap();
}

#[test]
fn a_database_written_by_schema_1_still_opens_and_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("copy.redb");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/schema-v1.redb"),
        &path,
    )
    .unwrap();
    let store = RedbStore::open(&path, SecretBox::new(KEY)).unwrap();
    let state = store.load_state("door-1").unwrap();
    assert_eq!(state.accounts.len(), 1);
    let jose = state.accounts.values().next().unwrap();
    assert_eq!(
        (jose.first_name.as_str(), jose.last_name.as_str()),
        ("José", "Núñez")
    );
    assert_eq!(
        state
            .alerts
            .values()
            .filter(|a| a.alert_type == AlertType::MissingEmail)
            .count(),
        1
    );
    assert_eq!(
        store.credential_secrets("cred-1").unwrap()["password"],
        "fixture-secret"
    );
    // Its audit log was indexed by account when it was opened.
    let history = store.account_audit("door-1", jose.id, 10).unwrap();
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0].1.action, "account.created");
    // And it is still writable: a sync of the same snapshot plans nothing.
    assert!(
        plan_sync(
            &fixture_snapshot(),
            &state,
            &Settings::default(),
            1_800_000_100
        )
        .plan
        .is_empty()
    );
}
