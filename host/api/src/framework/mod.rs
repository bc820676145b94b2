//! The framework every handler is written in: extractors whose rejections are
//! problems, the endpoint table's entry type, the router that enforces each
//! endpoint's access, and the OpenAPI document made from the table. Nothing here
//! knows a handler.

mod extract;
pub mod openapi;
mod router;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;

pub use extract::{ApiBytes, ApiJson, ApiPath, ApiQuery};
pub use router::router;

pub type ApiResult = Result<Response, ApiError>;

pub fn ok(v: Value) -> ApiResult {
    reply(v)
}

/// A typed answer (what the endpoint's `returns::<T>()` documents).
pub fn reply<T: serde::Serialize>(v: T) -> ApiResult {
    Ok(json_response(StatusCode::OK, &v))
}

/// A typed 201 answer (what the endpoint's `creates::<T>()` documents).
pub fn created<T: serde::Serialize>(v: T) -> ApiResult {
    Ok(json_response(StatusCode::CREATED, &v))
}

/// Where an answer's serialisation starts: most answers fit, and a large one (a page
/// of people is tens of KiB) doubles from here a few times.
const ANSWER_START_BYTES: usize = 4 << 10;

/// `v` as a JSON answer with this status (or the server's error if it cannot be
/// serialised, which is a bug of ours: said as such rather than sent half-written).
pub fn json_response<T: serde::Serialize + ?Sized>(status: StatusCode, v: &T) -> Response {
    match render_json(v) {
        Ok(body) => json_body(status, body),
        Err(e) => e.into_response(),
    }
}

/// `v` serialised. Into a `Vec` rather than through axum's `Json`, which writes each
/// token into a `BytesMut` one `put_slice` at a time from 128 bytes: on a page of
/// people that bookkeeping and the regrowth cost more than the serialisation itself.
fn render_json<T: serde::Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::with_capacity(ANSWER_START_BYTES);
    serde_json::to_writer(&mut body, v).map_err(|e| {
        tracing::error!(error = %e, "an answer could not be serialised");
        ApiError::internal(format!("the answer could not be serialised: {e}"))
    })?;
    Ok(body)
}

/// A read of `door`, rendered once per state and kept ([`crate::answer_cache`]):
/// `page` builds the answer only when it is not kept for this very state. `request`
/// names the answer among the property's (the route and its parsed filters).
pub async fn kept_reply<T: serde::Serialize>(
    state: &AppState,
    property: &str,
    request: &str,
    door: &std::sync::Arc<epms_engine::DoorState>,
    page: impl FnOnce() -> T,
) -> ApiResult {
    let body = state
        .answers
        .get_or_render(property, request, door, || render_json(&page()))
        .await?;
    Ok(json_body(StatusCode::OK, body))
}

/// JSON already rendered, as an answer with this status.
fn json_body(status: StatusCode, body: impl Into<axum::body::Body>) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.into(),
    )
        .into_response()
}

/// A page's `limit` query parameter: `default` when absent, else 1 to `max` (a limit
/// out of range is refused, not cut).
pub fn page_limit(limit: Option<usize>, default: usize, max: usize) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(default);
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {max}"),
        ))
    }
}

/// The rule every id chosen by a client follows (properties, credentials): it goes
/// in URLs and logs as it is.
pub const ID_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$";

/// `value` as an id of `field`, or why not ([`ID_PATTERN`] in words).
pub fn check_id(field: &str, value: &str) -> Result<(), ApiError> {
    let mut chars = value.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if first_ok && rest_ok && value.len() <= 100 {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            "1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit",
        ))
    }
}

/// The rule every name follows (properties, tokens, common keys): 1 to 100 characters.
pub fn check_name(field: &str, value: &str) -> Result<(), ApiError> {
    if (1..=100).contains(&value.chars().count()) {
        Ok(())
    } else {
        Err(ApiError::invalid(field, "1 to 100 characters"))
    }
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
    pub(crate) schema: Option<SchemaFn>,
    /// The status of a successful answer (200 unless declared).
    pub success: u16,
    /// The successful answer: its media type and, for JSON, its schema (`None`: no body).
    pub(crate) answer: Option<(&'static str, Option<SchemaFn>)>,
    /// Path parameters that are numbers (the others are text).
    pub(crate) numeric: &'static [&'static str],
    /// Query parameters, from a type's fields.
    pub(crate) query: Option<SchemaFn>,
    /// Request headers the route reads: name, description, required.
    pub(crate) headers: Vec<(&'static str, &'static str, bool)>,
    /// Other successful answers: status, description, JSON schema.
    pub(crate) also: Vec<(u16, &'static str, SchemaFn)>,
    pub(crate) handler: MethodRouter<AppState>,
}

pub(crate) type SchemaFn = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;

fn schema_of<T: schemars::JsonSchema>(
    generator: &mut schemars::SchemaGenerator,
) -> schemars::Schema {
    generator.subschema_for::<T>()
}

impl Endpoint {
    /// The route takes a JSON body of type `T` (what its handler's `ApiJson<T>` reads).
    pub fn json_body<T: schemars::JsonSchema>(mut self) -> Self {
        self.body = Some("application/json");
        self.schema = Some(schema_of::<T>);
        self
    }

    /// The route answers `T` as JSON.
    pub fn returns<T: schemars::JsonSchema>(mut self) -> Self {
        self.answer = Some(("application/json", Some(schema_of::<T>)));
        self
    }

    /// The route answers 201 with `T` as JSON.
    pub fn creates<T: schemars::JsonSchema>(mut self) -> Self {
        self.success = 201;
        self.returns::<T>()
    }

    /// The route answers 204 with no body.
    pub fn no_content(mut self) -> Self {
        self.success = 204;
        self.answer = None;
        self
    }

    /// The route answers text of this media type.
    pub fn returns_text(mut self, media: &'static str) -> Self {
        self.answer = Some((media, None));
        self
    }

    /// These path parameters are numbers.
    pub fn numeric(mut self, names: &'static [&'static str]) -> Self {
        self.numeric = names;
        self
    }

    /// The route reads its query string as `T` (what its `ApiQuery<T>` reads).
    pub fn query<T: schemars::JsonSchema>(mut self) -> Self {
        self.query = Some(schema_of::<T>);
        self
    }

    /// The route may also answer `status` with `T` as JSON.
    pub fn also_returns<T: schemars::JsonSchema>(
        mut self,
        status: u16,
        description: &'static str,
    ) -> Self {
        self.also.push((status, description, schema_of::<T>));
        self
    }

    /// The route reads this request header.
    pub fn header(mut self, name: &'static str, description: &'static str, required: bool) -> Self {
        self.headers.push((name, description, required));
        self
    }
}

pub fn endpoint(
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
        success: 200,
        answer: Some(("application/json", None)),
        numeric: &[],
        query: None,
        headers: Vec::new(),
        also: Vec::new(),
        handler,
    }
}
