//! Time buckets of a timeline: days summed into ISO weeks (Monday to Sunday, UTC) or
//! calendar months, and the choice of a bucket that keeps a period to a few hundred
//! points.

use serde::{Deserialize, Serialize};

use super::{DAY, DayBucket, Tally};
use crate::filter::Filter;

/// The most points [`Bucket::auto`] gives a period when it can (a month per point over
/// more than about 33 years still gives more).
pub const MAX_AUTO_POINTS: i64 = 400;

/// How much time one point of a timeline covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    /// A UTC day.
    Day,
    /// An ISO week: Monday 00:00 UTC to Sunday 24:00.
    Week,
    /// A calendar month (UTC).
    Month,
}

impl Bucket {
    /// The smallest bucket that gives the days `first..=last` (day numbers since
    /// 1970-01-01) at most [`MAX_AUTO_POINTS`] points, or months.
    pub fn auto(first: i64, last: i64) -> Bucket {
        let days = last.saturating_sub(first).saturating_add(1);
        if days <= MAX_AUTO_POINTS {
            Bucket::Day
        } else if days.div_euclid(7) < MAX_AUTO_POINTS {
            Bucket::Week
        } else {
            Bucket::Month
        }
    }

    /// Reads `day`, `week`, `month` (any case), or `auto` as `None`; the error says what
    /// is expected.
    pub fn choice(text: &str) -> Result<Option<Bucket>, &'static str> {
        match text.to_ascii_lowercase().as_str() {
            "day" => Ok(Some(Bucket::Day)),
            "week" => Ok(Some(Bucket::Week)),
            "month" => Ok(Some(Bucket::Month)),
            "auto" => Ok(None),
            _ => Err("day, week, month or auto"),
        }
    }

    /// `auto` for a timeline: over the filter's period, or over the timeline's own days
    /// where the filter leaves an end open.
    pub fn auto_for(filter: &Filter, days: &[DayBucket]) -> Bucket {
        let day = |point: &DayBucket| point.day_start.div_euclid(DAY);
        let (first, last) = filter.days();
        match (
            first.or(days.first().map(day)),
            last.or(days.last().map(day)),
        ) {
            (Some(first), Some(last)) => Bucket::auto(first, last),
            _ => Bucket::Day,
        }
    }

    /// The number of the bucket holding day `day`; consecutive buckets have consecutive
    /// numbers.
    pub fn ordinal(self, day: i64) -> i64 {
        match self {
            Bucket::Day => day,
            // 1970-01-01 was a Thursday: day 4 - 7 = -3 is the Monday of its week.
            Bucket::Week => (day + 3).div_euclid(7),
            Bucket::Month => {
                let (year, month, _) = civil_from_days(day);
                year * 12 + month - 1
            }
        }
    }

    /// The first day of bucket `ordinal`.
    pub fn first_day(self, ordinal: i64) -> i64 {
        match self {
            Bucket::Day => ordinal,
            Bucket::Week => ordinal * 7 - 3,
            Bucket::Month => days_from_civil(ordinal.div_euclid(12), ordinal.rem_euclid(12) + 1, 1),
        }
    }
}

/// Sums the days of a timeline (in order, as `timeline` returns them) into buckets: each
/// point is dated by its bucket's first day, and a bucket appears when one of its days
/// does (a dense timeline gives dense buckets).
pub fn bucketed(days: &[DayBucket], bucket: Bucket) -> Vec<DayBucket> {
    if bucket == Bucket::Day {
        return days.to_vec();
    }
    let mut out: Vec<DayBucket> = Vec::new();
    let mut current: Option<i64> = None;
    for point in days {
        let ordinal = bucket.ordinal(point.day_start.div_euclid(DAY));
        if current != Some(ordinal) {
            current = Some(ordinal);
            let first = bucket.first_day(ordinal);
            out.push(DayBucket {
                day: super::format_day(first),
                day_start: first.saturating_mul(DAY),
                tally: Tally::default(),
            });
        }
        if let Some(last) = out.last_mut() {
            last.tally.merge(&point.tally);
        }
    }
    out
}

