//! User Sync and Unit Sync: one complete PMS snapshot of a property against its DOOR
//! state → a plan (docs/rules.md, "User Sync and its alerts", "Unit Sync").
//!
//! Steps, in order:
//! 1. **Records**: every resident record of the attached PMS properties with its
//!    effective lease. Guarantors, leases with an excluded raw status, and statuses
//!    that never sync (applicant, cancelled, denied, other) drop out here.
//! 2. **Emails**: records grouped by normalised email. No usable email → Missing
//!    Email. One email, several different names → Duplicate Emails, and those
//!    records are not synced. One email, one name → one person (several records =
//!    a transfer).
//! 3. **Linked people** (a key of theirs is linked): status and unit flow; a name or
//!    email that differs raises Name/Email Mismatch and is never overwritten. Keys of
//!    the person not yet linked (a transfer's new tenant code) are linked too. A
//!    linked record whose email is missing or shared still gets its status and unit
//!    ("a move-out must never wait on a typo"); its email problem is the alert.
//! 4. **Unlinked people**: candidates are accounts with the same email, or the same
//!    name in the same DOOR unit; the outcome follows docs/rules.md's table.
//! 5. **Alerts**: each discrepancy found updates its live alert (same identity) or
//!    opens one; a dismissed alert stays closed unless its data changed; live alerts
//!    no longer found are resolved.
//! 6. **Units**: the PMS unit listing is refreshed; a mapped unit assigns its DOOR
//!    unit; an unmapped one keeps an existing assignment only while the resident
//!    stays in the same PMS unit (a removed mapping keeps residents assigned; a move
//!    to an unmapped unit drops the old assignment).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use epms_model::{DoorStatus, HouseholdRole, Lease, LeaseStatus, Resident, Unit};
use serde::{Deserialize, Serialize};

use crate::disposition::{AlertRef, Disposition, Linked, RecordDisposition, SharedWith};
use crate::normalize;
use crate::plan::{Actor, AuditEntry, Plan};
use crate::state::{
    Account, AccountId, AccountSource, Alert, AlertState, AlertType, DoorState, DoorUnitId, PmsKey,
    PmsPerson, PmsUnitKey, PmsUnitRecord, Settings,
};

/// One PMS property's records, as its connector returned them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PmsPropertyData {
    pub id: String,
    pub units: Vec<Unit>,
    pub residents: Vec<Resident>,
    pub leases: Vec<Lease>,
}

/// Everything a complete fetch returned for one DOOR property.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PmsSnapshot {
    pub vendor: String,
    pub properties: Vec<PmsPropertyData>,
}

/// What a sync saw, for its record and the API.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncCounts {
    pub resident_records: usize,
    pub guarantors: usize,
    pub excluded_or_not_synced: usize,
    pub without_lease: usize,
    pub missing_email: usize,
    pub duplicate_email_records: usize,
    pub people: usize,
    pub accounts_created: usize,
    pub accounts_linked: usize,
    pub accounts_updated: usize,
}

pub struct SyncOutcome {
    pub plan: Plan,
    pub counts: SyncCounts,
    /// What became of each resident record, by PMS key (empty when User Sync is off).
    pub dispositions: Vec<RecordDisposition>,
}

/// One resident record with its effective lease.
#[derive(Debug, Clone)]
struct Rec {
    key: PmsKey,
    first: String,
    last: String,
    email: Option<String>,
    email_norm: Option<String>,
    name_norm: String,
    status: DoorStatus,
    raw_status: String,
    rank: (u8, Reverse<String>, String),
    pms_unit: Option<PmsUnitKey>,
    /// When access ends: a notice lease's move-out date plus the property's grace.
    end: Option<i64>,
    /// What the connector said of an email it could not read (it then sends none).
    email_warning: Option<String>,
    /// The account this record's key is linked to, if any.
    account: Option<AccountId>,
}

/// Effective-lease order: current/notice, then future, then past; later start first.
fn lease_rank(lease: &Lease) -> Option<(u8, Reverse<String>, String)> {
    let class = match lease.status.door_status()? {
        DoorStatus::Current => 0,
        DoorStatus::Future => 1,
        DoorStatus::Past => 2,
    };
    Some((
        class,
        Reverse(lease.start_date.clone().unwrap_or_default()),
        lease.id.clone(),
    ))
}

fn person_of(recs: &[&Rec]) -> PmsPerson {
    let best = recs[0];
    PmsPerson {
        keys: recs.iter().map(|r| r.key.clone()).collect(),
        first_name: best.first.clone(),
        last_name: best.last.clone(),
        email: best.email.clone(),
        status: best.status,
        pms_unit: best.pms_unit.clone(),
    }
}

/// A discrepancy found by this sync, before it meets the live alerts.
pub(crate) struct Discrepancy {
    alert_type: AlertType,
    identity: String,
    people: Vec<PmsPerson>,
    accounts: Vec<AccountId>,
    email: Option<String>,
}

