//! The five vendor connectors, compiled to components and run by the host against the
//! simulator over loopback HTTP: what they read equals the simulator's ground truth
//! record for record (with paging on a 5,000-unit property), and every fault becomes
//! the right typed error.

use epms_e2e::{
    VENDORS, loopback_runtime, sim_credential, sim_credential_fields, warnings_by_field,
};
use epms_model::{ConnectorError, Lease, Resident, Unit};
use epms_runtime::{CallError, Credential, LoadedConnector, Runtime, SandboxLimits};
use pms_sim::Simulator;
use pms_sim::dataset::Spec;
use pms_sim::faults::{Fault, FaultKind};

struct Fixture {
    sim: Simulator,
    runtime: Runtime,
    _cache: tempfile::TempDir,
}

async fn fixture(units: usize) -> Fixture {
    let sim = Simulator::generate(Spec {
        seed: 77,
        properties: VENDORS
            .iter()
            .map(|(v, id, _)| ((*v).to_owned(), (*id).to_owned(), units))
            .collect(),
    })
    .await
    .unwrap();
    // Reading everything several times would trip AppFolio's 7 requests / 15 s.
    sim.state.set_rate_limit("appfolio", false);
    let cache = tempfile::tempdir().unwrap();
    let limits = SandboxLimits {
        memory_bytes: 256 << 20,
        ..SandboxLimits::default()
    };
    Fixture {
        runtime: loopback_runtime(cache.path(), limits),
        sim,
        _cache: cache,
    }
}

impl Fixture {
    async fn connector(&self, wasm: &str) -> LoadedConnector {
        self.runtime.load_file(wasm.as_ref()).await.unwrap()
    }

    fn credential(&self, vendor: &str, connector: &LoadedConnector) -> Credential {
        sim_credential(&self.sim, vendor, connector)
    }
}

fn by_id<T>(mut v: Vec<T>, id: impl Fn(&T) -> String) -> Vec<T> {
    v.sort_by_key(|x| id(x));
    v
}

/// What a read under a fault must give.
type Expect = fn(&Result<Vec<Resident>, CallError>) -> bool;

async fn reads_the_ground_truth(f: &Fixture, vendor: &str, property: &str, wasm: &str) {
    let connector = f.connector(wasm).await;
    assert_eq!(connector.info().vendor, vendor);
    let mut session = f
        .runtime
        .session(&connector, &f.credential(vendor, &connector))
        .await
        .unwrap();
    session
        .check()
        .await
        .unwrap_or_else(|e| panic!("{vendor} check: {e}"));
    let props = session.list_properties().await.unwrap();
    assert!(
        props.iter().any(|p| p.id == property),
        "{vendor}: {props:?}"
    );
    let truth = f
        .sim
        .state
        .read(|p| p.property(vendor, property).unwrap().clone());
    let units = session
        .all_units(property)
        .await
        .unwrap_or_else(|e| panic!("{vendor} units: {e}"));
    assert_eq!(
        by_id(units, |u: &Unit| u.id.clone()),
        by_id(truth.units, |u| u.id.clone()),
        "{vendor} units"
    );
    let residents = warnings_by_field(
        session
            .all_residents(property)
            .await
            .unwrap_or_else(|e| panic!("{vendor} residents: {e}")),
    );
    let truth_residents = by_id(truth.residents, |r: &Resident| r.id.clone());
    let residents = by_id(residents, |r: &Resident| r.id.clone());
    assert_eq!(
        residents.len(),
        truth_residents.len(),
        "{vendor} resident count"
    );
    for (got, want) in residents.iter().zip(&truth_residents) {
        assert_eq!(got, want, "{vendor} resident");
    }
    let leases = session
        .all_leases(property)
        .await
        .unwrap_or_else(|e| panic!("{vendor} leases: {e}"));
    let leases = by_id(leases, |l: &Lease| l.id.clone());
    let truth_leases = by_id(truth.leases, |l: &Lease| l.id.clone());
    assert_eq!(leases.len(), truth_leases.len(), "{vendor} lease count");
    for (got, want) in leases.iter().zip(&truth_leases) {
        assert_eq!(got, want, "{vendor} lease");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_connector_reads_its_vendor_record_for_record() {
    let f = fixture(150).await;
    for (vendor, property, wasm) in VENDORS {
        reads_the_ground_truth(&f, vendor, property, wasm).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_connector_reads_a_five_thousand_unit_property_across_pages() {
    let f = fixture(5_000).await;
    for (vendor, property, wasm) in VENDORS {
        reads_the_ground_truth(&f, vendor, property, wasm).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_becomes_the_right_typed_error() {
    let f = fixture(20).await;
    for (vendor, property, wasm) in VENDORS {
        let connector = f.connector(wasm).await;
        let credential = f.credential(vendor, &connector);
        let cases: [(FaultKind, Expect); 6] = [
            (FaultKind::ServerError { status: 503 }, |r| {
                matches!(
                    r,
                    Err(CallError::Connector(ConnectorError::Transient { .. }))
                )
            }),
            (FaultKind::RateLimited { retry_after: 9 }, |r| {
                matches!(
                    r,
                    Err(CallError::Connector(ConnectorError::RateLimited {
                        retry_after_seconds: Some(9),
                        ..
                    }))
                )
            }),
            (FaultKind::AuthFailure, |r| {
                matches!(r, Err(CallError::Connector(ConnectorError::Auth { .. })))
            }),
            (FaultKind::Malformed, |r| {
                matches!(
                    r,
                    Err(CallError::Connector(ConnectorError::Protocol { .. }))
                )
            }),
            (FaultKind::Truncated, |r| {
                matches!(
                    r,
                    Err(CallError::Connector(ConnectorError::Protocol { .. }))
                )
            }),
            (FaultKind::Empty, |r| matches!(r, Ok(v) if v.is_empty())),
        ];
        for (kind, expected) in cases {
            f.sim.state.add_fault(Fault {
                vendor: vendor.into(),
                endpoint: String::new(),
                kind: kind.clone(),
                // Every request of the read: a read may take several (MRI reads its
                // pending move-ins after the resident pages).
                times: None,
            });
            let mut session = f.runtime.session(&connector, &credential).await.unwrap();
            let result = session.all_residents(property).await;
            assert!(expected(&result), "{vendor} {kind:?}: {result:?}");
            f.sim.state.clear_faults();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_an_auth_error_for_every_vendor() {
    let f = fixture(5).await;
    for (vendor, _, wasm) in VENDORS {
        let connector = f.connector(wasm).await;
        let mut fields = sim_credential_fields(&f.sim, vendor);
        for field in connector.info().secret_fields() {
            if let Some(v) = fields.get_mut(&field.name) {
                v.push_str("-wrong");
            }
        }
        let credential = Credential::from_fields(connector.info(), fields).unwrap();
        let mut session = f.runtime.session(&connector, &credential).await.unwrap();
        let err = session.check().await.unwrap_err();
        assert!(
            matches!(err, CallError::Connector(ConnectorError::Auth { .. })),
            "{vendor}: {err:?}"
        );
    }
}
