//! A plan: everything one sync (or one resolution) changes, as whole new values.
//! The store applies it in one write transaction; [`DoorState::apply`] is its
//! in-memory meaning.

use serde::{Deserialize, Serialize};

use crate::state::{
    AccessMemo, Account, AccountId, Alert, AlertState, DoorState, DoorUnit, DoorUnitId, FeedEvent,
    Grant, GrantId, PmsKey, PmsUnitKey, PmsUnitRecord, Suggestion, SuggestionId,
};

/// Who or what acted.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "kebab-case")]
pub enum Actor {
    /// A sync, by its rules.
    Sync,
    /// A person (a property manager or an admin), by token name.
    Manager(String),
}

/// One line of the audit log: what happened, why, and on what the PMS said.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: i64,
    pub actor: Actor,
    /// What happened, e.g. `account.created`, `link.added`, `alert.opened`.
    pub action: String,
    /// The rule that fired, e.g. `user-sync.unlinked.create`.
    pub rule: String,
    pub account: Option<AccountId>,
    pub pms_key: Option<PmsKey>,
    /// Human-readable details, including the PMS values acted on.
    pub detail: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The state version this plan was made against.
    pub base_version: u64,
    pub accounts_created: Vec<Account>,
    /// New values of existing accounts.
    pub accounts_updated: Vec<Account>,
    pub accounts_deleted: Vec<AccountId>,
    /// Inserted or re-pointed.
    pub links_added: Vec<(PmsKey, AccountId)>,
    pub links_removed: Vec<PmsKey>,
    pub alerts_opened: Vec<Alert>,
    /// New values of existing alerts (a `Resolved` one leaves the live set).
    pub alerts_updated: Vec<Alert>,
    /// The PMS unit listing, when it changed.
    pub pms_units: Option<Vec<PmsUnitRecord>>,
    pub door_units_created: Vec<DoorUnit>,
    /// Set or re-pointed.
    pub mappings_set: Vec<(PmsUnitKey, DoorUnitId)>,
    pub mappings_removed: Vec<PmsUnitKey>,
    pub grants_added: Vec<Grant>,
    pub grants_removed: Vec<GrantId>,
    pub suggestions_added: Vec<Suggestion>,
    /// Pending suggestions leaving the list, with why: approved, discarded, superseded…
    pub suggestions_closed: Vec<(SuggestionId, String)>,
    pub memos_set: Vec<(AccountId, AccessMemo)>,
    pub memos_removed: Vec<AccountId>,
    /// Every grant added or removed, for the access event feed, in order.
    pub feed: Vec<FeedEvent>,
    pub audit: Vec<AuditEntry>,
    pub next_account_id: u64,
    pub next_alert_id: u64,
    pub next_door_unit_id: u64,
    pub next_grant_id: u64,
    pub next_suggestion_id: u64,
}

/// Why a plan cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "the plan was made against state version {plan}, but the state is at {state}: plan again"
    )]
    Stale { plan: u64, state: u64 },
}

impl Plan {
    /// A plan with nothing in it, against `state`.
    pub fn empty(state: &DoorState) -> Plan {
        Plan {
            base_version: state.version,
            next_account_id: state.next_account_id,
            next_alert_id: state.next_alert_id,
            next_door_unit_id: state.next_door_unit_id,
            next_grant_id: state.next_grant_id,
            next_suggestion_id: state.next_suggestion_id,
            ..Plan::default()
        }
    }

