//! Connector benchmarks: a full read (units + residents + leases) of a 5,000-unit
//! property through the host, per connector, against the simulator on loopback.
//! Target ≤ 100 ms each. Also: component size, one-off compile time, load from cache.
//!
//! "MB in" is the answers' bytes of one read, as the host received them.
//!
//! The split: "HTTP" is the time requests spent in the host's outbound gate (the
//! simulator's answer included); "sim" is the part of it the simulator spent making
//! its answers (timed in the simulator: what no connector or host change can cut);
//! "guest + boundary" is the rest of the calls: the
//! guest parsing and mapping, and the records crossing into the host. The crossing
//! alone is estimated from `benches/runtime.rs` (0.28–0.52 µs a record across runs
//! on a 2-core machine).
//!
//! Beside each read, from the same run: the same session recorded, then
//! - **replay**: the read again from the recording, with no network: the guest's
//!   parsing and mapping, the records crossing, and the gate's bookkeeping;
//! - **native**: every recorded answer parsed natively, in the host (`serde_json`
//!   into a `Value`; `quick-xml` read event by event, each text decoded), as the ratio
//!   replay / native (target ≤ 2×);
//! - **SDK native**: the same answers through the SDK's own readers compiled for the
//!   host (`xml::parse`'s element tree, `serde_json::Value`): what the tree costs
//!   without the sandbox;
//! - **guest MiB**: the largest the guest's linear memory grew in any of the reads
//!   (the runtime's usage record): what one read costs in memory, and a figure that
//!   does not move with a noisy machine.
//!
//! `CONNECTORS_PROFILE=<vendor>` reads that vendor alone, replays its read ten times
//! and stops (for a profiler).
//!
//! Run: `cargo bench -p epms-e2e --bench connectors`.

/// The allocator of the `epms` binary: the figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use epms_e2e::{VENDORS, loopback_runtime, sim_credential};
use epms_runtime::cassette::{Cassette, Player, Recorder, Tape};
use epms_runtime::{ConnectorSession, SandboxLimits};
use pms_sim::Simulator;
use pms_sim::dataset::Spec;

/// Per-record crossing cost measured by the runtime benchmark (for the estimate): the
/// middle of its recent figures, so the column is a rough share, not a measurement.
const CROSSING: Duration = Duration::from_nanos(400);

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Reads a whole property through a session: the number of records.
async fn read_all(mut session: ConnectorSession, property: &str) -> usize {
    session.all_units(property).await.unwrap().len()
        + session.all_residents(property).await.unwrap().len()
        + session.all_leases(property).await.unwrap().len()
}

/// The median of three runs of `parse` over every recorded answer.
fn parse_all(bodies: &[Vec<u8>], parse: fn(&[u8]) -> usize) -> Duration {
    let mut runs: Vec<Duration> = (0..3)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(bodies.iter().map(|b| parse(b)).sum::<usize>());
            started.elapsed()
        })
        .collect();
    runs.sort();
    runs[1]
}

/// Reads one recorded answer as a connector does, with the SDK compiled for the host.
fn parse_with_sdk(body: &[u8]) -> usize {
    let text = std::str::from_utf8(body).expect("recorded answers are text");
    if text.trim_start().starts_with('<') {
        let root = epms_connector_sdk::xml::parse(text).expect("recorded XML parses");
        return root.children.len();
    }
    parse_natively(body)
}

