//! What DOOR knows about one property: accounts, links, units, mappings, alerts.
//! The store loads it, the engine plans against it, and [`DoorState::apply`] is the
//! in-memory meaning of a plan (the store's transaction must agree with it).

use std::collections::{BTreeMap, BTreeSet};

use epms_model::{DoorStatus, Unit};
use serde::{Deserialize, Serialize};

pub type AccountId = u64;
pub type AlertId = u64;
pub type DoorUnitId = u64;
pub type GrantId = u64;
pub type SuggestionId = u64;

/// A PMS resident record: (vendor, PMS property id, PMS resident id).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PmsKey {
    pub vendor: String,
    pub property: String,
    pub resident: String,
}

impl std::fmt::Display for PmsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.vendor, self.property, self.resident)
    }
}

/// A PMS unit: (PMS property id, PMS unit id). The vendor is the property's.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PmsUnitKey {
    pub property: String,
    pub unit: String,
}

/// Where an account came from.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccountSource {
    /// Created by a sync from a PMS resident.
    Pms,
    /// Created in DOOR by a manager (or before the integration existed).
    Manual,
}

/// A DOOR user of the property.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    pub first_name: String,
    pub last_name: String,
    /// Unique per property once normalised (see [`crate::normalize::email`]).
    pub email: Option<String>,
    pub status: Option<DoorStatus>,
    pub door_unit: Option<DoorUnitId>,
    /// The PMS unit of the resident's effective lease at the last sync: a unit
    /// assignment is kept when that unit's mapping is removed, and dropped when the
    /// resident moves to an unmapped unit.
    pub pms_unit: Option<PmsUnitKey>,
    pub source: AccountSource,
}

/// A DOOR unit.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorUnit {
    pub id: DoorUnitId,
    pub name: String,
    pub building: Option<String>,
}

/// The four User Sync alert types, and the [beyond] Missing Email.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertType {
    DuplicateEmails,
    MissingEmail,
    DuplicateAccount,
    NameMismatch,
    EmailMismatch,
    /// [beyond] A linked resident with keys gone from the feed for several complete
    /// syncs: proposes revoking their access, for a person to approve.
    MissingFromPms,
    /// [beyond] The mass-revocation guard held this sync's revokes as suggestions.
    SyncHeld,
}

impl AlertType {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertType::DuplicateEmails => "duplicate-emails",
            AlertType::MissingEmail => "missing-email",
            AlertType::DuplicateAccount => "duplicate-account",
            AlertType::NameMismatch => "name-mismatch",
            AlertType::EmailMismatch => "email-mismatch",
            AlertType::MissingFromPms => "missing-from-pms",
            AlertType::SyncHeld => "sync-held",
        }
    }
}

/// Where an alert stands.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertState {
    /// Needs a person.
    Open,
    /// "Keep DOOR value": DOOR is right and stays as it is; the alert waits for the
    /// PMS to be corrected and then clears. Not counted in the badge.
    Acknowledged,
    /// Closed by a person; returns only if its data changes.
    Dismissed,
    /// Gone: fixed by a resolution, or no longer seen by a sync.
    Resolved,
}

impl AlertState {
    /// Whether the alert still stands (and is kept in the current state).
    pub fn is_live(self) -> bool {
        !matches!(self, AlertState::Resolved)
    }
}

/// A PMS resident as an alert shows it (and as a resolution needs it).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PmsPerson {
    pub keys: Vec<PmsKey>,
    pub first_name: String,
    pub last_name: String,
    /// As the PMS has it (trimmed), when present.
    pub email: Option<String>,
    pub status: DoorStatus,
    pub pms_unit: Option<PmsUnitKey>,
}

