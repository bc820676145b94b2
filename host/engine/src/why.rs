//! Why a person has, or has not, access: their keys with each grant's cause, what
//! waits for a manager, and what the last sync saw of their PMS records, with the
//! same facts in sentences a property manager reads.

use serde::Serialize;

use crate::dates::format_utc;
use crate::disposition::{Disposition, RecordDisposition};
use crate::plan::Actor;
use crate::state::{
    Account, AccountId, AlertType, DoorState, Grant, KeyRef, Settings, Suggestion, SuggestionKind,
};
use epms_model::DoorStatus;

/// One account's access, explained.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessExplanation<'a> {
    pub account: &'a Account,
    /// The status access follows: a manager's while it stands, else the PMS's.
    pub effective_status: Option<DoorStatus>,
    /// The status the PMS gave at the last sync that saw the person.
    pub pms_status: Option<DoorStatus>,
    /// A manager's status, standing until the PMS status changes.
    pub override_status: Option<DoorStatus>,
    /// Complete syncs in a row whose feed lacked every record of the person.
    pub missing_syncs: u32,
    /// The keys held, each with its cause (`grant.cause`).
    pub keys: Vec<&'a Grant>,
    /// Access changes waiting for a manager.
    pub pending: Vec<&'a Suggestion>,
    /// The person's PMS records in the last sync that planned, with their dispositions.
    pub records: Vec<&'a RecordDisposition>,
    /// The above in sentences, most important first.
    pub summary: Vec<String>,
}

fn status_word(s: Option<DoorStatus>) -> &'static str {
    match s {
        Some(DoorStatus::Future) => "future",
        Some(DoorStatus::Current) => "current",
        Some(DoorStatus::Past) => "past",
        None => "unknown",
    }
}

fn key_name(state: &DoorState, key: &KeyRef) -> String {
    match key {
        KeyRef::Unit(u) => match state.door_units.get(u) {
            Some(unit) => format!("the key of unit {}", unit.name),
            None => format!("the key of DOOR unit {u}"),
        },
        KeyRef::Common(name) => format!("{name:?}"),
    }
}

fn by(actor: &Actor) -> String {
    match actor {
        Actor::Sync => "the sync".into(),
        Actor::Manager(name) => name.clone(),
    }
}

fn record_sentence(d: &RecordDisposition) -> Option<String> {
    let who = format!("PMS record {}", d.pms_key.resident);
    let raw = d.raw_statuses.join(", ");
    Some(match &d.outcome {
        Disposition::Synced {
            unmapped_pms_unit: Some(unit),
            ..
        } => format!(
            "{who}: PMS unit {unit} is mapped to no DOOR unit, so no unit key comes from it; map the unit"
        ),
        Disposition::Synced { .. } => return None,
        Disposition::Guarantor => format!("{who}: a guarantor; guarantors never sync"),
        Disposition::NoLease => format!("{who}: on no lease in the PMS"),
        Disposition::ExcludedStatus => {
            format!("{who}: its lease status ({raw}) is excluded for this property")
        }
        Disposition::StatusNeverSynced { .. } => {
            format!("{who}: its lease status ({raw}) never syncs (applicants, cancelled, denied)")
        }
        Disposition::MissingEmail => format!("{who}: has no email in the PMS"),
        Disposition::MalformedEmail { detail } => {
            format!("{who}: its email cannot be used ({detail})")
        }
        Disposition::SharesEmail { with } => format!(
            "{who}: shares its email with {} other record(s) of another name",
            with.len()
        ),
        Disposition::WaitingOnAlert { alert_type } => format!(
            "{who}: waits on a {} alert",
            alert_type.map_or("review", AlertType::as_str)
        ),
    })
}

