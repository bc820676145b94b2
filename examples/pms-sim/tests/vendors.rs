//! Each simulated vendor speaks its own format: requests in the vendor's shape get
//! answers in the vendor's shape, wrong credentials get the vendor's own error, paging
//! returns every record exactly once, and every fault shows as configured.

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use common::*;
use pms_sim::dataset::{Mutation, Spec};
use pms_sim::faults::{Fault, FaultKind};
use pms_sim::vendors::{entrata, mri, realpage, yardi};
use serde_json::{Value, json};

#[tokio::test]
async fn entrata_answers_get_leases_r2_in_its_envelope_with_paging_metadata() {
    let s = state();
    let r = router(&s, "entrata");
    let (status, headers, body) = send(
        &r,
        entrata_call(
            "leases",
            "getLeases",
            "r2",
            "?page_no=1&per_page=10",
            entrata::API_KEY,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.contains_key("x-ratelimit-remaining"));
    let v = json_of(&body);
    assert_eq!(v["response"]["code"], 200);
    assert_eq!(v["response"]["requestId"], "15");
    let lease = &v["response"]["result"]["leases"]["lease"][0];
    for field in [
        "id",
        "leaseStatusTypeId",
        "leaseIntervalStatus",
        "propertyId",
        "unitId",
        "moveInDate",
        "customers",
        "leaseIntervals",
    ] {
        assert!(lease.get(field).is_some(), "lease.{field}");
    }
    let customer = &lease["customers"]["customer"][0];
    for field in [
        "id",
        "customerType",
        "firstName",
        "lastName",
        "emailAddress",
        "leaseCustomerStatus",
        "phones",
    ] {
        assert!(customer.get(field).is_some(), "customer.{field}");
    }
    let date = lease["leaseIntervals"]["leaseInterval"][0]["startDate"]
        .as_str()
        .unwrap();
    assert!(
        date.len() == 10 && &date[2..3] == "/" && &date[5..6] == "/",
        "MM/DD/YYYY: {date}"
    );
    let meta = &v["response"]["meta"];
    assert_eq!(meta["perPage"], 10);
    assert_eq!(meta["currentPage"], 1);
}

#[tokio::test]
async fn entrata_refuses_a_wrong_key_with_its_error_envelope_and_accepts_basic_on_the_legacy_host()
{
    let s = state();
    let r = router(&s, "entrata");
    let (status, _, body) = send(
        &r,
        entrata_call("customers", "getCustomers", "r1", "", "wrong"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let v = json_of(&body);
    assert_eq!(v["response"]["error"]["code"], 401);
    assert!(
        v["response"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Authorization Failed")
    );
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        entrata::USERNAME,
        entrata::PASSWORD
    ));
    let req = Request::post("/api/v1/customers")
        .header("authorization", format!("Basic {basic}"))
        .body(Body::from(json!({"auth": {"type": "basic"}, "requestId": "1", "method": {"name": "getCustomers", "params": {"propertyId": "100"}}}).to_string()))
        .unwrap();
    let (status, _, body) = send(&r, req).await;
    assert_eq!(status, StatusCode::OK);
    let customers = &json_of(&body)["response"]["result"]["Customers"]["Customer"];
    assert!(customers[0]["@attributes"]["Id"].is_string());
}

#[tokio::test]
async fn entrata_paging_returns_every_lease_exactly_once() {
    let s = state();
    let truth: Vec<String> = s.read(|p| {
        p.property("entrata", "100")
            .unwrap()
            .leases
            .iter()
            .map(|l| l.id.clone())
            .collect()
    });
    let r = router(&s, "entrata");
    let mut seen = Vec::new();
    let mut page = 1;
    loop {
        let (_, _, body) = send(
            &r,
            entrata_call(
                "leases",
                "getLeases",
                "r2",
                &format!("?page_no={page}&per_page=7"),
                entrata::API_KEY,
            ),
        )
        .await;
        let v = json_of(&body);
        for l in v["response"]["result"]["leases"]["lease"]
            .as_array()
            .unwrap()
        {
            seen.push(l["id"].as_str().unwrap().to_owned());
        }
        if v["response"]["meta"]["lastPage"].as_u64().unwrap() as usize <= page {
            break;
        }
        page += 1;
    }
    assert_eq!(seen, truth);
}

#[tokio::test]
async fn appfolio_reports_page_with_next_page_url_until_null_and_every_row_comes_once() {
    let s = state();
    s.set_rate_limit("appfolio", false);
    let truth: Vec<String> = s.read(|p| {
        p.property("appfolio", "17")
            .unwrap()
            .residents
            .iter()
            .map(|r| r.id.clone())
            .collect()
    });
    let r = router(&s, "appfolio");
    let mut path = "/api/v2/reports/tenant_directory.json?per_page=25".to_owned();
    let mut body = json!({"properties": {"properties_ids": ["17"]}, "tenant_visibility": "active"});
    let mut seen = Vec::new();
    loop {
        let (status, _, bytes) = send(&r, appfolio_call(&path, body.clone())).await;
        assert_eq!(status, StatusCode::OK);
        let v = json_of(&bytes);
        for row in v["results"].as_array().unwrap() {
            for field in [
                "selected_tenant_id",
                "occupancy_id",
                "property_id",
                "unit_id",
                "unit",
                "first_name",
                "last_name",
                "emails",
                "phone_numbers",
                "status",
            ] {
                assert!(row.get(field).is_some(), "{field}");
            }
            seen.push(row["selected_tenant_id"].to_string());
        }
        match v["next_page_url"].as_str() {
            Some(next) => {
                assert!(next.starts_with("/api/v2/reports/"), "relative URL");
                path = next.to_owned();
                body = json!({});
            }
            None => break,
        }
    }
    assert_eq!(seen, truth);
    let statuses: Vec<epms_model::LeaseStatus> = s.read(|p| {
        p.property("appfolio", "17")
            .unwrap()
            .leases
            .iter()
            .map(|l| l.status)
            .collect()
    });
    assert!(
        statuses
            .iter()
            .all(|st| pms_sim::vendors::serves("appfolio", *st)),
        "AppFolio serves no applicants or cancelled leases"
    );
}

#[tokio::test]
async fn appfolio_separates_emails_with_semicolons_and_limits_to_seven_requests_per_fifteen_seconds()
 {
    let s = state();
    let r = router(&s, "appfolio");
    let (_, _, bytes) = send(
        &r,
        appfolio_call("/api/v2/reports/tenant_directory.json", json!({})),
    )
    .await;
    let v = json_of(&bytes);
    assert!(
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|row| row["emails"].as_str().unwrap().contains("; "))
    );
    for _ in 0..6 {
        send(
            &r,
            appfolio_call("/api/v2/reports/property_directory.json", json!({})),
        )
        .await;
    }
    let (status, headers, _) = send(
        &r,
        appfolio_call("/api/v2/reports/property_directory.json", json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=15).contains(&retry));
    let wrong = Request::post("/api/v2/reports/rent_roll.json")
        .header("authorization", "Basic bm9wZTpub3Bl")
        .body(Body::empty())
        .unwrap();
    let (status, _, _) = send(&router(&state(), "appfolio"), wrong).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_fault_is_observable_as_configured() {
    let s = state();
    let r = router(&s, "entrata");
    let call = || {
        entrata_call(
            "leases",
            "getLeases",
            "r2",
            "?page_no=1&per_page=20",
            entrata::API_KEY,
        )
    };
    let (_, _, normal) = send(&r, call()).await;
    let arm = |kind: FaultKind| {
        s.add_fault(Fault {
            vendor: "entrata".into(),
            endpoint: "/leases".into(),
            kind,
            times: Some(1),
        })
    };

    arm(FaultKind::Latency { millis: 300 });
    let started = Instant::now();
    send(&r, call()).await;
    assert!(started.elapsed() >= Duration::from_millis(300));

    arm(FaultKind::ServerError { status: 503 });
    assert_eq!(send(&r, call()).await.0, StatusCode::SERVICE_UNAVAILABLE);

    arm(FaultKind::RateLimited { retry_after: 9 });
    let (status, headers, _) = send(&r, call()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "9");

    arm(FaultKind::Malformed);
    let (_, _, body) = send(&r, call()).await;
    assert!(serde_json::from_slice::<Value>(&body).is_err());

    arm(FaultKind::Truncated);
    let (_, _, body) = send(&r, call()).await;
    assert!(body.len() < normal.len() && serde_json::from_slice::<Value>(&body).is_err());

    arm(FaultKind::AuthFailure);
    let (status, _, body) = send(&r, call()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(json_of(&body)["response"]["error"]["code"], 401);

    arm(FaultKind::Empty);
    let (_, _, body) = send(&r, call()).await;
    assert_eq!(
        json_of(&body)["response"]["result"]["success"],
        "No Records Found."
    );

    arm(FaultKind::PartialPage);
    let (_, _, body) = send(&r, call()).await;
    let partial = json_of(&body)["response"]["result"]["leases"]["lease"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(partial, 10);

    // Each fault was armed for one request: the next one is normal again.
    assert_eq!(send(&r, call()).await.2, normal);
    // A fault on another endpoint does not touch this one.
    s.add_fault(Fault {
        vendor: "entrata".into(),
        endpoint: "/customers".into(),
        kind: FaultKind::ServerError { status: 500 },
        times: None,
    });
    assert_eq!(send(&r, call()).await.0, StatusCode::OK);
    s.clear_faults();
}

#[tokio::test]
async fn the_control_api_mutates_the_data_and_resets() {
    let spec = Spec {
        seed: 3,
        properties: vec![("entrata".into(), "100".into(), 30)],
    };
    let sim = pms_sim::Simulator::generate(spec).await.unwrap();
    let control = pms_sim::control::router(sim.state.clone());
    let before = sim
        .state
        .read(|p| p.property("entrata", "100").unwrap().residents.len());
    let unit = sim
        .state
        .read(|p| p.property("entrata", "100").unwrap().units[0].id.clone());
    let m = Mutation::MoveIn {
        vendor: "entrata".into(),
        property: "100".into(),
        unit,
        first_name: "New".into(),
        last_name: "Resident".into(),
        email: Some("new@example.com".into()),
    };
    let req = Request::post("/control/mutations")
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_string(&m).unwrap()))
        .unwrap();
    let (status, _, _) = send(&control, req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        sim.state
            .read(|p| p.property("entrata", "100").unwrap().residents.len()),
        before + 1
    );
    let bad = Request::post("/control/mutations")
        .header("content-type", "application/json")
        .body(Body::from(
            r#"{"op":"move-out","vendor":"entrata","property":"100","lease":"nope"}"#,
        ))
        .unwrap();
    assert_eq!(
        send(&control, bad).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (status, _, _) = send(
        &control,
        Request::post("/control/reset").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        sim.state
            .read(|p| p.property("entrata", "100").unwrap().residents.len()),
        before
    );
    let manifest = sim.manifest();
    let entrata = manifest
        .vendors
        .iter()
        .find(|v| v.vendor == "entrata")
        .unwrap();
    assert_eq!(entrata.properties, ["100"]);
    assert!(entrata.credential.iter().any(|(k, _)| k == "api-key"));
}

#[tokio::test]
async fn yardi_answers_get_residents_with_mits_resident_data_and_login_failures_inside_http_200() {
    let s = state();
    let r = router(&s, "yardi");
    let c = yardi::default_credential();
    let (pw, lic) = (
        c.get("password").unwrap(),
        c.get("interface-license").unwrap(),
    );
    let action = |op: &str| format!("{}/{op}", yardi::NS);
    let path = "/webservices/ItfResidentData.asmx";
    let (status, _, body) = send(
        &r,
        soap(
            path,
            &action("GetResidents"),
            yardi_body("GetResidents", pw, lic, "rnttrk01"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("<GetResidentsResult><MITS-ResidentData xmlns=\"\"><PropertyResidents Code=\"rnttrk01\"><Residents><Resident tCode=\"t"), "{}", &text[..400]);
    let leases = s.read(|p| p.property("yardi", "rnttrk01").unwrap().leases.len());
    assert_eq!(text.matches("<Resident tCode=").count(), leases);
    assert!(text.contains("<OtherOccupant Code=\"r"));
    for field in [
        "<Status>",
        "<FirstName>",
        "<UnitCode>",
        "<LeaseFromDate>",
        "<MoveOutDate",
    ] {
        assert!(text.contains(field), "{field}");
    }
    let (status, _, body) = send(
        &r,
        soap(
            path,
            &action("GetResidents"),
            yardi_body("GetResidents", "wrong", lic, "rnttrk01"),
        ),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "Yardi reports login failures inside HTTP 200"
    );
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("<Message messageType=\"Error\">Login failed.</Message>")
    );
    let (_, _, body) = send(
        &r,
        soap(
            path,
            &action("GetResidents"),
            yardi_body("GetResidents", pw, "bad-license", "rnttrk01"),
        ),
    )
    .await;
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("<GetResidentsResult>-3</GetResidentsResult>")
    );
    let (_, _, body) = send(
        &r,
        soap(
            path,
            &action("GetResidents"),
            yardi_body("GetResidents", pw, lic, "nope"),
        ),
    )
    .await;
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("<GetResidentsResult>-2</GetResidentsResult>")
    );
    let (_, _, body) = send(
        &r,
        soap(
            path,
            &action("GetUnitInformation"),
            yardi_body("GetUnitInformation", pw, lic, "rnttrk01"),
        ),
    )
    .await;
    let text = String::from_utf8(body).unwrap();
    // The recorded shape: one RT_Customer per lease on a unit (at least one per unit).
    assert!(text.matches("<RT_Unit>").count() >= 120);
    assert!(text.contains("xmlns:MITS=") && text.contains("<MITS:UnitEconomicStatusDescription>"));
}

#[tokio::test]
async fn realpage_answers_in_lowercase_and_refuses_an_unlicensed_key_with_its_fault() {
    let s = state();
    let r = router(&s, "realpage");
    let path = format!("/rpxgateway/partner/{0}/{0}.svc", realpage::PARTNER);
    let lic = realpage::default_credential()
        .get("license-key")
        .unwrap()
        .to_owned();
    let call = |op: &str, license: &str| {
        soap(
            &path,
            &format!("http://tempuri.org/IRPXService/{op}"),
            realpage_body(
                op,
                license,
                "<tem:getresidentlistinfo><tem:status>ALL</tem:status><tem:headofhousehold>0</tem:headofhousehold></tem:getresidentlistinfo>",
            ),
        )
    };
    let (status, _, body) = send(&r, call("getresidentlistinfo", &lic)).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("<getresidentlistinfoResponse xmlns=\"http://tempuri.org/\"><getresidentlistinfoResult><residentlist><resident><residentid>"));
    let residents = s.read(|p| p.property("realpage", "3401").unwrap().residents.len());
    assert_eq!(text.matches("<resident>").count(), residents);
    for field in [
        "<residentmemberid>",
        "<unitid>",
        "<leasestatus>",
        "<begindate>",
        "<noticegivendate",
    ] {
        assert!(text.contains(field), "{field}");
    }
    let (status, _, body) = send(&r, call("getresidentlistinfo", "bad")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("<faultstring>LicenseKey is not authorized to call the method</faultstring>")
    );
    let (_, _, body) = send(&r, call("getunitlist", &lic)).await;
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("<getunitlistResult><GetUnitList xmlns=\"\"><UnitObjects><UnitObject>"),
        "the recorded shape"
    );
    assert!(text.contains("<Address><UnitID>") && text.contains("<Availability><VacantBit>"));
}

