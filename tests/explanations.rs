//! "Why is a resident from my PMS not showing in DOOR?" and "why does this person have
//! access?" answered over real HTTP, after a real sync through the compiled ACME
//! connector: one resident for each reason, shown with that reason; and a notice
//! resident whose move-out date passes.

use epms_e2e::api_host::Host;
use epms_e2e::{add_to_sim, resident_on_lease};
use epms_model::{HouseholdRole, Lease, LeaseStatus, Resident};
use serde_json::{Value, json};

const PMS: &str = "ACME-1";

fn resident(id: &str, first: &str, last: &str, email: Option<&str>, unit: &str) -> Resident {
    resident_on_lease("acme", id, (first, last), email, unit, LeaseStatus::Current).0
}

fn lease(id: &str, unit: &str, status: LeaseStatus, move_out: Option<String>) -> Lease {
    let mut lease = resident_on_lease("acme", id, ("", ""), None, unit, status).1;
    lease.move_out_date = move_out;
    lease
}

fn add(h: &Host, people: Vec<(Resident, Option<Lease>)>) {
    add_to_sim(&h.sim, "acme", people);
}

fn first_unit(h: &Host) -> (String, String) {
    h.sim.state.read(|portfolio| {
        let p = portfolio
            .properties
            .iter()
            .find(|p| p.vendor == "acme")
            .unwrap();
        (p.units[0].id.clone(), p.units[1].id.clone())
    })
}

