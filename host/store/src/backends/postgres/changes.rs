//! A plan's row-level changes (`Plan::changes`: the one statement of what a plan
//! means) written to PostgreSQL: consecutive changes of one kind become one statement
//! over arrays (`$1` the property, `$2` and `$3` the columns), so that a first sync of
//! 20,000 rows is a dozen statements. A key named twice in one batch keeps its last
//! value, as applying the changes one by one would.

use std::collections::HashMap;

use epms_engine::{Change, Plan};

use crate::codec::enc_text;
use crate::{FeedRecord, StoreError};

use super::{Tx, sql_id};

macro_rules! put_rows {
    ($table:literal) => {
        concat!(
            "INSERT INTO ",
            $table,
            " (property, id, value) SELECT $1, id, value::jsonb ",
            "FROM unnest($2::bigint[], $3::text[]) AS r(id, value) ",
            "ON CONFLICT (property, id) DO UPDATE SET value = excluded.value"
        )
    };
}

macro_rules! delete_rows {
    ($table:literal) => {
        concat!(
            "DELETE FROM ",
            $table,
            " WHERE property = $1 AND id = ANY($2::bigint[])"
        )
    };
}

const ARCHIVE_ALERTS: &str = concat!(
    "WITH gone AS (DELETE FROM alerts WHERE property = $1 AND id = ANY($2::bigint[])) ",
    "INSERT INTO alert_history (property, id, value) SELECT $1, id, value::jsonb ",
    "FROM unnest($2::bigint[], $3::text[]) AS r(id, value) ",
    "ON CONFLICT (property, id) DO UPDATE SET value = excluded.value"
);
/// The history row is a `ClosedSuggestion` (its two fields, by their serde names),
/// built from the pending row it replaces.
const CLOSE_SUGGESTIONS: &str = concat!(
    "WITH closed AS (DELETE FROM suggestions WHERE property = $1 AND id = ANY($2::bigint[]) ",
    "RETURNING id, value) ",
    "INSERT INTO suggestion_history (property, id, value) ",
    "SELECT $1, c.id, jsonb_build_object('suggestion', c.value, 'outcome', o.outcome) ",
    "FROM closed c JOIN unnest($2::bigint[], $3::text[]) AS o(id, outcome) ON o.id = c.id ",
    "ON CONFLICT (property, id) DO UPDATE SET value = excluded.value"
);
const PUT_LINKS: &str = concat!(
    "INSERT INTO links (property, key, account) SELECT $1, key, account ",
    "FROM unnest($2::text[], $3::bigint[]) AS r(key, account) ",
    "ON CONFLICT (property, key) DO UPDATE SET account = excluded.account"
);
const DELETE_LINKS: &str = "DELETE FROM links WHERE property = $1 AND key = ANY($2::text[])";
const PUT_MAPPINGS: &str = concat!(
    "INSERT INTO unit_mappings (property, key, door_unit) SELECT $1, key, door_unit ",
    "FROM unnest($2::text[], $3::bigint[]) AS r(key, door_unit) ",
    "ON CONFLICT (property, key) DO UPDATE SET door_unit = excluded.door_unit"
);
const DELETE_MAPPINGS: &str =
    "DELETE FROM unit_mappings WHERE property = $1 AND key = ANY($2::text[])";
const SET_PMS_UNITS: &str = concat!(
    "INSERT INTO pms_units (property, value) VALUES ($1, $2::text::jsonb) ",
    "ON CONFLICT (property) DO UPDATE SET value = excluded.value"
);
const APPEND_FEED: &str = concat!(
    "INSERT INTO access_feed (seq, property, value) SELECT seq, $1, value::jsonb ",
    "FROM unnest($2::bigint[], $3::text[]) AS r(seq, value)"
);

/// One change's columns.
enum Row {
    IdText(i64, String),
    KeyId(String, i64),
    Id(i64),
    Key(String),
    Text(String),
}

/// The columns of consecutive changes written by one statement.
enum Columns {
    /// Rows put, archived or closed; feed events (with each id's position).
    IdText(Vec<i64>, Vec<String>, HashMap<i64, usize>),
    /// Links and mappings put (with each key's position).
    KeyId(Vec<String>, Vec<i64>, HashMap<String, usize>),
    Ids(Vec<i64>),
    Keys(Vec<String>),
    /// One value (the PMS units of the sync).
    Text(String),
}

struct Batch {
    sql: &'static str,
    columns: Columns,
}

impl Batch {
    fn new(sql: &'static str, row: Row) -> Batch {
        let columns = match row {
            Row::IdText(id, text) => {
                Columns::IdText(vec![id], vec![text], HashMap::from([(id, 0)]))
            }
            Row::KeyId(key, id) => {
                Columns::KeyId(vec![key.clone()], vec![id], HashMap::from([(key, 0)]))
            }
            Row::Id(id) => Columns::Ids(vec![id]),
            Row::Key(key) => Columns::Keys(vec![key]),
            Row::Text(text) => Columns::Text(text),
        };
        Batch { sql, columns }
    }

