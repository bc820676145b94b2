//! The web console: one page and its script and style, embedded in the binary
//! (`host/api/console/`, plain HTML, CSS and JavaScript: no build step, no CDN, nothing
//! fetched at run time), served at `/`; and its session: a token exchanged for an
//! HttpOnly, SameSite=Strict cookie (see `docs/console.md`).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use epms_store::Role;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::{Caller, SESSION_COOKIE, token_hash};
use crate::error::ApiError;
use crate::framework::{Access, ApiJson, ApiResult, Endpoint, endpoint, reply};

const INDEX: &str = include_str!("../../console/index.html");
const SCRIPT: &str = include_str!("../../console/app.js");
const STYLE: &str = include_str!("../../console/app.css");

/// Everything the console loads comes from here, and nothing runs inline.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub(super) fn endpoints() -> Vec<Endpoint> {
    use Access::*;
    vec![
        endpoint("get", "/", "The web console", Public, get(index)).returns_text("text/html"),
        endpoint(
            "get",
            "/console/app.js",
            "The web console's script",
            Public,
            get(script),
        )
        .returns_text("text/javascript"),
        endpoint(
            "get",
            "/console/app.css",
            "The web console's style",
            Public,
            get(style),
        )
        .returns_text("text/css"),
        endpoint(
            "post",
            "/console/session",
            "Sign in to the console: a token exchanged for an HttpOnly, SameSite=Strict cookie",
            Public,
            post(sign_in),
        )
        .json_body::<SignIn>()
        .returns::<Session>(),
        endpoint(
            "get",
            "/console/session",
            "Who is signed in (by cookie or bearer token)",
            AnyToken,
            get(whoami),
        )
        .returns::<Session>(),
        endpoint(
            "delete",
            "/console/session",
            "Sign out of the console (the cookie is cleared)",
            Public,
            axum::routing::delete(sign_out),
        )
        .no_content(),
    ]
}

fn asset(media: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(media)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(POLICY),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

#[derive(Deserialize, schemars::JsonSchema)]
struct SignIn {
    /// An API token (`epms_…`).
    #[schemars(length(min = 1, max = 200))]
    token: String,
}

/// Who is signed in.
#[derive(Serialize, schemars::JsonSchema)]
struct Session {
    name: String,
    role: Role,
    /// The properties a manager may see (empty for an admin: every property).
    properties: Vec<String>,
}

fn session_of(caller: &Caller) -> Session {
    Session {
        name: caller.0.name.clone(),
        role: caller.0.role.clone(),
        properties: caller.0.properties.clone(),
    }
}

fn cookie(value: &str, max_age: Option<u32>) -> HeaderValue {
    let age = max_age.map_or(String::new(), |a| format!("; Max-Age={a}"));
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict{age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("epms_session=; Path=/"))
}

async fn sign_in(State(state): State<AppState>, ApiJson(body): ApiJson<SignIn>) -> ApiResult {
    let token = body.token.trim();
    // A token is `epms_` and hex: anything else cannot be one, and never goes in a cookie.
    if token.is_empty()
        || token.len() > 200
        || !token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(ApiError::unauthorized());
    }
    let record = state
        .store
        .token(&token_hash(token))?
        .ok_or_else(ApiError::unauthorized)?;
    let mut answer = reply(session_of(&Caller(record)))?;
    answer
        .headers_mut()
        .insert(header::SET_COOKIE, cookie(token, Some(12 * 3600)));
    Ok(answer)
}

async fn whoami(caller: Caller) -> ApiResult {
    reply(session_of(&caller))
}

async fn sign_out() -> Response {
    (
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, cookie("", Some(0)))],
    )
        .into_response()
}
