//! A plan: everything one sync (or one resolution) changes, as whole new values.
//!
//! What a plan means is written once, here: [`Plan::changes`] turns it into row-level
//! [`Change`]s (put, delete, archive, append), with nothing left for a backend to
//! infer, no cascade, no history move of its own. [`DoorState::apply`] and every store
//! backend apply that same list, the store in one write transaction.

use serde::{Deserialize, Serialize};

use crate::state::{
    AccessMemo, Account, AccountId, Alert, DoorState, DoorUnit, DoorUnitId, FeedEvent, Grant,
    GrantId, PmsKey, PmsUnitKey, PmsUnitRecord, Suggestion, SuggestionId,
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
    /// New grants, and held grants with new values (an end that followed the lease).
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

/// One row-level change of a property's state, in the order [`Plan::changes`] lists
/// them. Each backend maps each kind to its own storage, and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    PutAccount(&'a Account),
    DeleteAccount(AccountId),
    PutLink(&'a PmsKey, AccountId),
    DeleteLink(&'a PmsKey),
    /// A live alert, new or with new values.
    PutAlert(&'a Alert),
    /// An alert leaving the live set: removed from it, kept in the alert history.
    ArchiveAlert(&'a Alert),
    SetPmsUnits(&'a [PmsUnitRecord]),
    PutDoorUnit(&'a DoorUnit),
    PutMapping(&'a PmsUnitKey, DoorUnitId),
    DeleteMapping(&'a PmsUnitKey),
    PutGrant(&'a Grant),
    DeleteGrant(GrantId),
    PutSuggestion(&'a Suggestion),
    /// A pending suggestion leaving the list: removed from it, kept in the suggestion
    /// history with its outcome.
    CloseSuggestion(SuggestionId, &'a str),
    PutMemo(AccountId, &'a AccessMemo),
    DeleteMemo(AccountId),
    /// The next event of the access feed (the backend gives it the next sequence number).
    AppendFeed(&'a FeedEvent),
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
    /// A deleted account keeps nothing: its links, grants, pending suggestions and memo
    /// that `after` still holds are not written, and those `before` held are removed
    /// (the one place this cascade is written).
    fn remove_what_deleted_accounts_held(&mut self, before: &DoorState, after: &DoorState) {
        for id in self.accounts_deleted.clone() {
            for (k, _) in after.links.iter().filter(|(_, a)| **a == id) {
                self.links_added.retain(|(added, _)| added != k);
                if before.links.contains_key(k) {
                    self.links_removed.push(k.clone());
                }
            }
            for g in after.grants.values().filter(|g| g.account == id) {
                self.grants_added.retain(|added| added.id != g.id);
                if before.grants.contains_key(&g.id) {
                    self.grants_removed.push(g.id);
                }
            }
            for s in after.suggestions.values().filter(|s| s.account == id) {
                self.suggestions_added.retain(|added| added.id != s.id);
                if before.suggestions.contains_key(&s.id) {
                    self.suggestions_closed
                        .push((s.id, "account-deleted".into()));
                }
            }
            if after.memos.contains_key(&id) {
                self.memos_set.retain(|(m, _)| *m != id);
                if before.memos.contains_key(&id) {
                    self.memos_removed.push(id);
                }
            }
        }
    }

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
            .filter(|g| before.grants.get(&g.id) != Some(*g))
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
        plan.remove_what_deleted_accounts_held(before, after);
        plan.next_account_id = after.next_account_id;
        plan.next_alert_id = after.next_alert_id;
        plan.next_door_unit_id = after.next_door_unit_id;
        plan.next_grant_id = after.next_grant_id;
        plan.next_suggestion_id = after.next_suggestion_id;
        plan.audit = audit;
        plan.feed = feed;
        plan
    }

    /// The plan as row-level changes, in the order they must be applied. A plan that
    /// deletes an account lists the removal of everything that was the account's
    /// ([`Plan::diff`] sees to it), so no backend cascades.
    pub fn changes(&self) -> Vec<Change<'_>> {
        let mut out = Vec::new();
        out.extend(
            self.accounts_created
                .iter()
                .chain(&self.accounts_updated)
                .map(Change::PutAccount),
        );
        out.extend(
            self.accounts_deleted
                .iter()
                .map(|id| Change::DeleteAccount(*id)),
        );
        out.extend(self.links_removed.iter().map(Change::DeleteLink));
        out.extend(self.links_added.iter().map(|(k, a)| Change::PutLink(k, *a)));
        out.extend(
            self.alerts_opened
                .iter()
                .chain(&self.alerts_updated)
                .map(|a| {
                    if a.state.is_live() {
                        Change::PutAlert(a)
                    } else {
                        Change::ArchiveAlert(a)
                    }
                }),
        );
        out.extend(self.pms_units.as_deref().map(Change::SetPmsUnits));
        out.extend(self.door_units_created.iter().map(Change::PutDoorUnit));
        out.extend(self.mappings_removed.iter().map(Change::DeleteMapping));
        out.extend(
            self.mappings_set
                .iter()
                .map(|(k, d)| Change::PutMapping(k, *d)),
        );
        out.extend(
            self.grants_removed
                .iter()
                .map(|id| Change::DeleteGrant(*id)),
        );
        out.extend(self.grants_added.iter().map(Change::PutGrant));
        out.extend(
            self.suggestions_closed
                .iter()
                .map(|(id, outcome)| Change::CloseSuggestion(*id, outcome)),
        );
        out.extend(self.suggestions_added.iter().map(Change::PutSuggestion));
        out.extend(self.memos_removed.iter().map(|id| Change::DeleteMemo(*id)));
        out.extend(self.memos_set.iter().map(|(id, m)| Change::PutMemo(*id, m)));
        out.extend(self.feed.iter().map(Change::AppendFeed));
        out
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
        for change in plan.changes() {
            match change {
                Change::PutAccount(a) => {
                    self.accounts.insert(a.id, a.clone());
                }
                Change::DeleteAccount(id) => {
                    self.accounts.remove(&id);
                }
                Change::PutLink(k, a) => {
                    self.links.insert(k.clone(), a);
                }
                Change::DeleteLink(k) => {
                    self.links.remove(k);
                }
                Change::PutAlert(a) => {
                    self.alerts.insert(a.id, a.clone());
                }
                // The in-memory state keeps no history.
                Change::ArchiveAlert(a) => {
                    self.alerts.remove(&a.id);
                }
                Change::SetPmsUnits(units) => self.pms_units = units.to_vec(),
                Change::PutDoorUnit(u) => {
                    self.door_units.insert(u.id, u.clone());
                }
                Change::PutMapping(k, d) => {
                    self.mappings.insert(k.clone(), d);
                }
                Change::DeleteMapping(k) => {
                    self.mappings.remove(k);
                }
                Change::PutGrant(g) => {
                    self.grants.insert(g.id, g.clone());
                }
                Change::DeleteGrant(id) => {
                    self.grants.remove(&id);
                }
                Change::PutSuggestion(sg) => {
                    self.suggestions.insert(sg.id, sg.clone());
                }
                Change::CloseSuggestion(id, _) => {
                    self.suggestions.remove(&id);
                }
                Change::PutMemo(id, m) => {
                    self.memos.insert(id, m.clone());
                }
                Change::DeleteMemo(id) => {
                    self.memos.remove(&id);
                }
                // The feed lives in the store.
                Change::AppendFeed(_) => {}
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{AccountSource, GrantSource, KeyRef, SuggestionKind};

    /// A state holding account 1 with a link, a grant, a pending suggestion and a memo.
    fn state() -> DoorState {
        let mut s = DoorState::default();
        s.accounts.insert(
            1,
            Account {
                id: 1,
                first_name: "Ann".into(),
                last_name: "Lee".into(),
                email: None,
                status: None,
                door_unit: None,
                pms_unit: None,
                source: AccountSource::Pms,
            },
        );
        let key = PmsKey {
            vendor: "acme".into(),
            property: "P1".into(),
            resident: "r1".into(),
        };
        s.links.insert(key, 1);
        s.grants.insert(
            7,
            Grant {
                id: 7,
                account: 1,
                key: KeyRef::Common("Lobby".into()),
                start: 0,
                end: None,
                source: GrantSource::Manual,
                cause: None,
            },
        );
        s.suggestions.insert(
            9,
            Suggestion {
                id: 9,
                account: 1,
                kind: SuggestionKind::Revoke,
                key: None,
                grant: Some(7),
                start: None,
                end: None,
                rule: "test".into(),
                reason: "test".into(),
                created_at: 0,
            },
        );
        s.memos.insert(1, AccessMemo::default());
        s
    }

    /// The cascade is the plan's, written once: a planner that forgot the account's
    /// rows still yields a plan whose changes remove them, in every backend alike.
    #[test]
    fn a_deleted_accounts_rows_are_listed_as_changes_not_left_to_backends() {
        let before = state();
        let mut after = before.clone();
        after.accounts.remove(&1);
        let plan = Plan::diff(&before, &after, vec![], vec![], vec![]);
        let changes = plan.changes();
        for expected in [
            Change::DeleteAccount(1),
            Change::DeleteGrant(7),
            Change::CloseSuggestion(9, "account-deleted"),
            Change::DeleteMemo(1),
        ] {
            assert!(changes.contains(&expected), "{expected:?} in {changes:?}");
        }
        assert!(changes.iter().any(|c| matches!(c, Change::DeleteLink(_))));
        let mut applied = before.clone();
        applied.apply(&plan).unwrap();
        assert!(applied.accounts.is_empty() && applied.links.is_empty());
        assert!(applied.grants.is_empty() && applied.suggestions.is_empty());
        assert!(applied.memos.is_empty());
    }
}
