//! ISO-8601 times as Vonage writes them in webhooks (`2026-05-04T09:16:42.900Z`), read into Unix
//! milliseconds, so that lengths can be worked out from a `start_time` and an `end_time`.

/// Milliseconds since the Unix epoch of `2026-05-04T09:16:42.900Z`, `2026-05-04T09:16:42Z`,
/// `2026-05-04 09:16:42` (read as UTC) or `2026-05-04T10:16:42+01:00`; `None` for anything else
/// (including years past 9999).
///
/// ```
/// use ncco_sdk::webhook::unix_millis;
/// assert_eq!(unix_millis("2026-05-04T09:16:42.900Z"), Some(1_777_886_202_900));
/// assert_eq!(unix_millis("2026-05-04T10:16:42.9+01:00"), Some(1_777_886_202_900));
/// assert_eq!(unix_millis("yesterday"), None);
/// ```
pub fn unix_millis(ts: &str) -> Option<i64> {
    let (date, time) = ts.trim().split_once(['T', 't', ' '])?;
    let mut ymd = date.splitn(3, '-');
    let year: i64 = ymd.next()?.parse().ok()?;
    let month: i64 = ymd.next()?.parse().ok()?;
    let day: i64 = ymd.next()?.parse().ok()?;
    let (clock, offset_minutes) = match time.strip_suffix(['Z', 'z']) {
        Some(clock) => (clock, 0),
        None => match time.rfind(['+', '-']) {
            Some(i) => (&time[..i], offset(&time[i..])?),
            None => (time, 0),
        },
    };
    let mut hms = clock.splitn(3, ':');
    let hour: i64 = hms.next()?.parse().ok()?;
    let minute: i64 = hms.next()?.parse().ok()?;
    let second_field = hms.next().unwrap_or("0");
    let (seconds, fraction) = second_field.split_once('.').unwrap_or((second_field, ""));
    let second: i64 = seconds.parse().ok()?;
    let millis = match fraction {
        "" => 0,
        f if f.bytes().all(|b| b.is_ascii_digit()) => format!("{f:0<3}")[..3].parse::<i64>().ok()?,
        _ => return None,
    };
    let valid = (0..=9999).contains(&year)
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && (0..24).contains(&hour)
        && (0..60).contains(&minute)
        && (0..=60).contains(&second);
    if !valid {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

/// Whole seconds from `start` to `end` (rounded; 0 when `end` is before `start`); `None` when
/// either is not a time [`unix_millis`] reads.
///
/// ```
/// use ncco_sdk::webhook::seconds_between;
/// assert_eq!(seconds_between("2026-05-04T09:16:00Z", "2026-05-04T09:16:42.6Z"), Some(43));
/// assert_eq!(seconds_between("", "2026-05-04T09:16:00Z"), None);
/// ```
pub fn seconds_between(start: &str, end: &str) -> Option<u64> {
    let millis = unix_millis(end)? - unix_millis(start)?;
    Some(u64::try_from((millis + 500) / 1000).unwrap_or(0))
}

/// `+hh:mm`, `-hhmm` or `+hh` in minutes east of UTC.
fn offset(zone: &str) -> Option<i64> {
    let (sign, rest) = zone.split_at(1);
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !matches!(digits.len(), 2 | 4) {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = if digits.len() == 4 { digits[2..].parse().ok()? } else { 0 };
    let total = hours * 60 + minutes;
    Some(if sign == "-" { -total } else { total })
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vonage_times() {
        assert_eq!(unix_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_millis("2026-05-04T09:16:42.900Z"), Some(1_777_886_202_900));
        assert_eq!(unix_millis("2026-05-04T09:16:42Z"), Some(1_777_886_202_000));
        assert_eq!(unix_millis("2026-05-04 09:16:42"), Some(1_777_886_202_000));
        assert_eq!(unix_millis("2026-05-04T10:16:42.9+01:00"), Some(1_777_886_202_900));
        assert_eq!(unix_millis("2024-02-29T23:59:59Z"), Some(1_709_251_199_000));
        assert_eq!(unix_millis("yesterday"), None);
        assert_eq!(unix_millis("2026-13-04T09:16:42Z"), None);
        assert_eq!(unix_millis("99999999999999999-01-01T00:00:00Z"), None);
    }

    #[test]
    fn recording_length() {
        assert_eq!(seconds_between("2026-05-04T09:16:00Z", "2026-05-04T09:16:42Z"), Some(42));
        assert_eq!(seconds_between("2026-05-04T23:59:59.400Z", "2026-05-05T00:00:01Z"), Some(2));
        assert_eq!(seconds_between("2026-05-04T09:16:42Z", "2026-05-04T09:16:00Z"), Some(0));
        assert_eq!(seconds_between("", "2026-05-04T09:16:00Z"), None);
    }
}
