//! DOOR properties and their integration: credential, PMS property ids, settings,
//! sync interval.

use std::collections::HashSet;

use axum::extract::State;
use axum::routing::{get, post, put};
use epms_engine::{DoorState, Settings};
use epms_store::PropertyRecord;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::framework::{
    Access, ApiJson, ApiPath, ApiResult, Endpoint, ID_PATTERN, check_id, check_name, created,
    endpoint, reply,
};
use crate::scheduler::{MAX_INTERVAL_MINUTES, MIN_INTERVAL_MINUTES};

pub(super) fn endpoints() -> Vec<Endpoint> {
    use Access::*;
    let list = vec![
        endpoint(
            "post",
            "/api/v1/properties",
            "Create a DOOR property",
            Admin,
            post(create_property),
        )
        .json_body::<NewProperty>()
        .creates::<PropertyView>(),
        endpoint(
            "get",
            "/api/v1/properties",
            "List the properties the token may see",
            AnyToken,
            get(list_properties),
        )
        .returns::<Properties>(),
        endpoint(
            "get",
            "/api/v1/properties/{id}",
            "A property with its badge and last successful sync",
            Property,
            get(get_property),
        )
        .returns::<PropertyView>(),
        endpoint(
            "put",
            "/api/v1/properties/{id}/integration",
            "Set the integration: credential, PMS ids, settings, sync interval",
            Admin,
            put(set_integration),
        )
        .json_body::<Integration>()
        .returns::<PropertyView>(),
    ];
    list
}

#[derive(Deserialize, schemars::JsonSchema)]
#[schemars(example = serde_json::json!({"id": "door-new", "name": "New building"}))]
struct NewProperty {
    #[schemars(regex(pattern = ID_PATTERN))]
    id: String,
    #[schemars(length(min = 1, max = 100))]
    name: String,
}

/// A property as the API shows it.
#[derive(Serialize, schemars::JsonSchema)]
struct PropertyView {
    id: String,
    name: String,
    credential_id: Option<String>,
    pms_property_ids: Vec<String>,
    settings: Settings,
    /// When its last successful sync finished (unix seconds).
    last_sync_ok: Option<i64>,
    sync_interval_minutes: Option<u32>,
    /// Open alerts plus pending suggestions (on a single property only).
    #[serde(skip_serializing_if = "Option::is_none")]
    badge: Option<usize>,
    /// DOOR accounts (on a single property only).
    #[serde(skip_serializing_if = "Option::is_none")]
    residents: Option<usize>,
}

impl PropertyView {
    fn new(p: &PropertyRecord, door: Option<&DoorState>) -> Self {
        PropertyView {
            id: p.id.clone(),
            name: p.name.clone(),
            credential_id: p.credential_id.clone(),
            pms_property_ids: p.pms_property_ids.clone(),
            settings: p.settings.clone(),
            last_sync_ok: p.last_sync_ok,
            sync_interval_minutes: p.sync_interval_minutes,
            badge: door.map(DoorState::badge),
            residents: door.map(|d| d.accounts.len()),
        }
    }
}

#[derive(Serialize, schemars::JsonSchema)]
struct Properties {
    properties: Vec<PropertyView>,
}

async fn create_property(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewProperty>,
) -> ApiResult {
    check_id("id", &body.id)?;
    check_name("name", &body.name)?;
    let record = PropertyRecord::new(&body.id, &body.name, state.now());
    state.store.create_property(&record)?;
    created(PropertyView::new(&record, None))
}

async fn list_properties(State(state): State<AppState>, caller: Caller) -> ApiResult {
    reply(Properties {
        properties: state
            .store
            .properties()?
            .iter()
            .filter(|p| caller.can_see(&p.id))
            .map(|p| PropertyView::new(p, None))
            .collect(),
    })
}

async fn get_property(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult {
    let p = state.store.property(&id)?;
    let door = state.store.state(&id)?;
    reply(PropertyView::new(&p, Some(&door)))
}

#[derive(Deserialize, schemars::JsonSchema)]
struct Integration {
    /// A credential's id; its connector must see every one of `pms_property_ids`.
    credential_id: Option<String>,
    /// PMS property ids, each once.
    pms_property_ids: Vec<String>,
    settings: Settings,
    /// Minutes between scheduled syncs (absent: the service default).
    #[serde(default)]
    #[schemars(range(min = MIN_INTERVAL_MINUTES, max = MAX_INTERVAL_MINUTES))]
    sync_interval_minutes: Option<u32>,
}

/// What an integration may not say although its shape is right: a credential that
/// does not exist, statuses outside the connector's vocabulary, a PMS property id
/// listed twice or that the credential does not see. The PMS is asked for the
/// properties the credential sees, so it must be reachable.
async fn check_integration(state: &AppState, body: &Integration) -> Result<(), ApiError> {
    if let Some(m) = body.sync_interval_minutes
        && !(MIN_INTERVAL_MINUTES..=MAX_INTERVAL_MINUTES).contains(&m)
    {
        return Err(ApiError::invalid(
            "sync_interval_minutes",
            format!("must be between {MIN_INTERVAL_MINUTES} and {MAX_INTERVAL_MINUTES}"),
        ));
    }
    body.settings
        .validate()
        .map_err(|e| ApiError::invalid(e.field, e.message))?;
    let mut seen = HashSet::new();
    if let Some(twice) = body
        .pms_property_ids
        .iter()
        .find(|id| !seen.insert(id.trim()))
    {
        return Err(ApiError::invalid(
            "pms_property_ids",
            format!("{twice:?} is listed twice"),
        ));
    }
    let Some(c) = &body.credential_id else {
        return Ok(());
    };
    let cred = state
        .store
        .credential(c)
        .map_err(|_| ApiError::conflict("no-such-credential", format!("no credential {c:?}")))?;
    let Some(connector) = state.connector(&cred.vendor) else {
        return Ok(());
    };
    let vocabulary = &connector.info().status_vocabulary;
    if let Some(bad) = body
        .settings
        .excluded_statuses
        .iter()
        .find(|s| !vocabulary.contains(s))
    {
        return Err(ApiError::invalid(
            "settings.excluded_statuses",
            format!(
                "{bad:?} is not in {}'s vocabulary {vocabulary:?}",
                cred.vendor
            ),
        ));
    }
    if body.pms_property_ids.is_empty() {
        return Ok(());
    }
    let mut session = super::credentials::open_session(state, c).await?;
    let seen: HashSet<String> = session
        .list_properties()
        .await
        .map_err(ApiError::from_call)?
        .into_iter()
        .map(|p| p.id)
        .collect();
    if let Some(unseen) = body
        .pms_property_ids
        .iter()
        .find(|id| !seen.contains(id.trim()))
    {
        return Err(ApiError::invalid(
            "pms_property_ids",
            format!(
                "credential {c:?} does not see PMS property {unseen:?} (it sees {} properties: GET /api/v1/credentials/{c}/pms-properties)",
                seen.len()
            ),
        ));
    }
    Ok(())
}

async fn set_integration(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Integration>,
) -> ApiResult {
    state.store.property(&id)?;
    check_integration(&state, &body).await?;
    let updated = state.store.update_property(&id, &mut |p| {
        p.credential_id = body.credential_id.clone();
        p.pms_property_ids = body.pms_property_ids.clone();
        p.settings = body.settings.clone();
        p.sync_interval_minutes = body.sync_interval_minutes;
    })?;
    reply(PropertyView::new(&updated, None))
}