/// A timeline (as `timeline` returns it for `filter`) summed into `bucket`, or into the one
/// [`Bucket::auto_for`] picks when it is `None`; with the bucket used.
pub fn in_buckets(
    days: &[DayBucket],
    filter: &Filter,
    bucket: Option<Bucket>,
) -> (Vec<DayBucket>, Bucket) {
    let bucket = bucket.unwrap_or_else(|| Bucket::auto_for(filter, days));
    (bucketed(days, bucket), bucket)
}

/// Year, month (1-12) and day (1-31) of a day number (proleptic Gregorian; Howard
/// Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(day: i64) -> (i64, i64, i64) {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the inverse of
/// [`civil_from_days`]; Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(date: &str) -> i64 {
        let parts: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
        days_from_civil(parts[0], parts[1], parts[2])
    }

    #[test]
    fn dates_round_trip_and_buckets_start_where_they_should() {
        for d in [-719_468, -1, 0, 59, 11_016, 19_723, 20_000, 2_932_896] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        // 2024-01-03 is a Wednesday: its week starts on Monday 2024-01-01.
        let wednesday = day("2024-01-03");
        let week = Bucket::Week.ordinal(wednesday);
        assert_eq!(
            super::super::format_day(Bucket::Week.first_day(week)),
            "2024-01-01"
        );
        assert_eq!(
            Bucket::Week.ordinal(day("2024-01-07")),
            week,
            "Sunday ends it"
        );
        assert_eq!(Bucket::Week.ordinal(day("2024-01-08")), week + 1);
        let month = Bucket::Month.ordinal(day("2024-02-29"));
        assert_eq!(
            super::super::format_day(Bucket::Month.first_day(month)),
            "2024-02-01"
        );
        assert_eq!(Bucket::Month.ordinal(day("2024-03-01")), month + 1);
        assert_eq!(
            Bucket::Month.first_day(Bucket::Month.ordinal(-1)),
            day("1969-12-01")
        );
    }

    #[test]
    fn auto_keeps_a_period_to_a_few_hundred_points() {
        assert_eq!(Bucket::auto(0, 399), Bucket::Day);
        assert_eq!(Bucket::auto(0, 400), Bucket::Week);
        assert_eq!(Bucket::auto(0, 7 * 400 - 2), Bucket::Week);
        assert_eq!(Bucket::auto(0, 7 * 400 - 1), Bucket::Month);
        assert_eq!(Bucket::auto(-20_000, 20_000), Bucket::Month);
    }

    #[test]
    fn buckets_conserve_messages_and_the_trend_counts_buckets() {
        // 2024-01-01 (a Monday) and 59 more days, 10 messages a day, every third day failing.
        let first = day("2024-01-01");
        let days: Vec<DayBucket> = (0..60)
            .map(|d| {
                let fail = if d % 3 == 0 { 10 } else { 0 };
                DayBucket {
                    day: super::super::format_day(first + d),
                    day_start: (first + d) * DAY,
                    tally: Tally {
                        messages: 10,
                        dmarc_pass: 10 - fail,
                        dmarc_fail: fail,
                        ..Tally::default()
                    },
                }
            })
            .collect();
        let weeks = bucketed(&days, Bucket::Week);
        assert_eq!(weeks.len(), 9, "8 whole weeks and 4 days");
        assert_eq!(weeks[0].day, "2024-01-01");
        assert_eq!(weeks.iter().map(|w| w.tally.messages).sum::<u64>(), 600);
        let months = bucketed(&days, Bucket::Month);
        assert_eq!(
            months
                .iter()
                .map(|m| (m.day.as_str(), m.tally.messages))
                .collect::<Vec<_>>(),
            [("2024-01-01", 310), ("2024-02-01", 290)]
        );
        let trend = super::super::trend_over_buckets(&weeks, Bucket::Week, 2);
        let (failed, messages) = (
            weeks[0].tally.dmarc_fail + weeks[1].tally.dmarc_fail,
            weeks[0].tally.messages + weeks[1].tally.messages,
        );
        assert!((trend[1].moving_average - failed as f64 / messages as f64).abs() < 1e-12);
        assert_eq!(bucketed(&days, Bucket::Day), days);
    }
}
