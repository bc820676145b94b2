//! The web console in a real headless Chromium against a host on loopback: a manager
//! sees only their property; a Name Mismatch merged and cleared by the next sync; a
//! unit mapped from its dropdown and the resident assigned after Sync Now; 50
//! suggestions approved and 51 refused; one discarded; a new property set up step by
//! step. Skipped, with a line on stderr, where Chromium is not installed.

use epms_e2e::api_host::{Host, token};
use epms_e2e::browser::Browser;
use epms_e2e::{add_to_sim, resident_on_lease};
use epms_model::LeaseStatus;
use epms_store::{PropertyStore as _, Role};
use serde_json::json;

const PMS: &str = "ACME-1";

fn base(h: &Host) -> String {
    format!("http://{}", h.addr)
}

/// A resident with a current lease in `unit`, added to the simulator's ACME property.
fn add_resident(h: &Host, id: &str, first: &str, last: &str, email: &str, unit: &str) {
    let (r, l) = resident_on_lease(
        "acme",
        id,
        (first, last),
        Some(email),
        unit,
        LeaseStatus::Current,
    );
    add_to_sim(&h.sim, "acme", vec![(r, Some(l))]);
}

/// Kim Park in the PMS, and a DOOR account made by hand with her email as "Kimberly
/// Park": a Name Mismatch on the next sync.
async fn kim_and_kimberly(h: &Host, property: &str) {
    add_resident(
        h,
        "c-kim",
        "Kim",
        "Park",
        "kim.park@example.com",
        &first_unit(h),
    );
    h.admin(
        "POST",
        &format!("/api/v1/properties/{property}/accounts"),
        Some(
            json!({"first_name": "Kimberly", "last_name": "Park", "email": "kim.park@example.com"}),
        ),
    )
    .await;
}

