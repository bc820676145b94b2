//! Lenient readers for vendor JSON: ids that are sometimes numbers, blanks that mean
//! missing, and lists that collapse to a lone object when they hold one item.
//!
//! A parsed answer borrows from its text: a string without escapes is a slice of the
//! text, and an object is its members in document order, not a map. A page of
//! thousands of records is then a few allocations per record instead of one per key
//! and per value, which in a guest costs as much as the parse itself. A repeated key
//! reads as its last value, as `serde_json`'s map keeps it. [`Document`] keeps an
//! answer and its text together, for a page that outlives the call that read it.
//!
//! What a connector sends is built with [`json!`] as an [`Outgoing`] value.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
pub use serde_json::{Number, json};

use crate::ConnectorError;

/// A JSON value a connector builds to send (a request body, with [`json!`]).
pub type Outgoing = serde_json::Value;

/// A parsed JSON value, borrowing its strings from the text it was read from.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value<'a> {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Value<'a>>),
    Object(Object<'a>),
}

/// A JSON object's members in document order.
#[derive(Debug, Clone, Default)]
pub struct Object<'a> {
    members: Vec<(Cow<'a, str>, Value<'a>)>,
}

/// Equal when each key reads the same value in both, whatever the order.
impl PartialEq for Object<'_> {
    fn eq(&self, other: &Self) -> bool {
        let same = |a: &Self, b: &Self| a.iter().all(|(k, _)| a.get(k) == b.get(k));
        same(self, other) && same(other, self)
    }
}

impl<'a> Object<'a> {
    /// The value of `key`: the last one when the key repeats.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.members
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// [`Object::get`], to change the value in place.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value<'a>> {
        self.members
            .iter_mut()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Sets `key`, replacing its value when it is there.
    pub fn insert(&mut self, key: impl Into<Cow<'a, str>>, value: Value<'a>) {
        let key = key.into();
        match self.get_mut(&key) {
            Some(slot) => *slot = value,
            None => self.members.push((key, value)),
        }
    }

    /// The members in document order (a repeated key appears each time).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value<'a>)> {
        self.members.iter().map(|(k, v)| (k.as_ref(), v))
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

impl<'a> Value<'a> {
    /// A member of an object; `None` for a missing key or a value that is no object.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.as_object()?.get(key)
    }

    /// [`Value::get`], to change the member in place.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value<'a>> {
        match self {
            Value::Object(o) => o.get_mut(key),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Value<'a>>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value<'a>>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Object<'a>> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The value with every string copied: kept without the text it was read from.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Number(n) => Value::Number(n),
            Value::String(s) => Value::String(Cow::Owned(s.into_owned())),
            Value::Array(items) => Value::Array(items.into_iter().map(Value::into_owned).collect()),
            Value::Object(o) => Value::Object(Object {
                members: o
                    .members
                    .into_iter()
                    .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                    .collect(),
            }),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Value::String(_))
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }

    pub fn is_array(&self) -> bool {
        matches!(self, Value::Array(_))
    }
}

/// A value built with [`json!`], as a parsed one: for tests, and for answers made up
/// by a connector.
impl From<Outgoing> for Value<'static> {
    fn from(value: Outgoing) -> Self {
        match value {
            Outgoing::Null => Value::Null,
            Outgoing::Bool(b) => Value::Bool(b),
            Outgoing::Number(n) => Value::Number(n),
            Outgoing::String(s) => Value::String(Cow::Owned(s)),
            Outgoing::Array(items) => Value::Array(items.into_iter().map(Value::from).collect()),
            Outgoing::Object(map) => Value::Object(Object {
                members: map
                    .into_iter()
                    .map(|(k, v)| (Cow::Owned(k), Value::from(v)))
                    .collect(),
            }),
        }
    }
}

