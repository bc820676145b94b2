//! Delivery of every subscription: one worker each, so that a slow or dead receiver
//! delays only its own events. A worker holds its subscription's lease (the same
//! leases syncs use), so on a fleet each subscription is delivered by one host; it
//! delivers the events after its cursor one at a time, in outbox order (so in order
//! per property), skipping what the subscription does not want, and records every
//! attempt with what it did: the cursor moves on a 2xx, otherwise the same message is
//! retried with backoff until the subscription is disabled.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use epms_store::{DeliveryAttempt, LeaseOutcome, Storage, StoreError, Subscription};
use tokio::task::JoinHandle;

use crate::delivery::{deliver, message};
use crate::destination::DestinationPolicy;

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    pub policy: DestinationPolicy,
    /// Longest wait for a receiver (connect, first byte, between bytes).
    pub timeout: Duration,
    /// The first retry's delay; each failure in a row doubles it (at most an hour).
    pub retry_base: Duration,
    /// How often an idle worker looks for new events.
    pub poll: Duration,
    /// This host's name, which holds the subscription leases.
    pub host_id: String,
    pub lease_ttl: Duration,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        DispatcherConfig {
            policy: DestinationPolicy::default(),
            timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(5),
            poll: Duration::from_millis(500),
            host_id: "local".into(),
            lease_ttl: Duration::from_secs(60),
        }
    }
}

/// Unix milliseconds (injectable for tests).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default()
    })
}

fn lease_name(id: &str) -> String {
    format!("webhook:{id}")
}

/// Runs every subscription's worker until `shutdown` resolves; prunes the outbox
/// now and then.
pub async fn run(
    store: Arc<dyn Storage>,
    config: DispatcherConfig,
    clock: Clock,
    shutdown: impl Future<Output = ()>,
) {
    let config = Arc::new(config);
    let mut workers: HashMap<String, JoinHandle<()>> = HashMap::new();
    let mut rounds = 0u64;
    let supervise = async {
        loop {
            workers.retain(|_, w| !w.is_finished());
            match store.subscriptions() {
                Ok(subs) => {
                    for s in subs.into_iter().filter(|s| s.enabled) {
                        if let std::collections::hash_map::Entry::Vacant(slot) =
                            workers.entry(s.id.clone())
                        {
                            slot.insert(tokio::spawn(worker(
                                store.clone(),
                                config.clone(),
                                clock.clone(),
                                s.id,
                            )));
                        }
                    }
                }
                Err(e) => tracing::warn!("webhook subscriptions unreadable: {e}"),
            }
            rounds += 1;
            if rounds.is_multiple_of(120) {
                match store.prune_outbox() {
                    Ok(n) if n > 0 => tracing::debug!(pruned = n, "webhook outbox pruned"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!("webhook outbox not pruned: {e}"),
                }
            }
            tokio::time::sleep(config.poll).await;
        }
    };
    tokio::select! {
        () = supervise => {}
        () = shutdown => {}
    }
    for (_, w) in workers {
        w.abort();
    }
}

/// Delivers one subscription's events while it is enabled and this host holds its
/// lease.
async fn worker(store: Arc<dyn Storage>, config: Arc<DispatcherConfig>, clock: Clock, id: String) {
    let lease = lease_name(&id);
    // Renewed every third of its time to live, not at every step.
    let mut held_since: Option<std::time::Instant> = None;
    loop {
        if held_since.is_none_or(|t| t.elapsed() >= config.lease_ttl / 3) {
            match store.acquire_lease(
                &lease,
                "webhooks",
                &config.host_id,
                config.lease_ttl,
                usize::MAX,
            ) {
                Ok(LeaseOutcome::Taken) => held_since = Some(std::time::Instant::now()),
                Ok(_) => {
                    // Another host delivers it; look again when its lease could lapse.
                    held_since = None;
                    tokio::time::sleep(config.lease_ttl / 3).await;
                    continue;
                }
                Err(e) => {
                    held_since = None;
                    tracing::warn!(subscription = id, "webhook lease: {e}");
                    tokio::time::sleep(config.poll).await;
                    continue;
                }
            }
        }
        match step(&store, &config, &clock, &id).await {
            Ok(Step::Busy) => {}
            Ok(Step::Idle(wait)) => tokio::time::sleep(wait).await,
            Ok(Step::Stopped) => break,
            Err(e) => {
                tracing::warn!(subscription = id, "webhook delivery: {e}");
                tokio::time::sleep(config.poll).await;
            }
        }
    }
    if let Err(e) = store.release_lease(&lease, &config.host_id) {
        tracing::warn!(subscription = id, "webhook lease not released: {e}");
    }
}

enum Step {
    /// Something was done: go on at once.
    Busy,
    /// Nothing to do for this long.
    Idle(Duration),
    /// Disabled or deleted.
    Stopped,
}

async fn step(
    store: &Arc<dyn Storage>,
    config: &DispatcherConfig,
    clock: &Clock,
    id: &str,
) -> Result<Step, StoreError> {
    let sub = match store.subscription(id) {
        Ok(s) => s,
        Err(StoreError::NoSuchSubscription(_)) => return Ok(Step::Stopped),
        Err(e) => return Err(e),
    };
    if !sub.enabled {
        return Ok(Step::Stopped);
    }
    let now_ms = clock();
    if let Some(at) = sub.retry_at_ms.filter(|at| *at > now_ms) {
        // Woken at least once a poll, to notice a re-enable or deletion.
        let wait = Duration::from_millis((at - now_ms) as u64);
        return Ok(Step::Idle(
            wait.min(config.poll.max(Duration::from_millis(50))),
        ));
    }
    let batch = store.outbox(sub.cursor, 100)?;
    let Some(last) = batch.last().map(|(seq, _)| *seq) else {
        return Ok(Step::Idle(config.poll));
    };
    let Some((seq, event)) = batch.into_iter().find(|(_, e)| sub.wants(e)) else {
        store.update_subscription(id, &mut |s| s.cursor = s.cursor.max(last))?;
        return Ok(Step::Busy);
    };
    if seq > sub.cursor + 1 {
        store.update_subscription(id, &mut |s| s.cursor = s.cursor.max(seq - 1))?;
    }
    let secret = store.subscription_secret(id)?;
    let msg = message(seq, &event);
    let outcome = deliver(
        &config.policy,
        &sub.url,
        &secret,
        &msg,
        now_ms.div_euclid(1000),
        config.timeout,
    )
    .await;
    let attempt = DeliveryAttempt {
        seq,
        event_type: event.event_type.clone(),
        at: now_ms.div_euclid(1000),
        status: outcome.status,
        delivered: outcome.delivered(),
        error: outcome.error.clone(),
        duration_ms: outcome.duration.as_millis() as u64,
        host: config.host_id.clone(),
    };
    let error = outcome.error.clone().unwrap_or_default();
    let base_ms = config.retry_base.as_millis() as i64;
    let after = store.record_attempt(id, &attempt, &mut |s: &mut Subscription| {
        s.after_attempt(seq, attempt.delivered, clock(), base_ms, &error)
    })?;
    if !attempt.delivered {
        tracing::warn!(
            subscription = id,
            seq,
            failures = after.failures,
            error,
            "webhook not delivered"
        );
        if !after.enabled {
            tracing::warn!(subscription = id, "webhook subscription disabled");
        }
    }
    Ok(Step::Busy)
}
