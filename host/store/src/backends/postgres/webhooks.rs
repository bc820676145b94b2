//! Webhook subscriptions, the outbox and delivery attempts in PostgreSQL. Outbox
//! sequences are taken under the 'webhook-outbox' counter's row lock, held to the
//! commit (after the feed's, in every transaction that takes both), so a reader
//! following its cursor never skips an event that commits late.

use super::{PgStore, Tx, decode, limit, row_id, sql_id};
use crate::codec::enc_text;
use crate::{ATTEMPTS_KEPT, DeliveryAttempt, OutboxEvent, StoreError, Subscription, WebhookStore};

const APPEND_OUTBOX: &str = "INSERT INTO webhook_outbox (seq, property, value) \
     SELECT $1 + r.n, r.property, r.value::jsonb \
     FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS r(property, value, n)";

/// Takes the outbox counter's row lock (held to the commit); the last sequence taken.
async fn lock_outbox(txn: &Tx<'_, '_>) -> Result<i64, StoreError> {
    Ok(txn
        .query_one(
            "SELECT value FROM counters WHERE name = 'webhook-outbox' FOR UPDATE",
            &[],
        )
        .await?
        .get(0))
}

/// Appends notifications to the outbox in the caller's transaction.
pub(super) async fn append_outbox(
    txn: &Tx<'_, '_>,
    events: Vec<OutboxEvent>,
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let last = lock_outbox(txn).await?;
    let n = i64::try_from(events.len()).unwrap_or(i64::MAX);
    txn.execute(
        "UPDATE counters SET value = value + $1 WHERE name = 'webhook-outbox'",
        &[&n],
    )
    .await?;
    let properties: Vec<&str> = events.iter().map(|e| e.property.as_str()).collect();
    let values: Vec<String> = events.iter().map(enc_text).collect();
    txn.execute(APPEND_OUTBOX, &[&last, &properties, &values])
        .await?;
    Ok(())
}

async fn locked_subscription(txn: &Tx<'_, '_>, id: &str) -> Result<Subscription, StoreError> {
    let row = txn
        .query_opt(
            "SELECT record::text FROM webhook_subscriptions WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?
        .ok_or_else(|| StoreError::NoSuchSubscription(id.to_owned()))?;
    decode(row.get(0))
}

async fn save_subscription(txn: &Tx<'_, '_>, s: &Subscription) -> Result<(), StoreError> {
    txn.execute(
        "UPDATE webhook_subscriptions SET record = $2::text::jsonb WHERE id = $1",
        &[&s.id, &enc_text(s)],
    )
    .await?;
    Ok(())
}

impl WebhookStore for PgStore {
    fn create_subscription(
        &self,
        subscription: &Subscription,
        secret: &str,
    ) -> Result<Subscription, StoreError> {
        let sealed = self.secrets.seal(secret);
        self.write(async |txn| {
            // The outbox counter's lock: no event commits between reading the end and
            // storing the cursor.
            let end = lock_outbox(txn).await?;
            let mut created = subscription.clone();
            created.cursor = row_id(end)?;
            txn.execute(
                "INSERT INTO webhook_subscriptions (id, record, sealed_secret) VALUES ($1, $2::text::jsonb, $3)",
                &[&created.id, &enc_text(&created), &sealed],
            )
            .await?;
            Ok(created)
        })
    }

    fn subscription(&self, id: &str) -> Result<Subscription, StoreError> {
        let found: Vec<Subscription> = self.values(
            "SELECT record::text FROM webhook_subscriptions WHERE id = $1",
            &[&id],
        )?;
        found
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::NoSuchSubscription(id.to_owned()))
    }

    fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        self.values(
            "SELECT record::text FROM webhook_subscriptions ORDER BY id",
            &[],
        )
    }

    fn subscription_secret(&self, id: &str) -> Result<String, StoreError> {
        let sealed: Option<String> = self.first_column(
            "SELECT sealed_secret FROM webhook_subscriptions WHERE id = $1",
            &[&id],
        )?;
        let sealed = sealed.ok_or_else(|| StoreError::NoSuchSubscription(id.to_owned()))?;
        Ok(self.secrets.open(&sealed)?)
    }

    fn update_subscription(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut Subscription),
    ) -> Result<Subscription, StoreError> {
        self.write(async |txn| {
            let mut s = locked_subscription(txn, id).await?;
            change(&mut s);
            save_subscription(txn, &s).await?;
            Ok(s)
        })
    }

    fn delete_subscription(&self, id: &str) -> Result<(), StoreError> {
        self.write(async |txn| {
            let gone = txn
                .execute("DELETE FROM webhook_subscriptions WHERE id = $1", &[&id])
                .await?;
            if gone == 0 {
                return Err(StoreError::NoSuchSubscription(id.to_owned()));
            }
            txn.execute(
                "DELETE FROM webhook_attempts WHERE subscription = $1",
                &[&id],
            )
            .await?;
            Ok(())
        })
    }

    fn outbox(&self, after: u64, n: usize) -> Result<Vec<(u64, OutboxEvent)>, StoreError> {
        self.read(async |txn| {
            txn.query(
                "SELECT seq, value::text FROM webhook_outbox WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&sql_id(after)?, &limit(n)],
            )
            .await?
            .iter()
            .map(|r| Ok((row_id(r.get(0))?, decode(r.get(1))?)))
            .collect()
        })
    }

    fn record_attempt(
        &self,
        id: &str,
        attempt: &DeliveryAttempt,
        change: &mut dyn FnMut(&mut Subscription),
    ) -> Result<Subscription, StoreError> {
        self.write(async |txn| {
            let mut s = locked_subscription(txn, id).await?;
            change(&mut s);
            save_subscription(txn, &s).await?;
            let n: i64 = txn
                .query_one(
                    "INSERT INTO webhook_attempts (subscription, n, value) \
                     SELECT $1, coalesce(max(n), 0) + 1, $2::text::jsonb FROM webhook_attempts WHERE subscription = $1 \
                     RETURNING n",
                    &[&id, &enc_text(attempt)],
                )
                .await?
                .get(0);
            let kept = i64::try_from(ATTEMPTS_KEPT).unwrap_or(i64::MAX);
            if n > kept {
                txn.execute(
                    "DELETE FROM webhook_attempts WHERE subscription = $1 AND n <= $2",
                    &[&id, &(n - kept)],
                )
                .await?;
            }
            Ok(s)
        })
    }

    fn attempts(&self, id: &str, n: usize) -> Result<Vec<DeliveryAttempt>, StoreError> {
        self.values(
            "SELECT value::text FROM webhook_attempts WHERE subscription = $1 ORDER BY n DESC LIMIT $2",
            &[&id, &limit(n)],
        )
    }

    fn prune_outbox(&self) -> Result<u64, StoreError> {
        self.write(async |txn| {
            let subs: Vec<Subscription> = txn
                .query("SELECT record::text FROM webhook_subscriptions", &[])
                .await?
                .iter()
                .map(|r| decode(r.get(0)))
                .collect::<Result<_, _>>()?;
            let upto = match subs.iter().map(|s| s.cursor).min() {
                Some(min) => sql_id(min)?,
                None => i64::MAX,
            };
            let gone = txn
                .execute("DELETE FROM webhook_outbox WHERE seq <= $1", &[&upto])
                .await?;
            Ok(gone)
        })
    }
}
