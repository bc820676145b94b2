//! Service benchmarks.
//!
//! 1. API reads under load: `GET people` and `GET alerts` at 5,000 requests/s over
//!    real loopback HTTP (20 keep-alive connections) while the five vendor properties
//!    are synced back to back through their connectors. Target p99 ≤ 2 ms. Beside it,
//!    the baseline: plain axum serving the same answers' bytes at the same rate,
//!    under the same syncs. Each round of syncs renames a resident per property and
//!    names them back the next (`EPMS_BENCH_STEADY=1`: the PMS stays as it is).
//! 2. Portfolio: 200 properties × 300 units (40 per vendor, all five vendors), each
//!    synced once end to end through its connector and the simulator, eight at a
//!    time (the scheduler's default). Target ≤ 60 s.
//!
//! Run: `cargo bench -p epms-e2e --bench service`.

/// The allocator of the `epms` binary: the figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use epms_api::{AppState, new_token, token_hash};
use epms_e2e::{guests, loopback_runtime};
use epms_runtime::{LoadedConnector, Runtime, SandboxLimits};
use epms_store::{AdminStore as _, PropertyStore as _};
use epms_store::{PropertyRecord, RedbStore, Role, SecretBox, TokenRecord};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use pms_sim::Simulator;
use pms_sim::dataset::Spec;

const CONNECTORS: [(&str, &str); 5] = [
    ("yardi", guests::EPMS_CONNECTOR_YARDI),
    ("realpage", guests::EPMS_CONNECTOR_REALPAGE),
    ("entrata", guests::EPMS_CONNECTOR_ENTRATA),
    ("mri", guests::EPMS_CONNECTOR_MRI),
    ("appfolio", guests::EPMS_CONNECTOR_APPFOLIO),
];

/// A PMS property id in each vendor's style.
fn pms_id(vendor: &str, n: usize) -> String {
    match vendor {
        "yardi" => format!("rnttrk{n:02}"),
        "realpage" => format!("{}", 3400 + n),
        "entrata" => format!("{}", 100 + n),
        "mri" => format!("{}", 500 + n),
        _ => format!("AF{n}"),
    }
}

