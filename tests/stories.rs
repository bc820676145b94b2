//! The stories of the seed articles, told through the admin API over real HTTP, with
//! the compiled connectors reading the simulator: each alert type raised and resolved
//! each documented way (and the next sync clearing it), a mapping removed,
//! move-in, transfer and move-out in Approval Required and in Automatic mode, and a
//! mass move-out held by the guard until a manager approves it.
//!
//! Each story moves its own people into the simulated PMS, so that what it checks does
//! not depend on the generated portfolio; the vendors take turns telling them.

use epms_e2e::api_host::{Host, VENDORS};
use pms_sim::dataset::Mutation;
use serde_json::{Value, json};

struct Story {
    h: Host,
    vendor: &'static str,
    pms_id: &'static str,
    property: String,
}

/// A host with `vendor`'s property set up through the API (not yet synced).
async fn story(vendor: &'static str) -> Story {
    let h = Host::start(5, 12).await;
    let (_, pms_id, _) = VENDORS.iter().find(|(v, ..)| *v == vendor).unwrap();
    let property = h.set_up(vendor, pms_id).await;
    Story {
        h,
        vendor,
        pms_id,
        property,
    }
}

fn email(e: &str) -> Option<String> {
    Some(e.to_owned())
}

impl Story {
    fn path(&self, rest: &str) -> String {
        format!("/api/v1/properties/{}{rest}", self.property)
    }

    fn mutate(&self, m: Mutation) {
        self.h
            .sim
            .state
            .write(|p| p.apply(&m))
            .expect("the simulator applies the change");
    }

    /// The simulated property's unit ids, in order.
    fn units(&self) -> Vec<String> {
        self.h.sim.state.read(|p| {
            let prop = p
                .properties
                .iter()
                .find(|x| x.vendor == self.vendor)
                .unwrap();
            prop.units.iter().map(|u| u.id.clone()).collect()
        })
    }

    /// A new household in `unit`; returns the resident's PMS id.
    fn move_in(&self, unit: &str, first: &str, last: &str, email: Option<String>) -> String {
        self.mutate(Mutation::MoveIn {
            vendor: self.vendor.into(),
            property: self.pms_id.into(),
            unit: unit.into(),
            first_name: first.into(),
            last_name: last.into(),
            email,
        });
        self.resident(first, last)
    }

    /// The PMS id of the newest resident with this name.
    fn resident(&self, first: &str, last: &str) -> String {
        self.h.sim.state.read(|p| {
            p.properties
                .iter()
                .find(|x| x.vendor == self.vendor)
                .unwrap()
                .residents
                .iter()
                .rev()
                .find(|r| r.first_name == first && r.last_name == last)
                .map(|r| r.id.clone())
                .unwrap_or_else(|| panic!("{first} {last} lives in the simulator"))
        })
    }

    /// The resident's current lease.
    fn lease_of(&self, resident: &str) -> String {
        self.h.sim.state.read(|p| {
            p.properties
                .iter()
                .find(|x| x.vendor == self.vendor)
                .unwrap()
                .leases
                .iter()
                .find(|l| {
                    l.status == epms_model::LeaseStatus::Current
                        && l.resident_ids.iter().any(|r| r == resident)
                })
                .map(|l| l.id.clone())
                .expect("a current lease")
        })
    }

    fn rename(&self, resident: &str, first: &str, last: &str) {
        self.mutate(Mutation::Rename {
            vendor: self.vendor.into(),
            property: self.pms_id.into(),
            resident: resident.into(),
            first_name: first.into(),
            last_name: last.into(),
        });
    }

    fn change_email(&self, resident: &str, email: Option<String>) {
        self.mutate(Mutation::ChangeEmail {
            vendor: self.vendor.into(),
            property: self.pms_id.into(),
            resident: resident.into(),
            email,
        });
    }

    async fn sync(&self) -> Value {
        let report = self.h.sync(&self.property).await;
        assert_eq!(report["run"]["outcome"], "succeeded", "{report}");
        report
    }

    async fn people(&self) -> Vec<Value> {
        let page = self
            .h
            .admin("GET", &self.path("/people?limit=1000"), None)
            .await;
        page["people"].as_array().unwrap().clone()
    }

