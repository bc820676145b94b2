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

use aho_corasick::AhoCorasick;
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
        // Escaped forms (XML, JSON) are decoded by the scanner, not listed.
        let mut r = SecretScanner::default();
        for v in self.values.values() {
            r.add(v);
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

/// Finds disclosed secret values in what a server sends back, and in what a guest
/// returns. A response that holds one is refused whole, never altered: cutting a value
/// out changes data (a 3-character license `lic` inside the status `Applicant` would
/// read `App[redacted]ant`), and a response that echoes a secret is no answer to trust
/// anyway.
///
/// A value is looked for in the forms a server (or a guest) turns it into without
/// meaning to hide it: any letter case; JSON `\u` and backslash escapes, XML entities
/// and `%` escapes (the text is decoded before it is searched); standard and URL-safe
/// base64 at any alignment; hex. Each half of a value of 16 bytes or more is looked
/// for too, so that a value echoed in two pieces is caught in either. No scanner can
/// catch an arbitrary transform (a reversal, a cipher): see `docs/rules.md`.
#[derive(Debug, Clone)]
pub struct SecretScanner {
    /// Lower-case; searched ignoring ASCII case in the text, raw and decoded.
    plain: Needles,
    /// Base64 forms; searched byte for byte in the raw text.
    exact: Needles,
}

impl Default for SecretScanner {
    fn default() -> Self {
        SecretScanner {
            plain: Needles::new(true),
            exact: Needles::new(false),
        }
    }
}

/// Byte strings looked for, and one automaton that finds any of them in one pass (every
/// text field of every record passes here: a search per needle cost more than the
/// rest of taking the record in).
#[derive(Debug, Clone)]
struct Needles {
    list: Vec<Vec<u8>>,
    any: Option<AhoCorasick>,
    /// Whether ASCII case is ignored (the needles are then lower-case): the text is
    /// lower-cased a chunk at a time, never copied whole (answers are megabytes).
    fold_case: bool,
}

impl Needles {
    fn new(fold_case: bool) -> Self {
        Needles {
            list: Vec::new(),
            any: None,
            fold_case,
        }
    }

    fn push(&mut self, item: Vec<u8>) {
        if item.is_empty() || self.list.contains(&item) {
            return;
        }
        self.list.push(item);
        // A handful of needles of bounded length: building cannot run into the
        // automaton's size limits; if it ever did, `found_in` still searches the list.
        // Leftmost-first and case-sensitive (all `is_match` needs): only then does
        // aho-corasick search with its SIMD prefilter (Teddy). Standard matching, or
        // its own case folding, ran at about 550 MB/s: 18 ms a pass over a 10 MB
        // answer, three passes an answer. Case is folded in the text instead.
        self.any = AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(&self.list)
            .ok();
    }

    fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Whether a needle is in `haystack` (ignoring ASCII case when the needles are
    /// lower-case). The text is lower-cased a chunk at a time into one small buffer
    /// (answers are megabytes), each chunk starting early enough that a needle across
    /// two chunks is whole in the second.
    fn found_in(&self, haystack: &[u8]) -> bool {
        if !self.fold_case {
            return self.search(haystack);
        }
        let overlap = self.list.iter().map(Vec::len).max().unwrap_or(1) - 1;
        let mut folded = Vec::with_capacity(FOLD_CHUNK.min(haystack.len()) + overlap);
        let mut start = 0;
        while start < haystack.len() {
            let end = (start + FOLD_CHUNK).min(haystack.len());
            folded.clear();
            folded.extend(
                haystack[start.saturating_sub(overlap)..end]
                    .iter()
                    .map(u8::to_ascii_lowercase),
            );
            if self.search(&folded) {
                return true;
            }
            start = end;
        }
        false
    }

    /// A case-sensitive search for any needle.
    fn search(&self, text: &[u8]) -> bool {
        match &self.any {
            Some(any) => any.is_match(text),
            None => self.list.iter().any(|n| memmem::find(text, n).is_some()),
        }
    }
}

/// How much of a text [`Needles::found_in`] lower-cases at a time.
const FOLD_CHUNK: usize = 64 * 1024;

/// The shortest piece of a value looked for on its own (halves, base64 runs): shorter
/// pieces turn up in ordinary data.
const MIN_FRAGMENT: usize = 8;

impl SecretScanner {
    /// Adds a value to look for. Empty values are ignored.
    pub fn add(&mut self, value: &str) {
        let v = value.as_bytes();
        if v.is_empty() {
            return;
        }
        let mut fragments = vec![v];
        if v.len() >= 2 * MIN_FRAGMENT {
            fragments.extend([&v[..v.len() / 2], &v[v.len() / 2..]]);
        }
        for fragment in fragments {
            self.plain.push(fragment.to_ascii_lowercase());
            let hex: String = fragment.iter().map(|b| format!("{b:02x}")).collect();
            if hex.len() >= MIN_FRAGMENT {
                self.plain.push(hex.into_bytes());
            }
            for run in base64_runs(fragment) {
                self.exact.push(run);
            }
        }
    }

    /// A batch for searching many texts at once (see [`ScanBatch`]).
    pub fn batch(&self) -> ScanBatch<'_> {
        let needles = || self.plain.list.iter().chain(&self.exact.list);
        // Control bytes: never part of an escape, a letter or a digit.
        let separator = (0u8..0x20)
            .filter(|b| !matches!(b, b'\t' | b'\n' | b'\r'))
            .find(|b| needles().all(|n| !n.contains(b)));
        let shortest = needles().map(Vec::len).min().unwrap_or(usize::MAX);
        ScanBatch {
            scanner: self,
            separator,
            shortest,
            joined: Vec::new(),
            found: false,
        }
    }

    /// Whether `input` holds any of the values, in any of the forms looked for.
    pub fn found_in(&self, input: &[u8]) -> bool {
        if self.plain.is_empty() && self.exact.is_empty() {
            return false;
        }
        if self.exact.found_in(input) {
            return true;
        }
        if self.plain.found_in(input) {
            return true;
        }
        if memchr::memchr3(b'\\', b'&', b'%', input).is_none() {
            return false;
        }
        let decoded = decode_escapes(input);
        decoded != input && self.plain.found_in(&decoded)
    }
}

/// How many bytes of joined texts a [`ScanBatch`] searches at a time: large enough that
/// a page of records takes a few passes, small enough to stay in cache.
const BATCH_BYTES: usize = 64 * 1024;

/// Many texts searched together: joined by a byte that no needle holds, a batch at a
/// time. Every text field of every record is checked; one pass per field cost more
/// than the rest of taking the record in.
///
/// A find in the joined text is a find in one of the texts: no needle holds the
/// separator, and no escape the scanner decodes (`\u0041`, `&#65;`, `%41`) can
/// consume it, so neither a match nor a decoded escape spans two texts.
pub struct ScanBatch<'s> {
    scanner: &'s SecretScanner,
    /// `None` when every candidate byte is in some needle: each text is searched alone.
    separator: Option<u8>,
    /// Texts shorter than every needle cannot hold one (decoding never lengthens text).
    shortest: usize,
    joined: Vec<u8>,
    found: bool,
}

