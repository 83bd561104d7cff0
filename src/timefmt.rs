//! Wall-clock formatting (UTC), in the few fixed shapes the console, the
//! audit log and the lock holders use.

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

const RFC3339_MILLIS: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// What `parse_rfc3339` accepts: the above, with any (or no) fraction.
const RFC3339_UTC: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]Z");

/// `t` in UTC; before 1970 reads as 1970 and past 9999 as the end of 9999
/// (neither happens to a clock this program reads).
fn utc(t: SystemTime) -> OffsetDateTime {
    let nanos = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    i128::try_from(nanos)
        .ok()
        .and_then(|n| OffsetDateTime::from_unix_timestamp_nanos(n).ok())
        .unwrap_or_else(|| PrimitiveDateTime::MAX.assume_utc())
}

/// Formatting a complete UTC date-time into a String cannot fail: every
/// component is known and a String takes any write.
fn format(t: SystemTime, items: &[BorrowedFormatItem<'_>]) -> String {
    utc(t).format(items).unwrap_or_default()
}

/// `2026-11-25T19:12:30.123Z` (UTC).
pub fn rfc3339(t: SystemTime) -> String {
    format(t, RFC3339_MILLIS)
}

/// `3s`, `4m`, `2h`, `5d`: the age of something.
pub fn age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// Parses what `rfc3339` writes (UTC, `Z`); `None` for anything else,
/// including instants before 1970.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let t = PrimitiveDateTime::parse(s, RFC3339_UTC).ok()?.assume_utc();
    let secs = u64::try_from(t.unix_timestamp()).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, t.nanosecond()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_633_950_123);
        assert_eq!(rfc3339(t), "2026-11-25T19:12:30.123Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(age(Duration::from_secs(125)), "2m");
        assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t));
        assert_eq!(parse_rfc3339("2026-11-25 19:12:30"), None);
    }

    #[test]
    fn edges_stay_within_the_formats() {
        let before_1970 = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(rfc3339(before_1970), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            parse_rfc3339("2026-11-25T19:12:30Z"),
            Some(UNIX_EPOCH + Duration::from_secs(1_795_633_950))
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.000Z"), None);
        assert_eq!(parse_rfc3339("2026-11-25T19:12:30.123+01:00"), None);
        assert_eq!(parse_rfc3339("2026-02-30T19:12:30.123Z"), None);
        let far = UNIX_EPOCH + Duration::from_secs(400_000_000_000);
        assert_eq!(rfc3339(far), "9999-12-31T23:59:59.999Z");
    }
}