fn keys_identity(people: &[PmsPerson]) -> String {
    let mut keys: Vec<String> = people
        .iter()
        .flat_map(|p| p.keys.iter().map(|k| k.to_string()))
        .collect();
    keys.sort();
    keys.join(",")
}

impl Discrepancy {
    pub(crate) fn about(
        alert_type: AlertType,
        people: Vec<PmsPerson>,
        mut accounts: Vec<AccountId>,
    ) -> Self {
        accounts.sort();
        accounts.dedup();
        let identity = format!(
            "{}|{}|{}",
            alert_type.as_str(),
            keys_identity(&people),
            accounts
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        );
        Discrepancy {
            alert_type,
            identity,
            people,
            accounts,
            email: None,
        }
    }

    /// One Sync Held alert per property: the accounts whose revokes were held.
    pub(crate) fn sync_held(accounts: Vec<AccountId>, detail: String) -> Self {
        Discrepancy {
            alert_type: AlertType::SyncHeld,
            identity: AlertType::SyncHeld.as_str().to_owned(),
            people: Vec::new(),
            accounts,
            email: Some(detail),
        }
    }

    /// One Duplicate Emails alert per email: its identity is the email.
    fn duplicate_emails(email: String, people: Vec<PmsPerson>) -> Self {
        Discrepancy {
            alert_type: AlertType::DuplicateEmails,
            identity: format!("{}|{email}", AlertType::DuplicateEmails.as_str()),
            people,
            accounts: Vec::new(),
            email: Some(email),
        }
    }
}

/// FNV-1a: a hash that is the same on every machine and release (it is stored).
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn add(&mut self, s: &str) {
        for b in s.bytes().chain(std::iter::once(0xff)) {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn opt(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.add(s),
            None => self.add("\u{0}none"),
        }
    }
}

/// Bumped whenever the sync rules change what they plan for the same input.
pub const RULES_VERSION: &str = "sync-3";

/// A fingerprint of everything a sync's plan depends on besides the DOOR state: the
/// rules, the settings and every field of the snapshot. Equal fingerprints and an
/// unchanged state mean an equal plan; after a sync whose plan was empty, the next
/// sync with the same fingerprint and state version can be skipped.
pub fn input_fingerprint(snapshot: &PmsSnapshot, settings: &Settings) -> u64 {
    let mut h = Fnv::new();
    h.add(RULES_VERSION);
    h.add(&format!(
        "{}|{}",
        settings.user_sync, settings.auto_link_exact_matches
    ));
    for s in &settings.excluded_statuses {
        h.add(s);
    }
    h.add(&snapshot.vendor);
    for p in &snapshot.properties {
        h.add(&p.id);
        for u in &p.units {
            h.add(&u.id);
            h.add(&u.number);
            h.opt(u.building.as_deref());
            h.opt(u.floorplan.as_deref());
            h.add(match u.vacant {
                Some(true) => "v",
                Some(false) => "o",
                None => "-",
            });
        }
        for r in &p.residents {
            h.add(&r.id);
            h.opt(r.lease_id.as_deref());
            h.opt(r.unit_id.as_deref());
            h.add(&r.first_name);
            h.add(&r.last_name);
            h.opt(r.email.as_deref());
            h.opt(r.phone.as_deref());
            h.add(&format!("{:?}", r.role));
        }
        for l in &p.leases {
            h.add(&l.id);
            h.opt(l.unit_id.as_deref());
            for id in &l.resident_ids {
                h.add(id);
            }
            h.add("|");
            h.add(&l.raw_status);
            h.add(&format!("{:?}", l.status));
            h.opt(l.start_date.as_deref());
            h.opt(l.end_date.as_deref());
            h.opt(l.move_in_date.as_deref());
            h.opt(l.move_out_date.as_deref());
        }
    }
    h.0
}

/// The data an alert is about: PMS names and emails, and the DOOR accounts' names
/// and emails. Status and unit are left out: they flow without anyone's review.
pub(crate) fn fingerprint<'s>(
    alert_type: AlertType,
    people: &[PmsPerson],
    accounts: &[AccountId],
    account: impl Fn(AccountId) -> Option<&'s Account>,
) -> u64 {
    let mut h = Fnv::new();
    h.add(alert_type.as_str());
    for p in people {
        for k in &p.keys {
            h.add(&k.to_string());
        }
        h.add(&normalize::name(&p.first_name, &p.last_name));
        h.add(
            &p.email
                .as_deref()
                .and_then(normalize::email)
                .unwrap_or_default(),
        );
    }
    for id in accounts {
        h.add(&id.to_string());
        if let Some(a) = account(*id) {
            h.add(&normalize::name(&a.first_name, &a.last_name));
            h.add(
                &a.email
                    .as_deref()
                    .and_then(normalize::email)
                    .unwrap_or_default(),
            );
        }
    }
    h.0
}

