//! Webhooks as the store keeps them: subscriptions (their secret sealed apart), the
//! outbox every notification is appended to in the transaction that caused it, and
//! delivery attempts. What a plan or a failed sync notifies is written here once, for
//! both backends ([`events_of_plan`], [`event_of_failed_run`]).

use epms_engine::{Alert, AlertState, AlertType, FeedAction, Plan};
use serde::{Deserialize, Serialize};

use crate::{RunOutcome, SyncRun};

/// The families of events a subscription can ask for.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventFamily {
    /// `access.granted`, `access.updated`, `access.revoked`: the access feed.
    Access,
    /// `alert.opened`, `alert.cleared`.
    Alerts,
    /// `sync.failed`, `sync.held`.
    Syncs,
}

/// One notification, appended to the outbox with the change that caused it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEvent {
    pub property: String,
    /// `access.granted`, `alert.opened`, `sync.failed`…
    #[serde(rename = "type")]
    pub event_type: String,
    /// Unix seconds.
    pub at: i64,
    pub data: serde_json::Value,
}

impl OutboxEvent {
    pub fn family(&self) -> EventFamily {
        match self.event_type.split('.').next() {
            Some("access") => EventFamily::Access,
            Some("alert") => EventFamily::Alerts,
            _ => EventFamily::Syncs,
        }
    }
}

fn alert_data(alert: &Alert) -> serde_json::Value {
    serde_json::json!({
        "alert": alert.id,
        "alert_type": alert.alert_type,
        "state": alert.state,
        "accounts": alert.accounts,
        "people": alert.people.iter().map(|p| serde_json::json!({
            "first_name": p.first_name,
            "last_name": p.last_name,
            "pms_keys": p.keys,
        })).collect::<Vec<_>>(),
        // A Sync Held alert says what was held where others name their email.
        if alert.alert_type == AlertType::SyncHeld { "detail" } else { "email" }: alert.email,
        "resolution": alert.resolution,
    })
}

/// What applying `plan` notifies, in the order it happened: access events (the feed),
/// alerts opened, alerts cleared; a Sync Held alert opened is `sync.held` as well.
pub fn events_of_plan(property: &str, plan: &Plan) -> Vec<OutboxEvent> {
    let event = |event_type: &str, at: i64, data: serde_json::Value| OutboxEvent {
        property: property.to_owned(),
        event_type: event_type.to_owned(),
        at,
        data,
    };
    let mut out = Vec::new();
    for e in &plan.feed {
        let kind = match e.action {
            FeedAction::Granted { .. } => "access.granted",
            FeedAction::Updated { .. } => "access.updated",
            FeedAction::Revoked { .. } => "access.revoked",
        };
        out.push(event(
            kind,
            e.at,
            serde_json::to_value(e).unwrap_or(serde_json::Value::Null),
        ));
    }
    for a in &plan.alerts_opened {
        out.push(event("alert.opened", a.opened_at, alert_data(a)));
        if a.alert_type == AlertType::SyncHeld {
            out.push(event("sync.held", a.opened_at, alert_data(a)));
        }
    }
    for a in &plan.alerts_updated {
        if a.state == AlertState::Resolved {
            out.push(event("alert.cleared", a.updated_at, alert_data(a)));
        } else if a.state == AlertState::Open && a.alert_type == AlertType::SyncHeld {
            // Held again by a later sync (the alert was open already or reopened).
            out.push(event("sync.held", a.updated_at, alert_data(a)));
        }
    }
    out
}

/// A failed sync's notification.
pub fn event_of_failed_run(property: &str, run: &SyncRun) -> Option<OutboxEvent> {
    (run.outcome == RunOutcome::Failed).then(|| OutboxEvent {
        property: property.to_owned(),
        event_type: "sync.failed".into(),
        at: run.finished_at,
        data: serde_json::json!({
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "error_code": run.error_code,
            "error": run.error,
            "host": run.host,
        }),
    })
}

/// A webhook subscription: where events go, which ones, and where delivery stands.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: String,
    /// An http(s) URL, checked against the outbound address policy at each delivery.
    pub url: String,
    /// One property's events, or every property's (`None`).
    pub property: Option<String>,
    /// Event families delivered; the others are skipped (the cursor passes them).
    pub events: Vec<EventFamily>,
    pub enabled: bool,
    /// Why it was disabled (absent while enabled).
    pub disabled_reason: Option<String>,
    /// The last outbox sequence delivered or skipped: delivery resumes after it.
    pub cursor: u64,
    /// Failed attempts in a row at the event after the cursor.
    pub failures: u32,
    /// Failures in a row after which the subscription is disabled.
    pub max_failures: u32,
    /// When the next attempt may be made (unix milliseconds; absent: now).
    pub retry_at_ms: Option<i64>,
    pub created_at: i64,
}

