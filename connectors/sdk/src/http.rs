//! A blocking HTTP client over `wasi:http`, and the vendor-neutral meaning of HTTP
//! failures.
//!
//! Only the credential's base-url host can be reached: the host refuses anything
//! else (surfacing here as [`HttpError::Denied`]). Secrets are written as
//! placeholders (see [`crate::secret`]) and filled in by the host.

use std::time::Duration;

use crate::ConnectorError;
use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use crate::bindings::wasi::io::streams::StreamError;

/// An HTTP request to send.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// How long to wait for the first byte of the answer (the host may lower it).
    pub timeout: Option<Duration>,
}

impl Request {
    pub fn get(url: impl Into<String>) -> Self {
        Request {
            method: "GET",
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
        }
    }

    pub fn post(url: impl Into<String>, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Request {
            method: "POST",
            url: url.into(),
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
            timeout: None,
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Sends the request and reads the whole answer.
    pub fn send(&self) -> Result<Response, HttpError> {
        send(self)
    }
}

/// An HTTP answer, body read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of a header (names compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8 text; a body that is not UTF-8 is a protocol error.
    pub fn text(&self) -> Result<&str, ConnectorError> {
        std::str::from_utf8(&self.body)
            .map_err(|e| ConnectorError::Protocol(format!("response body is not UTF-8: {e}")))
    }

    /// The body as text, taken out of the response (for a [`crate::json::Document`]
    /// that keeps it).
    pub fn into_text(self) -> Result<String, ConnectorError> {
        String::from_utf8(self.body)
            .map_err(|e| ConnectorError::Protocol(format!("response body is not UTF-8: {e}")))
    }

    /// `Retry-After` in seconds (the delta-seconds form; an HTTP date is not honoured).
    pub fn retry_after(&self) -> Option<u32> {
        self.header("retry-after")?.trim().parse().ok()
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The usual meaning of a non-success status, for vendors whose errors are plain
    /// HTTP codes: 401/403 auth, 404 not found, 429 rate limited, 5xx transient,
    /// anything else a protocol error. `detail` is added to the message.
    pub fn status_error(&self, detail: &str) -> ConnectorError {
        let message = if detail.is_empty() {
            format!("HTTP {}", self.status)
        } else {
            format!("HTTP {}: {detail}", self.status)
        };
        match self.status {
            401 | 403 => ConnectorError::Auth(message),
            404 => ConnectorError::NotFound(message),
            408 | 502 | 503 | 504 | 500 | 505..=599 => ConnectorError::Transient(message),
            429 => ConnectorError::RateLimited(crate::RateLimit {
                retry_after_seconds: self.retry_after(),
                message,
            }),
            _ => ConnectorError::Protocol(message),
        }
    }
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The host refused to send it: not the credential's host, or a bad placeholder.
    Denied,
    /// Malformed URL or header (a bug in the connector or a bad base URL).
    InvalidRequest(String),
    /// Timed out connecting or waiting for the answer.
    Timeout,
    /// Could not connect, TLS failed, the connection broke.
    Connection(String),
    /// The answer was bigger than the host allows.
    TooLarge,
    Other(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Denied => f.write_str(
                "request denied by the sandbox (only the credential's base-url host may be reached)",
            ),
            HttpError::InvalidRequest(m) => write!(f, "invalid request: {m}"),
            HttpError::Timeout => f.write_str("timed out"),
            HttpError::Connection(m) => write!(f, "connection failed: {m}"),
            HttpError::TooLarge => f.write_str("response larger than the host allows"),
            HttpError::Other(m) => f.write_str(m),
        }
    }
}

impl From<HttpError> for ConnectorError {
    fn from(e: HttpError) -> Self {
        let message = e.to_string();
        match e {
            HttpError::Denied | HttpError::InvalidRequest(_) => ConnectorError::Config(message),
            HttpError::Timeout | HttpError::Connection(_) | HttpError::Other(_) => {
                ConnectorError::Transient(message)
            }
            HttpError::TooLarge => ConnectorError::Protocol(message),
        }
    }
}

fn from_error_code(code: ErrorCode) -> HttpError {
    match code {
        ErrorCode::HttpRequestDenied => HttpError::Denied,
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout => HttpError::Timeout,
        ErrorCode::HttpResponseBodySize(_) => HttpError::TooLarge,
        ErrorCode::DnsTimeout => HttpError::Timeout,
        ErrorCode::DnsError(e) => HttpError::Connection(format!("DNS: {:?}", e.rcode)),
        ErrorCode::ConnectionRefused => HttpError::Connection("refused".into()),
        ErrorCode::ConnectionTerminated => HttpError::Connection("terminated".into()),
        ErrorCode::DestinationNotFound | ErrorCode::DestinationUnavailable => {
            HttpError::Connection("destination unavailable".into())
        }
        ErrorCode::TlsProtocolError
        | ErrorCode::TlsCertificateError
        | ErrorCode::TlsAlertReceived(_) => HttpError::Connection("TLS".into()),
        ErrorCode::InternalError(Some(m)) => HttpError::Other(m),
        other => HttpError::Other(format!("{other:?}")),
    }
}

/// The parts of an absolute http(s) URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlParts<'a> {
    pub https: bool,
    pub authority: &'a str,
    pub path_and_query: &'a str,
}

