//! API tokens through the API (admin only): create one (shown once), list them
//! (never their secrets), revoke one; and the service's own audit log, where those
//! acts are recorded. `epms token create` does the same offline, for the first
//! admin token of a new installation.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use epms_engine::AuditEntry;
use epms_store::{Role, StoreError, TokenRecord, token_id};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::auth::{Caller, new_token, token_hash};
use crate::error::ApiError;
use crate::routes::{Access, ApiJson, ApiPath, ApiQuery, ApiResult, Endpoint, actor, endpoint, ok};

pub(crate) fn endpoints() -> Vec<Endpoint> {
    vec![
        endpoint(
            "post",
            "/api/v1/tokens",
            "Create an API token (shown once; only its hash is kept)",
            Access::Admin,
            post(create),
        )
        .json_body::<NewToken>(),
        endpoint(
            "get",
            "/api/v1/tokens",
            "List API tokens (ids, names, roles; never the tokens)",
            Access::Admin,
            get(list),
        ),
        endpoint(
            "delete",
            "/api/v1/tokens/{token}",
            "Revoke an API token by its id",
            Access::Admin,
            delete(revoke),
        ),
        endpoint(
            "get",
            "/api/v1/audit",
            "The service's audit log: tokens and connectors (after a sequence number)",
            Access::Admin,
            get(service_audit),
        ),
    ]
}

#[derive(Deserialize, schemars::JsonSchema)]
struct NewToken {
    name: String,
    role: Role,
    #[serde(default)]
    properties: Vec<String>,
}

/// A role and its properties make sense together, and the properties exist.
fn check_token_request(
    state: &AppState,
    role: &Role,
    properties: &[String],
) -> Result<(), ApiError> {
    if let Some(problem) = role.scope_problem(properties) {
        return Err(ApiError::invalid("properties", problem));
    }
    for p in properties {
        match state.store.property(p) {
            Ok(_) => {}
            Err(StoreError::NoSuchProperty(_)) => {
                return Err(ApiError::invalid(
                    "properties",
                    format!("no property {p:?}"),
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn audit(state: &AppState, caller: &Caller, action: &str, detail: String) -> Result<(), ApiError> {
    state.store.record_service_event(&AuditEntry {
        at: state.now(),
        actor: actor(caller),
        action: action.to_owned(),
        rule: "api".into(),
        account: None,
        pms_key: None,
        detail,
    })?;
    Ok(())
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewToken>,
) -> ApiResult {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("name", "1 to 100 characters"));
    }
    check_token_request(&state, &body.role, &body.properties)?;
    let token = new_token();
    let hash = token_hash(&token);
    let record = TokenRecord {
        name: name.to_owned(),
        role: body.role,
        properties: body.properties,
        created_at: state.now(),
    };
    state.store.put_token(&hash, &record)?;
    let id = token_id(&hash);
    audit(
        &state,
        &caller,
        "token.created",
        format!("token {id} ({name:?}, {:?})", record.role),
    )?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "token": token, "name": record.name, "role": record.role, "properties": record.properties})),
    )
        .into_response())
}

async fn list(State(state): State<AppState>) -> ApiResult {
    let tokens: Vec<_> = state
        .store
        .tokens()?
        .into_iter()
        .map(|(id, t)| json!({"id": id, "name": t.name, "role": t.role, "properties": t.properties, "created_at": t.created_at}))
        .collect();
    ok(json!({ "tokens": tokens }))
}

async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult {
    let record = state.store.revoke_token(&id)?;
    audit(
        &state,
        &caller,
        "token.revoked",
        format!("token {id} ({:?}, {:?})", record.name, record.role),
    )?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct Window {
    after: Option<u64>,
    limit: Option<usize>,
}

async fn service_audit(State(state): State<AppState>, ApiQuery(w): ApiQuery<Window>) -> ApiResult {
    let entries: Vec<_> = state
        .store
        .service_audit(w.after.unwrap_or(0), w.limit.unwrap_or(100).min(1000))?
        .into_iter()
        .map(|(seq, entry)| json!({"seq": seq, "entry": entry}))
        .collect();
    ok(json!({ "entries": entries }))
}
