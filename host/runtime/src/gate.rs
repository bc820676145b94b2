//! The outbound HTTP gate: every request a connector makes passes through here.
//!
//! In order: the URI must be the credential's origin, the host name must resolve to
//! addresses the host allows, the request body is bounded, secret placeholders are
//! expanded, the guest's timeouts are clamped, the response body is read whole up
//! to a cap (host memory, outside the guest's linear memory, charged to the session's
//! [`HostBudget`]), and an answer holding a disclosed secret value is refused before
//! the guest sees it. Answers are asked for in the identity encoding and refused in any
//! other, so that the secret scanner reads what the guest would.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use std::net::SocketAddr;

use http_body_util::{BodyExt, Full};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::budget::{Charge, HostBudget, RESOURCE_BYTES, charged_bytes};
use crate::cassette::{RecordedRequest, Tape};
use crate::connect::{self, Resolver};
use crate::error::CallError;
use crate::limits::SandboxLimits;
use crate::policy::{Denial, OutboundPolicy};
use crate::secrets::{Escaping, SecretScanner, Secrets};

/// Counters of outbound traffic, shared by every store of a runtime.
#[derive(Debug, Default)]
pub struct OutboundStats {
    pub requests: AtomicU64,
    pub denied: AtomicU64,
    pub failed: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub bytes_received: AtomicU64,
    /// Total time spent in the gate by requests that got an answer, in nanoseconds.
    pub nanos: AtomicU64,
}

impl OutboundStats {
    pub fn snapshot(&self) -> OutboundCounts {
        OutboundCounts {
            requests: self.requests.load(Ordering::Relaxed),
            denied: self.denied.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
            bytes_received: self.bytes_received.load(Ordering::Relaxed),
            nanos: self.nanos.load(Ordering::Relaxed),
        }
    }
}

/// A copy of [`OutboundStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboundCounts {
    pub requests: u64,
    pub denied: u64,
    pub failed: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub nanos: u64,
}

/// The gate of one store (one sync of one credential).
pub struct OutboundGate {
    inner: Arc<GateInner>,
}

struct GateInner {
    /// `None`: the connector has no credential in this store (e.g. `info`), so
    /// every request is refused.
    policy: Option<OutboundPolicy>,
    secrets: Secrets,
    scanner: Mutex<SecretScanner>,
    limits: SandboxLimits,
    stats: Arc<OutboundStats>,
    /// The last denial, so the host can tell the operator why a call failed.
    last_denial: Mutex<Option<String>>,
    /// Requests refused so far: a call during which this grew was refused something,
    /// whatever the guest then made of it.
    denials: AtomicU64,
    tape: Tape,
    /// How host names become addresses (the system's resolver, or a test's).
    resolver: Arc<dyn Resolver>,
    budget: Arc<HostBudget>,
}

impl OutboundGate {
    pub fn new(
        policy: Option<OutboundPolicy>,
        secrets: Secrets,
        limits: SandboxLimits,
        stats: Arc<OutboundStats>,
        tape: Tape,
        resolver: Arc<dyn Resolver>,
        budget: Arc<HostBudget>,
    ) -> Self {
        let scanner = Mutex::new(secrets.scanner());
        OutboundGate {
            inner: Arc::new(GateInner {
                policy,
                secrets,
                scanner,
                limits,
                stats,
                last_denial: Mutex::new(None),
                denials: AtomicU64::new(0),
                tape,
                resolver,
                budget,
            }),
        }
    }

    /// Why the last refused request was refused, if one was.
    pub fn last_denial(&self) -> Option<String> {
        self.inner.last_denial.lock().ok().and_then(|d| d.clone())
    }

    /// Whether `text` holds a secret of this credential, in any form the scanner
    /// knows (a poisoned scanner counts as yes: nothing is let through unchecked).
    pub fn holds_secret(&self, text: &[u8]) -> bool {
        self.scanner()
            .map_or(true, |scanner| scanner.found_in(text))
    }

    /// The scanner itself, for searching many texts under one lock (a poisoned
    /// scanner is an error: nothing is let through unchecked).
    pub(crate) fn scanner(&self) -> Result<std::sync::MutexGuard<'_, SecretScanner>, CallError> {
        self.inner
            .scanner
            .lock()
            .map_err(|_| CallError::Host("the secret scanner is poisoned".into()))
    }

    /// How many requests this gate has refused.
    pub fn denials(&self) -> u64 {
        self.inner.denials.load(Ordering::Relaxed)
    }
}

type SendResult = Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ),
    HttpError,
>;

