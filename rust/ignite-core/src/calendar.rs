//! Proleptic Gregorian dates and times of day as numbers, both ways: days since 1970-01-01 and
//! (year, month, day); nanoseconds since midnight and (hour, minute, second, nanosecond). Ignite 3
//! packs dates and times by their fields, so its reader and its writer both need these.

/// Days since 1970-01-01 of a date (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of `days` since 1970-01-01 (Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + (month <= 2) as i64;
    (year, month, day)
}

pub const NANOS_PER_SECOND: i64 = 1_000_000_000;
pub const NANOS_PER_DAY: i64 = 86_400 * NANOS_PER_SECOND;
pub const MILLIS_PER_DAY: i64 = 86_400_000;

/// A time of day's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeOfDay {
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    pub nano: i64,
}

impl TimeOfDay {
    /// The fields of `nanos` since midnight; `None` outside one day.
    pub fn from_nanos(nanos: i64) -> Option<TimeOfDay> {
        if !(0..NANOS_PER_DAY).contains(&nanos) {
            return None;
        }
        let seconds = nanos / NANOS_PER_SECOND;
        Some(TimeOfDay {
            hour: seconds / 3600,
            minute: seconds / 60 % 60,
            second: seconds % 60,
            nano: nanos % NANOS_PER_SECOND,
        })
    }
}

/// `nanos` (0..1e9) cut to `precision` fractional digits, as Ignite's `normalizeNanos` does.
pub fn truncate_nanos(nanos: i64, precision: i32) -> i64 {
    let unit = 10i64.pow(9 - precision.clamp(0, 9) as u32);
    nanos / unit * unit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_dates_convert_both_ways() {
        for days in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-719_529), (-1, 12, 31));
    }

    #[test]
    fn time_of_day_fields_and_truncation() {
        let t = TimeOfDay::from_nanos(((13 * 60 + 45) * 60 + 7) * NANOS_PER_SECOND + 123_456_789);
        assert_eq!(
            t,
            Some(TimeOfDay {
                hour: 13,
                minute: 45,
                second: 7,
                nano: 123_456_789
            })
        );
        assert_eq!(TimeOfDay::from_nanos(NANOS_PER_DAY), None);
        assert_eq!(TimeOfDay::from_nanos(-1), None);
        assert_eq!(truncate_nanos(123_456_789, 3), 123_000_000);
        assert_eq!(truncate_nanos(123_456_789, 9), 123_456_789);
        assert_eq!(truncate_nanos(123_456_789, 0), 0);
    }
}
