//! Calendar dates as the PMS gives them (`YYYY-MM-DD`) and unix seconds, without a
//! clock or a time-zone database: a property's local time is a fixed UTC offset.

const DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number ([`days_from_civil`]'s inverse).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// The day number of `YYYY-MM-DD` (a longer ISO value, `2026-05-31T00:00:00`, is read
/// by its date); `None` for anything that is not a real date.
pub fn parse_day(text: &str) -> Option<i64> {
    let date = text.trim().get(..10)?;
    let mut parts = date.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let year: i64 = y.parse().ok()?;
    let month: u32 = m.parse().ok()?;
    let day: u32 = d.parse().ok()?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// Unix seconds of `minute_of_day` local time on day `day`, for a property whose local
/// time is UTC + `utc_offset_minutes`.
pub fn local_time(day: i64, minute_of_day: u32, utc_offset_minutes: i32) -> i64 {
    day * DAY + i64::from(minute_of_day) * 60 - i64::from(utc_offset_minutes) * 60
}

/// `YYYY-MM-DD HH:MM UTC` of unix seconds, for sentences a person reads.
pub fn format_utc(unix: i64) -> String {
    let (y, m, d) = civil_from_days(unix.div_euclid(DAY));
    let secs = unix.rem_euclid(DAY);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// RFC 3339 (`YYYY-MM-DDTHH:MM:SSZ`) of unix seconds, for messages machines read.
pub fn format_rfc3339(unix: i64) -> String {
    let (y, m, d) = civil_from_days(unix.div_euclid(DAY));
    let secs = unix.rem_euclid(DAY);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_bad_ones_are_refused() {
        assert_eq!(parse_day("1970-01-01"), Some(0));
        assert_eq!(parse_day("2000-03-01"), Some(11_017));
        assert_eq!(parse_day("2024-02-29"), Some(19_782));
        for day in [-800_000, -1, 0, 59, 11_016, 19_782, 2_932_896] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "2026-00-10",
            "26-01-01",
            "",
            "2026-1-01",
            "soon",
        ] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
        assert_eq!(parse_day("2026-05-31T10:00:00Z"), parse_day("2026-05-31"));
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_rfc3339(1_800_000_000), "2027-01-15T08:00:00Z");
        assert_eq!(
            format_utc(local_time(19_782, 23 * 60 + 59, 0)),
            "2024-02-29 23:59 UTC"
        );
        // 23:59 in New York winter time (UTC-5) is 04:59 UTC the next day.
        assert_eq!(
            format_utc(local_time(19_782, 23 * 60 + 59, -300)),
            "2024-03-01 04:59 UTC"
        );
    }
}
