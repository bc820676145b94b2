//! What the store keeps besides the engine's state, and the store's own rules for
//! it: what applying a plan, recording a sync run or changing an integration does to
//! a property's record, and how connector activations move. Every backend calls these
//! (they are written once).

use std::collections::BTreeMap;

use epms_engine::{FeedEvent, Plan, RecordDisposition, Settings, Suggestion, SyncCounts};
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// A DOOR property and its integration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropertyRecord {
    pub id: String,
    pub name: String,
    pub credential_id: Option<String>,
    /// The PMS property ids attached (one or more, of the one credential).
    pub pms_property_ids: Vec<String>,
    pub settings: Settings,
    /// `DoorState::version` and id counters.
    pub version: u64,
    pub next_account_id: u64,
    pub next_alert_id: u64,
    pub next_door_unit_id: u64,
    #[serde(default = "one")]
    pub next_grant_id: u64,
    #[serde(default = "one")]
    pub next_suggestion_id: u64,
    /// When the last successful sync finished (unix seconds).
    pub last_sync_ok: Option<i64>,
    pub created_at: i64,
    /// The input fingerprint of the last sync that planned nothing, and the state
    /// version it left: a sync with the same input against the same version can be
    /// skipped (see `epms_engine::input_fingerprint`).
    #[serde(default)]
    pub settled: Option<Settled>,
    /// Minutes between scheduled syncs; `None`: the service's default (hourly).
    #[serde(default)]
    pub sync_interval_minutes: Option<u32>,
    /// The kept dispositions list, summed up (absent in records from before it was
    /// kept, and after an older build rewrote the record: the list is then written
    /// whole at the next sync).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_dispositions: Option<KeptDispositions>,
}

/// When the sync whose dispositions are kept started, and a digest of its records. A
/// sync with the same records moves only the time: the list is megabytes (3.8 MB
/// for a 5,000-unit property), and writing it again was most of an unchanged
/// re-sync's write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptDispositions {
    pub planned_at: i64,
    #[serde(with = "epms_model::u64_text")]
    pub digest: u64,
}

fn one() -> u64 {
    1
}

/// Who an API token speaks for.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Every property, connector and credential.
    Admin,
    /// Only the properties listed on the token.
    PropertyManager,
}

impl Role {
    /// Why a token of this role cannot list these properties, if it cannot: an admin
    /// sees every property, a property manager at least one. (Whether they exist is
    /// the caller's check, against the store.)
    pub fn scope_problem(&self, properties: &[String]) -> Option<&'static str> {
        match self {
            Role::Admin if !properties.is_empty() => {
                Some("an admin token sees every property: give it none")
            }
            Role::PropertyManager if properties.is_empty() => {
                Some("a property-manager token needs at least one property")
            }
            _ => None,
        }
    }
}

/// An API token as stored: its hash is the key; the token itself is shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub name: String,
    pub role: Role,
    /// For property managers: the properties they may see.
    pub properties: Vec<String>,
    pub created_at: i64,
}

/// One entry of the access event feed, as the lock platform reads it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedRecord {
    pub property: String,
    #[serde(flatten)]
    pub event: FeedEvent,
}

/// A suggestion that left the pending list, and why.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedSuggestion {
    pub suggestion: Suggestion,
    pub outcome: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settled {
    #[serde(with = "epms_model::u64_text")]
    pub input_fingerprint: u64,
    pub version: u64,
}

impl PropertyRecord {
    pub fn new(id: &str, name: &str, now: i64) -> Self {
        PropertyRecord {
            id: id.to_owned(),
            name: name.to_owned(),
            credential_id: None,
            pms_property_ids: Vec::new(),
            settings: Settings::default(),
            version: 0,
            next_account_id: 1,
            next_alert_id: 1,
            next_door_unit_id: 1,
            next_grant_id: 1,
            next_suggestion_id: 1,
            last_sync_ok: None,
            created_at: now,
            settled: None,
            sync_interval_minutes: None,
            kept_dispositions: None,
        }
    }

