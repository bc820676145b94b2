//! One bad field never sinks a record: field readers that return an empty value and
//! note a [`RecordWarning`] instead of failing.

use crate::{RecordWarning, dates};

/// The warnings of one record being built.
#[derive(Debug, Clone, Default)]
pub struct Warnings(Vec<RecordWarning>);

impl Warnings {
    pub fn new() -> Self {
        Warnings::default()
    }

    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(RecordWarning {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    /// A vendor date as ISO-8601; unreadable → `None` and a warning.
    pub fn date(&mut self, field: &str, raw: Option<&str>) -> Option<String> {
        match dates::parse(raw?) {
            Ok(d) => d,
            Err(e) => {
                self.push(field, e.to_string());
                None
            }
        }
    }

    /// An email as the PMS has it, trimmed. Where the field holds a list (`;` or `,`
    /// separated, as AppFolio sends), the first valid address. Blank → `None`;
    /// present but invalid → `None` and a warning.
    pub fn email(&mut self, field: &str, raw: Option<&str>) -> Option<String> {
        let raw = raw?.trim();
        if raw.is_empty() {
            return None;
        }
        let mut candidates = raw
            .split([';', ','])
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .peekable();
        candidates.peek()?;
        match candidates.find(|c| is_plausible_email(c)) {
            Some(email) => Some(email.to_owned()),
            None => {
                self.push(field, format!("not an email address: {raw:?}"));
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<RecordWarning> {
        self.0
    }
}

/// One `@`, something before it, a dotted domain after it, no spaces.
pub fn is_plausible_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !s.chars().any(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_fields_become_warnings_not_failures() {
        let mut w = Warnings::new();
        assert_eq!(w.date("start-date", Some("02/30/2024")), None);
        assert_eq!(w.date("end-date", Some("")), None);
        assert_eq!(w.date("end-date", None), None);
        assert_eq!(
            w.date("move-in-date", Some("03/01/2024")).as_deref(),
            Some("2024-03-01")
        );
        assert_eq!(w.email("email", Some("not-an-email")), None);
        let warnings = w.into_vec();
        assert_eq!(warnings.len(), 2);
        assert_eq!(warnings[0].field, "start-date");
        assert_eq!(warnings[1].field, "email");
    }

    #[test]
    fn email_lists_and_padding_are_tolerated() {
        let mut w = Warnings::new();
        assert_eq!(
            w.email("email", Some("  Ann@Example.COM ")).as_deref(),
            Some("Ann@Example.COM")
        );
        assert_eq!(
            w.email("email", Some("bad; ann@example.com;bo@example.com"))
                .as_deref(),
            Some("ann@example.com")
        );
        assert_eq!(w.email("email", Some(" ; ")), None);
        assert!(w.is_empty());
    }

    #[test]
    fn plausible_emails() {
        for ok in ["a@b.co", "first.last+tag@mail.example.org"] {
            assert!(is_plausible_email(ok), "{ok}");
        }
        for bad in [
            "", "a@", "@b.co", "a@b", "a b@c.co", "a@@b.co", "a@.co", "a@b.co.",
        ] {
            assert!(!is_plausible_email(bad), "{bad}");
        }
    }
}
