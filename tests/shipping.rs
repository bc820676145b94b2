//! Shipping connectors to a running host over its API: signed uploads (and every kind
//! of refusal), activation while a sync runs, rollback, a pin for one property, the
//! dry run of a candidate, the audit of it all, and a restart keeping it.
//!
//! The candidate is `acme-next` 0.2.0: the template's wire format with one deliberate
//! change of meaning ("notice" read as a past lease).

use axum::http::StatusCode;
use epms_e2e::api_host::Host;
use epms_e2e::guests;
use epms_runtime::signing::{SecretKey, TrustedKeys};
use pms_sim::faults::{Fault, FaultKind};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const CANDIDATE_VERSION: &str = "0.2.0";

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).expect("the test components are built")
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A host whose trusted key is `author`'s, with the template's property set up.
async fn host(author: &SecretKey) -> (Host, String) {
    let h = Host::start(17, 60).await;
    *h.state.trust.write().unwrap() = TrustedKeys {
        keys: vec![author.public()],
        allow_unsigned: false,
    };
    let property = h.set_up("acme", "ACME-1").await;
    // The fixture must hold residents on notice: what the candidate reads differently.
    let on_notice = h.sim.state.read(|p| {
        p.property("acme", "ACME-1")
            .unwrap()
            .leases
            .iter()
            .filter(|l| l.status == epms_model::LeaseStatus::Notice)
            .count()
    });
    assert!(on_notice > 0, "the generated property has leases on notice");
    (h, property)
}

