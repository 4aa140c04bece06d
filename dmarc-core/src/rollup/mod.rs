//! Pure rollups over records. They count messages (`count`), never rows. The per-day ones
//! (timeline, trend, the spread of a report over its days) are in `timeline.rs`.

mod buckets;
mod timeline;

pub use buckets::{Bucket, MAX_AUTO_POINTS, bucketed, days_from_civil, in_buckets};
pub use timeline::*;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::filter::Filter;
use crate::model::{Disposition, Record, Report};

const DAY: i64 = 86_400;
/// Reporting periods longer than this are not spread over days: all their messages go to
/// the day the period begins (such spans are bogus, and spreading them would cost one
/// bucket per day).
pub const MAX_SPREAD_DAYS: i64 = 366;

/// Message counts by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tally {
    /// All messages.
    pub messages: u64,
    /// Messages that passed DMARC (aligned DKIM or aligned SPF passed).
    pub dmarc_pass: u64,
    /// Messages that failed DMARC.
    pub dmarc_fail: u64,
    /// Messages whose aligned DKIM verdict passed.
    pub dkim_aligned_pass: u64,
    /// Messages whose aligned SPF verdict passed.
    pub spf_aligned_pass: u64,
}

impl Tally {
    /// Adds `messages` messages with the outcome of `record`.
    /// Counts saturate instead of overflowing: a hostile report may claim `u64::MAX` messages.
    pub fn add(&mut self, record: &Record, messages: u64) {
        self.merge(&Tally::of_class(OutcomeClass::of(record), messages));
    }

    /// `messages` messages of one outcome class.
    pub fn of_class(class: OutcomeClass, messages: u64) -> Tally {
        let (dkim, spf) = (class.dkim_pass, class.spf_pass);
        let pass = dkim || spf;
        let when = |yes: bool| if yes { messages } else { 0 };
        Tally {
            messages,
            dmarc_pass: when(pass),
            dmarc_fail: when(!pass),
            dkim_aligned_pass: when(dkim),
            spf_aligned_pass: when(spf),
        }
    }

    /// Adds another tally.
    pub fn merge(&mut self, other: &Tally) {
        self.messages = self.messages.saturating_add(other.messages);
        self.dmarc_pass = self.dmarc_pass.saturating_add(other.dmarc_pass);
        self.dmarc_fail = self.dmarc_fail.saturating_add(other.dmarc_fail);
        self.dkim_aligned_pass = self
            .dkim_aligned_pass
            .saturating_add(other.dkim_aligned_pass);
        self.spf_aligned_pass = self.spf_aligned_pass.saturating_add(other.spf_aligned_pass);
    }

