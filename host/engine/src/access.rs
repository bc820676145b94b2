//! Automated Access (docs/rules.md, "Automated Access" and "Safety"): lease status → keys.
//!
//! During a sync (`Planner::plan_access`), for every PMS-linked account:
//! - **Current** (notice included): the unit key of its DOOR unit and every
//!   common-area key, starting `grant_delay_secs` after detection; an automatic grant
//!   of another unit key is revoked (a unit change). Manual grants are left alone.
//! - **Future** and **Past**: every key is revoked, manual ones included, at once.
//! - A status change with no key effect is a grey "no change" suggestion.
//! - A manager's status (`manual_status`) stands until the PMS status changes again.
//! - A resident who **disappears** from a complete feed is never revoked by the sync:
//!   after `missing_after_syncs` such syncs a Missing From PMS alert proposes it.
//! - **Mass-revocation guard**: when more than max(min, percent % of current
//!   residents) would lose access in one sync, every revoke of that sync is held as a
//!   suggestion, even in Automatic mode, and a Sync Held alert is raised.
//!
//! Approval Required turns changes into suggestions; a later sync keeps a suggestion
//! it would make again and supersedes the rest (grey ones stay until the account gets
//! a newer suggestion). Automatic applies them. Every applied grant or revoke goes to
//! the access event feed and the audit log with its cause.

use std::collections::{BTreeMap, BTreeSet};

use epms_model::DoorStatus;
use serde::Serialize;

use crate::plan::{Actor, AuditEntry, Plan};
use crate::state::{
    AccessMemo, AccessMode, AccessSettings, Account, AccountId, AlertType, DoorState, FeedAction,
    FeedEvent, Grant, GrantCause, GrantId, GrantSource, KeyRef, Suggestion, SuggestionId,
    SuggestionKind,
};
use crate::user_sync::{Discrepancy, Planner};

/// Most suggestions one approval may take.
pub const MAX_APPROVE: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error("at most {max} suggestions per approval ({given} given)")]
    TooMany { given: usize, max: usize },
    #[error("suggestion {0} does not exist or was already approved, discarded or superseded")]
    NoSuchSuggestion(SuggestionId),
    #[error("suggestion {0} appears twice in one call")]
    Repeated(SuggestionId),
    #[error("account {0} does not exist")]
    NoSuchAccount(AccountId),
}

/// One access change a rule wants.
#[derive(Debug, Clone)]
struct Change {
    account: AccountId,
    kind: SuggestionKind,
    key: Option<KeyRef>,
    grant: Option<GrantId>,
    start: Option<i64>,
    end: Option<i64>,
    rule: &'static str,
    reason: String,
}

impl Change {
    /// Taking `grant` away, by `rule`, for `reason`.
    fn revoke(grant: &Grant, rule: &'static str, reason: String) -> Change {
        Change {
            account: grant.account,
            kind: SuggestionKind::Revoke,
            key: Some(grant.key.clone()),
            grant: Some(grant.id),
            start: None,
            end: None,
            rule,
            reason,
        }
    }

    fn same_as(&self, s: &Suggestion) -> bool {
        s.account == self.account
            && s.kind == self.kind
            && s.key == self.key
            && s.grant == self.grant
            && s.end == self.end
    }
}

/// The keys a current resident of `account` should hold.
fn desired_keys(account: &Account, settings: &AccessSettings) -> BTreeSet<KeyRef> {
    let mut keys: BTreeSet<KeyRef> = settings
        .common_keys
        .iter()
        .map(|k| KeyRef::Common(k.name.clone()))
        .collect();
    if let Some(u) = account.door_unit {
        keys.insert(KeyRef::Unit(u));
    }
    keys
}

fn word(s: Option<DoorStatus>) -> &'static str {
    match s {
        Some(DoorStatus::Future) => "future",
        Some(DoorStatus::Current) => "current",
        Some(DoorStatus::Past) => "past",
        None => "none",
    }
}

/// The cause a feed event carries for a rule.
fn cause_of(rule: &str) -> &'static str {
    match rule {
        "access.unit-change" => "pms-unit-change",
        "access.missing-from-pms" => "missing-from-pms",
        "access.move-out" => "move-out-date",
        r if r.starts_with("manager") => "manager",
        _ => "pms-status",
    }
}

