//! Serving a 5,000-unit property (≈ 12,000 residents) through each vendor's API over
//! loopback HTTP: records/s and bytes/s per vendor. Target: ≥ 50,000 records/s each,
//! so the simulator is never the bottleneck of a connector benchmark.
//!
//! Run: `cargo bench -p pms-sim --bench serve`. AppFolio's own rate limit (7 requests
//! per 15 s) is switched off here: it would measure the limit, not the simulator.

use std::time::{Duration, Instant};

use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use pms_sim::Simulator;
use pms_sim::dataset::Spec;
use pms_sim::vendors::{appfolio, entrata, mri, realpage, yardi};
use serde_json::{Value, json};

struct Call {
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: String,
}

async fn send(addr: &str, call: &Call) -> Bytes {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(call.method)
        .uri(&call.path)
        .header("host", addr);
    for (k, v) in &call.headers {
        req = req.header(*k, v);
    }
    let resp = sender
        .send_request(req.body(Full::new(Bytes::from(call.body.clone()))).unwrap())
        .await
        .unwrap();
    assert!(
        resp.status().is_success(),
        "{} {}: {}",
        call.method,
        call.path,
        resp.status()
    );
    resp.into_body().collect().await.unwrap().to_bytes()
}

fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

/// Reads everything of the vendor's property, following its paging; returns bytes.
async fn read_all(vendor: &str, addr: &str) -> usize {
    let mut bytes = 0;
    match vendor {
        "yardi" => {
            let c = yardi::default_credential();
            let f = |k: &str| c.get(k).unwrap().to_owned();
            for op in ["GetUnitInformation", "GetResidents"] {
                let body = format!(
                    "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><{op} xmlns=\"{}\"><UserName>{}</UserName><Password>{}</Password><ServerName>{}</ServerName><Database>{}</Database><Platform>SQL Server</Platform><YardiPropertyId>Y1</YardiPropertyId><InterfaceEntity>{}</InterfaceEntity><InterfaceLicense>{}</InterfaceLicense></{op}></soap:Body></soap:Envelope>",
                    yardi::NS,
                    f("username"),
                    f("password"),
                    f("server-name"),
                    f("database"),
                    f("interface-entity"),
                    f("interface-license")
                );
                let call = Call {
                    method: "POST",
                    path: "/webservices/ItfResidentData.asmx".into(),
                    headers: vec![
                        ("soapaction", format!("{}/{op}", yardi::NS)),
                        ("content-type", "text/xml".into()),
                    ],
                    body,
                };
                bytes += send(addr, &call).await.len();
            }
        }
        "realpage" => {
            let c = realpage::default_credential();
            for op in ["getunitlist", "getresidentlistinfo"] {
                let body = format!(
                    "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:tem=\"http://tempuri.org/\"><soapenv:Body><tem:{op}><tem:auth><tem:pmcid>{}</tem:pmcid><tem:siteid>R1</tem:siteid><tem:licensekey>{}</tem:licensekey><tem:system>Onesite</tem:system></tem:auth></tem:{op}></soapenv:Body></soapenv:Envelope>",
                    c.get("pmc-id").unwrap(),
                    c.get("license-key").unwrap()
                );
                let call = Call {
                    method: "POST",
                    path: format!("/rpxgateway/partner/{0}/{0}.svc", realpage::PARTNER),
                    headers: vec![
                        ("soapaction", format!("http://tempuri.org/IRPXService/{op}")),
                        ("content-type", "text/xml".into()),
                    ],
                    body,
                };
                bytes += send(addr, &call).await.len();
            }
        }
        "entrata" => {
            for (service, method) in [
                ("propertyunits", "getPropertyUnits"),
                ("customers", "getCustomers"),
                ("leases", "getLeases"),
            ] {
                let mut page = 1;
                loop {
                    let body = json!({"auth": {"type": "apikey"}, "requestId": "1", "method": {"name": method, "version": "r2", "params": {"propertyId": "E1"}}}).to_string();
                    let call = Call {
                        method: "POST",
                        path: format!(
                            "/ext/orgs/{}/v1/{service}?page_no={page}&per_page=1000",
                            entrata::SUBDOMAIN
                        ),
                        headers: vec![
                            ("x-api-key", entrata::API_KEY.into()),
                            ("content-type", "application/json".into()),
                        ],
                        body,
                    };
                    let out = send(addr, &call).await;
                    bytes += out.len();
                    let v: Value = serde_json::from_slice(&out).unwrap();
                    if v["response"]["meta"]["lastPage"].as_u64().unwrap_or(1) as usize <= page {
                        break;
                    }
                    page += 1;
                }
            }
        }
        "mri" => {
            let auth = basic(
                &format!(
                    "{}/{}/{}/{}",
                    mri::CLIENT_ID,
                    mri::DATABASE,
                    mri::WEB_USER,
                    mri::PARTNER_KEY
                ),
                mri::PASSWORD,
            );
            for api in [
                "MRI_S-PMRM_UnitVacancyInformation",
                "MRI_S-PMRM_ResidentsByPropertyID",
                "MRI_S-PMRM_ResidentLeaseDetailsByPropertyID",
                "MRI_S-PMRM_PendingMoveIns",
            ] {
                let mut path = format!(
                    "/mriapiservices/api.asp?$api={api}&$format=json&RMPROPID=M1&PROPERTYID=M1&$top=2000"
                );
                loop {
                    let out = send(
                        addr,
                        &Call {
                            method: "GET",
                            path: path.clone(),
                            headers: vec![("authorization", auth.clone())],
                            body: String::new(),
                        },
                    )
                    .await;
                    bytes += out.len();
                    let v: Value = serde_json::from_slice(&out).unwrap();
                    match v["nextLink"].as_str() {
                        Some(next) => path = next.to_owned(),
                        None => break,
                    }
                }
            }
        }
        _ => {
            let auth = basic(appfolio::CLIENT_ID, appfolio::CLIENT_SECRET);
            for report in ["unit_directory", "tenant_directory", "rent_roll"] {
                let mut path = format!("/api/v2/reports/{report}.json");
                let mut body = json!({"properties": {"properties_ids": ["A1"]}}).to_string();
                loop {
                    let out = send(
                        addr,
                        &Call {
                            method: "POST",
                            path: path.clone(),
                            headers: vec![
                                ("authorization", auth.clone()),
                                ("content-type", "application/json".into()),
                            ],
                            body: body.clone(),
                        },
                    )
                    .await;
                    bytes += out.len();
                    let v: Value = serde_json::from_slice(&out).unwrap();
                    match v["next_page_url"].as_str() {
                        Some(next) => {
                            path = next.to_owned();
                            body = "{}".into();
                        }
                        None => break,
                    }
                }
            }
        }
    }
    bytes
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let ids = [
        ("yardi", "Y1"),
        ("realpage", "R1"),
        ("entrata", "E1"),
        ("mri", "M1"),
        ("appfolio", "A1"),
    ];
    let sim = Simulator::generate(Spec {
        seed: 2026,
        properties: ids
            .iter()
            .map(|(v, id)| ((*v).to_owned(), (*id).to_owned(), 5_000))
            .collect(),
    })
    .await
    .unwrap();
    sim.state.set_rate_limit("appfolio", false);
    println!(
        "{:<10} {:>9} {:>10} {:>12} {:>12}  target",
        "vendor", "records", "ms", "records/s", "MiB/s"
    );
    for (vendor, id) in ids {
        let records = sim.state.read(|p| {
            let p = p.property(vendor, id).unwrap();
            p.units.len() + p.residents.len() + p.leases.len()
        });
        let base = sim.base_url(vendor).unwrap();
        let addr = base.trim_start_matches("http://").to_owned();
        read_all(vendor, &addr).await; // warm
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..5 {
            let started = Instant::now();
            bytes = read_all(vendor, &addr).await;
            times.push(started.elapsed());
        }
        times.sort();
        let t: Duration = times[2];
        let rps = records as f64 / t.as_secs_f64();
        println!(
            "{vendor:<10} {records:>9} {:>10.1} {rps:>12.0} {:>12.1}  >= 50,000 records/s {}",
            t.as_secs_f64() * 1e3,
            bytes as f64 / t.as_secs_f64() / (1 << 20) as f64,
            if rps >= 50_000.0 { "ok" } else { "MISSED" }
        );
    }
}
