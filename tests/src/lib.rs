//! Shared pieces of the end-to-end tests: the compiled guests, a runtime set up for
//! loopback, and a small server the hostile guest attacks.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use epms_runtime::{NetworkAccess, Runtime, RuntimeConfig, SandboxLimits};

pub mod api_host;
pub mod browser;

/// Paths of the components built by this crate's build script.
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

/// A runtime whose connectors may reach loopback (where the simulator lives), with
/// a compile cache in `cache_dir`.
pub fn loopback_runtime(cache_dir: &std::path::Path, limits: SandboxLimits) -> Runtime {
    let mut config = RuntimeConfig::new(cache_dir);
    config.limits = limits;
    config.network = NetworkAccess {
        allow_loopback: true,
        allow_private: false,
    };
    Runtime::new(config).expect("runtime starts")
}

/// The hostile test guest loaded into `runtime`, with a credential for `base_url`
/// whose secret `password` is `password`.
pub async fn load_hostile(
    runtime: &Runtime,
    base_url: &str,
    password: &str,
) -> (epms_runtime::LoadedConnector, epms_runtime::Credential) {
    let hostile = runtime
        .load_file(guests::EPMS_TEST_HOSTILE.as_ref())
        .await
        .expect("the hostile guest loads");
    let credential = epms_runtime::Credential::from_fields(
        hostile.info(),
        fields(&[("base-url", base_url), ("password", password)]),
    )
    .expect("the hostile guest's credential");
    (hostile, credential)
}

/// The six vendors: name, the PMS property id the tests give the simulator, and the
/// compiled connector.
pub const VENDORS: [(&str, &str, &str); 6] = [
    ("yardi", "rnttrk01", guests::EPMS_CONNECTOR_YARDI),
    ("realpage", "3401", guests::EPMS_CONNECTOR_REALPAGE),
    ("entrata", "100", guests::EPMS_CONNECTOR_ENTRATA),
    ("mri", "500", guests::EPMS_CONNECTOR_MRI),
    ("appfolio", "17", guests::EPMS_CONNECTOR_APPFOLIO),
    ("rentmanager", "11", guests::EPMS_CONNECTOR_RENTMANAGER),
];

/// The credential fields the simulator accepts for `vendor`, its base URL included.
pub fn sim_credential_fields(sim: &pms_sim::Simulator, vendor: &str) -> BTreeMap<String, String> {
    let mut fields: BTreeMap<String, String> = sim.state.read(|p| {
        p.credential(vendor)
            .expect("the simulator serves the vendor")
            .fields
            .iter()
            .cloned()
            .collect()
    });
    fields.insert(
        "base-url".into(),
        sim.base_url(vendor)
            .expect("the simulator serves the vendor"),
    );
    fields
}

/// [`sim_credential_fields`] as a credential of `connector`.
pub fn sim_credential(
    sim: &pms_sim::Simulator,
    vendor: &str,
    connector: &epms_runtime::LoadedConnector,
) -> epms_runtime::Credential {
    epms_runtime::Credential::from_fields(connector.info(), sim_credential_fields(sim, vendor))
        .expect("the simulator's credential fits the connector")
}

/// A runtime that reaches no network address at all: loopback refused too. A replayed
/// session must still read everything, since nothing it asks leaves the host.
pub fn offline_runtime(cache_dir: &std::path::Path) -> Runtime {
    let mut config = RuntimeConfig::new(cache_dir);
    config.network = NetworkAccess {
        allow_loopback: false,
        allow_private: false,
    };
    Runtime::new(config).expect("runtime")
}

/// A session of `connector` answered from the cassette at `path`, with no network.
pub async fn replay_session(
    runtime: &Runtime,
    connector: &epms_runtime::LoadedConnector,
    path: &std::path::Path,
) -> epms_runtime::ConnectorSession {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cassette = epms_runtime::cassette::Cassette::from_json(&text).unwrap();
    let credential = cassette.credential(connector.info()).unwrap();
    runtime
        .session_with_tape(
            connector,
            &credential,
            epms_runtime::cassette::Tape::Replay(epms_runtime::cassette::Player::new(&cassette)),
        )
        .await
        .unwrap()
}

pub fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Residents as the ground truth states them: warnings by field only (their messages
/// are each connector's own words).
pub fn warnings_by_field(mut residents: Vec<epms_model::Resident>) -> Vec<epms_model::Resident> {
    for r in &mut residents {
        for w in &mut r.warnings {
            w.message.clear();
        }
    }
    residents
}

/// The credential the simulator accepts for the connector template ("acme").
pub fn acme_credential(
    connector: &epms_runtime::LoadedConnector,
    sim: &pms_sim::Simulator,
) -> epms_runtime::Credential {
    epms_runtime::Credential::from_fields(
        connector.info(),
        fields(&[
            (
                "base-url",
                &sim.base_url("acme").expect("the simulator serves acme"),
            ),
            ("api-token", pms_sim::vendors::acme::TOKEN),
        ]),
    )
    .expect("the template declares base-url and api-token")
}

/// What the hostile guest's "server-side" attacks talk to.
pub struct Target {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Target {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A body of `left` bytes of `x`, sent from one static chunk: the server holds
/// nothing, so what a test measures of the process is the host's.
struct Filler {
    left: usize,
}

impl http_body::Body for Filler {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        static CHUNK: [u8; 64 << 10] = [b'x'; 64 << 10];
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        let n = self.left.min(CHUNK.len());
        self.left -= n;
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from_static(
            &CHUNK[..n],
        )))))
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.left as u64)
    }
}

