//! Lenient readers for vendor JSON: ids that are sometimes numbers, blanks that mean
//! missing, and lists that collapse to a lone object when they hold one item.

pub use serde_json::{Map, Value, json};

use crate::ConnectorError;

/// Parses a JSON document; unreadable or truncated JSON is a protocol error.
pub fn parse(text: &str) -> Result<Value, ConnectorError> {
    serde_json::from_str(text)
        .map_err(|e| ConnectorError::Protocol(format!("unreadable JSON: {e}")))
}

/// A field as text: strings trimmed (blank → `None`), numbers and booleans printed.
pub fn text(value: &Value, key: &str) -> Option<String> {
    as_text(value.get(key)?)
}

/// A value as text, as [`text`] reads a field: ids and codes that are sometimes
/// numbers (`108`) and sometimes strings (`"200"`).
pub fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A field a record cannot do without (its id): missing or blank is a protocol error.
pub fn required(value: &Value, key: &str) -> Result<String, ConnectorError> {
    text(value, key).ok_or_else(|| ConnectorError::Protocol(format!("record without {key}")))
}

/// Follows a path of object keys.
pub fn path<'a>(value: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().try_fold(value, |v, k| v.get(k))
}

/// A list that some vendors send as a lone object when it has one item (and as
/// nothing at all when it has none).
pub fn list(value: Option<&Value>) -> Vec<&Value> {
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
        let v = json!({"id": 42, "name": "  Ann ", "blank": " ", "flag": true, "obj": {}});
        assert_eq!(text(&v, "id").as_deref(), Some("42"));
        assert_eq!(text(&v, "name").as_deref(), Some("Ann"));
        assert_eq!(text(&v, "blank"), None);
        assert_eq!(text(&v, "flag").as_deref(), Some("true"));
        assert_eq!(text(&v, "obj"), None);
        assert_eq!(text(&v, "missing"), None);
    }

    #[test]
    fn lists_tolerate_lone_objects_and_absence() {
        let v = json!({"one": {"a": 1}, "many": [1, 2], "none": null});
        assert_eq!(list(v.get("one")).len(), 1);
        assert_eq!(list(v.get("many")).len(), 2);
        assert_eq!(list(v.get("none")).len(), 0);
        assert_eq!(list(v.get("absent")).len(), 0);
        assert_eq!(path(&v, &["one", "a"]), Some(&json!(1)));
    }

    #[test]
    fn truncated_json_is_a_protocol_error() {
        assert!(matches!(
            parse(r#"{"a": [1, 2"#),
            Err(ConnectorError::Protocol(_))
        ));
    }
}
