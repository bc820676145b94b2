//! Why: what the last sync did with each PMS record, and why a person has, or has
//! not, access (docs/rules.md, "Explanations").

use axum::extract::State;
use axum::routing::get;
use epms_engine::RecordDisposition;
use serde::{Deserialize, Serialize};

use super::audit::{Entry, Event, HistoryWindow, Sequenced};
use crate::AppState;
use crate::error::ApiError;
use crate::framework::{
    Access, ApiPath, ApiQuery, ApiResult, Endpoint, endpoint, page_limit, reply,
};

pub(super) fn endpoints() -> Vec<Endpoint> {
    use Access::*;
    vec![
        endpoint(
            "get",
            "/api/v1/properties/{id}/records",
            "What the last sync did with each PMS resident record, and why (searchable)",
            Property,
            get(records),
        )
        .query::<RecordQuery>()
        .returns::<RecordsPage>(),
        endpoint(
            "get",
            "/api/v1/properties/{id}/people/{account}/why",
            "Why a person has, or has not, access: keys with causes, what waits, their PMS records and history",
            Property,
            get(why),
        )
        .numeric(&["account"])
        .query::<HistoryWindow>()
        .returns::<WhyAnswer>(),
    ]
}

/// A disposition's outcome, or every outcome but `synced`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
enum OutcomeFilter {
    Synced,
    NotSynced,
    Guarantor,
    NoLease,
    ExcludedStatus,
    StatusNeverSynced,
    MissingEmail,
    MalformedEmail,
    SharesEmail,
    WaitingOnAlert,
}

impl OutcomeFilter {
    fn admits(self, d: &RecordDisposition) -> bool {
        let word = d.outcome.as_str();
        match self {
            OutcomeFilter::NotSynced => word != "synced",
            other => other.word() == word,
        }
    }

    /// The outcome word it filters by ([`epms_engine::Disposition::as_str`]).
    fn word(self) -> &'static str {
        match self {
            OutcomeFilter::Synced => "synced",
            OutcomeFilter::NotSynced => "not-synced",
            OutcomeFilter::Guarantor => "guarantor",
            OutcomeFilter::NoLease => "no-lease",
            OutcomeFilter::ExcludedStatus => "excluded-status",
            OutcomeFilter::StatusNeverSynced => "status-never-synced",
            OutcomeFilter::MissingEmail => "missing-email",
            OutcomeFilter::MalformedEmail => "malformed-email",
            OutcomeFilter::SharesEmail => "shares-email",
            OutcomeFilter::WaitingOnAlert => "waiting-on-alert",
        }
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
struct RecordQuery {
    /// Text in the record's name, email, PMS resident id or PMS unit (any case).
    #[schemars(length(max = 200))]
    q: Option<String>,
    /// Only records with this outcome (`not-synced`: every outcome but `synced`).
    outcome: Option<OutcomeFilter>,
    /// Matching records to skip (default 0).
    offset: Option<usize>,
    /// Records in the page (default 100).
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<usize>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct RecordsPage<'a> {
    /// When the sync these dispositions are from started (absent before a sync planned).
    planned_at: Option<i64>,
    /// Records matching the query.
    total: usize,
    next_offset: Option<usize>,
    records: Vec<&'a RecordDisposition>,
}

async fn records(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<RecordQuery>,
) -> ApiResult {
    let limit = page_limit(query.limit, 100, 1_000)?;
    let needle = match query.q.as_deref().map(str::trim) {
        Some(q) if q.chars().count() > 200 => {
            return Err(ApiError::invalid("q", "at most 200 characters"));
        }
        Some(q) => q.to_lowercase(),
        None => String::new(),
    };
    state.store.property(&id)?;
    let kept = state.store.dispositions(&id)?;
    let all: &[RecordDisposition] = kept.as_ref().map_or(&[], |k| &k.records);
    let matching: Vec<&RecordDisposition> = all
        .iter()
        .filter(|d| query.outcome.is_none_or(|o| o.admits(d)))
        .filter(|d| needle.is_empty() || d.matches(&needle))
        .collect();
    let offset = query.offset.unwrap_or(0);
    let page: Vec<&RecordDisposition> = matching.iter().skip(offset).take(limit).copied().collect();
    let next = offset.saturating_add(page.len());
    reply(RecordsPage {
        planned_at: kept.as_ref().map(|k| k.planned_at),
        total: matching.len(),
        next_offset: (next < matching.len()).then_some(next),
        records: page,
    })
}

#[derive(Serialize, schemars::JsonSchema)]
struct WhyAnswer<'a> {
    #[serde(flatten)]
    access: epms_engine::why::AccessExplanation<'a>,
    /// The person's audit entries, newest first: what the syncs and managers did
    /// (suggestions created, approved, discarded, superseded; keys given and taken).
    history: Vec<Sequenced<Entry>>,
    /// The person's access events as the lock platform received them, newest first.
    events: Vec<Sequenced<Event>>,
}

