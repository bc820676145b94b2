//! Vendor dates to ISO-8601 calendar dates (`YYYY-MM-DD`).
//!
//! Accepted: `MM/DD/YYYY` and `M/D/YYYY` (Yardi, RealPage, Entrata), optionally
//! followed by a time; `YYYY-MM-DD`, optionally followed by `T` or a space and a time
//! with any number of fractional digits and an offset (MRI, AppFolio). Blank input
//! and the `0001-01-01` / `01/01/1900` placeholders some PMSs use for "no date" are
//! `Ok(None)`. The time of day is dropped: leases are dated, not timed.

/// A date that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateError(pub String);

impl std::fmt::Display for DateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unreadable date {:?}", self.0)
    }
}

fn is_leap(y: u32) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

fn num(s: &str, min_len: usize, max_len: usize) -> Option<u32> {
    if s.len() < min_len || s.len() > max_len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Reads a vendor date. See the module documentation for the accepted forms.
pub fn parse(raw: &str) -> Result<Option<String>, DateError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let err = || DateError(raw.to_owned());
    let date_part = raw.split([' ', 'T']).next().unwrap_or(raw);
    let (y, m, d) = if date_part.contains('/') {
        let mut it = date_part.split('/');
        let (m, d, y) = (it.next(), it.next(), it.next());
        if it.next().is_some() {
            return Err(err());
        }
        (
            num(y.ok_or_else(err)?, 4, 4).ok_or_else(err)?,
            num(m.ok_or_else(err)?, 1, 2).ok_or_else(err)?,
            num(d.ok_or_else(err)?, 1, 2).ok_or_else(err)?,
        )
    } else {
        let mut it = date_part.split('-');
        let (y, m, d) = (it.next(), it.next(), it.next());
        if it.next().is_some() {
            return Err(err());
        }
        (
            num(y.ok_or_else(err)?, 4, 4).ok_or_else(err)?,
            num(m.ok_or_else(err)?, 2, 2).ok_or_else(err)?,
            num(d.ok_or_else(err)?, 2, 2).ok_or_else(err)?,
        )
    };
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return Err(err());
    }
    if y <= 1 || (y == 1900 && m == 1 && d == 1) {
        return Ok(None);
    }
    Ok(Some(format!("{y:04}-{m:02}-{d:02}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_formats_become_iso_dates() {
        let cases = [
            ("03/01/2024", Some("2024-03-01")),
            ("3/1/2024", Some("2024-03-01")),
            ("02/29/2024", Some("2024-02-29")),
            ("2024-03-01", Some("2024-03-01")),
            ("2024-03-01T00:00:00", Some("2024-03-01")),
            ("2008-02-20T00:00:00.0000000", Some("2008-02-20")),
            ("2024-03-01T10:00:00-07:00", Some("2024-03-01")),
            ("2024-03-01 10:00:00", Some("2024-03-01")),
            ("03/01/2024 12:00:00 AM", Some("2024-03-01")),
            ("", None),
            ("   ", None),
            ("0001-01-01", None),
            ("0001-01-01T00:00:00", None),
            ("01/01/1900", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(parse(raw).unwrap().as_deref(), expected, "{raw:?}");
        }
    }

    #[test]
    fn impossible_dates_are_errors() {
        for raw in [
            "02/30/2024",
            "02/29/2023",
            "13/01/2024",
            "2024-3-1",
            "2024-00-10",
            "tomorrow",
            "1/2/3/2024",
            "03/01/24",
        ] {
            assert!(parse(raw).is_err(), "{raw:?}");
        }
    }
}
