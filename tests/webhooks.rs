//! Webhooks delivered to real receivers on loopback: signed as the Standard Webhooks
//! specification says (the receivers verify with their own code, written from the
//! specification), in order, at least once; retried with backoff when a receiver
//! fails; a dead receiver's subscription disabled and re-enabled by an admin; a slow
//! receiver delaying no one else; a receiver that restarts missing nothing.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use epms_e2e::api_host::{Host, loopback_webhooks};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// What a receiver got: (webhook-id, the body).
type Received = Arc<Mutex<Vec<(String, Value)>>>;

/// How a receiver answers.
#[derive(Clone, Default)]
struct Behaviour {
    /// Answer 500 to this many requests first.
    fail_first: Arc<AtomicU32>,
    /// Answer 503 while set.
    down: Arc<AtomicBool>,
    /// Wait this long before answering.
    delay: Duration,
}

#[derive(Clone)]
struct Receiver {
    secret: Arc<Mutex<String>>,
    received: Received,
    behaviour: Behaviour,
    /// Requests whose signature did not verify.
    forged: Arc<AtomicU32>,
}

/// Verifies a Standard Webhooks signature: HMAC-SHA256 keyed by the base64 after
/// `whsec_`, over `id.timestamp.body`, base64; any of the space-separated `v1,`
/// signatures may match; the timestamp within five minutes of now.
fn verify(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(id), Some(timestamp), Some(signatures)) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    ) else {
        return false;
    };
    let Ok(ts) = timestamp.parse::<i64>() else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if (now - ts).abs() > 300 {
        return false;
    }
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|k| STANDARD.decode(k).ok())
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    signatures.split(' ').any(|s| {
        s.strip_prefix("v1,")
            .and_then(|b| STANDARD.decode(b).ok())
            .is_some_and(|sig| {
                let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
                mac.update(format!("{id}.{timestamp}.").as_bytes());
                mac.update(body);
                // Constant-time comparison, as the specification asks.
                mac.verify_slice(&sig).is_ok() && sig.len() == expected.len()
            })
    })
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if !r.behaviour.delay.is_zero() {
        tokio::time::sleep(r.behaviour.delay).await;
    }
    if r.behaviour.down.load(Ordering::Relaxed) {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    if r.behaviour
        .fail_first
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok()
    {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let secret = r.secret.lock().unwrap().clone();
    if !verify(&secret, &headers, &body) {
        r.forged.fetch_add(1, Ordering::Relaxed);
        return StatusCode::UNAUTHORIZED;
    }
    let id = headers["webhook-id"].to_str().unwrap().to_owned();
    let value: Value = serde_json::from_slice(&body).unwrap();
    r.received.lock().unwrap().push((id, value));
    StatusCode::NO_CONTENT
}

impl Receiver {
    fn new(behaviour: Behaviour) -> Receiver {
        Receiver {
            secret: Arc::default(),
            received: Arc::default(),
            behaviour,
            forged: Arc::default(),
        }
    }

    /// Serves on `addr` (port 0: any) until the returned handle is aborted.
    async fn serve(&self, addr: SocketAddr) -> (SocketAddr, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(self.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        (addr, task)
    }

    fn ids(&self) -> Vec<u64> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|(id, _)| id.trim_start_matches("msg_").parse().unwrap())
            .collect()
    }
}

/// Starts delivery on the host's store: fast retries, a short timeout.
fn dispatch(h: &Host) -> tokio::task::JoinHandle<()> {
    let config = epms_webhooks::DispatcherConfig {
        policy: loopback_webhooks(),
        timeout: Duration::from_millis(400),
        retry_base: Duration::from_millis(100),
        poll: Duration::from_millis(50),
        host_id: "test-host".into(),
        lease_ttl: Duration::from_secs(30),
    };
    tokio::spawn(epms_webhooks::run(
        h.state.store.clone(),
        config,
        epms_webhooks::dispatcher::system_clock(),
        std::future::pending(),
    ))
}

async fn subscribe(h: &Host, receiver: &Receiver, addr: SocketAddr, extra: Value) -> Value {
    let mut body = json!({"url": format!("http://{addr}/hook")});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let created = h.admin("POST", "/api/v1/webhooks", Some(body)).await;
    *receiver.secret.lock().unwrap() = created["secret"].as_str().unwrap().to_owned();
    created
}

async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..400 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// A property whose sync grants keys at once: Automatic access, no delay.
async fn automatic_property(h: &Host) -> String {
    let property = h.set_up("acme", "ACME-1").await;
    h.automatic_access(&property).await;
    property
}