async fn why(
    State(state): State<AppState>,
    ApiPath((id, account)): ApiPath<(String, u64)>,
    ApiQuery(w): ApiQuery<HistoryWindow>,
) -> ApiResult {
    let limit = page_limit(w.limit, 100, 1_000)?;
    let record = state.store.property(&id)?;
    let door = state.store.state(&id)?;
    let kept = state.store.dispositions(&id)?;
    let access = epms_engine::why::explain_access(
        &door,
        &record.settings,
        account,
        kept.as_ref().map_or(&[], |k| &k.records),
        state.now(),
    )
    .ok_or_else(|| ApiError::not_found(format!("account {account} in property {id}")))?;
    let history = state
        .store
        .account_audit(&id, account, limit)?
        .into_iter()
        .map(|(seq, entry)| Sequenced {
            seq,
            item: Entry { entry },
        })
        .collect();
    let events = state
        .store
        .account_feed(&id, account, limit)?
        .into_iter()
        .map(|(seq, event)| Sequenced {
            seq,
            item: Event { event },
        })
        .collect();
    reply(WhyAnswer {
        access,
        history,
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use epms_engine::{AlertType, Disposition, Linked};

    /// The filter's words are the dispositions' own: a filter that names an outcome
    /// no disposition has would silently match nothing.
    #[test]
    fn every_outcome_filter_is_the_word_of_a_disposition() {
        let outcomes = [
            Disposition::Synced {
                account: 1,
                linked: Linked::Created,
                door_unit: None,
                unmapped_pms_unit: None,
            },
            Disposition::Guarantor,
            Disposition::NoLease,
            Disposition::ExcludedStatus,
            Disposition::StatusNeverSynced { statuses: vec![] },
            Disposition::MissingEmail,
            Disposition::MalformedEmail {
                detail: String::new(),
            },
            Disposition::SharesEmail { with: vec![] },
            Disposition::WaitingOnAlert {
                alert_type: Some(AlertType::NameMismatch),
            },
        ];
        let words: Vec<&str> = outcomes.iter().map(Disposition::as_str).collect();
        for filter in [
            OutcomeFilter::Synced,
            OutcomeFilter::Guarantor,
            OutcomeFilter::NoLease,
            OutcomeFilter::ExcludedStatus,
            OutcomeFilter::StatusNeverSynced,
            OutcomeFilter::MissingEmail,
            OutcomeFilter::MalformedEmail,
            OutcomeFilter::SharesEmail,
            OutcomeFilter::WaitingOnAlert,
        ] {
            assert!(words.contains(&filter.word()), "{filter:?}");
            let as_query: OutcomeFilter =
                serde_json::from_value(serde_json::json!(filter.word())).unwrap();
            assert_eq!(as_query, filter, "the query word is the filter's word");
        }
        assert_eq!(words.len(), 9);
    }
}