/// Printed as compact JSON (error messages quote the values they refuse).
impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl Serialize for Value<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => n.serialize(s),
            Value::String(text) => s.serialize_str(text),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Object(o) => {
                let mut map = s.serialize_map(Some(o.len()))?;
                for (k, v) in o.iter() {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value<'de>, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value<'de>, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value<'de>, E> {
        Ok(Value::Bool(b))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value<'de>, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value<'de>, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Value<'de>, E> {
        // JSON has no NaN or infinity; serde_json reads an overlong number as one.
        Ok(Number::from_f64(n).map_or(Value::Null, Value::Number))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value<'de>, A::Error> {
        let mut members = Vec::new();
        // A JSON object's keys are strings: read as values, they come out as strings.
        while let Some(key) = map.next_key::<Value<'de>>()? {
            let Value::String(key) = key else {
                return Err(serde::de::Error::custom(
                    "an object key that is not a string",
                ));
            };
            members.push((key, map.next_value()?));
        }
        Ok(Value::Object(Object { members }))
    }
}

/// Parses a JSON document; unreadable or truncated JSON is a protocol error. (Nesting
/// deeper than serde_json's limit of 128 is refused too: a hostile answer cannot
/// exhaust the guest's stack.)
pub fn parse(text: &str) -> Result<Value<'_>, ConnectorError> {
    serde_json::from_str(text)
        .map_err(|e| ConnectorError::Protocol(format!("unreadable JSON: {e}")))
}

self_cell::self_cell!(
    /// A parsed answer that owns its text: a page kept for later calls of the session,
    /// or gathered with the other pages of a list.
    pub struct Document {
        owner: String,
        #[covariant]
        dependent: Value,
    }
    impl {Debug}
);

impl Document {
    /// Parses `text` (see [`parse`]) and keeps it.
    pub fn parse(text: String) -> Result<Document, ConnectorError> {
        Document::try_new(text, |t| parse(t))
    }

    /// The document's root value.
    pub fn root(&self) -> &Value<'_> {
        self.borrow_dependent()
    }
}

/// A field as text: strings trimmed (blank → `None`), numbers and booleans printed.
pub fn text(value: &Value, key: &str) -> Option<String> {
    as_text(value.get(key)?)
}

/// [`text`] without a copy when the field is a string: for a field that is compared,
/// or read into something else (a date, an email), never kept as it is.
pub fn text_ref<'v>(value: &'v Value, key: &str) -> Option<Cow<'v, str>> {
    as_text_ref(value.get(key)?)
}

/// A value as text, as [`text`] reads a field: ids and codes that are sometimes
/// numbers (`108`) and sometimes strings (`"200"`).
pub fn as_text(value: &Value) -> Option<String> {
    as_text_ref(value).map(Cow::into_owned)
}

/// [`as_text`], borrowing a string.
pub fn as_text_ref<'v>(value: &'v Value) -> Option<Cow<'v, str>> {
    match value {
        Value::String(s) => Some(s.trim()).filter(|s| !s.is_empty()).map(Cow::Borrowed),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Owned(b.to_string())),
        _ => None,
    }
}

/// A field a record cannot do without (its id): missing or blank is a protocol error.
pub fn required(value: &Value, key: &str) -> Result<String, ConnectorError> {
    text(value, key).ok_or_else(|| ConnectorError::Protocol(format!("record without {key}")))
}

/// Follows a path of object keys.
pub fn path<'v, 'a>(value: &'v Value<'a>, keys: &[&str]) -> Option<&'v Value<'a>> {
    keys.iter().try_fold(value, |v, k| v.get(k))
}

