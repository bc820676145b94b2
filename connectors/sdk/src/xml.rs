//! A small element tree for vendor XML: names without namespace prefixes, text with
//! entities resolved, attributes by local name. Built on quick-xml; an unreadable
//! document is a [`crate::ConnectorError::Protocol`].
//!
//! The tree borrows from the document: names, and text without entities, are slices
//! of it (a page of thousands of records would otherwise be a heap allocation per
//! name and per value).

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::ConnectorError;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element<'a> {
    /// Local name (prefix dropped), as written: vendors differ in case.
    pub name: Cow<'a, str>,
    pub attributes: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    pub children: Vec<Element<'a>>,
    /// The element's own text (CDATA included), concatenated, untrimmed.
    pub text: Cow<'a, str>,
}

impl<'a> Element<'a> {
    /// The first child with this local name.
    pub fn child(&self, name: &str) -> Option<&Element<'a>> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The first child whose name matches ignoring ASCII case.
    pub fn child_ci(&self, name: &str) -> Option<&Element<'a>> {
        self.children
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Every child with this local name.
    pub fn children<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Element<'a>> + 's {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Every `item` child of the first `container` found below (see [`Element::find`]):
    /// a vendor's list, empty when the answer has no such container.
    pub fn list<'s>(
        &'s self,
        container: &str,
        item: &'s str,
    ) -> impl Iterator<Item = &'s Element<'a>> + 's {
        self.find(container)
            .into_iter()
            .flat_map(move |c| c.children(item))
    }

    /// Follows a path of child names from this element.
    pub fn path(&self, names: &[&str]) -> Option<&Element<'a>> {
        names.iter().try_fold(self, |e, n| e.child(n))
    }

    /// The first element named `name` anywhere below (depth-first), or this one.
    pub fn find(&self, name: &str) -> Option<&Element<'a>> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }

    /// [`Element::child`], taking the child out of its parent: a page's result is
    /// kept without copying the tree around it.
    pub fn into_child(self, name: &str) -> Option<Element<'a>> {
        self.children.into_iter().find(|c| c.name == name)
    }

    /// [`Element::find`], taking the element out of the tree.
    pub fn into_find(self, name: &str) -> Option<Element<'a>> {
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
            .map(|(_, v)| v.as_ref())
    }

    /// The trimmed text of a child, `None` when the child is missing or blank.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).and_then(Element::trimmed)
    }

    /// Like [`Element::child_text`], ignoring ASCII case in the name.
    pub fn child_text_ci(&self, name: &str) -> Option<&str> {
        self.child_ci(name).and_then(Element::trimmed)
    }

    /// This element's trimmed text, `None` when blank.
    pub fn trimmed(&self) -> Option<&str> {
        Some(self.text.trim()).filter(|t| !t.is_empty())
    }
}

fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

/// `part` as a slice of `input` when it is one, else a copy. quick-xml hands names
/// and attribute values out borrowed from the event, not from the document, although
/// with a `&str` reader they point into the document.
fn anchored<'a>(input: &'a str, part: &str) -> Cow<'a, str> {
    let start = (part.as_ptr() as usize).wrapping_sub(input.as_ptr() as usize);
    match start
        .checked_add(part.len())
        .and_then(|end| input.get(start..end))
    {
        Some(s) if std::ptr::eq(s.as_ptr(), part.as_ptr()) => Cow::Borrowed(s),
        _ => Cow::Owned(part.to_owned()),
    }
}

fn open<'a>(input: &'a str, start: &BytesStart<'_>) -> Result<Element<'a>, ConnectorError> {
    let mut attributes = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| protocol(format!("bad attribute: {e}")))?;
        let key: &str = attr.key.as_ref();
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| protocol(format!("bad attribute value: {e}")))?;
        let value = match value {
            Cow::Borrowed(v) => anchored(input, v),
            Cow::Owned(v) => Cow::Owned(v),
        };
        attributes.push((anchored(input, local(key)), value));
    }
    // The event's content is the tag between `<` and `>`: the name comes first.
    let content: &str = start;
    let name = &content[..start.name().as_ref().len()];
    Ok(Element {
        name: anchored(input, local(name)),
        attributes,
        children: Vec::new(),
        text: Cow::Borrowed(""),
    })
}

