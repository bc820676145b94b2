//! The service's own routes: liveness, Prometheus metrics, the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;
use crate::framework::{Access, Endpoint, endpoint};

pub(super) fn endpoints() -> Vec<Endpoint> {
    use Access::*;
    vec![
        endpoint(
            "get",
            "/healthz",
            "Liveness",
            Public,
            get(|| async { Json(Health { status: "ok" }) }),
        )
        .returns::<Health>(),
        endpoint(
            "get",
            "/metrics",
            "Prometheus metrics (text)",
            Admin,
            get(metrics),
        )
        .returns_text("text/plain"),
        endpoint(
            "get",
            "/openapi.json",
            "This document",
            Public,
            get(openapi),
        ),
    ]
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Health {
    status: &'static str,
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

async fn openapi() -> Json<Value> {
    Json(crate::framework::openapi::document(&super::endpoints()))
}
