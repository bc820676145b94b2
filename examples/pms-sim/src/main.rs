//! `pms-sim`: the PMS simulator as a program.
//!
//! - `pms-sim dataset` prints the generated portfolio as canonical JSON: what each
//!   connector must return (plus the credentials the simulator accepts).
//! - `pms-sim serve` serves it, prints the manifest (per vendor: base URL, credential,
//!   PMS property ids; and the control API's URL) and runs until interrupted.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use pms_sim::Simulator;
use pms_sim::dataset::{Spec, generate};

#[derive(Parser)]
#[command(
    name = "pms-sim",
    about = "A PMS simulator: five vendors' wire formats on loopback"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Prints the generated portfolio as canonical JSON.
    Dataset(Portfolio),
    /// Serves the portfolio and prints the manifest.
    Serve {
        #[command(flatten)]
        portfolio: Portfolio,
        /// Also write the manifest to this file.
        #[arg(long)]
        manifest: Option<PathBuf>,
    },
}

#[derive(Args)]
struct Portfolio {
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Units of each property.
    #[arg(long, default_value_t = 200)]
    units: usize,
    /// Vendors to simulate, one property each.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "yardi,realpage,entrata,mri,appfolio,rentmanager"
    )]
    vendors: Vec<String>,
}

impl Portfolio {
    fn spec(&self) -> anyhow::Result<Spec> {
        let ids = [
            ("yardi", "rnttrk01"),
            ("realpage", "3401"),
            ("entrata", "100"),
            ("mri", "500"),
            ("appfolio", "17"),
            ("rentmanager", "11"),
            ("acme", "ACME-1"),
        ];
        let mut properties = Vec::new();
        for v in &self.vendors {
            let Some((_, id)) = ids.iter().find(|(name, _)| name == v) else {
                anyhow::bail!(
                    "unknown vendor {v:?}; known: yardi, realpage, entrata, mri, appfolio, rentmanager, acme"
                );
            };
            properties.push((v.clone(), (*id).to_owned(), self.units));
        }
        Ok(Spec {
            seed: self.seed,
            properties,
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Dataset(p) => {
            let portfolio = generate(&p.spec()?);
            println!("{}", serde_json::to_string_pretty(&portfolio)?);
        }
        Command::Serve {
            portfolio,
            manifest,
        } => {
            let sim = Simulator::generate(portfolio.spec()?).await?;
            let text = serde_json::to_string_pretty(&sim.manifest())?;
            if let Some(path) = manifest {
                std::fs::write(&path, &text)?;
            }
            println!("{text}");
            tokio::signal::ctrl_c().await?;
        }
    }
    Ok(())
}
