//! The routes. Who may call a route is declared once, in [`endpoints`], and enforced
//! by the router; handlers call the engine (pure) and the store and answer JSON;
//! everything they can fail with is an `ApiError`.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post, put};
use axum::{Json, Router};
use epms_engine::access::{self, AccessError};
use epms_engine::accounts;
use epms_engine::resolve::{self, Resolution, ResolveError};
use epms_engine::units_csv::{self, NewDoorUnit, UnitError};
use epms_engine::{Actor, DoorState, Plan, PmsUnitKey, Settings};
use epms_model::DoorStatus;
use epms_runtime::Credential;
use epms_store::{PropertyRecord, StoreError};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::{AppState, CSV_BODY_LIMIT, JSON_BODY_LIMIT};

/// Path parameters whose rejections (a non-numeric id, bad percent-encoding) are
/// problems too.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(ApiPath(v)),
            Err(rejection) => Err(ApiError::invalid("path", rejection.body_text())),
        }
    }
}

/// A query string whose rejections are problems too.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(ApiQuery(v)),
            Err(rejection) => Err(ApiError::invalid("query", rejection.body_text())),
        }
    }
}

/// A JSON body whose rejections are problems too.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::too_large(rejection.body_text()))
            }
            Err(rejection) => Err(ApiError::invalid("body", rejection.body_text())),
        }
    }
}

/// A raw body (CSV, a component) whose rejections, a body over the route's limit
/// first, are problems too.
pub struct ApiBytes(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::body::Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(ApiBytes(bytes)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::too_large(rejection.body_text()))
            }
            Err(rejection) => Err(ApiError::invalid("body", rejection.body_text())),
        }
    }
}

pub(crate) type ApiResult = Result<Response, ApiError>;

pub(crate) fn ok(v: Value) -> ApiResult {
    Ok(Json(v).into_response())
}

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token.
    Public,
    /// An admin token.
    Admin,
    /// An admin token, or a property-manager token listing the `{id}` property.
    Property,
    /// Any valid token (what it returns may depend on the role).
    AnyToken,
}

/// One route: the handler and its documentation, side by side so that no route can
/// be added undocumented (`/openapi.json` is generated from this list).
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub access: Access,
    /// The request body's media type, when it takes one.
    pub body: Option<&'static str>,
    /// The JSON body's schema, for `/openapi.json`.
    schema: Option<BodySchema>,
    handler: MethodRouter<AppState>,
}

type BodySchema = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;

fn schema_of<T: schemars::JsonSchema>(
    generator: &mut schemars::SchemaGenerator,
) -> schemars::Schema {
    generator.subschema_for::<T>()
}

impl Endpoint {
    /// The route takes a JSON body of type `T` (what its handler's `ApiJson<T>` reads).
    pub(crate) fn json_body<T: schemars::JsonSchema>(mut self) -> Self {
        self.body = Some("application/json");
        self.schema = Some(schema_of::<T>);
        self
    }
}

pub(crate) fn endpoint(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    access: Access,
    handler: MethodRouter<AppState>,
) -> Endpoint {
    Endpoint {
        method,
        path,
        summary,
        access,
        body: None,
        schema: None,
        handler,
    }
}

