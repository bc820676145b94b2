//! Requests in each vendor's shape against the simulator's routers, in process.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use http_body_util::BodyExt;
use pms_sim::SimState;
use pms_sim::dataset::{Spec, generate};
use pms_sim::vendors::{appfolio, entrata, mri, realpage, yardi};
use serde_json::{Value, json};
use tower::ServiceExt;

pub fn state() -> SimState {
    SimState::new(generate(&Spec {
        seed: 21,
        properties: vec![
            ("entrata".into(), "100".into(), 120),
            ("appfolio".into(), "17".into(), 120),
            ("mri".into(), "500".into(), 120),
            ("yardi".into(), "rnttrk01".into(), 120),
            ("realpage".into(), "3401".into(), 120),
            ("rentmanager".into(), "11".into(), 120),
        ],
    }))
}

pub fn router(state: &SimState, vendor: &str) -> Router {
    pms_sim::vendors::routers(state)
        .into_iter()
        .find(|(v, _)| *v == vendor)
        .unwrap()
        .1
}

pub async fn send(
    router: &Router,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

pub fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

pub fn entrata_call(
    service: &str,
    method: &str,
    version: &str,
    query: &str,
    key: &str,
) -> Request<Body> {
    Request::post(format!("/ext/orgs/{}/v1/{service}{query}", entrata::SUBDOMAIN))
        .header("x-api-key", key)
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"auth": {"type": "apikey"}, "requestId": "15", "method": {"name": method, "version": version, "params": {"propertyId": "100"}}}).to_string(),
        ))
        .unwrap()
}

pub fn appfolio_auth() -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            appfolio::CLIENT_ID,
            appfolio::CLIENT_SECRET
        ))
    )
}

pub fn appfolio_call(path: &str, body: Value) -> Request<Body> {
    Request::post(path)
        .header("authorization", appfolio_auth())
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

pub fn soap(path: &str, action: &str, body: String) -> Request<Body> {
    Request::post(path)
        .header("content-type", "text/xml; charset=utf-8")
        .header("soapaction", action)
        .body(Body::from(body))
        .unwrap()
}

pub fn yardi_body(op: &str, password: &str, license: &str, property: &str) -> String {
    let c = yardi::default_credential();
    let f = |k: &str| c.get(k).unwrap().to_owned();
    format!(
        "<?xml version=\"1.0\"?><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><{op} xmlns=\"{ns}\">\
         <UserName>{}</UserName><Password>{password}</Password><ServerName>{}</ServerName><Database>{}</Database><Platform>SQL Server</Platform>\
         <YardiPropertyId>{property}</YardiPropertyId><InterfaceEntity>{}</InterfaceEntity><InterfaceLicense>{license}</InterfaceLicense><MoveOut1/></{op}></soap:Body></soap:Envelope>",
        f("username"),
        f("server-name"),
        f("database"),
        f("interface-entity"),
        ns = yardi::NS,
    )
}

pub fn realpage_body(op: &str, license: &str, extra: &str) -> String {
    let c = realpage::default_credential();
    format!(
        "<?xml version=\"1.0\"?><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:tem=\"http://tempuri.org/\"><soapenv:Body><tem:{op}>\
         <tem:auth><tem:pmcid>{}</tem:pmcid><tem:siteid>3401</tem:siteid><tem:licensekey>{license}</tem:licensekey><tem:system>Onesite</tem:system></tem:auth>{extra}</tem:{op}></soapenv:Body></soapenv:Envelope>",
        c.get("pmc-id").unwrap()
    )
}

pub fn mri_auth(password: &str) -> String {
    let user = format!(
        "{}/{}/{}/{}",
        mri::CLIENT_ID,
        mri::DATABASE,
        mri::WEB_USER,
        mri::PARTNER_KEY
    );
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}
