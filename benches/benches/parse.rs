//! Parsing throughput: generated reports of 100,000 records in every container, and the
//! real-world corpus. The comparison with mail-auth lives in `benches/mail-auth/`.

use std::hint::black_box;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dmarc_benches::{Container, Generator, Reporter};
use dmarc_core::{ParseOptions, parse_input, parse_xml};

fn options() -> ParseOptions {
    ParseOptions::at(dmarc_benches::NOW)
}

fn containers(c: &mut Criterion) {
    let report =
        Generator::new(2026).report(Reporter::Microsoft, "example.com", 1_700_000_000, 100_000);
    let xml_len = report.xml.len() as u64;
    let mut group = c.benchmark_group("parse_100k_records");
    group.sample_size(10);
    for container in [
        Container::Xml,
        Container::Gzip,
        Container::Zip,
        Container::Eml,
    ] {
        let bytes = report.container(container);
        // Throughput in bytes of XML, whatever the container, so the figures compare.
        group.throughput(Throughput::Bytes(xml_len));
        group.bench_with_input(
            BenchmarkId::new("xml_bytes", format!("{container:?}")),
            &bytes,
            |b, bytes| {
                b.iter(|| parse_input(black_box(bytes), &options()));
            },
        );
    }
    group.throughput(Throughput::Elements(report.records as u64));
    group.bench_function("records", |b| {
        b.iter(|| parse_xml(black_box(report.xml.as_bytes()), &options()))
    });
    group.finish();
}

fn corpus(c: &mut Criterion) {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../dmarc-core/tests/data/corpus/aggregate");
    let mut files: Vec<Vec<u8>> = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("corpus folder") {
        files.push(std::fs::read(entry.expect("entry").path()).expect("read"));
    }
    let bytes: u64 = files.iter().map(|f| f.len() as u64).sum();
    let mut group = c.benchmark_group("corpus");
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function(format!("{}_files", files.len()), |b| {
        b.iter(|| {
            for f in &files {
                black_box(parse_input(f, &options()));
            }
        });
    });
    group.finish();
}

criterion_group!(benches, containers, corpus);
criterion_main!(benches);