/// A list that some vendors send as a lone object when it has one item (and as
/// nothing at all when it has none).
pub fn list<'v, 'a>(value: Option<&'v Value<'a>>) -> Vec<&'v Value<'a>> {
    match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_reads_strings_numbers_and_blanks() {
        let v =
            Value::from(json!({"id": 42, "name": "  Ann ", "blank": " ", "flag": true, "obj": {}}));
        assert_eq!(text(&v, "id").as_deref(), Some("42"));
        assert_eq!(text(&v, "name").as_deref(), Some("Ann"));
        assert_eq!(text(&v, "blank"), None);
        assert_eq!(text(&v, "flag").as_deref(), Some("true"));
        assert_eq!(text(&v, "obj"), None);
        assert_eq!(text(&v, "missing"), None);
        for key in ["id", "name", "blank", "flag", "obj", "missing"] {
            assert_eq!(
                text_ref(&v, key).map(Cow::into_owned),
                text(&v, key),
                "{key}"
            );
        }
        assert!(matches!(text_ref(&v, "name"), Some(Cow::Borrowed("Ann"))));
    }

    #[test]
    fn lists_tolerate_lone_objects_and_absence() {
        let v = Value::from(json!({"one": {"a": 1}, "many": [1, 2], "none": null}));
        assert_eq!(list(v.get("one")).len(), 1);
        assert_eq!(list(v.get("many")).len(), 2);
        assert_eq!(list(v.get("none")).len(), 0);
        assert_eq!(list(v.get("absent")).len(), 0);
        assert_eq!(path(&v, &["one", "a"]), Some(&Value::from(json!(1))));
    }

    #[test]
    fn truncated_json_is_a_protocol_error() {
        for bad in [r#"{"a": [1, 2"#, "", "{\"a\" 1}", "[1,]", "nul"] {
            assert!(
                matches!(parse(bad), Err(ConnectorError::Protocol(_))),
                "{bad:?} should not parse"
            );
        }
        assert!(matches!(
            Document::parse("[".into()),
            Err(ConnectorError::Protocol(_))
        ));
    }

    /// Strings and keys without escapes are slices of the text; with one, a copy.
    #[test]
    fn plain_strings_borrow_from_the_text() {
        let doc = r#"{"name": "Ann", "co\u0041": "A \"B\""}"#;
        let v = parse(doc).unwrap();
        let Value::Object(o) = &v else {
            panic!("{v:?}")
        };
        let borrowed = |c: &Cow<'_, str>| matches!(c, Cow::Borrowed(_));
        let (name_key, name) = &o.members[0];
        assert!(borrowed(name_key) && matches!(name, Value::String(s) if borrowed(s)));
        let (co_key, co) = &o.members[1];
        assert!(!borrowed(co_key) && co_key == "coA");
        assert_eq!(co.as_str(), Some("A \"B\""));
        assert!(matches!(co, Value::String(s) if !borrowed(s)));
    }

    /// The parsed value reads as serde_json's own `Value` does, on every kind of value.
    #[test]
    fn values_read_as_serde_json_reads_them() {
        let doc = r#"{"s": "x", "n": -3, "u": 18446744073709551615, "f": 1.5, "b": false,
            "z": null, "a": [1, "two", [], {}], "o": {"k": {"deep": [null]}}}"#;
        let ours = parse(doc).unwrap();
        let theirs: Outgoing = serde_json::from_str(doc).unwrap();
        assert_eq!(ours, Value::from(theirs.clone()));
        assert_eq!(ours.get("n").and_then(Value::as_i64), Some(-3));
        assert_eq!(ours.get("u").and_then(Value::as_u64), Some(u64::MAX));
        assert_eq!(ours.get("f").and_then(Value::as_f64), Some(1.5));
        assert_eq!(text(&ours, "f").as_deref(), Some("1.5"));
        assert_eq!(
            serde_json::from_str::<Outgoing>(&ours.to_string()).unwrap(),
            theirs
        );
    }

    /// A repeated key reads as its last value, as serde_json keeps it.
    #[test]
    fn a_repeated_key_reads_as_its_last_value() {
        let doc = r#"{"id": 1, "id": 2}"#;
        let ours = parse(doc).unwrap();
        let theirs: Outgoing = serde_json::from_str(doc).unwrap();
        assert_eq!(ours.get("id"), Some(&Value::from(theirs["id"].clone())));
        let mut ours = ours;
        let Value::Object(o) = &mut ours else {
            panic!()
        };
        o.insert("id", Value::Bool(true));
        o.insert("new", Value::Null);
        assert_eq!(ours.get("id"), Some(&Value::Bool(true)));
        assert_eq!(ours.as_object().map(Object::len), Some(3));
    }

    #[test]
    fn nesting_beyond_the_limit_is_refused_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert!(matches!(parse(&deep), Err(ConnectorError::Protocol(_))));
        let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn a_document_keeps_its_text_and_value_together() {
        let doc = Document::parse(r#"{"value": [{"id": "7"}]}"#.to_owned()).unwrap();
        let rows = list(doc.root().get("value"));
        assert_eq!(rows.len(), 1);
        assert_eq!(text(rows[0], "id").as_deref(), Some("7"));
        let kept = parse(&String::from(r#"{"a": ["b"]}"#))
            .unwrap()
            .into_owned();
        assert_eq!(kept, Value::from(json!({"a": ["b"]})));
    }
}