    /// Records that `sync`'s dispositions are now the kept ones, and returns the list
    /// to write, or `None` when the kept list already holds these very records (only
    /// their time moves, here). The one rule both backends follow.
    pub(crate) fn keep_dispositions<'s>(
        &mut self,
        sync: &PlannedSync<'s>,
    ) -> Option<impl Serialize + 's> {
        let digest = dispositions_digest(sync.dispositions);
        let unchanged = self.kept_dispositions.is_some_and(|k| k.digest == digest);
        self.kept_dispositions = Some(KeptDispositions {
            planned_at: sync.run.started_at,
            digest,
        });
        (!unchanged).then(|| sync.kept_dispositions())
    }

    /// The kept list as of the last sync that planned: its records, and that sync's
    /// time from this record when a later sync left the records as they were.
    pub(crate) fn dispositions_as_of(&self, mut kept: Dispositions) -> Dispositions {
        if let Some(k) = self.kept_dispositions {
            kept.planned_at = k.planned_at;
        }
        kept
    }
}

/// A digest of dispositions, the same in every process and backend (a fixed seed).
/// A collision would keep an older list for the explanations: about one chance in
/// 10^19 a sync by accident. The hash is fast, not cryptographic, so a connector could
/// craft one; what it would gain is an older list of its own records on that page,
/// while accounts, alerts and keys follow the plan as always.
fn dispositions_digest(records: &[RecordDisposition]) -> u64 {
    use std::hash::BuildHasher as _;
    foldhash::fast::FixedState::with_seed(0x6570_6d73_6469_7370).hash_one(records)
}

/// A vendor login. Secret fields are sealed; they leave the store only through
/// [`Store::credential_secrets`], for the outbound gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialRecord {
    pub id: String,
    pub vendor: String,
    /// Non-secret fields.
    pub settings: BTreeMap<String, String>,
    /// Secret fields, sealed with the host's key.
    pub sealed_secrets: BTreeMap<String, String>,
}

/// How a sync ended.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunOutcome {
    Succeeded,
    /// Nothing was applied; `error` says why.
    Failed,
}

/// One sync's record.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRun {
    pub started_at: i64,
    pub finished_at: i64,
    pub outcome: RunOutcome,
    pub counts: SyncCounts,
    /// Classified error code and message when it failed.
    pub error_code: Option<String>,
    pub error: Option<String>,
    /// The engine's input fingerprint of a sync that ran the planner.
    #[serde(default, with = "epms_model::u64_text::option")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub input_fingerprint: Option<u64>,
    /// The connector version that fetched (absent when none was reached).
    #[serde(default)]
    pub connector: Option<ConnectorUsed>,
    /// The host that ran it (absent in records from before hosts were named).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// A sync that planned, as the store records it with its plan: the run, and what
/// became of each PMS record (replacing the last sync's list).
#[derive(Debug, Clone, Copy)]
pub struct PlannedSync<'a> {
    pub run: &'a SyncRun,
    pub dispositions: &'a [RecordDisposition],
}

impl<'a> PlannedSync<'a> {
    /// What the store keeps of it besides the run ([`Dispositions`], borrowed).
    fn kept_dispositions(&self) -> impl Serialize + 'a {
        #[derive(Serialize)]
        struct Kept<'a> {
            planned_at: i64,
            records: &'a [RecordDisposition],
        }
        Kept {
            planned_at: self.run.started_at,
            records: self.dispositions,
        }
    }
}

/// The record dispositions of the last sync that planned.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispositions {
    /// When that sync started (unix seconds): the last sync that planned, also when
    /// it found the same records as the one before. Later syncs of the same input
    /// against the same state were settled: this list is still what they would say.
    pub planned_at: i64,
    pub records: Vec<RecordDisposition>,
}

