//! The contract works from a language other than Rust: a JavaScript connector for the
//! Acme API (`tests/guests/acme-js`, componentize-js), run by the real runtime against
//! the simulator, reads every record exactly as the Rust template does; a wrong token is
//! `auth`; and a request outside the sandbox, which JavaScript sees only as an opaque
//! `NetworkError`, is reported as the `config` error it is.
//!
//! Building the component needs Node.js and npm; where the build script could not
//! build it, each test says it skipped and why.

use epms_e2e::{acme_credential, guests, loopback_runtime};
use epms_model::ConnectorError;
use epms_runtime::{CallError, Credential, LoadedConnector, Runtime, SandboxLimits};
use pms_sim::Simulator;
use pms_sim::dataset::Spec;

fn js_component(test: &str) -> Option<&'static str> {
    match guests::EPMS_TEST_ACME_JS {
        Ok(path) => Some(path),
        Err(why) => {
            println!("skipped: {test}: the JavaScript guest was not built ({why})");
            None
        }
    }
}

async fn setup() -> (Simulator, Runtime, tempfile::TempDir) {
    let sim = Simulator::generate(Spec {
        seed: 31,
        properties: vec![("acme".into(), "P31".into(), 260)],
    })
    .await
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let limits = SandboxLimits {
        memory_bytes: 256 << 20,
        ..SandboxLimits::default()
    };
    (sim, loopback_runtime(cache.path(), limits), cache)
}

async fn load(runtime: &Runtime, path: &str) -> LoadedConnector {
    runtime.load_file(path.as_ref()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_connector_reads_what_the_rust_template_reads() {
    let Some(js) = js_component("the_javascript_connector_reads_what_the_rust_template_reads")
    else {
        return;
    };
    let (sim, runtime, _cache) = setup().await;
    let js = load(&runtime, js).await;
    assert_eq!(js.info().vendor, "acme-js");
    assert_eq!(js.info().contract_version, "1.0.0");
    let rust = load(&runtime, guests::EPMS_CONNECTOR_TEMPLATE).await;
    let mut a = runtime
        .session(&js, &acme_credential(&js, &sim))
        .await
        .unwrap();
    let mut b = runtime
        .session(&rust, &acme_credential(&rust, &sim))
        .await
        .unwrap();
    a.check().await.unwrap();
    assert_eq!(
        a.list_properties().await.unwrap(),
        b.list_properties().await.unwrap()
    );
    let units = a.all_units("P31").await.unwrap();
    assert_eq!(units.len(), 260, "across pages");
    assert_eq!(units, b.all_units("P31").await.unwrap());
    let residents = a.all_residents("P31").await.unwrap();
    assert!(
        residents.iter().any(|r| !r.warnings.is_empty()),
        "a malformed email is a warning"
    );
    assert_eq!(residents, b.all_residents("P31").await.unwrap());
    assert_eq!(
        a.all_leases("P31").await.unwrap(),
        b.all_leases("P31").await.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_connector_reports_typed_errors() {
    let Some(js) = js_component("the_javascript_connector_reports_typed_errors") else {
        return;
    };
    let (sim, runtime, _cache) = setup().await;
    let js = load(&runtime, js).await;
    let wrong = Credential::from_fields(
        js.info(),
        epms_e2e::fields(&[
            ("base-url", &sim.base_url("acme").unwrap()),
            ("api-token", "wrong-token"),
        ]),
    )
    .unwrap();
    let err = runtime
        .session(&js, &wrong)
        .await
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::Connector(ConnectorError::Auth { .. })),
        "{err:?}"
    );
    // A host that does not let connectors reach loopback: the sandbox refuses the
    // simulator's address. JavaScript sees only a NetworkError (and calls it transient);
    // the host reports its refusal.
    let cache = tempfile::tempdir().unwrap();
    let offline = epms_e2e::offline_runtime(cache.path());
    let js = offline.load_file(js.source().as_ref()).await.unwrap();
    let mut session = offline
        .session(&js, &acme_credential(&js, &sim))
        .await
        .unwrap();
    match session.all_units("P31").await {
        Err(CallError::Connector(ConnectorError::Config { message })) => {
            assert!(message.contains("refused by the sandbox"), "{message}")
        }
        other => panic!("expected the sandbox's refusal, got {other:?}"),
    }
}