async fn record_of(h: &Host, property: &str, resident: &str) -> Value {
    let page = h
        .admin(
            "GET",
            &format!("/api/v1/properties/{property}/records?q={resident}"),
            None,
        )
        .await;
    let found: Vec<&Value> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["pms_key"]["resident"] == resident)
        .collect();
    assert_eq!(found.len(), 1, "{resident}: {page}");
    found[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_resident_missing_from_door_is_listed_with_its_reason() {
    let h = Host::start(77, 12).await;
    let property = h.set_up("acme", PMS).await;
    let (unit, _) = first_unit(&h);
    let current = |id: &str, first: &str, last: &str, email: Option<&str>| {
        (
            resident(id, first, last, email, &unit),
            Some(lease(id, &unit, LeaseStatus::Current, None)),
        )
    };
    let mut guarantor = current("w-guar", "Gus", "Tor", Some("gus.tor@example.com"));
    guarantor.0.role = HouseholdRole::Guarantor;
    let mut no_lease = resident(
        "w-nolease",
        "Nia",
        "Less",
        Some("nia.less@example.com"),
        &unit,
    );
    no_lease.lease_id = None;
    add(
        &h,
        vec![
            current("w-sync", "Sam", "Sync", Some("sam.sync@example.com")),
            guarantor,
            (no_lease, None),
            (
                resident(
                    "w-denied",
                    "Dee",
                    "Nied",
                    Some("dee.nied@example.com"),
                    &unit,
                ),
                Some(lease("w-denied", &unit, LeaseStatus::Denied, None)),
            ),
            (
                resident(
                    "w-appl",
                    "Abe",
                    "Plicant",
                    Some("abe.plicant@example.com"),
                    &unit,
                ),
                Some(lease("w-appl", &unit, LeaseStatus::Applicant, None)),
            ),
            current("w-noemail", "Mo", "Mail", None),
            current("w-bademail", "Bad", "Mail", Some("not an address")),
            current("w-share1", "Ola", "Share", Some("shared.box@example.com")),
            current("w-share2", "Per", "Share", Some("shared.box@example.com")),
            current("w-held", "Kim", "Park", Some("dana.park@example.com")),
        ],
    );
    // A DOOR account made by hand with w-held's email and another first name.
    h.admin(
        "POST",
        &format!("/api/v1/properties/{property}/accounts"),
        Some(json!({"first_name": "Dana", "last_name": "Park", "email": "dana.park@example.com"})),
    )
    .await;
    h.change_settings(&property, |s| {
        s["excluded_statuses"] = json!(["denied"]);
    })
    .await;
    // Before any sync there is nothing to explain yet.
    let before = h
        .admin(
            "GET",
            &format!("/api/v1/properties/{property}/records"),
            None,
        )
        .await;
    assert_eq!(before["planned_at"], Value::Null);
    assert_eq!(before["total"], 0);
    h.sync(&property).await;

    let synced = record_of(&h, &property, "w-sync").await;
    assert_eq!(synced["outcome"], "synced", "{synced}");
    assert_eq!(synced["linked"], "created");
    assert_eq!(synced["unmapped_pms_unit"], unit.as_str());
    for (resident, outcome) in [
        ("w-guar", "guarantor"),
        ("w-nolease", "no-lease"),
        ("w-denied", "excluded-status"),
        ("w-appl", "status-never-synced"),
        ("w-noemail", "missing-email"),
        ("w-bademail", "malformed-email"),
        ("w-share1", "shares-email"),
        ("w-held", "waiting-on-alert"),
    ] {
        let r = record_of(&h, &property, resident).await;
        assert_eq!(r["outcome"], outcome, "{resident}: {r}");
    }
    assert_eq!(
        record_of(&h, &property, "w-appl").await["statuses"],
        json!(["applicant"])
    );
    let shared = record_of(&h, &property, "w-share1").await;
    assert_eq!(shared["with"][0]["pms_key"]["resident"], "w-share2");
    assert_eq!(shared["alerts"][0]["alert_type"], "duplicate-emails");
    let held = record_of(&h, &property, "w-held").await;
    assert_eq!(held["alert_type"], "name-mismatch");
    let alert_id = held["alerts"][0]["id"].as_u64().unwrap();
    let alerts = h
        .admin(
            "GET",
            &format!("/api/v1/properties/{property}/alerts"),
            None,
        )
        .await;
    assert!(
        alerts["groups"]["name-mismatch"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == alert_id),
        "{alerts}"
    );
    let missing = record_of(&h, &property, "w-noemail").await;
    assert_eq!(missing["alerts"][0]["alert_type"], "missing-email");

    // Searching by email, name and unit; filtering by outcome; paging.
    let by_email = h
        .admin(
            "GET",
            &format!("/api/v1/properties/{property}/records?q=SAM.SYNC@example"),
            None,
        )
        .await;
    assert_eq!(by_email["total"], 1, "{by_email}");
    let by_name = h
        .admin(
            "GET",
            &format!("/api/v1/properties/{property}/records?q=ola%20share"),
            None,
        )
        .await;
    assert_eq!(by_name["records"][0]["pms_key"]["resident"], "w-share1");
    let not_synced = h
        .admin(
            "GET",
            &format!("/api/v1/properties/{property}/records?outcome=not-synced&limit=2"),
            None,
        )
        .await;
    assert!(not_synced["total"].as_u64().unwrap() >= 9, "{not_synced}");
    assert_eq!(not_synced["records"].as_array().unwrap().len(), 2);
    assert_eq!(not_synced["next_offset"], 2);
    assert!(
        not_synced["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["outcome"] != "synced")
    );
    let guarantors = h
        .admin(
            "GET",
            &format!("/api/v1/properties/{property}/records?outcome=guarantor"),
            None,
        )
        .await;
    assert!(
        guarantors["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["outcome"] == "guarantor")
    );
    let (status, _, bad) = h
        .call(
            "GET",
            &format!("/api/v1/properties/{property}/records?outcome=lost"),
            Some(&h.admin),
            None,
        )
        .await;
    assert_eq!(status.as_u16(), 422, "{bad}");

    // Sam's "why": the unit is unmapped, so no unit key; the sentences say so.
    let account = synced["account"].as_u64().unwrap();
    let why = h
        .admin(
            "GET",
            &format!("/api/v1/properties/{property}/people/{account}/why"),
            None,
        )
        .await;
    let summary = why["summary"].to_string();
    assert!(summary.contains("is mapped to no DOOR unit"), "{summary}");
    assert_eq!(why["records"][0]["pms_key"]["resident"], "w-sync");
    assert!(
        why["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["entry"]["action"] == "account.created"),
        "{why}"
    );
    let (status, _, _) = h
        .call(
            "GET",
            &format!("/api/v1/properties/{property}/people/999999/why"),
            Some(&h.admin),
            None,
        )
        .await;
    assert_eq!(status.as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_residents_keys_end_after_move_out_and_go_when_the_date_passes() {
    let h = Host::start(78, 12).await;
    let property = h.set_up("acme", PMS).await;
    h.automatic_access(&property).await;
    let (_, unit) = first_unit(&h);
    h.admin(
        "POST",
        &format!("/api/v1/properties/{property}/door-units"),
        Some(json!({"name": "Notice Unit"})),
    )
    .await;
    let door_units = h
        .admin(
            "GET",
            &format!("/api/v1/properties/{property}/door-units"),
            None,
        )
        .await;
    let door_unit = door_units["door_units"][0]["id"].as_u64().unwrap();
    h.sync(&property).await;
    h.admin(
        "PUT",
        &format!("/api/v1/properties/{property}/pms-units/{PMS}/{unit}/mapping"),
        Some(json!({"door_unit": door_unit})),
    )
    .await;
    // Moving out in three days (by the host's clock).
    let now = (h.state.clock)();
    let move_out_day = now.div_euclid(86_400) + 3;
    let move_out = epms_engine::dates::format_utc(move_out_day * 86_400)[..10].to_owned();
    add(
        &h,
        vec![(
            resident(
                "w-notice",
                "Nora",
                "Tice",
                Some("nora.tice@example.com"),
                &unit,
            ),
            Some(lease(
                "w-notice",
                &unit,
                LeaseStatus::Notice,
                Some(move_out),
            )),
        )],
    );
    h.sync(&property).await;
    let nora = record_of(&h, &property, "w-notice").await;
    let account = nora["account"].as_u64().unwrap();
    let why_path = format!("/api/v1/properties/{property}/people/{account}/why");
    let why = h.admin("GET", &why_path, None).await;
    // Ends at 23:59 UTC the day after the move-out date (a day's grace, the default).
    let end = (move_out_day + 1) * 86_400 + 23 * 3600 + 59 * 60;
    let keys = why["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3, "the unit key and two common keys: {why}");
    assert!(keys.iter().all(|k| k["end"] == end), "{why}");
    assert!(
        why["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["event"]["action"] == "granted" && e["event"]["end"] == end),
        "the feed carries the end: {why}"
    );
    assert!(why["summary"].to_string().contains("until"), "{why}");
    // The same input again settles…
    h.sync(&property).await;
    let settled = h.sync(&property).await;
    assert_eq!(settled["skipped"], true, "{settled}");
    // …until the end passes: the PMS still says notice, and the keys go.
    h.clock_ahead
        .store(5 * 86_400, std::sync::atomic::Ordering::Relaxed);
    let report = h.sync(&property).await;
    assert_eq!(report["skipped"], false, "{report}");
    assert_eq!(report["grants_removed"], 3, "{report}");
    let why = h.admin("GET", &why_path, None).await;
    assert_eq!(why["keys"], json!([]), "{why}");
    let revoked: Vec<&Value> = why["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["action"] == "revoked")
        .collect();
    assert_eq!(revoked.len(), 3, "{why}");
    assert!(
        revoked
            .iter()
            .all(|e| e["event"]["cause"] == "move-out-date")
    );
}