/// Which connector version a sync ran.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorUsed {
    pub vendor: String,
    pub version: String,
    pub sha256: String,
}

/// A connector version installed through the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginRecord {
    /// Hex SHA-256 of the component's bytes: its identity.
    pub sha256: String,
    pub vendor: String,
    pub version: String,
    pub contract_version: String,
    pub size: u64,
    pub installed_at: i64,
    /// The token name of whoever installed it.
    pub installed_by: String,
    /// "signed by key <id>", or "unsigned (development mode)".
    pub provenance: String,
    /// The signature line it was installed with, checked again against the trusted
    /// keys each time the host starts (absent: unsigned, or installed before it was kept).
    #[serde(default)]
    pub signature: Option<String>,
}

/// A vendor's active version and the ones active before it, newest last.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorDefault {
    pub active: String,
    pub previous: Vec<String>,
}

impl PropertyRecord {
    /// What applying `plan` (with the sync run that made it, if any) does to the
    /// record: the version moves on when the plan changes anything, the id counters
    /// follow the plan, a successful run is the last good sync, and a run that planned
    /// nothing settles its input. A plan made against another version is refused.
    pub fn advance(&mut self, plan: &Plan, run: Option<&SyncRun>) -> Result<(), StoreError> {
        if self.version != plan.base_version {
            return Err(StoreError::Stale {
                plan: plan.base_version,
                current: self.version,
            });
        }
        if !plan.is_empty() {
            self.version += 1;
        }
        if let Some(run) = run {
            self.record_run(run);
            self.settled = match run.input_fingerprint {
                Some(fp) if plan.is_empty() => Some(Settled {
                    input_fingerprint: fp,
                    version: self.version,
                }),
                _ => None,
            };
        }
        self.next_account_id = plan.next_account_id;
        self.next_alert_id = plan.next_alert_id;
        self.next_door_unit_id = plan.next_door_unit_id;
        self.next_grant_id = plan.next_grant_id;
        self.next_suggestion_id = plan.next_suggestion_id;
        Ok(())
    }

    /// What recording a sync run that applied nothing does: a success is the last
    /// good sync; a failure keeps the one before.
    pub fn record_run(&mut self, run: &SyncRun) {
        if run.outcome == RunOutcome::Succeeded {
            self.last_sync_ok = Some(run.finished_at);
        }
    }

    /// `change` applied to a copy of the record, keeping what belongs to the store
    /// (id, creation time, version, counters, sync times): an integration change
    /// never rewinds them.
    pub fn changed_by(&self, change: impl FnOnce(&mut PropertyRecord)) -> PropertyRecord {
        let mut next = self.clone();
        change(&mut next);
        PropertyRecord {
            name: next.name,
            credential_id: next.credential_id,
            pms_property_ids: next.pms_property_ids,
            settings: next.settings,
            sync_interval_minutes: next.sync_interval_minutes,
            ..self.clone()
        }
    }

    /// Whether a sync with this input fingerprint would plan nothing: the last sync
    /// with the same input planned nothing and the state has not changed since.
    pub fn is_settled(&self, input_fingerprint: u64) -> bool {
        self.settled
            == Some(Settled {
                input_fingerprint,
                version: self.version,
            })
    }
}

impl VendorDefault {
    /// `sha256` becomes the active version; `replacing` (the one active until now,
    /// bundled or installed) is what a rollback returns to.
    pub fn activate(&mut self, sha256: &str, replacing: Option<&str>) {
        if let Some(old) = replacing.filter(|old| *old != sha256) {
            self.previous.push(old.to_owned());
        }
        self.active = sha256.to_owned();
    }

    /// Back to the version active before; its hash (`None`: there is none).
    pub fn roll_back(&mut self) -> Option<String> {
        let back = self.previous.pop()?;
        self.active = back.clone();
        Some(back)
    }

