//! DOOR accounts made by a manager (residents who were in DOOR before the PMS
//! integration, staff, or people the PMS does not list). User Sync then matches PMS
//! residents against them (docs/rules.md, step 3): that is where Duplicate Account and the
//! mismatch alerts of an activation come from.

use serde::{Deserialize, Serialize};

use crate::normalize;
use crate::plan::{Actor, AuditEntry, Plan};
use crate::state::{Account, AccountId, AccountSource, DoorState, DoorUnitId};

/// Longest first or last name accepted.
pub const MAX_NAME: usize = 100;

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAccount {
    pub first_name: String,
    pub last_name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub door_unit: Option<DoorUnitId>,
}

/// Why an account cannot be created; `field` names the request field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("{field} is blank")]
    Blank { field: &'static str },
    #[error("{field} is longer than {MAX_NAME} characters")]
    TooLong { field: &'static str },
    #[error("{0:?} is not a usable email address")]
    InvalidEmail(String),
    #[error("the email {email:?} already belongs to account {account}")]
    EmailTaken { email: String, account: AccountId },
    #[error("DOOR unit {0} does not exist")]
    NoSuchDoorUnit(DoorUnitId),
}

impl AccountError {
    /// The request field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            AccountError::Blank { field } | AccountError::TooLong { field } => field,
            AccountError::InvalidEmail(_) | AccountError::EmailTaken { .. } => "email",
            AccountError::NoSuchDoorUnit(_) => "door_unit",
        }
    }
}

fn check_name(value: &str, field: &'static str) -> Result<String, AccountError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(AccountError::Blank { field });
    }
    if trimmed.chars().count() > MAX_NAME {
        return Err(AccountError::TooLong { field });
    }
    Ok(trimmed.to_owned())
}

/// The plan that creates one manual account. Emails stay unique per property once
/// normalised, as for accounts a sync creates.
pub fn plan_create_account(
    state: &DoorState,
    new: &NewAccount,
    actor: &Actor,
    now: i64,
) -> Result<Plan, AccountError> {
    let first_name = check_name(&new.first_name, "first_name")?;
    let last_name = check_name(&new.last_name, "last_name")?;
    let email = match new.email.as_deref().and_then(normalize::email) {
        None => None,
        Some(e) if !normalize::is_valid_email(&e) => return Err(AccountError::InvalidEmail(e)),
        Some(e) => {
            if let Some(other) = state
                .accounts
                .values()
                .find(|a| a.email.as_deref().and_then(normalize::email).as_ref() == Some(&e))
            {
                return Err(AccountError::EmailTaken {
                    email: e,
                    account: other.id,
                });
            }
            Some(e)
        }
    };
    if let Some(unit) = new.door_unit
        && !state.door_units.contains_key(&unit)
    {
        return Err(AccountError::NoSuchDoorUnit(unit));
    }
    let mut plan = Plan::empty(state);
    let id = plan.next_account_id;
    plan.next_account_id += 1;
    plan.audit.push(AuditEntry {
        at: now,
        actor: actor.clone(),
        action: "account.created".into(),
        rule: "accounts.manual".into(),
        account: Some(id),
        pms_key: None,
        detail: format!("manual account {first_name} {last_name}"),
    });
    plan.accounts_created.push(Account {
        id,
        first_name,
        last_name,
        email,
        status: None,
        door_unit: new.door_unit,
        pms_unit: None,
        source: AccountSource::Manual,
    });
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(first: &str, last: &str, email: Option<&str>) -> NewAccount {
        NewAccount {
            first_name: first.into(),
            last_name: last.into(),
            email: email.map(Into::into),
            door_unit: None,
        }
    }

    fn actor() -> Actor {
        Actor::Manager("m".into())
    }

    #[test]
    fn an_account_is_created_with_a_normalised_email_and_audited() {
        let mut state = DoorState::default();
        let plan = plan_create_account(
            &state,
            &new(" Ana ", "Diaz", Some(" Ana@X.com ")),
            &actor(),
            7,
        )
        .unwrap();
        state.apply(&plan).unwrap();
        let a = &state.accounts[&plan.accounts_created[0].id];
        assert_eq!(
            (a.first_name.as_str(), a.email.as_deref()),
            ("Ana", Some("ana@x.com"))
        );
        assert_eq!(a.source, AccountSource::Manual);
        assert_eq!(plan.audit[0].action, "account.created");
    }

    #[test]
    fn bad_fields_are_named() {
        let mut state = DoorState::default();
        let plan =
            plan_create_account(&state, &new("Ana", "Diaz", Some("a@x.com")), &actor(), 0).unwrap();
        state.apply(&plan).unwrap();
        let err = |n: NewAccount| plan_create_account(&state, &n, &actor(), 0).unwrap_err();
        assert_eq!(err(new(" ", "D", None)).field(), "first_name");
        assert_eq!(err(new("A", &"x".repeat(101), None)).field(), "last_name");
        assert_eq!(
            err(new("A", "B", Some("not-an-email"))),
            AccountError::InvalidEmail("not-an-email".into())
        );
        assert!(matches!(
            err(new("B", "C", Some("A@X.COM"))),
            AccountError::EmailTaken { .. }
        ));
        let mut n = new("A", "B", None);
        n.door_unit = Some(9);
        assert_eq!(err(n), AccountError::NoSuchDoorUnit(9));
    }
}
