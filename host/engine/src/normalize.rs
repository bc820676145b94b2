//! How emails and names are compared.
//!
//! Emails: trimmed, ASCII and Unicode lower-cased. Names: Unicode-normalised (NFKD),
//! **diacritics folded** (combining marks dropped), case-folded, typographic
//! apostrophes made plain, whitespace collapsed; first and last name joined. So
//! "José  Núñez" equals "jose nunez".
//!
//! Why fold diacritics: many PMS feeds are ASCII-only while residents type their
//! names with accents in the app; not folding would raise a Name Mismatch for every
//! such resident. The cost, two different people whose names differ only in accents,
//! is bounded: matching also needs the same email, or the same unit.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The form emails are compared (and kept unique) in. `None` when blank.
pub fn email(raw: &str) -> Option<String> {
    let t = raw.trim();
    (!t.is_empty()).then(|| t.to_lowercase())
}

/// Whether a (normalised) email is usable: one `@`, a local part, a dotted domain,
/// no whitespace.
pub fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
}

/// The form names are compared in (see the module documentation).
pub fn name(first: &str, last: &str) -> String {
    // Most names are plain ASCII: no decomposition needed.
    if first.is_ascii() && last.is_ascii() && !first.contains('`') && !last.contains('`') {
        let mut out = String::with_capacity(first.len() + last.len() + 1);
        for word in first
            .split_ascii_whitespace()
            .chain(last.split_ascii_whitespace())
        {
            if !out.is_empty() {
                out.push(' ');
            }
            out.extend(word.chars().map(|c| c.to_ascii_lowercase()));
        }
        return out;
    }
    let joined = format!("{first} {last}");
    let folded: String = joined
        .nfkd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| match c {
            '\u{2019}' | '\u{2018}' | '\u{02BC}' | '`' => '\'',
            c => c,
        })
        .collect::<String>()
        .to_lowercase();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_compare_trimmed_and_case_insensitively() {
        assert_eq!(
            email("  Ann.Lee@Example.COM "),
            Some("ann.lee@example.com".into())
        );
        assert_eq!(email("   "), None);
        assert!(is_valid_email("ann@example.com"));
        for bad in [
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "a@@b.com",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn names_fold_case_diacritics_and_whitespace() {
        assert_eq!(name("José ", " Núñez"), "jose nunez");
        assert_eq!(name("José", "Núñez"), name("jose", "nunez"));
        assert_eq!(name("ZOË", "O\u{2019}Brien"), name("zoe", "o'brien"));
        assert_eq!(
            name("Mary-Kate", "van  der   Berg"),
            "mary-kate van der berg"
        );
        assert_ne!(name("Ann", "Lee"), name("Anne", "Lee"));
        assert_ne!(name("Mary-Kate", "Smith"), name("Mary Kate", "Smith"));
    }
}
