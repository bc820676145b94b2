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
use std::collections::{BTreeMap, BTreeSet};

// The planner's maps hash PMS ids: foldhash, seeded per process, hashes them several
// times faster than the standard SipHash and still resists chosen collisions.
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

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

/// A record's PMS key, borrowed from the snapshot; ordered as [`PmsKey`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct RecordKey<'a> {
    vendor: &'a str,
    property: &'a str,
    resident: &'a str,
}

impl<'a> RecordKey<'a> {
    fn of(key: &'a PmsKey) -> Self {
        RecordKey {
            vendor: &key.vendor,
            property: &key.property,
            resident: &key.resident,
        }
    }

    fn owned(self) -> PmsKey {
        PmsKey {
            vendor: self.vendor.to_owned(),
            property: self.property.to_owned(),
            resident: self.resident.to_owned(),
        }
    }
}

/// A record's PMS unit, borrowed from the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct PmsUnitRef<'a> {
    property: &'a str,
    unit: &'a str,
}

impl<'a> PmsUnitRef<'a> {
    fn of(key: &'a PmsUnitKey) -> Self {
        PmsUnitRef {
            property: &key.property,
            unit: &key.unit,
        }
    }

    fn owned(self) -> PmsUnitKey {
        PmsUnitKey {
            property: self.property.to_owned(),
            unit: self.unit.to_owned(),
        }
    }
}

fn same_pms_unit(a: Option<PmsUnitRef<'_>>, b: Option<&PmsUnitKey>) -> bool {
    a == b.map(PmsUnitRef::of)
}

/// One resident record with its effective lease. It borrows from the snapshot: a
/// sync of 12,000 records allocates only what its plan and explanations keep.
#[derive(Debug, Clone)]
struct Rec<'a> {
    key: RecordKey<'a>,
    /// Trimmed.
    first: &'a str,
    last: &'a str,
    /// Trimmed, never blank.
    email: Option<&'a str>,
    email_norm: Option<String>,
    name_norm: String,
    status: DoorStatus,
    raw_status: &'a str,
    rank: (u8, Reverse<&'a str>, &'a str),
    pms_unit: Option<PmsUnitRef<'a>>,
    /// When access ends: a notice lease's move-out date plus the property's grace.
    end: Option<i64>,
    /// What the connector said of an email it could not read (it then sends none).
    email_warning: Option<&'a str>,
    /// The account this record's key is linked to, if any.
    account: Option<AccountId>,
}

impl Rec<'_> {
    /// Whether an account's name compares equal to this record's. An account made
    /// from the record holds its very words: equal without normalising them again
    /// (names with accents take the slow Unicode path).
    fn same_name_as(&self, account: &Account) -> bool {
        (account.first_name == self.first && account.last_name == self.last)
            || normalize::name_is(&account.first_name, &account.last_name, &self.name_norm)
    }
}

/// Effective-lease order: current/notice, then future, then past; later start first.
fn lease_rank(lease: &Lease) -> Option<(u8, Reverse<&str>, &str)> {
    let class = match lease.status.door_status()? {
        DoorStatus::Current => 0,
        DoorStatus::Future => 1,
        DoorStatus::Past => 2,
    };
    Some((
        class,
        Reverse(lease.start_date.as_deref().unwrap_or_default()),
        lease.id.as_str(),
    ))
}

/// The order records of one person are weighed in: best lease first.
fn by_rank(a: &&Rec<'_>, b: &&Rec<'_>) -> std::cmp::Ordering {
    a.rank.cmp(&b.rank).then_with(|| a.key.cmp(&b.key))
}