/// An alert: a discrepancy a person must resolve.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub id: AlertId,
    pub alert_type: AlertType,
    /// Stable identity: a later sync that sees the same discrepancy finds this alert.
    pub identity: String,
    pub state: AlertState,
    /// Hash of the data the alert is about: a dismissed alert returns only when it
    /// changes. Text on the wire: it passes 2^53.
    #[serde(with = "epms_model::u64_text")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub fingerprint: u64,
    /// The PMS residents involved.
    pub people: Vec<PmsPerson>,
    /// The DOOR accounts involved.
    pub accounts: Vec<AccountId>,
    /// For Duplicate Emails: the shared (normalised) email. For Sync Held: what was held.
    pub email: Option<String>,
    pub opened_at: i64,
    pub updated_at: i64,
    /// How it was closed, when it was.
    pub resolution: Option<String>,
}

/// A property's integration settings that the sync rules read.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Raw vendor lease statuses whose leases are never pulled.
    pub excluded_statuses: BTreeSet<String>,
    pub user_sync: bool,
    /// Link an unlinked PMS resident to the one DOOR account with the same name and
    /// email without asking (default on); off: raise Duplicate Account instead.
    pub auto_link_exact_matches: bool,
    #[serde(default)]
    pub access: AccessSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            excluded_statuses: BTreeSet::new(),
            user_sync: true,
            auto_link_exact_matches: true,
            access: AccessSettings::default(),
        }
    }
}

/// How access changes are applied.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccessMode {
    /// Every change becomes a suggestion a manager approves (the default).
    ApprovalRequired,
    /// Changes apply during the sync.
    Automatic,
}

/// A common-area key every current resident gets.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommonKey {
    /// 1 to 100 characters, unique (any case) within a property.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 100)))]
    pub name: String,
    /// Whether residents may share it with guests.
    pub shareable: bool,
}

/// Automated Access settings (docs/rules.md, "Automated Access" and "Safety").
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessSettings {
    /// Automated Access is on (it also needs User Sync).
    pub enabled: bool,
    pub mode: AccessMode,
    /// The property's common-area keys ("Resident Entrances", "Resident Amenities", …).
    pub common_keys: Vec<CommonKey>,
    /// Access starts this long after the change is detected (seconds; default 15 min,
    /// at most a week).
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = MAX_GRANT_DELAY_SECS)))]
    pub grant_delay_secs: i64,
    /// The mass-revocation guard holds a sync that would take access from more than
    /// max(`guard_min_residents`, `guard_percent` % of current residents).
    #[cfg_attr(feature = "schema", schemars(range(max = 1_000_000)))]
    pub guard_min_residents: usize,
    #[cfg_attr(feature = "schema", schemars(range(max = 100)))]
    pub guard_percent: u32,
    /// Complete syncs a resident with keys must be missing from before a Missing From
    /// PMS alert proposes a revoke.
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 100)))]
    pub missing_after_syncs: u32,
    /// When a notice resident's access ends (absent in settings stored before it
    /// existed: the default).
    #[serde(default)]
    pub move_out: MoveOutWindow,
}

/// A notice resident's keys end at their move-out date: at `cutoff_minute` (local
/// time, minutes after midnight) of the move-out date plus `grace_days`. Local time is
/// UTC + `utc_offset_minutes` (a fixed offset: summer time is not followed).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MoveOutWindow {
    /// Ends are set at all (default on).
    pub enabled: bool,
    /// Days after the move-out date (default 1, at most 30).
    #[cfg_attr(feature = "schema", schemars(range(max = 30)))]
    pub grace_days: u32,
    /// Minute of the day access ends (default 1439: 23:59).
    #[cfg_attr(feature = "schema", schemars(range(max = 1439)))]
    pub cutoff_minute: u32,
    /// The property's local time: minutes east of UTC (default 0, -720 to 840).
    #[cfg_attr(feature = "schema", schemars(range(min = -720, max = 840)))]
    pub utc_offset_minutes: i32,
}

impl Default for MoveOutWindow {
    fn default() -> Self {
        MoveOutWindow {
            enabled: true,
            grace_days: 1,
            cutoff_minute: 23 * 60 + 59,
            utc_offset_minutes: 0,
        }
    }
}

