//! `epms demo`: the whole product on a generated portfolio, set up and operated
//! through the admin API.
//!
//! The built-in PMS simulator serves one generated property per vendor on loopback;
//! the bundled connectors are loaded into the sandbox; a fresh redb file holds the
//! data. Every step an administrator takes goes through the API's own handlers
//! (called in-process, so validation, plans and the audit log are the ones HTTP
//! requests get): credential, check, PMS properties, DOOR property, integration in
//! Approval Required mode; a first sync; DOOR units by CSV and a bulk mapping (one PMS
//! unit in ten stays unmapped); a second sync that assigns units and proposes access;
//! a first batch of approvals. Then life happens in the PMS, so that every alert type
//! and both kinds of pending access change are there to look at:
//!
//! - before the first sync: two residents share an email (Duplicate Emails), a DOOR
//!   account made by hand carries a resident's nickname (Name Mismatch), and the
//!   generated data already has residents without a usable email (Missing Email);
//! - after the approvals: a resident is renamed (Name Mismatch), one changes email
//!   (Email Mismatch), one vanishes from the PMS without a move-out (Missing From PMS
//!   after two complete syncs), one moves out (revokes pending), someone with a
//!   resident's name moves into that resident's unit with another email (Duplicate
//!   Account), and a newcomer moves into a mapped unit (grants pending).
//!
//! Two more syncs follow; a summary table per property, then the API keeps serving.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request};
use clap::Args;
use epms_engine::normalize;
use epms_model::{HouseholdRole, LeaseStatus, Resident};
use epms_runtime::{NetworkAccess, Runtime, RuntimeConfig};
use epms_store::AdminStore as _;
use epms_store::{RedbStore, Role, SecretBox, TokenRecord};
use pms_sim::Simulator;
use pms_sim::dataset::{Mutation, SimProperty, Spec, generate};
use serde_json::{Value, json};
use tower::ServiceExt;

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

/// The admin API, called in-process with an admin token.
struct Api {
    router: Router,
    token: String,
}

impl Api {
    async fn send(
        &self,
        method: Method,
        path: &str,
        ctype: &str,
        body: Body,
    ) -> anyhow::Result<Value> {
        let req = Request::builder()
            .method(method.clone())
            .uri(path)
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", ctype)
            .body(body)?;
        let resp = self.router.clone().oneshot(req).await?;
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            bail!(
                "{method} {path}: {status}: {}",
                value["detail"].as_str().unwrap_or("(no detail)")
            );
        }
        Ok(value)
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let body = body.map(|b| Body::from(b.to_string())).unwrap_or_default();
        self.send(method, path, "application/json", body).await
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Every person of a property, page by page.
    async fn people(&self, property: &str) -> anyhow::Result<Vec<Value>> {
        let mut all = Vec::new();
        let mut offset = 0;
        loop {
            let page = self
                .get(&format!(
                    "/api/v1/properties/{property}/people?limit=1000&offset={offset}"
                ))
                .await?;
            all.extend(page["people"].as_array().cloned().unwrap_or_default());
            match page["next_offset"].as_u64() {
                Some(next) => offset = next as usize,
                None => return Ok(all),
            }
        }
    }
}

/// One demo property: the vendor's simulated PMS property attached to a DOOR one.
struct Scene {
    vendor: String,
    pms_id: String,
    property: String,
}

impl Scene {
    fn path(&self, rest: &str) -> String {
        format!("/api/v1/properties/{}{rest}", self.property)
    }

    fn mutate(&self, sim: &Simulator, m: Mutation) -> anyhow::Result<()> {
        let done = sim.state.write(|p| p.apply(&m))?;
        tracing::debug!(property = %self.property, "{done}");
        Ok(())
    }

    fn sim_property<R>(&self, sim: &Simulator, f: impl FnOnce(&SimProperty) -> R) -> R {
        sim.state.read(|p| {
            f(p.property(&self.vendor, &self.pms_id)
                .expect("the scene's property is simulated"))
        })
    }

