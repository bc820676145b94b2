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
use unicode_normalization::char::{canonical_combining_class, is_combining_mark};

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
        && !has_whitespace(email)
}

/// `char::is_whitespace` anywhere in `s`; byte by byte for the usual ASCII text.
fn has_whitespace(s: &str) -> bool {
    if s.is_ascii() {
        // The ASCII characters `char::is_whitespace` takes (vertical tab included).
        s.bytes()
            .any(|b| matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' '))
    } else {
        s.chars().any(char::is_whitespace)
    }
}

/// Whether `raw`'s normalised form is `normalised` (an [`email`] result), without
/// allocating for the usual ASCII address.
pub fn email_is(raw: Option<&str>, normalised: Option<&str>) -> bool {
    let raw = raw.map(str::trim).filter(|t| !t.is_empty());
    match (raw, normalised) {
        (None, None) => true,
        (Some(r), Some(n)) if r.is_ascii() => {
            r.eq_ignore_ascii_case(n) && !n.bytes().any(|b| b.is_ascii_uppercase())
        }
        (Some(r), Some(n)) => r.to_lowercase() == n,
        _ => false,
    }
}

/// Whether a name in plain ASCII needs none of the Unicode folding: no backtick (an
/// apostrophe) and no vertical tab (whitespace to `char::is_whitespace`, not to
/// `split_ascii_whitespace`).
fn plain_ascii(s: &str) -> bool {
    s.is_ascii() && !s.bytes().any(|b| b == b'`' || b == 0x0B)
}

/// Whether `name(first, last) == normalised`, without allocating for the usual
/// plain ASCII name.
pub fn name_is(first: &str, last: &str, normalised: &str) -> bool {
    if !(plain_ascii(first) && plain_ascii(last)) {
        return name(first, last) == normalised;
    }
    let mut rest = normalised.as_bytes();
    let mut started = false;
    for word in first
        .split_ascii_whitespace()
        .chain(last.split_ascii_whitespace())
    {
        if started {
            match rest.split_first() {
                Some((b' ', tail)) => rest = tail,
                _ => return false,
            }
        }
        started = true;
        let Some((head, tail)) = rest.split_at_checked(word.len()) else {
            return false;
        };
        if !head
            .iter()
            .zip(word.bytes())
            .all(|(n, w)| *n == w.to_ascii_lowercase())
        {
            return false;
        }
        rest = tail;
    }
    rest.is_empty()
}

/// The form names are compared in (see the module documentation).
pub fn name(first: &str, last: &str) -> String {
    // Most names are plain ASCII: no decomposition needed.
    if plain_ascii(first) && plain_ascii(last) {
        let mut out = String::with_capacity(first.len() + last.len() + 1);
        for word in first
            .split_ascii_whitespace()
            .chain(last.split_ascii_whitespace())
        {
            if !out.is_empty() {
                out.push(' ');
            }
            let start = out.len();
            out.push_str(word);
            out[start..].make_ascii_lowercase();
        }
        return out;
    }
    latin_name(first, last).unwrap_or_else(|| folded_name(first, last))
}

/// First and last name in [`name`]'s form when every character is ASCII or one of
/// [`latin_fold`]'s: the accented names of most rosters, each character looked up
/// instead of decomposed. `None` at the first other character (the caller then takes
/// [`folded_name`]).
fn latin_name(first: &str, last: &str) -> Option<String> {
    let mut out = String::with_capacity(first.len() + last.len() + 1);
    let mut space = false;
    for c in first
        .chars()
        .chain(std::iter::once(' '))
        .chain(last.chars())
    {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        let mut ascii = [0; 1];
        let piece: &str = match c {
            '`' => "'",
            c if c.is_ascii() => c.to_ascii_lowercase().encode_utf8(&mut ascii),
            c => latin_fold(c)?,
        };
        // A combining mark folds to nothing, and leaves the whitespace as it was.
        if piece.is_empty() {
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push_str(piece);
    }
    Some(out)
}

/// The blocks [`latin_fold`] knows: Latin-1 Supplement, Latin Extended-A and -B, the
/// combining diacritical marks, and Latin Extended Additional (Vietnamese letters).
const LATIN_BLOCKS: [std::ops::Range<u32>; 3] = [0x80..0x250, 0x300..0x370, 0x1E00..0x1F00];

/// What the general fold makes of one character of [`LATIN_BLOCKS`] ("é" → "e",
/// "Ǆ" → "dz", "Ø" → "ø", a combining mark → ""), worked out once by the general
/// fold's own steps. `None` when the fold is whitespace, holds a capital sigma
/// (lower-cased string-wide), or holds a non-starter: the output is then made only of
/// starters, which the canonical reordering never moves, so folding such characters
/// one at a time equals folding the whole name.
fn latin_fold(c: char) -> Option<&'static str> {
    static TABLE: std::sync::OnceLock<Vec<Option<Box<str>>>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        LATIN_BLOCKS
            .iter()
            .flat_map(Clone::clone)
            .map(|code| {
                let c = char::from_u32(code)?;
                let decomposed: Vec<char> = fold_chars(std::iter::once(c)).collect();
                let folded: String = decomposed.iter().flat_map(|c| c.to_lowercase()).collect();
                let plain = !decomposed.contains(&'Σ')
                    && folded
                        .chars()
                        .all(|c| !c.is_whitespace() && canonical_combining_class(c) == 0);
                plain.then(|| folded.into_boxed_str())
            })
            .collect()
    });
    let code = c as u32;
    let mut offset = 0;
    for block in &LATIN_BLOCKS {
        if block.contains(&code) {
            return table
                .get(offset + (code - block.start) as usize)?
                .as_deref();
        }
        offset += block.len();
    }
    None
}