/// Every route of the API.
pub fn endpoints() -> Vec<Endpoint> {
    use Access::*;
    let mut list = vec![
        endpoint(
            "get",
            "/healthz",
            "Liveness",
            Public,
            get(|| async { Json(json!({"status": "ok"})) }),
        ),
        endpoint(
            "get",
            "/metrics",
            "Prometheus metrics (text)",
            Admin,
            get(metrics),
        ),
        endpoint(
            "get",
            "/openapi.json",
            "This document",
            Public,
            get(openapi),
        ),
        endpoint(
            "get",
            "/api/v1/connectors",
            "Installed connectors",
            AnyToken,
            get(connectors),
        ),
        endpoint(
            "post",
            "/api/v1/credentials",
            "Create a vendor credential (secrets write-only)",
            Admin,
            post(create_credential),
        )
        .json_body::<NewCredential>(),
        endpoint(
            "get",
            "/api/v1/credentials",
            "List credentials (secret names, never values)",
            Admin,
            get(list_credentials),
        ),
        endpoint(
            "post",
            "/api/v1/credentials/{id}/check",
            "Check a credential through its connector",
            Admin,
            post(check_credential),
        ),
        endpoint(
            "get",
            "/api/v1/credentials/{id}/pms-properties",
            "The PMS properties a credential sees",
            Admin,
            get(pms_properties),
        ),
        endpoint(
            "post",
            "/api/v1/properties",
            "Create a DOOR property",
            Admin,
            post(create_property),
        )
        .json_body::<NewProperty>(),
        endpoint(
            "get",
            "/api/v1/properties",
            "List the properties the token may see",
            AnyToken,
            get(list_properties),
        ),
        endpoint(
            "get",
            "/api/v1/properties/{id}",
            "A property with its badge and last successful sync",
            Property,
            get(get_property),
        ),
        endpoint(
            "put",
            "/api/v1/properties/{id}/integration",
            "Set the integration: credential, PMS ids, settings, sync interval",
            Admin,
            put(set_integration),
        )
        .json_body::<Integration>(),
        endpoint(
            "get",
            "/api/v1/properties/{id}/people",
            "People with status, unit, source and link",
            Property,
            get(people),
        ),
        endpoint(
            "post",
            "/api/v1/properties/{id}/people/{account}/status",
            "Change a person's status by hand",
            Property,
            post(manual_status),
        )
        .json_body::<StatusChange>(),
        endpoint(
            "post",
            "/api/v1/properties/{id}/accounts",
            "Create a DOOR account by hand (matched against PMS residents by the next sync)",
            Property,
            post(create_account),
        )
        .json_body::<accounts::NewAccount>(),
        endpoint(
            "delete",
            "/api/v1/properties/{id}/accounts/{account}",
            "Delete a DOOR account",
            Property,
            delete(delete_account),
        ),
        endpoint(
            "get",
            "/api/v1/properties/{id}/alerts",
            "Open alerts grouped by type, with the badge",
            Property,
            get(alerts),
        ),
        endpoint(
            "post",
            "/api/v1/properties/{id}/alerts/resolve",
            "Resolve alerts in bulk",
            Property,
            post(resolve_many),
        )
        .json_body::<BulkBody>(),
        endpoint(
            "post",
            "/api/v1/properties/{id}/alerts/{alert}/resolve",
            "Resolve one alert",
            Property,
            post(resolve_one),
        )
        .json_body::<ResolveBody>(),
        endpoint(
            "get",
            "/api/v1/properties/{id}/suggestions",
            "Access suggestions: grant, revoke, no change",
            Property,
            get(suggestions),
        ),
        endpoint(
            "post",
            "/api/v1/properties/{id}/suggestions/approve",
            "Approve up to 50 suggestions",
            Property,
            post(approve),
        )
        .json_body::<ApproveBody>(),
        endpoint(
            "delete",
            "/api/v1/properties/{id}/suggestions/{sid}",
            "Discard a suggestion",
            Property,
            delete(discard),
        ),
        endpoint(
            "post",
            "/api/v1/properties/{id}/door-units",
            "Create one DOOR unit",
            Property,
            post(create_door_unit),
        )
        .json_body::<NewDoorUnit>(),
        endpoint(
            "get",
            "/api/v1/properties/{id}/pms-units",
            "PMS units with their mapping state",
            Property,
            get(pms_units),
        ),
        endpoint(
            "put",
            "/api/v1/properties/{id}/pms-units/{pms}/{unit}/mapping",
            "Map a PMS unit to a DOOR unit",
            Property,
            put(map_unit),
        )
        .json_body::<MapBody>(),
        endpoint(
            "post",
            "/api/v1/properties/{id}/mappings",
            "Map many PMS units at once (all or none)",
            Property,
            post(map_units),
        )
        .json_body::<BulkMapBody>(),
        endpoint(
            "delete",
            "/api/v1/properties/{id}/pms-units/{pms}/{unit}/mapping",
            "Unmap a PMS unit (assignments kept)",
            Property,
            delete(unmap_unit),
        ),
        endpoint(
            "post",
            "/api/v1/properties/{id}/sync",
            "Sync now (joins a sync already running)",
            Property,
            post(sync_now),
        ),
        endpoint(
            "get",
            "/api/v1/properties/{id}/syncs",
            "Sync history and the last successful sync",
            Property,
            get(sync_history),
        ),
        endpoint(
            "get",
            "/api/v1/properties/{id}/audit",
            "Audit log (after a sequence number)",
            Property,
            get(audit),
        ),
        endpoint(
            "get",
            "/api/v1/feed",
            "Access event feed (cursor)",
            Admin,
            get(feed),
        ),
    ];
    let mut csv = endpoint(
        "post",
        "/api/v1/properties/{id}/door-units/csv",
        "Create DOOR units from a CSV file (all rows or none)",
        Access::Property,
        post(door_units_csv).layer(DefaultBodyLimit::max(CSV_BODY_LIMIT)),
    );
    csv.body = Some("text/csv");
    list.push(csv);
    list.extend(crate::tokens::endpoints());
    list.extend(crate::plugins::endpoints());
    list
}

