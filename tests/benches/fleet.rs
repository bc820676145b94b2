//! The shared store: PostgreSQL next to redb, and several hosts on one database.
//!
//! 1. First sync of a 5,000-unit property (~12,000 resident records): the same plan
//!    applied to redb and to PostgreSQL, and the state loaded back, side by side.
//! 2. 1,000 properties (10 units each, the template connector against the simulator)
//!    each synced once: one host on redb (the plain baseline), then one, two and three
//!    hosts on one PostgreSQL database, each host with its own store connections,
//!    sync threads and four syncs at a time, taking properties from one queue; the
//!    leases decide who syncs what. The hosts share this machine's cores, so more
//!    hosts measure the coordination's cost, not added capacity.
//!
//! Needs a PostgreSQL server (`EPMS_TEST_POSTGRES`, or the local default); without one
//! it prints the redb figures only. Run: `cargo bench -p epms-e2e --bench fleet`.

/// The allocator of the `epms` binary: the figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use epms_api::AppState;
use epms_e2e::{guests, loopback_runtime, set_up_acme_properties};
use epms_engine::{Settings, plan_sync};
use epms_runtime::{LoadedConnector, Runtime, SandboxLimits};
use epms_store::test_database::TestDatabase;
use epms_store::{PropertyRecord, SecretBox, Storage};
use pms_sim::Simulator;
use pms_sim::dataset::{Rng, Spec, generate_property};

const NOW: i64 = 1_800_000_000;
const KEY: [u8; 32] = [5; 32];
const PORTFOLIO: usize = 1_000;
const PER_HOST: usize = 4;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn first_sync_apply(stores: &[(&str, Arc<dyn Storage>)]) {
    let mut rng = Rng::new(2026);
    let big = generate_property(&mut rng, "yardi", "BIG", 5_000);
    let snap = epms_e2e::snapshot_of(&big);
    println!(
        "1. first sync of a 5,000-unit property ({} resident records)",
        big.residents.len()
    );
    println!(
        "   {:<12} {:>12} {:>12} {:>12}",
        "store", "apply ms", "load ms", "rows"
    );
    let mut baseline = None;
    for (name, store) in stores {
        store
            .create_property(&PropertyRecord::new("big", "Big", NOW))
            .unwrap();
        let state = store.load_state("big").unwrap();
        let plan = plan_sync(&snap, &state, &Settings::default(), NOW).plan;
        let started = Instant::now();
        store.apply("big", &plan, None).unwrap();
        let apply = started.elapsed();
        let started = Instant::now();
        let loaded = store.load_state("big").unwrap();
        let load = started.elapsed();
        let ratio = match baseline {
            None => {
                baseline = Some(apply);
                String::new()
            }
            Some(b) => format!(
                "  {:.1}× redb's apply",
                apply.as_secs_f64() / b.as_secs_f64()
            ),
        };
        println!(
            "   {name:<12} {:>12.1} {:>12.1} {:>12}{ratio}",
            ms(apply),
            ms(load),
            plan.changes().len()
        );
        assert_eq!(loaded.accounts.len(), plan.accounts_created.len());
    }
}

/// One host: its own store handle (connections), sync threads and name.
fn host(
    store: Arc<dyn Storage>,
    runtime: &Arc<Runtime>,
    connector: &Arc<LoadedConnector>,
    name: &str,
) -> AppState {
    let connectors = HashMap::from([("acme".to_owned(), connector.clone())]);
    let mut state = AppState::new(store, runtime.clone(), connectors);
    state.host_id = Arc::from(name);
    state
}

/// Every property synced once by `hosts`, `PER_HOST` syncs at a time each.
async fn sync_all(hosts: &[AppState], ids: &Arc<Vec<String>>) -> Duration {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for state in hosts {
        for _ in 0..PER_HOST {
            let (state, ids, next) = (state.clone(), ids.clone(), next.clone());
            tasks.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(id) = ids.get(i) else { break };
                    epms_api::sync_property(&state, id)
                        .await
                        .unwrap_or_else(|f| panic!("{id}: {}", f.error));
                }
            });
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    started.elapsed()
}

async fn portfolio(pg: Option<&TestDatabase>) {
    let ids: Arc<Vec<String>> = Arc::new((1..=PORTFOLIO).map(|n| format!("door-{n}")).collect());
    let sim = Simulator::generate(Spec {
        seed: 3,
        properties: (1..=PORTFOLIO)
            .map(|n| ("acme".to_owned(), format!("ACME-{n}"), 10))
            .collect(),
    })
    .await
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let runtime = Arc::new(loopback_runtime(cache.path(), SandboxLimits::default()));
    let connector = Arc::new(
        runtime
            .load_file(guests::EPMS_CONNECTOR_TEMPLATE.as_ref())
            .await
            .unwrap(),
    );
    println!(
        "2. {PORTFOLIO} properties × 10 units, each synced once ({PER_HOST} at a time per host)"
    );
    println!(
        "   {:<28} {:>10} {:>14} {:>10}",
        "hosts", "s", "syncs/s", "vs redb"
    );
    let dir = tempfile::tempdir().unwrap();
    let redb = epms_store::port::open(
        &dir.path().join("bench.redb").display().to_string(),
        SecretBox::new(KEY),
    )
    .unwrap();
    set_up_acme_properties(redb.as_ref(), &sim, &connector, &ids);
    let baseline = sync_all(&[host(redb, &runtime, &connector, "redb")], &ids).await;
    let line = |what: &str, d: Duration| {
        println!(
            "   {what:<28} {:>10.2} {:>14.0} {:>9.2}×",
            d.as_secs_f64(),
            PORTFOLIO as f64 / d.as_secs_f64(),
            d.as_secs_f64() / baseline.as_secs_f64()
        );
    };
    line("1 host, redb (baseline)", baseline);
    let Some(db) = pg else { return };
    let open = || epms_store::port::open(&db.url, SecretBox::new(KEY)).unwrap();
    set_up_acme_properties(open().as_ref(), &sim, &connector, &ids);
    for n in 1..=3usize {
        // A fresh round: the same properties, synced again (each plans against its state).
        let hosts: Vec<AppState> = (0..n)
            .map(|h| host(open(), &runtime, &connector, &format!("host-{h}")))
            .collect();
        let took = sync_all(&hosts, &ids).await;
        line(&format!("{n} host(s), PostgreSQL"), took);
        let runs: usize = ids
            .iter()
            .map(|id| hosts[0].store.sync_runs(id, 10).unwrap().len())
            .sum();
        assert_eq!(runs, PORTFOLIO * n, "every property synced once per round");
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let pg = TestDatabase::create("fleet_bench");
    let dir = tempfile::tempdir().unwrap();
    let mut stores: Vec<(&str, Arc<dyn Storage>)> = vec![(
        "redb",
        epms_store::port::open(
            &dir.path().join("big.redb").display().to_string(),
            SecretBox::new(KEY),
        )
        .unwrap(),
    )];
    if let Some(db) = &pg {
        stores.push((
            "PostgreSQL",
            epms_store::port::open(&db.url, SecretBox::new(KEY)).unwrap(),
        ));
    }
    tokio::task::block_in_place(|| first_sync_apply(&stores));
    drop(stores);
    portfolio(pg.as_ref()).await;
}