/// Parses one recorded answer natively: JSON into a `Value`, XML event by event with
/// every text decoded. Returns a count, so the work is not optimised away.
fn parse_natively(body: &[u8]) -> usize {
    if body.trim_ascii_start().first() == Some(&b'<') {
        let mut reader = quick_xml::Reader::from_reader(body);
        let mut buf = Vec::new();
        let mut n = 0;
        loop {
            match reader
                .read_event_into(&mut buf)
                .expect("recorded XML parses")
            {
                quick_xml::events::Event::Eof => return n,
                quick_xml::events::Event::Text(t) => {
                    n += t.xml10_content().len();
                }
                _ => n += 1,
            }
            buf.clear();
        }
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => usize::from(!v.is_null()),
        Err(e) => panic!("recorded JSON parses: {e}"),
    }
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
            "{:<11} {:>6} {:>10} {:>8} {:>7} {:>6} {:>8} {:>7} {:>6} {:>12} {:>9} {:>9} {:>9} {:>7} {:>10} {:>9}  target",
            "vendor", "KiB", "compile ms", "cache ms", "records", "MB in", "read ms", "HTTP ms", "sim ms", "guest+bnd ms",
            "~crossing", "replay ms", "native ms", "ratio", "SDK native", "guest MiB"
        );
        let profiled = std::env::var("CONNECTORS_PROFILE").ok();
        for (vendor, property, wasm) in VENDORS {
            // Profiling one vendor: no other component is loaded, so a profile's JIT
            // symbols are that guest's alone.
            if profiled.as_deref().is_some_and(|p| p != vendor) {
                continue;
            }
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
                let answering = sim.state.answering_time();
                let started = Instant::now();
                let session = runtime.session(&connector, &credential).await.unwrap();
                records = read_all(session, property).await;
                let total = started.elapsed();
                let after = runtime.outbound();
                let http = Duration::from_nanos(after.nanos - before.nanos);
                let received = after.bytes_received - before.bytes_received;
                runs.push((total, http, sim.state.answering_time() - answering, received));
            }
            runs.sort();
            let (total, http, answering, received) = runs[1];

            // The same read recorded, replayed with no network, and parsed natively.
            let recorder = Recorder::default();
            let session = runtime
                .session_with_tape(&connector, &credential, Tape::Record(recorder.clone()))
                .await
                .unwrap();
            read_all(session, property).await;
            let cassette = Cassette::new(&connector, &credential, &recorder);
            let replayed_with = cassette.credential(connector.info()).unwrap();
            let mut replays = Vec::new();
            for _ in 0..3 {
                let tape = Tape::Replay(Player::new(&cassette));
                let started = Instant::now();
                let session = runtime
                    .session_with_tape(&connector, &replayed_with, tape)
                    .await
                    .unwrap();
                let n = read_all(session, property).await;
                replays.push(started.elapsed());
                assert_eq!(n, records, "the replay reads what the live read did");
            }
            if profiled.as_deref() == Some(vendor) {
                for _ in 0..10 {
                    let tape = Tape::Replay(Player::new(&cassette));
                    let session = runtime
                        .session_with_tape(&connector, &replayed_with, tape)
                        .await
                        .unwrap();
                    read_all(session, property).await;
                }
                return;
            }
            replays.sort();
            let replay = replays[1];
            let bodies: Vec<Vec<u8>> = cassette
                .exchanges
                .iter()
                .map(|e| e.response.body.to_bytes().unwrap())
                .collect();
            let native = parse_all(&bodies, parse_natively);
            let sdk_native = parse_all(&bodies, parse_with_sdk);
            let guest_peak = runtime
                .plugin_usage()
                .iter()
                .filter(|(key, _)| key.vendor == connector.info().vendor)
                .map(|(_, usage)| usage.peak_memory_bytes)
                .max()
                .unwrap_or(0);
            println!(
                "{vendor:<11} {size:>6} {:>10.1} {:>8.2} {records:>7} {:>6.1} {:>8.1} {:>7.1} {:>6.1} {:>12.1} {:>9.1} {:>9.1} {:>9.1} {:>6.1}x {:>10.1} {:>9.1}  <= 100 ms {}, ratio <= 2x {}",
                ms(compile),
                ms(cached),
                received as f64 / 1e6,
                ms(total),
                ms(http),
                ms(answering),
                ms(total.saturating_sub(http)),
                ms(CROSSING * records as u32),
                ms(replay),
                ms(native),
                replay.as_secs_f64() / native.as_secs_f64(),
                ms(sdk_native),
                guest_peak as f64 / f64::from(1 << 20),
                if total <= Duration::from_millis(100) { "ok" } else { "MISSED" },
                if replay <= native * 2 { "ok" } else { "MISSED" }
            );
        }
    });
}