/// Uploads a component with an optional signature line.
async fn upload(h: &Host, wasm: &[u8], signature: Option<&str>) -> (StatusCode, Value) {
    let (status, _, body) = h
        .request_with_headers(
            "POST",
            "/api/v1/connectors/versions",
            Some(&h.admin),
            &[("content-type", "application/wasm")]
                .into_iter()
                .chain(signature.map(|s| ("x-epms-signature", s)))
                .collect::<Vec<_>>(),
            wasm.to_vec(),
        )
        .await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn install_candidate(h: &Host, author: &SecretKey) -> String {
    let wasm = read(guests::EPMS_TEST_ACME_NEXT);
    let (status, body) = upload(h, &wasm, Some(&author.sign(&wasm))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["version"]["version"], CANDIDATE_VERSION);
    let sha = body["version"]["sha256"].as_str().unwrap().to_owned();
    assert_eq!(sha, sha256(&wasm), "stored by the hash of its bytes");
    sha
}

/// The connector version a sync report says it ran.
fn ran(report: &Value) -> String {
    report["run"]["connector"]["version"]
        .as_str()
        .unwrap_or_else(|| panic!("the run names its connector: {report}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_refused_unless_signed_by_a_trusted_key_and_a_connector_each_with_its_own_error()
 {
    let author = SecretKey::generate().unwrap();
    let stranger = SecretKey::generate().unwrap();
    let (h, _) = host(&author).await;
    let good = read(guests::EPMS_TEST_ACME_NEXT);
    let refused = |body: &Value| body["code"].as_str().unwrap_or_default().to_owned();

    let (status, body) = upload(&h, &good, None).await;
    assert_eq!(
        (status, refused(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "unsigned".into())
    );

    let mut tampered = good.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x5a;
    let (status, body) = upload(&h, &tampered, Some(&author.sign(&good))).await;
    assert_eq!(
        (status, refused(&body)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "signature-mismatch".into()
        )
    );

    let (status, body) = upload(&h, &good, Some(&stranger.sign(&good))).await;
    assert_eq!(
        (status, refused(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "untrusted-key".into())
    );

    let old = read(guests::EPMS_TEST_OLD_CONTRACT);
    let (status, body) = upload(&h, &old, Some(&author.sign(&old))).await;
    assert_eq!(
        (status, refused(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "wrong-contract".into()),
        "{body}"
    );

    let junk = b"PK\x03\x04 not a component at all".to_vec();
    let (status, body) = upload(&h, &junk, Some(&author.sign(&junk))).await;
    assert_eq!(
        (status, refused(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "not-a-component".into()),
        "{body}"
    );

    // Nothing refused was stored; a manager may not even try.
    let versions = h.admin("GET", "/api/v1/connectors/versions", None).await;
    assert_eq!(
        versions["vendors"]["acme"]["versions"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "only the bundled template: {versions}"
    );
    let manager =
        epms_e2e::api_host::token(&h.store, epms_store::Role::PropertyManager, &["door-acme"]);
    let (status, _, _) = h
        .request(
            "POST",
            "/api/v1/connectors/versions",
            Some(&manager),
            Some("application/wasm"),
            good,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_during_a_sync_applies_from_the_next_sync_rolls_back_and_survives_a_restart() {
    let author = SecretKey::generate().unwrap();
    let (h, property) = host(&author).await;
    let base = format!("/api/v1/properties/{property}");
    let first = h.sync(&property).await;
    let bundled = first["run"]["connector"]["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let bundled_version = ran(&first);

    // A slow PMS keeps the next sync running while the new version is shipped.
    h.sim.state.add_fault(Fault {
        vendor: "acme".into(),
        endpoint: String::new(),
        kind: FaultKind::Latency { millis: 300 },
        times: Some(4),
    });
    let running = {
        let state = h.state.clone();
        let property = property.clone();
        tokio::spawn(async move { epms_api::sync_property(&state, &property).await })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while h.state.sync_progress(&property).is_none() {
        assert!(std::time::Instant::now() < deadline, "the sync started");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let sha = install_candidate(&h, &author).await;
    let activated = h
        .admin(
            "POST",
            "/api/v1/connectors/acme/activate",
            Some(json!({ "sha256": sha })),
        )
        .await;
    assert_eq!(activated["version"], CANDIDATE_VERSION);
    assert!(
        h.state.sync_progress(&property).is_some(),
        "the sync was still running when the version changed"
    );
    let during = running.await.unwrap().map_err(|f| f.error).unwrap();
    assert_eq!(
        ran(&during),
        bundled_version,
        "finished on the version it started with"
    );
    let next = h.sync(&property).await;
    assert_eq!(
        ran(&next),
        CANDIDATE_VERSION,
        "the next sync uses the new one"
    );

    // Rollback: the bundled version again, for the next sync.
    let back = h
        .admin("POST", "/api/v1/connectors/acme/rollback", None)
        .await;
    assert_eq!(back["active"], bundled.as_str());
    assert_eq!(ran(&h.sync(&property).await), bundled_version);
    let (status, _, problem) = h
        .call(
            "POST",
            "/api/v1/connectors/acme/rollback",
            Some(&h.admin),
            None,
        )
        .await;
    assert_eq!(
        (status, problem["code"].clone()),
        (StatusCode::CONFLICT, json!("nothing-to-roll-back"))
    );

    // Activated again, then the host restarts: the installed version is loaded from
    // the store and still active, without being uploaded again.
    h.admin(
        "POST",
        "/api/v1/connectors/acme/activate",
        Some(json!({ "sha256": sha })),
    )
    .await;
    let h = h.restart().await;
    let versions = h.admin("GET", "/api/v1/connectors/versions", None).await;
    assert_eq!(
        versions["vendors"]["acme"]["active"],
        sha.as_str(),
        "{versions}"
    );
    assert_eq!(ran(&h.sync(&property).await), CANDIDATE_VERSION);

    // Every step is in the service's audit log: who, when, which hash.
    let audit = h.admin("GET", "/api/v1/audit", None).await;
    let entries = audit["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["entry"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "connector.installed",
            "connector.activated",
            "connector.rolled-back",
            "connector.activated"
        ]
    );
    for e in entries {
        assert!(e["entry"]["at"].as_i64().unwrap() > 0);
        assert!(e["entry"]["actor"].to_string().contains("Admin"), "{e}");
        assert!(e["entry"]["detail"].as_str().unwrap().contains(&sha), "{e}");
    }
    let history = h.admin("GET", &format!("{base}/syncs"), None).await;
    assert!(
        history["runs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["connector"]["sha256"].is_string()),
        "every run names the version it ran: {history}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_pinned_for_one_property_leaves_the_others_on_the_default() {
    let author = SecretKey::generate().unwrap();
    let (h, property) = host(&author).await;
    // A second DOOR property on the same PMS property and credential.
    let canary = "door-acme-canary";
    h.admin(
        "POST",
        "/api/v1/properties",
        Some(json!({"id": canary, "name": "canary"})),
    )
    .await;
    let settings = h
        .admin("GET", &format!("/api/v1/properties/{property}"), None)
        .await["settings"]
        .clone();
    h.admin(
        "PUT",
        &format!("/api/v1/properties/{canary}/integration"),
        Some(json!({"credential_id": "acme-cred", "pms_property_ids": ["ACME-1"], "settings": settings})),
    )
    .await;
    let sha = install_candidate(&h, &author).await;
    h.admin(
        "PUT",
        &format!("/api/v1/properties/{canary}/connector"),
        Some(json!({ "sha256": sha })),
    )
    .await;
    assert_eq!(ran(&h.sync(canary).await), CANDIDATE_VERSION);
    let default = ran(&h.sync(&property).await);
    assert_ne!(
        default, CANDIDATE_VERSION,
        "the other property stays on the default"
    );
    let versions = h.admin("GET", "/api/v1/connectors/versions", None).await;
    let listed = versions["vendors"]["acme"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["sha256"] == sha.as_str())
        .unwrap()
        .clone();
    assert_eq!(listed["pinned_for"], json!([canary]));
    assert_eq!(listed["active"], false);

    // A version of another vendor cannot be pinned on this property.
    let yardi =
        h.admin("GET", "/api/v1/connectors/versions", None).await["vendors"]["yardi"]["active"]
            .clone();
    let (status, _, problem) = h
        .call(
            "PUT",
            &format!("/api/v1/properties/{canary}/connector"),
            Some(&h.admin),
            Some(json!({ "sha256": yardi })),
        )
        .await;
    assert_eq!(
        (status, problem["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("sha256"))
    );

    h.admin(
        "DELETE",
        &format!("/api/v1/properties/{canary}/connector"),
        None,
    )
    .await;
    assert_eq!(
        ran(&h.sync(canary).await),
        default,
        "unpinned: the default again"
    );
    // Unpinning what has no pin is done already: 204 again, not 404.
    let (status, _, _) = h
        .request(
            "DELETE",
            &format!("/api/v1/properties/{canary}/connector"),
            Some(&h.admin),
            None,
            Vec::new(),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_writes_nothing_and_shows_what_the_changed_status_mapping_would_do() {
    let author = SecretKey::generate().unwrap();
    let (h, property) = host(&author).await;
    h.sync(&property).await;
    let sha = install_candidate(&h, &author).await;
    let active =
        h.admin("GET", "/api/v1/connectors/versions", None).await["vendors"]["acme"]["active"]
            .as_str()
            .unwrap()
            .to_owned();
    let db = h.data_dir().join("epms.redb");
    let before = sha256(&std::fs::read(&db).unwrap());

    let same = h
        .admin(
            "POST",
            &format!("/api/v1/properties/{property}/dry-run"),
            Some(json!({ "sha256": active })),
        )
        .await;
    assert_eq!(same["identical"], true, "{same}");

    let report = h
        .admin(
            "POST",
            &format!("/api/v1/properties/{property}/dry-run"),
            Some(json!({ "sha256": sha })),
        )
        .await;
    assert_eq!(report["identical"], false);
    assert_eq!(report["candidate"]["version"], CANDIDATE_VERSION);
    let only_candidate = report["difference"]["only_candidate"].as_array().unwrap();
    let to_past: Vec<&Value> = only_candidate
        .iter()
        .filter(|c| {
            c["area"] == "accounts"
                && c["what"]
                    .as_str()
                    .unwrap()
                    .contains("status Some(Current) → Some(Past)")
        })
        .collect();
    assert!(
        !to_past.is_empty(),
        "residents on notice would become past residents: {report}"
    );
    assert_eq!(
        sha256(&std::fs::read(&db).unwrap()),
        before,
        "the database is byte for byte what it was"
    );
    let runs = h
        .admin("GET", &format!("/api/v1/properties/{property}/syncs"), None)
        .await;
    assert_eq!(
        runs["runs"].as_array().unwrap().len(),
        1,
        "no sync recorded"
    );
}

/// Regression: removing a key from `trusted_keys` left every version it signed loaded
/// and active, with no warning. At start each version is verified again: one whose key
/// is gone is not loaded (its vendor runs the bundled connector), it is listed as not
/// loaded, and an admin can remove it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_whose_key_is_no_longer_trusted_is_not_loaded_and_can_be_removed() {
    let author = SecretKey::generate().unwrap();
    let (h, property) = host(&author).await;
    let sha = install_candidate(&h, &author).await;
    h.admin(
        "POST",
        "/api/v1/connectors/acme/activate",
        Some(json!({ "sha256": sha })),
    )
    .await;
    assert_eq!(ran(&h.sync(&property).await), CANDIDATE_VERSION);

    // The key is removed from the configuration; the host restarts.
    let h = h.restart_trusting(TrustedKeys::default()).await;
    assert!(
        h.restore_problems
            .iter()
            .any(|p| p.contains(&sha) && p.contains("no longer trusted")),
        "{:?}",
        h.restore_problems
    );
    assert_ne!(
        ran(&h.sync(&property).await),
        CANDIDATE_VERSION,
        "the bundled connector syncs instead"
    );
    let versions = h.admin("GET", "/api/v1/connectors/versions", None).await;
    assert_eq!(
        versions["not_loaded"][0]["sha256"],
        sha.as_str(),
        "{versions}"
    );

    // Still its vendor's active version in the store: removing it is refused until
    // the vendor is rolled back.
    let path = format!("/api/v1/connectors/versions/{sha}");
    let (status, _, body) = h
        .request("DELETE", &path, Some(&h.admin), None, Vec::new())
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body:?}");
    assert!(
        String::from_utf8_lossy(&body).contains("connector-version-active"),
        "{body:?}"
    );
    h.admin("POST", "/api/v1/connectors/acme/rollback", None)
        .await;
    let (status, _, body) = h
        .request("DELETE", &path, Some(&h.admin), None, Vec::new())
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body:?}");
    let versions = h.admin("GET", "/api/v1/connectors/versions", None).await;
    assert_eq!(versions["not_loaded"], json!([]), "{versions}");
    let (status, _, _) = h
        .request("DELETE", &path, Some(&h.admin), None, Vec::new())
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let audit = h.admin("GET", "/api/v1/audit", None).await;
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["entry"]["action"] == "connector.removed"),
        "{audit}"
    );
    // A restart now has nothing to refuse.
    assert!(h.restart().await.restore_problems.is_empty());
}