/// Grants and revokes, applied to a working copy, recorded for the feed and audit.
struct Applier {
    grants: BTreeMap<GrantId, Grant>,
    next_grant_id: GrantId,
    /// Ids from here on are grants this plan makes.
    first_new_grant: GrantId,
    added: Vec<Grant>,
    removed: Vec<GrantId>,
    feed: Vec<FeedEvent>,
    audit: Vec<AuditEntry>,
    actor: Actor,
    now: i64,
}

impl Applier {
    fn new(state: &DoorState, actor: Actor, now: i64) -> Self {
        Applier {
            grants: state.grants.clone(),
            next_grant_id: state.next_grant_id,
            first_new_grant: state.next_grant_id,
            added: Vec::new(),
            removed: Vec::new(),
            feed: Vec::new(),
            audit: Vec::new(),
            actor,
            now,
        }
    }

    /// Moves what was applied into `plan`.
    fn finish(self, plan: &mut Plan) {
        plan.grants_added = self.added;
        plan.grants_removed = self.removed;
        plan.feed = self.feed;
        plan.audit.extend(self.audit);
        plan.next_grant_id = self.next_grant_id;
    }

    #[allow(clippy::too_many_arguments)]
    fn grant(
        &mut self,
        account: AccountId,
        key: KeyRef,
        start: i64,
        end: Option<i64>,
        source: GrantSource,
        rule: &str,
        reason: &str,
    ) {
        let id = self.next_grant_id;
        self.next_grant_id += 1;
        let g = Grant {
            id,
            account,
            key: key.clone(),
            start,
            end,
            source,
            cause: Some(GrantCause {
                rule: rule.to_owned(),
                by: self.actor.clone(),
                at: self.now,
                reason: reason.to_owned(),
            }),
        };
        self.feed.push(FeedEvent {
            grant: id,
            account,
            key: key.clone(),
            source,
            action: FeedAction::Granted { start, end },
            cause: cause_of(rule).to_owned(),
            at: self.now,
        });
        self.audit.push(AuditEntry {
            at: self.now,
            actor: self.actor.clone(),
            action: "grant.added".into(),
            rule: rule.to_owned(),
            account: Some(account),
            pms_key: None,
            detail: format!("{key} from {start}: {reason}"),
        });
        self.grants.insert(id, g.clone());
        self.added.push(g);
    }

    /// A held grant's end follows the lease (applied in both modes: the PMS date moved,
    /// no access is given or taken now).
    fn set_end(&mut self, grant: GrantId, end: Option<i64>, rule: &str, reason: &str) {
        let Some(g) = self.grants.get_mut(&grant) else {
            return;
        };
        g.end = end;
        let g = g.clone();
        self.feed.push(FeedEvent {
            grant,
            account: g.account,
            key: g.key.clone(),
            source: g.source,
            action: FeedAction::Updated {
                start: g.start,
                end,
            },
            cause: cause_of(rule).to_owned(),
            at: self.now,
        });
        let until = end.map_or("no end".to_owned(), crate::dates::format_utc);
        self.audit.push(AuditEntry {
            at: self.now,
            actor: self.actor.clone(),
            action: "grant.end-changed".into(),
            rule: rule.into(),
            account: Some(g.account),
            pms_key: None,
            detail: format!("{} (grant {grant}) now ends: {until}; {reason}", g.key),
        });
        self.added.retain(|a| a.id != grant);
        self.added.push(g);
    }

    fn revoke(&mut self, grant: GrantId, rule: &str, reason: &str) {
        let Some(g) = self.grants.remove(&grant) else {
            return;
        };
        self.feed.push(FeedEvent {
            grant,
            account: g.account,
            key: g.key.clone(),
            source: g.source,
            action: FeedAction::Revoked {
                effective: self.now,
            },
            cause: cause_of(rule).to_owned(),
            at: self.now,
        });
        self.audit.push(AuditEntry {
            at: self.now,
            actor: self.actor.clone(),
            action: "grant.revoked".into(),
            rule: rule.to_owned(),
            account: Some(g.account),
            pms_key: None,
            detail: format!("{} (grant {grant}, {:?}): {reason}", g.key, g.source),
        });
        // A grant this plan made is simply not made; one held before (perhaps with an
        // end this plan moved) is removed.
        self.added.retain(|a| a.id != grant);
        if grant < self.first_new_grant {
            self.removed.push(grant);
        }
    }
}

