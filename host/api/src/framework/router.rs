//! One router from the endpoint table: each route behind the access its entry
//! declares, JSON bodies under one size limit, problems for unknown routes and
//! methods.

use std::collections::{BTreeMap, HashMap};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;

use super::{Access, ApiPath, Endpoint};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::{AppState, JSON_BODY_LIMIT};

pub fn router(state: AppState, endpoints: Vec<Endpoint>) -> Router {
    // One `MethodRouter` per path: axum refuses a path routed twice.
    let mut by_path: BTreeMap<&'static str, MethodRouter<AppState>> = BTreeMap::new();
    for e in endpoints {
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
