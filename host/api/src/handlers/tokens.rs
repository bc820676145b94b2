//! API tokens through the API (admin only): create one (shown once), list them
//! (never their secrets), revoke one; and the service's own audit log, where those
//! acts are recorded. `epms token create` does the same offline, for the first
//! admin token of a new installation.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use epms_store::{Role, StoreError, TokenRecord, token_id};
use serde::{Deserialize, Serialize};

use super::audit::{AuditPage, AuditWindow, Entry, Sequenced};
use super::record_service;
use crate::AppState;
use crate::auth::{Caller, new_token, token_hash};
use crate::error::ApiError;
use crate::framework::{
    Access, ApiJson, ApiPath, ApiQuery, ApiResult, Endpoint, check_name, created, endpoint,
    page_limit, reply,
};

pub(super) fn endpoints() -> Vec<Endpoint> {
    vec![
        endpoint(
            "post",
            "/api/v1/tokens",
            "Create an API token (shown once; only its hash is kept)",
            Access::Admin,
            post(create),
        )
        .json_body::<NewToken>()
        .creates::<CreatedToken>(),
        endpoint(
            "get",
            "/api/v1/tokens",
            "List API tokens (ids, names, roles; never the tokens)",
            Access::Admin,
            get(list),
        )
        .returns::<Tokens>(),
        endpoint(
            "delete",
            "/api/v1/tokens/{token_id}",
            "Revoke an API token by its id",
            Access::Admin,
            delete(revoke),
        )
        .no_content(),
        endpoint(
            "get",
            "/api/v1/audit",
            "The service's audit log: tokens and connectors (after a sequence number)",
            Access::Admin,
            get(service_audit),
        )
        .query::<AuditWindow>()
        .returns::<AuditPage>(),
    ]
}

#[derive(Deserialize, schemars::JsonSchema)]
#[schemars(example = serde_json::json!({"name": "front desk", "role": "property-manager", "properties": ["door-acme"]}))]
struct NewToken {
    /// 1 to 100 characters, not blank.
    #[schemars(length(min = 1, max = 100))]
    name: String,
    role: Role,
    #[serde(default)]
    properties: Vec<String>,
}

/// A token as listed (never the token itself).
#[derive(Serialize, schemars::JsonSchema)]
struct TokenView {
    id: String,
    name: String,
    role: Role,
    properties: Vec<String>,
    created_at: i64,
}

/// A new token: the only answer that holds it.
#[derive(Serialize, schemars::JsonSchema)]
struct CreatedToken {
    token: String,
    #[serde(flatten)]
    view: TokenView,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Tokens {
    tokens: Vec<TokenView>,
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

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewToken>,
) -> ApiResult {
    check_name("name", &body.name)?;
    let name = body.name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid("name", "must not be blank"));
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
    record_service(
        &state,
        &caller,
        "token.created",
        format!("token {id} ({name:?}, {:?})", record.role),
    )?;
    created(CreatedToken {
        token,
        view: TokenView {
            id: id.to_owned(),
            name: record.name,
            role: record.role,
            properties: record.properties,
            created_at: record.created_at,
        },
    })
}

async fn list(State(state): State<AppState>) -> ApiResult {
    reply(Tokens {
        tokens: state
            .store
            .tokens()?
            .into_iter()
            .map(|(id, t)| TokenView {
                id,
                name: t.name,
                role: t.role,
                properties: t.properties,
                created_at: t.created_at,
            })
            .collect(),
    })
}

async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult {
    let record = state.store.revoke_token(&id)?;
    record_service(
        &state,
        &caller,
        "token.revoked",
        format!("token {id} ({:?}, {:?})", record.name, record.role),
    )?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn service_audit(
    State(state): State<AppState>,
    ApiQuery(w): ApiQuery<AuditWindow>,
) -> ApiResult {
    let limit = page_limit(w.limit, 100, 1_000)?;
    reply(AuditPage {
        entries: state
            .store
            .service_audit(w.after.unwrap_or(0), limit)?
            .into_iter()
            .map(|(seq, entry)| Sequenced {
                seq,
                item: Entry { entry },
            })
            .collect(),
    })
}
