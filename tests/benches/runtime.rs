//! Runtime benchmarks: prints figures against their targets.
//!
//! - load a cached component (deserialize + pre-instantiate + `info`) ≤ 5 ms
//! - instantiate from `InstancePre` (fresh store) ≤ 8 µs median
//! - one resident record across the boundary ≤ 0.3 µs
//! - the HTTP gate adds ≤ 20 % to a loopback GET compared with a plain client
//!
//! Run: `cargo bench -p epms-e2e --bench runtime`. Medians of many runs; the machine
//! is noisy, so compare ratios taken in one run. `RUNTIME_PROFILE=instantiate` only
//! opens and drops sessions (for a profiler).

/// The allocator of the `epms` binary: the figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use epms_e2e::{fields, guests, loopback_runtime};
use epms_runtime::{Credential, SandboxLimits};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn p90(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() * 9 / 10]
}

fn row(what: &str, value: String, target: &str, ok: bool) {
    println!(
        "{what:<52} {value:>14}   target {target:<10} {}",
        if ok { "ok" } else { "MISSED" }
    );
}

/// A plain HTTP/1 GET on a new connection: what the gate does underneath.
async fn plain_get(addr: std::net::SocketAddr, path: &str) -> usize {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // As the gate's connections: a request goes out as written.
    stream.set_nodelay(true).unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header("host", addr.to_string())
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    resp.into_body().collect().await.unwrap().to_bytes().len()
}

/// What wasmtime itself costs to instantiate, with the runtime's engine (pooling,
/// epochs): a component of one core module with one memory the size a Rust guest
/// starts with (17 pages) and one exported function, in a bare store. Our
/// connector's figure above, over this one, is what its own shape costs (its core
/// instances, imports and data segments).
async fn instantiate_floor(engine: &wasmtime::Engine) -> Duration {
    let wasm = wat::parse_str(
        r#"(component
            (core module $m (memory (export "memory") 17) (func (export "run")))
            (core instance $i (instantiate $m))
            (func (export "run") (canon lift (core func $i "run"))))"#,
    )
    .unwrap();
    let component = wasmtime::component::Component::new(engine, wasm).unwrap();
    let pre = wasmtime::component::Linker::<()>::new(engine)
        .instantiate_pre(&component)
        .unwrap();
    let mut times = Vec::new();
    for _ in 0..2000 {
        let mut store = wasmtime::Store::new(engine, ());
        store.set_epoch_deadline(1);
        let started = Instant::now();
        std::hint::black_box(pre.instantiate_async(&mut store).await.unwrap());
        times.push(started.elapsed());
    }
    median(times)
}