/// Splits `http(s)://authority/path?query`.
pub fn split_url(url: &str) -> Result<UrlParts<'_>, HttpError> {
    let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(HttpError::InvalidRequest(format!(
            "not an http(s) URL: {url:?}"
        )));
    };
    let cut = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(cut);
    if authority.is_empty() {
        return Err(HttpError::InvalidRequest(format!("no host in {url:?}")));
    }
    Ok(UrlParts {
        https,
        authority,
        path_and_query: if path.is_empty() { "/" } else { path },
    })
}

/// Joins a base URL and a path: a full URL is kept, `/path` replaces the base URL's
/// path (as a browser resolves it), `path` is appended to it.
pub fn join(base_url: &str, path: &str) -> String {
    if path.starts_with("http://") || path.starts_with("https://") {
        return path.to_owned();
    }
    let base = base_url.trim_end_matches('/');
    match path.strip_prefix('/') {
        Some(rest) => {
            let origin_len = split_url(base)
                .map(|p| if p.https { 8 } else { 7 } + p.authority.len())
                .unwrap_or(base.len());
            format!("{}/{rest}", &base[..origin_len])
        }
        None => format!("{base}/{path}"),
    }
}

/// A link a PMS returned (absolute, or relative to its own host), sent to the
/// credential's own origin: its path and query on `base_url`'s scheme, host and port.
/// Paging links are followed as given, never recomputed, but a link naming another host
/// cannot move the connector off its PMS.
pub fn rebase(base_url: &str, link: &str) -> Result<String, HttpError> {
    let base = split_url(base_url.trim_end_matches('/'))?;
    let origin = format!(
        "{}://{}",
        if base.https { "https" } else { "http" },
        base.authority
    );
    if link.starts_with("http://") || link.starts_with("https://") {
        return Ok(format!("{origin}{}", split_url(link)?.path_and_query));
    }
    if link.contains("://") {
        return Err(HttpError::InvalidRequest(format!(
            "not an http(s) link: {link:?}"
        )));
    }
    Ok(join(base_url, link))
}

/// `name=value` pairs as a URL query string (without the `?`), each part
/// percent-encoded except the unreserved characters of RFC 3986 (and `$`, which
/// OData names carry as they are).
pub fn query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes one query component (UTF-8 bytes; `$` kept).
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'$' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

const READ_CHUNK: u64 = 64 * 1024;
const WRITE_CHUNK: usize = 4096;

/// Sends `req` through the host and reads the whole answer.
pub fn send(req: &Request) -> Result<Response, HttpError> {
    let parts = split_url(&req.url)?;
    let headers = Fields::new();
    for (name, value) in &req.headers {
        headers
            .append(&name.to_ascii_lowercase(), value.as_bytes())
            .map_err(|e| HttpError::InvalidRequest(format!("header {name}: {e:?}")))?;
    }
    let request = OutgoingRequest::new(headers);
    let method = match req.method {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        other => Method::Other(other.to_owned()),
    };
    let invalid = |what: &str| HttpError::InvalidRequest(format!("{what} of {:?}", req.url));
    request.set_method(&method).map_err(|_| invalid("method"))?;
    request
        .set_scheme(Some(if parts.https {
            &Scheme::Https
        } else {
            &Scheme::Http
        }))
        .map_err(|_| invalid("scheme"))?;
    request
        .set_authority(Some(parts.authority))
        .map_err(|_| invalid("authority"))?;
    request
        .set_path_with_query(Some(parts.path_and_query))
        .map_err(|_| invalid("path"))?;

    // Options only when there is something to set: each is a host resource and calls.
    let options = req.timeout.map(|t| {
        let options = RequestOptions::new();
        let ns = u64::try_from(t.as_nanos()).unwrap_or(u64::MAX);
        let _ = options.set_first_byte_timeout(Some(ns));
        let _ = options.set_between_bytes_timeout(Some(ns));
        options
    });

    let body = request
        .body()
        .map_err(|_| HttpError::Other("request body taken twice".into()))?;
    let future = outgoing_handler::handle(request, options).map_err(from_error_code)?;
    let wait = || loop {
        if let Some(ready) = future.get() {
            break ready
                .map_err(|_| HttpError::Other("response read twice".into()))?
                .map_err(from_error_code);
        }
        future.subscribe().block();
    };
    let written = write_body(&body, &req.body);
    if let Err(write_error) = written {
        // A request the host refused fails its body write first; the response says
        // why (denied, too large), which is what the connector must report.
        drop(body);
        return match wait() {
            Err(refusal) => Err(refusal),
            Ok(_) => Err(write_error),
        };
    }
    OutgoingBody::finish(body, None).map_err(from_error_code)?;
    let response = wait()?;

    let status = response.status();
    let headers: Vec<(String, String)> = response
        .headers()
        .entries()
        .into_iter()
        .map(|(n, v)| (n, String::from_utf8_lossy(&v).into_owned()))
        .collect();
    let announced = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok());
    let incoming = response
        .consume()
        .map_err(|_| HttpError::Other("response body taken twice".into()))?;
    let body = read_body(&incoming, announced)?;
    drop(incoming);
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn write_body(body: &OutgoingBody, bytes: &[u8]) -> Result<(), HttpError> {
    let stream = body
        .write()
        .map_err(|_| HttpError::Other("request body stream taken twice".into()))?;
    for chunk in bytes.chunks(WRITE_CHUNK) {
        stream
            .blocking_write_and_flush(chunk)
            .map_err(|e| HttpError::Connection(format!("writing request body: {e:?}")))?;
    }
    Ok(())
}