impl MoveOutWindow {
    /// When access ends for a notice lease moving out on `move_out` (`YYYY-MM-DD`);
    /// `None` when ends are off or the date is not a date.
    pub fn end(&self, move_out: Option<&str>) -> Option<i64> {
        if !self.enabled {
            return None;
        }
        let day = crate::dates::parse_day(move_out?)?;
        Some(crate::dates::local_time(
            day + i64::from(self.grace_days.min(30)),
            self.cutoff_minute.min(1439),
            self.utc_offset_minutes.clamp(-720, 840),
        ))
    }
}

/// Longest grant delay a property may set: a week.
pub const MAX_GRANT_DELAY_SECS: i64 = 7 * 24 * 3600;

impl AccessSettings {
    /// When a grant detected at `now` starts. The delay is bounded here too, so that a
    /// setting stored before it was validated cannot wrap the clock.
    pub fn grant_start(&self, now: i64) -> i64 {
        now.saturating_add(self.grant_delay_secs.clamp(0, MAX_GRANT_DELAY_SECS))
    }
}

/// A setting out of its range: which one (its path in the settings) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SettingsError {
    pub field: &'static str,
    pub message: String,
}

impl Settings {
    /// Every value within its range, and the settings consistent with each other.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let bad = |field: &'static str, message: String| Err(SettingsError { field, message });
        let a = &self.access;
        if !(0..=MAX_GRANT_DELAY_SECS).contains(&a.grant_delay_secs) {
            return bad(
                "settings.access.grant_delay_secs",
                format!("must be between 0 and {MAX_GRANT_DELAY_SECS} (a week)"),
            );
        }
        if a.guard_percent > 100 {
            return bad(
                "settings.access.guard_percent",
                "must be at most 100".into(),
            );
        }
        if a.guard_min_residents > 1_000_000 {
            return bad(
                "settings.access.guard_min_residents",
                "must be at most 1000000".into(),
            );
        }
        if !(1..=100).contains(&a.missing_after_syncs) {
            return bad(
                "settings.access.missing_after_syncs",
                "must be between 1 and 100".into(),
            );
        }
        let mut names = BTreeSet::new();
        for key in &a.common_keys {
            let name = key.name.trim();
            if name.is_empty() || key.name.chars().count() > 100 {
                return bad(
                    "settings.access.common_keys",
                    format!("key name {:?} must be 1 to 100 characters", key.name),
                );
            }
            if !names.insert(name.to_lowercase()) {
                return bad(
                    "settings.access.common_keys",
                    format!("key name {:?} appears twice", key.name),
                );
            }
        }
        let w = &a.move_out;
        if w.grace_days > 30 {
            return bad(
                "settings.access.move_out.grace_days",
                "must be at most 30".into(),
            );
        }
        if w.cutoff_minute > 1439 {
            return bad(
                "settings.access.move_out.cutoff_minute",
                "must be at most 1439 (23:59)".into(),
            );
        }
        if !(-720..=840).contains(&w.utc_offset_minutes) {
            return bad(
                "settings.access.move_out.utc_offset_minutes",
                "must be between -720 and 840".into(),
            );
        }
        if a.enabled && !self.user_sync {
            return bad(
                "settings.access.enabled",
                "Automated Access needs User Sync on".into(),
            );
        }
        Ok(())
    }
}

impl Default for AccessSettings {
    fn default() -> Self {
        AccessSettings {
            enabled: false,
            mode: AccessMode::ApprovalRequired,
            common_keys: vec![
                CommonKey {
                    name: "Resident Entrances".into(),
                    shareable: false,
                },
                CommonKey {
                    name: "Resident Amenities".into(),
                    shareable: false,
                },
            ],
            grant_delay_secs: 15 * 60,
            guard_min_residents: 5,
            guard_percent: 20,
            missing_after_syncs: 2,
            move_out: MoveOutWindow::default(),
        }
    }
}

