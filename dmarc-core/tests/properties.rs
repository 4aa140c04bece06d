//! Property tests: the parser never panics, rollups conserve message counts and do not
//! depend on the order of reports or records.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use dmarc_core::rollup::{self, Tally};
use dmarc_core::*;
use proptest::prelude::*;

// ----- the parser never panics ------------------------------------------------------------

fn seeds() -> Vec<Vec<u8>> {
    let xml = common::report(
        None,
        "<domain>example.com</domain><p>reject</p><sp>none</sp><pct>100</pct>",
        &(common::record("192.0.2.1", 3, "pass", "fail")
            + &common::record("2001:db8::7", 1, "fail", "fail")),
    );
    let gz = common::gzip(xml.as_bytes());
    let zip = common::zip(&[("r.xml", xml.as_bytes())]);
    let mail = common::message(
        "r",
        &[common::attachment("application/gzip", "r.xml.gz", &gz)],
    );
    vec![xml.into_bytes(), gz, zip, mail]
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Mutation::Remove(i, n)),
        (
            any::<usize>(),
            prop::sample::select(vec![
                b"<".to_vec(),
                b"</".to_vec(),
                b"&".to_vec(),
                b"<!DOCTYPE x>".to_vec(),
                b"<record>".to_vec(),
                b"\x00".to_vec(),
                b"\xFF\xFE".to_vec(),
                b"]]>".to_vec(),
                b"<![CDATA[".to_vec(),
            ])
        )
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match m {
            Mutation::Flip(i, b) => {
                if let Some(x) = bytes.get_mut(i % len) {
                    *x ^= b | 1;
                }
            }
            Mutation::Truncate(i) => bytes.truncate(i % len),
            Mutation::Insert(i, v) => {
                let at = i % (bytes.len() + 1);
                bytes.splice(at..at, v.iter().copied());
            }
            Mutation::Remove(i, n) => {
                let at = i % len;
                let end = (at + n).min(bytes.len());
                if at < end {
                    bytes.drain(at..end);
                }
            }
        }
    }
    bytes
}

fn check_never_panics(bytes: &[u8]) {
    for strict in [false, true] {
        let options = ParseOptions {
            strict,
            ..common::options()
        };
        let parsed = parse_input(bytes, &options);
        assert!(!parsed.is_empty(), "every input gets an outcome");
        for p in parsed {
            if let Ok(report) = p.result {
                assert!(!report.records.is_empty());
                // What is accepted also round-trips through JSON.
                let json = serde_json::to_string(&report).expect("serialise");
                let back: Report = serde_json::from_str(&json).expect("deserialise");
                assert_eq!(back.records, report.records);
                // And rollups over it conserve the message count.
                let sum = rollup::summary(std::slice::from_ref(&report), &Filter::default());
                assert_eq!(sum.tally.messages, report.message_count());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        check_never_panics(&bytes);
    }

    #[test]
    fn mutated_reports_never_panic(seed in 0usize..4, mutations in prop::collection::vec(mutation(), 1..6)) {
        let bytes = apply(seeds()[seed].clone(), &mutations);
        check_never_panics(&bytes);
    }
}

// ----- rollups ----------------------------------------------------------------------------

const DOMAINS: &[&str] = &["example.com", "Example.org", "example.net"];
const ORGS: &[&str] = &["google.com", "Outlook.com", "Yahoo! Inc."];

#[derive(Debug, Clone)]
struct Spec {
    domain: usize,
    org: usize,
    begin: i64,
    span: i64,
    p: Disposition,
    records: Vec<(IpAddr, u64, bool, bool, Option<Disposition>)>,
}

fn disposition() -> impl Strategy<Value = Disposition> {
    prop::sample::select(vec![
        Disposition::None,
        Disposition::Quarantine,
        Disposition::Reject,
        Disposition::Pass,
        Disposition::Other("softfail".into()),
    ])
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        (0u8..4, 0u8..4).prop_map(|(a, b)| IpAddr::V4(Ipv4Addr::new(192, 0, a, b))),
        (0u16..4).prop_map(|x| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, x))),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0..DOMAINS.len(),
        0..ORGS.len(),
        1_700_000_000i64..1_700_600_000,
        prop_oneof![Just(0i64), Just(86_399), Just(86_400), 1i64..2_000_000],
        disposition(),
        prop::collection::vec(
            (
                ip(),
                0u64..1000,
                any::<bool>(),
                any::<bool>(),
                prop::option::of(disposition()),
            ),
            1..12,
        ),
    )
        .prop_map(|(domain, org, begin, span, p, records)| Spec {
            domain,
            org,
            begin,
            span,
            p,
            records,
        })
}

