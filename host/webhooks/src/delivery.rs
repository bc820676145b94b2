//! One delivery: the message of an outbox event, signed, POSTed to an address the
//! destination policy checked, within a timeout; the receiver's answer read (at most
//! a small cap) and judged: 2xx is delivered, anything else is a failure.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use epms_runtime::budget::HostBudget;
use epms_runtime::connect::{Timeouts, send};
use epms_store::OutboxEvent;

use crate::destination::DestinationPolicy;
use crate::signature::sign;

/// Most of a receiver's answer that is read (the rest fails the delivery).
const ANSWER_CAP: usize = 64 << 10;

/// A message as it goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `webhook-id`: the same for every attempt of one event.
    pub id: String,
    pub body: Vec<u8>,
}

/// The message of outbox event `seq`: `{"type", "timestamp", "property", "data"}`.
pub fn message(seq: u64, event: &OutboxEvent) -> Message {
    let body = serde_json::json!({
        "type": event.event_type,
        "timestamp": epms_engine::dates::format_rfc3339(event.at),
        "property": event.property,
        "data": event.data,
    });
    Message {
        id: format!("msg_{seq}"),
        body: serde_json::to_vec(&body).unwrap_or_default(),
    }
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration: Duration,
}

impl Outcome {
    pub fn delivered(&self) -> bool {
        self.error.is_none()
    }
}

/// Signs `message` with `secret` at `now` (unix seconds) and POSTs it to `url`.
pub async fn deliver(
    policy: &DestinationPolicy,
    url: &str,
    secret: &str,
    message: &Message,
    now: i64,
    timeout: Duration,
) -> Outcome {
    let started = Instant::now();
    let failed = |error: String| Outcome {
        status: None,
        error: Some(error),
        duration: started.elapsed(),
    };
    let signature = match sign(secret, &message.id, now, &message.body) {
        Ok(s) => s,
        Err(e) => return failed(e.to_string()),
    };
    let addrs = match policy.resolve(url).await {
        Ok(a) => a,
        Err(e) => return failed(e.to_string()),
    };
    let request = |body: Bytes| {
        http::Request::post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::USER_AGENT, "epms-webhooks")
            .header("webhook-id", &message.id)
            .header("webhook-timestamp", now.to_string())
            .header("webhook-signature", &signature)
            .body(http_body_util::Full::new(body))
    };
    let timeouts = Timeouts {
        connect: timeout,
        first_byte: timeout,
        between_bytes: timeout,
    };
    let mut last_error = String::from("no address");
    for addr in addrs {
        let req = match request(Bytes::from(message.body.clone())) {
            Ok(r) => r,
            Err(e) => return failed(format!("the request cannot be made: {e}")),
        };
        let budget: Arc<HostBudget> = HostBudget::new(ANSWER_CAP * 2);
        // The whole exchange is bounded too: a receiver trickling bytes under the
        // per-read timeout still cannot hold a worker for longer than this.
        match tokio::time::timeout(timeout * 2, send(addr, req, timeouts, ANSWER_CAP, &budget))
            .await
        {
            Ok(Ok(answer)) => {
                let status = answer.parts.status.as_u16();
                return Outcome {
                    status: Some(status),
                    error: (!answer.parts.status.is_success())
                        .then(|| format!("the receiver answered {status}")),
                    duration: started.elapsed(),
                };
            }
            Ok(Err(e)) => last_error = format!("{addr}: {e:?}"),
            Err(_) => last_error = format!("{addr}: no answer within {timeout:?}"),
        }
    }
    failed(last_error)
}
