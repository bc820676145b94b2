//! What the SOAP vendors share: reading the leaf values of a request envelope,
//! escaping text, wrapping answers.

use std::collections::HashMap;
use std::fmt::{self, Write as _};

use quick_xml::Reader;
use quick_xml::events::Event;

/// The text of every leaf element of a SOAP request, by local name (first wins).
/// `None` when the body is not well-formed XML.
pub fn leaves(xml: &str) -> Option<HashMap<String, String>> {
    let mut reader = Reader::from_str(xml);
    let mut out = HashMap::new();
    let mut current: Option<String> = None;
    let mut text = String::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                let name: String = e.local_name().as_ref().to_owned();
                current = Some(name);
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => text.push_str(match &*r {
                "amp" => "&",
                "lt" => "<",
                "gt" => ">",
                "quot" => "\"",
                "apos" => "'",
                _ => "",
            }),
            Event::End(_) => {
                if let Some(name) = current.take() {
                    out.entry(name).or_insert_with(|| text.trim().to_owned());
                }
                text.clear();
            }
            Event::Empty(e) => {
                let name: String = e.local_name().as_ref().to_owned();
                out.entry(name).or_insert_with(String::new);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Some(out)
}

/// Appends `text` with the five XML special characters escaped.
pub fn push_escaped(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
        out.push_str(&rest[..i]);
        out.push_str(match rest.as_bytes()[i] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&apos;",
        });
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
}

pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_escaped(&mut out, text);
    out
}

/// A `fmt::Write` that escapes what it is given into an XML document.
struct Escaping<'a>(&'a mut String);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        push_escaped(self.0, text);
        Ok(())
    }
}

/// Appends `<name>escaped value</name>`, or `<name/>` when the value is empty. The
/// value is written straight into the answer: a large answer makes no string a field.
pub fn el(out: &mut String, name: &str, value: impl fmt::Display) {
    let open = out.len();
    out.push('<');
    out.push_str(name);
    out.push('>');
    let start = out.len();
    write!(Escaping(out), "{value}").expect("the simulator's values write without error");
    if out.len() == start {
        out.truncate(open);
        out.push('<');
        out.push_str(name);
        out.push_str("/>");
    } else {
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    }
}

pub fn envelope(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><soap:Body>{body}</soap:Body></soap:Envelope>"
    )
}

pub fn fault(code: &str, message: &str) -> String {
    envelope(&format!(
        "<soap:Fault><faultcode>{code}</faultcode><faultstring>{}</faultstring></soap:Fault>",
        esc(message)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_are_read_by_local_name() {
        let l = leaves(r#"<s:Envelope xmlns:s="x"><s:Body><tem:op><tem:auth><tem:pmcid>1</tem:pmcid><tem:siteid/><tem:licensekey>a&amp;b</tem:licensekey></tem:auth></tem:op></s:Body></s:Envelope>"#).unwrap();
        assert_eq!(l["pmcid"], "1");
        assert_eq!(l["siteid"], "");
        assert_eq!(l["licensekey"], "a&b");
        assert!(leaves("<a><b></a>").is_none());
    }

    #[test]
    fn an_element_is_escaped_and_an_empty_one_closes_itself() {
        let mut out = String::new();
        el(&mut out, "a", "x<&>\"'y");
        el(&mut out, "b", "");
        el(&mut out, "c", 17);
        assert_eq!(out, "<a>x&lt;&amp;&gt;&quot;&apos;y</a><b/><c>17</c>");
    }
}