pub fn router(state: AppState) -> Router {
    // One `MethodRouter` per path: axum refuses a path routed twice.
    let mut by_path: BTreeMap<&'static str, MethodRouter<AppState>> = BTreeMap::new();
    for e in endpoints() {
        // JSON bodies share one limit; other media types set their own.
        let handler = match e.body {
            None | Some("application/json") => {
                e.handler.layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
            }
            Some(_) => e.handler,
        };
        // The declared access is enforced here, before the body is read: a caller
        // without the right learns nothing from validation errors.
        let handler = match e.access {
            Access::Public => handler,
            Access::AnyToken => handler.route_layer(from_fn_with_state(state.clone(), any_token)),
            Access::Admin => handler.route_layer(from_fn_with_state(state.clone(), admin_only)),
            Access::Property => {
                handler.route_layer(from_fn_with_state(state.clone(), property_scoped))
            }
        };
        let merged = match by_path.remove(e.path) {
            Some(existing) => existing.merge(handler),
            None => handler,
        };
        by_path.insert(e.path, merged);
    }
    by_path
        .into_iter()
        .fold(Router::new(), |r, (path, handler)| r.route(path, handler))
        .fallback(|| async { ApiError::not_found("no such route") })
        // A known path with another method: a problem too, never an empty answer.
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "this route does not take that method",
            )
        })
        .with_state(state)
}

// The access middlewares leave the caller in the request's extensions, so the
// handler's own `Caller` costs no second token lookup.

async fn any_token(caller: Caller, mut req: Request, next: Next) -> Response {
    req.extensions_mut().insert(caller);
    next.run(req).await
}

async fn admin_only(caller: Caller, mut req: Request, next: Next) -> Response {
    match caller.require_admin("this route") {
        Ok(()) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// A manager asking for another property gets the same 404 as for a property that
/// does not exist.
async fn property_scoped(
    caller: Caller,
    ApiPath(params): ApiPath<HashMap<String, String>>,
    mut req: Request,
    next: Next,
) -> Response {
    match params.get("id").map(|id| caller.check_property(id)) {
        Some(Ok(())) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Some(Err(e)) => e.into_response(),
        None => ApiError::internal("property route without {id}").into_response(),
    }
}

/// The OpenAPI 3.1 document of [`endpoints`].
pub fn openapi_document() -> Value {
    let problem = json!({"description": "A problem (RFC 9457) with a stable `code`", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let mut paths = serde_json::Map::new();
    // Body types' schemas go to components.schemas, referred to from each operation.
    let mut schemas = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "#/components/schemas".into())
        .into_generator();
    for e in endpoints() {
        let params: Vec<Value> = e
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "summary": e.summary,
            "operationId": format!("{}{}", e.method, e.path.replace(['/', '{', '}', '-', '.'], "_")),
            "parameters": params,
            "x-access": format!("{:?}", e.access).to_lowercase(),
            "responses": {"200": {"description": "OK"}, "default": problem},
        });
        if e.access != Access::Public {
            op["security"] = json!([{"bearer": []}]);
        }
        if let Some(media) = e.body {
            let schema = match e.schema {
                Some(schema_of) => {
                    serde_json::to_value(schema_of(&mut schemas)).unwrap_or_default()
                }
                None if media == "text/csv" || media == "application/wasm" => {
                    json!({"type": "string", "format": "binary"})
                }
                None => json!({}),
            };
            op["requestBody"] = json!({"required": true, "content": {media: {"schema": schema}}});
        }
        let path = paths.entry(e.path.to_owned()).or_insert_with(|| json!({}));
        path[e.method] = op;
    }
    let mut components = serde_json::Map::new();
    components.extend(schemas.take_definitions(true));
    components.insert(
        "Problem".to_owned(),
        json!({"type": "object", "required": ["type", "title", "status", "code", "detail"], "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "code": {"type": "string"}, "detail": {"type": "string"}, "field": {"type": "string"}
        }}),
    );
    json!({
        "openapi": "3.1.0",
        "info": {"title": "ePMS admin API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": components,
        }
    })
}