/// A key: the unit key of a DOOR unit, or a common-area key by name.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "kebab-case")]
pub enum KeyRef {
    Unit(DoorUnitId),
    Common(String),
}

impl std::fmt::Display for KeyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyRef::Unit(u) => write!(f, "unit key {u}"),
            KeyRef::Common(n) => write!(f, "{n:?}"),
        }
    }
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GrantSource {
    Automatic,
    Manual,
}

/// A key given to an account.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub id: GrantId,
    pub account: AccountId,
    pub key: KeyRef,
    /// Unix seconds.
    pub start: i64,
    pub end: Option<i64>,
    pub source: GrantSource,
    /// Why the key was given (absent on grants from before causes were kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<GrantCause>,
}

/// Why a grant exists: the rule, who applied it, when, and on what.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantCause {
    /// `access.current`, `access.unit-change`, `manager.status`…
    pub rule: String,
    /// The sync (automatic mode) or the manager who approved or gave it.
    pub by: crate::plan::Actor,
    /// When it was applied (unix seconds).
    pub at: i64,
    /// In words, with what the PMS said (its status as seen at that sync) or the
    /// suggestion approved.
    pub reason: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SuggestionKind {
    /// Green: grant a key.
    Grant,
    /// Red: revoke a key.
    Revoke,
    /// Grey: the status changed with no key effect.
    NoChange,
}

/// A proposed access change waiting for a manager.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suggestion {
    pub id: SuggestionId,
    pub account: AccountId,
    pub kind: SuggestionKind,
    pub key: Option<KeyRef>,
    /// For a revoke: the grant it takes away.
    pub grant: Option<GrantId>,
    /// For a grant: when access would start…
    pub start: Option<i64>,
    /// …and end (a notice resident's move-out), if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<i64>,
    /// The rule that proposed it and what the PMS said.
    pub rule: String,
    pub reason: String,
    pub created_at: i64,
}

/// What the access rules remember about an account between syncs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessMemo {
    /// The DOOR status the PMS gave at the last sync that saw the resident.
    pub pms_status: Option<DoorStatus>,
    /// A manager's status, standing until the PMS status changes again.
    pub override_status: Option<DoorStatus>,
    /// Consecutive complete syncs whose feed lacked all of the resident's records.
    pub missing_syncs: u32,
}

impl AccessMemo {
    /// The status access follows: the manager's while it stands, else the PMS's.
    pub fn effective(&self) -> Option<DoorStatus> {
        self.override_status.or(self.pms_status)
    }
}

/// What happened to a grant, for the lock platform.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum FeedAction {
    Granted {
        start: i64,
        end: Option<i64>,
    },
    /// A held grant's times changed (its end followed the move-out date).
    Updated {
        start: i64,
        end: Option<i64>,
    },
    Revoked {
        effective: i64,
    },
}

/// One applied grant or revoke. The store gives each a sequence number in one
/// global, ordered feed.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedEvent {
    pub grant: GrantId,
    pub account: AccountId,
    pub key: KeyRef,
    pub source: GrantSource,
    #[serde(flatten)]
    pub action: FeedAction,
    /// Why: `pms-status`, `pms-unit-change`, `manager`, `missing-from-pms`, `account-deleted`.
    pub cause: String,
    pub at: i64,
}

/// A PMS unit as Unit Sync lists it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PmsUnitRecord {
    pub key: PmsUnitKey,
    pub unit: Unit,
}