    /// The people whose account has this first and last name.
    async fn people_named(&self, first: &str, last: &str) -> Vec<Value> {
        self.people()
            .await
            .into_iter()
            .filter(|p| p["account"]["first_name"] == first && p["account"]["last_name"] == last)
            .collect()
    }

    /// The one person with this email.
    async fn person(&self, email: &str) -> Value {
        let mut found: Vec<Value> = self
            .people()
            .await
            .into_iter()
            .filter(|p| p["account"]["email"] == email)
            .collect();
        assert_eq!(found.len(), 1, "one account has {email}: {found:?}");
        found.pop().unwrap()
    }

    /// The open alerts of `alert_type` about the PMS resident `resident`.
    async fn alerts_about(&self, alert_type: &str, resident: &str) -> Vec<Value> {
        self.h
            .alerts_of(&self.property, alert_type)
            .await
            .into_iter()
            .filter(|a| {
                a["people"].as_array().unwrap().iter().any(|p| {
                    p["keys"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|k| k["resident"] == resident)
                })
            })
            .collect()
    }

    /// The one open alert of `alert_type` about `resident`.
    async fn alert_about(&self, alert_type: &str, resident: &str) -> Value {
        let mut found = self.alerts_about(alert_type, resident).await;
        if found.len() != 1 {
            let all = self.h.admin("GET", &self.path("/alerts"), None).await;
            panic!("one {alert_type} alert about {resident}: {found:?}; all: {all}");
        }
        found.pop().unwrap()
    }

    async fn resolve(&self, alert: &Value, resolution: Value) -> Value {
        let id = alert["id"].as_u64().unwrap();
        self.h
            .admin(
                "POST",
                &self.path(&format!("/alerts/{id}/resolve")),
                Some(json!({ "resolution": resolution })),
            )
            .await
    }

    /// A DOOR account made by hand, as before the integration existed.
    async fn manual_account(
        &self,
        first: &str,
        last: &str,
        email: &str,
        door_unit: Option<u64>,
    ) -> Value {
        let body =
            json!({"first_name": first, "last_name": last, "email": email, "door_unit": door_unit});
        let created = self
            .h
            .admin("POST", &self.path("/accounts"), Some(body))
            .await;
        created["account"]["id"].clone()
    }

    async fn create_door_unit(&self, name: &str) -> u64 {
        let created = self
            .h
            .admin(
                "POST",
                &self.path("/door-units"),
                Some(json!({"name": name})),
            )
            .await;
        created["door_units"][0]["id"].as_u64().unwrap()
    }

    async fn map(&self, unit: &str, door_unit: u64) {
        self.h
            .admin(
                "PUT",
                &self.path(&format!("/pms-units/{}/{unit}/mapping", self.pms_id)),
                Some(json!({"door_unit": door_unit})),
            )
            .await;
    }

    /// Approves every pending suggestion of `account`; how many there were.
    async fn approve_all_of(&self, account: u64) -> usize {
        let list = self.h.admin("GET", &self.path("/suggestions"), None).await;
        let ids: Vec<u64> = list["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["account"] == account)
            .map(|s| s["id"].as_u64().unwrap())
            .collect();
        if !ids.is_empty() {
            self.h
                .admin(
                    "POST",
                    &self.path("/suggestions/approve"),
                    Some(json!({ "ids": ids })),
                )
                .await;
        }
        ids.len()
    }

    /// The keys `account` holds, as `unit:<id>` or the common key's name, sorted.
    async fn keys_of(&self, account: u64) -> Vec<String> {
        let person = self
            .people()
            .await
            .into_iter()
            .find(|p| p["account"]["id"] == account)
            .expect("the account exists");
        let mut keys: Vec<String> = person["access"]["grants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| match g["key"]["kind"].as_str().unwrap() {
                "unit" => format!("unit:{}", g["key"]["id"]),
                _ => g["key"]["id"].as_str().unwrap().to_owned(),
            })
            .collect();
        keys.sort();
        keys
    }