fn build(index: usize, spec: &Spec) -> Report {
    let verdict = |pass: bool| {
        Some(if pass {
            DmarcResult::Pass
        } else {
            DmarcResult::Fail
        })
    };
    let policy_published = PolicyPublished {
        domain: DOMAINS[spec.domain].to_owned(),
        p: Some(spec.p.clone()),
        ..PolicyPublished::default()
    };
    Report {
        dialect: Dialect::Rfc7489,
        namespace: None,
        version: Some("1.0".into()),
        report_metadata: ReportMetadata {
            org_name: Some(ORGS[spec.org].to_owned()),
            email: None,
            report_id: format!("r{index}"),
            date_range: DateRange {
                begin: spec.begin,
                end: spec.begin + spec.span,
            },
            ..ReportMetadata::default()
        },
        policy_effective: policy_published.effective(),
        policy_published,
        extensions: Vec::new(),
        records: spec
            .records
            .iter()
            .map(|(ip, count, dkim, spf, disposition)| Record {
                source_ip: Some(*ip),
                count: *count,
                policy_evaluated: PolicyEvaluated {
                    disposition: disposition.clone(),
                    dkim: verdict(*dkim),
                    spf: verdict(*spf),
                    reason: Vec::new(),
                },
                identifiers: Identifiers {
                    header_from: Some(DOMAINS[spec.domain].to_owned()),
                    ..Identifiers::default()
                },
                auth_results: AuthResults::default(),
                extensions: Vec::new(),
            })
            .collect(),
        xml_sha256: format!("{index:064x}"),
        diagnostics: Vec::new(),
    }
}

#[derive(Debug, PartialEq)]
struct All {
    summary: rollup::Summary,
    domains: Vec<rollup::Group>,
    orgs: Vec<rollup::Group>,
    sources: Vec<rollup::SourceGroup>,
    dispositions: rollup::DispositionBreakdown,
    alignment: rollup::AlignmentBreakdown,
    compliance: rollup::PolicyCompliance,
    timeline: Vec<rollup::DayBucket>,
    activity: Vec<rollup::SourceActivity>,
}

fn all(reports: &[Report], filter: &Filter) -> All {
    All {
        summary: rollup::summary(reports, filter),
        domains: rollup::by_domain(reports, filter),
        orgs: rollup::by_organization(reports, filter),
        sources: rollup::by_source(reports, filter),
        dispositions: rollup::disposition_breakdown(reports, filter),
        alignment: rollup::alignment_breakdown(reports, filter),
        compliance: rollup::policy_compliance(reports, filter),
        timeline: rollup::timeline(reports, filter),
        activity: rollup::source_activity(reports, filter),
    }
}

