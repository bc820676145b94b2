//! Faults injected per vendor and endpoint, as a middleware in front of every vendor
//! API: latency, 5xx, 429 with Retry-After, a malformed or truncated body, an auth
//! failure in the vendor's own shape, an empty result, a partial page.

use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::SimState;

/// What a fault does to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum FaultKind {
    /// Answer normally, this much later.
    Latency { millis: u64 },
    /// Answer with this status (5xx) and a plain body.
    ServerError { status: u16 },
    /// 429 with `Retry-After`.
    RateLimited { retry_after: u32 },
    /// The normal body with its second half replaced by garbage.
    Malformed,
    /// The normal body cut in half.
    Truncated,
    /// The vendor's own authentication failure.
    AuthFailure,
    /// The vendor's own empty result.
    Empty,
    /// Half of the records of the page, with the paging of a full one.
    PartialPage,
}

/// A fault on one vendor's API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    pub vendor: String,
    /// Matched as a substring against `METHOD path?query SOAPAction` (for SOAP, the
    /// operation name; for JSON-RPC and reports, the path); empty matches everything.
    #[serde(default)]
    pub endpoint: String,
    #[serde(flatten)]
    pub kind: FaultKind,
    /// How many matching requests it hits; absent: until cleared.
    #[serde(default)]
    pub times: Option<u32>,
}

/// Set on a request for the vendor handler to honour: faults only the vendor's own
/// code can shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forced {
    AuthFailure,
    Empty,
    PartialPage,
}

/// The signature faults are matched against.
pub fn signature(req: &Request) -> String {
    let action = req
        .headers()
        .get("soapaction")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    format!("{} {} {}", req.method(), req.uri(), action)
}

fn garble(bytes: &[u8], truncate_only: bool) -> Vec<u8> {
    let half = bytes.len() / 2;
    let mut out = bytes[..half].to_vec();
    if !truncate_only {
        out.extend_from_slice(b"<<\x01garbage{\"]]>");
    }
    out
}

/// The middleware: `state` carries the faults; `vendor` names the API it guards.
pub async fn inject(
    State((state, vendor)): State<(SimState, &'static str)>,
    mut req: Request,
    next: Next,
) -> Response {
    let sig = signature(&req);
    let Some(fault) = state.take_fault(vendor, &sig) else {
        return next.run(req).await;
    };
    tracing::debug!(vendor, ?fault, "injecting fault");
    match fault {
        FaultKind::Latency { millis } => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            next.run(req).await
        }
        FaultKind::ServerError { status } => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "simulated server error",
        )
            .into_response(),
        FaultKind::RateLimited { retry_after } => {
            let mut r = (StatusCode::TOO_MANY_REQUESTS, "simulated rate limit").into_response();
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(retry_after));
            r
        }
        FaultKind::Malformed | FaultKind::Truncated => {
            let resp = next.run(req).await;
            let (mut parts, body) = resp.into_parts();
            let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
            let out = garble(&bytes, fault == FaultKind::Truncated);
            parts.headers.remove("content-length");
            Response::from_parts(parts, Body::from(out))
        }
        FaultKind::AuthFailure => {
            req.extensions_mut().insert(Forced::AuthFailure);
            next.run(req).await
        }
        FaultKind::Empty => {
            req.extensions_mut().insert(Forced::Empty);
            next.run(req).await
        }
        FaultKind::PartialPage => {
            req.extensions_mut().insert(Forced::PartialPage);
            next.run(req).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbling_cuts_and_dirties() {
        assert_eq!(garble(b"abcdef", true), b"abc");
        assert!(garble(b"abcdef", false).starts_with(b"abc<<"));
    }

    #[test]
    fn faults_read_as_flat_json() {
        let f: Fault = serde_json::from_str(r#"{"vendor":"entrata","endpoint":"/leases","kind":"rate-limited","retry_after":7,"times":1}"#).unwrap();
        assert_eq!(f.kind, FaultKind::RateLimited { retry_after: 7 });
        assert_eq!(f.times, Some(1));
    }
}
