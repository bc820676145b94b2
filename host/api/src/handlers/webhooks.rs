//! Webhook subscriptions (admin only): create one (its signing secret shown once),
//! list, read, delete, re-enable one that failures disabled, and list its delivery
//! attempts. Destinations are checked by the outbound policy when created and again
//! at every delivery.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use epms_store::{DeliveryAttempt, EventFamily, StoreError, Subscription};
use serde::{Deserialize, Serialize};

use super::audit::HistoryWindow;
use super::record_service;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::framework::{
    Access, ApiJson, ApiPath, ApiQuery, ApiResult, Endpoint, created, endpoint, page_limit, reply,
};

/// Failures in a row before a subscription is disabled, unless the request says.
const DEFAULT_MAX_FAILURES: u32 = 10;

pub(super) fn endpoints() -> Vec<Endpoint> {
    use Access::*;
    vec![
        endpoint(
            "post",
            "/api/v1/webhooks",
            "Subscribe a URL to events of one property or all (its signing secret is shown once)",
            Admin,
            post(create),
        )
        .json_body::<NewSubscription>()
        .creates::<CreatedSubscription>(),
        endpoint(
            "get",
            "/api/v1/webhooks",
            "Webhook subscriptions and where their delivery stands",
            Admin,
            get(list),
        )
        .returns::<Subscriptions>(),
        endpoint(
            "get",
            "/api/v1/webhooks/{webhook}",
            "One webhook subscription",
            Admin,
            get(one),
        )
        .returns::<Subscription>(),
        endpoint(
            "delete",
            "/api/v1/webhooks/{webhook}",
            "Delete a webhook subscription",
            Admin,
            delete(remove),
        )
        .no_content(),
        endpoint(
            "post",
            "/api/v1/webhooks/{webhook}/enable",
            "Re-enable a subscription: delivery resumes at the event it stopped at",
            Admin,
            post(enable),
        )
        .returns::<Subscription>(),
        endpoint(
            "get",
            "/api/v1/webhooks/{webhook}/attempts",
            "Delivery attempts of a subscription, newest first",
            Admin,
            get(attempts),
        )
        .query::<HistoryWindow>()
        .returns::<Attempts>(),
    ]
}

#[derive(Deserialize, schemars::JsonSchema)]
#[schemars(example = serde_json::json!({"url": "https://locks.example.com/epms", "property": "door-acme", "events": ["access"]}))]
struct NewSubscription {
    /// An http(s) URL the outbound policy allows.
    #[schemars(length(min = 1, max = 2000))]
    url: String,
    /// One property's events (absent: every property's).
    property: Option<String>,
    /// Event families (absent: all of them).
    events: Option<Vec<EventFamily>>,
    /// Failed deliveries in a row before the subscription is disabled (default 10).
    #[schemars(range(min = 1, max = 1000))]
    max_failures: Option<u32>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct CreatedSubscription {
    #[serde(flatten)]
    subscription: Subscription,
    /// `whsec_…`: verify `webhook-signature` with it. Shown only now.
    secret: String,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Subscriptions {
    subscriptions: Vec<Subscription>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Attempts {
    attempts: Vec<DeliveryAttempt>,
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewSubscription>,
) -> ApiResult {
    let url = body.url.trim().to_owned();
    if url.is_empty() || url.len() > 2000 {
        return Err(ApiError::invalid("url", "1 to 2000 characters"));
    }
    state
        .webhook_policy
        .check_url(&url)
        .map_err(|e| ApiError::invalid("url", e.to_string()))?;
    if let Some(p) = &body.property {
        match state.store.property(p) {
            Ok(_) => {}
            Err(StoreError::NoSuchProperty(_)) => {
                return Err(ApiError::invalid("property", format!("no property {p:?}")));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut events = body
        .events
        .unwrap_or_else(|| vec![EventFamily::Access, EventFamily::Alerts, EventFamily::Syncs]);
    events.sort();
    events.dedup();
    if events.is_empty() {
        return Err(ApiError::invalid("events", "at least one event family"));
    }
    let max_failures = body.max_failures.unwrap_or(DEFAULT_MAX_FAILURES);
    if !(1..=1000).contains(&max_failures) {
        return Err(ApiError::invalid(
            "max_failures",
            "must be between 1 and 1000",
        ));
    }
    let secret = epms_webhooks::new_secret()
        .map_err(|e| ApiError::internal(format!("no randomness for a secret: {e}")))?;
    let id = epms_webhooks::new_subscription_id()
        .map_err(|e| ApiError::internal(format!("no randomness for an id: {e}")))?;
    let subscription = Subscription {
        id,
        url,
        property: body.property,
        events,
        enabled: true,
        disabled_reason: None,
        cursor: 0,
        failures: 0,
        max_failures,
        retry_at_ms: None,
        created_at: state.now(),
    };
    let stored = state.store.create_subscription(&subscription, &secret)?;
    record_service(
        &state,
        &caller,
        "webhook.created",
        format!(
            "webhook {} → {} ({})",
            stored.id,
            stored.url,
            stored.property.as_deref().unwrap_or("every property")
        ),
    )?;
    created(CreatedSubscription {
        subscription: stored,
        secret,
    })
}

async fn list(State(state): State<AppState>) -> ApiResult {
    reply(Subscriptions {
        subscriptions: state.store.subscriptions()?,
    })
}

async fn one(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult {
    reply(state.store.subscription(&id)?)
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult {
    state.store.delete_subscription(&id)?;
    record_service(&state, &caller, "webhook.deleted", format!("webhook {id}"))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn enable(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult {
    let s = state
        .store
        .update_subscription(&id, &mut Subscription::enable)?;
    record_service(&state, &caller, "webhook.enabled", format!("webhook {id}"))?;
    reply(s)
}

async fn attempts(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(w): ApiQuery<HistoryWindow>,
) -> ApiResult {
    let limit = page_limit(w.limit, 100, 1_000)?;
    state.store.subscription(&id)?;
    reply(Attempts {
        attempts: state.store.attempts(&id, limit)?,
    })
}
