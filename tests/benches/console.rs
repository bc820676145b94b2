//! The console's pages on a 5,000-unit property: each screen's API answer, served by
//! the real router in process (no network), against the target of ≤ 200 ms a page,
//! beside a plain baseline from the same run (the property's state read from the
//! store's cache, which every page starts with).
//!
//! Run: `cargo bench -p epms-e2e --bench console`.

/// The allocator of the `epms` binary: the figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use epms_api::{AppState, app, new_token, token_hash};
use epms_engine::{Settings, SyncCounts, input_fingerprint, plan_sync};
use epms_runtime::{Runtime, RuntimeConfig};
use epms_store::{
    AdminStore as _, PlannedSync, PropertyRecord, PropertyStore as _, RedbStore, Role, RunOutcome,
    SecretBox, SyncRun, TokenRecord,
};
use http_body_util::BodyExt;
use pms_sim::dataset::{Rng, generate_property};
use tower::ServiceExt;

const NOW: i64 = 1_800_000_000;
const TARGET: Duration = Duration::from_millis(200);

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(RedbStore::open(&dir.path().join("c.redb"), SecretBox::new([3; 32])).unwrap());
    let mut rng = Rng::new(2026);
    let big = generate_property(&mut rng, "yardi", "BIG", 5_000);
    let snap = epms_e2e::snapshot_of(&big);
    store
        .create_property(&PropertyRecord::new("big", "Big", NOW))
        .unwrap();
    let mut settings = Settings::default();
    settings.access.enabled = true;
    store
        .update_property("big", &mut |p| p.settings = settings.clone())
        .unwrap();
    for _ in 0..2 {
        let state = store.load_state("big").unwrap();
        let out = plan_sync(&snap, &state, &settings, NOW);
        let run = SyncRun {
            started_at: NOW,
            finished_at: NOW,
            outcome: RunOutcome::Succeeded,
            counts: SyncCounts::default(),
            error_code: None,
            error: None,
            input_fingerprint: Some(input_fingerprint(&snap, &settings)),
            connector: None,
            host: None,
        };
        let planned = PlannedSync {
            run: &run,
            dispositions: &out.dispositions,
        };
        store.apply("big", &out.plan, Some(planned)).unwrap();
    }
    let state = store.load_state("big").unwrap();
    println!(
        "5,000-unit property: {} accounts, {} alerts, {} suggestions, {} PMS units",
        state.accounts.len(),
        state.alerts.len(),
        state.suggestions.len(),
        state.pms_units.len()
    );
    let account = *state.accounts.keys().nth(state.accounts.len() / 2).unwrap();
    let token = new_token();
    store
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
    let cache = tempfile::tempdir().unwrap();
    let runtime = Arc::new(Runtime::new(RuntimeConfig::new(cache.path())).unwrap());
    let router = app(AppState::new(store.clone(), runtime, HashMap::new()));

    let baseline = median(
        (0..21)
            .map(|_| {
                let t = Instant::now();
                let s = epms_store::PropertyStore::state(store.as_ref(), "big").unwrap();
                std::hint::black_box(s.accounts.len());
                t.elapsed()
            })
            .collect(),
    );
    println!(
        "{:<58} {:>9.3} ms  (baseline: the cached state every page starts from)",
        "state read",
        baseline.as_secs_f64() * 1e3
    );
    let pages = [
        ("properties (the list)", "/api/v1/properties".to_owned()),
        ("property (badge)", "/api/v1/properties/big".to_owned()),
        (
            "people, 50 a page",
            "/api/v1/properties/big/people?limit=50&offset=2500".to_owned(),
        ),
        (
            "people, searched",
            "/api/v1/properties/big/people?limit=50&q=smith".to_owned(),
        ),
        (
            "people, filtered by status",
            "/api/v1/properties/big/people?limit=50&status=past".to_owned(),
        ),
        (
            "a person's why",
            format!("/api/v1/properties/big/people/{account}/why?limit=50"),
        ),
        (
            "alerts (grouped, all)",
            "/api/v1/properties/big/alerts".to_owned(),
        ),
        (
            "access suggestions (all)",
            "/api/v1/properties/big/suggestions".to_owned(),
        ),
        (
            "PMS units with mappings (all)",
            "/api/v1/properties/big/pms-units".to_owned(),
        ),
        (
            "DOOR units (5,000 a page)",
            "/api/v1/properties/big/door-units?limit=5000".to_owned(),
        ),
        (
            "sync history",
            "/api/v1/properties/big/syncs?limit=50".to_owned(),
        ),
        (
            "PMS records, 100 a page",
            "/api/v1/properties/big/records?limit=100".to_owned(),
        ),
        (
            "PMS records, searched",
            "/api/v1/properties/big/records?limit=100&q=smith".to_owned(),
        ),
        (
            "PMS records, not synced",
            "/api/v1/properties/big/records?limit=100&outcome=not-synced".to_owned(),
        ),
    ];
    for (what, path) in pages {
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..11 {
            let req = Request::get(&path)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap();
            let t = Instant::now();
            let res = router.clone().oneshot(req).await.unwrap();
            assert!(res.status().is_success(), "{path}: {}", res.status());
            bytes = res.into_body().collect().await.unwrap().to_bytes().len();
            times.push(t.elapsed());
        }
        let m = median(times);
        println!(
            "{what:<58} {:>9.3} ms  {:>8} bytes   target <= {} ms  {}",
            m.as_secs_f64() * 1e3,
            bytes,
            TARGET.as_millis(),
            if m <= TARGET { "ok" } else { "MISSED" }
        );
    }
}