/// Explains `account`'s access; `None` when there is no such account.
pub fn explain_access<'a>(
    state: &'a DoorState,
    settings: &Settings,
    account: AccountId,
    dispositions: &'a [RecordDisposition],
    now: i64,
) -> Option<AccessExplanation<'a>> {
    let acc = state.accounts.get(&account)?;
    let memo = state.memos.get(&account).cloned().unwrap_or_default();
    let keys: Vec<&Grant> = state
        .grants
        .values()
        .filter(|g| g.account == account)
        .collect();
    let pending: Vec<&Suggestion> = state
        .suggestions
        .values()
        .filter(|s| s.account == account)
        .collect();
    let records: Vec<&RecordDisposition> = dispositions
        .iter()
        .filter(|d| {
            state.links.get(&d.pms_key) == Some(&account)
                || matches!(d.outcome, Disposition::Synced { account: a, .. } if a == account)
        })
        .collect();
    let effective = memo.effective();

    let mut summary = Vec::new();
    let raw: Vec<&str> = records
        .iter()
        .filter(|d| matches!(d.outcome, Disposition::Synced { .. }))
        .flat_map(|d| d.raw_statuses.iter().map(String::as_str))
        .collect();
    match (memo.override_status, memo.pms_status) {
        (Some(o), pms) => summary.push(format!(
            "A manager set the status to {}; it stands until the PMS status changes (the PMS says {}).",
            status_word(Some(o)),
            status_word(pms)
        )),
        (None, Some(pms)) if !raw.is_empty() => summary.push(format!(
            "The PMS says {} (lease status {}).",
            status_word(Some(pms)),
            raw.join(", ")
        )),
        (None, pms) => summary.push(format!(
            "Status {} (from the PMS as last seen).",
            status_word(pms.or(acc.status))
        )),
    }
    if !settings.access.enabled {
        summary.push(
            "Automated Access is off for this property: keys are given and taken by hand.".into(),
        );
    }
    if memo.missing_syncs > 0 {
        summary.push(format!(
            "Missing from the PMS for {} complete sync(s) in a row: access is never revoked for that alone; a Missing From PMS alert proposes it.",
            memo.missing_syncs
        ));
    }
    if keys.is_empty() {
        let why = match effective {
            Some(DoorStatus::Current) => "none has been given yet",
            Some(DoorStatus::Future) => "a future resident gets keys when the lease starts",
            Some(DoorStatus::Past) => "a past resident holds no keys",
            None => "the person has no status from the PMS",
        };
        summary.push(format!("No keys: {why}."));
    }
    for g in &keys {
        let until = match g.end {
            Some(end) if end <= now => format!("ended {}", format_utc(end)),
            Some(end) => format!("until {}", format_utc(end)),
            None => "with no end".into(),
        };
        let cause = match &g.cause {
            Some(c) => format!("{} (by {}, {})", c.reason, by(&c.by), format_utc(c.at)),
            None => "given before causes were kept".into(),
        };
        summary.push(format!(
            "Has {} from {}, {until}: {cause}.",
            key_name(state, &g.key),
            format_utc(g.start)
        ));
    }
    if effective == Some(DoorStatus::Current) && acc.door_unit.is_none() {
        summary.push("No unit key: the person has no DOOR unit.".into());
    }
    for s in &pending {
        let what = match s.kind {
            SuggestionKind::Grant => format!(
                "give {}",
                s.key
                    .as_ref()
                    .map_or("a key".into(), |k| key_name(state, k))
            ),
            SuggestionKind::Revoke => format!(
                "take {}",
                s.key
                    .as_ref()
                    .map_or("a key".into(), |k| key_name(state, k))
            ),
            SuggestionKind::NoChange => "note a status change with no key change".into(),
        };
        summary.push(format!(
            "Waiting for a manager's approval (suggestion {}): {what}, because {}.",
            s.id, s.reason
        ));
    }
    if records.is_empty() {
        summary.push("None of the person's PMS records was in the last sync.".into());
    }
    summary.extend(records.iter().filter_map(|d| record_sentence(d)));
    Some(AccessExplanation {
        account: acc,
        effective_status: effective,
        pms_status: memo.pms_status,
        override_status: memo.override_status,
        missing_syncs: memo.missing_syncs,
        keys,
        pending,
        records,
        summary,
    })
}