impl ScanBatch<'_> {
    /// Adds a text to the batch.
    pub fn push(&mut self, text: &[u8]) {
        if self.found || text.len() < self.shortest {
            return;
        }
        let Some(separator) = self.separator else {
            self.found = self.scanner.found_in(text);
            return;
        };
        if !self.joined.is_empty() && self.joined.len() + text.len() >= BATCH_BYTES {
            self.flush();
        }
        self.joined.extend_from_slice(text);
        self.joined.push(separator);
    }

    fn flush(&mut self) {
        if !self.joined.is_empty() {
            self.found = self.found || self.scanner.found_in(&self.joined);
            self.joined.clear();
        }
    }

    /// Whether any text pushed holds a value.
    pub fn found(mut self) -> bool {
        self.flush();
        self.found
    }
}

/// The base64 text that `value` always turns into, whatever bytes precede it: for each
/// of the three alignments, the characters that depend on `value`'s bytes alone.
fn base64_runs(value: &[u8]) -> Vec<Vec<u8>> {
    use base64::engine::general_purpose::STANDARD_NO_PAD;
    let mut runs = Vec::new();
    for lead in 0..3usize {
        let mut padded = vec![0u8; lead];
        padded.extend_from_slice(value);
        let encoded = STANDARD_NO_PAD.encode(&padded);
        // The first group mixes in the leading bytes; a last partial group depends on
        // what follows.
        let start = if lead == 0 { 0 } else { 4 };
        let end = (padded.len() / 3) * 4;
        if end >= start + MIN_FRAGMENT {
            let run = encoded.as_bytes()[start..end].to_vec();
            let url_safe: Vec<u8> = run
                .iter()
                .map(|&b| match b {
                    b'+' => b'-',
                    b'/' => b'_',
                    b => b,
                })
                .collect();
            runs.push(run);
            runs.push(url_safe);
        }
    }
    runs
}