impl Planner<'_> {
    /// The access part of a sync; see the module documentation.
    pub(crate) fn plan_access(&mut self) {
        let settings = &self.settings.access;
        if !settings.enabled || !self.settings.user_sync {
            return;
        }
        let state = self.state;
        let now = self.now;
        let mut grants_of: BTreeMap<AccountId, Vec<&Grant>> = BTreeMap::new();
        for g in state.grants.values() {
            grants_of.entry(g.account).or_default().push(g);
        }
        let current_before = state
            .memos
            .values()
            .filter(|m| m.effective() == Some(DoorStatus::Current))
            .count();
        let accounts: BTreeSet<AccountId> = self
            .seen
            .keys()
            .chain(state.memos.keys())
            .copied()
            .collect();
        let mut changes: Vec<Change> = Vec::new();
        // Held grants whose end moves: (grant, new end, the PMS status said).
        let mut applier_ends: Vec<(GrantId, Option<i64>, &str)> = Vec::new();
        let mut missing: Vec<AccountId> = Vec::new();
        let mut evaluated: BTreeSet<AccountId> = BTreeSet::new();
        for account in accounts {
            let Some(acc) = self.planned(account).cloned() else {
                continue;
            };
            let old = state.memos.get(&account).cloned().unwrap_or_default();
            let mut memo = old.clone();
            let held = grants_of.get(&account).cloned().unwrap_or_default();
            let observed = self.seen.get(&account).cloned();
            // In the feed but no longer synced (an excluded or never-synced status):
            // access follows the last status known, so a discarded revoke comes back.
            let known =
                observed.is_none() && self.present.contains(&account) && old.effective().is_some();
            if observed.is_some() || known {
                let raw = match &observed {
                    Some(seen) => {
                        if old.pms_status != Some(seen.status) {
                            memo.override_status = None;
                        }
                        memo.pms_status = Some(seen.status);
                        seen.raw_status
                    }
                    None => "last known; the PMS record is no longer synced",
                };
                // Where the keys end: the lease's move-out while the PMS status is the
                // one access follows; none under a manager's status; unchanged when the
                // record is no longer synced.
                let end: Option<Option<i64>> = observed
                    .as_ref()
                    .map(|seen| seen.end.filter(|_| memo.override_status.is_none()));
                memo.missing_syncs = 0;
                evaluated.insert(account);
                let effective = memo.effective();
                let before = changes.len();
                match effective {
                    Some(DoorStatus::Current) => {
                        let desired = desired_keys(&acc, settings);
                        // An automatic unit key no longer theirs: the resident moved, and
                        // the new unit's key is granted for that cause, as the old one's
                        // revoke is.
                        let moved = held.iter().any(|g| {
                            g.source == GrantSource::Automatic
                                && matches!(g.key, KeyRef::Unit(_))
                                && !desired.contains(&g.key)
                        });
                        let ends_by_now = end.flatten().is_some_and(|e| e <= now);
                        // A record no longer synced grants nothing: its last status only
                        // keeps or revokes what is held (re-granting a key whose end
                        // passed would be silent access).
                        let may_grant = observed.is_some() && !ends_by_now;
                        for key in &desired {
                            if may_grant && !held.iter().any(|g| &g.key == key) {
                                let unit_change = moved && matches!(key, KeyRef::Unit(_));
                                changes.push(Change {
                                    account,
                                    kind: SuggestionKind::Grant,
                                    key: Some(key.clone()),
                                    grant: None,
                                    start: Some(settings.grant_start(now)),
                                    end: end.flatten(),
                                    rule: if unit_change {
                                        "access.unit-change"
                                    } else {
                                        "access.current"
                                    },
                                    reason: if unit_change {
                                        format!("the resident's unit changed; {key} is theirs now")
                                    } else {
                                        format!("lease current in the PMS ({raw:?})")
                                    },
                                });
                            }
                        }
                        let unit_revokes: BTreeSet<GrantId> = held
                            .iter()
                            .filter(|g| {
                                g.source == GrantSource::Automatic && !desired.contains(&g.key)
                            })
                            .map(|g| g.id)
                            .collect();
                        // The keys kept follow the move-out date; once it has passed,
                        // they are revoked like any other.
                        for g in held.iter().filter(|g| !unit_revokes.contains(&g.id)) {
                            let target = end.unwrap_or(g.end);
                            if target != g.end {
                                applier_ends.push((g.id, target, raw));
                            }
                            if let Some(t) = target.filter(|t| *t <= now) {
                                changes.push(Change::revoke(
                                    g,
                                    "access.move-out",
                                    format!(
                                        "on notice ({raw:?}): access ended at {}, after the move-out date",
                                        crate::dates::format_utc(t)
                                    ),
                                ));
                            }
                        }
                        for g in held.iter().filter(|g| unit_revokes.contains(&g.id)) {
                            changes.push(Change::revoke(
                                g,
                                "access.unit-change",
                                format!("the resident's unit changed; {} no longer theirs", g.key),
                            ));
                        }
                    }
                    _ => {
                        let rule = if effective == Some(DoorStatus::Past) {
                            "access.past"
                        } else {
                            "access.future"
                        };
                        for g in &held {
                            changes.push(Change::revoke(
                                g,
                                rule,
                                format!("lease {} in the PMS ({raw:?})", word(effective)),
                            ));
                        }
                    }
                }
                if changes.len() == before
                    && old.effective() != effective
                    && old.effective().is_some()
                {
                    changes.push(Change {
                        account,
                        kind: SuggestionKind::NoChange,
                        key: None,
                        grant: None,
                        start: None,
                        end: None,
                        rule: "access.status-change",
                        reason: format!(
                            "status {} → {} ({raw:?}): no key changes",
                            word(old.effective()),
                            word(effective)
                        ),
                    });
                }
            } else if !self.present.contains(&account) && old.pms_status.is_some() {
                // Gone from a complete feed: counted, never revoked by the sync itself.
                memo.missing_syncs = (old.missing_syncs + 1).min(settings.missing_after_syncs);
                if memo.missing_syncs >= settings.missing_after_syncs && !held.is_empty() {
                    missing.push(account);
                }
            }
            if !evaluated.contains(&account) {
                // Not weighed this sync (gone from the feed, or no status known): a key
                // whose end has passed is still revoked, so an ended key never stays
                // held unnoticed (a discarded revoke comes back).
                for (g, ended) in held
                    .iter()
                    .filter_map(|g| g.end.filter(|e| *e <= now).map(|e| (g, e)))
                {
                    changes.push(Change::revoke(
                        g,
                        "access.move-out",
                        format!(
                            "access ended at {}, after the move-out date",
                            crate::dates::format_utc(ended)
                        ),
                    ));
                }
            }
            if memo != old {
                self.plan.memos_set.push((account, memo));
            }
        }
        for account in missing {
            self.discrepancies.push(Discrepancy::about(
                AlertType::MissingFromPms,
                Vec::new(),
                vec![account],
            ));
        }

        // The mass-revocation guard.
        let losing: BTreeSet<AccountId> = changes
            .iter()
            .filter(|c| c.kind == SuggestionKind::Revoke)
            .map(|c| c.account)
            .collect();
        let threshold = settings
            .guard_min_residents
            .max((current_before * settings.guard_percent as usize).div_ceil(100));
        let hold = losing.len() > threshold;
        if hold {
            self.discrepancies.push(Discrepancy::sync_held(
                losing.iter().copied().collect(),
                format!(
                    "{} residents would lose access in one sync (limit {threshold} of {current_before} current residents); their revokes wait for approval",
                    losing.len()
                ),
            ));
        }

        let automatic = settings.mode == AccessMode::Automatic;
        let mut applier = Applier::new(state, Actor::Sync, now);
        for (grant, end, raw) in applier_ends {
            let why = match end {
                Some(_) => format!("on notice in the PMS ({raw:?}): the move-out date sets it"),
                None => format!("no longer on notice in the PMS ({raw:?})"),
            };
            applier.set_end(grant, end, "access.move-out", &why);
        }
        let mut wanted: Vec<Change> = Vec::new();
        for c in changes {
            let applies = automatic && !(hold && c.kind == SuggestionKind::Revoke);
            match (applies, c.kind) {
                (true, SuggestionKind::Grant) => {
                    let key = c.key.clone().unwrap_or(KeyRef::Common(String::new()));
                    applier.grant(
                        c.account,
                        key,
                        c.start.unwrap_or(now),
                        c.end,
                        GrantSource::Automatic,
                        c.rule,
                        &c.reason,
                    );
                }
                (true, SuggestionKind::Revoke) => {
                    if let Some(g) = c.grant {
                        applier.revoke(g, c.rule, &c.reason);
                    }
                }
                (true, SuggestionKind::NoChange) => {
                    applier.audit.push(AuditEntry {
                        at: now,
                        actor: Actor::Sync,
                        action: "access.no-change".into(),
                        rule: c.rule.into(),
                        account: Some(c.account),
                        pms_key: None,
                        detail: c.reason,
                    });
                }
                (false, _) => wanted.push(c),
            }
        }
        applier.finish(&mut self.plan);

        // Suggestions: keep what this sync would suggest again, supersede the rest.
        let mut kept: BTreeSet<SuggestionId> = BTreeSet::new();
        let mut fresh: Vec<Change> = Vec::new();
        // Pending suggestions by account, in id order: matching each wanted change
        // against every pending suggestion was quadratic (seconds on a 5,000-unit
        // property with its first suggestions still pending).
        let mut pending_of: BTreeMap<AccountId, Vec<&Suggestion>> = BTreeMap::new();
        for s in state.suggestions.values() {
            pending_of.entry(s.account).or_default().push(s);
        }
        for c in wanted {
            match pending_of
                .get(&c.account)
                .into_iter()
                .flatten()
                .find(|s| !kept.contains(&s.id) && c.same_as(s))
            {
                Some(s) => {
                    kept.insert(s.id);
                }
                None => fresh.push(c),
            }
        }
        // Only accounts this sync evaluated: the others' suggestions stand, unless
        // the grant they are about was revoked by this sync.
        let touched: BTreeSet<AccountId> = fresh.iter().map(|c| c.account).collect();
        let revoked: BTreeSet<GrantId> = self.plan.grants_removed.iter().copied().collect();
        for s in state.suggestions.values() {
            let stale = !kept.contains(&s.id)
                && ((evaluated.contains(&s.account)
                    && (s.kind != SuggestionKind::NoChange || touched.contains(&s.account)))
                    || s.grant.is_some_and(|g| revoked.contains(&g)));
            if stale {
                self.plan
                    .suggestions_closed
                    .push((s.id, "superseded by a later sync".into()));
                self.plan.audit.push(AuditEntry {
                    at: now,
                    actor: Actor::Sync,
                    action: "suggestion.superseded".into(),
                    rule: s.rule.clone(),
                    account: Some(s.account),
                    pms_key: None,
                    detail: format!(
                        "suggestion {} superseded by a later sync: {}",
                        s.id, s.reason
                    ),
                });
            }
        }
        // Every automated decision is audited, the suggestions a sync makes included
        // (applied or not): why a revoke waits is then in the trail, not only in an alert.
        for c in fresh {
            let id = self.plan.next_suggestion_id;
            self.plan.next_suggestion_id += 1;
            let why = if automatic && hold && c.kind == SuggestionKind::Revoke {
                " (held by the mass-revocation guard)"
            } else {
                ""
            };
            self.plan.audit.push(AuditEntry {
                at: now,
                actor: Actor::Sync,
                action: "suggestion.created".into(),
                rule: c.rule.into(),
                account: Some(c.account),
                pms_key: None,
                detail: format!("suggestion {id}: {}{why}", c.reason),
            });
            self.plan.suggestions_added.push(Suggestion {
                id,
                account: c.account,
                kind: c.kind,
                key: c.key,
                grant: c.grant,
                start: c.start,
                end: c.end,
                rule: c.rule.to_owned(),
                reason: c.reason,
                created_at: now,
            });
        }
    }
}

