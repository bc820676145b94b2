//! Loading connectors: the contract check, the compile cache, one connector per
//! vendor, and a real connector reading the simulator over loopback HTTP.

use epms_e2e::{acme_credential, fields, guests, loopback_runtime, warnings_by_field};
use epms_model::ConnectorError;
use epms_runtime::{CacheOutcome, CallError, Credential, LoadError, SandboxLimits};
use pms_sim::Simulator;
use pms_sim::dataset::{Spec, generate};

fn runtime(dir: &std::path::Path) -> epms_runtime::Runtime {
    loopback_runtime(dir, SandboxLimits::default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_built_for_an_older_contract_is_refused_by_version() {
    let cache = tempfile::tempdir().unwrap();
    let err = runtime(cache.path())
        .load_file(guests::EPMS_TEST_OLD_CONTRACT.as_ref())
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(&err, LoadError::WrongContract { found, .. } if found == "0.9.0"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("0.9.0") && message.contains("1.x"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_missing_contract_functions_is_refused_naming_them() {
    let cache = tempfile::tempdir().unwrap();
    let err = runtime(cache.path())
        .load_file(guests::EPMS_TEST_INCOMPLETE_CONTRACT.as_ref())
        .await
        .err()
        .expect("refused");
    let message = err.to_string();
    assert!(matches!(err, LoadError::MissingExport { .. }), "{message}");
    assert!(message.contains("1.0.0"), "{message}");
    assert!(
        ["check", "list-properties", "read-units", "info"]
            .iter()
            .any(|f| message.contains(f)),
        "the message names a function: {message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_that_are_not_components_are_refused() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let core_module = b"\0asm\x01\x00\x00\x00";
    for (bytes, expected) in [
        (&core_module[..], "core WebAssembly module"),
        (b"#!/bin/sh\necho hi\n", "not WebAssembly"),
    ] {
        let err = rt.load_bytes(bytes, "test").await.err().expect("refused");
        assert!(matches!(err, LoadError::NotAComponent(_)), "{err:?}");
        assert!(err.to_string().contains(expected), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compiled_components_come_from_the_cache_the_second_time() {
    let cache = tempfile::tempdir().unwrap();
    let path: &std::path::Path = guests::EPMS_CONNECTOR_TEMPLATE.as_ref();
    let first = runtime(cache.path()).load_file(path).await.unwrap();
    assert_eq!(first.cache_outcome(), CacheOutcome::Compiled);
    // A new runtime (a restarted host) finds the artefact on disk.
    let second = runtime(cache.path()).load_file(path).await.unwrap();
    assert_eq!(second.cache_outcome(), CacheOutcome::Hit);
    assert_eq!(first.sha256(), second.sha256());
    let info = second.info();
    assert_eq!(info.vendor, "acme");
    assert_eq!(info.contract_version, "1.0.0");
    assert!(
        info.config_fields
            .iter()
            .any(|f| f.name == "api-token" && f.secret)
    );
    assert!(info.status_vocabulary.contains(&"approved".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connectors_directory_loads_one_connector_per_vendor() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (name, from) in [
        ("a-acme.wasm", guests::EPMS_CONNECTOR_TEMPLATE),
        ("b-acme-copy.wasm", guests::EPMS_CONNECTOR_TEMPLATE),
        ("c-hostile.wasm", guests::EPMS_TEST_HOSTILE),
        ("d-old.wasm", guests::EPMS_TEST_OLD_CONTRACT),
    ] {
        std::fs::copy(from, dir.path().join(name)).unwrap();
    }
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    let loaded = runtime(cache.path()).load_dir(dir.path()).await.unwrap();
    assert_eq!(
        loaded.connectors.keys().collect::<Vec<_>>(),
        ["acme", "hostile"]
    );
    let failures: Vec<String> = loaded
        .failures
        .iter()
        .map(|(p, e)| format!("{}: {e}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(
        failures[0].starts_with("b-acme-copy.wasm: vendor \"acme\" is already provided"),
        "{failures:?}"
    );
    assert!(
        failures[1].starts_with("d-old.wasm: component was built for connector contract 0.9.0"),
        "{failures:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_template_reads_a_simulated_property_record_for_record_across_pages() {
    let portfolio = generate(&Spec {
        seed: 11,
        properties: vec![("acme".into(), "P7".into(), 260)],
    });
    let truth = portfolio.properties[0].clone();
    assert!(
        truth.residents.len() > 200,
        "enough records for several pages"
    );
    let sim = Simulator::start(portfolio).await.unwrap();
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let acme = rt
        .load_file(guests::EPMS_CONNECTOR_TEMPLATE.as_ref())
        .await
        .unwrap();
    let credential = acme_credential(&acme, &sim);
    let mut session = rt.session(&acme, &credential).await.unwrap();
    session.check().await.unwrap();
    let props = session.list_properties().await.unwrap();
    assert_eq!(props.len(), 1);
    assert_eq!(props[0].id, "P7");
    assert_eq!(session.all_units("P7").await.unwrap(), truth.units);
    let residents = warnings_by_field(session.all_residents("P7").await.unwrap());
    assert!(
        residents.iter().any(|r| !r.warnings.is_empty()),
        "the truth has a malformed email"
    );
    assert_eq!(residents, truth.residents);
    assert_eq!(session.all_leases("P7").await.unwrap(), truth.leases);
    assert!(rt.outbound().requests >= 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_credential_is_an_auth_error() {
    let portfolio = generate(&Spec {
        seed: 1,
        properties: vec![("acme".into(), "P1".into(), 5)],
    });
    let sim = Simulator::start(portfolio).await.unwrap();
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let acme = rt
        .load_file(guests::EPMS_CONNECTOR_TEMPLATE.as_ref())
        .await
        .unwrap();
    let credential = Credential::from_fields(
        acme.info(),
        fields(&[
            ("base-url", &sim.base_url("acme").unwrap()),
            ("api-token", "wrong"),
        ]),
    )
    .unwrap();
    let mut session = rt.session(&acme, &credential).await.unwrap();
    let err = session.check().await.unwrap_err();
    assert!(
        matches!(err, CallError::Connector(ConnectorError::Auth { .. })),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_loopback_access_the_simulator_is_unreachable() {
    let portfolio = generate(&Spec {
        seed: 1,
        properties: vec![("acme".into(), "P1".into(), 5)],
    });
    let sim = Simulator::start(portfolio).await.unwrap();
    let cache = tempfile::tempdir().unwrap();
    // The production default: loopback refused after resolution.
    let rt = epms_runtime::Runtime::new(epms_runtime::RuntimeConfig::new(cache.path())).unwrap();
    let acme = rt
        .load_file(guests::EPMS_CONNECTOR_TEMPLATE.as_ref())
        .await
        .unwrap();
    let credential = Credential::from_fields(
        acme.info(),
        fields(&[
            ("base-url", &sim.base_url("acme").unwrap()),
            ("api-token", "x"),
        ]),
    )
    .unwrap();
    let mut session = rt.session(&acme, &credential).await.unwrap();
    let err = session.check().await.unwrap_err();
    assert!(
        matches!(err, CallError::Connector(ConnectorError::Config { .. })),
        "{err:?}"
    );
    assert!(session.last_denial().unwrap().contains("loopback"));
}
