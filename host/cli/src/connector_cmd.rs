//! `epms connector inspect|check|properties|fetch|record|replay`: load one component and
//! look at it, call each of its exports as the host would, record a session's HTTP
//! exchanges to a cassette, or replay one with no network. The shipping commands
//! (keygen, sign, install, activate, …) live in `shipping_cmd`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use epms_model::RecordKind;
use epms_runtime::cassette::{Cassette, Player, Recorder, Tape};
use epms_runtime::{
    CallError, ConnectorSession, Credential, LoadedConnector, NetworkAccess, Runtime, RuntimeConfig,
};

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
        #[command(flatten)]
        component: ComponentArgs,
        /// The PMS property id.
        #[arg(long)]
        property: String,
        /// Which records: units, residents or leases.
        #[arg(long)]
        what: RecordKind,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Validates a credential against the PMS (the connector's `check`).
    Check {
        #[command(flatten)]
        component: ComponentArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Lists the PMS properties a credential sees, one JSON object a line.
    Properties {
        #[command(flatten)]
        component: ComponentArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Runs what a sync runs (check, properties, units, residents, leases) against a real
    /// PMS and writes every HTTP exchange to a cassette. Requests are kept as the
    /// connector wrote them, so the cassette holds secret placeholders, never secrets.
    Record {
        #[command(flatten)]
        component: ComponentArgs,
        /// The PMS property id.
        #[arg(long)]
        property: String,
        /// Where to write the cassette (JSON).
        #[arg(long)]
        out: PathBuf,
        /// Replace personal fields of the answers (names, emails, phones) by pseudonyms.
        #[arg(long)]
        mask_personal: bool,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Runs a component against a cassette with no network; a request the cassette does
    /// not hold fails the run. Prints the records of `--what`, or a summary.
    Replay {
        /// The component (`.wasm`).
        file: PathBuf,
        /// The cassette `record` wrote.
        #[arg(long)]
        cassette: PathBuf,
        /// The PMS property id.
        #[arg(long)]
        property: String,
        /// Print these records (units, residents or leases) instead of a summary.
        #[arg(long)]
        what: Option<RecordKind>,
        #[command(flatten)]
        common: CommonArgs,
    },
    #[command(flatten)]
    Shipping(crate::shipping_cmd::ShippingCommand),
}

/// A component and the credential to run it with.
#[derive(Args)]
pub struct ComponentArgs {
    /// The component (`.wasm`).
    file: PathBuf,
    /// A TOML file with the credential's fields (`base-url = "…"`, secrets included).
    #[arg(long)]
    config: PathBuf,
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
            component,
            property,
            what,
            common,
        } => fetch(&component, &property, what, &common).await,
        ConnectorCommand::Check { component, common } => check(&component, &common).await,
        ConnectorCommand::Properties { component, common } => properties(&component, &common).await,
        ConnectorCommand::Record {
            component,
            property,
            out,
            mask_personal,
            common,
        } => record(&component, &property, &out, mask_personal, &common).await,
        ConnectorCommand::Replay {
            file,
            cassette,
            property,
            what,
            common,
        } => replay(&file, &cassette, &property, what, &common).await,
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
    let connector = load(&runtime, file).await?;
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

/// The component and a session for the credential in `config`.
async fn open(
    component: &ComponentArgs,
    common: &CommonArgs,
    tape: Tape,
) -> Result<(LoadedConnector, Credential, ConnectorSession), Failure> {
    let runtime = common.runtime()?;
    let connector = load(&runtime, &component.file).await?;
    let config = &component.config;
    let credential = Credential::from_fields(connector.info(), read_fields(config)?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", config.display()))?;
    let session = runtime
        .session_with_tape(&connector, &credential, tape)
        .await?;
    Ok((connector, credential, session))
}

async fn load(runtime: &Runtime, file: &Path) -> anyhow::Result<LoadedConnector> {
    runtime
        .load_file(file)
        .await
        .with_context(|| format!("loading {}", file.display()))
}

async fn check(component: &ComponentArgs, common: &CommonArgs) -> Result<(), Failure> {
    let (_, _, mut session) = open(component, common, Tape::Off).await?;
    session.check().await?;
    println!("credential accepted");
    Ok(())
}

async fn properties(component: &ComponentArgs, common: &CommonArgs) -> Result<(), Failure> {
    let (_, _, mut session) = open(component, common, Tape::Off).await?;
    print_lines(to_lines(session.list_properties().await?).map_err(anyhow::Error::from)?)
}

async fn fetch(
    component: &ComponentArgs,
    property: &str,
    what: RecordKind,
    common: &CommonArgs,
) -> Result<(), Failure> {
    let (_, _, mut session) = open(component, common, Tape::Off).await?;
    print_lines(read(&mut session, property, what).await?)
}

/// Every record of one kind, as JSON lines.
async fn read(
    session: &mut ConnectorSession,
    property: &str,
    what: RecordKind,
) -> Result<Vec<String>, Failure> {
    Ok(match what {
        RecordKind::Units => to_lines(session.all_units(property).await?),
        RecordKind::Residents => to_lines(session.all_residents(property).await?),
        RecordKind::Leases => to_lines(session.all_leases(property).await?),
    }
    .map_err(anyhow::Error::from)?)
}

/// What a sync calls, in its order; the number of records of each kind.
async fn whole_session(
    session: &mut ConnectorSession,
    property: &str,
) -> Result<[(RecordKind, usize); 3], Failure> {
    session.check().await?;
    session.list_properties().await?;
    let mut counts = [
        (RecordKind::Units, 0),
        (RecordKind::Residents, 0),
        (RecordKind::Leases, 0),
    ];
    for (kind, count) in &mut counts {
        *count = read(session, property, *kind).await?.len();
    }
    Ok(counts)
}

fn print_counts(counts: &[(RecordKind, usize)]) {
    for (kind, n) in counts {
        println!("{kind:?}: {n}");
    }
}

async fn record(
    component: &ComponentArgs,
    property: &str,
    out: &Path,
    mask_personal: bool,
    common: &CommonArgs,
) -> Result<(), Failure> {
    let recorder = Recorder::default();
    let (connector, credential, mut session) =
        open(component, common, Tape::Record(recorder.clone())).await?;
    let counts = whole_session(&mut session, property).await?;
    let mut cassette = Cassette::new(&connector, &credential, &recorder);
    if mask_personal {
        cassette.mask();
    }
    std::fs::write(out, cassette.to_json())
        .with_context(|| format!("writing {}", out.display()))?;
    println!(
        "{} exchanges recorded to {}",
        cassette.exchanges.len(),
        out.display()
    );
    print_counts(&counts);
    Ok(())
}

async fn replay(
    file: &Path,
    cassette_path: &Path,
    property: &str,
    what: Option<RecordKind>,
    common: &CommonArgs,
) -> Result<(), Failure> {
    let text = std::fs::read_to_string(cassette_path)
        .with_context(|| format!("reading {}", cassette_path.display()))?;
    let cassette = Cassette::from_json(&text)
        .with_context(|| format!("reading {}", cassette_path.display()))?;
    let runtime = common.runtime()?;
    let connector = load(&runtime, file).await?;
    if connector.sha256() != cassette.connector.sha256 {
        eprintln!(
            "note: recorded with {} {} ({}), replayed with {} {}",
            cassette.connector.vendor,
            cassette.connector.version,
            &cassette.connector.sha256[..cassette.connector.sha256.len().min(12)],
            connector.info().vendor,
            connector.info().version
        );
    }
    let credential = cassette
        .credential(connector.info())
        .map_err(|e| anyhow::anyhow!("{}: {e}", cassette_path.display()))?;
    let mut session = runtime
        .session_with_tape(
            &connector,
            &credential,
            Tape::Replay(Player::new(&cassette)),
        )
        .await?;
    match what {
        Some(kind) => print_lines(read(&mut session, property, kind).await?),
        None => {
            print_counts(&whole_session(&mut session, property).await?);
            Ok(())
        }
    }
}

fn print_lines(lines: Vec<String>) -> Result<(), Failure> {
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