    /// The plan that turns `before` into `after` (both live states; `resolved` are
    /// the alerts that left the live set on the way, with their final values).
    pub fn diff(
        before: &DoorState,
        after: &DoorState,
        resolved: Vec<Alert>,
        audit: Vec<AuditEntry>,
        feed: Vec<FeedEvent>,
    ) -> Plan {
        let mut plan = Plan::empty(before);
        for (id, a) in &after.accounts {
            match before.accounts.get(id) {
                None => plan.accounts_created.push(a.clone()),
                Some(old) if old != a => plan.accounts_updated.push(a.clone()),
                Some(_) => {}
            }
        }
        plan.accounts_deleted = before
            .accounts
            .keys()
            .filter(|id| !after.accounts.contains_key(id))
            .copied()
            .collect();
        for (k, a) in &after.links {
            if before.links.get(k) != Some(a) {
                plan.links_added.push((k.clone(), *a));
            }
        }
        plan.links_removed = before
            .links
            .keys()
            .filter(|k| !after.links.contains_key(*k))
            .cloned()
            .collect();
        for (id, a) in &after.alerts {
            match before.alerts.get(id) {
                None => plan.alerts_opened.push(a.clone()),
                Some(old) if old != a => plan.alerts_updated.push(a.clone()),
                Some(_) => {}
            }
        }
        plan.alerts_updated.extend(
            resolved
                .into_iter()
                .filter(|a| before.alerts.contains_key(&a.id)),
        );
        if after.pms_units != before.pms_units {
            plan.pms_units = Some(after.pms_units.clone());
        }
        for (id, u) in &after.door_units {
            if !before.door_units.contains_key(id) {
                plan.door_units_created.push(u.clone());
            }
        }
        for (k, d) in &after.mappings {
            if before.mappings.get(k) != Some(d) {
                plan.mappings_set.push((k.clone(), *d));
            }
        }
        plan.mappings_removed = before
            .mappings
            .keys()
            .filter(|k| !after.mappings.contains_key(*k))
            .cloned()
            .collect();
        plan.grants_added = after
            .grants
            .values()
            .filter(|g| !before.grants.contains_key(&g.id))
            .cloned()
            .collect();
        plan.grants_removed = before
            .grants
            .keys()
            .filter(|id| !after.grants.contains_key(id))
            .copied()
            .collect();
        plan.suggestions_added = after
            .suggestions
            .values()
            .filter(|s| !before.suggestions.contains_key(&s.id))
            .cloned()
            .collect();
        plan.suggestions_closed = before
            .suggestions
            .keys()
            .filter(|id| !after.suggestions.contains_key(id))
            .map(|id| (*id, "withdrawn".to_owned()))
            .collect();
        for (id, m) in &after.memos {
            if before.memos.get(id) != Some(m) {
                plan.memos_set.push((*id, m.clone()));
            }
        }
        plan.memos_removed = before
            .memos
            .keys()
            .filter(|id| !after.memos.contains_key(id))
            .copied()
            .collect();
        plan.next_account_id = after.next_account_id;
        plan.next_alert_id = after.next_alert_id;
        plan.next_door_unit_id = after.next_door_unit_id;
        plan.next_grant_id = after.next_grant_id;
        plan.next_suggestion_id = after.next_suggestion_id;
        plan.audit = audit;
        plan.feed = feed;
        plan
    }

    /// Whether applying the plan would change nothing.
    pub fn is_empty(&self) -> bool {
        self.accounts_created.is_empty()
            && self.accounts_updated.is_empty()
            && self.accounts_deleted.is_empty()
            && self.links_added.is_empty()
            && self.links_removed.is_empty()
            && self.alerts_opened.is_empty()
            && self.alerts_updated.is_empty()
            && self.pms_units.is_none()
            && self.door_units_created.is_empty()
            && self.mappings_set.is_empty()
            && self.mappings_removed.is_empty()
            && self.grants_added.is_empty()
            && self.grants_removed.is_empty()
            && self.suggestions_added.is_empty()
            && self.suggestions_closed.is_empty()
            && self.memos_set.is_empty()
            && self.memos_removed.is_empty()
    }
}

impl DoorState {
    /// Applies a plan: the reference semantics the store's transaction follows.
    pub fn apply(&mut self, plan: &Plan) -> Result<(), ApplyError> {
        if plan.base_version != self.version {
            return Err(ApplyError::Stale {
                plan: plan.base_version,
                state: self.version,
            });
        }
        for a in plan.accounts_created.iter().chain(&plan.accounts_updated) {
            self.accounts.insert(a.id, a.clone());
        }
        for id in &plan.accounts_deleted {
            self.accounts.remove(id);
            self.links.retain(|_, a| a != id);
            self.grants.retain(|_, g| g.account != *id);
            self.suggestions.retain(|_, s| s.account != *id);
            self.memos.remove(id);
        }
        for key in &plan.links_removed {
            self.links.remove(key);
        }
        for (key, account) in &plan.links_added {
            self.links.insert(key.clone(), *account);
        }
        for alert in plan.alerts_opened.iter().chain(&plan.alerts_updated) {
            if alert.state == AlertState::Resolved {
                self.alerts.remove(&alert.id);
            } else {
                self.alerts.insert(alert.id, alert.clone());
            }
        }
        if let Some(units) = &plan.pms_units {
            self.pms_units = units.clone();
        }
        for u in &plan.door_units_created {
            self.door_units.insert(u.id, u.clone());
        }
        for k in &plan.mappings_removed {
            self.mappings.remove(k);
        }
        for (k, d) in &plan.mappings_set {
            self.mappings.insert(k.clone(), *d);
        }
        for id in &plan.grants_removed {
            self.grants.remove(id);
        }
        for g in &plan.grants_added {
            self.grants.insert(g.id, g.clone());
        }
        for (id, _) in &plan.suggestions_closed {
            self.suggestions.remove(id);
        }
        for s in &plan.suggestions_added {
            self.suggestions.insert(s.id, s.clone());
        }
        for id in &plan.memos_removed {
            self.memos.remove(id);
        }
        for (id, m) in &plan.memos_set {
            self.memos.insert(*id, m.clone());
        }
        self.next_account_id = plan.next_account_id;
        self.next_alert_id = plan.next_alert_id;
        self.next_door_unit_id = plan.next_door_unit_id;
        self.next_grant_id = plan.next_grant_id;
        self.next_suggestion_id = plan.next_suggestion_id;
        if !plan.is_empty() {
            self.version += 1;
        }
        Ok(())
    }
}
