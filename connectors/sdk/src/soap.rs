//! SOAP 1.1 envelopes and faults.

use crate::ConnectorError;
use crate::xml::{self, Element};

/// The SOAP 1.1 envelope namespace.
pub const ENVELOPE_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// Wraps `body` (already-serialised XML) in a SOAP 1.1 envelope. `extra_namespaces`
/// are `(prefix, uri)` pairs declared on the envelope.
pub fn envelope(body: &str, extra_namespaces: &[(&str, &str)]) -> String {
    let mut ns = String::new();
    for (prefix, uri) in extra_namespaces {
        ns.push_str(&format!(" xmlns:{prefix}=\"{}\"", xml::escape(uri)));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
         <soap:Envelope xmlns:soap=\"{ENVELOPE_NS}\"{ns}><soap:Body>{body}</soap:Body></soap:Envelope>"
    )
}

/// `<name>escaped value</name>`.
pub fn element(name: &str, value: &str) -> String {
    format!("<{name}>{}</{name}>", xml::escape(value))
}

/// `<name>raw</name>`: for values that must not be escaped, such as secret
/// placeholders (the host escapes what it substitutes).
pub fn element_raw(name: &str, raw: &str) -> String {
    format!("<{name}>{raw}</{name}>")
}

/// The text of a SOAP answer worth parsing: a success, or an HTTP 500 carrying a
/// SOAP Fault (how SOAP 1.1 services report faults). Any other status is HTTP's own
/// error (401, 429 with Retry-After, 5xx without an envelope…).
pub fn answer_text(resp: &crate::http::Response) -> Result<&str, ConnectorError> {
    let text = resp.text();
    let fault = resp.status == 500 && text.as_ref().is_ok_and(|t| t.contains("Fault"));
    if resp.is_success() || fault {
        text
    } else {
        Err(resp.status_error(""))
    }
}

/// Parses a SOAP response and returns its `Body` element, or the fault as an error:
/// a fault is classified by its text (authentication words → auth, else protocol).
pub fn parse_body(text: &str) -> Result<Element<'_>, ConnectorError> {
    let root = xml::parse(text)?;
    if root.name != "Envelope" {
        return Err(ConnectorError::Protocol(format!(
            "expected a SOAP envelope, got <{}>",
            root.name
        )));
    }
    let body = root
        .into_child("Body")
        .ok_or_else(|| ConnectorError::Protocol("SOAP envelope without Body".into()))?;
    if let Some(fault) = body.child("Fault") {
        return Err(fault_error(fault));
    }
    Ok(body)
}

/// The typed error for a SOAP fault element.
pub fn fault_error(fault: &Element) -> ConnectorError {
    let text = fault
        .child_text("faultstring")
        .or_else(|| fault.find("Text").and_then(Element::trimmed))
        .unwrap_or("SOAP fault without faultstring")
        .to_owned();
    let lower = text.to_ascii_lowercase();
    if [
        "login",
        "password",
        "not authorized",
        "unauthorized",
        "license",
        "authentication",
    ]
    .iter()
    .any(|w| lower.contains(w))
    {
        ConnectorError::Auth(text)
    } else {
        ConnectorError::Protocol(format!("SOAP fault: {text}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_wraps_and_body_unwraps() {
        let env = envelope(&element("Op", "a&b"), &[("tem", "http://tempuri.org/")]);
        assert!(env.contains("xmlns:tem=\"http://tempuri.org/\""));
        let body = parse_body(&env).unwrap();
        assert_eq!(body.child_text("Op"), Some("a&b"));
    }

    #[test]
    fn only_successes_and_fault_envelopes_are_parsed() {
        let resp = |status: u16, body: &str| crate::http::Response {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        };
        assert!(answer_text(&resp(200, "<x/>")).is_ok());
        assert!(answer_text(&resp(500, "<s:Fault/>")).is_ok());
        assert!(matches!(
            answer_text(&resp(500, "oops")),
            Err(ConnectorError::Transient(_))
        ));
        assert!(matches!(
            answer_text(&resp(401, "")),
            Err(ConnectorError::Auth(_))
        ));
    }

    #[test]
    fn faults_become_typed_errors() {
        let fault = |s: &str| {
            envelope(
                &format!(
                    "<soap:Fault><faultcode>soap:Client</faultcode><faultstring>{s}</faultstring></soap:Fault>"
                ),
                &[],
            )
        };
        assert!(matches!(
            parse_body(&fault("LicenseKey is not authorized to call the method")),
            Err(ConnectorError::Auth(_))
        ));
        assert!(matches!(
            parse_body(&fault("Object reference not set")),
            Err(ConnectorError::Protocol(m)) if m.contains("Object reference")
        ));
        assert!(matches!(
            parse_body("<html/>"),
            Err(ConnectorError::Protocol(_))
        ));
    }
}
