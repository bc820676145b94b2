//! Record and replay, for the engineers who ship connectors: each vendor's connector,
//! compiled, recorded against the simulator over loopback, then replayed by a runtime
//! that may reach no address at all. The replay must read exactly what the live run
//! read, must refuse any request the cassette does not hold, and the cassettes kept
//! in `tests/cassettes/` (one a vendor) must replay offline as they are.

use std::path::PathBuf;

use epms_e2e::{VENDORS, loopback_runtime, offline_runtime, replay_session, sim_credential};
use epms_model::ConnectorError;
use epms_runtime::cassette::{Cassette, Recorder, Tape};
use epms_runtime::{CallError, ConnectorSession, Runtime, SandboxLimits};
use pms_sim::Simulator;
use pms_sim::dataset::Spec;

/// The seed and size the committed cassettes were recorded with.
const SEED: u64 = 12;
const UNITS: usize = 8;

fn cassette_path(vendor: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("cassettes")
        .join(format!("{vendor}.json"))
}

async fn simulator() -> Simulator {
    let sim = Simulator::generate(Spec {
        seed: SEED,
        properties: VENDORS
            .iter()
            .map(|(v, id, _)| ((*v).to_owned(), (*id).to_owned(), UNITS))
            .collect(),
    })
    .await
    .unwrap();
    sim.state.set_rate_limit("appfolio", false);
    sim
}

/// Everything a sync reads, as JSON text (for comparing runs).
async fn read_all(session: &mut ConnectorSession, property: &str) -> Result<String, CallError> {
    session.check().await?;
    let properties = session.list_properties().await?;
    let units = session.all_units(property).await?;
    let residents = session.all_residents(property).await?;
    let leases = session.all_leases(property).await?;
    Ok(serde_json::json!({
        "properties": properties, "units": units, "residents": residents, "leases": leases
    })
    .to_string())
}

async fn record(
    runtime: &Runtime,
    sim: &Simulator,
    vendor: &str,
    property: &str,
    wasm: &str,
) -> (String, Cassette) {
    let connector = runtime.load_file(wasm.as_ref()).await.unwrap();
    let credential = sim_credential(sim, vendor, &connector);
    let recorder = Recorder::default();
    let mut session = runtime
        .session_with_tape(&connector, &credential, Tape::Record(recorder.clone()))
        .await
        .unwrap();
    let live = read_all(&mut session, property).await.unwrap();
    (live, Cassette::new(&connector, &credential, &recorder))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connector_replays_offline_what_it_read_live() {
    let sim = simulator().await;
    let cache = tempfile::tempdir().unwrap();
    let live_runtime = loopback_runtime(cache.path(), SandboxLimits::default());
    let offline = offline_runtime(cache.path());
    for (vendor, property, wasm) in VENDORS {
        let (live, cassette) = record(&live_runtime, &sim, vendor, property, wasm).await;
        assert!(!cassette.exchanges.is_empty(), "{vendor}");
        // Requests are kept as the connector wrote them: no secret value is in the file.
        let text = cassette.to_json();
        let connector = offline.load_file(wasm.as_ref()).await.unwrap();
        for field in connector.info().secret_fields() {
            let value = sim.state.read(|p| {
                p.credential(vendor)
                    .unwrap()
                    .get(&field.name)
                    .map(str::to_owned)
            });
            if let Some(value) = value {
                assert!(
                    !text.contains(&value),
                    "{vendor}: the cassette holds {}",
                    field.name
                );
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        std::fs::write(&path, &text).unwrap();
        let mut session = replay_session(&offline, &connector, &path).await;
        let replayed = read_all(&mut session, property).await.unwrap();
        assert_eq!(
            replayed, live,
            "{vendor}: the replay reads what the live run read"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_the_cassette_does_not_hold_fails_the_replay() {
    let cache = tempfile::tempdir().unwrap();
    let offline = offline_runtime(cache.path());
    for (vendor, _, wasm) in VENDORS {
        let connector = offline.load_file(wasm.as_ref()).await.unwrap();
        let mut session = replay_session(&offline, &connector, &cassette_path(vendor)).await;
        match session.all_residents("a-property-never-recorded").await {
            Err(CallError::Connector(ConnectorError::Config { message })) => {
                assert!(
                    message.contains("not in the cassette"),
                    "{vendor}: {message}"
                )
            }
            other => panic!("{vendor}: expected the replay to refuse, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_committed_cassettes_replay_offline_with_the_simulator_ids() {
    let sim = simulator().await;
    let cache = tempfile::tempdir().unwrap();
    let offline = offline_runtime(cache.path());
    for (vendor, property, wasm) in VENDORS {
        let truth = sim
            .state
            .read(|p| p.property(vendor, property).unwrap().clone());
        let connector = offline.load_file(wasm.as_ref()).await.unwrap();
        let mut session = replay_session(&offline, &connector, &cassette_path(vendor)).await;
        let ids = |mut v: Vec<String>| {
            v.sort();
            v
        };
        let units = session.all_units(property).await.unwrap();
        assert_eq!(
            ids(units.iter().map(|u| u.id.clone()).collect()),
            ids(truth.units.iter().map(|u| u.id.clone()).collect()),
            "{vendor} units"
        );
        let residents = session.all_residents(property).await.unwrap();
        assert_eq!(
            ids(residents.iter().map(|r| r.id.clone()).collect()),
            ids(truth.residents.iter().map(|r| r.id.clone()).collect()),
            "{vendor} residents"
        );
        let leases = session.all_leases(property).await.unwrap();
        assert_eq!(
            ids(leases.iter().map(|l| l.id.clone()).collect()),
            ids(truth.leases.iter().map(|l| l.id.clone()).collect()),
            "{vendor} leases"
        );
    }
}

/// Writes `tests/cassettes/` again (after a deliberate change of a connector's
/// requests or of the simulator): `cargo test -p epms-e2e --test replay -- --ignored`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes the committed cassettes"]
async fn write_the_committed_cassettes() {
    let sim = simulator().await;
    let cache = tempfile::tempdir().unwrap();
    let runtime = loopback_runtime(cache.path(), SandboxLimits::default());
    std::fs::create_dir_all(cassette_path("x").parent().unwrap()).unwrap();
    for (vendor, property, wasm) in VENDORS {
        let (_, mut cassette) = record(&runtime, &sim, vendor, property, wasm).await;
        cassette.mask();
        std::fs::write(cassette_path(vendor), cassette.to_json()).unwrap();
    }
}