/// The DOOR unit and PMS unit an account should have (see the module docs, step 6).
pub(crate) fn assign_unit(
    account: Option<&Account>,
    pms_unit: Option<&PmsUnitKey>,
    mappings: &BTreeMap<PmsUnitKey, DoorUnitId>,
) -> Option<DoorUnitId> {
    match pms_unit.and_then(|u| mappings.get(u)) {
        Some(door) => Some(*door),
        None => account
            .filter(|a| a.pms_unit.as_ref() == pms_unit)
            .and_then(|a| a.door_unit),
    }
}

fn status_word(s: Option<DoorStatus>) -> &'static str {
    match s {
        Some(DoorStatus::Future) => "future",
        Some(DoorStatus::Current) => "current",
        Some(DoorStatus::Past) => "past",
        None => "none",
    }
}

/// What an account's best record of this sync says, for the access rules.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) status: DoorStatus,
    pub(crate) raw_status: String,
    /// When access ends (a notice lease's move-out), if it does.
    pub(crate) end: Option<i64>,
}

impl Seen {
    fn of(rec: &Rec) -> Seen {
        Seen {
            status: rec.status,
            raw_status: rec.raw_status.clone(),
            end: rec.end,
        }
    }
}

pub(crate) struct Planner<'a> {
    pub(crate) state: &'a DoorState,
    pub(crate) settings: &'a Settings,
    pub(crate) now: i64,
    pub(crate) plan: Plan,
    counts: SyncCounts,
    pub(crate) discrepancies: Vec<Discrepancy>,
    email_index: HashMap<String, Vec<AccountId>>,
    name_unit_index: HashMap<(String, DoorUnitId), Vec<AccountId>>,
    linked_accounts: HashMap<AccountId, Vec<&'a PmsKey>>,
    /// Every record reaching an account this sync, for one flow of status and unit.
    buckets: BTreeMap<AccountId, Vec<&'a Rec>>,
    /// Accounts as this plan leaves them (moved into the plan at the end).
    updated: BTreeMap<AccountId, Account>,
    created: BTreeMap<AccountId, Account>,
    /// Links this plan adds, by account.
    new_links: HashMap<AccountId, Vec<PmsKey>>,
    /// Where each account is filed in `name_unit_index`.
    filed_under: HashMap<AccountId, (String, DoorUnitId)>,
    /// Accounts a synced record reached this sync: what their best record says.
    pub(crate) seen: BTreeMap<AccountId, Seen>,
    /// Accounts with at least one record in the feed, synced or not.
    pub(crate) present: std::collections::HashSet<AccountId>,
    /// Records that dropped out before matching, with why.
    dropped: Vec<RecordDisposition>,
    /// How this sync linked a record's key to its account.
    linked_how: HashMap<PmsKey, Linked>,
    /// Records held by Duplicate Emails: the other records of the email.
    shared_email: HashMap<PmsKey, Vec<SharedWith>>,
}

impl<'a> Planner<'a> {
    pub(crate) fn audit(
        &mut self,
        action: &str,
        rule: &str,
        account: Option<AccountId>,
        key: Option<&PmsKey>,
        detail: String,
    ) {
        self.plan.audit.push(AuditEntry {
            at: self.now,
            actor: Actor::Sync,
            action: action.to_owned(),
            rule: rule.to_owned(),
            account,
            pms_key: key.cloned(),
            detail,
        });
    }

