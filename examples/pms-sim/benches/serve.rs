//! Serving a 5,000-unit property (≈ 12,000 residents) through each vendor's API over
//! loopback HTTP: records/s and bytes/s per vendor. Target: ≥ 500,000 records/s each,
//! so that the simulator is never what a connector benchmark measures.
//!
//! Beside each vendor, the plain baseline of the same run: the same answers, recorded,
//! served again as fixed bytes by a bare axum route through the same client. The ratio
//! is what building the answers costs on top of moving them.
//!
//! Run: `cargo bench -p pms-sim --bench serve` (`BENCH_VENDOR=entrata` for one vendor).
//! AppFolio's own rate limit (7 requests per 15 s) is switched off here: it would
//! measure the limit, not the simulator.

/// The allocator of the processes the simulator runs in (the `epms` binary's main job,
/// the connectors bench).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use pms_sim::Simulator;
use pms_sim::dataset::Spec;
use pms_sim::vendors::{appfolio, entrata, mri, realpage, rentmanager, yardi};
use serde_json::json;

struct Call {
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: String,
}

async fn send(addr: &str, call: &Call) -> (u16, Bytes) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
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
    let status = resp.status().as_u16();
    (status, resp.into_body().collect().await.unwrap().to_bytes())
}

/// The value of the last `"key":` in a JSON answer, as text (`None` for null or when
/// absent). The paging fields come after the records in every vendor's answer, so the
/// bench finds them from the end instead of parsing the page: what it times is the
/// simulator, not its own client.
fn paging_field<'a>(body: &'a [u8], key: &str) -> Option<&'a str> {
    let key = format!("\"{key}\":");
    let at = body.windows(key.len()).rposition(|w| w == key.as_bytes())? + key.len();
    let rest = std::str::from_utf8(&body[at..]).unwrap().trim_start();
    if let Some(text) = rest.strip_prefix('"') {
        return Some(&text[..text.find('"').unwrap()]);
    }
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