async fn openapi() -> Json<Value> {
    Json(openapi_document())
}

/// Applies a plan made from the current state, planning again if the state moved.
fn mutate(
    state: &AppState,
    property: &str,
    make: impl Fn(&DoorState) -> Result<Plan, ApiError>,
) -> Result<Plan, ApiError> {
    for _ in 0..3 {
        let door = state.store.state(property)?;
        let plan = make(&door)?;
        match state.store.apply(property, &plan, None) {
            Ok(()) => return Ok(plan),
            Err(StoreError::Stale { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::conflict(
        "busy",
        "the property kept changing; try again",
    ))
}

pub(crate) fn actor(caller: &Caller) -> Actor {
    Actor::Manager(caller.0.name.clone())
}

fn plan_summary(plan: &Plan) -> Value {
    json!({
        "accounts_created": plan.accounts_created.len(),
        "accounts_updated": plan.accounts_updated.len(),
        "accounts_deleted": plan.accounts_deleted.len(),
        "alerts_changed": plan.alerts_opened.len() + plan.alerts_updated.len(),
        "grants_added": plan.grants_added.len(),
        "grants_removed": plan.grants_removed.len(),
        "suggestions_closed": plan.suggestions_closed.len(),
    })
}

// ---- connectors and credentials ----------------------------------------------

async fn connectors(State(state): State<AppState>) -> ApiResult {
    let mut list: Vec<Value> = state
        .connectors_snapshot()
        .values()
        .map(|c| json!({"info": c.info(), "sha256": c.sha256()}))
        .collect();
    list.sort_by_key(|v| v["info"]["vendor"].as_str().unwrap_or_default().to_owned());
    ok(json!({ "connectors": list }))
}

#[derive(Deserialize, schemars::JsonSchema)]
struct NewCredential {
    id: String,
    vendor: String,
    fields: BTreeMap<String, String>,
}

async fn create_credential(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewCredential>,
) -> ApiResult {
    if body.id.trim().is_empty() {
        return Err(ApiError::invalid("id", "must not be empty"));
    }
    let connector = state.connector(&body.vendor).ok_or_else(|| {
        ApiError::invalid(
            "vendor",
            format!("no connector for vendor {:?}", body.vendor),
        )
    })?;
    // Validate against the connector's declared fields before storing anything.
    Credential::from_fields(connector.info(), body.fields.clone())
        .map_err(|e| ApiError::invalid("fields", e.to_string()))?;
    let (settings, secrets) = connector.info().split_secrets(body.fields);
    let record = state
        .store
        .put_credential(&body.id, &body.vendor, settings, &secrets)?;
    Ok((StatusCode::CREATED, Json(credential_view(&record))).into_response())
}

/// A credential as the API shows it: secrets by name only, never their values.
fn credential_view(c: &epms_store::CredentialRecord) -> Value {
    json!({"id": c.id, "vendor": c.vendor, "settings": c.settings, "secrets": c.sealed_secrets.keys().collect::<Vec<_>>()})
}

async fn list_credentials(State(state): State<AppState>) -> ApiResult {
    let list: Vec<Value> = state
        .store
        .credentials()?
        .iter()
        .map(credential_view)
        .collect();
    ok(json!({ "credentials": list }))
}

async fn open_session(
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
        .map_err(call_error)
}

fn call_error(e: epms_runtime::CallError) -> ApiError {
    let code: &'static str = match e.code() {
        "auth" => "pms-auth",
        "config" => "pms-config",
        "rate-limited" => "pms-rate-limited",
        "transient" => "pms-unavailable",
        "protocol" => "pms-protocol",
        "not-found" => "pms-not-found",
        _ => "connector-failed",
    };
    ApiError::bad_gateway(code, e.to_string())
}

async fn check_credential(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult {
    let mut session = open_session(&state, &id).await?;
    session.check().await.map_err(call_error)?;
    ok(json!({"id": id, "ok": true}))
}

async fn pms_properties(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult {
    let mut session = open_session(&state, &id).await?;
    let props = session.list_properties().await.map_err(call_error)?;
    ok(json!({ "properties": props }))
}

// ---- properties ---------------------------------------------------------------

#[derive(Deserialize, schemars::JsonSchema)]
struct NewProperty {
    id: String,
    name: String,
}

async fn create_property(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewProperty>,
) -> ApiResult {
    if body.id.trim().is_empty() || body.id.contains('/') {
        return Err(ApiError::invalid(
            "id",
            "must be non-empty and contain no '/'",
        ));
    }
    let record = PropertyRecord::new(&body.id, &body.name, state.now());
    state.store.create_property(&record)?;
    Ok((StatusCode::CREATED, Json(property_view(&record, None))).into_response())
}

fn property_view(p: &PropertyRecord, door: Option<&DoorState>) -> Value {
    let mut v = json!({
        "id": p.id, "name": p.name, "credential_id": p.credential_id, "pms_property_ids": p.pms_property_ids,
        "settings": p.settings, "last_sync_ok": p.last_sync_ok,
        "sync_interval_minutes": p.sync_interval_minutes,
    });
    if let Some(d) = door {
        v["badge"] = json!(d.badge());
        v["residents"] = json!(d.accounts.len());
    }
    v
}

async fn list_properties(State(state): State<AppState>, caller: Caller) -> ApiResult {
    let list: Vec<Value> = state
        .store
        .properties()?
        .iter()
        .filter(|p| caller.can_see(&p.id))
        .map(|p| property_view(p, None))
        .collect();
    ok(json!({ "properties": list }))
}

async fn get_property(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult {
    let p = state.store.property(&id)?;
    let door = state.store.state(&id)?;
    ok(property_view(&p, Some(&door)))
}

#[derive(Deserialize, schemars::JsonSchema)]
struct Integration {
    credential_id: Option<String>,
    pms_property_ids: Vec<String>,
    settings: Settings,
    /// Minutes between scheduled syncs (absent: the service default).
    #[serde(default)]
    sync_interval_minutes: Option<u32>,
}

async fn set_integration(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Integration>,
) -> ApiResult {
    if let Some(c) = &body.credential_id {
        let cred = state
            .store
            .credential(c)
            .map_err(|_| ApiError::invalid("credential_id", format!("no credential {c:?}")))?;
        if let Some(connector) = state.connector(&cred.vendor) {
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
        }
    }
    if let Some(m) = body.sync_interval_minutes
        && !(crate::scheduler::MIN_INTERVAL_MINUTES..=crate::scheduler::MAX_INTERVAL_MINUTES)
            .contains(&m)
    {
        return Err(ApiError::invalid(
            "sync_interval_minutes",
            format!(
                "must be between {} and {}",
                crate::scheduler::MIN_INTERVAL_MINUTES,
                crate::scheduler::MAX_INTERVAL_MINUTES
            ),
        ));
    }
    body.settings
        .validate()
        .map_err(|e| ApiError::invalid(e.field, e.message))?;
    let mut seen = std::collections::HashSet::new();
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
    let updated = state.store.update_property(&id, |p| {
        p.credential_id = body.credential_id.clone();
        p.pms_property_ids = body.pms_property_ids.clone();
        p.settings = body.settings.clone();
        p.sync_interval_minutes = body.sync_interval_minutes;
    })?;
    ok(property_view(&updated, None))
}

// ---- people and accounts ------------------------------------------------------

#[derive(Deserialize)]
struct Page {
    offset: Option<usize>,
    limit: Option<usize>,
}

/// People, in account order, a page at a time (default 100, at most 1,000).
async fn people(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult {
    let limit = page.limit.unwrap_or(100);
    if !(1..=1_000).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
    }
    let offset = page.offset.unwrap_or(0);
    let door = state.store.state(&id)?;
    let accounts: Vec<&epms_engine::Account> =
        door.accounts.values().skip(offset).take(limit).collect();
    // The page's PMS keys, in one pass over the links.
    let mut keys: HashMap<u64, Vec<String>> = accounts.iter().map(|a| (a.id, Vec::new())).collect();
    for (key, account) in &door.links {
        if let Some(list) = keys.get_mut(account) {
            list.push(key.to_string());
        }
    }
    let mut views = access::access_views(&door, accounts.iter().map(|a| a.id));
    let people: Vec<PersonView> = accounts
        .into_iter()
        .map(|a| {
            let pms_keys = keys.remove(&a.id).unwrap_or_default();
            PersonView {
                account: a,
                linked: !pms_keys.is_empty(),
                pms_keys,
                access: views.remove(&a.id),
            }
        })
        .collect();
    let next = offset + people.len();
    // Serialised straight from the state (no JSON tree in between): the people page
    // is the API's most read and largest answer.
    Ok(Json(PeoplePage {
        total: door.accounts.len(),
        next_offset: (next < door.accounts.len()).then_some(next),
        people,
    })
    .into_response())
}

#[derive(serde::Serialize)]
struct PersonView<'a> {
    account: &'a epms_engine::Account,
    linked: bool,
    pms_keys: Vec<String>,
    access: Option<access::AccessView<'a>>,
}

#[derive(serde::Serialize)]
struct PeoplePage<'a> {
    people: Vec<PersonView<'a>>,
    total: usize,
    next_offset: Option<usize>,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct StatusChange {
    status: DoorStatus,
}

async fn manual_status(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, account)): ApiPath<(String, u64)>,
    ApiJson(body): ApiJson<StatusChange>,
) -> ApiResult {
    let settings = state.store.property(&id)?.settings;
    let now = state.now();
    let plan = mutate(&state, &id, |door| {
        access::manual_status(
            door,
            &settings.access,
            account,
            body.status,
            &actor(&caller),
            now,
        )
        .map_err(access_error)
    })?;
    ok(plan_summary(&plan))
}

async fn create_account(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<accounts::NewAccount>,
) -> ApiResult {
    let now = state.now();
    let plan = mutate(&state, &id, |door| {
        accounts::plan_create_account(door, &body, &actor(&caller), now).map_err(|e| match e {
            accounts::AccountError::EmailTaken { .. } => {
                ApiError::conflict("email-taken", e.to_string())
            }
            _ => ApiError::invalid(e.field(), e.to_string()),
        })
    })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"account": plan.accounts_created.first()})),
    )
        .into_response())
}