/// Approves up to [`MAX_APPROVE`] suggestions: grants start at their suggested time or
/// now, whichever is later; revokes take effect now.
pub fn approve(
    state: &DoorState,
    ids: &[SuggestionId],
    actor: &Actor,
    now: i64,
) -> Result<Plan, AccessError> {
    if ids.len() > MAX_APPROVE {
        return Err(AccessError::TooMany {
            given: ids.len(),
            max: MAX_APPROVE,
        });
    }
    let mut seen = BTreeSet::new();
    for id in ids {
        if !seen.insert(*id) {
            return Err(AccessError::Repeated(*id));
        }
        if !state.suggestions.contains_key(id) {
            return Err(AccessError::NoSuchSuggestion(*id));
        }
    }
    let mut plan = Plan::empty(state);
    let who = match actor {
        Actor::Manager(n) => n.clone(),
        Actor::Sync => "sync".into(),
    };
    let mut applier = Applier::new(state, actor.clone(), now);
    for id in ids {
        let s = &state.suggestions[id];
        let reason = format!("{} (suggestion {id} approved by {who})", s.reason);
        match s.kind {
            SuggestionKind::Grant => {
                // A grant whose end passed while it waited gives nothing.
                let expired = s.end.is_some_and(|end| end <= now);
                if let Some(key) = s.key.clone()
                    && !expired
                    && !applier
                        .grants
                        .values()
                        .any(|g| g.account == s.account && g.key == key)
                {
                    let start = s.start.unwrap_or(now).max(now);
                    applier.grant(
                        s.account,
                        key,
                        start,
                        s.end,
                        GrantSource::Automatic,
                        &s.rule,
                        &reason,
                    );
                }
            }
            SuggestionKind::Revoke => {
                if let Some(g) = s.grant {
                    applier.revoke(g, &s.rule, &reason);
                }
            }
            SuggestionKind::NoChange => {}
        }
        applier.audit.push(AuditEntry {
            at: now,
            actor: actor.clone(),
            action: "suggestion.approved".into(),
            rule: "manager.approve".into(),
            account: Some(s.account),
            pms_key: None,
            detail: format!(
                "suggestion {id} ({:?} {:?}) approved by {who}",
                s.kind, s.key
            ),
        });
        plan.suggestions_closed
            .push((*id, format!("approved by {who}")));
    }
    applier.finish(&mut plan);
    Ok(plan)
}

