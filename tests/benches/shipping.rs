//! Shipping benchmarks: what it costs to check a signature, install a connector
//! version (signature, validation, compilation, storage) and dry-run it against a
//! large property, through the admin API over loopback.
//!
//! Run: `cargo bench -p epms-e2e --bench shipping`.

/// The allocator of the `epms` binary: the figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use epms_e2e::api_host::Host;
use epms_e2e::guests;
use epms_runtime::signing::{SecretKey, TrustedKeys};
use serde_json::json;

const UNITS: usize = 5_000;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn bench() {
    let author = SecretKey::generate().unwrap();
    let wasm = std::fs::read(guests::EPMS_TEST_ACME_NEXT).unwrap();
    let trust = TrustedKeys {
        keys: vec![author.public()],
        allow_unsigned: false,
    };
    let signature = author.sign(&wasm);
    let mut checks: Vec<Duration> = (0..200)
        .map(|_| {
            let started = Instant::now();
            trust.verify(&wasm, Some(&signature)).unwrap();
            started.elapsed()
        })
        .collect();
    checks.sort();
    println!(
        "signature check of a {} KiB component: median {:.3} ms (SHA-256 of the bytes + ed25519)",
        wasm.len() / 1024,
        ms(checks[checks.len() / 2])
    );

    let h = Host::start(11, UNITS).await;
    *h.state.trust.write().unwrap() = trust;
    let property = h.set_up("acme", "ACME-1").await;
    let started = Instant::now();
    h.sync(&property).await;
    println!(
        "first sync of the {UNITS}-unit acme property: {:.0} ms",
        ms(started.elapsed())
    );

    let started = Instant::now();
    let (status, _, body) = h
        .request_with_headers(
            "POST",
            "/api/v1/connectors/versions",
            Some(&h.admin),
            &[
                ("content-type", "application/wasm"),
                ("x-epms-signature", &signature),
            ],
            wasm.clone(),
        )
        .await;
    let install = started.elapsed();
    assert!(status.is_success(), "{status}");
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let sha = answer["version"]["sha256"].as_str().unwrap().to_owned();
    println!(
        "install over HTTP (signature, validation, compilation on a cache miss, storage): {:.0} ms",
        ms(install)
    );

    let mut runs = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let report = h
            .admin(
                "POST",
                &format!("/api/v1/properties/{property}/dry-run"),
                Some(json!({ "sha256": sha })),
            )
            .await;
        runs.push(started.elapsed());
        assert_eq!(report["identical"], false);
    }
    runs.sort();
    println!(
        "dry run on {UNITS} units (both versions read the PMS and plan; compared): median {:.0} ms of 3 (min {:.0}, max {:.0})",
        ms(runs[1]),
        ms(runs[0]),
        ms(runs[2])
    );

    let started = Instant::now();
    h.admin(
        "POST",
        "/api/v1/connectors/acme/activate",
        Some(json!({ "sha256": sha })),
    )
    .await;
    println!("activation over HTTP: {:.2} ms", ms(started.elapsed()));
}

fn main() {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    tokio.block_on(bench());
}