/// Appends a piece of an element's text: the first piece is kept as it is (a slice
/// of the document, usually the only piece), later ones make the text a copy.
fn append<'a>(text: &mut Cow<'a, str>, piece: Cow<'a, str>) {
    if text.is_empty() {
        *text = piece;
    } else {
        text.to_mut().push_str(&piece);
    }
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
///
/// Finished elements wait in one list until their parent closes; the parent then
/// takes them in one allocation of the right size. (Pushing each child into its
/// parent's own list instead would grow every list by doubling: several allocations
/// and copies per element with children, and up to twice the memory it needs.)
pub fn parse(text: &str) -> Result<Element<'_>, ConnectorError> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    // Open elements, each with where its children start in `finished`.
    let mut open_elements: Vec<(Element<'_>, usize)> = Vec::new();
    let mut finished: Vec<Element<'_>> = Vec::new();
    let mut root: Option<Element<'_>> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| protocol(format!("at byte {}: {e}", reader.error_position())))?;
        let done = match event {
            Event::Start(start) => {
                open_elements.push((open(text, &start)?, finished.len()));
                continue;
            }
            Event::Empty(start) => open(text, &start)?,
            Event::End(_) => {
                let (mut element, first_child) = open_elements
                    .pop()
                    .ok_or_else(|| protocol("closing tag without opening tag".into()))?;
                element.children = finished.drain(first_child..).collect();
                element
            }
            Event::Text(t) => {
                if let Some((top, _)) = open_elements.last_mut() {
                    append(&mut top.text, t.xml10_content());
                }
                continue;
            }
            Event::CData(c) => {
                if let Some((top, _)) = open_elements.last_mut() {
                    append(&mut top.text, c.into_inner());
                }
                continue;
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Cow::Owned(c.to_string()),
                    Ok(None) => Cow::Borrowed(
                        entity(&r).ok_or_else(|| protocol(format!("unknown entity &{};", &*r)))?,
                    ),
                    Err(e) => return Err(protocol(format!("bad character reference: {e}"))),
                };
                if let Some((top, _)) = open_elements.last_mut() {
                    append(&mut top.text, resolved);
                }
                continue;
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => continue,
        };
        if !open_elements.is_empty() {
            finished.push(done);
        } else if root.is_none() {
            root = Some(done);
        } else {
            return Err(protocol("more than one root element".into()));
        }
    }
    if let Some((open, _)) = open_elements.last() {
        return Err(protocol(format!(
            "document ends inside <{}> (truncated?)",
            open.name
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
        assert_eq!(root.list("Body", "Resident").count(), 1);
        assert_eq!(root.list("Body", "Nobody").count(), 0);
        assert_eq!(root.list("Missing", "Resident").count(), 0);
        let taken = root.clone().into_find("Resident").unwrap();
        assert_eq!(Some(&taken), root.find("Resident"));
        assert_eq!(root.clone().into_child("Body").as_ref(), root.child("Body"));
        assert!(root.clone().into_child("Resident").is_none());
        assert_eq!(r.child_text_ci("firstname"), Some("Ann & Bo"));
    }

    /// Names and plain text are slices of the document, not copies; text with an
    /// entity is a copy, resolved.
    #[test]
    fn names_and_plain_text_borrow_from_the_document() {
        let doc =
            "<r:Root xmlns:r=\"urn:x\" r:id=\"7\"><Name>Ann</Name><Co>A &amp; B</Co></r:Root>";
        let root = parse(doc).unwrap();
        let borrowed = |c: &Cow<'_, str>| matches!(c, Cow::Borrowed(_));
        assert!(borrowed(&root.name) && root.name == "Root");
        assert!(borrowed(&root.attributes[0].0) && borrowed(&root.attributes[0].1));
        let name = root.child("Name").unwrap();
        assert!(borrowed(&name.name) && borrowed(&name.text) && name.text == "Ann");
        let co = root.child("Co").unwrap();
        assert!(!borrowed(&co.text) && co.text == "A & B");
        assert_eq!(anchored(doc, "elsewhere"), "elsewhere");
        assert!(!borrowed(&anchored(doc, &String::from("Root"))));
    }

    /// Children keep their document order at every depth, each under its own parent.
    #[test]
    fn children_stay_in_order_under_their_parents() {
        let root = parse("<a><b><c/><d>x<i/>y</d></b><e/><b><c>2</c></b>t</a>").unwrap();
        let names = |e: &Element| {
            e.children
                .iter()
                .map(|c| c.name.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&root), ["b", "e", "b"]);
        assert_eq!(names(&root.children[0]), ["c", "d"]);
        assert_eq!(names(&root.children[0].children[1]), ["i"]);
        assert_eq!(root.children[0].children[1].text, "xy");
        assert!(root.children[1].children.is_empty());
        assert_eq!(root.children[2].child_text("c"), Some("2"));
        assert_eq!(root.text, "t");
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
        let doc = format!("<x a=\"{0}\">{0}</x>", escape(text));
        let root = parse(&doc).unwrap();
        assert_eq!(root.text, text);
        assert_eq!(root.attr("a"), Some(text));
    }
}
