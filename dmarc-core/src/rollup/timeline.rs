//! Rollups per UTC day: a report's messages spread over the days of its period per
//! outcome class, the timeline bounded by the filter's period, and the failure trend.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::buckets::Bucket;
use super::{DAY, MAX_SPREAD_DAYS, Tally, ratio};
use crate::filter::Filter;
use crate::model::{Disposition, Record, Report};

/// Messages attributed to one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DayBucket {
    /// The day, `YYYY-MM-DD`.
    pub day: String,
    /// Midnight UTC of the day, in seconds since the epoch.
    pub day_start: i64,
    /// Messages by outcome.
    #[serde(flatten)]
    pub tally: Tally,
}

/// Longest span of days a timeline lists one by one, empty days included (ten years).
/// A longer span lists only the days that have messages, so that no answer grows with the
/// distance between two dates.
pub const MAX_DENSE_DAYS: i64 = 3_660;

/// The class of an applied disposition, as per-day aggregates keep it: `none`,
/// `quarantine`, `reject`, `pass` or `other` (missing or unknown).
pub fn disposition_class(disposition: Option<&Disposition>) -> &'static str {
    match disposition {
        Some(Disposition::None) => "none",
        Some(Disposition::Quarantine) => "quarantine",
        Some(Disposition::Reject) => "reject",
        Some(Disposition::Pass) => "pass",
        Some(Disposition::Other(_)) | None => "other",
    }
}

/// What a report's messages are spread over days by: the disposition class and the
/// aligned DKIM and SPF verdicts. Records sharing a class are summed before spreading, so
/// the cost of a report is its classes times its days, never its records times its days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OutcomeClass {
    /// [`disposition_class`] of the applied disposition.
    pub disposition: &'static str,
    /// The aligned DKIM verdict passed.
    pub dkim_pass: bool,
    /// The aligned SPF verdict passed.
    pub spf_pass: bool,
}

impl OutcomeClass {
    /// The class of a record.
    pub fn of(record: &Record) -> Self {
        OutcomeClass {
            disposition: disposition_class(record.policy_evaluated.disposition.as_ref()),
            dkim_pass: record.dkim_aligned_pass(),
            spf_pass: record.spf_aligned_pass(),
        }
    }
}

/// Messages of each outcome class of one report, in class order.
pub fn class_totals<'a>(records: impl IntoIterator<Item = &'a Record>) -> Vec<(OutcomeClass, u64)> {
    let mut totals: BTreeMap<OutcomeClass, u64> = BTreeMap::new();
    for record in records {
        let slot = totals.entry(OutcomeClass::of(record)).or_default();
        *slot = slot.saturating_add(record.count);
    }
    totals.into_iter().collect()
}

/// Builds a timeline from groups of messages (a reporting period and an outcome) or from
/// per-day totals. Only days inside the filter's period are kept, and the answer is
/// bounded: at most [`MAX_DENSE_DAYS`] days, or the days that have messages.
#[derive(Debug)]
pub struct TimelineBuilder {
    first: Option<i64>,
    last: Option<i64>,
    days: BTreeMap<i64, Tally>,
    shares: Vec<u64>,
}

impl TimelineBuilder {
    /// An empty timeline over the days of `filter`'s period.
    pub fn new(filter: &Filter) -> Self {
        let (first, last) = filter.days();
        TimelineBuilder {
            first,
            last,
            days: BTreeMap::new(),
            shares: Vec::new(),
        }
    }

    fn keeps(&self, day: i64) -> bool {
        self.first.is_none_or(|first| day >= first) && self.last.is_none_or(|last| day <= last)
    }

    /// Spreads `messages` messages of one class over the days of the period
    /// `[begin, end)` (see [`day_overlaps`] and [`spread`]).
    pub fn add(&mut self, begin: i64, end: i64, class: OutcomeClass, messages: u64) {
        let overlaps = day_overlaps(begin, end);
        spread(messages, &overlaps, &mut self.shares);
        for (i, &(day, _)) in overlaps.iter().enumerate() {
            let share = self.shares[i];
            if share > 0 {
                self.add_day(day, Tally::of_class(class, share));
            }
        }
    }

    /// Adds messages already attributed to a day.
    pub fn add_day(&mut self, day: i64, tally: Tally) {
        if tally.messages > 0 && self.keeps(day) {
            self.days.entry(day).or_default().merge(&tally);
        }
    }

    /// The days from the first to the last with messages, empty days included when they
    /// span at most [`MAX_DENSE_DAYS`]; otherwise only the days with messages.
    pub fn finish(self) -> Vec<DayBucket> {
        let bucket = |day: i64, tally: Tally| DayBucket {
            day: format_day(day),
            day_start: day.saturating_mul(DAY),
            tally,
        };
        let (Some(&first), Some(&last)) = (self.days.keys().next(), self.days.keys().next_back())
        else {
            return Vec::new();
        };
        if last - first < MAX_DENSE_DAYS {
            (first..=last)
                .map(|day| bucket(day, self.days.get(&day).copied().unwrap_or_default()))
                .collect()
        } else {
            self.days
                .into_iter()
                .map(|(day, tally)| bucket(day, tally))
                .collect()
        }
    }
}