/// Reads everything of the vendor's property, following its paging; returns the
/// answers.
async fn read_all(vendor: &str, id: &str, addr: &str) -> Vec<Bytes> {
    let mut answers = Vec::new();
    match vendor {
        "yardi" => {
            let c = yardi::default_credential();
            let f = |k: &str| c.get(k).unwrap().to_owned();
            for op in ["GetUnitInformation", "GetResidents"] {
                let body = format!(
                    "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><{op} xmlns=\"{}\"><UserName>{}</UserName><Password>{}</Password><ServerName>{}</ServerName><Database>{}</Database><Platform>SQL Server</Platform><YardiPropertyId>{id}</YardiPropertyId><InterfaceEntity>{}</InterfaceEntity><InterfaceLicense>{}</InterfaceLicense></{op}></soap:Body></soap:Envelope>",
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
                answers.push(send(addr, &call).await.1);
            }
        }
        "realpage" => {
            let c = realpage::default_credential();
            for op in ["getunitlist", "getresidentlistinfo"] {
                let body = format!(
                    "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:tem=\"http://tempuri.org/\"><soapenv:Body><tem:{op}><tem:auth><tem:pmcid>{}</tem:pmcid><tem:siteid>{id}</tem:siteid><tem:licensekey>{}</tem:licensekey><tem:system>Onesite</tem:system></tem:auth></tem:{op}></soapenv:Body></soapenv:Envelope>",
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
                answers.push(send(addr, &call).await.1);
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
                    let body = json!({"auth": {"type": "apikey"}, "requestId": "1", "method": {"name": method, "version": "r2", "params": {"propertyId": id}}}).to_string();
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
                    let (_, out) = send(addr, &call).await;
                    let last_page =
                        paging_field(&out, "lastPage").map_or(1, |n| n.parse().unwrap());
                    answers.push(out);
                    if last_page <= page {
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
                    "/mriapiservices/api.asp?$api={api}&$format=json&RMPROPID={id}&PROPERTYID={id}&$top=2000"
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
                    .await
                    .1;
                    let next = paging_field(&out, "nextLink").map(str::to_owned);
                    answers.push(out);
                    match next {
                        Some(next) => path = next,
                        None => break,
                    }
                }
            }
        }
        "appfolio" => {
            let auth = basic(appfolio::CLIENT_ID, appfolio::CLIENT_SECRET);
            for report in ["unit_directory", "tenant_directory", "rent_roll"] {
                let mut path = format!("/api/v2/reports/{report}.json");
                let mut body = json!({"properties": {"properties_ids": [id]}}).to_string();
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
                    .await
                    .1;
                    let next = paging_field(&out, "next_page_url").map(str::to_owned);
                    answers.push(out);
                    match next {
                        Some(next) => {
                            path = next;
                            body = "{}".into();
                        }
                        None => break,
                    }
                }
            }
        }
        _ => {
            let sign_in = Call {
                method: "POST",
                path: "/Authentication/AuthorizeUser".into(),
                headers: vec![("content-type", "application/json".into())],
                body: json!({"Username": rentmanager::USERNAME, "Password": rentmanager::PASSWORD, "LocationID": rentmanager::LOCATION}).to_string(),
            };
            let token: String = serde_json::from_slice(&send(addr, &sign_in).await.1).unwrap();
            for resource in ["Units", "Tenants?embeds=Contacts&", "Leases"] {
                let (resource, embeds) = resource.split_once('?').unwrap_or((resource, ""));
                for page in 1.. {
                    let call = Call {
                        method: "GET",
                        path: format!(
                            "/{resource}?{embeds}filters=PropertyID,eq,{id}&pageSize=1000&pageNumber={page}"
                        ),
                        headers: vec![("x-rm12api-apitoken", token.clone())],
                        body: String::new(),
                    };
                    let (status, out) = send(addr, &call).await;
                    answers.push(out);
                    // 206: a page that is not the last.
                    if status != 206 {
                        break;
                    }
                }
            }
        }
    }
    answers
}

/// The recorded answers served again as fixed bytes, one path each: the plain
/// baseline (no vendor logic, same HTTP, same client).
async fn plain_server(answers: Vec<Bytes>) -> String {
    let answers = std::sync::Arc::new(answers);
    let app = axum::Router::new().route(
        "/{i}",
        axum::routing::get(move |axum::extract::Path(i): axum::extract::Path<usize>| {
            let answers = answers.clone();
            async move { answers[i].clone() }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        tcp.set_nodelay(true).unwrap();
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn read_plain(addr: &str, answers: usize) {
    for i in 0..answers {
        let call = Call {
            method: "GET",
            path: format!("/{i}"),
            headers: vec![],
            body: String::new(),
        };
        send(addr, &call).await;
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let ids = [
        ("yardi", "Y1"),
        ("realpage", "R1"),
        ("entrata", "E1"),
        ("mri", "M1"),
        ("appfolio", "A1"),
        ("rentmanager", "7"),
    ];
    let spec = Spec {
        seed: 2026,
        properties: ids
            .iter()
            .map(|(v, id)| ((*v).to_owned(), (*id).to_owned(), 5_000))
            .collect(),
    };
    // Making the data is setup for every connector bench and test: beside it, a plain
    // copy of the same records. (Scans of every resident per lease once made it 3.5 s.)
    let started = Instant::now();
    let portfolio = pms_sim::dataset::generate(&spec);
    let generated = started.elapsed();
    let started = Instant::now();
    let copy = std::hint::black_box(portfolio.clone());
    let copied = started.elapsed();
    drop((portfolio, copy));
    println!(
        "generate {} properties of 5,000 units: {:.1} ms   plain: the same records cloned {:.1} ms   ratio {:.1}x",
        ids.len(),
        generated.as_secs_f64() * 1e3,
        copied.as_secs_f64() * 1e3,
        generated.as_secs_f64() / copied.as_secs_f64()
    );
    let sim = Simulator::generate(spec).await.unwrap();
    sim.state.set_rate_limit("appfolio", false);
    println!(
        "{:<12} {:>8} {:>9} {:>11} {:>8} {:>9} {:>7}  target >= 500,000 records/s",
        "vendor", "records", "ms", "records/s", "MiB/s", "plain ms", "ratio"
    );
    // BENCH_VENDOR=entrata reads one vendor only (for a profile).
    let only = std::env::var("BENCH_VENDOR").ok();
    for (vendor, id) in ids {
        if only.as_deref().is_some_and(|only| only != vendor) {
            continue;
        }
        let records = sim.state.read(|p| {
            let p = p.property(vendor, id).unwrap();
            p.units.len() + p.residents.len() + p.leases.len()
        });
        let base = sim.base_url(vendor).unwrap();
        let addr = base.trim_start_matches("http://").to_owned();
        let answers = read_all(vendor, id, &addr).await; // warm, and the plain answers
        let bytes: usize = answers.iter().map(Bytes::len).sum();
        let calls = answers.len();
        let plain = plain_server(answers).await;
        read_plain(&plain, calls).await; // warm
        let (mut times, mut plain_times) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            let started = Instant::now();
            read_all(vendor, id, &addr).await;
            times.push(started.elapsed());
            let started = Instant::now();
            read_plain(&plain, calls).await;
            plain_times.push(started.elapsed());
        }
        let (t, plain_t) = (median(times), median(plain_times));
        let rps = records as f64 / t.as_secs_f64();
        println!(
            "{vendor:<12} {records:>8} {:>9.1} {rps:>11.0} {:>8.1} {:>9.1} {:>6.1}×  {}",
            t.as_secs_f64() * 1e3,
            bytes as f64 / t.as_secs_f64() / (1 << 20) as f64,
            plain_t.as_secs_f64() * 1e3,
            t.as_secs_f64() / plain_t.as_secs_f64(),
            if rps >= 500_000.0 { "ok" } else { "MISSED" }
        );
    }
}