async fn delete_account(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, account)): ApiPath<(String, u64)>,
) -> ApiResult {
    let now = state.now();
    let plan = mutate(&state, &id, |door| {
        resolve::delete_account(door, account, &actor(&caller), now).map_err(resolve_error)
    })?;
    ok(plan_summary(&plan))
}

// ---- alerts ---------------------------------------------------------------------

async fn alerts(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult {
    let door = state.store.state(&id)?;
    let mut groups: BTreeMap<&'static str, Vec<&epms_engine::Alert>> = BTreeMap::new();
    for a in door.alerts.values() {
        groups.entry(a.alert_type.as_str()).or_default().push(a);
    }
    #[derive(serde::Serialize)]
    struct AlertsPage<'a> {
        badge: usize,
        open: usize,
        pending_suggestions: usize,
        groups: BTreeMap<&'static str, Vec<&'a epms_engine::Alert>>,
    }
    Ok(Json(AlertsPage {
        badge: door.badge(),
        open: door.open_alerts(),
        pending_suggestions: door.suggestions.len(),
        groups,
    })
    .into_response())
}

fn resolve_error(e: ResolveError) -> ApiError {
    match e {
        ResolveError::NoSuchAlert(_) | ResolveError::NoSuchAccount(_) => {
            ApiError::not_found(e.to_string())
        }
        ResolveError::TooMany { .. } => ApiError::invalid("items", e.to_string()),
        ResolveError::AccountNotListed { .. } => {
            ApiError::invalid("resolution.account", e.to_string())
        }
        ResolveError::NotApplicable { .. } | ResolveError::Repeated(_) | ResolveError::NoEmail => {
            ApiError::invalid("resolution", e.to_string())
        }
        ResolveError::EmailTaken { .. } => ApiError::conflict("email-taken", e.to_string()),
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
struct ResolveBody {
    resolution: Resolution,
}

async fn resolve_one(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, alert)): ApiPath<(String, u64)>,
    ApiJson(body): ApiJson<ResolveBody>,
) -> ApiResult {
    let now = state.now();
    let plan = mutate(&state, &id, |door| {
        resolve::resolve(door, alert, &body.resolution, &actor(&caller), now).map_err(resolve_error)
    })?;
    ok(plan_summary(&plan))
}