/// Messages per UTC day within the filter's period. A report's messages are spread over
/// the days its period overlaps, in proportion to the overlap, per outcome class, using
/// largest remainders so every message is counted exactly once. Days are listed as
/// [`TimelineBuilder::finish`] says: never more than [`MAX_DENSE_DAYS`], or the days with
/// messages.
pub fn timeline(reports: &[Report], filter: &Filter) -> Vec<DayBucket> {
    let mut builder = TimelineBuilder::new(filter);
    for report in reports.iter().filter(|r| filter.matches_report(r)) {
        let range = report.report_metadata.date_range;
        let selected = report.records.iter().filter(|r| filter.matches_record(r));
        for (class, messages) in class_totals(selected) {
            builder.add(range.begin, range.end, class, messages);
        }
    }
    builder.finish()
}

/// The UTC days (as day numbers) a period overlaps, with the seconds of overlap.
/// The period is half-open, `[begin, end)`; an empty, reversed or over-long period counts
/// entirely for the day it begins.
pub fn day_overlaps(begin: i64, end: i64) -> Vec<(i64, i64)> {
    let first = begin.div_euclid(DAY);
    if end <= begin || end.saturating_sub(begin).div_euclid(DAY) > MAX_SPREAD_DAYS {
        return vec![(first, 1)];
    }
    let last = (end - 1).div_euclid(DAY);
    (first..=last)
        .map(|day| {
            let from = begin.max(day * DAY);
            let to = end.min(day.saturating_add(1).saturating_mul(DAY));
            (day, to - from)
        })
        .collect()
}

/// Splits `count` in proportion to the overlaps (as [`day_overlaps`] returns them), largest
/// remainder first (earlier day on a tie), so the shares sum to `count` exactly.
pub fn spread(count: u64, overlaps: &[(i64, i64)], shares: &mut Vec<u64>) {
    shares.clear();
    if let [_] = overlaps {
        shares.push(count);
        return;
    }
    let total: u128 = overlaps
        .iter()
        .map(|&(_, secs)| secs.max(0) as u128)
        .sum::<u128>()
        .max(1);
    let mut remainders = Vec::with_capacity(overlaps.len());
    let mut assigned = 0u64;
    for (i, &(_, secs)) in overlaps.iter().enumerate() {
        let scaled = u128::from(count) * secs.max(0) as u128;
        let share = (scaled / total) as u64;
        shares.push(share);
        assigned += share;
        remainders.push((scaled % total, i));
    }
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in remainders.iter().take((count - assigned) as usize) {
        shares[i] += 1;
    }
}

/// One point (a day, or the bucket starting that day) of the failure-rate trend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrendPoint {
    /// The day (or the first day of the bucket), `YYYY-MM-DD`.
    pub day: String,
    /// Messages attributed to the day (or bucket).
    pub messages: u64,
    /// Messages that failed DMARC.
    pub failed: u64,
    /// `failed / messages` for the day (0 when there were none).
    pub failure_rate: f64,
    /// Message-weighted failure rate over the `window` days (or buckets) ending with this
    /// one.
    pub moving_average: f64,
}

/// Daily DMARC failure rate with a message-weighted `window`-day moving average
/// (a window of 0 is treated as 1).
pub fn failure_trend(reports: &[Report], filter: &Filter, window: usize) -> Vec<TrendPoint> {
    trend_from_timeline(&timeline(reports, filter), window)
}

/// The failure trend of a timeline (days in order, as `timeline` returns them; missing
/// days count as days without messages), the moving average over `window` days.
pub fn trend_from_timeline(days: &[DayBucket], window: usize) -> Vec<TrendPoint> {
    trend_over_buckets(days, Bucket::Day, window)
}

/// The failure trend of a timeline summed into buckets ([`bucketed`]): the moving average
/// is over the `window` buckets ending with each point (missing buckets count as empty).
pub fn trend_over_buckets(points: &[DayBucket], bucket: Bucket, window: usize) -> Vec<TrendPoint> {
    let window = i64::try_from(window.max(1)).unwrap_or(i64::MAX);
    let ordinal = |point: &DayBucket| bucket.ordinal(point.day_start.div_euclid(DAY));
    let mut out = Vec::with_capacity(points.len());
    let (mut win_messages, mut win_failed) = (0u64, 0u64);
    let mut oldest = 0;
    for point in points {
        let current = ordinal(point);
        win_messages = win_messages.saturating_add(point.tally.messages);
        win_failed = win_failed.saturating_add(point.tally.dmarc_fail);
        // Buckets that left the window: those at or before `current - window`.
        while ordinal(&points[oldest]).saturating_add(window) <= current {
            win_messages = win_messages.saturating_sub(points[oldest].tally.messages);
            win_failed = win_failed.saturating_sub(points[oldest].tally.dmarc_fail);
            oldest += 1;
        }
        out.push(TrendPoint {
            day: point.day.clone(),
            messages: point.tally.messages,
            failed: point.tally.dmarc_fail,
            failure_rate: ratio(point.tally.dmarc_fail, point.tally.messages),
            moving_average: ratio(win_failed, win_messages),
        });
    }
    out
}

/// Formats a day number (days since 1970-01-01) as `YYYY-MM-DD` (proleptic Gregorian).
pub fn format_day(day: i64) -> String {
    let (y, m, d) = super::buckets::civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}