    /// Share of messages that passed DMARC, 0.0 when there are none.
    pub fn pass_rate(&self) -> f64 {
        ratio(self.dmarc_pass, self.messages)
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Headline figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Summary {
    /// Reports with at least one selected record.
    pub reports: u64,
    /// Distinct policy domains.
    pub domains: u64,
    /// Distinct reporting organisations.
    pub organizations: u64,
    /// Earliest `begin` of the selected reports.
    pub first_begin: Option<i64>,
    /// Latest `end` of the selected reports.
    pub last_end: Option<i64>,
    /// Messages by outcome.
    #[serde(flatten)]
    pub tally: Tally,
}

/// Computes the headline figures.
pub fn summary(reports: &[Report], filter: &Filter) -> Summary {
    let mut out = Summary::default();
    let mut domains = HashSet::new();
    let mut orgs = HashSet::new();
    let mut last_report: Option<*const Report> = None;
    for (report, record) in filter.select(reports) {
        if last_report != Some(std::ptr::from_ref(report)) {
            last_report = Some(std::ptr::from_ref(report));
            out.reports += 1; // at most one per report, cannot overflow
            domains.insert(report.domain_key());
            orgs.insert(report.organization());
            let range = report.report_metadata.date_range;
            out.first_begin = Some(out.first_begin.map_or(range.begin, |b| b.min(range.begin)));
            out.last_end = Some(out.last_end.map_or(range.end, |e| e.max(range.end)));
        }
        out.tally.add(record, record.count);
    }
    out.domains = domains.len() as u64;
    out.organizations = orgs.len() as u64;
    out
}

/// A group of messages sharing a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Group {
    /// The group key (domain, organisation).
    pub key: String,
    /// Messages by outcome.
    #[serde(flatten)]
    pub tally: Tally,
}

fn grouped<K: std::hash::Hash + Eq>(
    reports: &[Report],
    filter: &Filter,
    key: impl Fn(&Report, &Record) -> K,
) -> HashMap<K, Tally> {
    let mut groups: HashMap<K, Tally> = HashMap::new();
    for (report, record) in filter.select(reports) {
        groups
            .entry(key(report, record))
            .or_default()
            .add(record, record.count);
    }
    groups
}

/// Sorts by messages (descending), then key (ascending), so the order is stable.
fn ranked(groups: HashMap<String, Tally>) -> Vec<Group> {
    let mut out: Vec<Group> = groups
        .into_iter()
        .map(|(key, tally)| Group { key, tally })
        .collect();
    rank(&mut out);
    out
}

/// Puts groups in the order every grouped rollup returns: most messages first, then by
/// key, so the order is stable.
pub fn rank(groups: &mut [Group]) {
    groups.sort_by(|a, b| {
        b.tally
            .messages
            .cmp(&a.tally.messages)
            .then_with(|| a.key.cmp(&b.key))
    });
}

/// Messages per policy domain (lower-cased).
pub fn by_domain(reports: &[Report], filter: &Filter) -> Vec<Group> {
    ranked(grouped(reports, filter, |report, _| report.domain_key()))
}

/// Messages per reporting organisation.
pub fn by_organization(reports: &[Report], filter: &Filter) -> Vec<Group> {
    ranked(grouped(reports, filter, |report, _| report.organization()))
}

/// Messages from one source address (`None` for rows without a usable address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SourceGroup {
    /// The source address.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub source_ip: Option<IpAddr>,
    /// Messages by outcome.
    #[serde(flatten)]
    pub tally: Tally,
}

/// Messages per source address, most messages first.
pub fn by_source(reports: &[Report], filter: &Filter) -> Vec<SourceGroup> {
    let groups = grouped(reports, filter, |_, record| record.source_ip);
    let mut out: Vec<SourceGroup> = groups
        .into_iter()
        .map(|(source_ip, tally)| SourceGroup { source_ip, tally })
        .collect();
    rank_sources(&mut out);
    out
}

/// Puts sources in the order [`by_source`] returns: most messages first, then no address,
/// IPv4, IPv6, each by value.
pub fn rank_sources(sources: &mut [SourceGroup]) {
    sources.sort_by(|a, b| {
        b.tally
            .messages
            .cmp(&a.tally.messages)
            .then_with(|| a.source_ip.cmp(&b.source_ip))
    });
}

/// Messages by applied disposition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DispositionBreakdown {
    /// Delivered without action.
    pub none: u64,
    /// Quarantined.
    pub quarantine: u64,
    /// Rejected.
    pub reject: u64,
    /// RFC 9990 `pass`: no action because DMARC passed.
    pub pass: u64,
    /// Missing or unknown disposition.
    pub other: u64,
}

/// Messages by applied disposition.
pub fn disposition_breakdown(reports: &[Report], filter: &Filter) -> DispositionBreakdown {
    let mut out = DispositionBreakdown::default();
    for (_, record) in filter.select(reports) {
        let slot = match &record.policy_evaluated.disposition {
            Some(Disposition::None) => &mut out.none,
            Some(Disposition::Quarantine) => &mut out.quarantine,
            Some(Disposition::Reject) => &mut out.reject,
            Some(Disposition::Pass) => &mut out.pass,
            Some(Disposition::Other(_)) | None => &mut out.other,
        };
        *slot = slot.saturating_add(record.count);
    }
    out
}

/// Messages by aligned DKIM verdict x aligned SPF verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlignmentBreakdown {
    /// Both aligned verdicts passed.
    pub both_pass: u64,
    /// Only aligned DKIM passed.
    pub dkim_only: u64,
    /// Only aligned SPF passed.
    pub spf_only: u64,
    /// Neither passed (DMARC failure).
    pub both_fail: u64,
}

