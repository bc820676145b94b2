//! One sync end to end: a real connector reads the simulator over loopback, the
//! engine plans, the store applies; a failed fetch applies nothing.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use epms_e2e::{guests, loopback_runtime};
use epms_runtime::SandboxLimits;
use epms_store::{AdminStore as _, PropertyStore as _};
use epms_store::{PropertyRecord, RedbStore, RunOutcome, SecretBox};
use pms_sim::Simulator;
use pms_sim::dataset::{Spec, generate};

const NOW: i64 = 1_800_000_000;

struct Host {
    runtime: epms_runtime::Runtime,
    connectors: HashMap<String, Arc<epms_runtime::LoadedConnector>>,
    store: RedbStore,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

/// A store with one property ("door-1") attached to the simulator's acme property P1.
async fn host(sim: &Simulator) -> Host {
    let cache = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let runtime = loopback_runtime(cache.path(), SandboxLimits::default());
    let connector = Arc::new(
        runtime
            .load_file(guests::EPMS_CONNECTOR_TEMPLATE.as_ref())
            .await
            .unwrap(),
    );
    let connectors = HashMap::from([("acme".to_owned(), connector)]);
    let store = RedbStore::open(&data.path().join("epms.redb"), SecretBox::new([1; 32])).unwrap();
    store
        .put_credential(
            "c1",
            "acme",
            BTreeMap::from([("base-url".to_owned(), sim.base_url("acme").unwrap())]),
            &BTreeMap::from([(
                "api-token".to_owned(),
                pms_sim::vendors::acme::TOKEN.to_owned(),
            )]),
        )
        .unwrap();
    let mut record = PropertyRecord::new("door-1", "B", NOW);
    record.credential_id = Some("c1".into());
    record.pms_property_ids = vec!["P1".into()];
    store.create_property(&record).unwrap();
    Host {
        runtime,
        connectors,
        store,
        _dirs: (cache, data),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_fetch_applies_nothing_and_keeps_the_last_good_sync_time() {
    let portfolio = generate(&Spec {
        seed: 4,
        properties: vec![("acme".into(), "P1".into(), 40)],
    });
    let sim = Simulator::start(portfolio).await.unwrap();
    let Host {
        runtime,
        connectors,
        store,
        _dirs,
    } = host(&sim).await;

    let ok = epms_sync::sync_once(&runtime, &store, &connectors, "door-1", NOW)
        .await
        .unwrap();
    assert!(ok.accounts_created > 0);
    let before = store.load_state("door-1").unwrap();
    assert_eq!(store.property("door-1").unwrap().last_sync_ok, Some(NOW));

    // The PMS starts refusing the credential.
    sim.state
        .write(|p| p.credentials[0].fields[0].1 = "rotated".into());
    let err = epms_sync::sync_once(&runtime, &store, &connectors, "door-1", NOW + 3600)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "auth");
    assert_eq!(
        store.load_state("door-1").unwrap(),
        before,
        "nothing applied"
    );
    assert_eq!(
        store.property("door-1").unwrap().last_sync_ok,
        Some(NOW),
        "last good time kept"
    );
    let runs = store.sync_runs("door-1", 10).unwrap();
    assert_eq!(runs[0].outcome, RunOutcome::Failed);
    assert_eq!(runs[0].error_code.as_deref(), Some("auth"));

    // A vendor without a loaded connector is a classified failure too.
    let err = epms_sync::sync_once(&runtime, &store, &HashMap::new(), "door-1", NOW + 7200)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "no-connector");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_reads_the_simulator_and_an_unchanged_pms_settles() {
    let portfolio = generate(&Spec {
        seed: 9,
        properties: vec![("acme".into(), "P1".into(), 80)],
    });
    let truth = portfolio.properties[0].clone();
    let sim = Simulator::start(portfolio).await.unwrap();
    let Host {
        runtime,
        connectors,
        store,
        _dirs,
    } = host(&sim).await;

    epms_sync::sync_once(&runtime, &store, &connectors, "door-1", NOW)
        .await
        .unwrap();
    let state = store.load_state("door-1").unwrap();
    assert_eq!(
        state.pms_units.len(),
        truth.units.len(),
        "every PMS unit listed"
    );
    assert!(!state.accounts.is_empty());
    let second = epms_sync::sync_once(&runtime, &store, &connectors, "door-1", NOW + 1)
        .await
        .unwrap();
    assert!(!second.skipped);
    assert_eq!(
        second.accounts_created + second.accounts_updated + second.alerts_opened,
        0
    );
    let third = epms_sync::sync_once(&runtime, &store, &connectors, "door-1", NOW + 2)
        .await
        .unwrap();
    assert!(third.skipped, "same input, same state: settled");
    // The PMS changes: the next sync plans again.
    sim.state
        .write(|p| p.properties[0].residents[0].last_name.push_str("-Smith"));
    let fourth = epms_sync::sync_once(&runtime, &store, &connectors, "door-1", NOW + 3)
        .await
        .unwrap();
    assert!(!fourth.skipped);
}