/// Discards one suggestion.
pub fn discard(
    state: &DoorState,
    id: SuggestionId,
    actor: &Actor,
    now: i64,
) -> Result<Plan, AccessError> {
    let s = state
        .suggestions
        .get(&id)
        .ok_or(AccessError::NoSuchSuggestion(id))?;
    let mut plan = Plan::empty(state);
    plan.suggestions_closed.push((id, "discarded".into()));
    plan.audit.push(AuditEntry {
        at: now,
        actor: actor.clone(),
        action: "suggestion.discarded".into(),
        rule: "manager.discard".into(),
        account: Some(s.account),
        pms_key: None,
        detail: format!("suggestion {id} ({:?} {:?}) discarded", s.kind, s.key),
    });
    Ok(plan)
}

/// A manager changes a resident's status, applied at once whatever the PMS says:
/// to Current grants the unit key of their unit and every common-area key now; to
/// Future or Past revokes every key, manual and automatic. The status stands until
/// the PMS status itself changes.
pub fn manual_status(
    state: &DoorState,
    settings: &AccessSettings,
    account: AccountId,
    status: DoorStatus,
    actor: &Actor,
    now: i64,
) -> Result<Plan, AccessError> {
    let acc = state
        .accounts
        .get(&account)
        .ok_or(AccessError::NoSuchAccount(account))?;
    let mut plan = Plan::empty(state);
    let mut applier = Applier::new(state, actor.clone(), now);
    let held: Vec<Grant> = state
        .grants
        .values()
        .filter(|g| g.account == account)
        .cloned()
        .collect();
    let reason = format!("status set to {} by a manager", word(Some(status)));
    match status {
        DoorStatus::Current => {
            // The manager's status stands over the lease's move-out date: the keys
            // held end no more (ends follow the PMS only without an override).
            for g in held.iter().filter(|g| g.end.is_some()) {
                applier.set_end(g.id, None, "manager.status", &reason);
            }
            for key in desired_keys(acc, settings) {
                if !held.iter().any(|g| g.key == key) {
                    applier.grant(
                        account,
                        key,
                        now,
                        None,
                        GrantSource::Manual,
                        "manager.status",
                        &reason,
                    );
                }
            }
        }
        DoorStatus::Future | DoorStatus::Past => {
            for g in &held {
                applier.revoke(g.id, "manager.status", &reason);
            }
        }
    }
    applier.finish(&mut plan);
    let mut memo: AccessMemo = state.memos.get(&account).cloned().unwrap_or_default();
    memo.override_status = Some(status);
    if memo.pms_status.is_none() {
        memo.pms_status = acc.status;
    }
    plan.memos_set.push((account, memo));
    let mut updated = acc.clone();
    updated.status = Some(status);
    if &updated != acc {
        plan.accounts_updated.push(updated);
    }
    // Pending suggestions for this account no longer describe it.
    for s in state.suggestions.values().filter(|s| s.account == account) {
        plan.suggestions_closed
            .push((s.id, "superseded by a manager's status change".into()));
        plan.audit.push(AuditEntry {
            at: now,
            actor: actor.clone(),
            action: "suggestion.superseded".into(),
            rule: "manager.status".into(),
            account: Some(account),
            pms_key: None,
            detail: format!(
                "suggestion {} superseded by a manager's status change: {}",
                s.id, s.reason
            ),
        });
    }
    Ok(plan)
}

