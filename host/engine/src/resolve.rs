//! Resolving alerts (docs/rules.md, User Sync step 4), and deleting an account later.
//!
//! Each resolution is worked on a copy of the state and returned as the plan from
//! the old state to the new one ([`Plan::diff`]), so a bulk resolution means
//! exactly "these resolutions one after another", all or nothing.

use serde::{Deserialize, Serialize};

use crate::normalize;
use crate::plan::{Actor, AuditEntry, Plan};
use crate::state::{
    Account, AccountId, AccountSource, Alert, AlertId, AlertState, AlertType, DoorState,
    FeedAction, FeedEvent,
};
use crate::user_sync::{assign_unit, fingerprint};

/// Most alerts one bulk call may resolve.
pub const MAX_BULK: usize = 50;

/// What a person decided about an alert.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Resolution {
    /// Duplicate Account, Name Mismatch: link the PMS resident to `account` (one of
    /// the alert's accounts); with `use_pms_name` the account takes the PMS name.
    Merge {
        account: AccountId,
        use_pms_name: bool,
    },
    /// Email Mismatch: a new account with the PMS email, linked; the old account is
    /// deleted now if `delete_old`, or later with [`delete_account`].
    CreateSeparate { delete_old: bool },
    /// Name/Email Mismatch: DOOR is right; the alert waits for the PMS to be fixed.
    KeepDoorValue,
    /// Close the alert; it returns only if its data changes.
    Dismiss,
    /// Missing From PMS: revoke every key of the account, as the alert proposes.
    RevokeAccess,
}

impl Resolution {
    fn name(&self) -> &'static str {
        match self {
            Resolution::Merge { .. } => "merge",
            Resolution::CreateSeparate { .. } => "create-separate",
            Resolution::KeepDoorValue => "keep-door-value",
            Resolution::Dismiss => "dismiss",
            Resolution::RevokeAccess => "revoke-access",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("alert {0} does not exist or is already resolved")]
    NoSuchAlert(AlertId),
    #[error("{resolution} does not resolve a {alert_type} alert")]
    NotApplicable {
        resolution: &'static str,
        alert_type: &'static str,
    },
    #[error("account {account} is not one of the accounts of alert {alert}")]
    AccountNotListed { alert: AlertId, account: AccountId },
    #[error("account {0} does not exist")]
    NoSuchAccount(AccountId),
    #[error("the PMS email {email:?} already belongs to account {account}")]
    EmailTaken { email: String, account: AccountId },
    #[error("the PMS resident has no usable email to create an account with")]
    NoEmail,
    #[error("at most {max} alerts per call ({given} given)")]
    TooMany { given: usize, max: usize },
    #[error("alert {0} appears twice in one call")]
    Repeated(AlertId),
}

struct Work {
    state: DoorState,
    resolved: Vec<Alert>,
    audit: Vec<AuditEntry>,
    feed: Vec<FeedEvent>,
    actor: Actor,
    now: i64,
}

impl Work {
    fn log(&mut self, action: &str, rule: &str, account: Option<AccountId>, detail: String) {
        self.audit.push(AuditEntry {
            at: self.now,
            actor: self.actor.clone(),
            action: action.to_owned(),
            rule: rule.to_owned(),
            account,
            pms_key: None,
            detail,
        });
    }

    fn close(&mut self, mut alert: Alert, state: AlertState, how: String) {
        alert.state = state;
        alert.resolution = Some(how.clone());
        alert.updated_at = self.now;
        self.log(
            match state {
                AlertState::Resolved => "alert.resolved",
                AlertState::Dismissed => "alert.dismissed",
                _ => "alert.acknowledged",
            },
            "alerts.manager-resolution",
            alert.accounts.first().copied(),
            format!("alert {} ({}): {how}", alert.id, alert.alert_type.as_str()),
        );
        if state == AlertState::Resolved {
            self.state.alerts.remove(&alert.id);
            self.resolved.push(alert);
        } else {
            self.state.alerts.insert(alert.id, alert);
        }
    }

