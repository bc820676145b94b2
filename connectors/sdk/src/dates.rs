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
    // Placeholders vendors write for "no date": 0001-01-01 (Yardi, RealPage),
    // 1900-01-01, and the Unix epoch 1970-01-01 (AppFolio's move-in of a company tenant).
    if y <= 1 || (m == 1 && d == 1 && (y == 1900 || y == 1970)) {
        return Ok(None);
    }
    Ok(Some(format!("{y:04}-{m:02}-{d:02}")))
}

/// Today's date (UTC) as `YYYY-MM-DD`, from the host's wall clock.
pub fn today() -> String {
    from_days(days_since_epoch_today())
}

/// Whole days from 1970-01-01 to today (UTC).
pub fn days_since_epoch_today() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    (secs / 86_400) as i64
}

/// The civil date `days` days after 1970-01-01 (Howard Hinnant's algorithm).
pub fn from_days(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn days_become_civil_dates() {
        assert_eq!(super::from_days(0), "1970-01-01");
        assert_eq!(super::from_days(19_783), "2024-03-01");
        assert_eq!(super::from_days(-1), "1969-12-31");
        assert!(super::today().as_str() > "2025-01-01");
    }

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
            ("1970-01-01", None),
            ("1970-01-02", Some("1970-01-02")),
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