/// DOOR's state for one property.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorState {
    /// Bumped by every applied plan; a plan made against another version is refused.
    pub version: u64,
    pub next_account_id: AccountId,
    pub next_alert_id: AlertId,
    pub next_door_unit_id: DoorUnitId,
    pub accounts: BTreeMap<AccountId, Account>,
    pub links: BTreeMap<PmsKey, AccountId>,
    pub door_units: BTreeMap<DoorUnitId, DoorUnit>,
    pub mappings: BTreeMap<PmsUnitKey, DoorUnitId>,
    /// Live alerts only (open, acknowledged, dismissed); resolved ones are history.
    pub alerts: BTreeMap<AlertId, Alert>,
    /// The PMS units seen by the last sync, for the unit mapping screen.
    pub pms_units: Vec<PmsUnitRecord>,
    pub next_grant_id: GrantId,
    pub next_suggestion_id: SuggestionId,
    pub grants: BTreeMap<GrantId, Grant>,
    /// Pending suggestions only.
    pub suggestions: BTreeMap<SuggestionId, Suggestion>,
    pub memos: BTreeMap<AccountId, AccessMemo>,
}

impl DoorState {
    /// Whether a held grant's end has passed by `now`: then a sync must plan even when
    /// its input is settled, since the same input now means a revoke.
    pub fn an_end_has_passed(&self, now: i64) -> bool {
        self.grants
            .values()
            .any(|g| g.end.is_some_and(|end| end <= now))
    }

    /// The live alert with this identity, if any.
    pub fn alert_by_identity(&self, identity: &str) -> Option<&Alert> {
        self.alerts.values().find(|a| a.identity == identity)
    }

    /// The alert badge: open alerts plus pending access suggestions.
    pub fn badge(&self) -> usize {
        self.open_alerts() + self.suggestions.len()
    }

    /// Open alerts (the badge's alert part).
    pub fn open_alerts(&self) -> usize {
        self.alerts
            .values()
            .filter(|a| a.state == AlertState::Open)
            .count()
    }

    /// The accounts linked to a key's account.
    pub fn keys_of(&self, account: AccountId) -> impl Iterator<Item = &PmsKey> {
        self.links
            .iter()
            .filter(move |(_, a)| **a == account)
            .map(|(k, _)| k)
    }
}

#[cfg(test)]
mod settings_tests {
    use super::*;

    fn with(f: impl FnOnce(&mut Settings)) -> Result<(), SettingsError> {
        let mut s = Settings::default();
        f(&mut s);
        s.validate()
    }

    #[test]
    fn settings_out_of_range_are_refused_by_name() {
        assert_eq!(Settings::default().validate(), Ok(()));
        for (delay, ok) in [
            (0, true),
            (MAX_GRANT_DELAY_SECS, true),
            (-86_400, false),
            (i64::MAX, false),
        ] {
            let r = with(|s| s.access.grant_delay_secs = delay);
            assert_eq!(r.is_ok(), ok, "{delay}");
            if let Err(e) = r {
                assert_eq!(e.field, "settings.access.grant_delay_secs");
            }
        }
        assert!(
            with(|s| s.access.common_keys.push(CommonKey {
                name: " ".into(),
                shareable: false
            }))
            .is_err()
        );
        assert!(
            with(|s| s.access.common_keys.push(CommonKey {
                name: "resident entrances".into(),
                shareable: true
            }))
            .is_err()
        );
        assert!(with(|s| s.access.missing_after_syncs = 0).is_err());
        let e = with(|s| {
            s.access.enabled = true;
            s.user_sync = false;
        })
        .unwrap_err();
        assert_eq!(e.field, "settings.access.enabled");
    }

    /// Regression: `i64::MAX` wrapped `now + delay`, suggesting a grant that starts in
    /// the year −292 billion, which started at once on approval.
    #[test]
    fn a_stored_out_of_range_delay_cannot_wrap_the_clock() {
        let now = 1_800_000_000;
        let mut a = AccessSettings {
            grant_delay_secs: i64::MAX,
            ..AccessSettings::default()
        };
        assert_eq!(a.grant_start(now), now + MAX_GRANT_DELAY_SECS);
        a.grant_delay_secs = -86_400;
        assert_eq!(a.grant_start(now), now);
    }
}
