//! Record and replay: every HTTP exchange a session makes through the gate, kept in a
//! cassette file, and played back later with no network.
//!
//! A cassette keeps each request **as the connector wrote it**, before the gate put
//! the secrets in: secrets stay placeholders (`{{secret:password}}`), so a cassette
//! holds none and a replay needs none. Replay is strict (as VCR's strict mode,
//! Shopify's function replay): a request the cassette does not hold is refused with
//! that reason, so a connector change that alters its requests shows at once.
//! Personal fields of the answers can be masked when recording ([`Cassette::mask`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The cassette format's version; a file of another version is refused.
pub const CASSETTE_VERSION: u32 = 1;

/// A body: UTF-8 text as it is, anything else in base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    Text(String),
    Base64(String),
}

impl Body {
    pub fn from_bytes(bytes: &[u8]) -> Body {
        match std::str::from_utf8(bytes) {
            Ok(text) => Body::Text(text.to_owned()),
            Err(_) => Body::Base64(base64::engine::general_purpose::STANDARD.encode(bytes)),
        }
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, CassetteError> {
        match self {
            Body::Text(t) => Ok(t.as_bytes().to_vec()),
            Body::Base64(b) => base64::engine::general_purpose::STANDARD
                .decode(b)
                .map_err(|e| CassetteError::Invalid(format!("a body is not base64: {e}"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    pub url: String,
    /// As the connector wrote them: secret placeholders, never secrets.
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    pub request: RecordedRequest,
    pub response: RecordedResponse,
}

/// Which connector made a cassette.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedConnector {
    pub vendor: String,
    pub version: String,
    pub sha256: String,
}

/// A recording of one session (or several of one credential).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cassette {
    pub version: u32,
    pub connector: RecordedConnector,
    /// The credential's non-secret settings (base-url included): what a replay needs.
    pub settings: BTreeMap<String, String>,
    pub exchanges: Vec<Exchange>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CassetteError {
    #[error("not a cassette: {0}")]
    Invalid(String),
    #[error("cassette version {found}; this host reads version {CASSETTE_VERSION}")]
    Version { found: u32 },
}

/// Response headers never kept: they carry sessions or are rewritten on replay.
const DROPPED_HEADERS: &[&str] = &["set-cookie", "content-length", "transfer-encoding", "date"];

/// Names of personal fields (JSON keys, XML elements; compared without case) that
/// [`Cassette::mask`] replaces.
pub const PERSONAL_FIELDS: &[&str] = &[
    "firstname",
    "first_name",
    "lastname",
    "last_name",
    "middlename",
    "namefull",
    "email",
    "emails",
    "emailaddress",
    "phone",
    "phonenumber",
    "phone_numbers",
    "cellphone",
    "homephone",
    "birthday",
];

/// What a replay puts in each secret field: nothing is sent, so no secret is needed.
pub const REPLAYED_SECRET: &str = "(replayed: no secret needed)";

impl Cassette {
    /// A new cassette of `recorder`'s exchanges, for `credential`'s settings.
    pub fn new(
        connector: &crate::LoadedConnector,
        credential: &crate::Credential,
        recorder: &Recorder,
    ) -> Cassette {
        Cassette {
            version: CASSETTE_VERSION,
            connector: RecordedConnector {
                vendor: connector.info().vendor.clone(),
                version: connector.info().version.clone(),
                sha256: connector.sha256().to_owned(),
            },
            settings: credential.settings().iter().cloned().collect(),
            exchanges: recorder.exchanges(),
        }
    }

    /// The credential a replay runs with: the recorded settings, every secret field
    /// filled with a stand-in (placeholders are matched, never expanded).
    pub fn credential(
        &self,
        info: &epms_model::ConnectorInfo,
    ) -> Result<crate::Credential, crate::CredentialError> {
        let mut fields = self.settings.clone();
        for f in info.secret_fields() {
            fields.insert(f.name.clone(), REPLAYED_SECRET.to_owned());
        }
        crate::Credential::from_fields(info, fields)
    }

    pub fn from_json(text: &str) -> Result<Cassette, CassetteError> {
        #[derive(Deserialize)]
        struct Versioned {
            version: u32,
        }
        let v: Versioned =
            serde_json::from_str(text).map_err(|e| CassetteError::Invalid(e.to_string()))?;
        if v.version != CASSETTE_VERSION {
            return Err(CassetteError::Version { found: v.version });
        }
        serde_json::from_str(text).map_err(|e| CassetteError::Invalid(e.to_string()))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a cassette serialises")
    }

    /// Replaces the values of personal fields in every answer, the same value by the same
    /// pseudonym throughout (so that records still join): names `Masked1`, emails
    /// `masked1@example.com`, phones `555-0001`.
    pub fn mask(&mut self) {
        let mut pseudonyms: BTreeMap<String, String> = BTreeMap::new();
        let mut pseudonym = |field: &str, value: &str| -> String {
            let n = pseudonyms.len() + 1;
            pseudonyms
                .entry(value.to_owned())
                .or_insert_with(|| {
                    if field.contains("email") {
                        format!("masked{n}@example.com")
                    } else if field.contains("phone") {
                        format!("555-{:04}", n % 10_000)
                    } else {
                        format!("Masked{n}")
                    }
                })
                .clone()
        };
        for exchange in &mut self.exchanges {
            let Body::Text(text) = &exchange.response.body else {
                continue;
            };
            let masked = match serde_json::from_str::<serde_json::Value>(text) {
                Ok(mut doc) => {
                    mask_json(&mut doc, &mut pseudonym);
                    serde_json::to_string(&doc).expect("JSON serialises")
                }
                Err(_) => mask_xml(text, &mut pseudonym),
            };
            exchange.response.body = Body::Text(masked);
        }
    }
}

fn is_personal(name: &str) -> bool {
    let local = name.rsplit(':').next().unwrap_or(name).to_ascii_lowercase();
    PERSONAL_FIELDS.contains(&local.as_str())
}

fn mask_json(value: &mut serde_json::Value, pseudonym: &mut impl FnMut(&str, &str) -> String) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                match v {
                    serde_json::Value::String(s) if is_personal(k) && !s.trim().is_empty() => {
                        *s = pseudonym(&k.to_ascii_lowercase(), s);
                    }
                    other => mask_json(other, pseudonym),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                mask_json(item, pseudonym);
            }
        }
        _ => {}
    }
}

/// Masks the text of `<Field>text</Field>` elements with a personal name (any prefix).
fn mask_xml(text: &str, pseudonym: &mut impl FnMut(&str, &str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let tag_end = match rest[open..].find('>') {
            Some(e) => open + e,
            None => break,
        };
        let tag = &rest[open + 1..tag_end];
        out.push_str(&rest[open..=tag_end]);
        rest = &rest[tag_end + 1..];
        let name = tag.split_whitespace().next().unwrap_or_default();
        if tag.ends_with('/') || name.starts_with(['/', '?', '!']) || !is_personal(name) {
            continue;
        }
        let Some(close) = rest.find('<') else { break };
        let inner = &rest[..close];
        if inner.trim().is_empty() {
            continue;
        }
        out.push_str(&pseudonym(&name.to_ascii_lowercase(), inner));
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

/// What a session's gate does with the exchanges it sees.
#[derive(Clone, Default)]
pub enum Tape {
    /// Send requests; keep nothing.
    #[default]
    Off,
    /// Send requests and keep every exchange.
    Record(Recorder),
    /// Send nothing: answer from the cassette, refuse what it does not hold.
    Replay(Player),
}

/// The exchanges recorded so far, shared with the gate.
#[derive(Clone, Default)]
pub struct Recorder {
    exchanges: Arc<Mutex<Vec<Exchange>>>,
}

/// Whether a request header carries a credential: what the connector wrote there is
/// kept only when it is a placeholder (a session token the guest holds is withheld).
fn is_credential_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "authorization"
        || name == "cookie"
        || ["token", "api-key", "apikey", "session", "password"]
            .iter()
            .any(|part| name.contains(part))
}

/// What stands for a credential a cassette does not keep.
pub const WITHHELD: &str = "[withheld]";

impl Recorder {
    pub(crate) fn keep(
        &self,
        mut request: RecordedRequest,
        status: u16,
        headers: &http::HeaderMap,
        body: &[u8],
    ) {
        for (name, value) in &mut request.headers {
            if is_credential_header(name) && !value.contains("{{") {
                *value = WITHHELD.to_owned();
            }
        }
        // An answer that is one JSON string is a session token (Rent Manager's sign-in);
        // the replay hands the connector this stand-in instead.
        // Only an answer that opens with a quote is parsed (not every page recorded).
        let opens_with_quote = body.trim_ascii_start().first() == Some(&b'"');
        let body = match opens_with_quote.then(|| serde_json::from_slice::<String>(body)) {
            Some(Ok(_)) => format!("\"{WITHHELD}\"").into_bytes(),
            _ => body.to_vec(),
        };
        let headers = headers
            .iter()
            .filter(|(n, _)| !DROPPED_HEADERS.contains(&n.as_str()))
            .map(|(n, v)| {
                (
                    n.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let exchange = Exchange {
            request,
            response: RecordedResponse {
                status,
                headers,
                body: Body::from_bytes(&body),
            },
        };
        if let Ok(mut all) = self.exchanges.lock() {
            all.push(exchange);
        }
    }

    /// Every exchange kept, in order.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.exchanges.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

/// Answers requests from a cassette. The same request asked again gets the next
/// recorded answer to it, and the last one once those run out (a connector reading a
/// page twice).
#[derive(Clone)]
pub struct Player {
    exchanges: Arc<Vec<Exchange>>,
    used: Arc<Mutex<Vec<bool>>>,
}

impl Player {
    pub fn new(cassette: &Cassette) -> Player {
        Player {
            used: Arc::new(Mutex::new(vec![false; cassette.exchanges.len()])),
            exchanges: Arc::new(cassette.exchanges.clone()),
        }
    }

    /// The recorded answer to this request, if the cassette holds one.
    pub fn answer(&self, method: &str, url: &str, body: &[u8]) -> Option<RecordedResponse> {
        let matches: Vec<usize> = self
            .exchanges
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                e.request.method == method
                    && e.request.url == url
                    && e.request.body.to_bytes().ok().as_deref() == Some(body)
            })
            .map(|(i, _)| i)
            .collect();
        let mut used = self.used.lock().ok()?;
        let pick = matches
            .iter()
            .copied()
            .find(|i| !used[*i])
            .or_else(|| matches.last().copied())?;
        used[pick] = true;
        Some(self.exchanges[pick].response.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(url: &str, body: &str) -> Exchange {
        Exchange {
            request: RecordedRequest {
                method: "GET".into(),
                url: url.into(),
                headers: vec![(
                    "authorization".into(),
                    "Basic {{base64:u:{{secret:p}}}}".into(),
                )],
                body: Body::Text(String::new()),
            },
            response: RecordedResponse {
                status: 200,
                headers: vec![],
                body: Body::Text(body.into()),
            },
        }
    }

    fn cassette(exchanges: Vec<Exchange>) -> Cassette {
        Cassette {
            version: CASSETTE_VERSION,
            connector: RecordedConnector {
                vendor: "acme".into(),
                version: "0.1.0".into(),
                sha256: "00".into(),
            },
            settings: BTreeMap::from([("base-url".into(), "http://pms.test".into())]),
            exchanges,
        }
    }

    #[test]
    fn replay_answers_what_was_recorded_in_order_and_nothing_else() {
        let c = cassette(vec![
            exchange("http://pms.test/a", "first"),
            exchange("http://pms.test/a", "second"),
            exchange("http://pms.test/b", "other"),
        ]);
        let p = Player::new(&c);
        let body = |r: Option<RecordedResponse>| r.map(|r| r.body);
        assert_eq!(
            body(p.answer("GET", "http://pms.test/a", b"")),
            Some(Body::Text("first".into()))
        );
        assert_eq!(
            body(p.answer("GET", "http://pms.test/a", b"")),
            Some(Body::Text("second".into()))
        );
        assert_eq!(
            body(p.answer("GET", "http://pms.test/a", b"")),
            Some(Body::Text("second".into())),
            "the last answer again"
        );
        assert!(p.answer("GET", "http://pms.test/c", b"").is_none());
        assert!(p.answer("POST", "http://pms.test/b", b"").is_none());
        assert!(
            p.answer("GET", "http://pms.test/b", b"x").is_none(),
            "another body"
        );
    }

    #[test]
    fn cassettes_round_trip_and_refuse_other_versions() {
        let mut c = cassette(vec![exchange("http://pms.test/a", "x")]);
        c.exchanges[0].response.body = Body::from_bytes(&[0xff, 0x00]);
        let back = Cassette::from_json(&c.to_json()).unwrap();
        assert_eq!(back, c);
        assert_eq!(
            back.exchanges[0].response.body.to_bytes().unwrap(),
            [0xff, 0x00]
        );
        let other = c.to_json().replacen("\"version\": 1", "\"version\": 9", 1);
        assert_eq!(
            Cassette::from_json(&other),
            Err(CassetteError::Version { found: 9 })
        );
        assert!(matches!(
            Cassette::from_json("{}"),
            Err(CassetteError::Invalid(_))
        ));
    }

    #[test]
    fn masking_replaces_personal_fields_consistently_in_json_and_xml() {
        let mut c = cassette(vec![
            exchange(
                "http://pms.test/a",
                r#"{"value":[{"FirstName":"Ann","Email":"ann@x.com","UnitID":"101"},{"FirstName":"Ann","PhoneNumber":"(555)123"}]}"#,
            ),
            exchange(
                "http://pms.test/b",
                r#"<r><MITS:FirstName>Ann</MITS:FirstName><Email/><Phone PhoneType="cell"><PhoneNumber>555</PhoneNumber></Phone><UnitCode>101</UnitCode></r>"#,
            ),
        ]);
        c.mask();
        let Body::Text(json) = &c.exchanges[0].response.body else {
            panic!()
        };
        assert!(
            !json.contains("Ann") && !json.contains("ann@x.com") && !json.contains("(555)123"),
            "{json}"
        );
        let doc: serde_json::Value = serde_json::from_str(json).unwrap();
        let rows = doc["value"].as_array().unwrap();
        assert_eq!(rows[0]["UnitID"], "101", "other fields kept");
        assert!(
            rows[0]["Email"].as_str().unwrap().ends_with("@example.com"),
            "{json}"
        );
        assert_eq!(
            rows[0]["FirstName"], rows[1]["FirstName"],
            "the same name, the same pseudonym"
        );
        let Body::Text(xml) = &c.exchanges[1].response.body else {
            panic!()
        };
        assert!(
            xml.contains("<MITS:FirstName>Masked") && !xml.contains(">Ann<"),
            "{xml}"
        );
        assert!(
            xml.contains("<Email/>") && xml.contains("<UnitCode>101</UnitCode>"),
            "{xml}"
        );
        assert!(!xml.contains(">555<"), "{xml}");
    }

    #[test]
    fn session_tokens_are_withheld_and_placeholders_kept() {
        let recorder = Recorder::default();
        let request = |headers: Vec<(&str, &str)>| RecordedRequest {
            method: "GET".into(),
            url: "http://pms.test/Units".into(),
            headers: headers
                .into_iter()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
            body: Body::from_bytes(b""),
        };
        recorder.keep(
            request(vec![("content-type", "application/json")]),
            200,
            &http::HeaderMap::new(),
            b"\"3f9c-live-session\"",
        );
        recorder.keep(
            request(vec![
                ("X-RM12Api-ApiToken", "3f9c-live-session"),
                ("authorization", "Basic {{base64:u:{{secret:password}}}}"),
                ("accept", "application/json"),
            ]),
            200,
            &http::HeaderMap::new(),
            b"[]",
        );
        let kept = recorder.exchanges();
        assert_eq!(kept[0].response.body, Body::from_bytes(b"\"[withheld]\""));
        let headers = &kept[1].request.headers;
        assert_eq!(headers[0].1, WITHHELD);
        assert_eq!(headers[1].1, "Basic {{base64:u:{{secret:password}}}}");
        assert_eq!(headers[2].1, "application/json");
        assert_eq!(kept[1].response.body, Body::from_bytes(b"[]"));
    }
}
