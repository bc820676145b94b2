//! Two hosts in one process on one PostgreSQL database (each with its own store
//! connections and name): Sync Now on one host while the other syncs the property
//! joins that sync and answers with its record; the sync history on the waiting host
//! names the host running it. Skipped, saying so, without a PostgreSQL server.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use epms_api::AppState;
use epms_e2e::{guests, loopback_runtime, set_up_acme_properties};
use epms_runtime::SandboxLimits;
use epms_store::test_database::TestDatabase;
use epms_store::{SecretBox, Storage};
use pms_sim::Simulator;
use pms_sim::dataset::Spec;
use pms_sim::faults::{Fault, FaultKind};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_now_on_another_host_joins_the_running_sync_and_answers_with_its_record() {
    let Some(db) = TestDatabase::create("join_across_hosts") else {
        return;
    };
    let sim = Simulator::generate(Spec {
        seed: 5,
        properties: vec![("acme".into(), "ACME-1".into(), 10)],
    })
    .await
    .unwrap();
    // Slow answers: the first host's sync is surely running when the second asks.
    sim.state.add_fault(Fault {
        vendor: "acme".into(),
        endpoint: String::new(),
        kind: FaultKind::Latency { millis: 300 },
        times: None,
    });
    let cache = tempfile::tempdir().unwrap();
    let runtime = Arc::new(loopback_runtime(cache.path(), SandboxLimits::default()));
    let connector = Arc::new(
        runtime
            .load_file(guests::EPMS_CONNECTOR_TEMPLATE.as_ref())
            .await
            .unwrap(),
    );
    let open = || -> Arc<dyn Storage> {
        epms_store::port::open(&db.url, SecretBox::new([7; 32])).unwrap()
    };
    set_up_acme_properties(open().as_ref(), &sim, &connector, &["door-1".to_owned()]);
    let host = |name: &str| {
        let connectors = HashMap::from([("acme".to_owned(), connector.clone())]);
        let mut state = AppState::new(open(), runtime.clone(), connectors);
        state.host_id = Arc::from(name);
        state
    };
    let (a, b) = (host("host-a"), host("host-b"));

    let first = {
        let a = a.clone();
        tokio::spawn(async move { epms_api::sync_property(&a, "door-1").await })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while b.store.lease_holder("door-1").unwrap().as_deref() != Some("host-a") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "host-a never took the lease"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        b.sync_progress("door-1").map(|(_, started)| started),
        None,
        "nothing runs on host-b itself"
    );
    let joined = epms_api::sync_property(&b, "door-1")
        .await
        .unwrap_or_else(|f| panic!("{}", f.error));
    let own = first
        .await
        .unwrap()
        .unwrap_or_else(|f| panic!("{}", f.error));
    assert_eq!(joined["ran_on"], "host-a", "{joined}");
    assert!(own.get("ran_on").is_none(), "{own}");
    assert_eq!(joined["run"], own["run"], "the same sync's record");
    let runs = a.store.sync_runs("door-1", 10).unwrap();
    assert_eq!(runs.len(), 1, "one sync ran, on one host");
    assert_eq!(runs[0].host.as_deref(), Some("host-a"));
    assert_eq!(a.store.lease_holder("door-1").unwrap(), None, "released");
}