/// Most of an announced `content-length` reserved up front: a server's header must
/// not make the guest claim more memory than a large real page needs.
const MOST_RESERVED: usize = 16 << 20;

/// The whole body. With a `content-length`, into one allocation of that size (a
/// multi-megabyte page otherwise regrows and copies itself at every doubling);
/// without one, the first chunk is kept as it came.
fn read_body(incoming: &IncomingBody, announced: Option<usize>) -> Result<Vec<u8>, HttpError> {
    let stream = incoming
        .stream()
        .map_err(|_| HttpError::Other("response stream taken twice".into()))?;
    let mut body = Vec::with_capacity(announced.unwrap_or(0).min(MOST_RESERVED));
    loop {
        match stream.blocking_read(READ_CHUNK) {
            Ok(chunk) if body.capacity() == 0 => body = chunk,
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(HttpError::Connection(format!(
                    "reading response body: {}",
                    e.to_debug_string()
                )));
            }
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_authority_and_path() {
        assert_eq!(
            split_url("https://pms.test:8443/a/b?x=1").unwrap(),
            UrlParts {
                https: true,
                authority: "pms.test:8443",
                path_and_query: "/a/b?x=1"
            }
        );
        assert_eq!(split_url("http://h").unwrap().path_and_query, "/");
        assert_eq!(split_url("http://h?q").unwrap().path_and_query, "?q");
        assert!(split_url("ftp://h/").is_err());
        assert!(split_url("https:///x").is_err());
    }

    #[test]
    fn join_handles_relative_and_absolute_paths() {
        assert_eq!(join("http://h:1/base/", "x/y"), "http://h:1/base/x/y");
        assert_eq!(
            join("http://h:1/base", "/api/v2/r.json?p=2"),
            "http://h:1/api/v2/r.json?p=2"
        );
        assert_eq!(join("http://h:1", "/api"), "http://h:1/api");
        assert_eq!(join("http://h:1/b", "https://other/x"), "https://other/x");
    }

    #[test]
    fn links_are_rebased_onto_the_credential_origin() {
        let link = "https://mrix5api.saas.mrisoftware.com/mriapiservices/api.asp?%24api=X&%24top=300&%24skip=301";
        assert_eq!(
            rebase("http://127.0.0.1:9000/", link).unwrap(),
            "http://127.0.0.1:9000/mriapiservices/api.asp?%24api=X&%24top=300&%24skip=301"
        );
        assert_eq!(
            rebase(
                "https://pms.test/base",
                "/MRIAPIServices/api.asp?_next=ae49"
            )
            .unwrap(),
            "https://pms.test/MRIAPIServices/api.asp?_next=ae49"
        );
        assert!(rebase("https://pms.test", "ftp://x/y").is_err());
    }

    #[test]
    fn query_strings_are_percent_encoded() {
        assert_eq!(
            query(&[("$api", "MRI_S-PMRM_X"), ("PropertyID", "GC 01&x=é")]),
            "$api=MRI_S-PMRM_X&PropertyID=GC%2001%26x%3D%C3%A9"
        );
    }

    #[test]
    fn statuses_map_to_typed_errors() {
        let resp = |status: u16, headers: Vec<(String, String)>| Response {
            status,
            headers,
            body: vec![],
        };
        assert!(matches!(
            resp(401, vec![]).status_error(""),
            ConnectorError::Auth(_)
        ));
        assert!(matches!(
            resp(404, vec![]).status_error(""),
            ConnectorError::NotFound(_)
        ));
        assert!(matches!(
            resp(503, vec![]).status_error(""),
            ConnectorError::Transient(_)
        ));
        assert!(matches!(
            resp(400, vec![]).status_error(""),
            ConnectorError::Protocol(_)
        ));
        match resp(429, vec![("Retry-After".into(), " 12 ".into())]).status_error("slow") {
            ConnectorError::RateLimited(r) => {
                assert_eq!(r.retry_after_seconds, Some(12));
                assert_eq!(r.message, "HTTP 429: slow");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn transport_failures_map_to_typed_errors() {
        assert!(matches!(
            ConnectorError::from(HttpError::Denied),
            ConnectorError::Config(_)
        ));
        assert!(matches!(
            ConnectorError::from(HttpError::Timeout),
            ConnectorError::Transient(_)
        ));
        assert!(matches!(
            ConnectorError::from(HttpError::TooLarge),
            ConnectorError::Protocol(_)
        ));
    }
}