    /// A removed version leaves the rollback history; whether it was in it.
    pub fn forget(&mut self, sha256: &str) -> bool {
        let before = self.previous.len();
        self.previous.retain(|p| p != sha256);
        self.previous.len() != before
    }
}

/// The audit entry of a rollback names where it went.
pub fn rollback_audit(audit: &epms_engine::AuditEntry, back: &str) -> epms_engine::AuditEntry {
    let mut audit = audit.clone();
    audit.detail = format!("{} → {back}", audit.detail);
    audit
}

/// A credential as stored: its secret fields sealed with the host's key.
pub fn sealed_credential(
    secret_box: &crate::SecretBox,
    id: &str,
    vendor: &str,
    settings: BTreeMap<String, String>,
    secrets: &BTreeMap<String, String>,
) -> CredentialRecord {
    CredentialRecord {
        id: id.to_owned(),
        vendor: vendor.to_owned(),
        settings,
        sealed_secrets: secrets
            .iter()
            .map(|(k, v)| (k.clone(), secret_box.seal(v)))
            .collect(),
    }
}

/// A credential's secrets, opened.
pub fn opened_secrets(
    secret_box: &crate::SecretBox,
    credential: &CredentialRecord,
) -> Result<BTreeMap<String, String>, StoreError> {
    credential
        .sealed_secrets
        .iter()
        .map(|(k, v)| Ok((k.clone(), secret_box.open(v)?)))
        .collect()
}

/// The first property id a backend refuses: the empty one is the service's audit
/// scope ([`crate::SERVICE_SCOPE`]).
pub fn check_new_property(record: &PropertyRecord) -> Result<(), StoreError> {
    if record.id.trim().is_empty() {
        return Err(StoreError::EmptyPropertyId);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use epms_engine::{Disposition, PmsKey};

    fn disposition(first: &str) -> RecordDisposition {
        RecordDisposition {
            pms_key: PmsKey {
                vendor: "yardi".into(),
                property: "p1".into(),
                resident: "r1".into(),
            },
            first_name: first.into(),
            last_name: "Lee".into(),
            email: None,
            pms_unit: Some("101".into()),
            raw_statuses: vec!["Current".into()],
            outcome: Disposition::MissingEmail,
            alerts: Vec::new(),
        }
    }

    fn run(at: i64) -> SyncRun {
        SyncRun {
            started_at: at,
            finished_at: at,
            outcome: RunOutcome::Succeeded,
            counts: Default::default(),
            error_code: None,
            error: None,
            input_fingerprint: None,
            connector: None,
            host: None,
        }
    }

    /// The list is written when there is none kept, or when a record differs; the
    /// same records only move the kept time, which reads back over the list's own.
    #[test]
    fn dispositions_are_written_only_when_their_records_change() {
        let mut p = PropertyRecord::new("p", "P", 0);
        let ann = [disposition("Ann")];
        let (first, second, third) = (run(10), run(20), run(30));
        let sync = |run, records| PlannedSync {
            run,
            dispositions: records,
        };
        assert!(p.keep_dispositions(&sync(&first, &ann)).is_some());
        assert!(p.keep_dispositions(&sync(&second, &ann)).is_none());
        let kept = Dispositions {
            planned_at: 10,
            records: ann.to_vec(),
        };
        assert_eq!(p.dispositions_as_of(kept.clone()).planned_at, 20);
        let anna = [disposition("Anna")];
        assert!(p.keep_dispositions(&sync(&third, &anna)).is_some());
        assert!(p.keep_dispositions(&sync(&third, &[])).is_some());
        // A record from before the digest (or rewritten by an older build) writes.
        let mut old = PropertyRecord::new("p", "P", 0);
        assert_eq!(old.dispositions_as_of(kept.clone()), kept);
        assert!(old.keep_dispositions(&sync(&second, &ann)).is_some());
        let text = serde_json::to_string(&old).unwrap();
        let back: PropertyRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(back.kept_dispositions, old.kept_dispositions);
    }
}
