//! A fleet: three `epms serve` processes on one PostgreSQL database, 30 properties on
//! the simulator, Sync Now fired at every host all the time while the PMS data
//! changes, the scheduler running on each, and one host SIGKILLed mid-run and started
//! again. Afterwards, from the store and the API:
//! - no property was ever synced by two hosts at once (its sync history);
//! - every property was synced, and the work was spread over the hosts;
//! - the access feed has every sequence once, with no gaps, and replays to each
//!   property's grants (no event lost or duplicated);
//! - every live host answers API reads the same.
//!
//! Needs a PostgreSQL server (see `epms_store::test_database`); skipped, saying so,
//! without one.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read as _, Write as _};
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use epms_store::test_database::TestDatabase;
use epms_store::{RunOutcome, SecretBox};
use pms_sim::Simulator;
use pms_sim::dataset::{Mutation, Spec, generate};
use serde_json::{Value, json};

mod common;
use common::{created_token, epms, free_port};

const PROPERTIES: usize = 30;
const LOAD: Duration = Duration::from_secs(60);

/// One HTTP/1.1 request on loopback: the status code and the body.
fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> std::io::Result<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, body.to_owned()))
}

fn ok(addr: &str, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
    let (status, text) = request(addr, method, path, token, body.as_ref()).unwrap();
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {text}"
    );
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

struct Fleet {
    cache: tempfile::TempDir,
    root: tempfile::TempDir,
    store_url: String,
    key_file: std::path::PathBuf,
}

impl Fleet {
    fn configure(&self, cmd: &mut Command, name: &str) {
        cmd.env("EPMS_DATA_DIR", self.root.path().join(name))
            .env("EPMS_STORE", &self.store_url)
            .env("EPMS_MASTER_KEY_FILE", &self.key_file)
            .env("EPMS_ALLOW_LOOPBACK", "true")
            .env("EPMS_SCHEDULER__TICK_MILLIS", "200")
            .env("EPMS_SCHEDULER__STARTUP_SPREAD_SECONDS", "3")
            .env("EPMS_SCHEDULER__DEFAULT_INTERVAL_MINUTES", "5")
            .env("EPMS_SCHEDULER__LEASE_SECONDS", "3");
    }

