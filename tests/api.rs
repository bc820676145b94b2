//! The admin API over real HTTP on loopback, real connectors and the simulator: the
//! setup flow of the seed article for every vendor, auth (a manager probing another
//! property gets 404), problem+json errors, alerts resolved through the API, access
//! approved, the scheduler, OpenAPI, faults and a restart.

use axum::http::StatusCode;
use epms_api::SchedulerConfig;
use epms_e2e::api_host::{Host, VENDORS, token};
use epms_store::Role;
use pms_sim::faults::{Fault, FaultKind};
use serde_json::{Value, json};

async fn host() -> Host {
    Host::start(31, 40).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_setup_flow_works_for_every_vendor_and_a_sync_imports_residents() {
    let h = host().await;
    for (vendor, pms_id, _) in VENDORS {
        let property = h.set_up(vendor, pms_id).await;
        let report = h
            .admin("POST", &format!("/api/v1/properties/{property}/sync"), None)
            .await;
        assert!(
            report["accounts_created"].as_u64().unwrap() > 0,
            "{vendor}: {report}"
        );
        let people = h
            .admin(
                "GET",
                &format!("/api/v1/properties/{property}/people"),
                None,
            )
            .await;
        assert!(!people["people"].as_array().unwrap().is_empty());
        let p = h
            .admin("GET", &format!("/api/v1/properties/{property}"), None)
            .await;
        assert!(p["last_sync_ok"].is_number());
        let history = h
            .admin("GET", &format!("/api/v1/properties/{property}/syncs"), None)
            .await;
        assert_eq!(history["runs"][0]["outcome"], "succeeded");
        let units = h
            .admin(
                "GET",
                &format!("/api/v1/properties/{property}/pms-units"),
                None,
            )
            .await;
        assert_eq!(
            units["unmapped"].as_u64().unwrap() as usize,
            units["units"].as_array().unwrap().len()
        );
    }
    // The credentials list shows secret names, never values.
    let creds = h.admin("GET", "/api/v1/credentials", None).await;
    let text = creds.to_string();
    for (vendor, _, _) in VENDORS {
        for (k, v) in h
            .sim
            .state
            .read(|p| p.credential(vendor).unwrap().fields.clone())
        {
            if [
                "password",
                "api-key",
                "license-key",
                "interface-license",
                "client-secret",
                "partner-key",
            ]
            .contains(&k.as_str())
            {
                assert!(!text.contains(&v), "{vendor} {k} leaked");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_required_and_a_manager_never_sees_another_property() {
    let h = host().await;
    let (status, ctype, v) = h.call("GET", "/api/v1/properties", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(ctype, "application/problem+json");
    assert_eq!(v["code"], "unauthorized");
    assert_eq!(
        h.call("GET", "/api/v1/properties", Some("epms_nope"), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.call("GET", "/healthz", None, None).await.0,
        StatusCode::OK
    );

    for id in ["door-a", "door-b"] {
        h.admin(
            "POST",
            "/api/v1/properties",
            Some(json!({"id": id, "name": id})),
        )
        .await;
    }
    let manager = token(&h.store, Role::PropertyManager, &["door-a"]);
    let (status, _, list) = h
        .call("GET", "/api/v1/properties", Some(&manager), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["properties"].as_array().unwrap().len(), 1);
    assert_eq!(
        h.call(
            "GET",
            "/api/v1/properties/door-a/alerts",
            Some(&manager),
            None
        )
        .await
        .0,
        StatusCode::OK
    );
    for path in [
        "/api/v1/properties/door-b",
        "/api/v1/properties/door-b/alerts",
        "/api/v1/properties/door-b/people",
        "/api/v1/properties/door-nope",
    ] {
        let (status, _, v) = h.call("GET", path, Some(&manager), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(v["code"], "not-found");
    }
    let (status, _, v) = h
        .call(
            "POST",
            "/api/v1/properties",
            Some(&manager),
            Some(json!({"id": "x", "name": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(v["code"], "forbidden");
    assert_eq!(
        h.call("GET", "/api/v1/feed", Some(&manager), None).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_problems_naming_the_field() {
    let h = host().await;
    let (status, ctype, v) = h
        .call(
            "POST",
            "/api/v1/properties",
            Some(&h.admin),
            Some(json!({"id": 5})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(ctype, "application/problem+json");
    assert_eq!(v["field"], "body");
    h.admin(
        "POST",
        "/api/v1/properties",
        Some(json!({"id": "door-1", "name": "One"})),
    )
    .await;
    let (status, _, v) = h
        .call(
            "POST",
            "/api/v1/properties",
            Some(&h.admin),
            Some(json!({"id": "door-1", "name": "Again"})),
        )
        .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("exists"))
    );
    let (status, _, v) = h
        .call(
            "POST",
            "/api/v1/credentials",
            Some(&h.admin),
            Some(json!({"id": "c", "vendor": "yardi", "fields": {"base-url": "http://x"}})),
        )
        .await;
    assert_eq!(
        (status, v["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("fields"))
    );
    let mut settings = serde_json::to_value(epms_engine::Settings::default()).unwrap();
    settings["excluded_statuses"] = json!(["Not A Yardi Status"]);
    let fields = h.credential_fields("yardi");
    h.admin(
        "POST",
        "/api/v1/credentials",
        Some(json!({"id": "y", "vendor": "yardi", "fields": fields})),
    )
    .await;
    let (status, _, v) = h
        .call("PUT", "/api/v1/properties/door-1/integration", Some(&h.admin), Some(json!({"credential_id": "y", "pms_property_ids": ["rnttrk01"], "settings": settings})))
        .await;
    assert_eq!(
        (status, v["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("settings.excluded_statuses")
        )
    );
    let (status, _, v) = h
        .call(
            "PUT",
            "/api/v1/properties/door-1/integration",
            Some(&h.admin),
            Some(
                json!({"credential_id": "y", "pms_property_ids": ["rnttrk01"],
                "settings": epms_engine::Settings::default(), "sync_interval_minutes": 1}),
            ),
        )
        .await;
    assert_eq!(
        (status, v["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("sync_interval_minutes")
        )
    );
    // Settings out of range, duplicate PMS ids: each refused naming its field.
    let integration = |settings: Value, ids: Value| json!({"credential_id": "y", "pms_property_ids": ids, "settings": settings});
    let mut wrapping = serde_json::to_value(epms_engine::Settings::default()).unwrap();
    wrapping["access"]["grant_delay_secs"] = json!(i64::MAX);
    let mut keyless = serde_json::to_value(epms_engine::Settings::default()).unwrap();
    keyless["access"]["common_keys"] = json!([{"name": "", "shareable": false}]);
    let default = serde_json::to_value(epms_engine::Settings::default()).unwrap();
    for (body, field) in [
        (
            integration(wrapping, json!(["rnttrk01"])),
            "settings.access.grant_delay_secs",
        ),
        (
            integration(keyless, json!(["rnttrk01"])),
            "settings.access.common_keys",
        ),
        (
            integration(default.clone(), json!(["rnttrk01", "rnttrk01"])),
            "pms_property_ids",
        ),
        // Regression: an id the credential does not see was accepted silently (the
        // PMS is asked which properties it sees).
        (
            integration(default.clone(), json!(["rnttrk01", "not-in-this-pms"])),
            "pms_property_ids",
        ),
    ] {
        let (status, _, v) = h
            .call(
                "PUT",
                "/api/v1/properties/door-1/integration",
                Some(&h.admin),
                Some(body),
            )
            .await;
        assert_eq!(
            (status, v["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{v}"
        );
    }
    let (status, _, v) = h
        .call(
            "PUT",
            "/api/v1/properties/door-1/integration",
            Some(&h.admin),
            Some(json!({"credential_id": "nobody", "pms_property_ids": [], "settings": default})),
        )
        .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("no-such-credential")),
        "{v}"
    );
    // A known route with a method it does not take: a problem, not an empty 405.
    let (status, ctype, v) = h
        .call("DELETE", "/api/v1/properties", Some(&h.admin), None)
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(ctype, "application/problem+json");
    assert_eq!(v["code"], "method-not-allowed");
    let p = h
        .admin(
            "PUT",
            "/api/v1/properties/door-1/integration",
            Some(
                json!({"credential_id": "y", "pms_property_ids": ["rnttrk01"],
                "settings": epms_engine::Settings::default(), "sync_interval_minutes": 15}),
            ),
        )
        .await;
    assert_eq!(p["sync_interval_minutes"], 15);
    let ids: Vec<u64> = (0..51).collect();
    let (status, _, v) = h
        .call(
            "POST",
            "/api/v1/properties/door-1/suggestions/approve",
            Some(&h.admin),
            Some(json!({"ids": ids})),
        )
        .await;
    assert_eq!(
        (status, v["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("ids"))
    );
    let (status, _, _) = h.call("GET", "/api/v1/nowhere", Some(&h.admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_resolved_and_access_approved_through_the_api() {
    let h = host().await;
    let property = h.set_up("entrata", "100").await;
    // Door units by CSV: a bad row rejects the file, a good file creates them.
    let csv_path = format!("/api/v1/properties/{property}/door-units/csv");
    let csv = |body: &'static str| {
        h.request(
            "POST",
            &csv_path,
            Some(&h.admin),
            Some("text/csv"),
            body.as_bytes().to_vec(),
        )
    };
    let (status, _, _) = csv("name\nA1\n\nA1\n").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    h.admin("POST", &format!("/api/v1/properties/{property}/sync"), None)
        .await;
    let units = h
        .admin(
            "GET",
            &format!("/api/v1/properties/{property}/pms-units"),
            None,
        )
        .await;
    let first = &units["units"][0];
    let (status, _, _) = csv("name,building\nTower 1,T\n").await;
    assert_eq!(status, StatusCode::CREATED);
    let (pms, unit) = (
        first["pms_property"].as_str().unwrap(),
        first["unit"]["id"].as_str().unwrap(),
    );
    h.admin(
        "PUT",
        &format!("/api/v1/properties/{property}/pms-units/{pms}/{unit}/mapping"),
        Some(json!({"door_unit": 1})),
    )
    .await;
    // The DOOR units are listed, each with what is mapped to it.
    let door_units = h
        .admin(
            "GET",
            &format!("/api/v1/properties/{property}/door-units"),
            None,
        )
        .await;
    assert_eq!(door_units["total"], 1, "{door_units}");
    let tower = &door_units["door_units"][0];
    assert_eq!(tower["name"], "Tower 1");
    assert_eq!(tower["building"], "T");
    assert_eq!(
        tower["mapped_from"],
        json!([{"pms_property": pms, "unit": unit}])
    );
    // Alerts: dismiss every open one in bulk.
    let alerts = h
        .admin(
            "GET",
            &format!("/api/v1/properties/{property}/alerts"),
            None,
        )
        .await;
    let ids: Vec<u64> = alerts["groups"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|g| {
            g.as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_u64().unwrap())
        })
        .take(50)
        .collect();
    assert!(
        !ids.is_empty(),
        "the generated data raises alerts: {alerts}"
    );
    // Regression: fingerprints (u64 hashes past 2^53) were JSON numbers, which a
    // JavaScript client reads wrong. They are decimal strings.
    for alert in alerts["groups"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|g| g.as_array().unwrap())
    {
        let fingerprint = alert["fingerprint"]
            .as_str()
            .unwrap_or_else(|| panic!("{alert}"));
        fingerprint.parse::<u64>().unwrap();
    }
    let items: Vec<Value> = ids
        .iter()
        .map(|id| json!({"alert": id, "resolution": {"kind": "dismiss"}}))
        .collect();
    h.admin(
        "POST",
        &format!("/api/v1/properties/{property}/alerts/resolve"),
        Some(json!({"items": items})),
    )
    .await;
    let after = h
        .admin(
            "GET",
            &format!("/api/v1/properties/{property}/alerts"),
            None,
        )
        .await;
    assert!(after["open"].as_u64().unwrap() < alerts["open"].as_u64().unwrap());
    // Access: approve some suggestions; the feed shows the grants.
    let s = h
        .admin(
            "GET",
            &format!("/api/v1/properties/{property}/suggestions"),
            None,
        )
        .await;
    let ids: Vec<u64> = s["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_u64().unwrap())
        .take(10)
        .collect();
    assert!(!ids.is_empty());
    // A page of them: the same ones, in the same order, with where the next starts.
    let all = s["suggestions"].as_array().unwrap();
    assert_eq!(s["total"].as_u64().unwrap() as usize, all.len());
    let page = h
        .admin(
            "GET",
            &format!("/api/v1/properties/{property}/suggestions?offset=1&limit=2"),
            None,
        )
        .await;
    assert_eq!(page["suggestions"], json!(all[1..3]));
    assert_eq!(
        page["next_offset"],
        if all.len() > 3 { json!(3) } else { Value::Null }
    );
    let approved = h
        .admin(
            "POST",
            &format!("/api/v1/properties/{property}/suggestions/approve"),
            Some(json!({"ids": ids})),
        )
        .await;
    assert_eq!(approved["grants_added"].as_u64().unwrap(), 10);
    // The pending list is read again from the new state, not from the page above.
    let pending = h
        .admin(
            "GET",
            &format!("/api/v1/properties/{property}/suggestions"),
            None,
        )
        .await;
    assert_eq!(
        pending["total"].as_u64().unwrap() as usize,
        all.len() - ids.len()
    );
    let feed = h.admin("GET", "/api/v1/feed", None).await;
    assert_eq!(feed["events"].as_array().unwrap().len(), 10);
    assert_eq!(feed["cursor"], 10);
    // What was closed is listed with how: the approved suggestions, the dismissed alerts.
    let closed = h
        .admin(
            "GET",
            &format!("/api/v1/properties/{property}/suggestions/history"),
            None,
        )
        .await;
    let approved: Vec<&Value> = closed["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["outcome"]
                .as_str()
                .is_some_and(|o| o.contains("approved"))
        })
        .collect();
    assert_eq!(approved.len(), 10, "{closed}");
    // Dismissed alerts stay live (a changed fingerprint brings them back): the
    // history holds only alerts that left the live set, none yet here.
    let resolved = h
        .admin(
            "GET",
            &format!("/api/v1/properties/{property}/alerts/history?limit=1000"),
            None,
        )
        .await;
    assert_eq!(resolved["alerts"], json!([]), "{resolved}");
    // A manager of the property reads its feed (not the service-wide one).
    let manager = token(&h.store, Role::PropertyManager, &[&property]);
    let (status, _, mine) = h
        .call(
            "GET",
            &format!("/api/v1/properties/{property}/feed?limit=4"),
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine["events"].as_array().unwrap().len(), 4);
    assert!(
        mine["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["event"]["property"] == property.as_str())
    );
    let rest = h
        .call(
            "GET",
            &format!(
                "/api/v1/properties/{property}/feed?cursor={}",
                mine["cursor"]
            ),
            Some(&manager),
            None,
        )
        .await
        .2;
    assert_eq!(rest["events"].as_array().unwrap().len(), 6, "{rest}");
    let (status, _, _) = h.call("GET", "/api/v1/feed", Some(&manager), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let audit = h
        .admin("GET", &format!("/api/v1/properties/{property}/audit"), None)
        .await;
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["entry"]["action"] == "grant.added")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_syncs_a_due_property_and_retries_after_the_pms_retry_after() {
    let h = host().await;
    let property = h.set_up("yardi", "rnttrk01").await;
    let unattached = "door-empty";
    h.admin(
        "POST",
        "/api/v1/properties",
        Some(json!({"id": unattached, "name": "not set up"})),
    )
    .await;
    h.sim.state.add_fault(Fault {
        vendor: "yardi".into(),
        endpoint: String::new(),
        kind: FaultKind::RateLimited { retry_after: 1 },
        times: Some(1),
    });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let config = SchedulerConfig {
        startup_spread_seconds: 0,
        tick_millis: 50,
        ..SchedulerConfig::default()
    };
    let scheduler = tokio::spawn(epms_api::scheduler::run(h.state.clone(), config, stopped));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let runs = loop {
        let history = h
            .admin("GET", &format!("/api/v1/properties/{property}/syncs"), None)
            .await;
        let runs = history["runs"].as_array().unwrap().clone();
        if runs.iter().any(|r| r["outcome"] == "succeeded") {
            break runs;
        }
        assert!(std::time::Instant::now() < deadline, "no sync: {history}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    stop.send(true).unwrap();
    scheduler.await.unwrap();

    // Newest first: the retry succeeded after the rate-limited first attempt, and
    // the hourly interval means no third sync.
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0]["outcome"], "succeeded");
    assert_eq!(runs[1]["outcome"], "failed");
    assert_eq!(runs[1]["error_code"], "rate-limited");
    let waited = runs[0]["started_at"].as_i64().unwrap() - runs[1]["started_at"].as_i64().unwrap();
    assert!(waited >= 1, "Retry-After honoured: {runs:?}");
    // A property with nothing attached is not scheduled.
    let none = h
        .admin(
            "GET",
            &format!("/api/v1/properties/{unattached}/syncs"),
            None,
        )
        .await;
    assert_eq!(none["runs"], json!([]));

    // Metrics count both attempts; a manager may not read them.
    let (status, ctype, bytes) = h
        .request("GET", "/metrics", Some(&h.admin), None, Vec::new())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("text/plain"), "{ctype}");
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(
        text.contains("epms_syncs_total{outcome=\"failed\",code=\"rate-limited\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("epms_syncs_total{outcome=\"succeeded\",code=\"\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("epms_sync_duration_seconds_count 2"),
        "{text}"
    );
    assert!(
        text.contains(&format!("epms_open_alerts{{property=\"{property}\"}}")),
        "{text}"
    );
    assert!(!text.contains("epms_outbound_requests_total 0\n"), "{text}");
    // The connector's own costs, by vendor and version.
    let calls = text
        .lines()
        .find(|l| l.starts_with("epms_plugin_calls_total{vendor=\"yardi\""))
        .unwrap_or_else(|| panic!("yardi's calls: {text}"));
    assert!(!calls.ends_with(" 0"), "{calls}");
    // Keyed by the component's hash too (two builds of one version are two series),
    // and no series for the load-time `info` calls (they had empty labels).
    assert!(calls.contains(",sha256=\""), "{calls}");
    assert!(!text.contains("vendor=\"\""), "{text}");
    let memory = text
        .lines()
        .find(|l| l.starts_with("epms_plugin_memory_peak_bytes{vendor=\"yardi\""))
        .unwrap_or_else(|| panic!("yardi's memory: {text}"));
    let bytes: f64 = memory.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(bytes >= 65536.0, "at least one wasm page: {memory}");
    let manager = token(&h.store, Role::PropertyManager, &[&property]);
    let (status, _, _) = h.call("GET", "/metrics", Some(&manager), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_documents_every_route_and_the_access_it_declares_holds() {
    let h = host().await;
    for id in ["door-a", "door-b"] {
        h.admin(
            "POST",
            "/api/v1/properties",
            Some(json!({"id": id, "name": id})),
        )
        .await;
    }
    let manager = token(&h.store, Role::PropertyManager, &["door-a"]);
    let (status, _, doc) = h.call("GET", "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let endpoints = epms_api::endpoints();
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(operations, endpoints.len(), "one operation per route");
    for e in &endpoints {
        let op = &doc["paths"][e.path][e.method];
        assert!(
            !e.summary.is_empty() && op["summary"] == e.summary,
            "{} {}",
            e.method,
            e.path
        );
        // A JSON body is described by its type's schema, its references resolved.
        if e.body == Some("application/json") {
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            let name = schema["$ref"]
                .as_str()
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                .unwrap_or_else(|| panic!("{} {}: {schema}", e.method, e.path));
            let resolved = &doc["components"]["schemas"][name];
            assert_eq!(resolved["type"], "object", "{name}: {resolved}");
            for r in resolved.to_string().split("\"$ref\":\"").skip(1) {
                let target = r.split('"').next().unwrap();
                let key = target.trim_start_matches("#/components/schemas/");
                assert!(
                    doc["components"]["schemas"][key].is_object(),
                    "{name} refers to {target}"
                );
            }
        }
        let uri = e
            .path
            .replace("{id}", "door-b")
            .replace("{pms}", "P1")
            .replace(['{', '}'], "");
        let method = e.method.to_uppercase();
        // The console's sign-in is the one public route that takes a body: a token.
        let body = e.body.map(|_| match (e.method, e.path) {
            ("post", "/console/session") => json!({"token": manager}),
            _ => json!({}),
        });
        // Routed: the path and method are known to the router.
        let (status, _, v) = h.call(&method, &uri, Some(&h.admin), body.clone()).await;
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        assert_ne!(v["detail"], "no such route", "{method} {uri}");
        // The declared access holds for a manager of another property.
        let (status, _, _) = h.call(&method, &uri, Some(&manager), body).await;
        match e.access {
            epms_api::Access::Public | epms_api::Access::AnyToken => {
                assert!(status.is_success(), "{method} {uri}: {status}")
            }
            epms_api::Access::Admin => {
                assert_eq!(status, StatusCode::FORBIDDEN, "{method} {uri}")
            }
            epms_api::Access::Property => {
                assert_eq!(status, StatusCode::NOT_FOUND, "{method} {uri}")
            }
        }
        if e.access != epms_api::Access::Public {
            let (status, _, _) = h.call(&method, &uri, None, None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_applies_nothing_and_an_empty_pms_answer_revokes_nobody() {
    let h = host().await;
    let property = h.set_up("mri", "500").await;
    let base = format!("/api/v1/properties/{property}");
    // Automatic mode, keys at once: the first sync grants the common keys.
    h.automatic_access(&property).await;
    let first = h.admin("POST", &format!("{base}/sync"), None).await;
    assert!(first["grants_added"].as_u64().unwrap() > 0, "{first}");
    let good = h.admin("GET", &base, None).await["last_sync_ok"].clone();
    let people = h
        .admin("GET", &format!("{base}/people?limit=1"), None)
        .await["total"]
        .clone();
    let feed_len = |v: &Value| v["events"].as_array().unwrap().len();
    let events = feed_len(&h.admin("GET", "/api/v1/feed?limit=5000", None).await);
    assert!(events > 0);

    // A PMS failing: a typed problem, nothing applied, the last good sync time kept.
    h.sim.state.add_fault(Fault {
        vendor: "mri".into(),
        endpoint: String::new(),
        kind: FaultKind::ServerError { status: 503 },
        times: None,
    });
    let (status, ctype, problem) = h
        .call("POST", &format!("{base}/sync"), Some(&h.admin), None)
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{problem}");
    assert_eq!(ctype, "application/problem+json");
    assert_eq!(
        problem["code"], "pms-transient",
        "the cause has its own code"
    );
    // A property without an integration: the caller's mistake, 409 (it was a 502).
    h.admin(
        "POST",
        "/api/v1/properties",
        Some(json!({"id": "door-bare", "name": "Not set up"})),
    )
    .await;
    let (status, _, problem) = h
        .call(
            "POST",
            "/api/v1/properties/door-bare/sync",
            Some(&h.admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "not-set-up");
    let history = h.admin("GET", &format!("{base}/syncs"), None).await;
    assert_eq!(history["runs"][0]["outcome"], "failed");
    assert_eq!(history["runs"][0]["error_code"], "transient");
    assert_eq!(history["last_sync_ok"], good);
    h.sim.state.clear_faults();

    // The PMS answering "nobody lives here": nobody loses access, nobody is removed;
    // once they have been missing long enough, people get Missing From PMS alerts.
    h.sim.state.add_fault(Fault {
        vendor: "mri".into(),
        endpoint: String::new(),
        kind: FaultKind::Empty,
        times: None,
    });
    for _ in 0..3 {
        let r = h.admin("POST", &format!("{base}/sync"), None).await;
        assert_eq!(r["grants_removed"], 0, "{r}");
    }
    assert_eq!(
        h.admin("GET", &format!("{base}/people?limit=1"), None)
            .await["total"],
        people
    );
    assert_eq!(
        feed_len(&h.admin("GET", "/api/v1/feed?limit=5000", None).await),
        events,
        "no access event"
    );
    let alerts = h.admin("GET", &format!("{base}/alerts"), None).await;
    let missing = alerts["groups"]["missing-from-pms"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(missing > 0, "{alerts}");

    // The PMS back: the next sync clears those alerts.
    h.sim.state.clear_faults();
    h.admin("POST", &format!("{base}/sync"), None).await;
    let alerts = h.admin("GET", &format!("{base}/alerts"), None).await;
    assert!(
        alerts["groups"]["missing-from-pms"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{alerts}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_a_sync_loses_nothing_and_keeps_the_feed_cursor() {
    let h = host().await;
    let property = h.set_up("entrata", "100").await;
    let base = format!("/api/v1/properties/{property}");
    h.automatic_access(&property).await;
    h.admin("POST", &format!("{base}/sync"), None).await;
    let feed = h.admin("GET", "/api/v1/feed?limit=5000", None).await;
    let cursor = feed["cursor"].as_u64().unwrap();
    let people = h
        .admin("GET", &format!("{base}/people?limit=1"), None)
        .await["total"]
        .clone();

    // A move-out lands in the PMS; the host goes down while the next sync runs.
    let moved_out = h.sim.state.read(|p| {
        p.properties
            .iter()
            .find(|p| p.vendor == "entrata")
            .unwrap()
            .leases
            .iter()
            .find(|l| l.status == epms_model::LeaseStatus::Current)
            .map(|l| l.id.clone())
            .unwrap()
    });
    h.sim
        .state
        .write(|p| {
            p.apply(&pms_sim::dataset::Mutation::MoveOut {
                vendor: "entrata".into(),
                property: "100".into(),
                lease: moved_out,
            })
        })
        .unwrap();
    let running = {
        let state = h.state.clone();
        let property = property.clone();
        tokio::spawn(async move { epms_api::sync_property(&state, &property).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    running.abort();
    let _ = running.await;
    let h = h.restart().await;

    // The old token and the old data are there; the sync, run again, finishes the move-out.
    assert_eq!(
        h.admin("GET", &format!("{base}/people?limit=1"), None)
            .await["total"],
        people
    );
    h.admin("POST", &format!("{base}/sync"), None).await;
    let after = h
        .admin(
            "GET",
            &format!("/api/v1/feed?cursor={cursor}&limit=5000"),
            None,
        )
        .await;
    let events = after["events"].as_array().unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.iter().all(|s| *s > cursor), "{seqs:?}");
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "no gaps: {seqs:?}"
    );
    assert!(
        events.iter().any(|e| e.to_string().contains("revoked")),
        "the move-out revoked keys: {after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_now_whose_caller_hangs_up_still_finishes_and_the_next_one_runs() {
    let h = host().await;
    let property = h.set_up("mri", "500").await;
    let base = format!("/api/v1/properties/{property}");
    // The PMS is slow; the caller gives up after 50 ms and closes its connection.
    h.sim.state.add_fault(Fault {
        vendor: "mri".into(),
        endpoint: String::new(),
        kind: FaultKind::Latency { millis: 400 },
        times: Some(1),
    });
    let path = format!("{base}/sync");
    let gave_up = tokio::time::timeout(
        std::time::Duration::from_millis(50),
        h.call("POST", &path, Some(&h.admin), None),
    )
    .await;
    assert!(gave_up.is_err(), "the sync outlasts the caller's patience");
    // The sync carries on and is recorded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let runs = h.admin("GET", &format!("{base}/syncs"), None).await;
        if runs["runs"].as_array().unwrap().len() == 1 {
            assert_eq!(runs["runs"][0]["outcome"], "succeeded", "{runs}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the sync finished: {runs}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Sync Now works again: the property is not stuck behind the abandoned call.
    let report = h.admin("POST", &path, None).await;
    assert_eq!(report["run"]["outcome"], "succeeded", "{report}");
    let runs = h.admin("GET", &format!("{base}/syncs"), None).await;
    assert_eq!(runs["runs"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_created_listed_and_revoked_through_the_api_and_audited() {
    let h = host().await;
    for id in ["door-a", "door-b"] {
        h.admin(
            "POST",
            "/api/v1/properties",
            Some(json!({"id": id, "name": id})),
        )
        .await;
    }
    // A manager of door-a only; bad requests name their field.
    let (status, _, problem) = h
        .call(
            "POST",
            "/api/v1/tokens",
            Some(&h.admin),
            Some(json!({"name": "m", "role": "property-manager"})),
        )
        .await;
    assert_eq!(
        (status, &problem["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("properties"))
    );
    let created = h
        .admin(
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "Mia (manager)", "role": "property-manager", "properties": ["door-a"]})),
        )
        .await;
    let manager = created["token"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, _, _) = h
        .call("GET", "/api/v1/properties/door-a", Some(&manager), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = h
        .call("GET", "/api/v1/properties/door-b", Some(&manager), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = h.call("GET", "/api/v1/tokens", Some(&manager), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Listed by id, never by value.
    let listed = h.admin("GET", "/api/v1/tokens", None).await;
    assert!(!listed.to_string().contains(&manager));
    assert!(!listed.to_string().contains(&h.admin));
    assert!(
        listed["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == id.as_str())
    );

    // Revoked: refused from the next request on.
    let (status, _, _) = h
        .call(
            "DELETE",
            &format!("/api/v1/tokens/{id}"),
            Some(&h.admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = h
        .call("GET", "/api/v1/properties/door-a", Some(&manager), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = h
        .call(
            "DELETE",
            &format!("/api/v1/tokens/{id}"),
            Some(&h.admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let audit = h.admin("GET", "/api/v1/audit", None).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["entry"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["token.created", "token.revoked"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_sync_shows_its_progress_in_the_sync_history() {
    let h = host().await;
    let property = h.set_up("entrata", "100").await;
    let base = format!("/api/v1/properties/{property}");
    h.sim.state.add_fault(Fault {
        vendor: "entrata".into(),
        endpoint: String::new(),
        kind: FaultKind::Latency { millis: 150 },
        times: None,
    });
    let sync = {
        let state = h.state.clone();
        let property = property.clone();
        tokio::spawn(async move { epms_api::sync_property(&state, &property).await })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let seen = loop {
        let runs = h.admin("GET", &format!("{base}/syncs"), None).await;
        if runs["running"]["progress"]["pages"].as_u64().unwrap_or(0) > 0 {
            break runs;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "progress shown: {runs}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(
        seen["running"]["progress"]["records"].as_u64().unwrap() > 0,
        "{seen}"
    );
    assert!(seen["running"]["started_at"].is_i64(), "{seen}");
    sync.await.unwrap().map_err(|f| f.error).unwrap();
    let after = h.admin("GET", &format!("{base}/syncs"), None).await;
    assert_eq!(after["running"], Value::Null, "{after}");
}

/// A small deterministic generator of awkward JSON: deep nesting, wrong types, huge
/// and negative numbers, control characters, the shapes the API expects with the
/// wrong contents.
struct Awkward(u64);

impl Awkward {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }

    fn value(&mut self, depth: u32) -> Value {
        const KEYS: [&str; 16] = [
            "id",
            "name",
            "vendor",
            "fields",
            "settings",
            "credential_id",
            "pms_property_ids",
            "resolution",
            "kind",
            "account",
            "items",
            "ids",
            "door_unit",
            "mappings",
            "status",
            "sha256",
        ];
        const TEXT: [&str; 8] = [
            "",
            " ",
            "door-a",
            "\u{0}\u{1f}\u{202e}",
            "../../etc/passwd",
            "ÿ̸̛",
            "merge",
            "current",
        ];
        match self.next() % if depth > 3 { 5 } else { 8 } {
            0 => Value::Null,
            1 => json!(self.next().is_multiple_of(2)),
            2 => json!(self.next() as i64),
            3 => json!(-1.5e300),
            4 => json!(self.pick(&TEXT)),
            5 => Value::Array(
                (0..self.next() % 4)
                    .map(|_| self.value(depth + 1))
                    .collect(),
            ),
            _ => {
                let mut map = serde_json::Map::new();
                for _ in 0..self.next() % 5 {
                    let key = self.pick(&KEYS).to_owned();
                    map.insert(key, self.value(depth + 1));
                }
                Value::Object(map)
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awkward_bodies_on_every_route_get_a_problem_never_a_server_error() {
    let h = host().await;
    let property = h.set_up("entrata", "100").await;
    h.sync(&property).await;
    let mut awkward = Awkward(0x5eed_1234_abcd_0042);
    for e in epms_api::endpoints().iter().filter(|e| e.body.is_some()) {
        let uri = e
            .path
            .replace("{id}", &property)
            .replace("{pms}", "100")
            .replace("{vendor}", "entrata")
            .replace(['{', '}'], "");
        let method = e.method.to_uppercase();
        for round in 0..40 {
            let body = awkward.value(0);
            let bytes = if round % 10 == 9 {
                // Not JSON at all, cut mid-way.
                body.to_string().into_bytes().into_iter().take(7).collect()
            } else {
                body.to_string().into_bytes()
            };
            let (status, ctype, answer) = h
                .request(&method, &uri, Some(&h.admin), e.body, bytes)
                .await;
            assert!(
                !status.is_server_error(),
                "{method} {uri} with {body}: {status} {}",
                String::from_utf8_lossy(&answer)
            );
            if !status.is_success() {
                assert!(
                    ctype.starts_with("application/problem+json"),
                    "{method} {uri}: {status} {ctype}"
                );
            }
        }
    }
    // Query strings of the wrong types, on every read.
    for e in epms_api::endpoints().iter().filter(|e| e.method == "get") {
        let uri = format!(
            "{}?limit=abc&offset=-1&cursor=%FF&after=1e99",
            e.path.replace("{id}", &property).replace(['{', '}'], "")
        );
        let (status, ctype, _) = h
            .request("GET", &uri, Some(&h.admin), None, Vec::new())
            .await;
        assert!(!status.is_server_error(), "GET {uri}: {status}");
        if !status.is_success() {
            assert!(
                ctype.starts_with("application/problem+json"),
                "GET {uri}: {status} {ctype}"
            );
        }
    }
    // The host still answers.
    let (status, _, _) = h.call("GET", "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_their_routes_limit_are_refused_as_too_large_problems() {
    let h = host().await;
    let property = h.set_up("entrata", "100").await;
    let over = |limit: usize| vec![b' '; limit + 1];
    for (path, ctype, body) in [
        (
            "/api/v1/properties".to_owned(),
            "application/json",
            over(epms_api::JSON_BODY_LIMIT),
        ),
        (
            format!("/api/v1/properties/{property}/door-units/csv"),
            "text/csv",
            over(epms_api::CSV_BODY_LIMIT),
        ),
        (
            "/api/v1/connectors/versions".to_owned(),
            "application/wasm",
            over(epms_api::plugins::COMPONENT_BODY_LIMIT),
        ),
    ] {
        let (status, got, answer) = h
            .request("POST", &path, Some(&h.admin), Some(ctype), body)
            .await;
        let problem: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
        assert_eq!(
            (status, problem["code"].as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, Some("too-large")),
            "{path}: {got} {problem}"
        );
    }
    // A CSV that is not text names the body.
    let (status, _, answer) = h
        .request(
            "POST",
            &format!("/api/v1/properties/{property}/door-units/csv"),
            Some(&h.admin),
            Some("text/csv"),
            b"name\n\xff\xfe\n".to_vec(),
        )
        .await;
    let problem: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(
        (status, &problem["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("body"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consoles_cookie_signs_in_reads_and_writes_only_with_the_consoles_header() {
    let h = host().await;
    h.admin(
        "POST",
        "/api/v1/properties",
        Some(json!({"id": "door-c", "name": "C"})),
    )
    .await;
    let manager = token(&h.store, Role::PropertyManager, &["door-c"]);
    // A wrong token gets no cookie.
    let (status, _, _) = h
        .call(
            "POST",
            "/console/session",
            None,
            Some(json!({"token": "epms_nope"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The page and its assets are served with a policy that allows only themselves.
    let (status, ctype, page) = h.request("GET", "/", None, None, Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("text/html"), "{ctype}");
    assert!(String::from_utf8_lossy(&page).contains("/console/app.js"));
    let cookie = format!("epms_session={manager}");
    let with = |extra: &'static [(&'static str, &'static str)]| {
        let mut headers = vec![("cookie", cookie.as_str())];
        headers.extend_from_slice(extra);
        headers
    };
    let (status, _, body) = h
        .request_with_headers("GET", "/console/session", None, &with(&[]), Vec::new())
        .await;
    assert_eq!(status, StatusCode::OK);
    let who: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(who["role"], "property-manager");
    assert_eq!(who["properties"], json!(["door-c"]));
    // A write by cookie without the console's header: refused (CSRF).
    let account = br#"{"first_name":"Ann","last_name":"Lee","email":"ann@example.com"}"#.to_vec();
    let (status, _, body) = h
        .request_with_headers(
            "POST",
            "/api/v1/properties/door-c/accounts",
            None,
            &with(&[("content-type", "application/json")]),
            account.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body:?}");
    let problem: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["code"], "csrf");
    let (status, _, _) = h
        .request_with_headers(
            "POST",
            "/api/v1/properties/door-c/accounts",
            None,
            &with(&[
                ("content-type", "application/json"),
                ("x-epms-console", "1"),
            ]),
            account,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // The cookie is the manager's: another property is still a 404.
    let (status, _, _) = h
        .request_with_headers(
            "GET",
            "/api/v1/properties/door-z",
            None,
            &with(&[]),
            Vec::new(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The people and alerts pages are rendered once per state and kept: every change
/// (a manual status, a deleted account, a resolved alert) must show in the next read,
/// and each filter must be its own answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_answers_follow_every_change_and_each_filter() {
    let h = host().await;
    let property = h.set_up("entrata", "100").await;
    let base = format!("/api/v1/properties/{property}");
    h.admin("POST", &format!("{base}/sync"), None).await;
    let page = |query: &'static str| {
        let path = format!("{base}/people{query}");
        let h = &h;
        async move { h.admin("GET", &path, None).await }
    };
    let before = page("?limit=5").await;
    assert_eq!(
        page("?limit=5").await,
        before,
        "the same state, the same answer"
    );
    let first = &before["people"][0]["account"];
    let account = first["id"].as_u64().unwrap();
    let status = first["status"].as_str().unwrap().to_owned();
    let other = if status == "past" { "current" } else { "past" };
    // Another filter is another answer, not the page above.
    let filtered = page("?limit=5&status=past").await;
    let statuses: Vec<&Value> = filtered["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["account"]["status"])
        .collect();
    assert!(statuses.iter().all(|s| *s == "past"), "{filtered}");
    assert_ne!(filtered, before);

    h.admin(
        "POST",
        &format!("{base}/people/{account}/status"),
        Some(json!({"status": other})),
    )
    .await;
    let after = page("?limit=5").await;
    assert_eq!(after["people"][0]["account"]["id"], account);
    assert_eq!(after["people"][0]["account"]["status"], other, "{after}");

    let total = after["total"].as_u64().unwrap();
    h.admin("DELETE", &format!("{base}/accounts/{account}"), None)
        .await;
    let deleted = page("?limit=5").await;
    assert_eq!(deleted["total"].as_u64().unwrap(), total - 1);
    assert_ne!(deleted["people"][0]["account"]["id"], account);
}
