//! Shipping connectors: keys and signatures for connector authors (offline), and the
//! admin API's connector routes from the command line (against a running host).
//!
//! The remote commands speak plain HTTP to `--server` (default `$EPMS_URL`, else
//! http://127.0.0.1:8080) with `--token` (default `$EPMS_TOKEN`), an admin token. A
//! host behind TLS is reached through its proxy's plain-HTTP side or an SSH tunnel.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use epms_runtime::signing::SecretKey;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

#[derive(Subcommand)]
pub enum ShippingCommand {
    /// Creates a signing key: `<out>.key` (secret, mode 0600) and `<out>.pub` (what
    /// hosts list in `connectors.trusted_keys`).
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Signs a component's exact bytes; writes `<file>.sig` (or `--out`).
    Sign {
        file: PathBuf,
        /// The secret key file from `keygen`.
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Uploads a component (with `<file>.sig`, or `--signature`) to a running host.
    Install {
        file: PathBuf,
        #[arg(long)]
        signature: Option<PathBuf>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Lists the host's connector versions per vendor.
    Versions {
        #[command(flatten)]
        remote: Remote,
    },
    /// Makes a version its vendor's default.
    Activate {
        vendor: String,
        sha256: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Returns a vendor to the version active before.
    Rollback {
        vendor: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Pins a version for one property (canary).
    Pin {
        property: String,
        sha256: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Removes a property's pin.
    Unpin {
        property: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// What a version would change for a property, against the active one (writes
    /// nothing).
    DryRun {
        property: String,
        sha256: String,
        #[command(flatten)]
        remote: Remote,
    },
}

#[derive(Args)]
pub struct Remote {
    /// The host's API.
    #[arg(long, env = "EPMS_URL", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// An admin token.
    #[arg(long, env = "EPMS_TOKEN", hide_env_values = true)]
    token: String,
}

pub async fn run(cmd: ShippingCommand) -> anyhow::Result<()> {
    // The remote commands are one API call each: which, then the same sending.
    let (remote, method, path, body) = match cmd {
        ShippingCommand::Keygen { out } => return keygen(&out),
        ShippingCommand::Sign { file, key, out } => return sign(&file, &key, out),
        ShippingCommand::Install {
            file,
            signature,
            remote,
        } => {
            let wasm =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let sig_path = signature.unwrap_or_else(|| with_suffix(&file, ".sig"));
            let signature = match std::fs::read_to_string(&sig_path) {
                Ok(s) => Some(s.trim().to_owned()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(e).with_context(|| format!("reading {}", sig_path.display())),
            };
            let path = "/api/v1/connectors/versions".to_owned();
            (remote, "POST", path, Body::Wasm(wasm, signature))
        }
        ShippingCommand::Versions { remote } => (
            remote,
            "GET",
            "/api/v1/connectors/versions".to_owned(),
            Body::None,
        ),
        ShippingCommand::Activate {
            vendor,
            sha256,
            remote,
        } => (
            remote,
            "POST",
            format!("/api/v1/connectors/{vendor}/activate"),
            Body::Json(json!({ "sha256": sha256 })),
        ),
        ShippingCommand::Rollback { vendor, remote } => (
            remote,
            "POST",
            format!("/api/v1/connectors/{vendor}/rollback"),
            Body::None,
        ),
        ShippingCommand::Pin {
            property,
            sha256,
            remote,
        } => (
            remote,
            "PUT",
            format!("/api/v1/properties/{property}/connector"),
            Body::Json(json!({ "sha256": sha256 })),
        ),
        ShippingCommand::Unpin { property, remote } => (
            remote,
            "DELETE",
            format!("/api/v1/properties/{property}/connector"),
            Body::None,
        ),
        ShippingCommand::DryRun {
            property,
            sha256,
            remote,
        } => (
            remote,
            "POST",
            format!("/api/v1/properties/{property}/dry-run"),
            Body::Json(json!({ "sha256": sha256 })),
        ),
    };
    let answer = remote.send(method, &path, body).await?;
    if answer.is_null() {
        eprintln!("{method} {path}: done");
    } else {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    }
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn keygen(out: &Path) -> anyhow::Result<()> {
    let key = SecretKey::generate().context("no randomness from the operating system")?;
    let (secret_path, public_path) = (with_suffix(out, ".key"), with_suffix(out, ".pub"));
    crate::service::write_private(&secret_path, &format!("{}\n", key.to_text()))?;
    let public = key.public();
    std::fs::write(&public_path, format!("{}\n", public.to_text()))
        .with_context(|| format!("writing {}", public_path.display()))?;
    eprintln!(
        "key {} written: {} (secret, keep it) and {} (give it to hosts)",
        public.id(),
        secret_path.display(),
        public_path.display()
    );
    println!("{}", public.to_text());
    Ok(())
}

fn sign(file: &Path, key: &Path, out: Option<PathBuf>) -> anyhow::Result<()> {
    let wasm = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let text =
        std::fs::read_to_string(key).with_context(|| format!("reading {}", key.display()))?;
    let key = SecretKey::parse(&text).with_context(|| format!("{}", key.display()))?;
    let out = out.unwrap_or_else(|| with_suffix(file, ".sig"));
    std::fs::write(&out, format!("{}\n", key.sign(&wasm)))
        .with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "{} signed with key {}: {}",
        file.display(),
        key.public().id(),
        out.display()
    );
    Ok(())
}

enum Body {
    None,
    Json(Value),
    /// A component and its signature line.
    Wasm(Vec<u8>, Option<String>),
}

impl Remote {
    /// One request; the JSON answer, or the API's problem as the error.
    async fn send(&self, method: &str, path: &str, body: Body) -> anyhow::Result<Value> {
        let uri: hyper::Uri = format!("{}{path}", self.server.trim_end_matches('/'))
            .parse()
            .with_context(|| format!("--server {:?} is not a URL", self.server))?;
        if uri.scheme_str() != Some("http") {
            bail!("--server must be an http:// URL (see `epms connector install --help`)");
        }
        let host = uri.host().context("--server has no host")?.to_owned();
        let port = uri.port_u16().unwrap_or(80);
        let stream = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .with_context(|| format!("connecting to {}", self.server))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP handshake")?;
        tokio::spawn(conn);
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(uri.path_and_query().map(|p| p.as_str()).unwrap_or(path))
            .header("host", format!("{host}:{port}"))
            .header("authorization", format!("Bearer {}", self.token));
        let bytes = match body {
            Body::None => Vec::new(),
            Body::Json(v) => {
                req = req.header("content-type", "application/json");
                v.to_string().into_bytes()
            }
            Body::Wasm(wasm, signature) => {
                req = req.header("content-type", "application/wasm");
                if let Some(s) = signature {
                    req = req.header("x-epms-signature", s);
                }
                wasm
            }
        };
        let resp = sender
            .send_request(req.body(Full::new(Bytes::from(bytes)))?)
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            bail!(
                "{method} {path}: {status} {}: {}",
                value["code"].as_str().unwrap_or_default(),
                value["detail"].as_str().unwrap_or_default()
            );
        }
        Ok(value)
    }
}