/// `text` with JSON backslash escapes (`\u0041`, `\"`, `\/`), XML character
/// references and entities (`&#65;`, `&#x41;`, `&amp;`) and `%` escapes decoded, one
/// level deep. Bytes that are not a complete escape stay as they are.
fn decode_escapes(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while let Some(found) = memchr::memchr3(b'\\', b'&', b'%', &text[i..]) {
        let at = i + found;
        out.extend_from_slice(&text[i..at]);
        // An escape is read ignoring case (`&#X41;`, `%4a`), as the needles are
        // matched; none is longer than a surrogate pair (`\ud83d\ude00`, 12 bytes).
        let mut window = [0u8; 12];
        let n = (text.len() - at).min(window.len());
        window[..n].copy_from_slice(&text[at..at + n]);
        window[..n].make_ascii_lowercase();
        let rest = &window[..n];
        let decoded = match rest[0] {
            b'\\' => json_escape(rest),
            b'&' => xml_reference(rest),
            _ => rest
                .get(1..3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .map(|b| (vec![b.to_ascii_lowercase()], 3)),
        };
        match decoded {
            Some((bytes, used)) => {
                out.extend_from_slice(&bytes);
                i = at + used;
            }
            None => {
                out.push(text[at]);
                i = at + 1;
            }
        }
    }
    out.extend_from_slice(&text[i..]);
    out
}

/// `c` in UTF-8, lower-cased as the rest of the text is (ASCII letters only).
fn utf8_lower(c: char) -> Vec<u8> {
    let mut s = c.to_string();
    s.make_ascii_lowercase();
    s.into_bytes()
}

/// A JSON escape at the start of `text`: its characters and length.
fn json_escape(text: &[u8]) -> Option<(Vec<u8>, usize)> {
    let hex4 = |at: usize| {
        text.get(at..at + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
    };
    match *text.get(1)? {
        b'u' => {
            let unit = hex4(2)?;
            if (0xD800..0xDC00).contains(&unit)
                && text.get(6..8) == Some(b"\\u")
                && let Some(low) = hex4(8).filter(|l| (0xDC00..0xE000).contains(l))
            {
                let c = char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))?;
                return Some((utf8_lower(c), 12));
            }
            Some((utf8_lower(char::from_u32(unit)?), 6))
        }
        b'n' => Some((b"\n".to_vec(), 2)),
        b't' => Some((b"\t".to_vec(), 2)),
        b'r' => Some((b"\r".to_vec(), 2)),
        c @ (b'"' | b'\\' | b'/' | b'\'') => Some((vec![c], 2)),
        _ => None,
    }
}