/// Milliseconds to wait after the `failures`-th failure in a row: `base_ms`, doubling,
/// at most an hour, with no jitter (one worker per subscription: no stampede).
pub fn backoff_ms(failures: u32, base_ms: i64) -> i64 {
    base_ms
        .max(1)
        .saturating_mul(1 << failures.saturating_sub(1).min(20))
        .min(3_600_000)
}

impl Subscription {
    /// Whether this subscription wants `event`.
    pub fn wants(&self, event: &OutboxEvent) -> bool {
        self.property.as_ref().is_none_or(|p| *p == event.property)
            && self.events.contains(&event.family())
    }

    /// What an attempt at outbox event `seq` does: success moves the cursor past it;
    /// failure schedules a retry ([`backoff_ms`] from `base_ms`), or disables after
    /// `max_failures` in a row.
    pub fn after_attempt(
        &mut self,
        seq: u64,
        delivered: bool,
        now_ms: i64,
        base_ms: i64,
        error: &str,
    ) {
        if delivered {
            self.cursor = self.cursor.max(seq);
            self.failures = 0;
            self.retry_at_ms = None;
            return;
        }
        self.failures = self.failures.saturating_add(1);
        if self.failures >= self.max_failures {
            self.enabled = false;
            self.retry_at_ms = None;
            self.disabled_reason = Some(format!(
                "disabled after {} failed deliveries in a row; the last: {error}",
                self.failures
            ));
        } else {
            self.retry_at_ms = Some(now_ms.saturating_add(backoff_ms(self.failures, base_ms)));
        }
    }

    /// An admin turns it back on: delivery resumes at the event it stopped at.
    pub fn enable(&mut self) {
        self.enabled = true;
        self.disabled_reason = None;
        self.failures = 0;
        self.retry_at_ms = None;
    }
}

/// One delivery attempt, for the attempts list.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    /// The outbox sequence of the event (its `webhook-id` is `evt_<seq>`).
    pub seq: u64,
    pub event_type: String,
    pub at: i64,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<u16>,
    pub delivered: bool,
    /// Why it failed (absent on success).
    pub error: Option<String>,
    pub duration_ms: u64,
    /// The host that made it.
    pub host: String,
}

/// Attempts kept per subscription (the oldest go first).
pub const ATTEMPTS_KEPT: u64 = 500;

#[cfg(test)]
mod tests {
    use super::*;

    fn sub() -> Subscription {
        Subscription {
            id: "wh_1".into(),
            url: "https://example.com/hook".into(),
            property: Some("door-1".into()),
            events: vec![EventFamily::Access, EventFamily::Syncs],
            enabled: true,
            disabled_reason: None,
            cursor: 0,
            failures: 0,
            max_failures: 3,
            retry_at_ms: None,
            created_at: 0,
        }
    }

    #[test]
    fn failures_back_off_then_disable_and_success_moves_the_cursor() {
        let mut s = sub();
        s.after_attempt(7, false, 100_000, 5_000, "503");
        assert_eq!((s.failures, s.retry_at_ms, s.cursor), (1, Some(105_000), 0));
        s.after_attempt(7, false, 105_000, 5_000, "503");
        assert_eq!(s.retry_at_ms, Some(115_000));
        s.after_attempt(7, false, 115_000, 5_000, "timed out");
        assert!(!s.enabled);
        assert!(s.disabled_reason.as_deref().unwrap().contains("timed out"));
        s.enable();
        assert!(s.enabled && s.failures == 0 && s.cursor == 0);
        s.after_attempt(7, true, 200_000, 5_000, "");
        assert_eq!((s.cursor, s.failures, s.retry_at_ms), (7, 0, None));
        assert_eq!(backoff_ms(30, 5_000), 3_600_000);
    }

    #[test]
    fn a_subscription_wants_its_property_and_families_only() {
        let s = sub();
        let e = |property: &str, t: &str| OutboxEvent {
            property: property.into(),
            event_type: t.into(),
            at: 0,
            data: serde_json::Value::Null,
        };
        assert!(s.wants(&e("door-1", "access.granted")));
        assert!(s.wants(&e("door-1", "sync.failed")));
        assert!(!s.wants(&e("door-1", "alert.opened")));
        assert!(!s.wants(&e("door-2", "access.granted")));
    }
}