    fn records(&mut self, snapshot: &PmsSnapshot) -> Vec<Rec> {
        let mut out = Vec::new();
        for prop in &snapshot.properties {
            let mut leases_of: HashMap<&str, Vec<&Lease>> = HashMap::new();
            let by_id: HashMap<&str, &Lease> =
                prop.leases.iter().map(|l| (l.id.as_str(), l)).collect();
            for lease in &prop.leases {
                for rid in &lease.resident_ids {
                    leases_of.entry(rid.as_str()).or_default().push(lease);
                }
            }
            for r in &prop.residents {
                self.counts.resident_records += 1;
                let probe = PmsKey {
                    vendor: snapshot.vendor.clone(),
                    property: prop.id.clone(),
                    resident: r.id.clone(),
                };
                if let Some(a) = self.linked_account(&probe) {
                    self.present.insert(a);
                }
                let mut leases = leases_of.get(r.id.as_str()).cloned().unwrap_or_default();
                if let Some(l) = r.lease_id.as_deref().and_then(|id| by_id.get(id))
                    && !leases.iter().any(|x| x.id == l.id)
                {
                    leases.push(l);
                }
                let dropped = |outcome: Disposition| RecordDisposition {
                    pms_key: probe.clone(),
                    first_name: r.first_name.trim().to_owned(),
                    last_name: r.last_name.trim().to_owned(),
                    email: r.email.clone(),
                    pms_unit: leases
                        .iter()
                        .find_map(|l| l.unit_id.clone())
                        .or_else(|| r.unit_id.clone()),
                    raw_statuses: leases.iter().map(|l| l.raw_status.clone()).collect(),
                    outcome,
                    alerts: Vec::new(),
                };
                if r.role == HouseholdRole::Guarantor {
                    self.counts.guarantors += 1;
                    self.dropped.push(dropped(Disposition::Guarantor));
                    continue;
                }
                if leases.is_empty() {
                    self.counts.without_lease += 1;
                    self.dropped.push(dropped(Disposition::NoLease));
                    continue;
                }
                let not_excluded: Vec<&Lease> = leases
                    .iter()
                    .copied()
                    .filter(|l| !self.settings.excluded_statuses.contains(&l.raw_status))
                    .collect();
                let effective = not_excluded
                    .iter()
                    .filter_map(|l| lease_rank(l).map(|rank| (rank, *l)))
                    .min_by(|a, b| a.0.cmp(&b.0));
                let Some((rank, lease)) = effective else {
                    self.counts.excluded_or_not_synced += 1;
                    self.dropped.push(dropped(if not_excluded.is_empty() {
                        Disposition::ExcludedStatus
                    } else {
                        Disposition::StatusNeverSynced {
                            statuses: not_excluded.iter().map(|l| l.status).collect(),
                        }
                    }));
                    continue;
                };
                let Some(status) = lease.status.door_status() else {
                    continue;
                };
                let email = r
                    .email
                    .as_deref()
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                    .map(str::to_owned);
                let email_norm = email
                    .as_deref()
                    .and_then(normalize::email)
                    .filter(|e| normalize::is_valid_email(e));
                let key = PmsKey {
                    vendor: snapshot.vendor.clone(),
                    property: prop.id.clone(),
                    resident: r.id.clone(),
                };
                let account = self.linked_account(&key);
                out.push(Rec {
                    account,
                    key,
                    first: r.first_name.trim().to_owned(),
                    last: r.last_name.trim().to_owned(),
                    email,
                    email_norm,
                    name_norm: normalize::name(&r.first_name, &r.last_name),
                    status,
                    raw_status: lease.raw_status.clone(),
                    email_warning: r
                        .warnings
                        .iter()
                        .find(|w| w.field == "email")
                        .map(|w| w.message.clone()),
                    end: match lease.status {
                        LeaseStatus::Notice => self
                            .settings
                            .access
                            .move_out
                            .end(lease.move_out_date.as_deref()),
                        _ => None,
                    },
                    rank,
                    pms_unit: lease
                        .unit_id
                        .clone()
                        .or_else(|| r.unit_id.clone())
                        .map(|unit| PmsUnitKey {
                            property: prop.id.clone(),
                            unit,
                        }),
                });
            }
        }
        out
    }

    fn linked_account(&self, key: &PmsKey) -> Option<AccountId> {
        self.state
            .links
            .get(key)
            .copied()
            .filter(|a| self.state.accounts.contains_key(a))
    }

    /// Status, unit and PMS unit flow into a linked account.
    fn flow(&mut self, account: AccountId, person: &PmsPerson, best: &Rec) {
        let raw_status = best.raw_status.as_str();
        let Some(old) = self.state.accounts.get(&account) else {
            return;
        };
        self.seen.insert(account, Seen::of(best));
        // A manager's status stands until the PMS status itself changes.
        let status = match self.state.memos.get(&account) {
            Some(m) if m.override_status.is_some() && m.pms_status == Some(person.status) => {
                m.override_status
            }
            _ => Some(person.status),
        };
        // An earlier step of this plan may already hold a newer value.
        let base = self.updated.get(&account).unwrap_or(old).clone();
        let door_unit = assign_unit(Some(&base), person.pms_unit.as_ref(), &self.state.mappings);
        let mut new = base.clone();
        new.status = status;
        new.door_unit = door_unit;
        new.pms_unit = person.pms_unit.clone();
        if new == base {
            return;
        }
        if &new == old {
            self.updated.remove(&account);
            return;
        }
        let detail = format!(
            "status {} → {} (PMS status {raw_status:?}); DOOR unit {:?} → {:?}; PMS unit {:?}",
            status_word(base.status),
            status_word(new.status),
            base.door_unit,
            new.door_unit,
            new.pms_unit.as_ref().map(|u| &u.unit)
        );
        self.audit(
            "account.updated",
            "user-sync.linked.flow",
            Some(account),
            person.keys.first(),
            detail,
        );
        self.counts.accounts_updated += 1;
        self.updated.insert(account, new);
    }

    /// The account as this plan leaves it.
    pub(crate) fn planned(&self, id: AccountId) -> Option<&Account> {
        self.updated
            .get(&id)
            .or_else(|| self.created.get(&id))
            .or_else(|| self.state.accounts.get(&id))
    }

