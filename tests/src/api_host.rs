//! A whole host for API tests: the simulator, the five compiled connectors, a redb
//! store, and the admin API served on a loopback port, spoken to over real HTTP.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::http::StatusCode;
use epms_api::{AppState, app, new_token, token_hash};
use epms_runtime::SandboxLimits;
use epms_runtime::signing::TrustedKeys;
use epms_store::AdminStore as _;
use epms_store::{RedbStore, Role, SecretBox, TokenRecord};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use pms_sim::Simulator;
use pms_sim::dataset::Spec;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{guests, loopback_runtime};

/// The five vendors and the template's made-up one: name, the simulator's PMS property
/// id, the compiled connector.
pub const VENDORS: [(&str, &str, &str); 6] = [
    crate::VENDORS[0],
    crate::VENDORS[1],
    crate::VENDORS[2],
    crate::VENDORS[3],
    crate::VENDORS[4],
    ("acme", "ACME-1", guests::EPMS_CONNECTOR_TEMPLATE),
];

/// The key the test stores' secrets are sealed with.
const STORE_KEY: [u8; 32] = [4; 32];

/// An answer: status, content type, and the body as JSON (`Null` when it is not).
pub type Answer = (StatusCode, String, Value);

pub struct Host {
    pub state: AppState,
    pub store: Arc<RedbStore>,
    pub sim: Simulator,
    pub admin: String,
    pub addr: SocketAddr,
    dirs: (tempfile::TempDir, tempfile::TempDir),
    server: JoinHandle<()>,
    stop: oneshot::Sender<()>,
    /// What loading the installed connector versions at start reported.
    pub restore_problems: Vec<String>,
    /// Seconds the host's clock runs ahead of the real one (a test moves time on).
    pub clock_ahead: Arc<AtomicI64>,
}

/// Stores a new token and returns it.
pub fn token(store: &RedbStore, role: Role, properties: &[&str]) -> String {
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
        .expect("the token is stored");
    t
}

/// The webhook destination policy of the test hosts: loopback allowed.
pub fn loopback_webhooks() -> epms_webhooks::DestinationPolicy {
    epms_webhooks::DestinationPolicy {
        network: epms_runtime::NetworkAccess {
            allow_loopback: true,
            allow_private: false,
        },
        allowed_hosts: Vec::new(),
    }
}

impl Host {
    /// A fresh host over a simulator holding one property of `units` units per vendor.
    pub async fn start(seed: u64, units: usize) -> Host {
        let sim = Simulator::generate(Spec {
            seed,
            properties: VENDORS
                .iter()
                .map(|(v, id, _)| ((*v).to_owned(), (*id).to_owned(), units))
                .collect(),
        })
        .await
        .expect("the simulator starts");
        sim.state.set_rate_limit("appfolio", false);
        let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let store = Arc::new(open_store(&dirs.1).expect("the store opens"));
        let admin = token(&store, Role::Admin, &[]);
        Host::serve(sim, dirs, store, admin, TrustedKeys::default()).await
    }