fn main() {
    let flavor = std::env::var("BENCH_TOKIO").unwrap_or_default();
    let mut builder = if flavor == "current" {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2);
        b
    };
    let tokio = builder.enable_all().build().unwrap();
    tokio.block_on(async {
        let body = "x".repeat(1024);
        let app = Router::new().route("/ping", get(move || async move { body.clone() }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let cache = tempfile::tempdir().unwrap();
        let runtime = loopback_runtime(cache.path(), SandboxLimits::default());
        println!("pooling allocator: {}", runtime.pooling());
        let path: &std::path::Path = guests::EPMS_TEST_BENCH.as_ref();
        let wasm_len = std::fs::metadata(path).unwrap().len();

        // Compile once (cache miss), then loads from the on-disk cache.
        let started = Instant::now();
        let connector = runtime.load_file(path).await.unwrap();
        let compile = started.elapsed();
        let mut loads = Vec::new();
        for _ in 0..30 {
            let started = Instant::now();
            let c = runtime.load_file(path).await.unwrap();
            loads.push(started.elapsed());
            assert_eq!(c.cache_outcome(), epms_runtime::CacheOutcome::Hit);
        }
        println!("bench component: {} KiB", wasm_len / 1024);
        row(
            "compile (one-off, cache miss)",
            format!("{:.1} ms", compile.as_secs_f64() * 1e3),
            "-",
            true,
        );
        let load = median(loads);
        row(
            "load cached component (median of 30)",
            format!("{:.2} ms", load.as_secs_f64() * 1e3),
            "<= 5 ms",
            load <= Duration::from_millis(5),
        );

        let credential = Credential::from_fields(
            connector.info(),
            fields(&[("base-url", &format!("http://{addr}"))]),
        )
        .unwrap();
        if std::env::var("RUNTIME_PROFILE").as_deref() == Ok("instantiate") {
            // For a profiler: sessions opened and dropped, nothing else.
            for _ in 0..200_000 {
                drop(runtime.session(&connector, &credential).await.unwrap());
            }
            return;
        }
        let mut inst = Vec::new();
        let mut whole = Vec::new();
        let mut drops = Vec::new();
        for _ in 0..2000 {
            let started = Instant::now();
            let session = runtime.session(&connector, &credential).await.unwrap();
            whole.push(started.elapsed());
            inst.push(session.instantiate_time());
            // Resetting the instance's memory happens here, so it is shown too.
            let started = Instant::now();
            drop(session);
            drops.push(started.elapsed());
        }
        let inst_med = median(inst.clone());
        row(
            "instantiate from InstancePre (median of 2000)",
            format!("{:.1} µs", inst_med.as_secs_f64() * 1e6),
            "<= 8 µs",
            inst_med <= Duration::from_micros(8),
        );
        row(
            "  p90",
            format!("{:.1} µs", p90(inst).as_secs_f64() * 1e6),
            "-",
            true,
        );
        row(
            "  store + gate + instance (median)",
            format!("{:.1} µs", median(whole).as_secs_f64() * 1e6),
            "-",
            true,
        );
        row(
            "  session dropped: instance freed, memory reset (median)",
            format!("{:.1} µs", median(drops).as_secs_f64() * 1e6),
            "-",
            true,
        );
        let floor = instantiate_floor(runtime.engine()).await;
        row(
            "  floor: smallest component, same engine (median)",
            format!("{:.1} µs", floor.as_secs_f64() * 1e6),
            "-",
            true,
        );
        row(
            "  instantiate / floor",
            format!("{:.1}x", inst_med.as_secs_f64() / floor.as_secs_f64()),
            "-",
            true,
        );

        // Records across the boundary: a call returning N records minus a call that
        // copies the same N in the guest and returns none, per record. What is left is
        // the crossing: lowering in the guest, lifting into the host, the host's checks
        // of each field, and freeing both sides.
        let mut session = runtime.session(&connector, &credential).await.unwrap();
        let n = 10_000usize;
        session
            .read_residents(&format!("synthetic:{n}"), None)
            .await
            .unwrap(); // warm the guest's cache
        let mut full = Vec::new();
        let mut built = Vec::new();
        let mut clones = Vec::new();
        let (synthetic, built_only) = (format!("synthetic:{n}"), format!("built-only:{n}"));
        let mut timed_read = async |what: &str| {
            let started = Instant::now();
            let page = session.read_residents(what, None).await.unwrap();
            (started.elapsed(), page.records)
        };
        for _ in 0..15 {
            let (took, records) = timed_read(&synthetic).await;
            full.push(took);
            assert_eq!(records.len(), n);
            let (took, none) = timed_read(&built_only).await;
            built.push(took);
            assert!(none.is_empty());
            // The plain baseline: the same records copied in the host, each string
            // allocated once, as lifting them out of the guest must at least do.
            let started = Instant::now();
            std::hint::black_box(records.clone());
            clones.push(started.elapsed());
        }
        let per_record = median(full).saturating_sub(median(built)) / n as u32;
        row(
            "one resident across the boundary (10,000 a call)",
            format!("{:.3} µs", per_record.as_secs_f64() * 1e6),
            "<= 0.3 µs",
            per_record <= Duration::from_nanos(300),
        );
        let clone_per_record = median(clones) / n as u32;
        row(
            "  plain: the same record cloned in the host",
            format!("{:.3} µs", clone_per_record.as_secs_f64() * 1e6),
            "-",
            true,
        );
        row(
            "  boundary / plain clone",
            format!(
                "{:.1}x",
                per_record.as_secs_f64() / clone_per_record.as_secs_f64()
            ),
            "-",
            true,
        );

        // The gate: a guest GET through wasi:http and the gate vs a plain client GET.
        for _ in 0..50 {
            plain_get(addr, "/ping").await;
            session.read_units("get:/ping", None).await.unwrap();
        }
        let before = runtime.outbound();
        let mut plain = Vec::new();
        let mut gated = Vec::new();
        for _ in 0..500 {
            let started = Instant::now();
            assert_eq!(plain_get(addr, "/ping").await, 1024);
            plain.push(started.elapsed());
            let started = Instant::now();
            let page = session.read_units("get:/ping", None).await.unwrap();
            gated.push(started.elapsed());
            assert_eq!(page.records[0].number, "1024");
        }
        let after = runtime.outbound();
        let in_gate =
            Duration::from_nanos((after.nanos - before.nanos) / (after.requests - before.requests));
        let plain_mean = plain.iter().sum::<Duration>() / plain.len() as u32;
        let (plain_med, gated_med) = (median(plain), median(gated));
        let gate_overhead = in_gate.as_secs_f64() / plain_mean.as_secs_f64() - 1.0;
        let path_overhead = gated_med.as_secs_f64() / plain_med.as_secs_f64() - 1.0;
        let us = |d: Duration| format!("{:.1} µs", d.as_secs_f64() * 1e6);
        row(
            "loopback GET, plain client (median of 500)",
            us(plain_med),
            "-",
            true,
        );
        row("  mean", us(plain_mean), "-", true);
        row("same GET by the host's gate (mean)", us(in_gate), "-", true);
        row(
            "gate overhead (gate mean / plain mean)",
            format!("{:+.1} %", gate_overhead * 100.0),
            "<= 20 %",
            gate_overhead <= 0.20,
        );
        row(
            "same GET by a guest: call + wasi:http + gate (median)",
            us(gated_med),
            "-",
            true,
        );
        row(
            "whole guest path overhead (informational)",
            format!("{:+.1} %", path_overhead * 100.0),
            "-",
            true,
        );
        secret_scan();
    });
}

/// The gate reads every answer for the credential's secrets (every form of each)
/// before the guest sees it: a real Entrata answer repeated to 10 MB, about what a
/// 5,000-unit read receives, beside one plain `memmem` search of the same bytes.
fn secret_scan() {
    let page = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/real/entrata/getCustomers.gmhleasr.json"
    ))
    .unwrap();
    let answer = page.repeat((10 << 20) / page.len() + 1);
    let secrets = epms_runtime::secrets::Secrets::new([
        ("password".to_owned(), "pw-Secret-91a".to_owned()),
        ("api-key".to_owned(), "LIC-7f3a9c2e11b04d5a8e6f".to_owned()),
        ("username".to_owned(), "interface_user".to_owned()),
    ]);
    let scanner = secrets.scanner();
    let scan = median_of(9, || assert!(!scanner.found_in(&answer)));
    let plain = median_of(9, || {
        assert!(memchr::memmem::find(&answer, b"pw-Secret-91a").is_none())
    });
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);
    row(
        &format!(
            "secret scan of a {} MB answer (median of 9)",
            answer.len() >> 20
        ),
        ms(scan),
        "-",
        true,
    );
    row("  plain: one memmem search of it", ms(plain), "-", true);
}

fn median_of(runs: usize, mut f: impl FnMut()) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let started = Instant::now();
                f();
                started.elapsed()
            })
            .collect(),
    )
}
