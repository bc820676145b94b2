//! What the SOAP vendors share: reading the leaf values of a request envelope,
//! escaping text, wrapping answers.

use std::collections::HashMap;

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

pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

/// `<name>escaped</name>`, or `<name/>` when empty.
pub fn el(name: &str, value: &str) -> String {
    if value.is_empty() {
        format!("<{name}/>")
    } else {
        format!("<{name}>{}</{name}>", esc(value))
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
}