/// The characters a name is folded from: decomposed (NFKD), combining marks dropped,
/// typographic apostrophes made plain.
fn fold_chars(text: impl Iterator<Item = char>) -> impl Iterator<Item = char> {
    text.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| match c {
            '\u{2019}' | '\u{2018}' | '\u{02BC}' | '`' => '\'',
            c => c,
        })
}

/// [`name`]'s general form, for any text.
fn folded_name(first: &str, last: &str) -> String {
    // One pass: fold, lower-case, collapse whitespace. A capital sigma takes the
    // string-wide lower-casing, which knows the final form.
    let folded = || {
        fold_chars(
            first
                .chars()
                .chain(std::iter::once(' '))
                .chain(last.chars()),
        )
    };
    if folded().any(|c| c == 'Σ') {
        let lower = folded().collect::<String>().to_lowercase();
        return lower.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    let mut out = String::with_capacity(first.len() + last.len() + 1);
    let mut space = false;
    for c in folded() {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.extend(c.to_lowercase());
    }
    out
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
        // Every whitespace `char::is_whitespace` knows separates words, ASCII or not.
        assert_eq!(name("Ann\u{0B}Marie", "Lee\t"), "ann marie lee");
    }

    /// The normal form as first written: decompose, filter, lower-case the whole
    /// string, split and join.
    fn name_as_first_written(first: &str, last: &str) -> String {
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

    #[test]
    fn the_one_pass_fold_agrees_with_the_string_wide_one() {
        let names = [
            ("José", "Núñez"),
            ("  ZOË ", "O\u{2019}Brien"),
            ("ΟΔΥΣΣΕΥΣ", "Σ"),
            ("İlker", "Işık"),
            ("Ann\u{00A0}Marie", "Lee\u{2003}"),
            ("\u{00A8}", "x"),
            ("ﬁona", "ＭＡＲＴＩＮ"),
            ("Mary`Kate", "d\u{02BC}Arc"),
            ("", "Ⅻ"),
            ("ǅemal", "ß"),
            ("\u{3000}", "\u{3000}"),
        ];
        for (f, l) in names {
            assert_eq!(name(f, l), name_as_first_written(f, l), "{f:?} {l:?}");
        }
    }

    #[test]
    fn the_latin_table_folds_as_the_decomposition_does() {
        assert_eq!(latin_fold('é'), Some("e"));
        assert_eq!(latin_fold('Ǆ'), Some("dz"));
        assert_eq!(latin_fold('Ø'), Some("ø"));
        assert_eq!(latin_fold('ả'), Some("a"));
        assert_eq!(latin_fold('\u{0301}'), Some(""));
        // Whitespace after decomposition (no-break space) takes the general fold.
        assert_eq!(latin_fold('\u{00A0}'), None);
        // Outside the blocks: the general fold.
        assert_eq!(latin_fold('Σ'), None);
        assert_eq!(latin_name("Ζωή", "Lee"), None);
        assert_eq!(
            latin_name(" Zoë ", " O`Núñez \u{0301}"),
            Some("zoe o'nunez".into())
        );
        assert_eq!(
            latin_name("Thảo", "Øvergaard"),
            Some("thao øvergaard".into())
        );
    }

    #[test]
    fn whitespace_is_found_as_char_is_whitespace_finds_it() {
        for code in 0..0x3100 {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            let text = format!("ann{c}lee@example.com");
            assert_eq!(has_whitespace(&text), c.is_whitespace(), "{code:#x}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_latin_table_agrees_with_the_general_fold(
            f in "[a-zA-Z `'\u{80}-\u{24F}\u{300}-\u{36F}\u{1E00}-\u{1EFF}\u{391}-\u{3C9}]{0,12}",
            l in "[a-zA-Z `'\u{80}-\u{24F}\u{300}-\u{36F}\u{1E00}-\u{1EFF}\u{2000}-\u{200A}]{0,12}",
        ) {
            proptest::prop_assert_eq!(name(&f, &l), folded_name(&f, &l));
            proptest::prop_assert_eq!(name(&f, &l), name_as_first_written(&f, &l));
        }

        #[test]
        fn the_one_pass_fold_agrees_on_any_text(f in "\\PC{0,12}", l in "\\PC{0,12}") {
            proptest::prop_assert_eq!(name(&f, &l), name_as_first_written(&f, &l));
            let normal = name(&f, &l);
            proptest::prop_assert!(name_is(&f, &l, &normal));
        }
    }

    #[test]
    fn the_allocation_free_comparisons_agree_with_the_normal_forms() {
        let names = [
            ("Ann", "Lee"),
            ("  Ann ", " Lee  "),
            ("ANN", "lee"),
            ("Anne", "Lee"),
            ("Ann Marie", "Lee"),
            ("", ""),
            ("", "Lee"),
            ("Ann", ""),
            ("José", "Núñez"),
            ("O`Brien", "Pat"),
            ("Mary-Kate", "van  der   Berg"),
        ];
        for (f1, l1) in names {
            for (f2, l2) in names {
                assert_eq!(
                    name_is(f1, l1, &name(f2, l2)),
                    name(f1, l1) == name(f2, l2),
                    "{f1:?} {l1:?} against {f2:?} {l2:?}"
                );
            }
        }
        let emails = [
            None,
            Some(""),
            Some("  "),
            Some("Ann@Example.com"),
            Some(" ann@example.com "),
            Some("ann@example.org"),
            Some("ÅSA@example.com"),
            Some("åsa@example.com"),
        ];
        for a in emails {
            for b in emails {
                let normal = b.and_then(email);
                assert_eq!(
                    email_is(a, normal.as_deref()),
                    a.and_then(email) == normal,
                    "{a:?} against {b:?}"
                );
            }
        }
    }
}
