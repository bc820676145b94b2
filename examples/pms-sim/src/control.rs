//! The control API (loopback, for tests and the demo): read and load the dataset,
//! mutate it, arm and clear faults, reset. The same operations are methods of
//! [`crate::SimState`] for in-process use.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::SimState;
use crate::dataset::{Mutation, Portfolio};
use crate::faults::Fault;

pub fn router(state: SimState) -> Router {
    Router::new()
        .route("/control/dataset", get(dataset).put(load))
        .route("/control/mutations", post(mutate))
        .route("/control/faults", post(add_fault).delete(clear_faults))
        .route("/control/reset", post(reset))
        .with_state(state)
}

async fn dataset(State(state): State<SimState>) -> Json<Portfolio> {
    Json(state.read(Clone::clone))
}

async fn load(State(state): State<SimState>, Json(portfolio): Json<Portfolio>) -> StatusCode {
    state.write(|p| *p = portfolio);
    StatusCode::NO_CONTENT
}

async fn mutate(State(state): State<SimState>, Json(m): Json<Mutation>) -> Response {
    match state.write(|p| p.apply(&m)) {
        Ok(done) => Json(json!({ "done": done })).into_response(),
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}

async fn add_fault(State(state): State<SimState>, Json(f): Json<Fault>) -> StatusCode {
    state.add_fault(f);
    StatusCode::NO_CONTENT
}

async fn clear_faults(State(state): State<SimState>) -> StatusCode {
    state.clear_faults();
    StatusCode::NO_CONTENT
}

async fn reset(State(state): State<SimState>) -> StatusCode {
    state.reset();
    StatusCode::NO_CONTENT
}