struct Host {
    state: AppState,
    sim: Simulator,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

/// The simulator with `per_vendor` properties of `units` units per vendor, the
/// connectors loaded, one credential per vendor, one DOOR property per PMS property.
async fn host(per_vendor: usize, units: usize) -> Host {
    let mut properties = Vec::new();
    for (vendor, _) in CONNECTORS {
        for n in 1..=per_vendor {
            properties.push((vendor.to_owned(), pms_id(vendor, n), units));
        }
    }
    let sim = remote_simulator(Spec {
        seed: 7,
        properties,
    });
    sim.state.set_rate_limit("appfolio", false);
    let cache = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let runtime: Arc<Runtime> = Arc::new(loopback_runtime(cache.path(), SandboxLimits::default()));
    let mut connectors: HashMap<String, Arc<LoadedConnector>> = HashMap::new();
    for (vendor, wasm) in CONNECTORS {
        connectors.insert(
            vendor.to_owned(),
            Arc::new(runtime.load_file(wasm.as_ref()).await.unwrap()),
        );
    }
    let store =
        Arc::new(RedbStore::open(&data.path().join("epms.redb"), SecretBox::new([9; 32])).unwrap());
    for (vendor, connector) in &connectors {
        let (plain, secret) = connector
            .info()
            .split_secrets(epms_e2e::sim_credential_fields(&sim, vendor));
        store
            .put_credential(vendor, vendor, plain, &secret)
            .unwrap();
        for n in 1..=per_vendor {
            let mut p = PropertyRecord::new(&format!("door-{vendor}-{n}"), vendor, 0);
            p.credential_id = Some(vendor.clone());
            p.pms_property_ids = vec![pms_id(vendor, n)];
            p.settings.access.enabled = true;
            store.create_property(&p).unwrap();
        }
    }
    Host {
        state: AppState::new(store, runtime, connectors),
        sim,
        _dirs: (cache, data),
    }
}

/// The simulator on a thread and runtime of its own, as a remote PMS would be: its
/// CPU work (building 500-unit answers) does not land on the host's threads.
fn remote_simulator(spec: Spec) -> Simulator {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            tx.send(Simulator::generate(spec).await.unwrap()).unwrap();
            // Serve until the benchmark process ends.
            std::future::pending::<()>().await
        });
    });
    tokio::task::block_in_place(|| rx.recv().unwrap())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn api_reads_under_load() {
    let h = host(1, 500).await;
    let token = new_token();
    h.state
        .store
        .put_token(
            &token_hash(&token),
            &TokenRecord {
                name: "bench".into(),
                role: Role::Admin,
                properties: Vec::new(),
                created_at: 0,
            },
        )
        .unwrap();
    let ids: Vec<String> = CONNECTORS
        .iter()
        .map(|(v, _)| format!("door-{v}-1"))
        .collect();
    // A first sync of each, so that people and alerts have content to read.
    for id in &ids {
        epms_api::sync_property(&h.state, id).await.unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = epms_api::app(h.state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // Syncs run back to back for the whole measurement (each is a full re-read), and
    // each round changes the PMS: one resident per property is renamed and named back
    // in turn, so every sync changes the state (a Name Mismatch alert opens or clears)
    // and the pages read after it are rendered again, not served as they were.
    let stop = Arc::new(AtomicBool::new(false));
    let syncing = {
        let stop = stop.clone();
        let state = h.state.clone();
        let ids = ids.clone();
        let sim = h.sim.state.clone();
        tokio::spawn(async move {
            let mut n = 0;
            // EPMS_BENCH_QUIET=1 measures the reads alone, for comparison.
            let quiet = std::env::var_os("EPMS_BENCH_QUIET").is_some();
            // EPMS_BENCH_STEADY=1: the PMS does not change, so neither does the state.
            let steady = std::env::var_os("EPMS_BENCH_STEADY").is_some();
            let mut round = 0u64;
            while !quiet && !stop.load(Ordering::Relaxed) {
                round += 1;
                sim.write(|portfolio| {
                    if steady {
                        return;
                    }
                    for p in &mut portfolio.properties {
                        let r = &mut p.residents[0];
                        if round % 2 == 1 {
                            r.last_name.push_str("-Renamed");
                        } else if let Some(name) = r.last_name.strip_suffix("-Renamed") {
                            r.last_name = name.to_owned();
                        }
                    }
                });
                for id in &ids {
                    state
                        .store
                        .update_property(id, &mut |p| p.settled = None)
                        .unwrap();
                    epms_api::sync_property(&state, id).await.unwrap();
                    n += 1;
                }
            }
            n
        })
    };

    // What each path answers, rendered once by the product: the plain server below
    // serves these bytes, so the two are measured on the same answers.
    let paths: Vec<String> = ids
        .iter()
        .flat_map(|id| ["people", "alerts"].map(|what| format!("/api/v1/properties/{id}/{what}")))
        .collect();
    let mut answers = HashMap::new();
    for path in &paths {
        answers.insert(path.clone(), get_body(addr, path, &token).await);
    }
    let sizes: Vec<usize> = answers.values().map(|a| a.len()).collect();
    let plain_addr = plain_server(answers).await;

    let version_before = h.state.store.state(&ids[0]).unwrap().version;
    let product = reads_at(addr, &paths, &token).await;
    let plain = reads_at(plain_addr, &paths, &token).await;
    stop.store(true, Ordering::Relaxed);
    let syncs = syncing.await.unwrap();
    let changed = h.state.store.state(&ids[0]).unwrap().version - version_before;
    println!(
        "API reads (people, alerts; 5 properties x 500 units) at {RATE}/s over {CONNECTIONS} connections for {SECONDS} s each, while {syncs} syncs ran ({changed} changed {}'s state):",
        ids[0]
    );
    println!(
        "  answers of {:.1}-{:.1} KiB (people: the first page of 100)",
        *sizes.iter().min().unwrap() as f64 / 1024.0,
        *sizes.iter().max().unwrap() as f64 / 1024.0
    );
    product.print("the product", Some(Duration::from_millis(2)));
    plain.print("plain axum serving the same bytes", None);
    println!(
        "  p99 product / plain = {:.1}x",
        product.p99.as_secs_f64() / plain.p99.as_secs_f64()
    );
    drop(h.sim);
}

const RATE: u64 = 5_000;
const CONNECTIONS: u64 = 20;
const SECONDS: u64 = 10;

/// Latencies of one measurement.
struct Reads {
    count: usize,
    achieved: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Reads {
    fn print(&self, what: &str, target: Option<Duration>) {
        let verdict = match target {
            Some(t) => format!(
                "   target p99 <= {:.0} ms  {}",
                ms(t),
                if self.p99 <= t { "ok" } else { "MISSED" }
            ),
            None => String::new(),
        };
        println!(
            "  {what:<36} {} requests, {:.0}/s achieved, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms{verdict}",
            self.count,
            self.achieved,
            ms(self.p50),
            ms(self.p99),
            ms(self.max),
        );
    }
}

/// One connection's client.
async fn connect(
    addr: std::net::SocketAddr,
) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (sender, conn) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    sender
}

fn get(path: &str, token: &str) -> hyper::Request<Empty<Bytes>> {
    hyper::Request::get(path)
        .header("host", "bench")
        .header("authorization", format!("Bearer {token}"))
        .body(Empty::new())
        .unwrap()
}

async fn get_body(addr: std::net::SocketAddr, path: &str, token: &str) -> Bytes {
    let resp = connect(addr)
        .await
        .send_request(get(path, token))
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.into_body().collect().await.unwrap().to_bytes()
}

/// A server that answers each path with its bytes and nothing else: the floor of
/// any answer over loopback HTTP through axum.
async fn plain_server(answers: HashMap<String, Bytes>) -> std::net::SocketAddr {
    let answers = Arc::new(answers);
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let answers = answers.clone();
        async move {
            let body = answers.get(uri.path()).cloned().unwrap_or_default();
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// GETs of `paths`, in turn, at [`RATE`] over [`CONNECTIONS`] keep-alive connections
/// for [`SECONDS`].
async fn reads_at(addr: std::net::SocketAddr, paths: &[String], token: &str) -> Reads {
    let mut clients = Vec::new();
    for c in 0..CONNECTIONS {
        let token = token.to_owned();
        let paths = paths.to_vec();
        clients.push(tokio::spawn(async move {
            let mut sender = connect(addr).await;
            let mut ticker =
                tokio::time::interval(Duration::from_micros(1_000_000 * CONNECTIONS / RATE));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut latencies = Vec::new();
            for i in 0..(RATE * SECONDS / CONNECTIONS) {
                ticker.tick().await;
                let path = &paths[((c + i) as usize) % paths.len()];
                let req = get(path, &token);
                let started = Instant::now();
                let resp = sender.send_request(req).await.unwrap();
                assert!(resp.status().is_success(), "{}", resp.status());
                resp.into_body().collect().await.unwrap();
                latencies.push(started.elapsed());
            }
            latencies
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for c in clients {
        all.extend(c.await.unwrap());
    }
    let took = started.elapsed();
    all.sort();
    Reads {
        count: all.len(),
        achieved: all.len() as f64 / took.as_secs_f64(),
        p50: percentile(&all, 0.5),
        p99: percentile(&all, 0.99),
        max: *all.last().unwrap(),
    }
}

async fn portfolio() {
    let h = host(40, 300).await;
    let ids: Vec<String> = h
        .state
        .store
        .properties()
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    let slots = Arc::new(tokio::sync::Semaphore::new(8));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for id in ids.clone() {
        let state = h.state.clone();
        let slots = slots.clone();
        tasks.spawn(async move {
            let _slot = slots.acquire().await.unwrap();
            epms_api::sync_property(&state, &id)
                .await
                .map_err(|f| format!("{id}: {}", f.error))
        });
    }
    let mut residents = 0;
    while let Some(done) = tasks.join_next().await {
        let report = done.unwrap().unwrap();
        residents += report["accounts_created"].as_u64().unwrap();
    }
    let took = started.elapsed();
    println!(
        "portfolio: {} properties × 300 units (5 vendors), {residents} residents created, synced end to end in {:.1} s, 8 at a time (target ≤ 60 s)",
        ids.len(),
        took.as_secs_f64()
    );
    drop(h.sim);
}

fn main() {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    tokio.block_on(api_reads_under_load());
    tokio.block_on(portfolio());
}