/// Messages by aligned DKIM verdict x aligned SPF verdict.
pub fn alignment_breakdown(reports: &[Report], filter: &Filter) -> AlignmentBreakdown {
    let mut out = AlignmentBreakdown::default();
    for (_, record) in filter.select(reports) {
        let slot = match (record.dkim_aligned_pass(), record.spf_aligned_pass()) {
            (true, true) => &mut out.both_pass,
            (true, false) => &mut out.dkim_only,
            (false, true) => &mut out.spf_only,
            (false, false) => &mut out.both_fail,
        };
        *slot = slot.saturating_add(record.count);
    }
    out
}

/// How well traffic complies with DMARC and how failures were treated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyCompliance {
    /// Messages that passed DMARC.
    pub compliant: u64,
    /// Failing messages that were quarantined or rejected.
    pub failing_enforced: u64,
    /// Failing messages delivered anyway (policy `none`, an override, or no disposition).
    pub failing_delivered: u64,
    /// Messages under a published `p=none`.
    pub policy_none: u64,
    /// Messages under a published `p=quarantine`.
    pub policy_quarantine: u64,
    /// Messages under a published `p=reject`.
    pub policy_reject: u64,
}

/// How well traffic complies with DMARC and how failures were treated.
pub fn policy_compliance(reports: &[Report], filter: &Filter) -> PolicyCompliance {
    let mut out = PolicyCompliance::default();
    for (report, record) in filter.select(reports) {
        let outcome = match failure_delivered(record) {
            None => &mut out.compliant,
            Some(false) => &mut out.failing_enforced,
            Some(true) => &mut out.failing_delivered,
        };
        *outcome = outcome.saturating_add(record.count);
        let policy = match report.policy_effective.p {
            Disposition::Quarantine => &mut out.policy_quarantine,
            Disposition::Reject => &mut out.policy_reject,
            _ => &mut out.policy_none,
        };
        *policy = policy.saturating_add(record.count);
    }
    out
}

/// What enforcing `p=reject` would change for one policy domain: its failing messages
/// that were delivered (what `p=reject` would stop) and the addresses that sent them,
/// beside the policy in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnforcementImpact {
    /// The policy domain (lower-case).
    pub domain: String,
    /// All messages.
    pub messages: u64,
    /// Messages that failed DMARC and were quarantined or rejected.
    pub failing_enforced: u64,
    /// Messages that failed DMARC and were delivered: what `p=reject` would stop.
    pub failing_delivered: u64,
    /// Distinct source addresses of the failing delivered messages.
    pub sources: u64,
    /// `p` in force in the domain's latest report (by period end, then start, reporter
    /// and report id) among those the filter selects.
    pub policy: String,
    /// `sp` in force there.
    pub subdomain_policy: String,
    /// `pct` in force there.
    pub pct: u32,
}

/// A failing record's treatment: `Some(true)` delivered, `Some(false)` enforced, `None`
/// when it passed DMARC.
pub fn failure_delivered(record: &Record) -> Option<bool> {
    if record.dmarc_pass() {
        return None;
    }
    Some(!matches!(
        record.policy_evaluated.disposition,
        Some(Disposition::Quarantine | Disposition::Reject)
    ))
}

