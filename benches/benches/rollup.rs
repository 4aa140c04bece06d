//! Rollup throughput over one million generated records.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dmarc_benches::Generator;
use dmarc_core::{Filter, ParseOptions, Report, Verdict, parse_xml, rollup};

fn reports() -> Vec<Report> {
    Generator::new(1)
        .batch(2_000, 20, 1_700_000_000, 1_000_000)
        .iter()
        .map(|g| {
            parse_xml(g.xml.as_bytes(), &ParseOptions::at(dmarc_benches::NOW))
                .expect("generated reports parse")
        })
        .collect()
}

fn rollups(c: &mut Criterion) {
    let reports = reports();
    let records: u64 = reports.iter().map(|r| r.records.len() as u64).sum();
    let all = Filter::default();
    let failing = Filter {
        dkim: Some(Verdict::Fail),
        spf: Some(Verdict::Fail),
        ..Filter::default()
    };
    let mut group = c.benchmark_group("rollup_1m_records");
    group.sample_size(10);
    group.throughput(Throughput::Elements(records));
    group.bench_function("summary", |b| {
        b.iter(|| rollup::summary(black_box(&reports), &all))
    });
    group.bench_function("summary_failing_only", |b| {
        b.iter(|| rollup::summary(black_box(&reports), &failing))
    });
    group.bench_function("by_domain", |b| {
        b.iter(|| rollup::by_domain(black_box(&reports), &all))
    });
    group.bench_function("by_source", |b| {
        b.iter(|| rollup::by_source(black_box(&reports), &all))
    });
    group.bench_function("by_organization", |b| {
        b.iter(|| rollup::by_organization(black_box(&reports), &all))
    });
    group.bench_function("disposition", |b| {
        b.iter(|| rollup::disposition_breakdown(black_box(&reports), &all))
    });
    group.bench_function("alignment", |b| {
        b.iter(|| rollup::alignment_breakdown(black_box(&reports), &all))
    });
    group.bench_function("policy_compliance", |b| {
        b.iter(|| rollup::policy_compliance(black_box(&reports), &all))
    });
    group.bench_function("timeline", |b| {
        b.iter(|| rollup::timeline(black_box(&reports), &all))
    });
    group.bench_function("failure_trend_7d", |b| {
        b.iter(|| rollup::failure_trend(black_box(&reports), &all, 7))
    });
    group.bench_function("source_activity", |b| {
        b.iter(|| rollup::source_activity(black_box(&reports), &all))
    });
    group.finish();
}

/// One report of 158,270 records covering 366 days (the hardening issue's case): the
/// timeline spreads it over 367 days, per outcome class.
fn long_period(c: &mut Criterion) {
    let mut report = Generator::new(2).report(
        dmarc_benches::Reporter::Microsoft,
        "example.com",
        1_700_000_000,
        158_270,
    );
    report.xml = report.xml.replace(
        "<end>1700086400</end>",
        &format!("<end>{}</end>", 1_700_000_000 + 366 * 86_400),
    );
    // The generator writes about 900 bytes a record: above the default 128 MiB.
    let options = ParseOptions {
        limits: dmarc_core::Limits {
            max_xml_bytes: 512 << 20,
            ..dmarc_core::Limits::default()
        },
        ..ParseOptions::at(dmarc_benches::NOW)
    };
    let report = parse_xml(report.xml.as_bytes(), &options).expect("the report parses");
    assert!(report.report_metadata.date_range.end > 1_700_000_000 + 365 * 86_400);
    let reports = [report];
    let mut group = c.benchmark_group("long_period_366_days");
    group.sample_size(10);
    group.throughput(Throughput::Elements(158_270));
    group.bench_function("timeline", |b| {
        b.iter(|| rollup::timeline(black_box(&reports), &Filter::default()))
    });
    group.finish();
}

criterion_group!(benches, rollups, long_period);
criterion_main!(benches);