#[tokio::test]
async fn mri_pages_with_top_skip_and_next_link_and_refuses_a_wrong_composite_login() {
    let s = state();
    let r = router(&s, "mri");
    let get = |path: String, auth: String| {
        Request::get(path)
            .header("authorization", auth)
            .body(Body::empty())
            .unwrap()
    };
    let expected = s.read(|p| {
        let p = p.property("mri", "500").unwrap();
        p.residents
            .iter()
            .filter(|r| {
                p.leases.iter().any(|l| {
                    Some(&l.id) == r.lease_id.as_ref()
                        && l.status != epms_model::LeaseStatus::Future
                })
            })
            .count()
    });
    let mut path = "/mriapiservices/api.asp?$api=MRI_S-PMRM_ResidentLeaseDetailsByPropertyID&$format=json&RMPROPID=500&$top=40".to_owned();
    let mut rows = Vec::new();
    loop {
        let (status, _, body) = send(&r, get(path.clone(), mri_auth(mri::PASSWORD))).await;
        assert_eq!(status, StatusCode::OK);
        let v = json_of(&body);
        assert!(v["odata.metadata"].is_string());
        for row in v["value"].as_array().unwrap() {
            for field in [
                "ResidentNameID",
                "PropertyID",
                "UnitID",
                "LeaseID",
                "ResidentStatus",
                "LeaseStart",
                "IsCurrent",
            ] {
                assert!(row.get(field).is_some(), "{field}");
            }
            rows.push(format!("{}:{}", row["ResidentNameID"], row["LeaseID"]));
        }
        match v["nextLink"].as_str() {
            Some(next) => path = next.to_owned(),
            None => break,
        }
    }
    let unique: std::collections::HashSet<&String> = rows.iter().collect();
    assert_eq!(unique.len(), rows.len(), "no row twice");
    assert_eq!(rows.len(), expected);
    let (_, _, body) = send(
        &r,
        get(
            "/mriapiservices/api.asp?$api=MRI_S-PMRM_PendingMoveIns&$format=json&RMPROPID=500"
                .into(),
            mri_auth(mri::PASSWORD),
        ),
    )
    .await;
    let pending = json_of(&body)["value"].as_array().unwrap().len();
    assert!(pending > 0);
    let (status, _, body) = send(
        &r,
        get(
            "/mriapiservices/api.asp?$api=MRI_S-PMRM_PropertyList&$format=json".into(),
            mri_auth("wrong"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(json_of(&body)["error"]["message"].is_string());
}

/// Benchmarks subtract the simulator's own answering time from what a read cost them;
/// it counts every answer a vendor API makes over loopback, and no more than the
/// client waited.
#[tokio::test]
async fn the_time_spent_answering_is_counted_per_request() {
    let spec = Spec {
        seed: 5,
        properties: vec![("entrata".into(), "100".into(), 200)],
    };
    let sim = pms_sim::Simulator::generate(spec).await.unwrap();
    assert_eq!(sim.state.answering_time(), Duration::ZERO);
    let addr = sim
        .base_url("entrata")
        .unwrap()
        .trim_start_matches("http://")
        .to_owned();
    let mut waited = Duration::ZERO;
    for _ in 0..3 {
        let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        let mut req = entrata_call("leases", "getLeases", "r2", "", entrata::API_KEY);
        req.headers_mut().insert("host", addr.parse().unwrap());
        let started = Instant::now();
        let resp = sender.send_request(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        waited += started.elapsed();
        assert!(body.len() > 10_000, "a page of 200 units' leases");
    }
    let answering = sim.state.answering_time();
    assert!(answering > Duration::ZERO, "three answers took no time");
    assert!(
        answering <= waited,
        "{answering:?} answering, {waited:?} waited"
    );
}
