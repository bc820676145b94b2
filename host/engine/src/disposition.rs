//! What a sync did with each PMS resident record, and why: the answer to "why is a
//! resident from my PMS not showing in DOOR?" (docs/rules.md, "Explanations").
//!
//! [`crate::plan_sync`] writes one [`RecordDisposition`] per resident record it was
//! given, in the snapshot's order; the store keeps the last sync's list per property.

use epms_model::LeaseStatus;
use serde::{Deserialize, Serialize};

use crate::state::{AccountId, AlertId, AlertState, AlertType, DoorUnitId, PmsKey};

/// One PMS resident record as the last sync saw it, and what became of it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordDisposition {
    pub pms_key: PmsKey,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    /// The PMS unit of the record's effective lease (or of the record itself).
    pub pms_unit: Option<String>,
    /// The raw vendor status of the effective lease; for a record with no lease that
    /// syncs, the raw statuses of every lease it has.
    pub raw_statuses: Vec<String>,
    #[serde(flatten)]
    pub outcome: Disposition,
    /// The live alerts about this record after the sync.
    pub alerts: Vec<AlertRef>,
}

/// A live alert, as a disposition names it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AlertRef {
    pub id: AlertId,
    pub alert_type: AlertType,
    pub state: AlertState,
}

/// Synced to an account (and how it was linked), or not, and why.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Disposition {
    /// The record reaches DOOR account `account`: its status and unit flow there.
    Synced {
        account: AccountId,
        linked: Linked,
        /// The DOOR unit the account has after the sync.
        door_unit: Option<DoorUnitId>,
        /// Set when the record's PMS unit is mapped to no DOOR unit: the account has no
        /// unit from it (and so no unit key) until a manager maps it.
        unmapped_pms_unit: Option<String>,
    },
    /// A guarantor: guarantors never sync.
    Guarantor,
    /// The record is on no lease.
    NoLease,
    /// Every lease of the record has a raw status the property excludes.
    ExcludedStatus,
    /// Every remaining lease has a status that never syncs (applicant, cancelled,
    /// denied, other): the canonical statuses, in lease order.
    StatusNeverSynced { statuses: Vec<LeaseStatus> },
    /// No email: the Missing Email alert waits for one in the PMS.
    MissingEmail,
    /// An email that is not an address, as the PMS holds it or as the connector said
    /// (`alerts` has the Missing Email alert).
    MalformedEmail { detail: String },
    /// The email is shared with records of other names (the Duplicate Emails alert):
    /// the other records.
    SharesEmail { with: Vec<SharedWith> },
    /// Matching needs a person: the type of the alert that holds the record (its id
    /// in `alerts`; absent only if no live alert names it).
    WaitingOnAlert { alert_type: Option<AlertType> },
}

/// Another record with the same email.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SharedWith {
    pub pms_key: PmsKey,
    pub first_name: String,
    pub last_name: String,
}

/// How a synced record is linked to its account.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Linked {
    /// This sync created the account from the record.
    Created,
    /// This sync linked it to the one account with the same name and email.
    AutoLinkedExactMatch,
    /// This sync linked it to the account of another record of the same person (a
    /// transfer or renewal with a new PMS id).
    Merged,
    /// Linked before this sync (by a sync or a manager).
    AlreadyLinked,
}

impl Disposition {
    /// A stable word for the outcome, for searching and counting.
    pub fn as_str(&self) -> &'static str {
        match self {
            Disposition::Synced { .. } => "synced",
            Disposition::Guarantor => "guarantor",
            Disposition::NoLease => "no-lease",
            Disposition::ExcludedStatus => "excluded-status",
            Disposition::StatusNeverSynced { .. } => "status-never-synced",
            Disposition::MissingEmail => "missing-email",
            Disposition::MalformedEmail { .. } => "malformed-email",
            Disposition::SharesEmail { .. } => "shares-email",
            Disposition::WaitingOnAlert { .. } => "waiting-on-alert",
        }
    }
}

impl RecordDisposition {
    /// Whether `needle` (already lower case) is in the record's name, email, PMS id
    /// or PMS unit.
    pub fn matches(&self, needle: &str) -> bool {
        let hay = [
            Some(self.first_name.as_str()),
            Some(self.last_name.as_str()),
            self.email.as_deref(),
            Some(self.pms_key.resident.as_str()),
            self.pms_unit.as_deref(),
        ];
        let full = format!("{} {}", self.first_name, self.last_name).to_lowercase();
        full.contains(needle)
            || hay
                .into_iter()
                .flatten()
                .any(|h| h.to_lowercase().contains(needle))
    }
}
