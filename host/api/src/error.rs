//! Errors as `application/problem+json` (RFC 9457) with a stable code per kind.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An API failure: status, a stable machine code, a human message, and the field at
/// fault for validation errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub field: Option<String>,
    /// Sent as `Retry-After` (seconds): when the PMS said it may be asked again.
    pub retry_after: Option<std::time::Duration>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            detail: detail.into(),
            field: None,
            retry_after: None,
        }
    }
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        )
    }
    pub fn forbidden(what: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("{what} needs an admin token"),
        )
    }
    /// Also what a manager gets for another property: its existence is not disclosed.
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", what)
    }
    pub fn invalid(field: &str, detail: impl Into<String>) -> Self {
        ApiError {
            field: Some(field.to_owned()),
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", detail)
        }
    }
    /// A request understood but refused, with its own code (a signature, a component).
    pub fn unprocessable(code: &'static str, field: &str, detail: impl Into<String>) -> Self {
        ApiError {
            field: Some(field.to_owned()),
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
        }
    }
    /// A body over its route's limit.
    pub fn too_large(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", detail)
    }
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail)
    }
    pub fn bad_gateway(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, code, detail)
    }
}

impl ApiError {
    /// A failed connector call (a sync's fetch, a credential check): 502 with the
    /// cause in the code, and the PMS's `Retry-After` when it gave one.
    pub fn from_call(call: epms_runtime::CallError) -> Self {
        ApiError {
            retry_after: call.retry_after(),
            ..ApiError::bad_gateway(call_code(&call), call.to_string())
        }
    }
}

/// The problem code of a failed fetch: `pms-…` for what the PMS answered (through the
/// connector), `connector-…` for the connector's own failure.
fn call_code(call: &epms_runtime::CallError) -> &'static str {
    match call.code() {
        "auth" => "pms-auth",
        "config" => "pms-config",
        "rate-limited" => "pms-rate-limited",
        "transient" => "pms-transient",
        "protocol" => "pms-protocol",
        "not-found" => "pms-not-found",
        "cpu-budget" => "connector-cpu-budget",
        "deadline" => "connector-deadline",
        "out-of-memory" => "connector-out-of-memory",
        "trap" => "connector-trap",
        "bad-output" => "connector-bad-output",
        "credential" => "connector-credential",
        _ => "connector-failed",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("urn:epms:problem:{}", self.code),
            "title": self.status.canonical_reason().unwrap_or("error"),
            "status": self.status.as_u16(),
            "code": self.code,
            "detail": self.detail,
        });
        if let Some(field) = &self.field {
            body["field"] = json!(field);
        }
        let mut resp = crate::framework::json_response(self.status, &body);
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(after) = self.retry_after {
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(after.as_secs().max(1)),
            );
        }
        resp
    }
}

impl From<epms_store::StoreError> for ApiError {
    fn from(e: epms_store::StoreError) -> Self {
        use epms_store::StoreError as S;
        match e {
            S::NoSuchProperty(p) => ApiError::not_found(format!("property {p:?}")),
            S::NoSuchCredential(c) => ApiError::not_found(format!("credential {c:?}")),
            S::PropertyExists(p) => {
                ApiError::conflict("exists", format!("property {p:?} already exists"))
            }
            S::NoSuchToken(t) => ApiError::not_found(format!("token {t:?}")),
            S::NoSuchSubscription(w) => ApiError::not_found(format!("webhook subscription {w:?}")),
            S::NothingToRollBack(v) => ApiError::conflict(
                "nothing-to-roll-back",
                format!("{v} has no earlier version"),
            ),
            S::EmptyPropertyId => ApiError::invalid("id", "must not be empty"),
            S::Stale { .. } => {
                ApiError::conflict("busy", "the property changed meanwhile; try again")
            }
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError::internal("storage failure")
            }
        }
    }
}