    /// Primaries of current leases with a usable email nobody else has and a name
    /// nobody else has: people a story can be told about without side plots.
    fn plain_residents(&self, sim: &Simulator) -> Vec<Resident> {
        self.sim_property(sim, |p| {
            // Lease holders (the first member: not every vendor names the role).
            let current: HashSet<&str> = p
                .leases
                .iter()
                .filter(|l| l.status == LeaseStatus::Current)
                .filter_map(|l| l.resident_ids.first().map(String::as_str))
                .collect();
            // Compared as the engine compares them.
            let email = |r: &Resident| r.email.as_deref().and_then(normalize::email);
            let name = |r: &Resident| normalize::name(&r.first_name, &r.last_name);
            let mut emails: HashMap<String, usize> = HashMap::new();
            let mut names: HashMap<String, usize> = HashMap::new();
            for r in &p.residents {
                if let Some(e) = email(r) {
                    *emails.entry(e).or_default() += 1;
                }
                *names.entry(name(r)).or_default() += 1;
            }
            p.residents
                .iter()
                .filter(|r| {
                    r.role != HouseholdRole::Guarantor
                        && current.contains(r.id.as_str())
                        && r.warnings.is_empty()
                        && !p.wire_emails.contains_key(&r.id)
                        && email(r).is_some_and(|e| emails[&e] == 1)
                        && names[&name(r)] == 1
                })
                .cloned()
                .collect()
        })
    }

    fn current_lease_of(&self, sim: &Simulator, resident: &str) -> Option<String> {
        self.sim_property(sim, |p| {
            p.leases
                .iter()
                .find(|l| {
                    l.status == LeaseStatus::Current && l.resident_ids.iter().any(|r| r == resident)
                })
                .map(|l| l.id.clone())
        })
    }