fn sum<'a>(tallies: impl Iterator<Item = &'a Tally>) -> Tally {
    let mut total = Tally::default();
    for t in tallies {
        total.merge(t);
    }
    total
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn rollups_conserve_messages(specs in prop::collection::vec(spec(), 0..8)) {
        let reports: Vec<Report> = specs.iter().enumerate().map(|(i, s)| build(i, s)).collect();
        let total: u64 = reports.iter().map(Report::message_count).sum();
        let a = all(&reports, &Filter::default());
        prop_assert_eq!(a.summary.tally.messages, total);
        prop_assert_eq!(a.summary.tally.dmarc_pass + a.summary.tally.dmarc_fail, total);
        prop_assert_eq!(sum(a.domains.iter().map(|g| &g.tally)), a.summary.tally);
        prop_assert_eq!(sum(a.orgs.iter().map(|g| &g.tally)), a.summary.tally);
        prop_assert_eq!(sum(a.sources.iter().map(|g| &g.tally)), a.summary.tally);
        prop_assert_eq!(sum(a.timeline.iter().map(|d| &d.tally)), a.summary.tally);
        prop_assert_eq!(sum(a.activity.iter().map(|s| &s.tally)), a.summary.tally);
        let d = a.dispositions;
        prop_assert_eq!(d.none + d.quarantine + d.reject + d.pass + d.other, total);
        let al = a.alignment;
        prop_assert_eq!(al.both_pass + al.dkim_only + al.spf_only + al.both_fail, total);
        prop_assert_eq!(al.both_fail, a.summary.tally.dmarc_fail);
        let c = a.compliance;
        prop_assert_eq!(c.compliant + c.failing_enforced + c.failing_delivered, total);
        prop_assert_eq!(c.policy_none + c.policy_quarantine + c.policy_reject, total);
        let trend = rollup::trend_from_timeline(&a.timeline, 7);
        prop_assert_eq!(trend.iter().map(|t| t.failed).sum::<u64>(), a.summary.tally.dmarc_fail);
        prop_assert!(trend.iter().all(|t| (0.0..=1.0).contains(&t.moving_average)));
    }

    #[test]
    fn rollups_do_not_depend_on_order(specs in prop::collection::vec(spec(), 1..8), seed in any::<u64>()) {
        let reports: Vec<Report> = specs.iter().enumerate().map(|(i, s)| build(i, s)).collect();
        let mut shuffled = reports.clone();
        let mut state = seed | 1;
        let mut next = move || { state ^= state << 13; state ^= state >> 7; state ^= state << 17; state };
        for i in (1..shuffled.len()).rev() {
            let j = (next() % (i as u64 + 1)) as usize;
            shuffled.swap(i, j);
        }
        for report in &mut shuffled {
            report.records.reverse();
        }
        prop_assert_eq!(all(&reports, &Filter::default()), all(&shuffled, &Filter::default()));
    }

    #[test]
    fn filters_partition_messages(specs in prop::collection::vec(spec(), 1..8)) {
        let reports: Vec<Report> = specs.iter().enumerate().map(|(i, s)| build(i, s)).collect();
        let total = rollup::summary(&reports, &Filter::default()).tally.messages;
        let messages = |filter: Filter| rollup::summary(&reports, &filter).tally.messages;
        for pick in [|v| Filter { dkim: Some(v), ..Filter::default() }, |v| Filter { spf: Some(v), ..Filter::default() }] {
            prop_assert_eq!(messages(pick(Verdict::Pass)) + messages(pick(Verdict::Fail)), total);
        }
        // One key space: every address lies in ::/0, IPv4 ones also in ::ffff:0:0/96.
        let ip = |net: &str| Filter { source_ip: Some(net.parse::<IpFilter>().unwrap()), ..Filter::default() };
        let with_address: u64 = reports.iter().flat_map(|r| &r.records).filter(|r| r.source_ip.is_some()).map(|r| r.count).sum();
        prop_assert_eq!(messages(ip("::/0")), with_address);
        prop_assert_eq!(messages(ip("0.0.0.0/0")), messages(ip("::ffff:0:0/96")));
        let by_domain: u64 = DOMAINS.iter().map(|d| messages(Filter { domains: vec![d.to_uppercase()], ..Filter::default() })).sum();
        prop_assert_eq!(by_domain, total);
        let split = 1_700_300_000;
        let early = Filter { to: Some(split), ..Filter::default() };
        let late = Filter { from: Some(split), ..Filter::default() };
        prop_assert!(messages(early) + messages(late) >= total, "a report spanning the split counts in both");
    }
}

/// Inputs that once made a fuzz target fail; each must now yield an outcome, never a panic.
#[test]
fn fuzz_regressions() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz-regressions");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz-regressions folder") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
        check_never_panics(&bytes);
        seen += 1;
    }
    assert!(seen > 0);
}
