//! The router and the endpoint table, without any connector: access as declared,
//! problems for every refusal, and an OpenAPI document that says what the server
//! does. Fast: no component is compiled.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use epms_api::{Access, AppState, app, endpoints, new_token, openapi_document, token_hash};
use epms_runtime::{Runtime, RuntimeConfig};
use epms_store::{AdminStore as _, PropertyStore as _};
use epms_store::{PropertyRecord, RedbStore, Role, SecretBox, TokenRecord};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

struct Fixture {
    state: AppState,
    admin: String,
    manager: String,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

fn token(store: &RedbStore, role: Role, properties: &[&str]) -> String {
    let t = new_token();
    store
        .put_token(
            &token_hash(&t),
            &TokenRecord {
                name: format!("{role:?}"),
                role,
                properties: properties.iter().map(|p| (*p).to_owned()).collect(),
                created_at: 0,
            },
        )
        .unwrap();
    t
}

fn fixture() -> Fixture {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let store = Arc::new(
        RedbStore::open(&dirs.0.path().join("epms.redb"), SecretBox::new([1; 32])).unwrap(),
    );
    for id in ["door-1", "door-2"] {
        store
            .create_property(&PropertyRecord::new(id, id, 0))
            .unwrap();
    }
    let mut config = RuntimeConfig::new(dirs.1.path());
    config.pooling = false;
    let runtime = Arc::new(Runtime::new(config).unwrap());
    let admin = token(&store, Role::Admin, &[]);
    let manager = token(&store, Role::PropertyManager, &["door-1"]);
    Fixture {
        state: AppState::new(store, runtime, HashMap::new()),
        admin,
        manager,
        _dirs: dirs,
    }
}

impl Fixture {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &str,
    ) -> (StatusCode, Option<String>, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            request = request.header("authorization", format!("Bearer {t}"));
        }
        if !body.is_empty() {
            request = request.header("content-type", "application/json");
        }
        let response = app(self.state.clone())
            .oneshot(request.body(Body::from(body.to_owned())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, content_type, json)
    }
}

/// `path` with every `{param}` filled in: `door-1` for `{id}`, `1` for the rest.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| match seg {
            "{id}" => "door-1",
            s if s.starts_with('{') => "1",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_route_refuses_a_caller_without_the_right_with_a_problem() {
    let f = fixture();
    for e in endpoints() {
        let path = concrete(e.path);
        let method = e.method.to_uppercase();
        if e.access == Access::Public {
            continue;
        }
        let (status, content_type, body) = f.call(&method, &path, None, "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(
            content_type.as_deref(),
            Some("application/problem+json"),
            "{method} {path}"
        );
        assert_eq!(body["code"], "unauthorized", "{method} {path}: {body}");
        let (status, _, body) = f.call(&method, &path, Some("epms_forged"), "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
        if e.access == Access::Admin {
            let (status, _, body) = f.call(&method, &path, Some(&f.manager), "").await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
        }
        if e.access == Access::Property {
            // Another property answers as one that does not exist.
            let other = path.replacen("door-1", "door-2", 1);
            let (status, _, body) = f.call(&method, &other, Some(&f.manager), "").await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {other}: {body}");
        }
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let f = fixture();
    let (status, content_type, body) = f.call("GET", "/nope", None, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    assert_eq!(body["code"], "not-found");
    let (status, content_type, body) = f
        .call("PATCH", "/api/v1/properties", Some(&f.admin), "")
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    assert_eq!(body["code"], "method-not-allowed");
}

#[tokio::test]
async fn bad_bodies_and_path_ids_are_problems_naming_the_field() {
    let f = fixture();
    let (status, _, body) = f
        .call("POST", "/api/v1/properties", Some(&f.admin), "{not json")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "body");
    let (status, _, body) = f
        .call(
            "DELETE",
            "/api/v1/properties/door-1/accounts/not-a-number",
            Some(&f.admin),
            "",
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "path");
    let (status, _, body) = f
        .call(
            "POST",
            "/api/v1/properties",
            Some(&f.admin),
            r#"{"id":"door-3","name":"Three"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _, body) = f
        .call(
            "POST",
            "/api/v1/properties",
            Some(&f.admin),
            r#"{"id":"door-3","name":"Three"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[test]
fn the_openapi_document_lists_every_route_with_its_parameters_and_answers() {
    let doc = openapi_document();
    for e in endpoints() {
        let op = &doc["paths"][e.path][e.method];
        assert!(op.is_object(), "{} {} undocumented", e.method, e.path);
        let params = op["parameters"].as_array().unwrap();
        for name in e
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        {
            let p = params
                .iter()
                .find(|p| p["name"] == name && p["in"] == "path")
                .unwrap_or_else(|| panic!("{} {}: no parameter {name}", e.method, e.path));
            let expected = if ["account", "alert", "sid"].contains(&name) {
                "integer"
            } else {
                "string"
            };
            assert_eq!(
                p["schema"]["type"], expected,
                "{} {} {name}",
                e.method, e.path
            );
        }
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|k| k.starts_with('2')),
            "{} {}: no success answer documented",
            e.method,
            e.path
        );
        assert!(responses.contains_key("default"), "{} {}", e.method, e.path);
    }
}