    /// (Re)files an account in the name-and-unit index under its planned unit.
    fn index_name_unit(&mut self, id: AccountId) {
        if let Some(old) = self.filed_under.remove(&id)
            && let Some(ids) = self.name_unit_index.get_mut(&old)
        {
            ids.retain(|a| *a != id);
        }
        if let Some(a) = self.planned(id)
            && let Some(unit) = a.door_unit
        {
            let key = (normalize::name(&a.first_name, &a.last_name), unit);
            self.name_unit_index
                .entry(key.clone())
                .or_default()
                .push(id);
            self.filed_under.insert(id, key);
        }
    }

    fn link_missing_keys(
        &mut self,
        account: AccountId,
        person: &PmsPerson,
        rule: &str,
        how: Linked,
    ) {
        for key in &person.keys {
            if self.state.links.get(key) != Some(&account) {
                self.linked_how.insert(key.clone(), how);
                self.plan.links_added.push((key.clone(), account));
                self.new_links.entry(account).or_default().push(key.clone());
                self.audit(
                    "link.added",
                    rule,
                    Some(account),
                    Some(key),
                    format!("PMS resident {key} linked to account {account}"),
                );
            }
        }
    }

    /// A clean person (one email, one name) linked to one account: link the keys not
    /// yet linked (a transfer), and compare name and email.
    fn linked_person(&mut self, account: AccountId, recs: &[&Rec]) {
        let person = person_of(recs);
        self.link_missing_keys(
            account,
            &person,
            "user-sync.linked.same-person",
            Linked::Merged,
        );
        let Some(acc) = self.state.accounts.get(&account) else {
            return;
        };
        if normalize::name(&acc.first_name, &acc.last_name) != recs[0].name_norm {
            self.discrepancies.push(Discrepancy::about(
                AlertType::NameMismatch,
                vec![person.clone()],
                vec![account],
            ));
        }
        if acc.email.as_deref().and_then(normalize::email) != recs[0].email_norm {
            self.discrepancies.push(Discrepancy::about(
                AlertType::EmailMismatch,
                vec![person],
                vec![account],
            ));
        }
    }