    /// Revokes every key of an account, now.
    fn revoke_all(&mut self, account: AccountId, cause: &str, rule: &str) {
        let grants: Vec<_> = self
            .state
            .grants
            .values()
            .filter(|g| g.account == account)
            .cloned()
            .collect();
        for g in grants {
            self.state.grants.remove(&g.id);
            self.feed.push(FeedEvent {
                grant: g.id,
                account,
                key: g.key.clone(),
                source: g.source,
                action: FeedAction::Revoked {
                    effective: self.now,
                },
                cause: cause.to_owned(),
                at: self.now,
            });
            self.log(
                "grant.revoked",
                rule,
                Some(account),
                format!("{} (grant {}) revoked", g.key, g.id),
            );
        }
        self.state.suggestions.retain(|_, s| s.account != account);
    }

    fn delete(&mut self, account: AccountId, why: &str) -> Result<(), ResolveError> {
        if !self.state.accounts.contains_key(&account) {
            return Err(ResolveError::NoSuchAccount(account));
        }
        // A deleted account keeps no access.
        self.revoke_all(account, "account-deleted", why);
        self.state.accounts.remove(&account);
        self.state.memos.remove(&account);
        self.state.links.retain(|_, a| *a != account);
        self.log(
            "account.deleted",
            why,
            Some(account),
            format!("account {account} deleted"),
        );
        Ok(())
    }

