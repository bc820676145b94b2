//! Secrets on the way out, never in guest memory.
//!
//! A connector writes a placeholder where a secret belongs; the outbound gate calls
//! [`Secrets::expand`] on the request's header values and body just before the
//! request leaves, and [`SecretScanner::found_in`] on what comes back: a response holding a
//! secret is refused, so a server echoing a request cannot hand the secret to the guest.
//!
//! Placeholders (see `wit/v1/connector.wit`):
//! - `{{secret:NAME}}`: the value of secret field NAME, escaped for the body's format;
//! - `{{base64:TEXT}}`: standard base64 of TEXT once its own placeholders are expanded.
//!
//! Any other `{{` is left as it is.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use memchr::memmem;

/// How expanded values must be escaped to keep the surrounding text well-formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escaping {
    /// Header values and bodies of other types: inserted as they are.
    None,
    /// XML (SOAP) bodies: `& < > " '` escaped.
    Xml,
    /// JSON bodies: escaped as inside a JSON string.
    Json,
}

impl Escaping {
    /// The escaping for a body of the given `Content-Type`.
    pub fn for_content_type(content_type: Option<&str>) -> Escaping {
        let ct = content_type.unwrap_or_default().to_ascii_lowercase();
        if ct.contains("xml") {
            Escaping::Xml
        } else if ct.contains("json") {
            Escaping::Json
        } else {
            Escaping::None
        }
    }

    fn apply(self, value: &str) -> String {
        match self {
            Escaping::None => value.to_owned(),
            Escaping::Xml => {
                let mut out = String::with_capacity(value.len());
                for c in value.chars() {
                    match c {
                        '&' => out.push_str("&amp;"),
                        '<' => out.push_str("&lt;"),
                        '>' => out.push_str("&gt;"),
                        '"' => out.push_str("&quot;"),
                        '\'' => out.push_str("&apos;"),
                        c => out.push(c),
                    }
                }
                out
            }
            Escaping::Json => {
                let quoted = serde_json::to_string(value).unwrap_or_default();
                quoted[1..quoted.len().saturating_sub(1)].to_owned()
            }
        }
    }
}

/// A placeholder that cannot be expanded: the request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceholderError {
    #[error("placeholder names secret {0:?}, which this credential does not have")]
    UnknownSecret(String),
    #[error("placeholder {0:?} is not closed with }}}}")]
    Unterminated(String),
    #[error("placeholders nest too deeply")]
    TooDeep,
}

/// The secret values of one credential.
#[derive(Clone, Default)]
pub struct Secrets {
    values: BTreeMap<String, String>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.values.keys().map(|k| (k, "<redacted>")))
            .finish()
    }
}

/// The result of expanding placeholders in some text.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expansion {
    /// `None` when the input held no placeholder (no copy made).
    pub bytes: Option<Vec<u8>>,
    /// Every value inserted, as inserted, for the response scanner.
    pub inserted: Vec<String>,
}

const OPEN: &[u8] = b"{{";
const CLOSE: &[u8] = b"}}";
const SECRET: &[u8] = b"secret:";
const BASE64: &[u8] = b"base64:";

impl Secrets {
    pub fn new(values: impl IntoIterator<Item = (String, String)>) -> Self {
        Secrets {
            values: values.into_iter().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Every form in which a secret value may show up in a response.
    pub fn scanner(&self) -> SecretScanner {
        let mut r = SecretScanner::default();
        for v in self.values.values() {
            for esc in [Escaping::None, Escaping::Xml, Escaping::Json] {
                r.add(&esc.apply(v));
            }
        }
        r
    }

    /// Expands the placeholders of `input`.
    pub fn expand(&self, input: &[u8], escaping: Escaping) -> Result<Expansion, PlaceholderError> {
        if memmem::find(input, OPEN).is_none() {
            return Ok(Expansion::default());
        }
        let mut inserted = Vec::new();
        let out = self.expand_into(input, escaping, 0, &mut inserted)?;
        Ok(Expansion {
            bytes: Some(out),
            inserted,
        })
    }

    fn expand_into(
        &self,
        input: &[u8],
        escaping: Escaping,
        depth: u32,
        inserted: &mut Vec<String>,
    ) -> Result<Vec<u8>, PlaceholderError> {
        if depth > 4 {
            return Err(PlaceholderError::TooDeep);
        }
        let mut out = Vec::with_capacity(input.len() + 64);
        let mut rest = input;
        while let Some(at) = memmem::find(rest, OPEN) {
            out.extend_from_slice(&rest[..at]);
            let after = &rest[at + OPEN.len()..];
            if let Some(name_and_more) = after.strip_prefix(SECRET) {
                let end = memmem::find(name_and_more, CLOSE)
                    .ok_or_else(|| PlaceholderError::Unterminated(lossy_prefix(&rest[at..])))?;
                let name = String::from_utf8_lossy(&name_and_more[..end]).into_owned();
                let value = self
                    .values
                    .get(&name)
                    .ok_or(PlaceholderError::UnknownSecret(name))?;
                let escaped = escaping.apply(value);
                out.extend_from_slice(escaped.as_bytes());
                inserted.push(escaped);
                rest = &name_and_more[end + CLOSE.len()..];
            } else if let Some(body) = after.strip_prefix(BASE64) {
                let end = matching_close(body)
                    .ok_or_else(|| PlaceholderError::Unterminated(lossy_prefix(&rest[at..])))?;
                let inner = self.expand_into(&body[..end], Escaping::None, depth + 1, inserted)?;
                let encoded = base64::engine::general_purpose::STANDARD.encode(inner);
                out.extend_from_slice(encoded.as_bytes());
                inserted.push(encoded);
                rest = &body[end + CLOSE.len()..];
            } else {
                out.extend_from_slice(OPEN);
                rest = after;
            }
        }
        out.extend_from_slice(rest);
        Ok(out)
    }
}

/// Position of the `}}` closing a placeholder whose body starts at `body`, allowing
/// nested `{{…}}`.
fn matching_close(body: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = 0;
    while i + 1 < body.len() {
        match &body[i..i + 2] {
            b"{{" => {
                depth += 1;
                i += 2;
            }
            b"}}" if depth == 0 => return Some(i),
            b"}}" => {
                depth -= 1;
                i += 2;
            }
            _ => i += 1,
        }
    }
    None
}

fn lossy_prefix(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(40)]).into_owned()
}

