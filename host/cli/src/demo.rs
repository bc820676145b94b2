//! `epms demo`: the whole pipeline on a generated portfolio.
//!
//! The built-in PMS simulator serves a generated portfolio on loopback; each bundled
//! connector is loaded into the sandbox; each vendor gets a credential (secrets sealed
//! in a fresh redb file), its PMS properties are listed and attached to a DOOR property
//! with Automated Access in Approval Required mode; a first sync imports residents and
//! lists PMS units, most units are then created in DOOR and mapped, a second sync
//! assigns units and proposes access, a third finds nothing to do and a fourth skips
//! planning. A summary table
//! follows. The admin API and the scheduler join with their issues.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Args;
use epms_engine::units_csv::{NewDoorUnit, plan_create_units};
use epms_engine::{AccessMode, Actor, AlertType, Plan, SuggestionKind};
use epms_runtime::{Credential, NetworkAccess, Runtime, RuntimeConfig};
use epms_store::{PropertyRecord, Role, SecretBox, Store, TokenRecord};
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
    /// Where the redb file goes (default: a new temporary directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Where the admin API listens once the demo is set up.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Print the summary and exit instead of serving the API.
    #[arg(long)]
    no_serve: bool,
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

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("epms-demo-{}", std::process::id())));
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let db_path = data_dir.join("epms.redb");
    if db_path.exists() {
        anyhow::bail!(
            "{} already exists: give the demo an empty --data-dir",
            db_path.display()
        );
    }
    let store = Store::open(&db_path, SecretBox::from_hex(&SecretBox::generate_hex())?)?;

    // One property per vendor, with the simulator's property ids.
    let properties = [
        ("yardi", "rnttrk01"),
        ("realpage", "3401"),
        ("entrata", "100"),
        ("mri", "500"),
        ("appfolio", "AF1"),
        ("acme", "ACME-1"),
    ];
    let portfolio = generate(&Spec {
        seed: args.seed,
        properties: properties
            .iter()
            .map(|(v, id)| ((*v).to_owned(), (*id).to_owned(), args.units))
            .collect(),
    });
    let sim = Simulator::start(portfolio.clone()).await?;
    // The demo reads every vendor a few times in a row; AppFolio's 7 requests / 15 s
    // limit would only slow it down (the connector honours it as a rate-limited error).
    sim.state.set_rate_limit("appfolio", false);
    println!(
        "PMS simulator on loopback: seed {}, {} units per property",
        args.seed, args.units
    );
    println!("data: {}", db_path.display());

    let mut config = RuntimeConfig::new(crate::default_cache_dir());
    // The simulator lives on loopback; production hosts keep this off.
    config.network = NetworkAccess {
        allow_loopback: true,
        allow_private: false,
    };
    let runtime = Runtime::new(config)?;
    let mut connectors = HashMap::new();
    for (package, wasm) in crate::bundled::BUNDLED {
        let c = runtime.load_bytes(wasm, package).await?;
        println!(
            "connector {} {} (contract {}) loaded in {:.1} ms",
            c.info().vendor,
            c.info().version,
            c.info().contract_version,
            c.load_time().as_secs_f64() * 1e3
        );
        connectors.insert(c.info().vendor.clone(), Arc::new(c));
    }

    let manager = Actor::Manager("demo".into());
    let mut properties = Vec::new();
    let mut vendors: Vec<_> = connectors.iter().collect();
    vendors.sort_by_key(|(v, _)| v.as_str());
    for (vendor, connector) in vendors {
        let Some(base_url) = sim.base_url(vendor) else {
            println!("{vendor}: no simulated API, skipped");
            continue;
        };
        // Setup, as an administrator does it: credential, check, attach PMS properties.
        let mut fields: BTreeMap<String, String> = portfolio
            .credential(vendor)
            .map(|c| c.fields.iter().cloned().collect())
            .unwrap_or_default();
        fields.insert("base-url".into(), base_url);
        let credential = Credential::from_fields(connector.info(), fields.clone())?;
        let mut session = runtime.session(connector, &credential).await?;
        session.check().await.context("checking the credential")?;
        let pms = session.list_properties().await?;
        let (plain, secret) = connector.info().split_secrets(fields);
        let cred_id = format!("{vendor}-credential");
        store.put_credential(&cred_id, vendor, plain, &secret)?;
        let id = format!("door-{vendor}");
        let mut record = PropertyRecord::new(
            &id,
            &format!("{} (demo)", connector.info().display_name),
            now(),
        );
        record.credential_id = Some(cred_id);
        record.pms_property_ids = pms.iter().map(|p| p.id.clone()).collect();
        record.settings.access.enabled = true;
        record.settings.access.mode = AccessMode::ApprovalRequired;
        store.create_property(&record)?;
        properties.push(id);
    }

    for id in &properties {
        let started = Instant::now();
        let first = epms_sync::sync_once(&runtime, &store, &connectors, id, now()).await?;
        println!(
            "{id}: first sync in {:.0} ms: {} accounts created, {} alerts",
            started.elapsed().as_secs_f64() * 1e3,
            first.accounts_created,
            first.alerts_opened
        );
        // Unit Sync setup: create and map nine PMS units in ten; the rest stay unmapped.
        let state = store.load_state(id)?;
        let units: Vec<NewDoorUnit> = state
            .pms_units
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 10 != 9)
            .map(|(_, u)| NewDoorUnit {
                name: format!(
                    "{} {}",
                    u.unit.building.clone().unwrap_or_default(),
                    u.unit.number
                ),
                building: u.unit.building.clone(),
            })
            .collect();
        let plan = plan_create_units(&state, &units, &manager, now())?;
        store.apply(id, &plan, None)?;
        let state = store.load_state(id)?;
        let mut mapping = Plan::empty(&state);
        for (pms, door) in state
            .pms_units
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 10 != 9)
            .map(|(_, u)| u)
            .zip(state.door_units.keys())
        {
            mapping.mappings_set.push((pms.key.clone(), *door));
        }
        store.apply(id, &mapping, None)?;
        let second = epms_sync::sync_once(&runtime, &store, &connectors, id, now()).await?;
        println!(
            "{id}: second sync: {} accounts updated, {} access suggestions",
            second.accounts_updated, second.suggestions_added
        );
        // Nothing changed in the PMS: the next sync plans nothing, the one after that
        // recognises the settled input and skips planning.
        let third = epms_sync::sync_once(&runtime, &store, &connectors, id, now()).await?;
        let fourth = epms_sync::sync_once(&runtime, &store, &connectors, id, now()).await?;
        let changes = third.accounts_created
            + third.accounts_updated
            + third.alerts_opened
            + third.suggestions_added;
        println!(
            "{id}: third sync: {changes} changes; fourth sync: {}",
            if fourth.skipped {
                "input settled, planning skipped"
            } else {
                "planned again"
            }
        );
    }

    println!();
    println!(
        "{:<14} {:>9} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>7} {:>7} {:>7}  last sync",
        "property",
        "residents",
        "dupEm",
        "noEm",
        "dupAcc",
        "name",
        "email",
        "gone",
        "grant",
        "revoke",
        "grey",
    );
    for id in &properties {
        let state = store.load_state(id)?;
        let record = store.property(id)?;
        let alerts = |t: AlertType| state.alerts.values().filter(|a| a.alert_type == t).count();
        let sugg = |k: SuggestionKind| state.suggestions.values().filter(|s| s.kind == k).count();
        println!(
            "{:<14} {:>9} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>7} {:>7} {:>7}  {}",
            id,
            state.accounts.len(),
            alerts(AlertType::DuplicateEmails),
            alerts(AlertType::MissingEmail),
            alerts(AlertType::DuplicateAccount),
            alerts(AlertType::NameMismatch),
            alerts(AlertType::EmailMismatch),
            alerts(AlertType::MissingFromPms),
            sugg(SuggestionKind::Grant),
            sugg(SuggestionKind::Revoke),
            sugg(SuggestionKind::NoChange),
            record
                .last_sync_ok
                .map(|t| format!("{t} (unix)"))
                .unwrap_or_else(|| "never".into()),
        );
    }
    let out = runtime.outbound();
    println!(
        "outbound HTTP: {} requests, {} denied, {} KiB received; access feed: {} events",
        out.requests,
        out.denied,
        out.bytes_received / 1024,
        store.feed(0, usize::MAX)?.len()
    );
    if args.no_serve {
        return Ok(());
    }

    // Keep serving: the admin API and hourly syncs over the same store and simulator.
    let token = epms_api::new_token();
    store.put_token(
        &epms_api::token_hash(&token),
        &TokenRecord {
            name: "demo admin".into(),
            role: Role::Admin,
            properties: Vec::new(),
            created_at: now(),
        },
    )?;
    let config = crate::service::Config {
        listen: args.listen.clone(),
        data_dir,
        ..Default::default()
    };
    let listener = crate::service::bind(&config).await?;
    let state = epms_api::AppState::new(Arc::new(store), Arc::new(runtime), connectors);
    let base = format!("http://{}", args.listen);
    let first = properties
        .first()
        .map(String::as_str)
        .unwrap_or("door-yardi");
    println!();
    println!("admin API on {base} (Ctrl-C stops it); admin token, shown once:");
    println!("  {token}");
    println!("try:");
    println!("  curl -s -H 'Authorization: Bearer {token}' {base}/api/v1/properties");
    println!(
        "  curl -s -H 'Authorization: Bearer {token}' {base}/api/v1/properties/{first}/alerts"
    );
    println!(
        "  curl -s -X POST -H 'Authorization: Bearer {token}' {base}/api/v1/properties/{first}/sync"
    );
    crate::service::serve(listener, state, &config).await
}