/// The enforcement impact per policy domain, most failing delivered messages first (then
/// by domain).
pub fn enforcement_impact(reports: &[Report], filter: &Filter) -> Vec<EnforcementImpact> {
    struct Acc<'a> {
        impact: EnforcementImpact,
        addresses: HashSet<[u8; 16]>,
        latest: &'a Report,
    }
    let later = |a: &Report, b: &Report| {
        let key = |r: &Report| {
            let range = r.report_metadata.date_range;
            let id = r.identity();
            (range.end, range.begin, id.reporter, id.report_id)
        };
        key(a) > key(b)
    };
    // The policy is the report's: its latest report among those the filter's report
    // conditions select, whatever records the record conditions keep.
    let mut latest: HashMap<String, &Report> = HashMap::new();
    for report in reports.iter().filter(|r| filter.matches_report(r)) {
        let slot = latest.entry(report.domain_key()).or_insert(report);
        if later(report, slot) {
            *slot = report;
        }
    }
    let mut by_domain: HashMap<String, Acc<'_>> = HashMap::new();
    for (report, record) in filter.select(reports) {
        let domain = report.domain_key();
        let acc = by_domain.entry(domain.clone()).or_insert_with(|| Acc {
            latest: latest[&domain],
            impact: EnforcementImpact {
                domain,
                messages: 0,
                failing_enforced: 0,
                failing_delivered: 0,
                sources: 0,
                policy: String::new(),
                subdomain_policy: String::new(),
                pct: 0,
            },
            addresses: HashSet::new(),
        });
        let i = &mut acc.impact;
        i.messages = i.messages.saturating_add(record.count);
        match failure_delivered(record) {
            Some(true) => {
                i.failing_delivered = i.failing_delivered.saturating_add(record.count);
                if let Some(ip) = record.source_ip {
                    acc.addresses.insert(crate::filter::ip_key(ip));
                }
            }
            Some(false) => i.failing_enforced = i.failing_enforced.saturating_add(record.count),
            None => {}
        }
    }
    let mut out: Vec<EnforcementImpact> = by_domain
        .into_values()
        .map(|mut acc| {
            let policy = &acc.latest.policy_effective;
            acc.impact.sources = acc.addresses.len() as u64;
            acc.impact.policy = policy.p.as_str().to_owned();
            acc.impact.subdomain_policy = policy.sp.as_str().to_owned();
            acc.impact.pct = policy.pct;
            acc.impact
        })
        .collect();
    out.sort_by(|a, b| {
        b.failing_delivered
            .cmp(&a.failing_delivered)
            .then_with(|| a.domain.cmp(&b.domain))
    });
    out
}

/// What one source address did, the input of anomaly scoring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceActivity {
    /// The source address.
    pub source_ip: IpAddr,
    /// Messages by outcome.
    #[serde(flatten)]
    pub tally: Tally,
    /// Messages quarantined.
    pub quarantined: u64,
    /// Messages rejected.
    pub rejected: u64,
    /// Distinct `header_from` domains it sent as.
    pub header_from_domains: u64,
    /// Distinct reporters that saw it.
    pub reporters: u64,
    /// Distinct UTC days on which reports saw it (by report period start).
    pub days_active: u64,
    /// Earliest report period start that includes it.
    pub first_seen: i64,
    /// Latest report period end that includes it.
    pub last_seen: i64,
}