/// An XML reference at the start of `text`: its characters and length.
fn xml_reference(text: &[u8]) -> Option<(Vec<u8>, usize)> {
    let end = text.iter().take(12).position(|&b| b == b';')?;
    let name = std::str::from_utf8(&text[1..end]).ok()?;
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let code = match name.strip_prefix("#x") {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => name.strip_prefix('#')?.parse().ok()?,
            };
            char::from_u32(code)?
        }
    };
    Some((utf8_lower(c), end + 1))
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

    /// Case is folded a chunk at a time: a value in any case across a chunk's edge,
    /// at every offset, is found, and the same text without it is not.
    #[test]
    fn a_value_across_a_folded_chunks_edge_is_found() {
        let secret = "Interface-Key-7f3a";
        let scanner = Secrets::new([("key".to_owned(), secret.to_owned())]).scanner();
        let filler = b"<Resident><Name>Ann Lee</Name></Resident>\n".repeat(4_000);
        assert!(filler.len() > 2 * FOLD_CHUNK);
        assert!(!scanner.found_in(&filler));
        for edge in [FOLD_CHUNK, 2 * FOLD_CHUNK] {
            for back in 0..=secret.len() {
                let mut text = filler.clone();
                let at = edge - back;
                text[at..at + secret.len()].copy_from_slice(secret.to_uppercase().as_bytes());
                assert!(scanner.found_in(&text), "{back} bytes before {edge}");
            }
        }
        // At the very end, and in a text shorter than a chunk.
        let mut tail = filler.clone();
        tail.extend_from_slice(secret.to_lowercase().as_bytes());
        assert!(scanner.found_in(&tail));
        assert!(scanner.found_in(format!("x{secret}y").as_bytes()));
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

    /// Regression: a server echoing the secret `\u`-escaped, upper-cased, base64'd
    /// or in halves handed it to the guest.
    #[test]
    fn every_common_encoding_of_a_secret_is_found() {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        let secret = "s3cr3t-Pa55word!";
        let scanner = Secrets::new([("password".to_owned(), secret.to_owned())]).scanner();
        let unicode: String = secret
            .chars()
            .map(|c| format!("\\u{:04X}", c as u32))
            .collect();
        let entities: String = secret.chars().map(|c| format!("&#{};", c as u32)).collect();
        let hex_entities: String = secret
            .chars()
            .map(|c| format!("&#X{:X};", c as u32))
            .collect();
        let percent: String = secret.bytes().map(|b| format!("%{b:02X}")).collect();
        let hex: String = secret.bytes().map(|b| format!("{b:02X}")).collect();
        let mut echoes = vec![
            format!("{{\"echo\":\"{unicode}\"}}"),
            format!("<echo>{entities}</echo>"),
            format!("<echo>{hex_entities}</echo>"),
            format!("q={percent}"),
            format!("hex={hex}"),
            secret.to_uppercase(),
            format!("first={}", &secret[..8]),
            format!("second={}", &secret[8..]),
            URL_SAFE_NO_PAD.encode(format!("u:{secret}")),
        ];
        for lead in ["", "a", "ab", "abc"] {
            echoes.push(STANDARD.encode(format!("{lead}{secret}")));
        }
        for echo in &echoes {
            assert!(scanner.found_in(echo.as_bytes()), "not found in {echo}");
        }
        let recorded = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/real/yardi/GetResidents.result.xml"
        ))
        .unwrap();
        assert!(
            !scanner.found_in(&recorded),
            "ordinary data holds none of its forms"
        );
        assert!(
            !scanner.found_in(b"s3cr3t"),
            "a piece shorter than a half is not a find"
        );
    }

    /// A batch finds what a search of each text finds, whatever the split: a secret
    /// whole in one text, escaped, at a batch boundary, or only across two texts
    /// (which is no find).
    #[test]
    fn a_batch_finds_what_each_text_finds() {
        let scanner = Secrets::new([("license".to_owned(), "LIC-9f3a77c2".to_owned())]).scanner();
        let filler = "x".repeat(BATCH_BYTES / 3);
        let cases: Vec<(Vec<&str>, bool)> = vec![
            (vec!["Ann", "", "Bo"], false),
            (vec!["Ann", "lic-9F3A77C2", "Bo"], true),
            (vec!["LIC-9f3a", "77c2"], false),
            (vec!["LIC-9f3a77c&#50;", "&amp"], true),
            (vec!["LIC-9f3a77c%3", "2"], false),
            (vec!["LIC-9f3a77c\\u003", "2"], false),
            (vec![&filler, &filler, "LIC-9f3a77c2", &filler], true),
            (vec![&filler, &filler, &filler, &filler], false),
        ];
        for (texts, expected) in cases {
            let each = texts.iter().any(|t| scanner.found_in(t.as_bytes()));
            assert_eq!(each, expected, "{texts:?}");
            let mut batch = scanner.batch();
            for t in &texts {
                batch.push(t.as_bytes());
            }
            assert_eq!(batch.found(), expected, "{texts:?}");
        }
    }

    /// A value holding every candidate separator is still found: the batch searches
    /// each text alone.
    #[test]
    fn a_batch_without_a_separator_searches_each_text() {
        let odd: String = (0u8..0x20).map(char::from).collect();
        let scanner = Secrets::new([("key".to_owned(), odd.clone())]).scanner();
        assert!(scanner.batch().separator.is_none());
        let mut batch = scanner.batch();
        batch.push(b"plain");
        batch.push(format!("x{odd}y").as_bytes());
        assert!(batch.found());
        assert!(!Secrets::default().scanner().batch().found());
    }

    #[test]
    fn debug_never_prints_values() {
        let printed = format!("{:?}", secrets());
        assert!(printed.contains("license") && !printed.contains("LIC-123"));
    }
}