    /// The feed's events about `account` after `cursor`: ("granted"|"revoked", key).
    async fn feed_of(&self, account: u64, cursor: u64) -> Vec<(String, String)> {
        let feed = self
            .h
            .admin(
                "GET",
                &format!("/api/v1/feed?cursor={cursor}&limit=5000"),
                None,
            )
            .await;
        feed["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["event"])
            .filter(|e| e["account"] == account)
            .map(|e| {
                (
                    e["action"].as_str().unwrap().to_owned(),
                    e["key"].to_string(),
                )
            })
            .collect()
    }

    async fn feed_cursor(&self) -> u64 {
        let feed = self
            .h
            .admin("GET", "/api/v1/feed?cursor=0&limit=5000", None)
            .await;
        feed["cursor"].as_u64().unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_mismatch_is_kept_merged_or_dismissed_and_the_next_sync_clears_it() {
    let s = story("yardi").await;
    let unit = &s.units()[0];
    let nadia = s.move_in(unit, "Nadia", "Okafor", email("nadia.okafor@example.com"));
    s.sync().await;
    let account = s.person("nadia.okafor@example.com").await["account"]["id"].clone();

    // The PMS renames her: a Name Mismatch, and DOOR keeps its name meanwhile.
    s.rename(&nadia, "Nadia", "Okafor-Reyes");
    s.sync().await;
    let alert = s.alert_about("name-mismatch", &nadia).await;
    assert_eq!(alert["accounts"], json!([account]));
    let p = s.person("nadia.okafor@example.com").await;
    assert_eq!(p["account"]["last_name"], "Okafor");

    // Keep DOOR value: the alert stays until the PMS is corrected, then clears.
    s.resolve(&alert, json!({"kind": "keep-door-value"})).await;
    s.sync().await;
    assert_eq!(s.alerts_about("name-mismatch", &nadia).await.len(), 1);
    s.rename(&nadia, "Nadia", "Okafor");
    s.sync().await;
    assert!(s.alerts_about("name-mismatch", &nadia).await.is_empty());
    // Cleared, it is in the property's alert history with how it closed.
    let history = s.h.admin("GET", &s.path("/alerts/history"), None).await;
    assert!(
        history["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == alert["id"] && a["state"] == "resolved"),
        "{history}"
    );

    // Merge with the PMS name: DOOR takes it, and the next sync has nothing to say.
    s.rename(&nadia, "Nadia", "Okafor-Reyes");
    s.sync().await;
    let alert = s.alert_about("name-mismatch", &nadia).await;
    s.resolve(
        &alert,
        json!({"kind": "merge", "account": account, "use_pms_name": true}),
    )
    .await;
    let p = s.person("nadia.okafor@example.com").await;
    assert_eq!(p["account"]["last_name"], "Okafor-Reyes");
    s.sync().await;
    assert!(s.alerts_about("name-mismatch", &nadia).await.is_empty());

    // Dismiss: closed, not raised again by the same data, raised again by new data.
    s.rename(&nadia, "Nadia", "Reyes");
    s.sync().await;
    let alert = s.alert_about("name-mismatch", &nadia).await;
    s.resolve(&alert, json!({"kind": "dismiss"})).await;
    s.sync().await;
    assert!(
        s.alerts_about("name-mismatch", &nadia)
            .await
            .iter()
            .all(|a| a["state"] == "dismissed"),
        "a dismissed alert stays closed"
    );
    s.rename(&nadia, "Nadia", "O. Reyes");
    s.sync().await;
    let back = s.alert_about("name-mismatch", &nadia).await;
    assert_eq!(back["state"], "open", "{back}");
    let audit = s.h.admin("GET", &s.path("/audit?limit=1000"), None).await;
    let text = audit.to_string();
    for how in ["DOOR value kept by", "merged into account", "dismissed by"] {
        assert!(text.contains(how), "the audit log records {how}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_mismatch_is_separated_or_kept_until_the_pms_is_fixed() {
    let s = story("realpage").await;
    let units = s.units();
    let eli = s.move_in(&units[0], "Eli", "Brandt", email("eli@example.com"));
    let mara = s.move_in(&units[1], "Mara", "Quist", email("mara@example.com"));
    s.sync().await;
    let old_eli = s.person("eli@example.com").await["account"]["id"].clone();
    s.change_email(&eli, email("eli.brandt@example.com"));
    s.change_email(&mara, email("mara.q@example.com"));
    s.sync().await;

    // Create Separate, deleting the old account at once.
    let alert = s.alert_about("email-mismatch", &eli).await;
    assert_eq!(alert["accounts"], json!([old_eli]));
    s.resolve(
        &alert,
        json!({"kind": "create-separate", "delete_old": true}),
    )
    .await;
    let new_eli = s.person("eli.brandt@example.com").await;
    assert_ne!(new_eli["account"]["id"], old_eli);
    assert_eq!(new_eli["linked"], true);
    assert!(
        s.people()
            .await
            .iter()
            .all(|p| p["account"]["id"] != old_eli),
        "the old account is gone"
    );
    s.sync().await;
    assert!(s.alerts_about("email-mismatch", &eli).await.is_empty());

    // Keep DOOR value: the alert waits for the PMS, whose fix clears it.
    let alert = s.alert_about("email-mismatch", &mara).await;
    s.resolve(&alert, json!({"kind": "keep-door-value"})).await;
    s.sync().await;
    assert_eq!(s.alerts_about("email-mismatch", &mara).await.len(), 1);
    assert_eq!(
        s.person("mara@example.com").await["account"]["email"],
        "mara@example.com"
    );
    s.change_email(&mara, email("mara@example.com"));
    s.sync().await;
    assert!(s.alerts_about("email-mismatch", &mara).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_emails_sync_nobody_until_the_pms_gives_each_their_own() {
    let s = story("entrata").await;
    let units = s.units();
    let ivo = s.move_in(&units[0], "Ivo", "Lind", email("shared@example.com"));
    let petra = s.move_in(&units[1], "Petra", "Sand", email("Shared@Example.com "));
    s.sync().await;
    let alerts = s.alerts_about("duplicate-emails", &ivo).await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["email"], "shared@example.com");
    assert_eq!(alerts[0]["people"].as_array().unwrap().len(), 2);
    assert!(s.people_named("Ivo", "Lind").await.is_empty());
    assert!(s.people_named("Petra", "Sand").await.is_empty());

    s.change_email(&petra, email("petra@example.com"));
    s.sync().await;
    assert!(s.alerts_about("duplicate-emails", &ivo).await.is_empty());
    assert_eq!(s.person("shared@example.com").await["linked"], true);
    assert_eq!(s.person("petra@example.com").await["linked"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_made_before_activation_are_merged_or_separated() {
    let s = story("mri").await;
    // The manager wants to see every pairing: exact matches are not linked silently.
    s.h.change_settings(&s.property, |settings| {
        settings["auto_link_exact_matches"] = json!(false);
    })
    .await;
    s.sync().await;
    let units = s.units();
    let door_unit = s.create_door_unit("Otto's flat").await;
    s.map(&units[2], door_unit).await;

    let tomas_door = s
        .manual_account("Tomas", "Berg", "tomas@example.com", None)
        .await;
    let lena_door = s
        .manual_account("Helena", "Vogt", "lena@example.com", None)
        .await;
    let otto_door = s
        .manual_account("Otto", "Rask", "otto.old@example.com", Some(door_unit))
        .await;
    let accounts = s.path("/accounts");
    let admin = Some(s.h.admin.as_str());
    let (status, _, problem) =
        s.h.call(
            "POST",
            &accounts,
            admin,
            Some(json!({"first_name": "T", "last_name": "B", "email": "TOMAS@example.com"})),
        )
        .await;
    assert_eq!(
        (status.as_u16(), &problem["code"]),
        (409, &json!("email-taken"))
    );
    let (status, _, problem) =
        s.h.call(
            "POST",
            &accounts,
            admin,
            Some(json!({"first_name": " ", "last_name": "B"})),
        )
        .await;
    assert_eq!(
        (status.as_u16(), &problem["field"]),
        (422, &json!("first_name"))
    );
    let tomas = s.move_in(&units[0], "Tomas", "Berg", email("tomas@example.com"));
    let lena = s.move_in(&units[1], "Lena", "Vogt", email("lena@example.com"));
    let otto = s.move_in(&units[2], "Otto", "Rask", email("otto@example.com"));
    s.sync().await;

    // Duplicate Account (exact match, auto-link off): Merge links the chosen account.
    let alert = s.alert_about("duplicate-account", &tomas).await;
    assert_eq!(alert["accounts"], json!([tomas_door]));
    s.resolve(
        &alert,
        json!({"kind": "merge", "account": tomas_door, "use_pms_name": false}),
    )
    .await;
    assert_eq!(s.person("tomas@example.com").await["linked"], true);

    // Name Mismatch of an unlinked resident (same email): Merge keeping the DOOR name.
    let alert = s.alert_about("name-mismatch", &lena).await;
    assert_eq!(alert["accounts"], json!([lena_door]));
    s.resolve(
        &alert,
        json!({"kind": "merge", "account": lena_door, "use_pms_name": false}),
    )
    .await;
    let p = s.person("lena@example.com").await;
    assert_eq!(
        (p["linked"].clone(), p["account"]["first_name"].clone()),
        (json!(true), json!("Helena"))
    );

    // Email Mismatch of an unlinked resident (same name, same unit): Create Separate,
    // the old account deleted later, by its own call.
    let alert = s.alert_about("email-mismatch", &otto).await;
    assert_eq!(alert["accounts"], json!([otto_door]));
    s.resolve(
        &alert,
        json!({"kind": "create-separate", "delete_old": false}),
    )
    .await;
    assert_eq!(s.person("otto@example.com").await["linked"], true);
    assert_eq!(s.person("otto.old@example.com").await["linked"], false);
    s.h.admin("DELETE", &s.path(&format!("/accounts/{otto_door}")), None)
        .await;

    // The next sync: nothing raised again (Lena's kept DOOR name stays a closed
    // matter), nobody created twice.
    s.sync().await;
    for (kind, who) in [
        ("duplicate-account", &tomas),
        ("name-mismatch", &lena),
        ("email-mismatch", &otto),
    ] {
        let left = s.alerts_about(kind, who).await;
        assert!(
            left.iter().all(|a| a["state"] != "open"),
            "{kind} not raised again: {left:?}"
        );
    }
    assert_eq!(s.people_named("Tomas", "Berg").await.len(), 1);
    assert_eq!(s.people_named("Otto", "Rask").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_email_clears_when_the_pms_has_one_and_a_vanished_resident_is_revoked_on_approval()
 {
    let s = story("appfolio").await;
    s.h.automatic_access(&s.property).await;
    let units = s.units();
    let rui = s.move_in(&units[0], "Rui", "Costa", None);
    let gus = s.move_in(&units[1], "Gus", "Hale", email("gus@example.com"));
    s.sync().await;

    // Missing Email: raised instead of a silent skip; the PMS fix clears it.
    assert_eq!(s.alerts_about("missing-email", &rui).await.len(), 1);
    assert!(s.people_named("Rui", "Costa").await.is_empty());
    s.change_email(&rui, email("rui@example.com"));
    s.sync().await;
    assert!(s.alerts_about("missing-email", &rui).await.is_empty());
    assert_eq!(s.person("rui@example.com").await["linked"], true);

    // Gus vanishes from the PMS without a move-out: never revoked by the sync itself;
    // after two complete syncs an alert proposes the revoke, which a person approves.
    let gus_account = s.person("gus@example.com").await["account"]["id"]
        .as_u64()
        .unwrap();
    assert!(!s.keys_of(gus_account).await.is_empty());
    s.h.sim.state.write(|p| {
        let prop = p
            .properties
            .iter_mut()
            .find(|x| x.vendor == "appfolio")
            .unwrap();
        prop.residents.retain(|r| r.id != gus);
        prop.leases.retain(|l| !l.resident_ids.contains(&gus));
    });
    s.sync().await;
    s.sync().await;
    assert!(
        !s.keys_of(gus_account).await.is_empty(),
        "not revoked by itself"
    );
    let missing: Vec<Value> =
        s.h.alerts_of(&s.property, "missing-from-pms")
            .await
            .into_iter()
            .filter(|a| a["accounts"] == json!([gus_account]))
            .collect();
    assert_eq!(missing.len(), 1, "{missing:?}");
    let cursor = s.feed_cursor().await;
    s.resolve(&missing[0], json!({"kind": "revoke-access"}))
        .await;
    assert!(s.keys_of(gus_account).await.is_empty());
    let events = s.feed_of(gus_account, cursor).await;
    assert!(
        !events.is_empty() && events.iter().all(|(a, _)| a == "revoked"),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_mapping_keeps_assignments_and_stops_new_ones() {
    let s = story("yardi").await;
    s.sync().await;
    let unit = s.units()[3].clone();
    let door_unit = s.create_door_unit("Flat 4").await;
    s.map(&unit, door_unit).await;
    s.move_in(&unit, "Ada", "Moss", email("ada@example.com"));
    s.sync().await;
    assert_eq!(
        s.person("ada@example.com").await["account"]["door_unit"],
        door_unit
    );

    s.h.admin(
        "DELETE",
        &s.path(&format!("/pms-units/{}/{unit}/mapping", s.pms_id)),
        None,
    )
    .await;
    s.move_in(&unit, "Bo", "Moss", email("bo@example.com"));
    s.sync().await;
    assert_eq!(
        s.person("ada@example.com").await["account"]["door_unit"],
        door_unit,
        "kept"
    );
    assert_eq!(
        s.person("bo@example.com").await["account"]["door_unit"],
        Value::Null,
        "no new assignment from an unmapped unit"
    );
    let units = s.h.admin("GET", &s.path("/pms-units"), None).await;
    let listed = units["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["unit"]["id"] == unit.as_str())
        .unwrap()
        .clone();
    assert_eq!(listed["mapped_to"], Value::Null);
}

/// Move-in, transfer and move-out of one resident; in Approval Required mode each
/// change waits as suggestions until approved, in Automatic mode it applies at once.
async fn move_in_transfer_move_out(vendor: &'static str, automatic: bool) {
    let s = story(vendor).await;
    if automatic {
        s.h.automatic_access(&s.property).await;
    }
    s.sync().await;
    let units = s.units();
    let (d1, d2) = (
        s.create_door_unit("Flat A").await,
        s.create_door_unit("Flat B").await,
    );
    // Both at once, through the bulk call (a bad item refuses the whole call).
    let bulk = |door: u64| {
        json!({"mappings": [
            {"pms_property": s.pms_id, "unit": units[4], "door_unit": d1},
            {"pms_property": s.pms_id, "unit": units[5], "door_unit": door},
        ]})
    };
    let (status, _, problem) =
        s.h.call(
            "POST",
            &s.path("/mappings"),
            Some(&s.h.admin),
            Some(bulk(999)),
        )
        .await;
    assert_eq!(status.as_u16(), 422, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("row 2"),
        "{problem}"
    );
    let mapped =
        s.h.admin("POST", &s.path("/mappings"), Some(bulk(d2)))
            .await;
    assert_eq!(mapped["mapped"], 2);
    let common = ["Resident Amenities", "Resident Entrances"];
    let with = |unit: u64| {
        let mut keys: Vec<String> = common.iter().map(|c| (*c).to_owned()).collect();
        keys.push(format!("unit:{unit}"));
        keys.sort();
        keys
    };

    // Move-in.
    let mut cursor = s.feed_cursor().await;
    let zoe = s.move_in(&units[4], "Zoe", "Park", email("zoe@example.com"));
    s.sync().await;
    let account = s.person("zoe@example.com").await["account"]["id"]
        .as_u64()
        .unwrap();
    if !automatic {
        assert!(s.keys_of(account).await.is_empty(), "waits for approval");
        assert_eq!(s.approve_all_of(account).await, 3);
    }
    assert_eq!(s.keys_of(account).await, with(d1));
    let events = s.feed_of(account, cursor).await;
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events.iter().all(|(a, _)| a == "granted"));

    // Transfer: the old unit key goes, the new one comes; common keys stay.
    cursor = s.feed_cursor().await;
    s.mutate(Mutation::Transfer {
        vendor: vendor.into(),
        property: s.pms_id.into(),
        resident: zoe.clone(),
        to_unit: units[5].clone(),
    });
    s.sync().await;
    if !automatic {
        assert_eq!(s.keys_of(account).await, with(d1), "waits for approval");
        assert_eq!(s.approve_all_of(account).await, 2);
    }
    assert_eq!(s.keys_of(account).await, with(d2));
    let mut events = s.feed_of(account, cursor).await;
    events.sort();
    let unit_key = |id: u64| json!({"kind": "unit", "id": id}).to_string();
    assert_eq!(
        events,
        vec![
            ("granted".to_owned(), unit_key(d2)),
            ("revoked".to_owned(), unit_key(d1))
        ]
    );
    assert_eq!(
        s.person("zoe@example.com").await["account"]["door_unit"],
        d2
    );

    // Move-out: every key goes.
    cursor = s.feed_cursor().await;
    let lease = s.lease_of(&s.resident("Zoe", "Park"));
    s.mutate(Mutation::MoveOut {
        vendor: vendor.into(),
        property: s.pms_id.into(),
        lease,
    });
    s.sync().await;
    if !automatic {
        assert_eq!(s.keys_of(account).await, with(d2), "waits for approval");
        assert_eq!(s.approve_all_of(account).await, 3);
    }
    assert!(s.keys_of(account).await.is_empty());
    let events = s.feed_of(account, cursor).await;
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events.iter().all(|(a, _)| a == "revoked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_in_transfer_and_move_out_wait_for_approval_in_approval_mode() {
    move_in_transfer_move_out("entrata", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_in_transfer_and_move_out_apply_at_once_in_automatic_mode() {
    move_in_transfer_move_out("yardi", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mass_move_out_is_held_for_approval_even_in_automatic_mode_and_the_alert_clears() {
    let s = story("realpage").await;
    s.h.change_settings(&s.property, |settings| {
        settings["access"]["mode"] = json!("automatic");
        settings["access"]["grant_delay_secs"] = json!(0);
        // Hold any sync that would take keys from more than 3 residents.
        settings["access"]["guard_min_residents"] = json!(3);
        settings["access"]["guard_percent"] = json!(1);
    })
    .await;
    s.sync().await;
    // Six households move out at once.
    let leases: Vec<String> = s.h.sim.state.read(|p| {
        p.property("realpage", s.pms_id)
            .unwrap()
            .leases
            .iter()
            .filter(|l| l.status == epms_model::LeaseStatus::Current)
            .take(6)
            .map(|l| l.id.clone())
            .collect()
    });
    assert_eq!(leases.len(), 6);
    let cursor = s.feed_cursor().await;
    for lease in leases {
        s.mutate(Mutation::MoveOut {
            vendor: "realpage".into(),
            property: s.pms_id.into(),
            lease,
        });
    }
    let report = s.sync().await;
    assert_eq!(report["grants_removed"], 0, "held: {report}");
    let held = s.h.alerts_of(&s.property, "sync-held").await;
    assert_eq!(held.len(), 1, "{held:?}");
    let accounts: Vec<u64> = held[0]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_u64().unwrap())
        .collect();
    assert!(accounts.len() > 3, "{held:?}");
    for a in &accounts {
        assert!(
            !s.keys_of(*a).await.is_empty(),
            "account {a} keeps its keys"
        );
        assert!(s.feed_of(*a, cursor).await.is_empty());
    }

    // A manager approves the held revokes; the next sync holds nothing and clears it.
    for a in &accounts {
        assert!(s.approve_all_of(*a).await > 0);
        assert!(s.keys_of(*a).await.is_empty());
        assert!(
            s.feed_of(*a, cursor)
                .await
                .iter()
                .all(|(e, _)| e == "revoked"),
            "revoked through the feed"
        );
    }
    s.sync().await;
    let left = s.h.alerts_of(&s.property, "sync-held").await;
    assert!(left.is_empty(), "cleared: {left:?}");
}
