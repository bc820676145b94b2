//! A small element tree for vendor XML: names without namespace prefixes, text with
//! entities resolved, attributes by local name. Built on quick-xml; an unreadable
//! document is a [`crate::ConnectorError::Protocol`].

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::ConnectorError;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Local name (prefix dropped), as written: vendors differ in case.
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// The element's own text (CDATA included), concatenated, untrimmed.
    pub text: String,
}

impl Element {
    /// The first child with this local name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The first child whose name matches ignoring ASCII case.
    pub fn child_ci(&self, name: &str) -> Option<&Element> {
        self.children
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Every child with this local name.
    pub fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Follows a path of child names from this element.
    pub fn path(&self, names: &[&str]) -> Option<&Element> {
        names.iter().try_fold(self, |e, n| e.child(n))
    }

    /// The first element named `name` anywhere below (depth-first), or this one.
    pub fn find(&self, name: &str) -> Option<&Element> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }

    /// [`Element::child`], taking the child out of its parent: a page's result is
    /// kept without copying the tree around it.
    pub fn into_child(self, name: &str) -> Option<Element> {
        self.children.into_iter().find(|c| c.name == name)
    }

    /// [`Element::find`], taking the element out of the tree.
    pub fn into_find(self, name: &str) -> Option<Element> {
        if self.name == name {
            return Some(self);
        }
        self.children.into_iter().find_map(|c| c.into_find(name))
    }

    /// An attribute by local name.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The trimmed text of a child, `None` when the child is missing or blank.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name)
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
    }

    /// Like [`Element::child_text`], ignoring ASCII case in the name.
    pub fn child_text_ci(&self, name: &str) -> Option<&str> {
        self.child_ci(name)
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
    }

    /// This element's trimmed text, `None` when blank.
    pub fn trimmed(&self) -> Option<&str> {
        Some(self.text.trim()).filter(|t| !t.is_empty())
    }
}

fn local(name: &str) -> String {
    match name.rsplit_once(':') {
        Some((_, l)) => l.to_owned(),
        None => name.to_owned(),
    }
}

fn open(start: &BytesStart<'_>) -> Result<Element, ConnectorError> {
    let mut attributes = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| protocol(format!("bad attribute: {e}")))?;
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| protocol(format!("bad attribute value: {e}")))?;
        attributes.push((local(attr.key.as_ref()), value.into_owned()));
    }
    Ok(Element {
        name: local(start.name().as_ref()),
        attributes,
        children: Vec::new(),
        text: String::new(),
    })
}

fn protocol(message: String) -> ConnectorError {
    ConnectorError::Protocol(format!("unreadable XML: {message}"))
}

fn entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        _ => return None,
    })
}

/// Parses a whole document and returns its root element. Truncated or malformed
/// input, or a document without a root, is a protocol error.
pub fn parse(text: &str) -> Result<Element, ConnectorError> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| protocol(format!("at byte {}: {e}", reader.error_position())))?;
        match event {
            Event::Start(start) => stack.push(open(&start)?),
            Event::Empty(start) => {
                let element = open(&start)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None if root.is_none() => root = Some(element),
                    None => return Err(protocol("more than one root element".into())),
                }
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| protocol("closing tag without opening tag".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None if root.is_none() => root = Some(element),
                    None => return Err(protocol("more than one root element".into())),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&c);
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => entity(&r)
                        .ok_or_else(|| protocol(format!("unknown entity &{};", &*r)))?
                        .to_owned(),
                    Err(e) => return Err(protocol(format!("bad character reference: {e}"))),
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(protocol(format!(
            "document ends inside <{}> (truncated?)",
            stack.last().map(|e| e.name.as_str()).unwrap_or_default()
        )));
    }
    root.ok_or_else(|| protocol("no root element".into()))
}

/// Escapes text for an XML element or attribute.
pub fn escape(text: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_namespaced_documents_by_local_name() {
        let doc = r#"<?xml version="1.0"?>
            <s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">
              <s:Body><r:Resident r:tCode="t001" xmlns:r="urn:x">
                <FirstName>Ann &amp; Bo</FirstName><Email/><Note><![CDATA[a<b]]></Note>
                <Name>caf&#233;</Name>
              </r:Resident></s:Body></s:Envelope>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.name, "Envelope");
        let r = root.path(&["Body", "Resident"]).unwrap();
        assert_eq!(r.attr("tCode"), Some("t001"));
        assert_eq!(r.child_text("FirstName"), Some("Ann & Bo"));
        assert_eq!(r.child_text("Email"), None);
        assert_eq!(r.child_text("Note"), Some("a<b"));
        assert_eq!(r.child_text("Name"), Some("café"));
        assert!(root.find("Resident").is_some());
        let taken = root.clone().into_find("Resident").unwrap();
        assert_eq!(Some(&taken), root.find("Resident"));
        assert_eq!(root.clone().into_child("Body").as_ref(), root.child("Body"));
        assert!(root.clone().into_child("Resident").is_none());
        assert_eq!(r.child_text_ci("firstname"), Some("Ann & Bo"));
    }

    #[test]
    fn truncated_and_malformed_documents_are_protocol_errors() {
        for bad in [
            "<a><b>text</b>",
            "<a><b></a>",
            "",
            "just text",
            "<a>&bogus;</a>",
            "<a/><b/>",
        ] {
            assert!(
                matches!(parse(bad), Err(ConnectorError::Protocol(_))),
                "{bad:?} should not parse"
            );
        }
    }

    #[test]
    fn escape_round_trips_through_parse() {
        let text = r#"O'Brien & <Sons> "Ltd""#;
        let root = parse(&format!("<x a=\"{0}\">{0}</x>", escape(text))).unwrap();
        assert_eq!(root.text, text);
        assert_eq!(root.attr("a"), Some(text));
    }
}
