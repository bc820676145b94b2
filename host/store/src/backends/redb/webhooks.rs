//! Webhook subscriptions, the outbox and delivery attempts in the redb file.

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};

use super::RedbStore;
use super::tables::{WEBHOOK_ATTEMPTS, WEBHOOK_OUTBOX, WEBHOOK_SECRETS, WEBHOOK_SUBSCRIPTIONS};
use crate::codec::{dec, enc};
use crate::{ATTEMPTS_KEPT, DeliveryAttempt, OutboxEvent, StoreError, Subscription, WebhookStore};

/// Appends notifications to the outbox in the caller's transaction.
pub(super) fn append_outbox(
    txn: &redb::WriteTransaction,
    events: impl IntoIterator<Item = OutboxEvent>,
) -> Result<(), StoreError> {
    let mut events = events.into_iter().peekable();
    if events.peek().is_none() {
        return Ok(());
    }
    let mut outbox = txn.open_table(WEBHOOK_OUTBOX)?;
    let first = match outbox.last()? {
        Some((k, _)) => k.value() + 1,
        None => 1,
    };
    for (seq, e) in (first..).zip(events) {
        outbox.insert(seq, enc(&e).as_slice())?;
    }
    Ok(())
}

fn read_subscription(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
    id: &str,
) -> Result<Subscription, StoreError> {
    let v = t
        .get(id)?
        .ok_or_else(|| StoreError::NoSuchSubscription(id.to_owned()))?;
    dec(v.value())
}

impl WebhookStore for RedbStore {
    fn create_subscription(
        &self,
        subscription: &Subscription,
        secret: &str,
    ) -> Result<Subscription, StoreError> {
        let txn = self.db.begin_write()?;
        let created = {
            let end = txn
                .open_table(WEBHOOK_OUTBOX)?
                .last()?
                .map_or(0, |(k, _)| k.value());
            let mut created = subscription.clone();
            created.cursor = end;
            txn.open_table(WEBHOOK_SUBSCRIPTIONS)?
                .insert(created.id.as_str(), enc(&created).as_slice())?;
            txn.open_table(WEBHOOK_SECRETS)?
                .insert(created.id.as_str(), self.secrets.seal(secret).as_str())?;
            created
        };
        txn.commit()?;
        Ok(created)
    }

    fn subscription(&self, id: &str) -> Result<Subscription, StoreError> {
        let txn = self.db.begin_read()?;
        read_subscription(&txn.open_table(WEBHOOK_SUBSCRIPTIONS)?, id)
    }

    fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(WEBHOOK_SUBSCRIPTIONS)?;
        let mut out = Vec::new();
        for e in t.iter()? {
            out.push(dec(e?.1.value())?);
        }
        Ok(out)
    }

    fn subscription_secret(&self, id: &str) -> Result<String, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(WEBHOOK_SECRETS)?;
        let sealed = t
            .get(id)?
            .ok_or_else(|| StoreError::NoSuchSubscription(id.to_owned()))?;
        Ok(self.secrets.open(sealed.value())?)
    }

    fn update_subscription(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut Subscription),
    ) -> Result<Subscription, StoreError> {
        let txn = self.db.begin_write()?;
        let updated = {
            let mut t = txn.open_table(WEBHOOK_SUBSCRIPTIONS)?;
            let mut s = read_subscription(&t, id)?;
            change(&mut s);
            t.insert(id, enc(&s).as_slice())?;
            s
        };
        txn.commit()?;
        Ok(updated)
    }

    fn delete_subscription(&self, id: &str) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            if txn.open_table(WEBHOOK_SUBSCRIPTIONS)?.remove(id)?.is_none() {
                return Err(StoreError::NoSuchSubscription(id.to_owned()));
            }
            txn.open_table(WEBHOOK_SECRETS)?.remove(id)?;
            let mut attempts = txn.open_table(WEBHOOK_ATTEMPTS)?;
            attempts.retain_in((id, 0)..=(id, u64::MAX), |_, _| false)?;
        }
        txn.commit()?;
        Ok(())
    }

    fn outbox(&self, after: u64, limit: usize) -> Result<Vec<(u64, OutboxEvent)>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(WEBHOOK_OUTBOX)?;
        let mut out = Vec::new();
        for e in t.range(after.saturating_add(1)..)?.take(limit) {
            let (k, v) = e?;
            out.push((k.value(), dec(v.value())?));
        }
        Ok(out)
    }

    fn record_attempt(
        &self,
        id: &str,
        attempt: &DeliveryAttempt,
        change: &mut dyn FnMut(&mut Subscription),
    ) -> Result<Subscription, StoreError> {
        let txn = self.db.begin_write()?;
        let updated = {
            let mut subs = txn.open_table(WEBHOOK_SUBSCRIPTIONS)?;
            let mut s = read_subscription(&subs, id)?;
            change(&mut s);
            subs.insert(id, enc(&s).as_slice())?;
            let mut attempts = txn.open_table(WEBHOOK_ATTEMPTS)?;
            let next = match attempts.range((id, 0)..=(id, u64::MAX))?.next_back() {
                Some(e) => e?.0.value().1 + 1,
                None => 1,
            };
            attempts.insert((id, next), enc(attempt).as_slice())?;
            if next > ATTEMPTS_KEPT {
                let oldest = next - ATTEMPTS_KEPT;
                attempts.retain_in((id, 0)..(id, oldest), |_, _| false)?;
            }
            s
        };
        txn.commit()?;
        Ok(updated)
    }

    fn attempts(&self, id: &str, limit: usize) -> Result<Vec<DeliveryAttempt>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(WEBHOOK_ATTEMPTS)?;
        let mut out = Vec::new();
        for e in t.range((id, 0)..=(id, u64::MAX))?.rev().take(limit) {
            out.push(dec(e?.1.value())?);
        }
        Ok(out)
    }

    fn prune_outbox(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_write()?;
        let pruned = {
            let subs = self.subscriptions_in(&txn)?;
            let mut outbox = txn.open_table(WEBHOOK_OUTBOX)?;
            let upto = match subs.iter().map(|s| s.cursor).min() {
                Some(min) => min,
                None => outbox.last()?.map_or(0, |(k, _)| k.value()),
            };
            let before = outbox.len()?;
            outbox.retain_in(..=upto, |_, _| false)?;
            before - outbox.len()?
        };
        txn.commit()?;
        Ok(pruned)
    }
}

impl RedbStore {
    fn subscriptions_in(
        &self,
        txn: &redb::WriteTransaction,
    ) -> Result<Vec<Subscription>, StoreError> {
        let t = txn.open_table(WEBHOOK_SUBSCRIPTIONS)?;
        let mut out = Vec::new();
        for e in t.iter()? {
            out.push(dec(e?.1.value())?);
        }
        Ok(out)
    }
}