fn first_unit(h: &Host) -> String {
    h.sim.state.read(|portfolio| {
        portfolio
            .properties
            .iter()
            .find(|p| p.vendor == "acme")
            .unwrap()
            .units[0]
            .id
            .clone()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_sees_only_their_property_and_merges_a_name_mismatch_that_the_next_sync_clears() {
    let Some(b) = Browser::start("manager_merge").await else {
        return;
    };
    let h = Host::start(61, 12).await;
    let property = h.set_up("acme", PMS).await;
    h.set_up("yardi", "rnttrk01").await;
    kim_and_kimberly(&h, &property).await;
    h.sync(&property).await;
    let manager = token(&h.store, Role::PropertyManager, &[&property]);

    b.sign_in(&base(&h), &manager).await;
    b.wait_count("#properties tbody tr", 1).await;
    b.wait_text("#properties", "acme tower").await;
    // Another property by URL: not shown.
    b.go(&format!("{}/#/p/door-yardi/people", base(&h))).await;
    b.wait_text("main", "Something went wrong").await;

    b.go(&format!("{}/#/p/{property}/alerts", base(&h))).await;
    let card = "[data-type=name-mismatch]";
    b.find(card).await;
    let before = b.count(card).await;
    b.click(&format!("{card} button[data-resolution=merge]"))
        .await;
    b.wait_count(card, before - 1).await;
    // The next sync (Sync Now on People) keeps it cleared: the account took the PMS name.
    b.go(&format!("{}/#/p/{property}/people?q=kim", base(&h)))
        .await;
    b.click("#sync-now").await;
    b.wait_text("#toast", "Synced").await;
    b.wait_text("#people", "Kim Park").await;
    b.go(&format!("{}/#/p/{property}/alerts", base(&h))).await;
    b.find("#dismiss-selected").await;
    assert_eq!(b.count(card).await, before - 1);
    // Sign-out ends the session: the console asks for a token again.
    b.click("#sign-out").await;
    b.find("#token").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_mapped_from_its_dropdown_assigns_the_resident_after_sync_now() {
    let Some(b) = Browser::start("map_unit").await else {
        return;
    };
    let h = Host::start(62, 12).await;
    let property = h.set_up("acme", PMS).await;
    let unit = first_unit(&h);
    add_resident(
        &h,
        "c-una",
        "Una",
        "Mapped",
        "una.mapped@example.com",
        &unit,
    );
    h.sync(&property).await;
    b.sign_in(&base(&h), &h.admin).await;
    b.go(&format!("{}/#/p/{property}/units", base(&h))).await;
    b.type_into("#door-unit-name", "Tower 1").await;
    b.click("form.bar button[type=submit]").await;
    b.wait_text("#toast", "DOOR unit created").await;
    let door_unit = h
        .store
        .load_state(&property)
        .unwrap()
        .door_units
        .keys()
        .next()
        .copied()
        .unwrap();
    let select = format!("select[data-unit='{unit}']");
    b.find(&select).await;
    b.select(&select, &door_unit.to_string()).await;
    b.wait_text("#toast", "mapped").await;
    b.go(&format!("{}/#/p/{property}/people?q=una", base(&h)))
        .await;
    b.click("#sync-now").await;
    b.wait_text("#toast", "Synced").await;
    b.wait_text("#people", &door_unit.to_string()).await;
    let una = h
        .store
        .load_state(&property)
        .unwrap()
        .accounts
        .values()
        .find(|a| a.first_name == "Una")
        .cloned()
        .unwrap();
    assert_eq!(una.door_unit, Some(door_unit));
    // The CSV upload shows the rows it refuses, and imports nothing.
    b.go(&format!("{}/#/p/{property}/units", base(&h))).await;
    b.type_into("#units-csv", "name,building\n,A\nTower 2,B")
        .await;
    b.run(
        "document.querySelector('#units-csv').form.requestSubmit()",
        json!([]),
    )
    .await;
    b.wait_text("#csv-errors", "Nothing was imported").await;
    assert_eq!(h.store.load_state(&property).unwrap().door_units.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_suggestions_are_approved_fifty_one_refused_and_one_discarded() {
    let Some(b) = Browser::start("approve").await else {
        return;
    };
    let h = Host::start(63, 12).await;
    let property = h.set_up("acme", PMS).await;
    let unit = first_unit(&h);
    // Thirty current residents: two common-key grants each wait for approval.
    for i in 0..30 {
        add_resident(
            &h,
            &format!("c-{i}"),
            "Resident",
            &format!("Number{i}"),
            &format!("r{i}@example.com"),
            &unit,
        );
    }
    h.sync(&property).await;
    let pending = h.store.load_state(&property).unwrap().suggestions.len();
    assert!(pending > 52, "{pending} suggestions");
    b.sign_in(&base(&h), &h.admin).await;
    b.go(&format!("{}/#/p/{property}/access", base(&h))).await;
    b.wait_count("div.suggestion", pending).await;
    // Every one selected: more than 50, refused with the reason.
    b.click("#select-all").await;
    b.click("#update-access").await;
    b.wait_text("#access-error", "50").await;
    assert_eq!(
        h.store.load_state(&property).unwrap().suggestions.len(),
        pending
    );
    // Fifty selected: approved.
    b.go(&format!("{}/#/p/{property}/people", base(&h))).await;
    b.go(&format!("{}/#/p/{property}/access", base(&h))).await;
    b.wait_count("div.suggestion", pending).await;
    b.run(
        "[...document.querySelectorAll('input[data-suggestion]')].slice(0, 50).forEach(b => b.click())",
        json!([]),
    )
    .await;
    b.wait_text("#access-selected", "50 selected").await;
    b.click("#update-access").await;
    b.wait_text("#toast", "Access updated").await;
    b.wait_count("div.suggestion", pending - 50).await;
    // The ✕ discards one.
    b.click("div.suggestion button.discard").await;
    b.wait_count("div.suggestion", pending - 51).await;
    assert_eq!(
        h.store.load_state(&property).unwrap().suggestions.len(),
        pending - 51
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_property_is_set_up_through_the_seed_articles_steps() {
    let Some(b) = Browser::start("setup").await else {
        return;
    };
    let h = Host::start(64, 6).await;
    // A credential exists already (made with the PMS's login).
    let fields = h.credential_fields("acme");
    h.admin(
        "POST",
        "/api/v1/credentials",
        Some(json!({"id": "acme-cred", "vendor": "acme", "fields": fields})),
    )
    .await;
    b.sign_in(&base(&h), &h.admin).await;
    b.click("#new-property").await;
    b.type_into("#new-id", "door-new").await;
    b.type_into("#new-name", "New Tower").await;
    b.click("#new-property-form button[type=submit]").await;
    b.find("#setup-credential").await;
    b.select("#setup-credential", "acme-cred").await;
    b.click(&format!("#setup-pms input[value='{PMS}']")).await;
    b.click("#setup-statuses input[value='cancelled']").await;
    b.click("#setup button[type=submit]").await;
    b.find("#sync-now").await;
    let p = h.store.property("door-new").unwrap();
    assert_eq!(p.credential_id.as_deref(), Some("acme-cred"));
    assert_eq!(p.pms_property_ids, vec![PMS.to_owned()]);
    assert!(p.settings.excluded_statuses.contains("cancelled"));
    assert!(p.settings.user_sync);
    // The first sync from the console.
    b.click("#sync-now").await;
    b.wait_text("#toast", "Synced").await;
    assert!(!h.store.load_state("door-new").unwrap().accounts.is_empty());
}

/// The screenshots of `docs/` (run by hand: see `docs/console.md`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes the documentation's screenshots; run by hand"]
async fn screenshots_of_the_main_screens() {
    let Some(dir) = std::env::var_os("EPMS_CONSOLE_SCREENSHOTS") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let Some(b) = Browser::start("screenshots").await else {
        return;
    };
    let h = Host::start(65, 40).await;
    let property = h.set_up("acme", PMS).await;
    h.set_up("yardi", "rnttrk01").await;
    kim_and_kimberly(&h, &property).await;
    h.admin(
        "POST",
        &format!("/api/v1/properties/{property}/door-units"),
        Some(json!({"name": "101", "building": "A"})),
    )
    .await;
    h.sync(&property).await;
    h.sync("door-yardi").await;
    b.sign_in(&base(&h), &h.admin).await;
    b.find("#properties").await;
    b.screenshot(&dir.join("console-properties.png")).await;
    b.go(&format!("{}/#/p/{property}/alerts", base(&h))).await;
    b.find("[data-type=name-mismatch]").await;
    b.screenshot(&dir.join("console-alerts.png")).await;
    b.go(&format!("{}/#/p/{property}/access", base(&h))).await;
    b.find("div.suggestion").await;
    b.screenshot(&dir.join("console-access.png")).await;
    b.go(&format!("{}/#/p/{property}/units", base(&h))).await;
    b.find("#units").await;
    b.screenshot(&dir.join("console-units.png")).await;
    b.set_size(390, 844).await;
    b.go(&format!("{}/#/p/{property}/people", base(&h))).await;
    b.find("#people").await;
    b.screenshot(&dir.join("console-people-phone.png")).await;
}