#[derive(Deserialize, schemars::JsonSchema)]
struct BulkItem {
    alert: u64,
    resolution: Resolution,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct BulkBody {
    items: Vec<BulkItem>,
}

async fn resolve_many(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<BulkBody>,
) -> ApiResult {
    let now = state.now();
    let items: Vec<(u64, Resolution)> = body
        .items
        .into_iter()
        .map(|i| (i.alert, i.resolution))
        .collect();
    let plan = mutate(&state, &id, |door| {
        resolve::resolve_many(door, &items, &actor(&caller), now).map_err(resolve_error)
    })?;
    ok(plan_summary(&plan))
}

// ---- access suggestions -----------------------------------------------------------

fn access_error(e: AccessError) -> ApiError {
    match e {
        AccessError::TooMany { .. } => ApiError::invalid("ids", e.to_string()),
        AccessError::Repeated(_) => ApiError::invalid("ids", e.to_string()),
        AccessError::NoSuchSuggestion(_) | AccessError::NoSuchAccount(_) => {
            ApiError::not_found(e.to_string())
        }
    }
}

async fn suggestions(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult {
    let door = state.store.state(&id)?;
    #[derive(serde::Serialize)]
    struct Suggestions<'a> {
        suggestions: Vec<&'a epms_engine::Suggestion>,
    }
    Ok(Json(Suggestions {
        suggestions: door.suggestions.values().collect(),
    })
    .into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
struct ApproveBody {
    ids: Vec<u64>,
}

async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ApproveBody>,
) -> ApiResult {
    let now = state.now();
    let plan = mutate(&state, &id, |door| {
        access::approve(door, &body.ids, &actor(&caller), now).map_err(access_error)
    })?;
    ok(plan_summary(&plan))
}

async fn discard(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, sid)): ApiPath<(String, u64)>,
) -> ApiResult {
    let now = state.now();
    let plan = mutate(&state, &id, |door| {
        access::discard(door, sid, &actor(&caller), now).map_err(access_error)
    })?;
    ok(plan_summary(&plan))
}

