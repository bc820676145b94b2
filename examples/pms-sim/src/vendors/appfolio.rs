//! AppFolio reports API v2 (docs/vendors.md, "AppFolio").
//!
//! - `POST {base}/api/v2/reports/{report}.json`, HTTP Basic `client_id:client_secret`,
//!   a JSON filter body (`{"properties":{"properties_ids":[…]}}`).
//! - Reports: `property_directory`, `unit_directory`, `tenant_directory`, `rent_roll`.
//! - Paging: `{"results":[…],"next_page_url":"/api/v2/reports/….json?…"}` (relative);
//!   POST `{}` to it until it is null. At most 5,000 rows a page; `?per_page=N` on the
//!   first request lowers it (our extension, for tests).
//! - Rate limit: 7 requests per 15 s per credential, then `429` with `Retry-After`.
//! - Errors are plain HTTP codes 400/401/404/429/500 with a short text body.
//! - Statuses: Current, Notice, Past, Future, Evict; AppFolio's directory has no
//!   applicants or cancelled leases, so the dataset drops them for this vendor.
//! - `emails` is semicolon-separated: a second address is added for some tenants
//!   (the first is the one connectors keep). Low confidence, our choice: `tenant_type`
//!   (Primary, Roommate, Occupant, Guarantor) for the household role; `unit_type` on
//!   unit rows (no building, no vacancy: the recorded unit directory has neither).
//!   As recorded: ids are integers, rent-roll dates ISO (`2026-10-31`) or `null`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use base64::Engine as _;
use epms_model::{HouseholdRole, LeaseStatus};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::SimState;
use crate::dataset::{SimCredential, SimProperty};
use crate::faults::Forced;
use crate::vendors::WireId;

pub const CLIENT_ID: &str = "af-client-2c71";
pub const CLIENT_SECRET: &str = "af-secret-9d04";
pub const MAX_PER_PAGE: usize = 5_000;
/// Requests allowed per window, per credential.
pub const RATE_LIMIT: (usize, Duration) = (7, Duration::from_secs(15));

pub fn default_credential() -> SimCredential {
    SimCredential {
        vendor: "appfolio".into(),
        fields: vec![
            ("client-id".into(), CLIENT_ID.into()),
            ("client-secret".into(), CLIENT_SECRET.into()),
        ],
    }
}

pub fn raw_status(status: LeaseStatus) -> &'static str {
    match status {
        LeaseStatus::Future => "Future",
        LeaseStatus::Current => "Current",
        LeaseStatus::Notice => "Notice",
        LeaseStatus::Past => "Past",
        // Not in AppFolio's vocabulary; the dataset drops such leases for this vendor.
        LeaseStatus::Applicant
        | LeaseStatus::Cancelled
        | LeaseStatus::Denied
        | LeaseStatus::Other => "Unknown",
    }
}

/// Whether AppFolio's reports carry leases of this status.
pub fn serves(status: LeaseStatus) -> bool {
    matches!(
        status,
        LeaseStatus::Future | LeaseStatus::Current | LeaseStatus::Notice | LeaseStatus::Past
    )
}

fn tenant_type(role: HouseholdRole) -> &'static str {
    match role {
        HouseholdRole::Primary => "Primary",
        HouseholdRole::CoResident => "Roommate",
        HouseholdRole::Occupant => "Occupant",
        HouseholdRole::Guarantor => "Guarantor",
        HouseholdRole::Other => "Other",
    }
}

pub fn router(state: SimState) -> Router {
    Router::new()
        .route("/api/v2/reports/{report}", post(report))
        .with_state(state)
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<usize>,
    per_page: Option<usize>,
    properties_ids: Option<String>,
}

fn plain(status: StatusCode, text: &str) -> Response {
    (status, text.to_owned()).into_response()
}

/// Counts the request against the credential's window; `Some(retry_after)` if over.
fn rate_limited(state: &SimState) -> Option<u64> {
    let mut all = state.requests.lock().unwrap_or_else(|p| p.into_inner());
    let times: &mut VecDeque<Instant> = all.entry("appfolio".into()).or_default();
    let now = Instant::now();
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= RATE_LIMIT.1)
    {
        times.pop_front();
    }
    if times.len() >= RATE_LIMIT.0 {
        let oldest = *times.front()?;
        return Some(
            RATE_LIMIT
                .1
                .saturating_sub(now.duration_since(oldest))
                .as_secs()
                .max(1),
        );
    }
    times.push_back(now);
    None
}