fn outbox_len(h: &Host) -> usize {
    h.state.store.outbox(0, 100_000).unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_signed_delivered_in_order_and_a_failing_receiver_is_retried() {
    let h = Host::start(91, 12).await;
    let property = automatic_property(&h).await;
    let good = Receiver::new(Behaviour::default());
    let flaky = Receiver::new(Behaviour {
        fail_first: Arc::new(AtomicU32::new(3)),
        ..Behaviour::default()
    });
    let (good_addr, _g) = good.serve("127.0.0.1:0".parse().unwrap()).await;
    let (flaky_addr, _f) = flaky.serve("127.0.0.1:0".parse().unwrap()).await;
    let mine = subscribe(&h, &good, good_addr, json!({"property": property})).await;
    assert!(mine["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(mine["events"], json!(["access", "alerts", "syncs"]));
    let flaky_sub = subscribe(&h, &flaky, flaky_addr, json!({"events": ["access"]})).await;
    // The secret is shown once: never listed.
    let listed = h.admin("GET", "/api/v1/webhooks", None).await;
    assert!(!listed.to_string().contains("whsec_"), "{listed}");
    assert_eq!(listed["subscriptions"].as_array().unwrap().len(), 2);
    let _dispatcher = dispatch(&h);

    // The first sync: residents created, keys granted (two common keys each: the units
    // are unmapped), and a Missing Email alert opened for a resident without one.
    let resident = h.sim.state.read(|p| {
        p.properties
            .iter()
            .find(|p| p.vendor == "acme")
            .unwrap()
            .residents[0]
            .id
            .clone()
    });
    h.sim
        .state
        .write(|p| {
            p.apply(&pms_sim::dataset::Mutation::ChangeEmail {
                vendor: "acme".into(),
                property: "ACME-1".into(),
                resident,
                email: None,
            })
        })
        .unwrap();
    h.sync(&property).await;
    let total = outbox_len(&h);
    assert!(total > 0);
    eventually("every event at the good receiver", || {
        good.ids().len() == total
    })
    .await;
    let ids = good.ids();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order: {ids:?}");
    assert_eq!(good.forged.load(Ordering::Relaxed), 0);
    let received = good.received.lock().unwrap().clone();
    let types: std::collections::BTreeSet<&str> = received
        .iter()
        .map(|(_, b)| b["type"].as_str().unwrap())
        .collect();
    assert!(types.contains("access.granted"), "{types:?}");
    assert!(types.contains("alert.opened"), "{types:?}");
    let (_, granted) = received
        .iter()
        .find(|(_, b)| b["type"] == "access.granted")
        .unwrap();
    assert_eq!(granted["property"], property.as_str());
    assert!(granted["timestamp"].as_str().unwrap().ends_with('Z'));
    assert!(granted["data"]["grant"].is_u64() && granted["data"]["key"].is_object());

    // The flaky receiver failed three times, then got every access event, in order.
    let access = received
        .iter()
        .filter(|(_, b)| b["type"].as_str().unwrap().starts_with("access."))
        .count();
    eventually("the access events at the flaky receiver", || {
        flaky.ids().len() == access
    })
    .await;
    assert!(flaky.ids().windows(2).all(|w| w[0] < w[1]));
    let flaky_id = flaky_sub["id"].as_str().unwrap();
    let attempts = h
        .admin(
            "GET",
            &format!("/api/v1/webhooks/{flaky_id}/attempts?limit=1000"),
            None,
        )
        .await;
    let attempts = attempts["attempts"].as_array().unwrap();
    let failed: Vec<&Value> = attempts
        .iter()
        .filter(|a| a["delivered"] == false)
        .collect();
    assert_eq!(failed.len(), 3, "{attempts:?}");
    assert!(failed.iter().all(|a| a["status"] == 500));
    // Retries are of the same message: the first delivered id is the failed one.
    let first_failed = failed.last().unwrap()["seq"].as_u64().unwrap();
    assert_eq!(flaky.ids()[0], first_failed);
    let state = h
        .admin("GET", &format!("/api/v1/webhooks/{flaky_id}"), None)
        .await;
    assert_eq!(
        (state["enabled"].clone(), state["failures"].clone()),
        (json!(true), json!(0))
    );

    // A sync that fails is a sync.failed event for the property's subscriber.
    h.sim.state.add_fault(pms_sim::faults::Fault {
        vendor: "acme".into(),
        endpoint: String::new(),
        kind: pms_sim::faults::FaultKind::ServerError { status: 503 },
        times: None,
    });
    let before = good.ids().len();
    let (status, _, _) = h
        .call(
            "POST",
            &format!("/api/v1/properties/{property}/sync"),
            Some(&h.admin),
            None,
        )
        .await;
    assert!(status.is_server_error() || status.is_client_error());
    eventually("sync.failed", || good.ids().len() > before).await;
    let last = good.received.lock().unwrap().last().unwrap().1.clone();
    assert_eq!(last["type"], "sync.failed", "{last}");
    assert!(last["data"]["error_code"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_receiver_is_disabled_and_resumes_where_it_stopped_once_re_enabled() {
    let h = Host::start(92, 12).await;
    let property = automatic_property(&h).await;
    let dead = Receiver::new(Behaviour {
        down: Arc::new(AtomicBool::new(true)),
        ..Behaviour::default()
    });
    let slow = Receiver::new(Behaviour {
        delay: Duration::from_secs(3),
        ..Behaviour::default()
    });
    let good = Receiver::new(Behaviour::default());
    let (dead_addr, _d) = dead.serve("127.0.0.1:0".parse().unwrap()).await;
    let (slow_addr, _s) = slow.serve("127.0.0.1:0".parse().unwrap()).await;
    let (good_addr, _g) = good.serve("127.0.0.1:0".parse().unwrap()).await;
    let dead_sub = subscribe(&h, &dead, dead_addr, json!({"max_failures": 3})).await;
    let slow_sub = subscribe(&h, &slow, slow_addr, json!({"max_failures": 1000})).await;
    subscribe(&h, &good, good_addr, json!({})).await;
    let _dispatcher = dispatch(&h);
    h.sync(&property).await;
    let total = outbox_len(&h);

    // The good receiver gets everything while the slow one times out on its first.
    eventually("the good receiver's events", || good.ids().len() == total).await;
    assert!(slow.ids().is_empty());
    let slow_id = slow_sub["id"].as_str().unwrap();
    let slow_state = h
        .admin("GET", &format!("/api/v1/webhooks/{slow_id}"), None)
        .await;
    assert_eq!(
        slow_state["cursor"], dead_sub["cursor"],
        "the slow one has delivered nothing"
    );

    // The dead receiver: three failures, then disabled, with why.
    let dead_id = dead_sub["id"].as_str().unwrap();
    let path = format!("/api/v1/webhooks/{dead_id}");
    let mut disabled = Value::Null;
    for _ in 0..200 {
        disabled = h.admin("GET", &path, None).await;
        if disabled["enabled"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(disabled["enabled"], false, "{disabled}");
    assert!(
        disabled["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("503"),
        "{disabled}"
    );
    let attempts = h.admin("GET", &format!("{path}/attempts"), None).await;
    assert_eq!(attempts["attempts"].as_array().unwrap().len(), 3);
    // Fixed and re-enabled: it resumes at the event it stopped at and gets the rest.
    dead.behaviour.down.store(false, Ordering::Relaxed);
    let enabled = h.admin("POST", &format!("{path}/enable"), None).await;
    assert_eq!(enabled["enabled"], true);
    eventually("the re-enabled receiver's events", || {
        dead.ids().len() == total
    })
    .await;
    assert_eq!(dead.ids(), good.ids(), "the same events, in the same order");

    // Deleting stops delivery and forgets the attempts.
    let (status, _, _) = h.call("DELETE", &path, Some(&h.admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = h.call("GET", &path, Some(&h.admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_restarts_misses_nothing() {
    let h = Host::start(93, 12).await;
    let property = automatic_property(&h).await;
    let receiver = Receiver::new(Behaviour::default());
    let (addr, task) = receiver.serve("127.0.0.1:0".parse().unwrap()).await;
    subscribe(&h, &receiver, addr, json!({"max_failures": 1000})).await;
    let _dispatcher = dispatch(&h);
    // Down (the port closed) while the first sync happens.
    task.abort();
    let _ = task.await;
    h.sync(&property).await;
    let total = outbox_len(&h);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(receiver.ids().is_empty());
    // Back on the same port: everything arrives, in order.
    let (_, _task) = receiver.serve(addr).await;
    eventually("the events after the restart", || {
        receiver.ids().len() >= total
    })
    .await;
    let ids = receiver.ids();
    let unique: std::collections::BTreeSet<u64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), total, "every event at least once: {ids:?}");
    assert!(ids.windows(2).all(|w| w[0] <= w[1]), "in order: {ids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destinations_the_policy_refuses_are_refused_when_subscribing() {
    let h = Host::start(94, 4).await;
    for (url, field) in [
        ("http://10.1.2.3/hook", "url"),
        ("http://169.254.169.254/latest/meta-data", "url"),
        ("ftp://hooks.example.com/x", "url"),
        ("not a url", "url"),
    ] {
        let (status, _, problem) = h
            .call(
                "POST",
                "/api/v1/webhooks",
                Some(&h.admin),
                Some(json!({"url": url})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {problem}");
        assert_eq!(problem["field"], field);
    }
    let (status, _, problem) = h
        .call(
            "POST",
            "/api/v1/webhooks",
            Some(&h.admin),
            Some(json!({"url": "http://127.0.0.1:9/hook", "property": "no-such"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "property");
}