    async fn serve(
        sim: Simulator,
        dirs: (tempfile::TempDir, tempfile::TempDir),
        store: Arc<RedbStore>,
        admin: String,
        trust: TrustedKeys,
    ) -> Host {
        let runtime = Arc::new(loopback_runtime(dirs.0.path(), SandboxLimits::default()));
        let mut connectors = HashMap::new();
        for (vendor, _, wasm) in VENDORS {
            let loaded = runtime
                .load_file(wasm.as_ref())
                .await
                .expect("the connector loads");
            connectors.insert(vendor.to_owned(), Arc::new(loaded));
        }
        let mut state = AppState::new(store.clone(), runtime, connectors);
        *state.trust.write().unwrap() = trust;
        // Webhook receivers of the tests listen on loopback, as the simulator does.
        state.webhook_policy = Arc::new(loopback_webhooks());
        let clock_ahead = Arc::new(AtomicI64::new(0));
        let ahead = clock_ahead.clone();
        let real = state.clock.clone();
        state.clock = Arc::new(move || real() + ahead.load(Ordering::Relaxed));
        let restore_problems = epms_api::plugins::restore(&state)
            .await
            .expect("the store reads");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let router = app(state.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .expect("the API serves");
        });
        Host {
            state,
            store,
            sim,
            admin,
            addr,
            dirs,
            server,
            stop,
            restore_problems,
            clock_ahead,
        }
    }

    /// Stops the host (server, store) and starts a new one on the same data
    /// directory, compile cache and simulator: a restart, after which every installed
    /// version loads again.
    pub async fn restart(self) -> Host {
        let host = self.restart_reporting().await;
        assert!(
            host.restore_problems.is_empty(),
            "{:?}",
            host.restore_problems
        );
        host
    }

    async fn restart_reporting(self) -> Host {
        let Host {
            state,
            store,
            sim,
            admin,
            dirs,
            server,
            stop,
            ..
        } = self;
        let _ = stop.send(());
        server.await.expect("the server stops cleanly");
        // The restarted host trusts what this one did (its configuration).
        let trust = state.trust.read().unwrap().clone();
        drop((state, store));
        // A sync still running holds the database until its pool has shut down,
        // which the pool's own thread does right after the last state is dropped.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let store = loop {
            match open_store(&dirs.1) {
                Ok(store) => break Arc::new(store),
                Err(_) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => panic!("the store reopens after a restart: {e}"),
            }
        };
        Host::serve(sim, dirs, store, admin, trust).await
    }

    /// A restart whose configuration trusts `trust` instead; what it reported of the
    /// installed versions is in `restore_problems`.
    pub async fn restart_trusting(self, trust: TrustedKeys) -> Host {
        *self.state.trust.write().unwrap() = trust;
        self.restart_reporting().await
    }

    /// One HTTP request on a new loopback connection.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, String, Bytes) {
        let headers: Vec<(&str, &str)> = content_type
            .map(|c| ("content-type", c))
            .into_iter()
            .collect();
        self.request_with_headers(method, path, token, &headers, body)
            .await
    }

    /// One HTTP request with extra headers, on a new loopback connection.
    pub async fn request_with_headers(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (StatusCode, String, Bytes) {
        let stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string());
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let resp = sender
            .send_request(req.body(Full::new(Bytes::from(body))).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let ctype = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, ctype, bytes)
    }

    /// Where the host keeps its redb file.
    pub fn data_dir(&self) -> &std::path::Path {
        self.dirs.1.path()
    }

    /// A JSON request (`body` sent as `application/json` when given).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let (ctype, bytes) = match body {
            Some(b) => (Some("application/json"), b.to_string().into_bytes()),
            None => (None, Vec::new()),
        };
        let (status, ctype_out, bytes) = self.request(method, path, token, ctype, bytes).await;
        let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, ctype_out, v)
    }

    /// A request as the admin that must succeed; its JSON answer.
    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, _, v) = self.call(method, path, Some(&self.admin), body).await;
        assert!(status.is_success(), "{method} {path}: {status} {v}");
        v
    }

    /// The fields of a working credential for `vendor` on the simulator.
    pub fn credential_fields(&self, vendor: &str) -> serde_json::Map<String, Value> {
        let mut fields: serde_json::Map<String, Value> = self.sim.state.read(|p| {
            p.credential(vendor)
                .expect("the simulator serves the vendor")
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect()
        });
        fields.insert("base-url".into(), json!(self.sim.base_url(vendor).unwrap()));
        fields
    }

    /// Changes a set-up property's settings with `change`, through the API.
    pub async fn change_settings(&self, property: &str, change: impl FnOnce(&mut Value)) {
        let base = format!("/api/v1/properties/{property}");
        let p = self.admin("GET", &base, None).await;
        let mut settings = p["settings"].clone();
        change(&mut settings);
        self.admin(
            "PUT",
            &format!("{base}/integration"),
            Some(json!({"credential_id": p["credential_id"], "pms_property_ids": p["pms_property_ids"], "settings": settings})),
        )
        .await;
    }

    /// Switches a set-up property to Automatic access with no grant delay.
    pub async fn automatic_access(&self, property: &str) {
        self.change_settings(property, |s| {
            s["access"]["mode"] = json!("automatic");
            s["access"]["grant_delay_secs"] = json!(0);
        })
        .await;
    }

    /// The setup flow of the seed article, through the API: credential (checked, its
    /// PMS properties listed), DOOR property, integration with access enabled.
    /// Returns the DOOR property id, `door-<vendor>`.
    pub async fn set_up(&self, vendor: &str, pms_id: &str) -> String {
        let fields = self.credential_fields(vendor);
        let cred = format!("{vendor}-cred");
        let created = self
            .admin(
                "POST",
                "/api/v1/credentials",
                Some(json!({"id": cred, "vendor": vendor, "fields": fields})),
            )
            .await;
        let listed = self.admin("GET", "/api/v1/credentials", None).await;
        let secret_names = created["secrets"].as_array().cloned().unwrap_or_default();
        assert!(!secret_names.is_empty(), "{vendor}: {created}");
        let shown = format!("{created}{listed}");
        for name in secret_names {
            let value = fields[name.as_str().unwrap()].as_str().unwrap();
            assert!(
                !shown.contains(value),
                "{vendor}: the secret {name} came back: {shown}"
            );
        }
        self.admin("POST", &format!("/api/v1/credentials/{cred}/check"), None)
            .await;
        let pms = self
            .admin(
                "GET",
                &format!("/api/v1/credentials/{cred}/pms-properties"),
                None,
            )
            .await;
        assert!(
            pms["properties"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["id"] == pms_id),
            "{vendor}: {pms}"
        );
        let property = format!("door-{vendor}");
        self.admin(
            "POST",
            "/api/v1/properties",
            Some(json!({"id": property, "name": format!("{vendor} tower")})),
        )
        .await;
        let mut settings = serde_json::to_value(epms_engine::Settings::default()).unwrap();
        settings["access"]["enabled"] = json!(true);
        self.admin(
            "PUT",
            &format!("/api/v1/properties/{property}/integration"),
            Some(
                json!({"credential_id": cred, "pms_property_ids": [pms_id], "settings": settings}),
            ),
        )
        .await;
        property
    }

    /// Sync Now through the API; the sync's report.
    pub async fn sync(&self, property: &str) -> Value {
        self.admin("POST", &format!("/api/v1/properties/{property}/sync"), None)
            .await
    }

    /// The open alerts of `alert_type` on a property.
    pub async fn alerts_of(&self, property: &str, alert_type: &str) -> Vec<Value> {
        let alerts = self
            .admin(
                "GET",
                &format!("/api/v1/properties/{property}/alerts"),
                None,
            )
            .await;
        alerts["groups"][alert_type]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

fn open_store(data: &tempfile::TempDir) -> Result<RedbStore, epms_store::StoreError> {
    RedbStore::open(&data.path().join("epms.redb"), SecretBox::new(STORE_KEY))
}
