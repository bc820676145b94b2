//! `epms connector inspect|fetch` as a connector author runs them: the real binary,
//! the bundled template component, the simulator on loopback.

use std::process::Command;

use pms_sim::Simulator;
use pms_sim::dataset::{Spec, generate};

const TEMPLATE: &str = env!("EPMS_CONNECTOR_TEMPLATE_WASM");

fn epms(cache: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_epms"));
    cmd.env("EPMS_CACHE_DIR", cache);
    cmd
}

#[test]
fn inspect_prints_the_contract_facts() {
    let cache = tempfile::tempdir().unwrap();
    let out = epms(cache.path())
        .args(["connector", "inspect", TEMPLATE, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["info"]["vendor"], "acme");
    assert_eq!(json["info"]["contract_version"], "1.0.0");
    assert_eq!(json["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn inspect_refuses_a_file_that_is_not_a_component() {
    let cache = tempfile::tempdir().unwrap();
    let junk = cache.path().join("junk.wasm");
    std::fs::write(&junk, "not wasm").unwrap();
    let out = epms(cache.path())
        .args(["connector", "inspect"])
        .arg(&junk)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a WebAssembly component"));
}

#[test]
fn fetch_prints_one_json_object_per_record_or_the_typed_error() {
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let portfolio = generate(&Spec {
        seed: 5,
        properties: vec![("acme".into(), "P5".into(), 120)],
    });
    let truth = portfolio.properties[0].leases.clone();
    let sim = tokio.block_on(Simulator::start(portfolio)).unwrap();
    let base = sim.base_url("acme").unwrap();
    let cache = tempfile::tempdir().unwrap();
    let config = cache.path().join("acme.toml");
    let fetch = |token: &str| {
        std::fs::write(
            &config,
            format!("base-url = \"{base}\"\napi-token = \"{token}\"\n"),
        )
        .unwrap();
        epms(cache.path())
            .args([
                "connector",
                "fetch",
                TEMPLATE,
                "--property",
                "P5",
                "--what",
                "leases",
                "--allow-loopback",
                "--config",
            ])
            .arg(&config)
            .output()
            .unwrap()
    };

    let ok = fetch(pms_sim::vendors::acme::TOKEN);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let leases: Vec<epms_model::Lease> = String::from_utf8(ok.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(leases, truth);

    let denied = fetch("wrong-token");
    assert_eq!(denied.status.code(), Some(2));
    let err: serde_json::Value = serde_json::from_slice(&denied.stderr).unwrap();
    assert_eq!(err["error"]["code"], "auth");
    drop(sim);
}

#[test]
fn the_demo_runs_the_whole_pipeline_and_settles() {
    let cache = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let out = epms(cache.path())
        .args(["demo", "--units", "60", "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("third sync: 0 changes; fourth sync: input settled"),
        "{stdout}"
    );
    assert!(data.path().join("epms.redb").is_file());
    // A second run refuses to reuse a database.
    let again = epms(cache.path())
        .args(["demo", "--units", "60", "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(!again.status.success());
}