    /// Matches an unlinked person; `true` when an account was created or linked.
    fn unlinked_person(&mut self, recs: &[&'a Rec]) -> bool {
        let person = person_of(recs);
        let best = recs[0];
        let email_norm = best.email_norm.clone().unwrap_or_default();
        let mapped_unit = best
            .pms_unit
            .as_ref()
            .and_then(|u| self.state.mappings.get(u))
            .copied();
        let mut candidates: BTreeSet<AccountId> = self
            .email_index
            .get(&email_norm)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect();
        if let Some(unit) = mapped_unit {
            candidates.extend(
                self.name_unit_index
                    .get(&(best.name_norm.clone(), unit))
                    .cloned()
                    .unwrap_or_default(),
            );
        }
        let candidates: Vec<AccountId> = candidates.into_iter().collect();
        match candidates.as_slice() {
            [] => {
                self.create(person, best);
                return true;
            }
            [c] => {
                let c = *c;
                let linked_elsewhere = self
                    .linked_accounts
                    .get(&c)
                    .is_some_and(|keys| keys.iter().any(|k| !person.keys.contains(k)))
                    || self
                        .new_links
                        .get(&c)
                        .is_some_and(|keys| keys.iter().any(|k| !person.keys.contains(k)));
                let Some(acc) = self.planned(c) else {
                    return false;
                };
                let same_email = acc.email.as_deref().and_then(normalize::email).as_deref()
                    == Some(email_norm.as_str());
                let same_name = normalize::name(&acc.first_name, &acc.last_name) == best.name_norm;
                if linked_elsewhere {
                    self.discrepancies.push(Discrepancy::about(
                        AlertType::DuplicateAccount,
                        vec![person],
                        vec![c],
                    ));
                } else if same_email && same_name {
                    if self.settings.auto_link_exact_matches {
                        self.counts.accounts_linked += 1;
                        self.link_missing_keys(
                            c,
                            &person,
                            "user-sync.unlinked.exact-match",
                            Linked::AutoLinkedExactMatch,
                        );
                        self.flow(c, &person, best);
                        self.index_name_unit(c);
                        return true;
                    } else {
                        self.discrepancies.push(Discrepancy::about(
                            AlertType::DuplicateAccount,
                            vec![person],
                            vec![c],
                        ));
                    }
                } else if same_email {
                    self.discrepancies.push(Discrepancy::about(
                        AlertType::NameMismatch,
                        vec![person],
                        vec![c],
                    ));
                } else {
                    // Matched by name and unit: the email differs.
                    self.discrepancies.push(Discrepancy::about(
                        AlertType::EmailMismatch,
                        vec![person],
                        vec![c],
                    ));
                };
            }
            several => {
                let several = several.to_vec();
                self.discrepancies.push(Discrepancy::about(
                    AlertType::DuplicateAccount,
                    vec![person],
                    several,
                ));
            }
        }
        false
    }

    fn create(&mut self, person: PmsPerson, best: &Rec) {
        let id = self.plan.next_account_id;
        self.plan.next_account_id += 1;
        let account = Account {
            id,
            first_name: person.first_name.clone(),
            last_name: person.last_name.clone(),
            email: person.email.clone(),
            status: Some(person.status),
            door_unit: assign_unit(None, person.pms_unit.as_ref(), &self.state.mappings),
            pms_unit: person.pms_unit.clone(),
            source: AccountSource::Pms,
        };
        self.audit(
            "account.created",
            "user-sync.unlinked.create",
            Some(id),
            person.keys.first(),
            format!(
                "no DOOR account matched; created with status {} (PMS status {:?}), DOOR unit {:?}",
                status_word(account.status),
                best.raw_status,
                account.door_unit
            ),
        );
        self.counts.accounts_created += 1;
        self.seen.insert(id, Seen::of(best));
        self.created.insert(id, account);
        for key in &person.keys {
            self.plan.links_added.push((key.clone(), id));
            self.new_links.entry(id).or_default().push(key.clone());
            self.linked_how.insert(key.clone(), Linked::Created);
        }
        self.index_name_unit(id);
    }

    /// Step 5: discrepancies meet the live alerts.
    fn reconcile_alerts(&mut self) {
        let by_identity: HashMap<&str, &Alert> = self
            .state
            .alerts
            .values()
            .map(|a| (a.identity.as_str(), a))
            .collect();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let discrepancies = std::mem::take(&mut self.discrepancies);
        for d in discrepancies {
            if !seen.insert(d.identity.clone()) {
                continue;
            }
            let fp = fingerprint(d.alert_type, &d.people, &d.accounts, |id| self.planned(id));
            match by_identity.get(d.identity.as_str()) {
                Some(existing) => {
                    let unchanged = existing.fingerprint == fp;
                    let new_state = match existing.state {
                        AlertState::Dismissed | AlertState::Acknowledged if unchanged => {
                            existing.state
                        }
                        _ => AlertState::Open,
                    };
                    if unchanged && new_state == existing.state && existing.people == d.people {
                        continue;
                    }
                    let mut updated = (*existing).clone();
                    updated.state = new_state;
                    updated.fingerprint = fp;
                    updated.people = d.people;
                    updated.accounts = d.accounts;
                    updated.email = d.email;
                    updated.updated_at = self.now;
                    if existing.state != new_state {
                        self.audit(
                            "alert.reopened",
                            "alerts.data-changed",
                            None,
                            None,
                            format!(
                                "alert {} ({}) reopened: its data changed",
                                existing.id,
                                existing.alert_type.as_str()
                            ),
                        );
                    }
                    self.plan.alerts_updated.push(updated);
                }
                None => {
                    let id = self.plan.next_alert_id;
                    self.plan.next_alert_id += 1;
                    self.audit(
                        "alert.opened",
                        &format!("user-sync.{}", d.alert_type.as_str()),
                        d.accounts.first().copied(),
                        d.people.first().and_then(|p| p.keys.first()),
                        format!("alert {id}: {}", d.identity),
                    );
                    self.plan.alerts_opened.push(Alert {
                        id,
                        alert_type: d.alert_type,
                        identity: d.identity,
                        state: AlertState::Open,
                        fingerprint: fp,
                        people: d.people,
                        accounts: d.accounts,
                        email: d.email,
                        opened_at: self.now,
                        updated_at: self.now,
                        resolution: None,
                    });
                }
            }
        }
        let stale: Vec<Alert> = self
            .state
            .alerts
            .values()
            .filter(|a| !seen.contains(&a.identity))
            .cloned()
            .collect();
        for mut alert in stale {
            self.audit(
                "alert.resolved",
                "alerts.no-longer-seen",
                alert.accounts.first().copied(),
                alert.people.first().and_then(|p| p.keys.first()),
                format!(
                    "alert {} ({}) cleared: the sync no longer sees it",
                    alert.id,
                    alert.alert_type.as_str()
                ),
            );
            alert.state = AlertState::Resolved;
            alert.resolution = Some("cleared by sync".into());
            alert.updated_at = self.now;
            self.plan.alerts_updated.push(alert);
        }
    }
}

impl Planner<'_> {
    /// Every resident record's disposition, by PMS key; `alerts_about` holds the
    /// identities of the discrepancies found about each record.
    fn dispositions(
        &mut self,
        recs: &[Rec],
        alerts_about: &HashMap<PmsKey, Vec<String>>,
    ) -> Vec<RecordDisposition> {
        let plan = &self.plan;
        let live: HashMap<&str, AlertRef> = self
            .state
            .alerts
            .values()
            .chain(&plan.alerts_updated)
            .chain(&plan.alerts_opened)
            .map(|a| {
                let r = AlertRef {
                    id: a.id,
                    alert_type: a.alert_type,
                    state: a.state,
                };
                (a.identity.as_str(), r)
            })
            .collect();
        let new_links: HashMap<&PmsKey, AccountId> =
            plan.links_added.iter().map(|(k, a)| (k, *a)).collect();
        let mut out = std::mem::take(&mut self.dropped);
        for r in recs {
            let mut alerts: Vec<AlertRef> = alerts_about
                .get(&r.key)
                .into_iter()
                .flatten()
                .filter_map(|identity| live.get(identity.as_str()).cloned())
                .filter(|a| a.state.is_live())
                .collect();
            alerts.sort_by_key(|a| a.id);
            alerts.dedup();
            let account = r.account.or_else(|| new_links.get(&r.key).copied());
            let outcome = match account {
                Some(account) => {
                    let unmapped = r
                        .pms_unit
                        .as_ref()
                        .filter(|u| !self.state.mappings.contains_key(u));
                    Disposition::Synced {
                        account,
                        linked: self
                            .linked_how
                            .get(&r.key)
                            .copied()
                            .unwrap_or(Linked::AlreadyLinked),
                        door_unit: self.planned(account).and_then(|a| a.door_unit),
                        unmapped_pms_unit: unmapped.map(|u| u.unit.clone()),
                    }
                }
                None if r.email.is_none() => match &r.email_warning {
                    Some(detail) => Disposition::MalformedEmail {
                        detail: detail.clone(),
                    },
                    None => Disposition::MissingEmail,
                },
                None if r.email_norm.is_none() => Disposition::MalformedEmail {
                    detail: format!(
                        "not an email address: {:?}",
                        r.email.as_deref().unwrap_or_default()
                    ),
                },
                None => match self.shared_email.remove(&r.key) {
                    Some(with) => Disposition::SharesEmail { with },
                    // An unlinked record with a usable email that was neither created
                    // nor linked is held by the alert its matching raised.
                    None => Disposition::WaitingOnAlert {
                        alert_type: alerts.first().map(|a| a.alert_type),
                    },
                },
            };
            out.push(RecordDisposition {
                pms_key: r.key.clone(),
                first_name: r.first.clone(),
                last_name: r.last.clone(),
                email: r.email.clone(),
                pms_unit: r.pms_unit.as_ref().map(|u| u.unit.clone()),
                raw_statuses: vec![r.raw_status.clone()],
                outcome,
                alerts,
            });
        }
        out.sort_by(|a, b| a.pms_key.cmp(&b.pms_key));
        out
    }
}