async fn report(
    State(state): State<SimState>,
    Path(report): Path<String>,
    Query(q): Query<PageQuery>,
    forced: Option<Extension<Forced>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let forced = forced.map(|f| f.0);
    let expected = state.read(|p| {
        p.credential("appfolio").map(|c| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    c.get("client-id").unwrap_or_default(),
                    c.get("client-secret").unwrap_or_default()
                ))
            )
        })
    });
    if forced == Some(Forced::AuthFailure)
        || expected.is_none()
        || headers.get("authorization").and_then(|v| v.to_str().ok()) != expected.as_deref()
    {
        return plain(StatusCode::UNAUTHORIZED, "HTTP Basic: Access denied.");
    }
    if state.rate_limit_enabled("appfolio")
        && let Some(retry) = rate_limited(&state)
    {
        let mut r = plain(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded");
        r.headers_mut()
            .insert("retry-after", HeaderValue::from(retry));
        return r;
    }
    let Some(name) = report.strip_suffix(".json") else {
        return plain(StatusCode::NOT_ACCEPTABLE, "Only .json reports are served.");
    };
    let filter: Value = if body.trim().is_empty() {
        json!({})
    } else {
        match serde_json::from_str(&body) {
            Ok(v) => v,
            Err(_) => return plain(StatusCode::BAD_REQUEST, "Malformed JSON body."),
        }
    };
    // The first page names the properties in the body; later pages carry them in the URL.
    let ids: Vec<String> = match &q.properties_ids {
        Some(list) => list
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        None => filter
            .pointer("/properties/properties_ids")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .or_else(|| v.as_u64().map(|n| n.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    let page = q.page.unwrap_or(1).max(1);
    let per_page = q.per_page.unwrap_or(MAX_PER_PAGE).clamp(1, MAX_PER_PAGE);
    let answer = state.read(|portfolio| {
        let props: Vec<&SimProperty> = portfolio
            .properties
            .iter()
            .filter(|p| p.vendor == "appfolio" && (ids.is_empty() || ids.contains(&p.id)))
            .collect();
        let listing = Listing {
            props: &props,
            report: &report,
            ids: &ids,
            page,
            per_page,
            forced,
        };
        Some(match name {
            "property_directory" => listing.answer(
                |_| 1,
                |p, _| PropertyRow {
                    property_id: WireId(&p.id),
                    property_name: &p.name,
                },
            ),
            "unit_directory" => listing.answer(|p| p.units.len(), unit_row),
            "tenant_directory" => listing.answer(|p| p.residents.len(), tenant_row),
            "rent_roll" => listing.answer(|p| p.leases.len(), rent_roll_row),
            _ => return None,
        })
    });
    answer.unwrap_or_else(|| plain(StatusCode::NOT_FOUND, "No such report."))
}

/// One page of a report over the listed properties: only its rows are rendered, and
/// serialised straight from borrowed records.
struct Listing<'a, 'p> {
    props: &'a [&'p SimProperty],
    report: &'a str,
    ids: &'a [String],
    page: usize,
    per_page: usize,
    forced: Option<Forced>,
}

impl<'p> Listing<'_, 'p> {
    fn answer<R: Serialize>(
        &self,
        count: impl Fn(&SimProperty) -> usize,
        row: impl Fn(&'p SimProperty, usize) -> R,
    ) -> Response {
        let total = if self.forced == Some(Forced::Empty) {
            0
        } else {
            self.props.iter().map(|p| count(p)).sum()
        };
        let start = ((self.page - 1) * self.per_page).min(total);
        let end = (start + self.per_page).min(total);
        let mut results = Vec::with_capacity(end - start);
        let mut offset = 0;
        for p in self.props {
            let n = count(p);
            let (from, to) = (start.max(offset), end.min(offset + n));
            results.extend((from..to).map(|i| row(p, i - offset)));
            offset += n;
        }
        if self.forced == Some(Forced::PartialPage) {
            results.truncate(results.len() / 2);
        }
        let next_page_url = (end < total).then(|| {
            format!(
                "/api/v2/reports/{}?page={}&per_page={}&properties_ids={}",
                self.report,
                self.page + 1,
                self.per_page,
                self.ids.join(",")
            )
        });
        let rows = results.len();
        let page = Page {
            results,
            next_page_url,
        };
        super::json_answer(StatusCode::OK, &page, rows)
    }
}

#[derive(Serialize)]
struct Page<R> {
    results: Vec<R>,
    next_page_url: Option<String>,
}

#[derive(Serialize)]
struct PropertyRow<'a> {
    property_id: WireId<'a>,
    property_name: &'a str,
}

#[derive(Serialize)]
struct UnitRow<'a> {
    unit_id: WireId<'a>,
    unit_name: &'a str,
    property_id: WireId<'a>,
    unit_address: String,
    bedrooms: u32,
    unit_type: Option<&'a str>,
}