impl WasiHttpHooks for OutboundGate {
    // An outgoing body buffers at most two chunks: with the resource table's bound,
    // what guests' unsent bodies hold is bounded too (see `budget`).
    fn p2_outgoing_body_buffer_chunks(&mut self) -> usize {
        1
    }

    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        RESOURCE_BYTES / 2
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_errors: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let inner = self.inner.clone();
        Box::new(async move {
            let response = inner.send(request, options).await?;
            Ok((
                response,
                Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

impl GateInner {
    fn deny(&self, reason: String) -> HttpError {
        // Reasons quote what the guest wrote (a placeholder, a URL).
        let reason = crate::state::escape_control(&reason);
        tracing::warn!(%reason, "outbound request denied");
        self.stats.denied.fetch_add(1, Ordering::Relaxed);
        self.denials.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut d) = self.last_denial.lock() {
            *d = Some(reason);
        }
        HttpError::HttpRequestDenied
    }

    /// Checks the request's origin, resolves the host **once** and checks every address;
    /// the request is then sent to one of exactly these addresses (none in a replay).
    async fn check_destination(&self, uri: &http::Uri) -> Result<Vec<SocketAddr>, HttpError> {
        let Some(policy) = &self.policy else {
            return Err(self.deny(format!("{uri}: no credential in this call")));
        };
        policy
            .check_uri(uri)
            .map_err(|d| self.deny(format!("{}: {d}", strip_query(uri))))?;
        if matches!(self.tape, Tape::Replay(_)) {
            // Nothing is sent: no address to check.
            return Ok(Vec::new());
        }
        let host = policy.origin().host.clone();
        let port = policy.origin().port;
        let addrs: Vec<SocketAddr> = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => self.resolver.resolve(&host, port).await.map_err(|e| {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                HttpError::DnsError {
                    rcode: Some(e.to_string()),
                    info_code: None,
                }
            })?,
        };
        if addrs.is_empty() {
            return Err(HttpError::DnsError {
                rcode: Some(format!("{host} has no address")),
                info_code: None,
            });
        }
        for addr in &addrs {
            policy
                .check_addr(&host, addr.ip())
                .map_err(|d: Denial| self.deny(d.to_string()))?;
        }
        Ok(addrs)
    }

    async fn send(
        &self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<http::Response<WasiBody>, HttpError> {
        let started = std::time::Instant::now();
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let addrs = self.check_destination(request.uri()).await?;
        let uri = request.uri().clone();
        let request_method = request.method().clone();

        let (mut parts, body) = request.into_parts();
        let (body, _request_charge) = self.read_request_body(body).await?;

        // The request as the connector wrote it: placeholders, never secrets.
        let as_written = || RecordedRequest {
            method: parts.method.to_string(),
            url: uri.to_string(),
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: crate::cassette::Body::from_bytes(&body),
        };
        if let Tape::Replay(player) = &self.tape {
            let Some(answer) = player.answer(parts.method.as_str(), &uri.to_string(), &body) else {
                return Err(self.deny(format!(
                    "{} {uri}: not in the cassette (replay answers only recorded requests)",
                    parts.method
                )));
            };
            let mut response = http::Response::builder().status(answer.status);
            for (n, v) in &answer.headers {
                response = response.header(n, v);
            }
            let bytes = answer
                .body
                .to_bytes()
                .map_err(|e| HttpError::InternalError(Some(e.to_string())))?;
            let charge = self.charge("recorded answer", bytes.capacity())?;
            let body = charged_bytes(bytes, charge);
            return response
                .header(CONTENT_LENGTH, body.len())
                .body(Full::new(body).map_err(|e| match e {}).boxed_unsync())
                .map_err(|e| HttpError::InternalError(Some(format!("recorded answer: {e}"))));
        }
        let recorded_request = matches!(self.tape, Tape::Record(_)).then(as_written);

        // Secrets go in only now, on a request already known to go to the credential's host.
        let mut inserted = Vec::new();
        for value in parts.headers.values_mut() {
            let exp = self
                .secrets
                .expand(value.as_bytes(), Escaping::None)
                .map_err(|e| self.deny(e.to_string()))?;
            if let Some(bytes) = exp.bytes {
                *value = HeaderValue::from_bytes(&bytes).map_err(|_| {
                    HttpError::InternalError(Some(
                        "header value invalid after placeholder expansion".into(),
                    ))
                })?;
                value.set_sensitive(true);
                inserted.extend(exp.inserted);
            }
        }
        let escaping = Escaping::for_content_type(
            parts
                .headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
        );
        let exp = self
            .secrets
            .expand(&body, escaping)
            .map_err(|e| self.deny(e.to_string()))?;
        let (body, _expanded_charge) = match exp.bytes {
            Some(bytes) => {
                inserted.extend(exp.inserted);
                let charge = self.charge("request body", bytes.capacity())?;
                (Bytes::from(bytes), Some(charge))
            }
            None => (body, None),
        };
        if !inserted.is_empty()
            && let Ok(mut r) = self.scanner.lock()
        {
            for v in &inserted {
                r.add(v);
            }
        }
        // The scanner must read the answer as the guest will: no compression.
        parts
            .headers
            .insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
        parts.headers.remove(CONTENT_LENGTH);
        if !body.is_empty() {
            parts
                .headers
                .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        self.stats
            .bytes_sent
            .fetch_add(body.len() as u64, Ordering::Relaxed);

        let limits = &self.limits;
        let timeouts = connect::Timeouts {
            connect: SandboxLimits::clamp(
                options.and_then(|o| o.connect_timeout),
                limits.connect_timeout,
            ),
            first_byte: SandboxLimits::clamp(
                options.and_then(|o| o.first_byte_timeout),
                limits.first_byte_timeout,
            ),
            between_bytes: SandboxLimits::clamp(
                options.and_then(|o| o.between_bytes_timeout),
                limits.between_bytes_timeout,
            ),
        };
        let request = || {
            let mut builder = http::Request::builder()
                .method(parts.method.clone())
                .uri(parts.uri.clone())
                .version(parts.version);
            if let Some(headers) = builder.headers_mut() {
                *headers = parts.headers.clone();
            }
            builder
                .body(Full::new(body.clone()))
                .map_err(|e| HttpError::InternalError(Some(format!("request: {e}"))))
        };
        let cap = limits.response_body_bytes;
        // The checked addresses in order; the next is tried only when one cannot be
        // connected to.
        let mut answer = Err(HttpError::DestinationUnavailable);
        for addr in &addrs {
            answer = connect::send(*addr, request()?, timeouts, cap, &self.budget).await;
            if !matches!(
                answer,
                Err(HttpError::ConnectionRefused | HttpError::ConnectionTimeout)
            ) {
                break;
            }
        }
        let connect::Answer { mut parts, body } = answer.inspect_err(|e| {
            self.stats.failed.fetch_add(1, Ordering::Relaxed);
            if matches!(e, HttpError::HttpResponseBodySize(_)) {
                tracing::warn!(cap, "response body over the cap");
            }
        })?;
        self.stats
            .bytes_received
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        tracing::debug!(
            method = %request_method,
            url = %strip_query(&uri),
            status = parts.status.as_u16(),
            bytes = body.len(),
            ms = started.elapsed().as_millis() as u64,
            "outbound request"
        );

        if let Some(encoding) = parts
            .headers
            .get(CONTENT_ENCODING)
            .filter(|e| !e.as_bytes().eq_ignore_ascii_case(b"identity"))
        {
            return Err(self.deny(format!(
                "{}: the answer is {}-encoded although the identity encoding was asked for; refused unread (the secret scanner reads bodies as sent)",
                strip_query(&uri),
                String::from_utf8_lossy(encoding.as_bytes())
            )));
        }
        {
            let scanner = self
                .scanner
                .lock()
                .map_err(|_| HttpError::InternalError(Some("scanner poisoned".into())))?;
            if parts
                .headers
                .values()
                .any(|v| scanner.found_in(v.as_bytes()))
                || scanner.found_in(&body)
            {
                return Err(self.deny(format!(
                    "{}: the answer contains a secret of this credential (echoed back, or a secret so short that ordinary data contains it); refused unread",
                    strip_query(&uri)
                )));
            }
        }
        if let (Tape::Record(recorder), Some(request)) = (&self.tape, recorded_request) {
            recorder.keep(request, parts.status.as_u16(), &parts.headers, &body);
        }
        parts.headers.remove(CONTENT_LENGTH);
        parts
            .headers
            .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        self.stats
            .nanos
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        Ok(http::Response::from_parts(
            parts,
            Full::new(body).map_err(|e| match e {}).boxed_unsync(),
        ))
    }
}

impl GateInner {
    fn charge(&self, what: &'static str, bytes: usize) -> Result<Charge, HttpError> {
        self.budget
            .charge(what, bytes)
            .map_err(|e| HttpError::InternalError(Some(e.to_string())))
    }

    /// The guest's request body, whole, at most `request_body_bytes`, charged as it
    /// arrives.
    async fn read_request_body(&self, mut body: WasiBody) -> Result<(Bytes, Charge), HttpError> {
        let mut charge = self.charge("request body", 0)?;
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame?;
            if let Some(data) = frame.data_ref() {
                if bytes.len() + data.len() > self.limits.request_body_bytes {
                    return Err(HttpError::HttpRequestBodySize(None));
                }
                bytes.reserve(data.len());
                charge
                    .resize(bytes.capacity())
                    .map_err(|e| HttpError::InternalError(Some(e.to_string())))?;
                bytes.extend_from_slice(data);
            }
        }
        Ok((Bytes::from(bytes), charge))
    }
}

fn strip_query(uri: &http::Uri) -> String {
    format!(
        "{}://{}{}",
        uri.scheme_str().unwrap_or("?"),
        uri.authority().map(|a| a.as_str()).unwrap_or("?"),
        uri.path()
    )
}