/// Finds disclosed secret values in what a server sends back. A response that holds
/// one is refused whole, never altered: cutting a value out changes data (a 3-character
/// license `lic` inside the status `Applicant` would read `App[redacted]ant`), and a
/// response that echoes a secret is no answer to trust anyway.
#[derive(Debug, Clone, Default)]
pub struct SecretScanner {
    needles: Vec<Vec<u8>>,
}

impl SecretScanner {
    /// Adds a value to look for. Empty values are ignored.
    pub fn add(&mut self, value: &str) {
        let v = value.as_bytes();
        if !v.is_empty() && !self.needles.iter().any(|n| n == v) {
            self.needles.push(v.to_vec());
        }
    }

    /// Whether `input` holds any of the values.
    pub fn found_in(&self, input: &[u8]) -> bool {
        self.needles
            .iter()
            .any(|needle| memmem::find(input, needle).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Secrets {
        Secrets::new([
            ("password".to_owned(), "p<a>ss&\"word".to_owned()),
            ("license".to_owned(), "LIC-123".to_owned()),
        ])
    }

    fn expand(s: &Secrets, input: &str, esc: Escaping) -> String {
        let e = s.expand(input.as_bytes(), esc).unwrap();
        String::from_utf8(e.bytes.unwrap_or_else(|| input.as_bytes().to_vec())).unwrap()
    }

    #[test]
    fn secrets_are_escaped_for_the_body_format() {
        let s = secrets();
        assert_eq!(
            expand(
                &s,
                "<Password>{{secret:password}}</Password>",
                Escaping::Xml
            ),
            "<Password>p&lt;a&gt;ss&amp;&quot;word</Password>"
        );
        assert_eq!(
            expand(&s, r#"{"key":"{{secret:password}}"}"#, Escaping::Json),
            r#"{"key":"p<a>ss&\"word"}"#
        );
        assert_eq!(
            expand(&s, "x-api-key: {{secret:license}}", Escaping::None),
            "x-api-key: LIC-123"
        );
    }

    #[test]
    fn base64_wraps_expanded_text_for_basic_auth() {
        let s = secrets();
        let header = expand(
            &s,
            "Basic {{base64:client/db/user:{{secret:license}}}}",
            Escaping::None,
        );
        let expected = base64::engine::general_purpose::STANDARD.encode("client/db/user:LIC-123");
        assert_eq!(header, format!("Basic {expected}"));
    }

    #[test]
    fn text_without_placeholders_is_not_copied() {
        let e = secrets().expand(b"plain body", Escaping::Xml).unwrap();
        assert_eq!(e, Expansion::default());
        assert_eq!(
            expand(&secrets(), "{{not a placeholder}} {{", Escaping::None),
            "{{not a placeholder}} {{"
        );
    }

    #[test]
    fn unknown_or_unterminated_placeholders_are_errors() {
        let s = secrets();
        assert_eq!(
            s.expand(b"{{secret:nope}}", Escaping::None),
            Err(PlaceholderError::UnknownSecret("nope".into()))
        );
        assert!(matches!(
            s.expand(b"{{secret:password", Escaping::None),
            Err(PlaceholderError::Unterminated(_))
        ));
        assert!(matches!(
            s.expand(b"{{base64:abc", Escaping::None),
            Err(PlaceholderError::Unterminated(_))
        ));
    }

    #[test]
    fn every_inserted_value_is_found_in_responses() {
        let s = secrets();
        let mut scanner = s.scanner();
        let e = s
            .expand(b"Basic {{base64:u:{{secret:license}}}}", Escaping::None)
            .unwrap();
        for v in &e.inserted {
            scanner.add(v);
        }
        let b64 = base64::engine::general_purpose::STANDARD.encode("u:LIC-123");
        for echo in [
            format!("auth={b64}"),
            "lic=LIC-123".to_owned(),
            "xml=p&lt;a&gt;ss&amp;&quot;word".to_owned(),
        ] {
            assert!(scanner.found_in(echo.as_bytes()), "{echo}");
        }
        assert!(!scanner.found_in(b"nothing secret here"));
    }

    /// Regression: with a 3-character license, the recorded status `Applicant` reached
    /// the guest as `App[redacted]ant`. The value is found, so the gate refuses the
    /// answer with a reason instead of changing the data.
    #[test]
    fn a_short_secret_in_ordinary_data_is_found_not_cut_out() {
        let recorded = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/real/yardi/GetResidents.result.xml"
        ))
        .unwrap();
        assert!(memmem::find(&recorded, b"<Status>Applicant</Status>").is_some());
        let s = Secrets::new([("interface-license".to_owned(), "lic".to_owned())]);
        assert!(s.scanner().found_in(&recorded));
        let long = Secrets::new([("interface-license".to_owned(), "LIC-9f3a77c2".to_owned())]);
        assert!(
            !long.scanner().found_in(&recorded),
            "an ordinary secret is not in the data"
        );
    }

    #[test]
    fn debug_never_prints_values() {
        let printed = format!("{:?}", secrets());
        assert!(printed.contains("license") && !printed.contains("LIC-123"));
    }
}
