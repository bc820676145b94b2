//! What happened: a property's audit log and the access event feed.

use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::framework::{
    Access, ApiPath, ApiQuery, ApiResult, Endpoint, endpoint, page_limit, reply,
};

pub(super) fn endpoints() -> Vec<Endpoint> {
    use Access::*;
    vec![
        endpoint(
            "get",
            "/api/v1/properties/{id}/audit",
            "Audit log (after a sequence number)",
            Property,
            get(audit),
        )
        .query::<AuditWindow>()
        .returns::<AuditPage>(),
        endpoint(
            "get",
            "/api/v1/properties/{id}/feed",
            "This property's access events (cursor): the feed as a manager of the property may read it",
            Property,
            get(property_feed),
        )
        .query::<FeedWindow>()
        .returns::<FeedPage>(),
        endpoint(
            "get",
            "/api/v1/feed",
            "Access event feed (cursor)",
            Admin,
            get(feed),
        )
        .query::<FeedWindow>()
        .returns::<FeedPage>(),
    ]
}

/// How many of a history to show: the newest first.
#[derive(Deserialize, schemars::JsonSchema)]
pub(super) struct HistoryWindow {
    /// Entries to show (default 100).
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<usize>,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(super) struct AuditWindow {
    /// Entries after this sequence number (default 0: from the first).
    pub after: Option<u64>,
    /// Entries to show (default 200).
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<usize>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct Sequenced<T> {
    pub seq: u64,
    #[serde(flatten)]
    pub item: T,
}

#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct Entry {
    pub entry: epms_engine::AuditEntry,
}

#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct AuditPage {
    pub entries: Vec<Sequenced<Entry>>,
}

async fn audit(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(w): ApiQuery<AuditWindow>,
) -> ApiResult {
    let limit = page_limit(w.limit, 200, 1_000)?;
    state.store.property(&id)?;
    reply(AuditPage {
        entries: state
            .store
            .audit(&id, w.after.unwrap_or(0), limit)?
            .into_iter()
            .map(|(seq, entry)| Sequenced {
                seq,
                item: Entry { entry },
            })
            .collect(),
    })
}

#[derive(Deserialize, schemars::JsonSchema)]
struct FeedWindow {
    /// Events after this sequence number: the `cursor` of the previous page (default
    /// 0: from the first).
    cursor: Option<u64>,
    /// Events to show (default 500).
    #[schemars(range(min = 1, max = 5000))]
    limit: Option<usize>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct Event {
    pub event: epms_store::FeedRecord,
}

#[derive(Serialize, schemars::JsonSchema)]
struct FeedPage {
    events: Vec<Sequenced<Event>>,
    /// Where the next page starts (the last event's `seq`, or the cursor given).
    cursor: Option<u64>,
}

async fn feed(State(state): State<AppState>, ApiQuery(w): ApiQuery<FeedWindow>) -> ApiResult {
    let limit = page_limit(w.limit, 500, 5_000)?;
    let events: Vec<Sequenced<Event>> = state
        .store
        .feed(w.cursor.unwrap_or(0), limit)?
        .into_iter()
        .map(|(seq, event)| Sequenced {
            seq,
            item: Event { event },
        })
        .collect();
    let cursor = events.last().map(|e| e.seq).or(w.cursor);
    reply(FeedPage { events, cursor })
}

/// Most feed events one request of a property's feed looks through: the feed is one
/// sequence for every property, so a quiet property's page may end early, with the
/// cursor where the look stopped.
const FEED_SCAN: usize = 50_000;

async fn property_feed(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(w): ApiQuery<FeedWindow>,
) -> ApiResult {
    let limit = page_limit(w.limit, 500, 5_000)?;
    state.store.property(&id)?;
    let mut cursor = w.cursor.unwrap_or(0);
    let mut events = Vec::new();
    let mut scanned = 0;
    'scan: while scanned < FEED_SCAN {
        let batch = state.store.feed(cursor, 1_000)?;
        if batch.is_empty() {
            break;
        }
        for (seq, event) in batch {
            scanned += 1;
            cursor = seq;
            if event.property == id {
                events.push(Sequenced {
                    seq,
                    item: Event { event },
                });
                if events.len() == limit {
                    break 'scan;
                }
            }
        }
    }
    reply(FeedPage {
        events,
        // Where the look stopped: past the events of other properties too.
        cursor: (cursor > 0).then_some(cursor).or(w.cursor),
    })
}