// ---- units ------------------------------------------------------------------------

fn unit_error(e: UnitError) -> ApiError {
    match e {
        UnitError::Rows(rows) => {
            let mut err = ApiError::invalid("rows", "some rows have errors; nothing was applied");
            err.detail = rows
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            err
        }
        UnitError::NoSuchDoorUnit(_) => ApiError::invalid("door_unit", e.to_string()),
        UnitError::NoSuchPmsUnit(_) | UnitError::NotMapped(_) => ApiError::not_found(e.to_string()),
    }
}

async fn create_door_unit(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<NewDoorUnit>,
) -> ApiResult {
    let now = state.now();
    let plan = mutate(&state, &id, |door| {
        units_csv::plan_create_units(door, std::slice::from_ref(&body), &actor(&caller), now)
            .map_err(unit_error)
    })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"door_units": plan.door_units_created})),
    )
        .into_response())
}

async fn door_units_csv(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiBytes(body): ApiBytes,
) -> ApiResult {
    let body = std::str::from_utf8(&body)
        .map_err(|e| ApiError::invalid("body", format!("the file is not UTF-8 text: {e}")))?;
    let now = state.now();
    let plan = mutate(&state, &id, |door| {
        let units = units_csv::parse_csv(body, door).map_err(unit_error)?;
        units_csv::plan_create_units(door, &units, &actor(&caller), now).map_err(unit_error)
    })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"created": plan.door_units_created.len(), "door_units": plan.door_units_created})),
    )
        .into_response())
}