    fn resolve(&mut self, id: AlertId, resolution: &Resolution) -> Result<(), ResolveError> {
        let alert = self
            .state
            .alerts
            .get(&id)
            .cloned()
            .ok_or(ResolveError::NoSuchAlert(id))?;
        let not_applicable = || ResolveError::NotApplicable {
            resolution: resolution.name(),
            alert_type: alert.alert_type.as_str(),
        };
        let who = match &self.actor {
            Actor::Manager(name) => name.clone(),
            Actor::Sync => "sync".into(),
        };
        match resolution {
            Resolution::Dismiss => {
                if alert.state != AlertState::Dismissed {
                    self.close(alert, AlertState::Dismissed, format!("dismissed by {who}"));
                }
            }
            Resolution::RevokeAccess => {
                if alert.alert_type != AlertType::MissingFromPms {
                    return Err(not_applicable());
                }
                if let Some(account) = alert.accounts.first().copied() {
                    self.revoke_all(
                        account,
                        "missing-from-pms",
                        "alerts.missing-from-pms.revoke",
                    );
                }
                self.close(
                    alert,
                    AlertState::Resolved,
                    format!("access revoked by {who}"),
                );
            }
            Resolution::KeepDoorValue => {
                if !matches!(
                    alert.alert_type,
                    AlertType::NameMismatch | AlertType::EmailMismatch
                ) {
                    return Err(not_applicable());
                }
                self.close(
                    alert,
                    AlertState::Acknowledged,
                    format!("DOOR value kept by {who}"),
                );
            }
            Resolution::Merge {
                account,
                use_pms_name,
            } => {
                if !matches!(
                    alert.alert_type,
                    AlertType::NameMismatch | AlertType::DuplicateAccount
                ) {
                    return Err(not_applicable());
                }
                if !alert.accounts.contains(account) {
                    return Err(ResolveError::AccountNotListed {
                        alert: id,
                        account: *account,
                    });
                }
                let person = alert.people.first().cloned().ok_or_else(not_applicable)?;
                let mut acc = self
                    .state
                    .accounts
                    .get(account)
                    .cloned()
                    .ok_or(ResolveError::NoSuchAccount(*account))?;
                for key in &person.keys {
                    self.state.links.insert(key.clone(), *account);
                }
                if *use_pms_name {
                    acc.first_name = person.first_name.clone();
                    acc.last_name = person.last_name.clone();
                }
                acc.status = Some(person.status);
                acc.door_unit =
                    assign_unit(Some(&acc), person.pms_unit.as_ref(), &self.state.mappings);
                acc.pms_unit = person.pms_unit.clone();
                let names_equal = normalize::name(&acc.first_name, &acc.last_name)
                    == normalize::name(&person.first_name, &person.last_name);
                self.state.accounts.insert(*account, acc);
                self.log(
                    "link.added",
                    "alerts.merge",
                    Some(*account),
                    format!(
                        "PMS resident {} linked to account {account} by {who}",
                        person
                            .keys
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                if names_equal {
                    self.close(
                        alert,
                        AlertState::Resolved,
                        format!("merged into account {account} by {who}"),
                    );
                } else {
                    // Linked, DOOR name kept: remember the data so the next sync's Name
                    // Mismatch for the same names stays closed.
                    let mut kept = alert;
                    kept.alert_type = AlertType::NameMismatch;
                    kept.accounts = vec![*account];
                    kept.fingerprint = fingerprint(
                        AlertType::NameMismatch,
                        &kept.people,
                        &kept.accounts,
                        |id| self.state.accounts.get(&id),
                    );
                    self.close(
                        kept,
                        AlertState::Dismissed,
                        format!("merged into account {account} by {who}, DOOR name kept"),
                    );
                }
            }
            Resolution::CreateSeparate { delete_old } => {
                if alert.alert_type != AlertType::EmailMismatch {
                    return Err(not_applicable());
                }
                let person = alert.people.first().cloned().ok_or_else(not_applicable)?;
                let email_norm = person
                    .email
                    .as_deref()
                    .and_then(normalize::email)
                    .filter(|e| normalize::is_valid_email(e))
                    .ok_or(ResolveError::NoEmail)?;
                if let Some(other) = self.state.accounts.values().find(|a| {
                    a.email.as_deref().and_then(normalize::email).as_deref()
                        == Some(email_norm.as_str())
                }) {
                    return Err(ResolveError::EmailTaken {
                        email: email_norm,
                        account: other.id,
                    });
                }
                let id_new = self.state.next_account_id;
                self.state.next_account_id += 1;
                let account = Account {
                    id: id_new,
                    first_name: person.first_name.clone(),
                    last_name: person.last_name.clone(),
                    email: person.email.clone(),
                    status: Some(person.status),
                    door_unit: assign_unit(None, person.pms_unit.as_ref(), &self.state.mappings),
                    pms_unit: person.pms_unit.clone(),
                    source: AccountSource::Pms,
                };
                self.state.accounts.insert(id_new, account);
                for key in &person.keys {
                    self.state.links.insert(key.clone(), id_new);
                }
                self.log(
                    "account.created",
                    "alerts.create-separate",
                    Some(id_new),
                    format!("account {id_new} created with the PMS email by {who}"),
                );
                if *delete_old && let Some(old) = alert.accounts.first().copied() {
                    self.delete(old, "alerts.create-separate.delete-old")?;
                }
                self.close(
                    alert,
                    AlertState::Resolved,
                    format!("separate account {id_new} created by {who}"),
                );
            }
        }
        Ok(())
    }
}

/// Resolves several alerts, one after another, all or nothing (at most [`MAX_BULK`]).
pub fn resolve_many(
    state: &DoorState,
    items: &[(AlertId, Resolution)],
    actor: &Actor,
    now: i64,
) -> Result<Plan, ResolveError> {
    if items.len() > MAX_BULK {
        return Err(ResolveError::TooMany {
            given: items.len(),
            max: MAX_BULK,
        });
    }
    let mut seen = std::collections::HashSet::new();
    for (id, _) in items {
        if !seen.insert(*id) {
            return Err(ResolveError::Repeated(*id));
        }
    }
    let mut work = Work {
        state: state.clone(),
        resolved: Vec::new(),
        audit: Vec::new(),
        feed: Vec::new(),
        actor: actor.clone(),
        now,
    };
    for (id, resolution) in items {
        work.resolve(*id, resolution)?;
    }
    Ok(Plan::diff(
        state,
        &work.state,
        work.resolved,
        work.audit,
        work.feed,
    ))
}

/// Resolves one alert.
pub fn resolve(
    state: &DoorState,
    id: AlertId,
    resolution: &Resolution,
    actor: &Actor,
    now: i64,
) -> Result<Plan, ResolveError> {
    resolve_many(state, &[(id, resolution.clone())], actor, now)
}

/// Deletes an account (e.g. the old one after Create Separate), with its links.
pub fn delete_account(
    state: &DoorState,
    account: AccountId,
    actor: &Actor,
    now: i64,
) -> Result<Plan, ResolveError> {
    let mut work = Work {
        state: state.clone(),
        resolved: Vec::new(),
        audit: Vec::new(),
        feed: Vec::new(),
        actor: actor.clone(),
        now,
    };
    work.delete(account, "manager.delete-account")?;
    Ok(Plan::diff(
        state,
        &work.state,
        work.resolved,
        work.audit,
        work.feed,
    ))
}
