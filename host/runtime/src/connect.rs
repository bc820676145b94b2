//! Sending an allowed request to exactly the address the gate checked.
//!
//! The gate resolves the credential's host once and checks every address; the request
//! then goes to one of those addresses and no other. A sender that resolved the name
//! again could be handed another address (DNS rebinding: a public address for the
//! check, `127.0.0.1` or `10.0.0.1` for the connection). TLS still verifies the
//! certificate against the host name.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::budget::{HostBudget, charged_bytes};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::Error as HttpError;

/// Turns a host name into addresses. The gate asks once per request and connects only
/// to what it checked; tests put in a resolver that answers differently each time.
pub trait Resolver: std::fmt::Debug + Send + Sync + 'static {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> std::pin::Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send + 'a>>;
}

/// The operating system's resolver.
#[derive(Debug, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> std::pin::Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host, port)).await?.collect()) })
    }
}

/// The timeouts of one request, already clamped by the sandbox limits.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub first_byte: Duration,
    pub between_bytes: Duration,
}

/// The answer: status and headers, and the body read whole (at most `cap` bytes).
pub struct Answer {
    pub parts: http::response::Parts,
    pub body: Bytes,
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.into(),
            };
            Arc::new(
                rustls::ClientConfig::builder()
                    .with_root_certificates(roots)
                    .with_no_client_auth(),
            )
        })
        .clone()
}

fn connection_error(e: &std::io::Error) -> HttpError {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => HttpError::ConnectionRefused,
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
            HttpError::ConnectionTerminated
        }
        _ => HttpError::DestinationUnavailable,
    }
}

fn hyper_error(e: &hyper::Error) -> HttpError {
    if e.is_timeout() {
        HttpError::HttpResponseTimeout
    } else {
        HttpError::HttpProtocolError
    }
}

/// Sends `request` to `addr` (an address of the request's host that the gate checked)
/// and reads the answer whole, up to `cap` bytes.
pub async fn send(
    addr: SocketAddr,
    request: http::Request<http_body_util::Full<Bytes>>,
    timeouts: Timeouts,
    cap: usize,
    budget: &Arc<HostBudget>,
) -> Result<Answer, HttpError> {
    let uri = request.uri().clone();
    let host = uri
        .host()
        .ok_or(HttpError::HttpRequestUriInvalid)?
        .to_owned();
    let tcp = tokio::time::timeout(timeouts.connect, TcpStream::connect(addr))
        .await
        .map_err(|_| HttpError::ConnectionTimeout)?
        .map_err(|e| connection_error(&e))?;
    // A request goes out as written, not held back for the server's delayed ACK.
    tcp.set_nodelay(true).map_err(|e| connection_error(&e))?;
    let stream: Box<dyn Stream> = if uri.scheme() == Some(&http::uri::Scheme::HTTPS) {
        let name =
            rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
                .map_err(|_| HttpError::HttpRequestUriInvalid)?;
        let tls = tokio::time::timeout(
            timeouts.connect,
            tokio_rustls::TlsConnector::from(tls_config()).connect(name, tcp),
        )
        .await
        .map_err(|_| HttpError::ConnectionTimeout)?
        .map_err(|_| HttpError::TlsProtocolError)?;
        Box::new(tls)
    } else {
        Box::new(tcp)
    };
    let (mut sender, connection) = tokio::time::timeout(
        timeouts.connect,
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| HttpError::ConnectionTimeout)?
    .map_err(|e| hyper_error(&e))?;
    // The connection is driven beside the exchange and ends with it.
    let connection = tokio::spawn(connection);
    let answer = async {
        // On the wire the request line carries the path only (no proxy here).
        let (mut parts, body) = request.into_parts();
        parts.uri = http::Uri::builder()
            .path_and_query(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
            .build()
            .map_err(|_| HttpError::HttpRequestUriInvalid)?;
        let response = tokio::time::timeout(
            timeouts.first_byte,
            sender.send_request(http::Request::from_parts(parts, body)),
        )
        .await
        .map_err(|_| HttpError::ConnectionReadTimeout)?
        .map_err(|e| hyper_error(&e))?;
        let (parts, mut incoming) = response.into_parts();
        // Every byte read is charged to the session as it arrives, so that many
        // answers read at once cannot pass the session's budget together.
        let mut charge = budget
            .charge("response body", 0)
            .map_err(|e| HttpError::InternalError(Some(e.to_string())))?;
        // A declared length (within the cap) is reserved and charged at once: one
        // allocation, no doubling, and an answer too big for the budget fails before
        // a byte of it is read.
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n <= cap);
        let mut body = Vec::new();
        if let Some(n) = declared {
            charge
                .resize(n)
                .map_err(|e| HttpError::InternalError(Some(e.to_string())))?;
            body.reserve_exact(n);
        }
        loop {
            let frame = tokio::time::timeout(timeouts.between_bytes, incoming.frame())
                .await
                .map_err(|_| HttpError::ConnectionReadTimeout)?;
            let Some(frame) = frame else { break };
            let frame = frame.map_err(|e| hyper_error(&e))?;
            if let Some(data) = frame.data_ref() {
                if body.len() + data.len() > cap {
                    return Err(HttpError::HttpResponseBodySize(Some(cap as u64)));
                }
                if body.capacity() - body.len() < data.len() {
                    // Growing copies: the old and the new buffer are held at once.
                    let grown = body
                        .len()
                        .saturating_add(data.len())
                        .max(body.capacity() * 2);
                    charge
                        .resize(body.capacity() + grown)
                        .map_err(|e| HttpError::InternalError(Some(e.to_string())))?;
                    body.reserve_exact(grown - body.len());
                    charge
                        .resize(body.capacity())
                        .map_err(|e| HttpError::InternalError(Some(e.to_string())))?;
                }
                body.extend_from_slice(data);
            }
        }
        Ok(Answer {
            parts,
            body: charged_bytes(body, charge),
        })
    }
    .await;
    connection.abort();
    answer
}