async fn pms_units(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult {
    let door = state.store.state(&id)?;
    let list: Vec<Value> = door
        .pms_units
        .iter()
        .map(|u| json!({"pms_property": u.key.property, "unit": u.unit, "mapped_to": door.mappings.get(&u.key)}))
        .collect();
    let unmapped = list.iter().filter(|u| u["mapped_to"].is_null()).count();
    ok(json!({ "units": list, "unmapped": unmapped }))
}

#[derive(Deserialize, schemars::JsonSchema)]
struct MapBody {
    door_unit: u64,
}

async fn map_unit(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, pms, unit)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson<MapBody>,
) -> ApiResult {
    let now = state.now();
    let key = PmsUnitKey {
        property: pms,
        unit,
    };
    let plan = mutate(&state, &id, |door| {
        units_csv::plan_map_unit(door, &key, body.door_unit, &actor(&caller), now)
            .map_err(unit_error)
    })?;
    ok(json!({"mapped": !plan.mappings_set.is_empty() || plan.is_empty()}))
}

/// Most mappings one bulk call may set.
const MAX_BULK_MAPPINGS: usize = 5_000;

#[derive(Deserialize, schemars::JsonSchema)]
struct BulkMapping {
    pms_property: String,
    unit: String,
    door_unit: u64,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct BulkMapBody {
    mappings: Vec<BulkMapping>,
}

async fn map_units(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<BulkMapBody>,
) -> ApiResult {
    if body.mappings.len() > MAX_BULK_MAPPINGS {
        return Err(ApiError::invalid(
            "mappings",
            format!(
                "at most {MAX_BULK_MAPPINGS} mappings per call ({} given)",
                body.mappings.len()
            ),
        ));
    }
    let items: Vec<(PmsUnitKey, u64)> = body
        .mappings
        .into_iter()
        .map(|m| {
            (
                PmsUnitKey {
                    property: m.pms_property,
                    unit: m.unit,
                },
                m.door_unit,
            )
        })
        .collect();
    let now = state.now();
    let plan = mutate(&state, &id, |door| {
        units_csv::plan_map_units(door, &items, &actor(&caller), now).map_err(unit_error)
    })?;
    ok(
        json!({"mapped": plan.mappings_set.len(), "unchanged": items.len() - plan.mappings_set.len()}),
    )
}

async fn unmap_unit(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, pms, unit)): ApiPath<(String, String, String)>,
) -> ApiResult {
    let now = state.now();
    let key = PmsUnitKey {
        property: pms,
        unit,
    };
    mutate(&state, &id, |door| {
        units_csv::plan_unmap_unit(door, &key, &actor(&caller), now).map_err(unit_error)
    })?;
    ok(json!({"mapped": false}))
}

// ---- syncs, audit, feed -------------------------------------------------------------

async fn sync_now(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult {
    state.store.property(&id)?;
    let report = crate::scheduler::sync_property(&state, &id)
        .await
        .map_err(|f| f.error)?;
    ok(report)
}

#[derive(Deserialize)]
struct Window {
    after: Option<u64>,
    cursor: Option<u64>,
    limit: Option<usize>,
}

async fn sync_history(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(w): ApiQuery<Window>,
) -> ApiResult {
    let p = state.store.property(&id)?;
    let runs = state.store.sync_runs(&id, w.limit.unwrap_or(50).min(500))?;
    let running = state
        .sync_progress(&id)
        .map(|(progress, started_at)| json!({"started_at": started_at, "progress": progress}));
    ok(json!({ "last_sync_ok": p.last_sync_ok, "running": running, "runs": runs }))
}

async fn audit(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(w): ApiQuery<Window>,
) -> ApiResult {
    state.store.property(&id)?;
    let entries: Vec<Value> = state
        .store
        .audit(&id, w.after.unwrap_or(0), w.limit.unwrap_or(200).min(1_000))?
        .into_iter()
        .map(|(seq, e)| json!({"seq": seq, "entry": e}))
        .collect();
    ok(json!({ "entries": entries }))
}

async fn feed(State(state): State<AppState>, ApiQuery(w): ApiQuery<Window>) -> ApiResult {
    let events: Vec<Value> = state
        .store
        .feed(w.cursor.unwrap_or(0), w.limit.unwrap_or(500).min(5_000))?
        .into_iter()
        .map(|(seq, r)| json!({"seq": seq, "event": r}))
        .collect();
    let next = events.last().and_then(|e| e["seq"].as_u64()).or(w.cursor);
    ok(json!({ "events": events, "cursor": next }))
}

/// Prometheus text. Admin only: the labels name properties (Prometheus sends the
/// token with `authorization: {credentials: …}`).
async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let body = crate::metrics::render(&state)?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response())
}
