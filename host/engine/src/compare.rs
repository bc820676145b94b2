//! Two plans for the same state, compared: what a candidate connector version would
//! do differently from the active one (the dry run of an upgrade).
//!
//! Each plan is described as a set of changes in words a manager reads ("account #12
//! Ann Lee: status current → past", "revoke unit key 3 from #12 Ann Lee"); the
//! difference is what is in one set and not the other. Ids a plan allocates (new
//! accounts, grants, suggestions, alerts) are not compared: two plans may number the
//! same change differently. New accounts are named by name and email instead.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use crate::plan::Plan;
use crate::state::{Account, AccountId, AlertState, DoorState};

/// What a change is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Area {
    Accounts,
    Links,
    Alerts,
    Access,
    Units,
}

/// One change a plan makes, in words.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Change {
    pub area: Area,
    pub what: String,
}

/// Where two plans part.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlanDifference {
    /// Changes only the active version's plan makes.
    pub only_active: Vec<Change>,
    /// Changes only the candidate's plan makes.
    pub only_candidate: Vec<Change>,
}

impl PlanDifference {
    pub fn is_empty(&self) -> bool {
        self.only_active.is_empty() && self.only_candidate.is_empty()
    }
}

fn full_name(a: &Account) -> String {
    format!("{} {}", a.first_name, a.last_name)
}

/// Names accounts the way both plans can agree on.
struct Labels<'a> {
    state: &'a DoorState,
    created: HashMap<AccountId, &'a Account>,
}

impl Labels<'_> {
    fn of(&self, id: AccountId) -> String {
        if let Some(a) = self.created.get(&id) {
            return format!(
                "new account {} <{}>",
                full_name(a),
                a.email.as_deref().unwrap_or("no email")
            );
        }
        match self.state.accounts.get(&id) {
            Some(a) => format!("#{id} {}", full_name(a)),
            None => format!("#{id}"),
        }
    }
}

/// A plan's changes to `state`, in words.
pub fn describe(state: &DoorState, plan: &Plan) -> BTreeSet<Change> {
    let labels = Labels {
        state,
        created: plan.accounts_created.iter().map(|a| (a.id, a)).collect(),
    };
    let mut out = BTreeSet::new();
    let mut add = |area: Area, what: String| {
        out.insert(Change { area, what });
    };
    for a in &plan.accounts_created {
        add(
            Area::Accounts,
            format!(
                "create {} (status {:?}, DOOR unit {:?})",
                labels.of(a.id),
                a.status,
                a.door_unit
            ),
        );
    }
    for a in &plan.accounts_updated {
        let Some(old) = state.accounts.get(&a.id) else {
            continue;
        };
        let mut fields = Vec::new();
        if full_name(old) != full_name(a) {
            fields.push(format!("name {} → {}", full_name(old), full_name(a)));
        }
        if old.email != a.email {
            fields.push(format!("email {:?} → {:?}", old.email, a.email));
        }
        if old.status != a.status {
            fields.push(format!("status {:?} → {:?}", old.status, a.status));
        }
        if old.door_unit != a.door_unit {
            fields.push(format!("DOOR unit {:?} → {:?}", old.door_unit, a.door_unit));
        }
        if old.pms_unit != a.pms_unit {
            fields.push("PMS unit changed".to_owned());
        }
        if !fields.is_empty() {
            add(
                Area::Accounts,
                format!("{}: {}", labels.of(a.id), fields.join(", ")),
            );
        }
    }
    for id in &plan.accounts_deleted {
        add(Area::Accounts, format!("delete {}", labels.of(*id)));
    }
    for (key, account) in &plan.links_added {
        add(Area::Links, format!("link {key} → {}", labels.of(*account)));
    }
    for key in &plan.links_removed {
        add(Area::Links, format!("unlink {key}"));
    }
    for a in &plan.alerts_opened {
        add(
            Area::Alerts,
            format!("open {} alert {}", a.alert_type.as_str(), a.identity),
        );
    }
    for a in &plan.alerts_updated {
        let what = match a.state {
            AlertState::Resolved => "resolve",
            _ => "update",
        };
        add(
            Area::Alerts,
            format!("{what} {} alert {}", a.alert_type.as_str(), a.identity),
        );
    }
    for g in &plan.grants_added {
        add(
            Area::Access,
            format!("grant {} to {}", g.key, labels.of(g.account)),
        );
    }
    for id in &plan.grants_removed {
        let what = match state.grants.get(id) {
            Some(g) => format!("revoke {} from {}", g.key, labels.of(g.account)),
            None => format!("revoke grant {id}"),
        };
        add(Area::Access, what);
    }
    for s in &plan.suggestions_added {
        let key = s.key.as_ref().map(|k| format!(" {k}")).unwrap_or_default();
        add(
            Area::Access,
            format!("suggest {:?}{key} for {}", s.kind, labels.of(s.account)),
        );
    }
    for (id, why) in &plan.suggestions_closed {
        let whose = state
            .suggestions
            .get(id)
            .map(|s| format!("{:?} for {}", s.kind, labels.of(s.account)))
            .unwrap_or_else(|| format!("#{id}"));
        add(Area::Access, format!("close suggestion {whose}: {why}"));
    }
    if plan
        .pms_units
        .as_ref()
        .is_some_and(|u| *u != state.pms_units)
    {
        add(Area::Units, "the PMS unit list changes".to_owned());
    }
    out
}