    async fn sync(&self, api: &Api, step: &str) -> anyhow::Result<Value> {
        let started = Instant::now();
        let report = api.post(&self.path("/sync"), json!({})).await?;
        let run = &report["run"];
        if run["outcome"] != "succeeded" {
            bail!("{}: {step} sync failed: {}", self.property, run["error"]);
        }
        println!(
            "  {:<15} {step:<7} sync {:>5.0} ms: {:>4} accounts created, {:>3} updated, {:>3} alerts opened, {:>4} access suggestions",
            self.property,
            started.elapsed().as_secs_f64() * 1e3,
            report["accounts_created"],
            report["accounts_updated"],
            report["alerts_opened"],
            report["suggestions_added"],
        );
        Ok(report)
    }
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
        bail!(
            "{} already exists: give the demo an empty --data-dir",
            db_path.display()
        );
    }
    let store = Arc::new(RedbStore::open(
        &db_path,
        SecretBox::from_hex(&SecretBox::generate_hex())?,
    )?);

    // One property per vendor, with the simulator's property ids.
    let vendors = [
        ("acme", "ACME-1"),
        ("appfolio", "17"),
        ("entrata", "100"),
        ("mri", "500"),
        ("realpage", "3401"),
        ("rentmanager", "11"),
        ("yardi", "rnttrk01"),
    ];
    let portfolio = generate(&Spec {
        seed: args.seed,
        properties: vendors
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
    let runtime = Arc::new(Runtime::new(config)?);
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
    let state = epms_api::AppState::new(store.clone(), runtime.clone(), connectors.clone());
    let api = Api {
        router: epms_api::app(state.clone()),
        token: token.clone(),
    };

    println!("\nsetting up through the admin API:");
    let mut scenes = Vec::new();
    for (vendor, pms_id) in vendors {
        if !connectors.contains_key(vendor) {
            println!("  {vendor}: no bundled connector, skipped");
            continue;
        }
        let Some(base_url) = sim.base_url(vendor) else {
            println!("  {vendor}: no simulated API, skipped");
            continue;
        };
        scenes.push(set_up(&api, &portfolio, vendor, pms_id, &base_url).await?);
    }

    println!("\nfirst syncs, units, approvals:");
    for scene in &scenes {
        before_first_sync(&api, &sim, scene).await?;
        scene.sync(&api, "first").await?;
        map_units(&api, scene).await?;
        scene.sync(&api, "second").await?;
    }
    println!("\nlife in the PMS (renames, a new email, move-in, move-out, a vanished resident):");
    for scene in &scenes {
        approve_and_change(&api, &sim, scene).await?;
        scene.sync(&api, "third").await?;
        scene.sync(&api, "fourth").await?;
    }

    summary(&api, &scenes).await?;
    let out = runtime.outbound();
    let feed = api.get("/api/v1/feed?limit=5000").await?;
    println!(
        "outbound HTTP: {} requests, {} denied, {} KiB received; access feed: {} events",
        out.requests,
        out.denied,
        out.bytes_received / 1024,
        feed["events"].as_array().map_or(0, Vec::len)
    );
    if args.no_serve {
        return Ok(());
    }

    // Keep serving: the admin API and hourly syncs over the same store and simulator.
    // Webhooks may reach loopback in the demo, as its connectors do: try a subscription
    // with a receiver on this machine.
    let config = crate::service::Config {
        listen: args.listen.clone(),
        data_dir,
        allow_loopback: true,
        ..Default::default()
    };
    let mut state = state;
    state.webhook_policy = Arc::new(config.webhook_policy());
    let listener = crate::service::bind(&config).await?;
    let base = format!("http://{}", args.listen);
    let first = scenes
        .first()
        .map(|s| s.property.as_str())
        .unwrap_or("door-yardi");
    // A property manager's token for the first property, to see the console as one.
    let manager = epms_api::new_token();
    state.store.put_token(
        &epms_api::token_hash(&manager),
        &TokenRecord {
            name: format!("demo manager of {first}"),
            role: Role::PropertyManager,
            properties: vec![first.to_owned()],
            created_at: now(),
        },
    )?;
    println!();
    println!("console on {base}/ (Ctrl-C stops it); sign in with a token, each shown once:");
    println!("  admin:                {token}");
    println!("  manager of {first:<10} {manager}");
    println!("admin API on {base}/api/v1; try:");
    println!("  curl -s -H 'Authorization: Bearer {token}' {base}/api/v1/properties");
    println!(
        "  curl -s -H 'Authorization: Bearer {token}' {base}/api/v1/properties/{first}/alerts"
    );
    println!(
        "  curl -s -X POST -H 'Authorization: Bearer {token}' {base}/api/v1/properties/{first}/sync"
    );
    crate::service::serve(listener, state, &config).await
}

/// The setup flow of the seed article: credential, check, PMS properties, DOOR
/// property, integration (Automated Access on, Approval Required).
async fn set_up(
    api: &Api,
    portfolio: &pms_sim::dataset::Portfolio,
    vendor: &str,
    pms_id: &str,
    base_url: &str,
) -> anyhow::Result<Scene> {
    let mut fields: BTreeMap<String, String> = portfolio
        .credential(vendor)
        .map(|c| c.fields.iter().cloned().collect())
        .unwrap_or_default();
    fields.insert("base-url".into(), base_url.to_owned());
    let credential = format!("{vendor}-credential");
    api.post(
        "/api/v1/credentials",
        json!({"id": credential, "vendor": vendor, "fields": fields}),
    )
    .await?;
    api.post(
        &format!("/api/v1/credentials/{credential}/check"),
        json!({}),
    )
    .await?;
    let listed = api
        .get(&format!("/api/v1/credentials/{credential}/pms-properties"))
        .await?;
    let pms_ids: Vec<String> = listed["properties"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["id"].as_str().map(str::to_owned))
        .collect();
    if !pms_ids.iter().any(|id| id == pms_id) {
        bail!("{vendor}: the credential does not see PMS property {pms_id} ({pms_ids:?})");
    }
    let property = format!("door-{vendor}");
    api.post(
        "/api/v1/properties",
        json!({"id": property, "name": format!("{vendor} demo property")}),
    )
    .await?;
    let mut settings = epms_engine::Settings::default();
    settings.access.enabled = true;
    api.call(
        Method::PUT,
        &format!("/api/v1/properties/{property}/integration"),
        Some(json!({"credential_id": credential, "pms_property_ids": [pms_id], "settings": settings})),
    )
    .await?;
    println!(
        "  {property:<15} credential checked, {} PMS properties seen, {pms_id} attached",
        pms_ids.len()
    );
    Ok(Scene {
        vendor: vendor.to_owned(),
        pms_id: pms_id.to_owned(),
        property,
    })
}

/// Two residents share an email; a hand-made DOOR account carries a nickname.
async fn before_first_sync(api: &Api, sim: &Simulator, scene: &Scene) -> anyhow::Result<()> {
    let plain = scene.plain_residents(sim);
    let [a, b, c, ..] = plain.as_slice() else {
        bail!(
            "{}: too few residents for the demo's stories",
            scene.property
        );
    };
    scene.mutate(
        sim,
        Mutation::DuplicateEmail {
            vendor: scene.vendor.clone(),
            property: scene.pms_id.clone(),
            resident: b.id.clone(),
            from: a.id.clone(),
        },
    )?;
    // "J." for "Jana": how people are often entered by hand.
    let nickname: String = c.first_name.chars().take(1).chain(['.']).collect();
    api.post(
        &scene.path("/accounts"),
        json!({"first_name": nickname, "last_name": c.last_name, "email": c.email}),
    )
    .await?;
    Ok(())
}

/// DOOR units by CSV for nine PMS units in ten, then one bulk mapping.
async fn map_units(api: &Api, scene: &Scene) -> anyhow::Result<()> {
    let listed = api.get(&scene.path("/pms-units")).await?;
    let units: Vec<&Value> = listed["units"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .filter(|(i, _)| i % 10 != 9)
        .map(|(_, u)| u)
        .collect();
    let mut csv = String::from("name,building\n");
    for u in &units {
        let building = u["unit"]["building"].as_str().unwrap_or_default();
        let number = u["unit"]["number"].as_str().unwrap_or_default();
        let name = format!("{building} {number}").trim().to_owned();
        csv.push_str(&format!(
            "\"{}\",\"{}\"\n",
            name.replace('"', "\"\""),
            building.replace('"', "\"\"")
        ));
    }
    let created = api
        .send(
            Method::POST,
            &scene.path("/door-units/csv"),
            "text/csv",
            Body::from(csv),
        )
        .await?;
    let door_units: Vec<u64> = created["door_units"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u["id"].as_u64())
        .collect();
    let mappings: Vec<Value> = units
        .iter()
        .zip(&door_units)
        .map(|(u, door)| json!({"pms_property": u["pms_property"], "unit": u["unit"]["id"], "door_unit": door}))
        .collect();
    let mapped = api
        .post(&scene.path("/mappings"), json!({ "mappings": mappings }))
        .await?;
    println!(
        "  {:<15} {} DOOR units from CSV, {} PMS units mapped, {} left unmapped",
        scene.property,
        door_units.len(),
        mapped["mapped"],
        listed["units"].as_array().map_or(0, Vec::len) - units.len()
    );
    Ok(())
}

/// Approves a first batch of suggestions, then changes the PMS under five residents
/// who got keys, and moves a newcomer in.
async fn approve_and_change(api: &Api, sim: &Simulator, scene: &Scene) -> anyhow::Result<()> {
    let plain: HashMap<String, Resident> = scene
        .plain_residents(sim)
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect();
    // Five plain residents, linked and assigned a unit, whose keys wait for approval.
    let people = api.people(&scene.property).await?;
    let chosen: Vec<(u64, Resident, Value)> = people
        .iter()
        .filter(|p| p["account"]["door_unit"].is_u64())
        .filter(|p| {
            p["access"]["pending"]
                .as_array()
                .is_some_and(|s| !s.is_empty())
        })
        .filter_map(|p| {
            let keys = p["pms_keys"].as_array()?;
            let [key] = keys.as_slice() else { return None };
            let resident = key.as_str()?.rsplit('/').next()?;
            let r = plain.get(resident)?.clone();
            Some((
                p["account"]["id"].as_u64()?,
                r,
                p["account"]["pms_unit"].clone(),
            ))
        })
        .take(5)
        .collect();
    let [renamed, new_email, vanished, moved_out, twin] = chosen.as_slice() else {
        bail!(
            "{}: too few residents with keys for the demo's stories",
            scene.property
        );
    };
    let mut ids: Vec<u64> = people
        .iter()
        .filter(|p| chosen.iter().any(|(a, ..)| p["account"]["id"] == *a))
        .flat_map(|p| {
            p["access"]["pending"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|s| s["id"].as_u64())
        .collect();
    let others = api.get(&scene.path("/suggestions")).await?;
    for s in others["suggestions"].as_array().into_iter().flatten() {
        if ids.len() >= epms_engine::access::MAX_APPROVE {
            break;
        }
        if let Some(id) = s["id"].as_u64().filter(|id| !ids.contains(id)) {
            ids.push(id);
        }
    }
    let approved = api
        .post(&scene.path("/suggestions/approve"), json!({ "ids": ids }))
        .await?;

    let (vendor, pms) = (scene.vendor.clone(), scene.pms_id.clone());
    let r = &renamed.1;
    scene.mutate(
        sim,
        Mutation::Rename {
            vendor: vendor.clone(),
            property: pms.clone(),
            resident: r.id.clone(),
            first_name: r.first_name.clone(),
            last_name: format!("{}-Okafor", r.last_name),
        },
    )?;
    let r = &new_email.1;
    scene.mutate(
        sim,
        Mutation::ChangeEmail {
            vendor: vendor.clone(),
            property: pms.clone(),
            resident: r.id.clone(),
            email: Some(format!("{}.new@example.net", r.id.to_lowercase())),
        },
    )?;
    let gone = vanished.1.id.clone();
    sim.state.write(|p| {
        if let Some(prop) = p
            .properties
            .iter_mut()
            .find(|x| x.vendor == vendor && x.id == pms)
        {
            prop.residents.retain(|r| r.id != gone);
            prop.leases.retain(|l| !l.resident_ids.contains(&gone));
        }
    });
    if let Some(lease) = scene.current_lease_of(sim, &moved_out.1.id) {
        scene.mutate(
            sim,
            Mutation::MoveOut {
                vendor: vendor.clone(),
                property: pms.clone(),
                lease,
            },
        )?;
    }
    // Someone with the twin's name moves into the twin's unit, with another email:
    // the same person twice, or two people? A Duplicate Account asks.
    let (r, unit) = (&twin.1, &twin.2);
    if let Some(unit) = unit["unit"].as_str() {
        scene.mutate(
            sim,
            Mutation::MoveIn {
                vendor: vendor.clone(),
                property: pms.clone(),
                unit: unit.to_owned(),
                first_name: r.first_name.clone(),
                last_name: r.last_name.clone(),
                email: Some(format!("{}.second@example.net", r.id.to_lowercase())),
            },
        )?;
        // And a newcomer moves into the same (mapped) unit: keys wait for approval.
        scene.mutate(
            sim,
            Mutation::MoveIn {
                vendor,
                property: pms,
                unit: unit.to_owned(),
                first_name: "Noor".into(),
                last_name: "Haddad".into(),
                email: Some(format!("noor.haddad.{}@example.net", scene.property)),
            },
        )?;
    }
    println!(
        "  {:<15} {} grants approved; 1 renamed, 1 new email, 1 vanished, 1 moved out, 2 moved in",
        scene.property, approved["grants_added"]
    );
    Ok(())
}

async fn summary(api: &Api, scenes: &[Scene]) -> anyhow::Result<()> {
    const ALERTS: [(&str, &str); 7] = [
        ("Duplicate Emails", "duplicate-emails"),
        ("Missing Email", "missing-email"),
        ("Duplicate Account", "duplicate-account"),
        ("Name Mismatch", "name-mismatch"),
        ("Email Mismatch", "email-mismatch"),
        ("Missing From PMS", "missing-from-pms"),
        ("Sync Held", "sync-held"),
    ];
    println!();
    for scene in scenes {
        let people = api.get(&scene.path("/people?limit=1")).await?;
        let units = api.get(&scene.path("/pms-units")).await?;
        let alerts = api.get(&scene.path("/alerts")).await?;
        let suggestions = api.get(&scene.path("/suggestions")).await?;
        let property = api.get(&scene.path("")).await?;
        let open: Vec<String> = ALERTS
            .iter()
            .filter_map(|(name, kind)| {
                let n = alerts["groups"][kind]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|a| a["state"] == "open")
                    .count();
                (n > 0).then(|| format!("{n} {name}"))
            })
            .collect();
        let kinds = |k: &str| {
            suggestions["suggestions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| s["kind"] == k)
                .count()
        };
        let last = property["last_sync_ok"]
            .as_i64()
            .map(|t| {
                format!(
                    "{} ({} s ago)",
                    epms_engine::dates::format_utc(t),
                    now() - t
                )
            })
            .unwrap_or_else(|| "never".into());
        println!(
            "{}: {} residents, {} PMS units not mapped; last successful sync {last}",
            scene.property,
            people["total"].as_u64().unwrap_or_default(),
            units["unmapped"].as_u64().unwrap_or_default()
        );
        println!(
            "  open alerts: {}",
            if open.is_empty() {
                "none".to_owned()
            } else {
                open.join(", ")
            }
        );
        println!(
            "  waiting for approval: {} to grant, {} to revoke, {} status notes",
            kinds("grant"),
            kinds("revoke"),
            kinds("no-change")
        );
    }
    Ok(())
}
