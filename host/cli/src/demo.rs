//! `epms demo`: the bundled connectors against the built-in PMS simulator.
//!
//! For now this shows the plugin host end to end: a generated portfolio served on
//! loopback, each bundled connector loaded into the sandbox, its credential checked,
//! its PMS properties listed and read in full. The reconciliation engine and the
//! admin API join it as they land.

use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use epms_runtime::{Credential, NetworkAccess, Runtime, RuntimeConfig};
use pms_sim::Simulator;
use pms_sim::dataset::{Spec, generate};

#[derive(Args)]
pub struct DemoArgs {
    /// Seed of the generated portfolio.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Units per simulated property.
    #[arg(long, default_value_t = 500)]
    units: usize,
}

pub async fn run(args: DemoArgs) -> ExitCode {
    match demo(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let portfolio = generate(&Spec {
        seed: args.seed,
        properties: vec![("acme".into(), "ACME-1".into(), args.units)],
    });
    let sim = Simulator::start(portfolio.clone()).await?;
    println!(
        "PMS simulator: seed {}, {} units per property",
        args.seed, args.units
    );

    let mut config = RuntimeConfig::new(crate::default_cache_dir());
    // The simulator lives on loopback; production hosts keep this off.
    config.network = NetworkAccess {
        allow_loopback: true,
        allow_private: false,
    };
    let runtime = Runtime::new(config)?;
    println!(
        "{:<10} {:<10} {:>9} {:>8} {:>9} {:>8} {:>10}",
        "vendor", "property", "load ms", "units", "residents", "leases", "read ms"
    );
    for (package, wasm) in crate::bundled::BUNDLED {
        let connector = runtime.load_bytes(wasm, package).await?;
        let info = connector.info();
        let Some(base_url) = sim.base_url(&info.vendor) else {
            println!("{:<10} (no simulated API for this vendor)", info.vendor);
            continue;
        };
        let mut fields: std::collections::BTreeMap<String, String> = portfolio
            .credential(&info.vendor)
            .map(|c| c.fields.iter().cloned().collect())
            .unwrap_or_default();
        fields.insert("base-url".into(), base_url);
        let credential = Credential::from_fields(info, fields)?;
        let mut session = runtime.session(&connector, &credential).await?;
        session.check().await?;
        for property in session.list_properties().await? {
            let started = Instant::now();
            let units = session.all_units(&property.id).await?;
            let residents = session.all_residents(&property.id).await?;
            let leases = session.all_leases(&property.id).await?;
            println!(
                "{:<10} {:<10} {:>9.1} {:>8} {:>9} {:>8} {:>10.1}",
                info.vendor,
                property.id,
                connector.load_time().as_secs_f64() * 1e3,
                units.len(),
                residents.len(),
                leases.len(),
                started.elapsed().as_secs_f64() * 1e3
            );
        }
    }
    let out = runtime.outbound();
    println!(
        "outbound HTTP: {} requests, {} denied, {} KiB received",
        out.requests,
        out.denied,
        out.bytes_received / 1024
    );
    Ok(())
}