fn unit_row(p: &SimProperty, i: usize) -> UnitRow<'_> {
    let u = &p.units[i];
    UnitRow {
        unit_id: WireId(&u.id),
        unit_name: &u.number,
        property_id: WireId(&p.id),
        unit_address: format!("{} Example St {}", p.id, u.number),
        bedrooms: 1,
        unit_type: u.floorplan.as_deref(),
    }
}

/// A second address for some tenants, to exercise the semicolon list. Only after a
/// valid first address: a connector keeps the first valid one, which the ground truth
/// (the canonical record) then still describes.
fn emails(id: &str, email: Option<&str>) -> String {
    match email {
        Some(e)
            if crate::dataset::is_email(e.trim())
                && id.bytes().map(u32::from).sum::<u32>() % 5 == 0 =>
        {
            format!("{e}; {id}@alt.example.com")
        }
        Some(e) => e.to_owned(),
        None => String::new(),
    }
}

#[derive(Serialize)]
struct TenantRow<'a> {
    selected_tenant_id: WireId<'a>,
    occupancy_id: Option<WireId<'a>>,
    property_id: WireId<'a>,
    unit_id: Option<WireId<'a>>,
    unit: Option<&'a str>,
    first_name: &'a str,
    last_name: &'a str,
    emails: String,
    phone_numbers: &'a str,
    status: &'a str,
    tenant_type: &'static str,
}

fn tenant_row(p: &SimProperty, i: usize) -> TenantRow<'_> {
    let idx = p.index();
    let r = &p.residents[i];
    TenantRow {
        selected_tenant_id: WireId(&r.id),
        occupancy_id: r.lease_id.as_deref().map(WireId),
        property_id: WireId(&p.id),
        unit_id: r.unit_id.as_deref().map(WireId),
        unit: idx.unit(r.unit_id.as_deref()).map(|u| u.number.as_str()),
        first_name: &r.first_name,
        last_name: &r.last_name,
        emails: emails(&r.id, p.wire_email(r)),
        phone_numbers: r.phone.as_deref().unwrap_or_default(),
        status: idx
            .lease(r.lease_id.as_deref())
            .map(|l| l.raw_status.as_str())
            .unwrap_or_default(),
        tenant_type: tenant_type(r.role),
    }
}

#[derive(Serialize)]
struct RentRollRow<'a> {
    property_id: WireId<'a>,
    unit_id: Option<WireId<'a>>,
    unit: Option<&'a str>,
    building_id: Option<&'a str>,
    occupancy_id: WireId<'a>,
    tenant_id: WireId<'a>,
    additional_tenant_ids: String,
    status: &'a str,
    // ISO dates and `null`, as recorded.
    lease_from: Option<&'a str>,
    lease_to: Option<&'a str>,
    move_in: Option<&'a str>,
    move_out: Option<&'a str>,
}

fn rent_roll_row(p: &SimProperty, i: usize) -> RentRollRow<'_> {
    let idx = p.index();
    let l = &p.leases[i];
    let unit = idx.unit(l.unit_id.as_deref());
    RentRollRow {
        property_id: WireId(&p.id),
        unit_id: l.unit_id.as_deref().map(WireId),
        unit: unit.map(|u| u.number.as_str()),
        building_id: unit.and_then(|u| u.building.as_deref()),
        occupancy_id: WireId(&l.id),
        tenant_id: WireId(l.resident_ids.first().map_or("", String::as_str)),
        additional_tenant_ids: l.resident_ids.get(1..).unwrap_or_default().join(","),
        status: &l.raw_status,
        lease_from: l.start_date.as_deref(),
        lease_to: l.end_date.as_deref(),
        move_in: l.move_in_date.as_deref(),
        move_out: l.move_out_date.as_deref(),
    }
}