    /// `epms serve` on a free port; returns once `/healthz` answers.
    fn start(&self, name: &str) -> (Child, String) {
        let addr = format!("127.0.0.1:{}", free_port());
        let mut cmd = epms(self.cache.path());
        self.configure(&mut cmd, name);
        let log = std::fs::File::create(self.root.path().join(format!("{name}.log"))).unwrap();
        let mut child = cmd
            .env("EPMS_LISTEN", &addr)
            .arg("serve")
            .stderr(log)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(180);
        while request(&addr, "GET", "/healthz", "", None).is_err() {
            assert!(Instant::now() < deadline, "no API on {addr}");
            assert!(
                child.try_wait().unwrap().is_none(),
                "{name} exited: {}",
                self.log(name)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        (child, addr)
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.root.path().join(format!("{name}.log"))).unwrap_or_default()
    }
}

/// The hosts, killed when the test ends however it ends (a failed assertion included).
struct Hosts(Vec<(Child, String)>);

impl Drop for Hosts {
    fn drop(&mut self) {
        for (child, _) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn signal(child: &mut Child, signal: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    child.wait().unwrap();
}

#[test]
fn three_hosts_on_one_postgres_sync_each_property_on_one_host_at_a_time_and_survive_a_kill() {
    let Some(db) = TestDatabase::create("fleet") else {
        return;
    };
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let portfolio = generate(&Spec {
        seed: 14,
        properties: (1..=PROPERTIES)
            .map(|i| ("acme".to_owned(), format!("ACME-{i}"), 8))
            .collect(),
    });
    let sim = tokio.block_on(Simulator::start(portfolio.clone())).unwrap();
    let root = tempfile::tempdir().unwrap();
    let key_file = root.path().join("fleet.key");
    let key_hex = SecretBox::generate_hex();
    std::fs::write(&key_file, &key_hex).unwrap();
    let fleet = Fleet {
        cache: tempfile::tempdir().unwrap(),
        root,
        store_url: db.url.clone(),
        key_file,
    };

    // An admin token, made offline against the shared store (`--store` on the CLI).
    let mut create = epms(fleet.cache.path());
    fleet.configure(&mut create, "cli");
    let token =
        created_token(create.args(["token", "create", "--role", "admin", "--store", &db.url]));

    let names = ["host-a", "host-b", "host-c"];
    let mut hosts = Hosts(Vec::new());
    for name in names {
        hosts.0.push(fleet.start(name));
    }
    let hosts = &mut hosts.0;

    // Set up through the first host; the others see it at once.
    let (_, first) = &hosts[0];
    let mut fields: BTreeMap<String, String> = portfolio
        .credential("acme")
        .map(|c| c.fields.iter().cloned().collect())
        .unwrap();
    fields.insert("base-url".into(), sim.base_url("acme").unwrap());
    ok(
        first,
        "POST",
        "/api/v1/credentials",
        &token,
        Some(json!({"id": "acme-credential", "vendor": "acme", "fields": fields})),
    );
    let mut settings = epms_engine::Settings::default();
    settings.access.enabled = true;
    settings.access.mode = epms_engine::AccessMode::Automatic;
    let ids: Vec<String> = (1..=PROPERTIES).map(|i| format!("door-{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        let (_, addr) = &hosts[i % hosts.len()];
        ok(
            addr,
            "POST",
            "/api/v1/properties",
            &token,
            Some(json!({"id": id, "name": id})),
        );
        ok(
            addr,
            "PUT",
            &format!("/api/v1/properties/{id}/integration"),
            &token,
            Some(json!({
                "credential_id": "acme-credential",
                "pms_property_ids": [format!("ACME-{}", i + 1)],
                "settings": settings,
            })),
        );
    }

    // Every PMS answer comes late, so that a sync spans more than a second: two
    // overlapping syncs would show in the history's (whole-second) times.
    sim.state.add_fault(pms_sim::faults::Fault {
        vendor: "acme".into(),
        endpoint: String::new(),
        kind: pms_sim::faults::FaultKind::Latency { millis: 400 },
        times: None,
    });
    // Load: Sync Now at every host for random properties; the PMS data changes.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let addrs: Vec<Arc<std::sync::Mutex<String>>> = hosts
        .iter()
        .map(|(_, a)| Arc::new(std::sync::Mutex::new(a.clone())))
        .collect();
    let mut load = Vec::new();
    for (h, addr) in addrs.iter().enumerate() {
        for worker in 0..3 {
            let (addr, stop, answered, token, ids) = (
                addr.clone(),
                stop.clone(),
                answered.clone(),
                token.clone(),
                ids.clone(),
            );
            load.push(std::thread::spawn(move || {
                // Each worker picks properties at random, so that workers on different
                // hosts often ask for the same one at once.
                let mut x =
                    (h as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (worker as u64 + 1);
                while !stop.load(Ordering::Relaxed) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let n = (x % ids.len() as u64) as usize;
                    let target = addr.lock().unwrap().clone();
                    let path = format!("/api/v1/properties/{}/sync", ids[n]);
                    match request(&target, "POST", &path, &token, None) {
                        Ok((200, _)) => {
                            answered.fetch_add(1, Ordering::Relaxed);
                        }
                        // The killed host (cut off mid-answer, or refusing), until it is back.
                        Ok((0, _)) | Err(_) => std::thread::sleep(Duration::from_millis(100)),
                        Ok((status, body)) => {
                            assert!(status == 502, "{path} on {target}: {status} {body}")
                        }
                    }
                }
            }));
        }
    }
    let mutator = {
        let (state, stop) = (sim.state.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut step = 0usize;
            while !stop.load(Ordering::Relaxed) {
                step += 1;
                let property = format!("ACME-{}", step % PROPERTIES + 1);
                state.write(|p| {
                    let lease = p
                        .property("acme", &property)
                        .and_then(|sp| sp.leases.get(step % 5).map(|l| l.id.clone()));
                    if let Some(lease) = lease {
                        let _ = p.apply(&Mutation::MoveOut {
                            vendor: "acme".into(),
                            property: property.clone(),
                            lease,
                        });
                    }
                    let unit = p
                        .property("acme", &property)
                        .and_then(|sp| sp.units.get(step % 8).map(|u| u.id.clone()));
                    if let Some(unit) = unit {
                        let _ = p.apply(&Mutation::MoveIn {
                            vendor: "acme".into(),
                            property,
                            unit,
                            first_name: format!("New{step}"),
                            last_name: "Resident".into(),
                            email: Some(format!("new{step}@example.com")),
                        });
                    }
                });
                std::thread::sleep(Duration::from_millis(150));
            }
        })
    };

    let started = Instant::now();
    std::thread::sleep(LOAD / 3);
    // SIGKILL: no shutdown, leases held, syncs cut off mid-way.
    signal(&mut hosts[1].0, "KILL");
    std::thread::sleep(Duration::from_secs(4));
    hosts[1] = fleet.start("host-b");
    *addrs[1].lock().unwrap() = hosts[1].1.clone();
    std::thread::sleep(LOAD.saturating_sub(started.elapsed()));
    stop.store(true, Ordering::Relaxed);
    mutator.join().unwrap();
    for worker in load {
        worker.join().unwrap();
    }
    // Let scheduled syncs in flight finish, then read the same thing from every host.
    std::thread::sleep(Duration::from_secs(4));
    let read = |addr: &str, path: &str| {
        let (status, body) = request(addr, "GET", path, &token, None).unwrap();
        assert_eq!(status, 200, "{path}: {body}");
        body
    };
    for id in ids.iter().take(5) {
        let path = format!("/api/v1/properties/{id}/people?limit=500");
        let views: BTreeSet<String> = hosts.iter().map(|(_, a)| read(a, &path)).collect();
        assert_eq!(views.len(), 1, "{path} differs between hosts");
    }
    let feed_views: BTreeSet<String> = hosts
        .iter()
        .map(|(_, a)| read(a, "/api/v1/feed?limit=1000"))
        .collect();
    assert_eq!(feed_views.len(), 1, "the feed differs between hosts");
    for (child, _) in hosts.iter_mut() {
        signal(child, "TERM");
    }

    // The store, as the hosts left it.
    let store = epms_store::port::open(&db.url, SecretBox::from_hex(&key_hex).unwrap()).unwrap();
    let mut ran_on: BTreeSet<String> = BTreeSet::new();
    let mut runs_total = 0;
    for id in &ids {
        let runs = store.sync_runs(id, 100_000).unwrap();
        assert!(
            runs.iter().any(|r| r.outcome == RunOutcome::Succeeded),
            "{id} was never synced"
        );
        runs_total += runs.len();
        for (i, a) in runs.iter().enumerate() {
            let host_a = a.host.clone().expect("every run names its host");
            ran_on.insert(host_a.clone());
            for b in &runs[i + 1..] {
                if b.host.as_deref() == Some(host_a.as_str()) {
                    continue;
                }
                let overlap = a.started_at < b.finished_at && b.started_at < a.finished_at;
                assert!(
                    !overlap,
                    "{id} synced by two hosts at once: {a:?} and {b:?}"
                );
            }
        }
    }
    assert!(
        ran_on.len() >= 3,
        "the work was spread over the hosts: {ran_on:?}"
    );
    let feed = store.feed(0, usize::MAX).unwrap();
    let seqs: Vec<u64> = feed.iter().map(|(s, _)| *s).collect();
    assert!(!seqs.is_empty(), "the syncs granted access");
    assert!(
        seqs.iter().copied().eq(1..=seqs.len() as u64),
        "feed sequences are 1..n with no gap or repeat"
    );
    for id in &ids {
        let events: Vec<epms_engine::FeedEvent> = feed
            .iter()
            .filter(|(_, r)| &r.property == id)
            .map(|(_, r)| r.event.clone())
            .collect();
        let replayed = epms_engine::access::replay(&events);
        let grants: BTreeMap<_, _> = store
            .load_state(id)
            .unwrap()
            .grants
            .values()
            .map(|g| (g.id, (g.account, g.key.clone(), g.end)))
            .collect();
        assert_eq!(replayed, grants, "{id}: the feed replays to its grants");
    }
    eprintln!(
        "fleet: {} Sync Now answered, {runs_total} syncs recorded on {} hosts, {} feed events",
        answered.load(Ordering::Relaxed),
        ran_on.len(),
        seqs.len()
    );
}