/// The request body `echo` asked back in `encoding`, as a server that means no harm
/// might transform it (the sandbox must see through each, or refuse it).
fn echo_as(encoding: &str, body: &[u8]) -> axum::response::Response {
    use axum::response::IntoResponse;
    use base64::Engine as _;
    let text = String::from_utf8_lossy(body).into_owned();
    match encoding {
        "gzip" => {
            use std::io::Write as _;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(body).expect("gzip in memory");
            let zipped = gz.finish().expect("gzip in memory");
            ([("content-encoding", "gzip")], zipped).into_response()
        }
        "unicode" => {
            let escaped: String = text
                .chars()
                .map(|c| format!("\\u{:04x}", c as u32))
                .collect();
            (
                [("content-type", "application/json")],
                format!("{{\"echo\":\"{escaped}\"}}"),
            )
                .into_response()
        }
        "upper" => text.to_uppercase().into_response(),
        "base64" => base64::engine::general_purpose::STANDARD
            .encode(format!("x{text}"))
            .into_response(),
        "first-half" => text[..text.len() / 2].to_owned().into_response(),
        "second-half" => text[text.len() / 2..].to_owned().into_response(),
        piece => match piece
            .strip_prefix("piece-")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) => text
                .get(4 * n..4 * n + 4)
                .unwrap_or_default()
                .to_owned()
                .into_response(),
            None => (axum::http::StatusCode::NOT_FOUND, "no such encoding").into_response(),
        },
    }
}

/// Serves `/big` (`big_bytes` of body, streamed), `/slow` (answers after `slow`),
/// `/echo` (the request's body and authorization header, back) and
/// `/echo-as/{encoding}` (the body back, transformed: see `echo_as`).
pub async fn start_target(big_bytes: usize, slow: Duration) -> Target {
    let app = Router::new()
        .route(
            "/big",
            get(move || async move { axum::body::Body::new(Filler { left: big_bytes }) }),
        )
        .route(
            "/echo-as/{encoding}",
            post(
                |axum::extract::Path(encoding): axum::extract::Path<String>, body: Bytes| async move {
                    echo_as(&encoding, &body)
                },
            ),
        )
        .route(
            "/slow",
            get(move || async move {
                tokio::time::sleep(slow).await;
                "late"
            }),
        )
        .route(
            "/echo",
            post(|headers: HeaderMap, body: Bytes| async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                format!("auth={auth} body={}", String::from_utf8_lossy(&body))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Target { addr, task }
}

/// A simulated property as the engine's snapshot (raw statuses spelled as the status).
pub fn snapshot_of(p: &pms_sim::dataset::SimProperty) -> epms_engine::PmsSnapshot {
    epms_engine::PmsSnapshot {
        vendor: p.vendor.clone(),
        properties: vec![epms_engine::PmsPropertyData {
            id: p.id.clone(),
            units: p.units.clone(),
            residents: p.residents.clone(),
            leases: p
                .leases
                .iter()
                .map(|l| {
                    let mut l = l.clone();
                    l.raw_status = format!("{:?}", l.status);
                    l
                })
                .collect(),
        }],
    }
}

/// The template's (acme) credential on the simulator, and one DOOR property per id,
/// attached in order to the simulator's `ACME-1`, `ACME-2`, … with Automated Access on.
pub fn set_up_acme_properties(
    store: &dyn epms_store::Storage,
    sim: &pms_sim::Simulator,
    connector: &epms_runtime::LoadedConnector,
    ids: &[String],
) {
    let (plain, secret) = connector
        .info()
        .split_secrets(sim_credential_fields(sim, "acme"));
    store
        .put_credential("acme", "acme", plain, &secret)
        .expect("the credential is stored");
    for (n, id) in ids.iter().enumerate() {
        let mut p = epms_store::PropertyRecord::new(id, id, 0);
        p.credential_id = Some("acme".into());
        p.pms_property_ids = vec![format!("ACME-{}", n + 1)];
        p.settings.access.enabled = true;
        store.create_property(&p).expect("the property is new");
    }
}

/// A resident on a lease of their own in `unit`, as a simulated `vendor` holds them.
pub fn resident_on_lease(
    vendor: &str,
    id: &str,
    (first, last): (&str, &str),
    email: Option<&str>,
    unit: &str,
    status: epms_model::LeaseStatus,
) -> (epms_model::Resident, epms_model::Lease) {
    let resident = epms_model::Resident {
        id: id.into(),
        lease_id: Some(format!("L-{id}")),
        unit_id: Some(unit.into()),
        first_name: first.into(),
        last_name: last.into(),
        email: email.map(Into::into),
        phone: None,
        role: epms_model::HouseholdRole::Primary,
        warnings: vec![],
    };
    let lease = epms_model::Lease {
        id: format!("L-{id}"),
        unit_id: Some(unit.into()),
        resident_ids: vec![id.into()],
        raw_status: pms_sim::vendors::raw_status(vendor, status).into(),
        status,
        start_date: Some("2025-01-01".into()),
        end_date: None,
        move_in_date: None,
        move_out_date: None,
        warnings: vec![],
    };
    (resident, lease)
}

/// Adds residents (with their lease, when they have one) to the simulator's property
/// of `vendor`.
pub fn add_to_sim(
    sim: &pms_sim::Simulator,
    vendor: &str,
    people: Vec<(epms_model::Resident, Option<epms_model::Lease>)>,
) {
    sim.state.write(|portfolio| {
        let p = portfolio
            .properties
            .iter_mut()
            .find(|p| p.vendor == vendor)
            .expect("the simulator has a property of the vendor");
        for (r, l) in people {
            p.residents.push(r);
            p.leases.extend(l);
        }
    });
}
