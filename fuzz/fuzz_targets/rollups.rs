//! Structure-aware: one to three reports built from fuzzed fields (dates as any integer,
//! float or text, counts from 0 to beyond 2^64, any strings), parsed, then every rollup run
//! on each report alone and on all of them together. The rollups must add up to the
//! messages, and no per-day answer may grow with the dates: such a target found a report
//! whose timeline asked for 7.5 TB within its first 25 inputs.
#![no_main]

use dmarc_core::rollup::{self, MAX_DENSE_DAYS};
use dmarc_core::{Filter, ParseOptions, Report, parse_xml};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

/// 2026-11-30: the time of ingestion.
const NOW: i64 = 1_796_083_200;
const DAY: i64 = 86_400;

#[derive(Debug, Arbitrary)]
enum Number {
    Int(i64),
    Wide(u64),
    Huge(u128),
    Float(f64),
    Millis(u32, u16),
    Text(String),
}

impl Number {
    fn text(&self) -> String {
        match self {
            Number::Int(v) => v.to_string(),
            Number::Wide(v) => v.to_string(),
            Number::Huge(v) => v.to_string(),
            Number::Float(v) => v.to_string(),
            // A plausible time in milliseconds, the known reporter bug.
            Number::Millis(days, ms) => {
                (1_600_000_000_000 + i64::from(*days) * 1000 + i64::from(*ms)).to_string()
            }
            Number::Text(v) => escape(v),
        }
    }
}

#[derive(Debug, Arbitrary)]
struct FuzzRecord {
    ip: [u8; 4],
    v6: Option<u16>,
    count: Number,
    disposition: u8,
    dkim: bool,
    spf: bool,
    header_from: String,
}

#[derive(Debug, Arbitrary)]
struct FuzzReport {
    org: String,
    report_id: String,
    domain: String,
    policy: u8,
    begin: Number,
    end: Number,
    records: Vec<FuzzRecord>,
}

#[derive(Debug, Arbitrary)]
struct Input {
    first: FuzzReport,
    more: Vec<FuzzReport>,
    window: (i32, u16),
}

fn escape(text: &str) -> String {
    text.chars()
        .take(200)
        .filter(|c| !c.is_control())
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn word(choice: u8, words: &[&'static str]) -> &'static str {
    words[usize::from(choice) % words.len()]
}

fn xml(report: &FuzzReport) -> String {
    let mut out = format!(
        "<feedback><report_metadata><org_name>{}</org_name><email>d@example.net</email>\
         <report_id>{}</report_id><date_range><begin>{}</begin><end>{}</end></date_range>\
         </report_metadata><policy_published><domain>{}</domain><p>{}</p></policy_published>",
        escape(&report.org),
        escape(&report.report_id),
        report.begin.text(),
        report.end.text(),
        escape(&report.domain),
        word(report.policy, &["none", "quarantine", "reject", "bogus"]),
    );
    for r in report.records.iter().take(8) {
        let ip = match r.v6 {
            Some(v) => format!("2001:db8::{v:x}"),
            None => format!("{}.{}.{}.{}", r.ip[0], r.ip[1], r.ip[2], r.ip[3]),
        };
        let verdict = |pass: bool| if pass { "pass" } else { "fail" };
        out.push_str(&format!(
            "<record><row><source_ip>{ip}</source_ip><count>{}</count><policy_evaluated>\
             <disposition>{}</disposition><dkim>{}</dkim><spf>{}</spf></policy_evaluated></row>\
             <identifiers><header_from>{}</header_from></identifiers></record>",
            r.count.text(),
            word(r.disposition, &["none", "quarantine", "reject", "pass", "softfail", ""]),
            verdict(r.dkim),
            verdict(r.spf),
            escape(&r.header_from),
        ));
    }
    out.push_str("</feedback>");
    out
}

/// Checks every rollup over `reports` with `filter`.
fn check(reports: &[Report], filter: &Filter) {
    let messages: u128 = filter
        .select(reports)
        .map(|(_, record)| u128::from(record.count))
        .sum();
    let summary = rollup::summary(reports, filter);
    assert_eq!(u128::from(summary.tally.messages), messages);
    assert_eq!(
        summary.tally.dmarc_pass + summary.tally.dmarc_fail,
        summary.tally.messages
    );
    let sum = |groups: &[rollup::Group]| groups.iter().map(|g| u128::from(g.tally.messages)).sum::<u128>();
    assert_eq!(sum(&rollup::by_domain(reports, filter)), messages);
    assert_eq!(sum(&rollup::by_organization(reports, filter)), messages);
    let sources: u128 = rollup::by_source(reports, filter)
        .iter()
        .map(|s| u128::from(s.tally.messages))
        .sum();
    assert_eq!(sources, messages);
    let d = rollup::disposition_breakdown(reports, filter);
    assert_eq!(
        [d.none, d.quarantine, d.reject, d.pass, d.other].map(u128::from).iter().sum::<u128>(),
        messages
    );
    let a = rollup::alignment_breakdown(reports, filter);
    assert_eq!(
        [a.both_pass, a.dkim_only, a.spf_only, a.both_fail].map(u128::from).iter().sum::<u128>(),
        messages
    );
    let c = rollup::policy_compliance(reports, filter);
    assert_eq!(
        [c.compliant, c.failing_enforced, c.failing_delivered].map(u128::from).iter().sum::<u128>(),
        messages
    );
    assert_eq!(
        [c.policy_none, c.policy_quarantine, c.policy_reject].map(u128::from).iter().sum::<u128>(),
        messages
    );
    let days = rollup::timeline(reports, filter);
    // Bounded by the period asked for, else by the calendar rule, never by the dates.
    let bound = match filter.days() {
        (Some(first), Some(last)) => (last - first + 1).max(0) as usize,
        _ => (MAX_DENSE_DAYS as usize).max(367 * reports.len()),
    };
    assert!(days.len() <= bound, "{} days > {bound}", days.len());
    if filter.from.is_none() && filter.to.is_none() {
        let spread: u128 = days.iter().map(|d| u128::from(d.tally.messages)).sum();
        assert_eq!(spread, messages, "the timeline spreads every message");
    }
    assert_eq!(rollup::trend_from_timeline(&days, 7).len(), days.len());
    let _ = rollup::source_activity(reports, filter);
}

fuzz_target!(|input: Input| {
    let options = ParseOptions::at(NOW);
    let reports: Vec<Report> = std::iter::once(&input.first)
        .chain(input.more.iter().take(2))
        .filter_map(|r| parse_xml(xml(r).as_bytes(), &options).ok())
        .collect();
    for report in &reports {
        // Accepted periods are never in the future.
        let range = report.report_metadata.date_range;
        assert!(range.begin.max(range.end) <= NOW + 3 * DAY, "{range:?}");
        check(std::slice::from_ref(report), &Filter::default());
    }
    check(&reports, &Filter::default());
    let (start, days) = input.window;
    let from = 1_700_000_000 + i64::from(start) * 60;
    let filter = Filter {
        from: Some(from),
        to: Some(from + i64::from(days) * DAY / 24 + 1),
        ..Filter::default()
    };
    check(&reports, &filter);
});