/// Plans one sync of a property from a complete snapshot.
pub fn plan_sync(
    snapshot: &PmsSnapshot,
    state: &DoorState,
    settings: &Settings,
    now: i64,
) -> SyncOutcome {
    let mut planner = Planner {
        state,
        settings,
        now,
        plan: Plan::empty(state),
        counts: SyncCounts::default(),
        discrepancies: Vec::new(),
        email_index: HashMap::new(),
        name_unit_index: HashMap::new(),
        linked_accounts: HashMap::new(),
        buckets: BTreeMap::new(),
        updated: BTreeMap::new(),
        created: BTreeMap::new(),
        new_links: HashMap::new(),
        filed_under: HashMap::new(),
        seen: BTreeMap::new(),
        present: std::collections::HashSet::new(),
        dropped: Vec::new(),
        linked_how: HashMap::new(),
        shared_email: HashMap::new(),
    };
    if !settings.user_sync {
        return SyncOutcome {
            plan: planner.plan,
            counts: planner.counts,
            dispositions: Vec::new(),
        };
    }
    for a in state.accounts.values() {
        if let Some(e) = a.email.as_deref().and_then(normalize::email) {
            planner.email_index.entry(e).or_default().push(a.id);
        }
    }
    for (key, account) in &state.links {
        planner
            .linked_accounts
            .entry(*account)
            .or_default()
            .push(key);
    }

    let mut recs = planner.records(snapshot);
    recs.sort_by(|a, b| a.rank.cmp(&b.rank).then_with(|| a.key.cmp(&b.key)));

    // Step 2: emails.
    let mut by_email: BTreeMap<String, Vec<&Rec>> = BTreeMap::new();
    let mut no_email: Vec<&Rec> = Vec::new();
    for r in &recs {
        match &r.email_norm {
            Some(e) => by_email.entry(e.clone()).or_default().push(r),
            None => no_email.push(r),
        }
    }

    // Records that reach DOOR only through an existing link (email missing or shared):
    // status and unit still flow, nothing else.
    let mut degraded: Vec<&Rec> = Vec::new();
    for r in no_email {
        planner.counts.missing_email += 1;
        planner.discrepancies.push(Discrepancy::about(
            AlertType::MissingEmail,
            vec![person_of(&[r])],
            Vec::new(),
        ));
        degraded.push(r);
    }

    let mut people: Vec<Vec<&Rec>> = Vec::new();
    for (email, group) in by_email {
        let names: BTreeSet<&str> = group.iter().map(|r| r.name_norm.as_str()).collect();
        if names.len() > 1 {
            planner.counts.duplicate_email_records += group.len();
            let listed: Vec<PmsPerson> = names
                .iter()
                .map(|n| {
                    let same: Vec<&Rec> = group
                        .iter()
                        .copied()
                        .filter(|r| r.name_norm == *n)
                        .collect();
                    person_of(&same)
                })
                .collect();
            planner
                .discrepancies
                .push(Discrepancy::duplicate_emails(email, listed));
            for r in &group {
                let with = group
                    .iter()
                    .filter(|o| o.name_norm != r.name_norm)
                    .map(|o| SharedWith {
                        pms_key: o.key.clone(),
                        first_name: o.first.clone(),
                        last_name: o.last.clone(),
                    })
                    .collect();
                planner.shared_email.insert(r.key.clone(), with);
            }
            degraded.extend(group);
        } else {
            people.push(group);
        }
    }
    for r in degraded {
        if let Some(a) = r.account {
            planner.buckets.entry(a).or_default().push(r);
        }
    }

    // Steps 3 and 4.
    planner.counts.people = people.len();
    let mut unlinked: Vec<Vec<&Rec>> = Vec::new();
    for group in people {
        let accounts: BTreeSet<AccountId> = group.iter().filter_map(|r| r.account).collect();
        match accounts.len() {
            0 => unlinked.push(group),
            1 => {
                let account = *accounts.iter().next().unwrap_or(&0);
                planner.linked_person(account, &group);
                planner
                    .buckets
                    .entry(account)
                    .or_default()
                    .extend(group.iter().copied());
            }
            _ => {
                for r in &group {
                    if let Some(a) = r.account {
                        planner.buckets.entry(a).or_default().push(r);
                    }
                }
                let person = person_of(&group);
                planner.discrepancies.push(Discrepancy::about(
                    AlertType::DuplicateAccount,
                    vec![person],
                    accounts.into_iter().collect(),
                ));
            }
        }
    }

    // Status and unit flow once per account, from its best record this sync.
    let buckets = std::mem::take(&mut planner.buckets);
    for (account, mut recs) in buckets {
        recs.sort_by(|a, b| a.rank.cmp(&b.rank).then_with(|| a.key.cmp(&b.key)));
        let person = person_of(&recs);
        planner.flow(account, &person, recs[0]);
    }

    // Unlinked people are matched against accounts as this sync leaves them (units
    // included), so that the next sync of the same snapshot finds the same candidates.
    let ids: Vec<AccountId> = state.accounts.keys().copied().collect();
    for id in ids {
        planner.index_name_unit(id);
    }
    // An account created or linked for one person can become another's candidate:
    // match again until nothing new is created or linked, keeping only the last
    // pass's discrepancies, so the outcome does not depend on the order of people.
    let mut pending = unlinked;
    loop {
        let mark = planner.discrepancies.len();
        let mut unresolved = Vec::new();
        let mut progressed = false;
        for group in pending {
            if planner.unlinked_person(&group) {
                progressed = true;
            } else {
                unresolved.push(group);
            }
        }
        if !progressed || unresolved.is_empty() {
            break;
        }
        planner.discrepancies.truncate(mark);
        pending = unresolved;
    }

    planner.plan_access();
    let mut alerts_about: HashMap<PmsKey, Vec<String>> = HashMap::new();
    for d in &planner.discrepancies {
        for key in d.people.iter().flat_map(|p| &p.keys) {
            alerts_about
                .entry(key.clone())
                .or_default()
                .push(d.identity.clone());
        }
    }
    planner.reconcile_alerts();
    let dispositions = planner.dispositions(&recs, &alerts_about);
    planner.plan.accounts_updated = std::mem::take(&mut planner.updated).into_values().collect();
    planner.plan.accounts_created = std::mem::take(&mut planner.created).into_values().collect();

    // Step 6: the PMS unit listing (compared in place; copied only when it changed).
    let listed = snapshot
        .properties
        .iter()
        .flat_map(|p| p.units.iter().map(move |u| (p, u)));
    let unchanged = listed.clone().count() == state.pms_units.len()
        && listed.clone().zip(&state.pms_units).all(|((p, u), old)| {
            old.key.property == p.id && old.key.unit == u.id && old.unit == *u
        });
    if !unchanged {
        planner.plan.pms_units = Some(
            listed
                .map(|(p, u)| PmsUnitRecord {
                    key: PmsUnitKey {
                        property: p.id.clone(),
                        unit: u.id.clone(),
                    },
                    unit: u.clone(),
                })
                .collect(),
        );
    }

    SyncOutcome {
        plan: planner.plan,
        counts: planner.counts,
        dispositions,
    }
}

/// The canonical statuses that never reach DOOR.
pub fn never_synced(status: LeaseStatus) -> bool {
    status.door_status().is_none()
}