fn person_of(recs: &[&Rec<'_>]) -> PmsPerson {
    let best = recs[0];
    PmsPerson {
        keys: recs.iter().map(|r| r.key.owned()).collect(),
        first_name: best.first.to_owned(),
        last_name: best.last.to_owned(),
        email: best.email.map(str::to_owned),
        status: best.status,
        pms_unit: best.pms_unit.map(PmsUnitRef::owned),
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
struct Fnv {
    hash: u64,
    /// Reused for the `Debug` texts hashed.
    scratch: String,
}

impl Fnv {
    fn new() -> Self {
        Fnv {
            hash: 0xcbf2_9ce4_8422_2325,
            scratch: String::new(),
        }
    }
    /// Adds a value's `Debug` text, written into a reused buffer.
    fn debug(&mut self, v: &impl std::fmt::Debug) {
        use std::fmt::Write as _;
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        // Writing into a String cannot fail.
        let _ = write!(text, "{v:?}");
        self.add(&text);
        self.scratch = text;
    }
    fn add(&mut self, s: &str) {
        for b in s.bytes().chain(std::iter::once(0xff)) {
            self.hash ^= u64::from(b);
            self.hash = self.hash.wrapping_mul(0x0100_0000_01b3);
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
pub const RULES_VERSION: &str = "sync-4";

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
            h.debug(&r.role);
        }
        for l in &p.leases {
            h.add(&l.id);
            h.opt(l.unit_id.as_deref());
            for id in &l.resident_ids {
                h.add(id);
            }
            h.add("|");
            h.add(&l.raw_status);
            h.debug(&l.status);
            h.opt(l.start_date.as_deref());
            h.opt(l.end_date.as_deref());
            h.opt(l.move_in_date.as_deref());
            h.opt(l.move_out_date.as_deref());
        }
    }
    h.hash
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
    h.hash
}

/// The DOOR unit an account should have (see the module docs, step 6).
pub(crate) fn assign_unit(
    account: Option<&Account>,
    pms_unit: Option<&PmsUnitKey>,
    mappings: &BTreeMap<PmsUnitKey, DoorUnitId>,
) -> Option<DoorUnitId> {
    unit_for(
        account,
        pms_unit.and_then(|u| mappings.get(u)).copied(),
        |a| a.pms_unit.as_ref() == pms_unit,
    )
}

/// The rule of [`assign_unit`]: a mapped PMS unit gives its DOOR unit; an unmapped
/// one keeps the account's unit only while the resident stays in the same PMS unit.
fn unit_for(
    account: Option<&Account>,
    mapped: Option<DoorUnitId>,
    same_pms_unit: impl Fn(&Account) -> bool,
) -> Option<DoorUnitId> {
    mapped.or_else(|| {
        account
            .filter(|a| same_pms_unit(a))
            .and_then(|a| a.door_unit)
    })
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
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seen<'a> {
    pub(crate) status: DoorStatus,
    pub(crate) raw_status: &'a str,
    /// When access ends (a notice lease's move-out), if it does.
    pub(crate) end: Option<i64>,
}

impl<'a> Seen<'a> {
    fn of(rec: &Rec<'a>) -> Seen<'a> {
        Seen {
            status: rec.status,
            raw_status: rec.raw_status,
            end: rec.end,
        }
    }
}

/// The indexes only the matching of unlinked people needs (built when there are any).
#[derive(Default)]
struct MatchIndexes<'a> {
    email: HashMap<String, Vec<AccountId>>,
    name_unit: HashMap<(String, DoorUnitId), Vec<AccountId>>,
    /// Where each account is filed in `name_unit`.
    filed_under: HashMap<AccountId, (String, DoorUnitId)>,
    /// The keys linked to each account before this sync.
    linked_keys: HashMap<AccountId, Vec<RecordKey<'a>>>,
}

pub(crate) struct Planner<'a> {
    pub(crate) state: &'a DoorState,
    pub(crate) settings: &'a Settings,
    pub(crate) now: i64,
    pub(crate) plan: Plan,
    counts: SyncCounts,
    pub(crate) discrepancies: Vec<Discrepancy>,
    /// The state's links and mappings, looked up by borrowed keys.
    links: HashMap<RecordKey<'a>, AccountId>,
    mappings: HashMap<PmsUnitRef<'a>, DoorUnitId>,
    matching: MatchIndexes<'a>,
    /// Accounts as this plan leaves them (moved into the plan at the end).
    updated: BTreeMap<AccountId, Account>,
    created: BTreeMap<AccountId, Account>,
    /// Links this plan adds, by account.
    new_links: HashMap<AccountId, Vec<RecordKey<'a>>>,
    /// Accounts a synced record reached this sync: what their best record says.
    pub(crate) seen: BTreeMap<AccountId, Seen<'a>>,
    /// Accounts with at least one record in the feed, synced or not.
    pub(crate) present: HashSet<AccountId>,
    /// Records that dropped out before matching, with why.
    dropped: Vec<RecordDisposition>,
    /// How this sync linked a record's key to its account.
    linked_how: HashMap<RecordKey<'a>, Linked>,
    /// Records held by Duplicate Emails: the other records of the email.
    shared_email: HashMap<RecordKey<'a>, Vec<SharedWith>>,
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

    fn records(&mut self, snapshot: &'a PmsSnapshot) -> Vec<Rec<'a>> {
        // Sized up front: a 5,000-unit property grows these lists a dozen times each.
        let mut out =
            Vec::with_capacity(snapshot.properties.iter().map(|p| p.residents.len()).sum());
        let vendor = snapshot.vendor.as_str();
        for prop in &snapshot.properties {
            let mut leases_of: HashMap<&str, Vec<&Lease>> =
                HashMap::with_capacity(prop.residents.len());
            let by_id: HashMap<&str, &Lease> =
                prop.leases.iter().map(|l| (l.id.as_str(), l)).collect();
            for lease in &prop.leases {
                for rid in &lease.resident_ids {
                    leases_of.entry(rid.as_str()).or_default().push(lease);
                }
            }
            // One list reused for every resident's leases.
            let mut leases: Vec<&Lease> = Vec::new();
            for r in &prop.residents {
                self.counts.resident_records += 1;
                let key = RecordKey {
                    vendor,
                    property: &prop.id,
                    resident: &r.id,
                };
                let account = self.linked_account(key);
                if let Some(a) = account {
                    self.present.insert(a);
                }
                leases.clear();
                leases.extend(leases_of.get(r.id.as_str()).into_iter().flatten());
                if let Some(l) = r.lease_id.as_deref().and_then(|id| by_id.get(id))
                    && !leases.iter().any(|x| x.id == l.id)
                {
                    leases.push(l);
                }
                let dropped = |outcome: Disposition| RecordDisposition {
                    pms_key: key.owned(),
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
                let excluded = |l: &Lease| self.settings.excluded_statuses.contains(&l.raw_status);
                let effective = leases
                    .iter()
                    .filter(|l| !excluded(l))
                    .filter_map(|l| lease_rank(l).map(|rank| (rank, *l)))
                    .min_by(|a, b| a.0.cmp(&b.0));
                let Some((rank, lease)) = effective else {
                    self.counts.excluded_or_not_synced += 1;
                    let statuses: Vec<LeaseStatus> = leases
                        .iter()
                        .filter(|l| !excluded(l))
                        .map(|l| l.status)
                        .collect();
                    self.dropped.push(dropped(if statuses.is_empty() {
                        Disposition::ExcludedStatus
                    } else {
                        Disposition::StatusNeverSynced { statuses }
                    }));
                    continue;
                };
                let Some(status) = lease.status.door_status() else {
                    continue;
                };
                let email = r.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
                let email_norm = email
                    .and_then(normalize::email)
                    .filter(|e| normalize::is_valid_email(e));
                out.push(Rec {
                    account,
                    key,
                    first: r.first_name.trim(),
                    last: r.last_name.trim(),
                    email,
                    email_norm,
                    name_norm: normalize::name(&r.first_name, &r.last_name),
                    status,
                    raw_status: &lease.raw_status,
                    email_warning: r
                        .warnings
                        .iter()
                        .find(|w| w.field == "email")
                        .map(|w| w.message.as_str()),
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
                        .as_deref()
                        .or(r.unit_id.as_deref())
                        .map(|unit| PmsUnitRef {
                            property: &prop.id,
                            unit,
                        }),
                });
            }
        }
        out
    }

    fn linked_account(&self, key: RecordKey<'_>) -> Option<AccountId> {
        self.links
            .get(&key)
            .copied()
            .filter(|a| self.state.accounts.contains_key(a))
    }

    /// The DOOR unit a PMS unit gives an account (see [`assign_unit`]).
    fn assign(
        &self,
        account: Option<&Account>,
        pms_unit: Option<PmsUnitRef<'_>>,
    ) -> Option<DoorUnitId> {
        let mapped = pms_unit.and_then(|u| self.mappings.get(&u)).copied();
        unit_for(account, mapped, |a| {
            same_pms_unit(pms_unit, a.pms_unit.as_ref())
        })
    }

    /// Status, unit and PMS unit flow into a linked account from its best record.
    fn flow(&mut self, account: AccountId, best: &Rec<'a>) {
        let Some(old) = self.state.accounts.get(&account) else {
            return;
        };
        self.seen.insert(account, Seen::of(best));
        // A manager's status stands until the PMS status itself changes.
        let status = match self.state.memos.get(&account) {
            Some(m) if m.override_status.is_some() && m.pms_status == Some(best.status) => {
                m.override_status
            }
            _ => Some(best.status),
        };
        // An earlier step of this plan may already hold a newer value.
        let base = self.updated.get(&account).unwrap_or(old);
        let door_unit = self.assign(Some(base), best.pms_unit);
        if base.status == status
            && base.door_unit == door_unit
            && same_pms_unit(best.pms_unit, base.pms_unit.as_ref())
        {
            return;
        }
        let mut new = base.clone();
        new.status = status;
        new.door_unit = door_unit;
        new.pms_unit = best.pms_unit.map(PmsUnitRef::owned);
        if &new == old {
            self.updated.remove(&account);
            return;
        }
        let detail = format!(
            "status {} → {} (PMS status {:?}); DOOR unit {:?} → {:?}; PMS unit {:?}",
            status_word(base.status),
            status_word(status),
            best.raw_status,
            base.door_unit,
            new.door_unit,
            new.pms_unit.as_ref().map(|u| &u.unit)
        );
        self.audit(
            "account.updated",
            "user-sync.linked.flow",
            Some(account),
            Some(&best.key.owned()),
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

    /// Builds the indexes that matching unlinked people uses, from the accounts as
    /// the linked people's flow left them.
    fn index_for_matching(&mut self) {
        for a in self.state.accounts.values() {
            if let Some(e) = a.email.as_deref().and_then(normalize::email) {
                self.matching.email.entry(e).or_default().push(a.id);
            }
        }
        for (key, account) in &self.state.links {
            self.matching
                .linked_keys
                .entry(*account)
                .or_default()
                .push(RecordKey::of(key));
        }
        let ids: Vec<AccountId> = self.state.accounts.keys().copied().collect();
        for id in ids {
            self.index_name_unit(id);
        }
    }

    /// (Re)files an account in the name-and-unit index under its planned unit.
    fn index_name_unit(&mut self, id: AccountId) {
        if let Some(old) = self.matching.filed_under.remove(&id)
            && let Some(ids) = self.matching.name_unit.get_mut(&old)
        {
            ids.retain(|a| *a != id);
        }
        if let Some(a) = self.planned(id)
            && let Some(unit) = a.door_unit
        {
            let key = (normalize::name(&a.first_name, &a.last_name), unit);
            self.matching
                .name_unit
                .entry(key.clone())
                .or_default()
                .push(id);
            self.matching.filed_under.insert(id, key);
        }
    }

    fn link_missing_keys(
        &mut self,
        account: AccountId,
        recs: &[&Rec<'a>],
        rule: &str,
        how: Linked,
    ) {
        for r in recs {
            // A record found linked to this account needs no lookup.
            if r.account != Some(account) && self.links.get(&r.key) != Some(&account) {
                let key = r.key.owned();
                self.linked_how.insert(r.key, how);
                self.new_links.entry(account).or_default().push(r.key);
                self.audit(
                    "link.added",
                    rule,
                    Some(account),
                    Some(&key),
                    format!("PMS resident {key} linked to account {account}"),
                );
                self.plan.links_added.push((key, account));
            }
        }
    }

    /// A clean person (one email, one name) linked to one account: link the keys not
    /// yet linked (a transfer), and compare name and email.
    fn linked_person(&mut self, account: AccountId, recs: &[&Rec<'a>]) {
        self.link_missing_keys(
            account,
            recs,
            "user-sync.linked.same-person",
            Linked::Merged,
        );
        let Some(acc) = self.state.accounts.get(&account) else {
            return;
        };
        let best = recs[0];
        if !best.same_name_as(acc) {
            self.discrepancies.push(Discrepancy::about(
                AlertType::NameMismatch,
                vec![person_of(recs)],
                vec![account],
            ));
        }
        if !normalize::email_is(acc.email.as_deref(), best.email_norm.as_deref()) {
            self.discrepancies.push(Discrepancy::about(
                AlertType::EmailMismatch,
                vec![person_of(recs)],
                vec![account],
            ));
        }
    }

    /// Matches an unlinked person; `true` when an account was created or linked.
    fn unlinked_person(&mut self, recs: &[&'a Rec<'a>]) -> bool {
        let best = recs[0];
        let email_norm = best.email_norm.as_deref().unwrap_or_default();
        let mapped_unit = best.pms_unit.and_then(|u| self.mappings.get(&u)).copied();
        let mut candidates: BTreeSet<AccountId> = self
            .matching
            .email
            .get(email_norm)
            .into_iter()
            .flatten()
            .copied()
            .collect();
        if let Some(unit) = mapped_unit
            && let Some(ids) = self.matching.name_unit.get(&(best.name_norm.clone(), unit))
        {
            candidates.extend(ids);
        }
        let candidates: Vec<AccountId> = candidates.into_iter().collect();
        let one_of_them = |k: &RecordKey<'_>| recs.iter().any(|r| r.key == *k);
        match candidates.as_slice() {
            [] => {
                self.create(recs);
                return true;
            }
            [c] => {
                let c = *c;
                let linked_elsewhere = self
                    .matching
                    .linked_keys
                    .get(&c)
                    .into_iter()
                    .chain(self.new_links.get(&c))
                    .flatten()
                    .any(|k| !one_of_them(k));
                let Some(acc) = self.planned(c) else {
                    return false;
                };
                let same_email = normalize::email_is(acc.email.as_deref(), Some(email_norm));
                let same_name = best.same_name_as(acc);
                let found = if linked_elsewhere {
                    AlertType::DuplicateAccount
                } else if same_email && same_name {
                    if self.settings.auto_link_exact_matches {
                        self.counts.accounts_linked += 1;
                        self.link_missing_keys(
                            c,
                            recs,
                            "user-sync.unlinked.exact-match",
                            Linked::AutoLinkedExactMatch,
                        );
                        self.flow(c, best);
                        self.index_name_unit(c);
                        return true;
                    }
                    AlertType::DuplicateAccount
                } else if same_email {
                    AlertType::NameMismatch
                } else {
                    // Matched by name and unit: the email differs.
                    AlertType::EmailMismatch
                };
                self.discrepancies
                    .push(Discrepancy::about(found, vec![person_of(recs)], vec![c]));
            }
            several => {
                let several = several.to_vec();
                self.discrepancies.push(Discrepancy::about(
                    AlertType::DuplicateAccount,
                    vec![person_of(recs)],
                    several,
                ));
            }
        }
        false
    }

    fn create(&mut self, recs: &[&Rec<'a>]) {
        let best = recs[0];
        let id = self.plan.next_account_id;
        self.plan.next_account_id += 1;
        let account = Account {
            id,
            first_name: best.first.to_owned(),
            last_name: best.last.to_owned(),
            email: best.email.map(str::to_owned),
            status: Some(best.status),
            door_unit: self.assign(None, best.pms_unit),
            pms_unit: best.pms_unit.map(PmsUnitRef::owned),
            source: AccountSource::Pms,
        };
        let keys: Vec<PmsKey> = recs.iter().map(|r| r.key.owned()).collect();
        self.audit(
            "account.created",
            "user-sync.unlinked.create",
            Some(id),
            keys.first(),
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
        for (r, key) in recs.iter().zip(keys) {
            self.plan.links_added.push((key, id));
            self.new_links.entry(id).or_default().push(r.key);
            self.linked_how.insert(r.key, Linked::Created);
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

impl<'a> Planner<'a> {
    /// Every resident record's disposition, by PMS key; `alerts_about` holds the
    /// identities of the discrepancies found about each record.
    fn dispositions(
        &mut self,
        recs: &[Rec<'a>],
        alerts_about: &HashMap<RecordKey<'_>, Vec<&str>>,
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
        let new_links: HashMap<RecordKey<'_>, AccountId> = plan
            .links_added
            .iter()
            .map(|(k, a)| (RecordKey::of(k), *a))
            .collect();
        // Listed by PMS key; under one key, the dropped records and then the others
        // best lease first. Indexes are sorted: the dispositions themselves are large.
        let dropped = std::mem::take(&mut self.dropped);
        let kept = dropped.len();
        let sort_key = |i: usize| match i.checked_sub(kept) {
            None => (RecordKey::of(&dropped[i].pms_key), None),
            Some(j) => (recs[j].key, Some(&recs[j].rank)),
        };
        let mut order: Vec<usize> = (0..kept + recs.len()).collect();
        order.sort_by(|a, b| sort_key(*a).cmp(&sort_key(*b)));
        let mut dropped: Vec<Option<RecordDisposition>> = dropped.into_iter().map(Some).collect();
        let mut out = Vec::with_capacity(order.len());
        for i in order {
            let Some(j) = i.checked_sub(kept) else {
                out.extend(dropped[i].take());
                continue;
            };
            let r = &recs[j];
            let mut alerts: Vec<AlertRef> = alerts_about
                .get(&r.key)
                .into_iter()
                .flatten()
                .filter_map(|identity| live.get(identity).cloned())
                .filter(|a| a.state.is_live())
                .collect();
            alerts.sort_by_key(|a| a.id);
            alerts.dedup();
            let account = r.account.or_else(|| new_links.get(&r.key).copied());
            let outcome = match account {
                Some(account) => Disposition::Synced {
                    account,
                    linked: self
                        .linked_how
                        .get(&r.key)
                        .copied()
                        .unwrap_or(Linked::AlreadyLinked),
                    door_unit: self.planned(account).and_then(|a| a.door_unit),
                    unmapped_pms_unit: r
                        .pms_unit
                        .filter(|u| !self.mappings.contains_key(u))
                        .map(|u| u.unit.to_owned()),
                },
                None if r.email.is_none() => match r.email_warning {
                    Some(detail) => Disposition::MalformedEmail {
                        detail: detail.to_owned(),
                    },
                    None => Disposition::MissingEmail,
                },
                None if r.email_norm.is_none() => Disposition::MalformedEmail {
                    detail: format!("not an email address: {:?}", r.email.unwrap_or_default()),
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
                pms_key: r.key.owned(),
                first_name: r.first.to_owned(),
                last_name: r.last.to_owned(),
                email: r.email.map(str::to_owned),
                pms_unit: r.pms_unit.map(|u| u.unit.to_owned()),
                raw_statuses: vec![r.raw_status.to_owned()],
                outcome,
                alerts,
            });
        }
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
        links: HashMap::new(),
        mappings: HashMap::new(),
        matching: MatchIndexes::default(),
        updated: BTreeMap::new(),
        created: BTreeMap::new(),
        new_links: HashMap::new(),
        seen: BTreeMap::new(),
        present: HashSet::new(),
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
    planner.links = state
        .links
        .iter()
        .map(|(k, a)| (RecordKey::of(k), *a))
        .collect();
    planner.mappings = state
        .mappings
        .iter()
        .map(|(k, d)| (PmsUnitRef::of(k), *d))
        .collect();

    let recs = planner.records(snapshot);
    // Every record without a link gets one (and an audit line for it, most of them an
    // account and its line too): on a first sync that is every record.
    let unlinked = recs.iter().filter(|r| r.account.is_none()).count();
    planner.plan.links_added.reserve(unlinked);
    planner.plan.audit.reserve(2 * unlinked);
    planner.new_links.reserve(unlinked);
    planner.linked_how.reserve(unlinked);
    // Step 2: emails. One sort of references (a record is some 200 bytes) groups the
    // records by email, each group best lease first; the records without a usable
    // email come first, best first.
    let mut by_email: Vec<&Rec> = recs.iter().collect();
    by_email.sort_by(|a, b| a.email_norm.cmp(&b.email_norm).then_with(|| by_rank(a, b)));
    let split = by_email.partition_point(|r| r.email_norm.is_none());
    let (no_email, with_email) = by_email.split_at(split);

    // Records that reach DOOR only through an existing link (email missing or shared):
    // status and unit still flow, nothing else.
    let mut degraded: Vec<&Rec> = Vec::new();
    for r in no_email.iter().copied() {
        planner.counts.missing_email += 1;
        planner.discrepancies.push(Discrepancy::about(
            AlertType::MissingEmail,
            vec![person_of(&[r])],
            Vec::new(),
        ));
        degraded.push(r);
    }

    let mut people: Vec<&[&Rec]> = Vec::new();
    for group in with_email.chunk_by(|a, b| a.email_norm == b.email_norm) {
        let name = group[0].name_norm.as_str();
        if group.iter().all(|r| r.name_norm == name) {
            people.push(group);
            continue;
        }
        let names: BTreeSet<&str> = group.iter().map(|r| r.name_norm.as_str()).collect();
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
        let email = group[0].email_norm.clone().unwrap_or_default();
        planner
            .discrepancies
            .push(Discrepancy::duplicate_emails(email, listed));
        for r in group {
            let with = group
                .iter()
                .filter(|o| o.name_norm != r.name_norm)
                .map(|o| SharedWith {
                    pms_key: o.key.owned(),
                    first_name: o.first.to_owned(),
                    last_name: o.last.to_owned(),
                })
                .collect();
            planner.shared_email.insert(r.key, with);
        }
        degraded.extend(group);
    }
    // Every record reaching an account this sync, for one flow of status and unit.
    let mut reaching: Vec<(AccountId, &Rec)> = degraded
        .iter()
        .filter_map(|r| r.account.map(|a| (a, *r)))
        .collect();

    // Steps 3 and 4.
    planner.counts.people = people.len();
    let mut unlinked: Vec<&[&Rec]> = Vec::new();
    for group in people {
        let mut accounts = group.iter().filter_map(|r| r.account);
        let Some(first) = accounts.next() else {
            unlinked.push(group);
            continue;
        };
        if accounts.all(|a| a == first) {
            planner.linked_person(first, group);
            reaching.extend(group.iter().map(|r| (first, *r)));
            continue;
        }
        let accounts: BTreeSet<AccountId> = group.iter().filter_map(|r| r.account).collect();
        reaching.extend(group.iter().filter_map(|r| r.account.map(|a| (a, *r))));
        planner.discrepancies.push(Discrepancy::about(
            AlertType::DuplicateAccount,
            vec![person_of(group)],
            accounts.into_iter().collect(),
        ));
    }

    // Status and unit flow once per account, from its best record this sync.
    reaching.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| by_rank(&a.1, &b.1)));
    for run in reaching.chunk_by(|a, b| a.0 == b.0) {
        planner.flow(run[0].0, run[0].1);
    }

    // Unlinked people are matched against accounts as this sync leaves them (units
    // included), so that the next sync of the same snapshot finds the same candidates.
    if !unlinked.is_empty() {
        planner.index_for_matching();
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
            if planner.unlinked_person(group) {
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
    // Which alerts each record is about (copied: the alerts take the discrepancies).
    let about: Vec<(PmsKey, String)> = planner
        .discrepancies
        .iter()
        .flat_map(|d| {
            d.people
                .iter()
                .flat_map(|p| &p.keys)
                .map(|k| (k.clone(), d.identity.clone()))
        })
        .collect();
    planner.reconcile_alerts();
    let mut alerts_about: HashMap<RecordKey<'_>, Vec<&str>> = HashMap::new();
    for (key, identity) in &about {
        alerts_about
            .entry(RecordKey::of(key))
            .or_default()
            .push(identity);
    }
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