/// What `candidate` does that `active` does not, and the other way round.
pub fn compare(state: &DoorState, active: &Plan, candidate: &Plan) -> PlanDifference {
    let a = describe(state, active);
    let c = describe(state, candidate);
    PlanDifference {
        only_active: a.difference(&c).cloned().collect(),
        only_candidate: c.difference(&a).cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{AccountSource, Settings};
    use crate::user_sync::{PmsPropertyData, PmsSnapshot, plan_sync};
    use epms_model::{HouseholdRole, Lease, LeaseStatus, Resident};

    fn snapshot(status: LeaseStatus) -> PmsSnapshot {
        PmsSnapshot {
            vendor: "acme".into(),
            properties: vec![PmsPropertyData {
                id: "P".into(),
                units: vec![],
                residents: vec![Resident {
                    id: "r1".into(),
                    lease_id: Some("l1".into()),
                    unit_id: None,
                    first_name: "Ann".into(),
                    last_name: "Lee".into(),
                    email: Some("ann@x.com".into()),
                    phone: None,
                    role: HouseholdRole::Primary,
                    warnings: vec![],
                }],
                leases: vec![Lease {
                    id: "l1".into(),
                    unit_id: None,
                    resident_ids: vec!["r1".into()],
                    raw_status: "x".into(),
                    status,
                    start_date: None,
                    end_date: None,
                    move_in_date: None,
                    move_out_date: None,
                    warnings: vec![],
                }],
            }],
        }
    }

    #[test]
    fn the_same_input_makes_no_difference_and_a_status_read_differently_does() {
        let settings = Settings::default();
        let mut state = DoorState::default();
        let first = plan_sync(&snapshot(LeaseStatus::Notice), &state, &settings, 0).plan;
        state.apply(&first).unwrap();
        let active = plan_sync(&snapshot(LeaseStatus::Notice), &state, &settings, 10).plan;
        let same = plan_sync(&snapshot(LeaseStatus::Notice), &state, &settings, 10).plan;
        assert!(compare(&state, &active, &same).is_empty());

        let candidate = plan_sync(&snapshot(LeaseStatus::Past), &state, &settings, 10).plan;
        let diff = compare(&state, &active, &candidate);
        assert!(diff.only_active.is_empty(), "{diff:?}");
        assert!(
            diff.only_candidate.iter().any(|c| c.area == Area::Accounts
                && c.what.contains("status Some(Current) → Some(Past)")),
            "{diff:?}"
        );
        assert_eq!(
            state.accounts.values().next().unwrap().source,
            AccountSource::Pms
        );
    }
}
