//! `epms connector inspect|fetch`: load one component and look at it, or read one PMS
//! property through it, exactly as the host would. The shipping commands (keygen,
//! sign, install, activate, …) live in `shipping_cmd`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use epms_model::RecordKind;
use epms_runtime::{CallError, Credential, NetworkAccess, Runtime, RuntimeConfig};

#[derive(Subcommand)]
pub enum ConnectorCommand {
    /// Prints a component's vendor, version, contract version, config fields and status vocabulary.
    Inspect {
        /// The component (`.wasm`).
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Reads one PMS property through a component; prints one JSON object per record.
    Fetch {
        /// The component (`.wasm`).
        file: PathBuf,
        /// A TOML file with the credential's fields (`base-url = "…"`, secrets included).
        #[arg(long)]
        config: PathBuf,
        /// The PMS property id.
        #[arg(long)]
        property: String,
        /// Which records: units, residents or leases.
        #[arg(long)]
        what: RecordKind,
        #[command(flatten)]
        common: CommonArgs,
    },
    #[command(flatten)]
    Shipping(crate::shipping_cmd::ShippingCommand),
}

#[derive(Args)]
pub struct CommonArgs {
    /// Where compiled components are cached.
    #[arg(long, env = "EPMS_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Let the connector reach loopback addresses (a local simulator).
    #[arg(long)]
    allow_loopback: bool,
    /// Let the connector reach private-network addresses.
    #[arg(long)]
    allow_private: bool,
}

impl CommonArgs {
    pub fn runtime(&self) -> anyhow::Result<Runtime> {
        let mut config = RuntimeConfig::new(
            self.cache_dir
                .clone()
                .unwrap_or_else(crate::default_cache_dir),
        );
        config.network = NetworkAccess {
            allow_loopback: self.allow_loopback,
            allow_private: self.allow_private,
        };
        Runtime::new(config).context("starting the plugin runtime")
    }
}

/// Exit statuses: 1 the component or the arguments are unusable, 2 the PMS (through
/// the connector) answered with a typed error, 3 the connector itself failed (trap,
/// limit, broken contract).
const EXIT_LOAD: u8 = 1;
const EXIT_CONNECTOR: u8 = 2;
const EXIT_GUEST: u8 = 3;

pub async fn run(cmd: ConnectorCommand) -> ExitCode {
    let outcome = match cmd {
        ConnectorCommand::Inspect { file, json, common } => inspect(&file, json, &common).await,
        ConnectorCommand::Fetch {
            file,
            config,
            property,
            what,
            common,
        } => fetch(&file, &config, &property, what, &common).await,
        ConnectorCommand::Shipping(cmd) => {
            crate::shipping_cmd::run(cmd).await.map_err(Failure::Load)
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Load(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_LOAD)
        }
        Err(Failure::Call(e)) => {
            let body = serde_json::json!({
                "error": { "code": e.code(), "message": e.to_string(), "retryable": e.is_retryable() }
            });
            eprintln!("{body}");
            ExitCode::from(match e {
                CallError::Connector(_) => EXIT_CONNECTOR,
                _ => EXIT_GUEST,
            })
        }
    }
}

enum Failure {
    Load(anyhow::Error),
    Call(CallError),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Load(e)
    }
}

impl From<CallError> for Failure {
    fn from(e: CallError) -> Self {
        Failure::Call(e)
    }
}

async fn inspect(file: &Path, json: bool, common: &CommonArgs) -> Result<(), Failure> {
    let runtime = common.runtime()?;
    let connector = runtime
        .load_file(file)
        .await
        .with_context(|| format!("loading {}", file.display()))?;
    let info = connector.info();
    if json {
        let out = serde_json::json!({
            "info": info,
            "sha256": connector.sha256(),
            "load_ms": connector.load_time().as_secs_f64() * 1e3,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(anyhow::Error::from)?
        );
        return Ok(());
    }
    println!("vendor:            {} ({})", info.vendor, info.display_name);
    println!("version:           {}", info.version);
    println!(
        "contract:          door:connector@{}",
        info.contract_version
    );
    println!("sha256:            {}", connector.sha256());
    println!("config fields:");
    for f in &info.config_fields {
        let flags = match (f.required, f.secret) {
            (true, true) => "required, secret",
            (true, false) => "required",
            (false, true) => "optional, secret",
            (false, false) => "optional",
        };
        println!("  {:<16} {} [{flags}]", f.name, f.label);
    }
    println!("status vocabulary: {}", info.status_vocabulary.join(", "));
    Ok(())
}

/// Reads a flat TOML table of strings.
fn read_fields(path: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let table: BTreeMap<String, toml::Value> =
        toml::from_str(&text).with_context(|| format!("{} is not a TOML table", path.display()))?;
    table
        .into_iter()
        .map(|(k, v)| match v {
            toml::Value::String(s) => Ok((k, s)),
            toml::Value::Integer(i) => Ok((k, i.to_string())),
            other => anyhow::bail!("field {k:?} must be a string, not {}", other.type_str()),
        })
        .collect()
}

async fn fetch(
    file: &Path,
    config: &Path,
    property: &str,
    what: RecordKind,
    common: &CommonArgs,
) -> Result<(), Failure> {
    let runtime = common.runtime()?;
    let connector = runtime
        .load_file(file)
        .await
        .with_context(|| format!("loading {}", file.display()))?;
    let credential = Credential::from_fields(connector.info(), read_fields(config)?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", config.display()))?;
    let mut session = runtime.session(&connector, &credential).await?;
    let lines: Vec<String> = match what {
        RecordKind::Units => to_lines(session.all_units(property).await?),
        RecordKind::Residents => to_lines(session.all_residents(property).await?),
        RecordKind::Leases => to_lines(session.all_leases(property).await?),
    }
    .map_err(anyhow::Error::from)?;
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for line in lines {
        writeln!(out, "{line}").map_err(anyhow::Error::from)?;
    }
    Ok(())
}

fn to_lines<T: serde::Serialize>(records: Vec<T>) -> serde_json::Result<Vec<String>> {
    records.iter().map(serde_json::to_string).collect()
}