/// The grants the feed implies, replayed from its start (account, key, end): for
/// checking that the feed and the state agree.
pub fn replay(feed: &[FeedEvent]) -> BTreeMap<GrantId, (AccountId, KeyRef, Option<i64>)> {
    let mut grants = BTreeMap::new();
    for e in feed {
        match e.action {
            FeedAction::Granted { end, .. } | FeedAction::Updated { end, .. } => {
                grants.insert(e.grant, (e.account, e.key.clone(), end));
            }
            FeedAction::Revoked { .. } => {
                grants.remove(&e.grant);
            }
        }
    }
    grants
}

/// A summary of access for an account, for views: borrowed from the state, so a
/// page of people is serialised without copying anyone's grants.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessView<'a> {
    pub account: AccountId,
    pub effective_status: Option<DoorStatus>,
    pub grants: Vec<&'a Grant>,
    pub pending: Vec<&'a Suggestion>,
}

/// [`access_view`] of each of `accounts`, in one pass over grants and suggestions (a
/// people page would otherwise scan them once per account).
pub fn access_views(
    state: &DoorState,
    accounts: impl IntoIterator<Item = AccountId>,
) -> BTreeMap<AccountId, AccessView<'_>> {
    let mut views: BTreeMap<AccountId, AccessView> = accounts
        .into_iter()
        .map(|account| {
            let view = AccessView {
                account,
                effective_status: state.memos.get(&account).and_then(AccessMemo::effective),
                grants: Vec::new(),
                pending: Vec::new(),
            };
            (account, view)
        })
        .collect();
    for g in state.grants.values() {
        if let Some(v) = views.get_mut(&g.account) {
            v.grants.push(g);
        }
    }
    for s in state.suggestions.values() {
        if let Some(v) = views.get_mut(&s.account) {
            v.pending.push(s);
        }
    }
    views
}

pub fn access_view(state: &DoorState, account: AccountId) -> AccessView<'_> {
    AccessView {
        account,
        effective_status: state.memos.get(&account).and_then(AccessMemo::effective),
        grants: state
            .grants
            .values()
            .filter(|g| g.account == account)
            .collect(),
        pending: state
            .suggestions
            .values()
            .filter(|s| s.account == account)
            .collect(),
    }
}
