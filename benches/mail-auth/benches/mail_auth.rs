//! dmarc-core against mail-auth's aggregate-report parser on the same generated XML:
//! about 9 MB (the size mail-auth was measured on) and 100,000 records.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dmarc_benches::{Generator, Reporter};
use dmarc_core::{ParseOptions, parse_xml};

fn compare(c: &mut Criterion, name: &str, xml: &[u8]) {
    assert!(mail_auth::report::Report::parse_xml(xml).is_ok(), "mail-auth reads the generated report");
    let options = ParseOptions::at(dmarc_benches::NOW);
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    group.throughput(Throughput::Bytes(xml.len() as u64));
    group.bench_function("dmarc_core", |b| b.iter(|| parse_xml(black_box(xml), &options)));
    group.bench_function("mail_auth", |b| b.iter(|| mail_auth::report::Report::parse_xml(black_box(xml))));
    group.finish();
}

fn benches(c: &mut Criterion) {
    let nine_mb = Generator::new(9).report(Reporter::Google, "example.com", 1_700_000_000, 20_000);
    compare(c, "xml_9mb", nine_mb.xml.as_bytes());
    let large = Generator::new(2026).report(Reporter::Microsoft, "example.com", 1_700_000_000, 100_000);
    compare(c, "xml_100k_records", large.xml.as_bytes());
}

criterion_group!(all, benches);
criterion_main!(all);