    /// Takes `row` if it is for this batch's statement; else hands it back.
    fn take(&mut self, sql: &'static str, row: Row) -> Option<Row> {
        if sql != self.sql {
            return Some(row);
        }
        match (&mut self.columns, row) {
            (Columns::IdText(ids, texts, at), Row::IdText(id, text)) => match at.get(&id) {
                Some(&i) => texts[i] = text,
                None => {
                    at.insert(id, ids.len());
                    ids.push(id);
                    texts.push(text);
                }
            },
            (Columns::KeyId(keys, ids, at), Row::KeyId(key, id)) => match at.get(&key) {
                Some(&i) => ids[i] = id,
                None => {
                    at.insert(key.clone(), keys.len());
                    keys.push(key);
                    ids.push(id);
                }
            },
            (Columns::Ids(ids), Row::Id(id)) => ids.push(id),
            (Columns::Keys(keys), Row::Key(key)) => keys.push(key),
            (Columns::Text(text), Row::Text(t)) => *text = t,
            (_, row) => return Some(row),
        }
        None
    }

    async fn execute(&self, txn: &Tx<'_, '_>, property: &str) -> Result<(), StoreError> {
        match &self.columns {
            Columns::IdText(a, b, _) => txn.execute(self.sql, &[&property, a, b]).await?,
            Columns::KeyId(a, b, _) => txn.execute(self.sql, &[&property, a, b]).await?,
            Columns::Ids(a) => txn.execute(self.sql, &[&property, a]).await?,
            Columns::Keys(a) => txn.execute(self.sql, &[&property, a]).await?,
            Columns::Text(a) => txn.execute(self.sql, &[&property, a]).await?,
        };
        Ok(())
    }
}

/// The statement and columns of one change; feed events take sequences from
/// `next_feed_seq` on.
fn row_of(
    change: Change<'_>,
    property: &str,
    next_feed_seq: &mut i64,
) -> Result<(&'static str, Row), StoreError> {
    Ok(match change {
        Change::PutAccount(a) => (
            put_rows!("accounts"),
            Row::IdText(sql_id(a.id)?, enc_text(a)),
        ),
        Change::DeleteAccount(id) => (delete_rows!("accounts"), Row::Id(sql_id(id)?)),
        Change::PutLink(k, a) => (PUT_LINKS, Row::KeyId(enc_text(k), sql_id(a)?)),
        Change::DeleteLink(k) => (DELETE_LINKS, Row::Key(enc_text(k))),
        Change::PutAlert(a) => (put_rows!("alerts"), Row::IdText(sql_id(a.id)?, enc_text(a))),
        Change::ArchiveAlert(a) => (ARCHIVE_ALERTS, Row::IdText(sql_id(a.id)?, enc_text(a))),
        Change::SetPmsUnits(units) => (SET_PMS_UNITS, Row::Text(enc_text(&units))),
        Change::PutDoorUnit(u) => (
            put_rows!("door_units"),
            Row::IdText(sql_id(u.id)?, enc_text(u)),
        ),
        Change::PutMapping(k, d) => (PUT_MAPPINGS, Row::KeyId(enc_text(k), sql_id(d)?)),
        Change::DeleteMapping(k) => (DELETE_MAPPINGS, Row::Key(enc_text(k))),
        Change::PutGrant(g) => (put_rows!("grants"), Row::IdText(sql_id(g.id)?, enc_text(g))),
        Change::DeleteGrant(id) => (delete_rows!("grants"), Row::Id(sql_id(id)?)),
        Change::PutSuggestion(sg) => (
            put_rows!("suggestions"),
            Row::IdText(sql_id(sg.id)?, enc_text(sg)),
        ),
        Change::CloseSuggestion(id, outcome) => (
            CLOSE_SUGGESTIONS,
            Row::IdText(sql_id(id)?, outcome.to_owned()),
        ),
        Change::PutMemo(id, m) => (
            put_rows!("access_memos"),
            Row::IdText(sql_id(id)?, enc_text(m)),
        ),
        Change::DeleteMemo(id) => (delete_rows!("access_memos"), Row::Id(sql_id(id)?)),
        Change::AppendFeed(event) => {
            let record = FeedRecord {
                property: property.to_owned(),
                event: event.clone(),
            };
            let seq = *next_feed_seq;
            *next_feed_seq += 1;
            (APPEND_FEED, Row::IdText(seq, enc_text(&record)))
        }
    })
}

/// Writes `plan`'s changes, in their order, in the caller's transaction (which holds
/// the property's row lock).
pub(super) async fn apply_changes(
    txn: &Tx<'_, '_>,
    property: &str,
    plan: &Plan,
) -> Result<(), StoreError> {
    let changes = plan.changes();
    let feed_events = changes
        .iter()
        .filter(|c| matches!(c, Change::AppendFeed(_)))
        .count();
    let mut next_feed_seq = 0i64;
    if feed_events > 0 {
        // Held to the commit: no other writer takes a sequence before this one commits.
        let last: i64 = txn
            .query_one(
                "SELECT value FROM counters WHERE name = 'feed' FOR UPDATE",
                &[],
            )
            .await?
            .get(0);
        next_feed_seq = last + 1;
        txn.execute(
            "UPDATE counters SET value = value + $1 WHERE name = 'feed'",
            &[&(feed_events as i64)],
        )
        .await?;
    }
    let mut batches: Vec<Batch> = Vec::new();
    for change in changes {
        let (sql, row) = row_of(change, property, &mut next_feed_seq)?;
        let left = match batches.last_mut() {
            Some(batch) => batch.take(sql, row),
            None => Some(row),
        };
        if let Some(row) = left {
            batches.push(Batch::new(sql, row));
        }
    }
    for batch in &batches {
        batch.execute(txn, property).await?;
    }
    Ok(())
}
