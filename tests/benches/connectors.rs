//! Connector benchmarks: a full read (units + residents + leases) of a 5,000-unit
//! property through the host, per connector, against the simulator on loopback.
//! Target ≤ 1 s each. Also: component size, one-off compile time, load from cache.
//!
//! The split: "HTTP" is the time requests spent in the host's outbound gate (the
//! simulator's answer included); "guest + boundary" is the rest of the calls: the
//! guest parsing and mapping, and the records crossing into the host. The crossing
//! alone is estimated from `benches/runtime.rs` (≈ 0.7–0.8 µs a record).
//!
//! Run: `cargo bench -p epms-e2e --bench connectors`.

use std::time::{Duration, Instant};

use epms_e2e::{VENDORS, loopback_runtime, sim_credential};
use epms_runtime::SandboxLimits;
use pms_sim::Simulator;
use pms_sim::dataset::Spec;

/// Per-record crossing cost measured by the runtime benchmark (for the estimate).
const CROSSING: Duration = Duration::from_nanos(750);

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    tokio.block_on(async {
        let sim = Simulator::generate(Spec {
            seed: 2026,
            properties: VENDORS.iter().map(|(v, id, _)| ((*v).to_owned(), (*id).to_owned(), 5_000)).collect(),
        })
        .await
        .unwrap();
        sim.state.set_rate_limit("appfolio", false);
        let cache = tempfile::tempdir().unwrap();
        let limits = SandboxLimits { memory_bytes: 256 << 20, ..SandboxLimits::default() };
        let runtime = loopback_runtime(cache.path(), limits);
        println!(
            "{:<9} {:>8} {:>10} {:>9} {:>8} {:>9} {:>8} {:>12} {:>10}  target",
            "vendor", "KiB", "compile ms", "cache ms", "records", "read ms", "HTTP ms", "guest+bnd ms", "~crossing"
        );
        for (vendor, property, wasm) in VENDORS {
            let size = std::fs::metadata(wasm).unwrap().len() / 1024;
            let compiled = runtime.load_file(wasm.as_ref()).await.unwrap();
            let compile = compiled.load_time();
            let connector = runtime.load_file(wasm.as_ref()).await.unwrap();
            let cached = connector.load_time();
            let credential = sim_credential(&sim, vendor, &connector);
            let mut runs = Vec::new();
            let mut records = 0;
            for _ in 0..3 {
                let before = runtime.outbound();
                let started = Instant::now();
                let mut session = runtime.session(&connector, &credential).await.unwrap();
                let units = session.all_units(property).await.unwrap().len();
                let residents = session.all_residents(property).await.unwrap().len();
                let leases = session.all_leases(property).await.unwrap().len();
                let total = started.elapsed();
                let http = Duration::from_nanos(runtime.outbound().nanos - before.nanos);
                records = units + residents + leases;
                runs.push((total, http));
            }
            runs.sort();
            let (total, http) = runs[1];
            println!(
                "{vendor:<9} {size:>8} {:>10.1} {:>9.2} {records:>8} {:>9.1} {:>8.1} {:>12.1} {:>10.1}  <= 1000 ms {}",
                ms(compile),
                ms(cached),
                ms(total),
                ms(http),
                ms(total.saturating_sub(http)),
                ms(CROSSING * records as u32),
                if total <= Duration::from_secs(1) { "ok" } else { "MISSED" }
            );
        }
    });
}