/// Per-source activity for rows with a usable source address, most messages first.
pub fn source_activity(reports: &[Report], filter: &Filter) -> Vec<SourceActivity> {
    struct Acc {
        activity: SourceActivity,
        header_from: HashSet<String>,
        reporters: HashSet<String>,
        days: HashSet<i64>,
    }
    let mut by_ip: HashMap<IpAddr, Acc> = HashMap::new();
    for (report, record) in filter.select(reports) {
        let Some(ip) = record.source_ip else { continue };
        let range = report.report_metadata.date_range;
        let acc = by_ip.entry(ip).or_insert_with(|| Acc {
            activity: SourceActivity {
                source_ip: ip,
                tally: Tally::default(),
                quarantined: 0,
                rejected: 0,
                header_from_domains: 0,
                reporters: 0,
                days_active: 0,
                first_seen: range.begin,
                last_seen: range.end,
            },
            header_from: HashSet::new(),
            reporters: HashSet::new(),
            days: HashSet::new(),
        });
        let a = &mut acc.activity;
        a.tally.add(record, record.count);
        match record.policy_evaluated.disposition {
            Some(Disposition::Quarantine) => {
                a.quarantined = a.quarantined.saturating_add(record.count)
            }
            Some(Disposition::Reject) => a.rejected = a.rejected.saturating_add(record.count),
            _ => {}
        }
        a.first_seen = a.first_seen.min(range.begin);
        a.last_seen = a.last_seen.max(range.end);
        if let Some(from) = &record.identifiers.header_from {
            acc.header_from.insert(from.to_ascii_lowercase());
        }
        acc.reporters.insert(report.organization());
        acc.days.insert(range.begin.div_euclid(DAY));
    }
    let mut out: Vec<SourceActivity> = by_ip
        .into_values()
        .map(|mut acc| {
            acc.activity.header_from_domains = acc.header_from.len() as u64;
            acc.activity.reporters = acc.reporters.len() as u64;
            acc.activity.days_active = acc.days.len() as u64;
            acc.activity
        })
        .collect();
    out.sort_by(|a, b| {
        b.tally
            .messages
            .cmp(&a.tally.messages)
            .then(a.source_ip.cmp(&b.source_ip))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_format() {
        assert_eq!(format_day(0), "1970-01-01");
        assert_eq!(format_day(19_723), "2024-01-01");
        assert_eq!(format_day(11_016), "2000-02-29");
        assert_eq!(format_day(-1), "1969-12-31");
    }

    #[test]
    fn overlaps_split_at_midnight() {
        // 23:00 to 23:00 the next day: 1 hour, then 23 hours.
        let begin = 19_723 * DAY - 3600;
        assert_eq!(
            day_overlaps(begin, begin + DAY),
            vec![(19_722, 3600), (19_723, 82_800)]
        );
        // Google's inclusive day stays in one day.
        assert_eq!(
            day_overlaps(19_723 * DAY, 19_723 * DAY + 86_399),
            vec![(19_723, 86_399)]
        );
        assert_eq!(day_overlaps(100, 100), vec![(0, 1)]);
        assert_eq!(day_overlaps(100, 50), vec![(0, 1)]);
    }

    fn bucket(day: i64, messages: u64, failed: u64) -> DayBucket {
        DayBucket {
            day: format_day(day),
            day_start: day * DAY,
            tally: Tally {
                messages,
                dmarc_pass: messages - failed,
                dmarc_fail: failed,
                ..Tally::default()
            },
        }
    }

    #[test]
    fn timelines_stay_small_whatever_the_dates() {
        let class = OutcomeClass {
            disposition: "none",
            dkim_pass: true,
            spf_pass: false,
        };
        let mut builder = TimelineBuilder::new(&Filter::default());
        builder.add(1_700_000_000, 1_700_086_400, class, 5);
        builder.add(9_000_000_000_000_000, 9_000_000_000_086_400, class, 7);
        builder.add(i64::MAX - 10, i64::MAX, class, 1);
        builder.add(0, 1, class, 2);
        let days = builder.finish();
        // Far apart: only the days with messages.
        assert_eq!(days.len(), 5);
        assert_eq!(days.iter().map(|d| d.tally.messages).sum::<u64>(), 15);
        // Within a period, only its days.
        let filter = Filter {
            from: Some(19_675 * DAY),
            to: Some(19_677 * DAY),
            ..Filter::default()
        };
        let mut builder = TimelineBuilder::new(&filter);
        builder.add(19_600 * DAY, 19_700 * DAY, class, 100);
        let days = builder.finish();
        assert_eq!(
            days.iter().map(|d| d.day.as_str()).collect::<Vec<_>>(),
            ["2023-11-14", "2023-11-15"]
        );
        assert_eq!(days.iter().map(|d| d.tally.messages).sum::<u64>(), 2);
        // Close together: every day between, empty ones too.
        let mut builder = TimelineBuilder::new(&Filter::default());
        builder.add(0, 1, class, 1);
        builder.add(10 * DAY, 10 * DAY + 1, class, 1);
        assert_eq!(builder.finish().len(), 11);
    }

    #[test]
    fn the_moving_average_covers_calendar_days_not_list_positions() {
        // Day 0: 10 messages, all failed; day 1: nothing listed; day 2: 10, none failed.
        let days = [bucket(0, 10, 10), bucket(2, 10, 0)];
        let trend = trend_from_timeline(&days, 2);
        // Day 2's window is days 1 and 2: day 0 has left it.
        assert_eq!(trend[1].moving_average, 0.0);
        let trend = trend_from_timeline(&days, 3);
        assert_eq!(trend[1].moving_average, 0.5);
        assert_eq!(trend[0].moving_average, 1.0);
    }

    #[test]
    fn spread_conserves_counts() {
        let mut shares = Vec::new();
        spread(10, &[(0, 1), (1, 1), (2, 1)], &mut shares);
        assert_eq!(shares, vec![4, 3, 3]);
        spread(1, &[(0, 3600), (1, 82_800)], &mut shares);
        assert_eq!(shares, vec![0, 1]);
        spread(u64::MAX, &[(0, 7), (1, 11)], &mut shares);
        assert_eq!(
            shares.iter().map(|&s| u128::from(s)).sum::<u128>(),
            u128::from(u64::MAX)
        );
    }
}
