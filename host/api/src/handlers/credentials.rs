//! Vendor credentials: created with their secrets (write-only, sealed at rest),
//! listed by secret name only, checked through their connector, and the PMS
//! properties each one sees.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::routing::{get, post};
use epms_runtime::Credential;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiError;
use crate::framework::{
    Access, ApiJson, ApiPath, ApiResult, Endpoint, ID_PATTERN, check_id, created, endpoint, reply,
};

pub(super) fn endpoints() -> Vec<Endpoint> {
    use Access::*;
    let list = vec![
        endpoint(
            "post",
            "/api/v1/credentials",
            "Create a vendor credential (secrets write-only)",
            Admin,
            post(create_credential),
        )
        .json_body::<NewCredential>()
        .creates::<CredentialView>(),
        endpoint(
            "get",
            "/api/v1/credentials",
            "List credentials (secret names, never values)",
            Admin,
            get(list_credentials),
        )
        .returns::<Credentials>(),
        endpoint(
            "post",
            "/api/v1/credentials/{id}/check",
            "Check a credential through its connector",
            Admin,
            post(check_credential),
        )
        .returns::<Checked>(),
        endpoint(
            "get",
            "/api/v1/credentials/{id}/pms-properties",
            "The PMS properties a credential sees",
            Admin,
            get(pms_properties),
        )
        .returns::<PmsProperties>(),
    ];
    list
}

#[derive(Deserialize, schemars::JsonSchema)]
#[schemars(example = serde_json::json!({"id": "acme-second", "vendor": "acme", "fields": {"base-url": "http://127.0.0.1:9/acme", "api-key": "change-me"}}))]
struct NewCredential {
    #[schemars(regex(pattern = ID_PATTERN))]
    id: String,
    /// A vendor with a loaded connector (`GET /api/v1/connectors`).
    vendor: String,
    /// The connector's config fields (its `info.config_fields`), secret ones included.
    fields: BTreeMap<String, String>,
}

/// A credential as the API shows it: secrets by name only, never their values.
#[derive(Serialize, schemars::JsonSchema)]
struct CredentialView {
    id: String,
    vendor: String,
    settings: BTreeMap<String, String>,
    /// The names of its secret fields.
    secrets: Vec<String>,
}

impl From<&epms_store::CredentialRecord> for CredentialView {
    fn from(c: &epms_store::CredentialRecord) -> Self {
        CredentialView {
            id: c.id.clone(),
            vendor: c.vendor.clone(),
            settings: c.settings.clone(),
            secrets: c.sealed_secrets.keys().cloned().collect(),
        }
    }
}

#[derive(Serialize, schemars::JsonSchema)]
struct Credentials {
    credentials: Vec<CredentialView>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Checked {
    id: String,
    ok: bool,
}

#[derive(Serialize, schemars::JsonSchema)]
struct PmsProperties {
    properties: Vec<epms_model::PmsProperty>,
}

async fn create_credential(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewCredential>,
) -> ApiResult {
    check_id("id", &body.id)?;
    let connector = state.connector(&body.vendor).ok_or_else(|| {
        ApiError::conflict(
            "no-connector",
            format!("no connector loaded for vendor {:?}", body.vendor),
        )
    })?;
    // Validate against the connector's declared fields before storing anything.
    Credential::from_fields(connector.info(), body.fields.clone())
        .map_err(|e| ApiError::invalid("fields", e.to_string()))?;
    let (settings, secrets) = connector.info().split_secrets(body.fields);
    let record = state
        .store
        .put_credential(&body.id, &body.vendor, settings, &secrets)?;
    created(CredentialView::from(&record))
}

async fn list_credentials(State(state): State<AppState>) -> ApiResult {
    reply(Credentials {
        credentials: state.store.credentials()?.iter().map(Into::into).collect(),
    })
}

pub(super) async fn open_session(
    state: &AppState,
    credential_id: &str,
) -> Result<epms_runtime::ConnectorSession, ApiError> {
    let cred = state.store.credential(credential_id)?;
    let connector = state.connector(&cred.vendor).ok_or_else(|| {
        ApiError::conflict(
            "no-connector",
            format!("no connector loaded for {:?}", cred.vendor),
        )
    })?;
    let mut fields = cred.settings.clone();
    fields.extend(state.store.credential_secrets(credential_id)?);
    let credential = Credential::from_fields(connector.info(), fields)
        .map_err(|e| ApiError::invalid("fields", e.to_string()))?;
    state
        .runtime
        .session(&connector, &credential)
        .await
        .map_err(ApiError::from_call)
}

async fn check_credential(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult {
    let mut session = open_session(&state, &id).await?;
    session.check().await.map_err(ApiError::from_call)?;
    reply(Checked { id, ok: true })
}

async fn pms_properties(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult {
    let mut session = open_session(&state, &id).await?;
    let props = session
        .list_properties()
        .await
        .map_err(ApiError::from_call)?;
    reply(PmsProperties { properties: props })
}
