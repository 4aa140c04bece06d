//! Every file of the real-world corpus against the reference values in
//! `tests/data/corpus/reference/` (see its README for how they were made).

mod common;

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use dmarc_core::{
    Alignment, DiagnosticCode, Disposition, DkimResult, ErrorKind, ParseOptions, Record, Report,
    Severity, SpfResult, SpfScope, parse_input,
};
use serde_json::Value;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus")
}

fn parse_file(path: &Path) -> Vec<Result<Report, dmarc_core::Error>> {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_input(&bytes, &common::options())
        .into_iter()
        .map(|p| p.result)
        .collect()
}

fn text(v: &Value) -> Option<&str> {
    v.as_str()
}

/// The values the reference expects: parsedmarc's where it succeeded, else the strict
/// XML cross-check.
fn expected_reports(reference: &Value) -> Option<&Vec<Value>> {
    let reports = reference["reports"].as_array()?;
    if !reports.is_empty() {
        return Some(reports);
    }
    reference["crosscheck"]["xml_reports"].as_array()
}

fn check_report(file: &str, want: &Value, got: &Report) {
    let meta = &got.report_metadata;
    let ctx = |field: &str| format!("{file}: {field}");
    assert_eq!(
        meta.org_name.as_deref(),
        text(&want["org_name"]),
        "{}",
        ctx("org_name")
    );
    assert_eq!(
        meta.email.as_deref(),
        text(&want["email"]),
        "{}",
        ctx("email")
    );
    assert_eq!(
        Some(meta.report_id.as_str()),
        text(&want["report_id"]),
        "{}",
        ctx("report_id")
    );
    assert_eq!(
        Some(meta.date_range.begin),
        want["begin"].as_i64(),
        "{}",
        ctx("begin")
    );
    assert_eq!(
        Some(meta.date_range.end),
        want["end"].as_i64(),
        "{}",
        ctx("end")
    );
    let policy = &got.policy_published;
    assert_eq!(
        Some(policy.domain.as_str()),
        text(&want["policy_domain"]),
        "{}",
        ctx("policy_domain")
    );
    assert_eq!(
        policy.p,
        text(&want["p"]).map(Disposition::parse_lenient),
        "{}",
        ctx("p")
    );
    assert_eq!(
        policy.sp,
        text(&want["sp"]).map(Disposition::parse_lenient),
        "{}",
        ctx("sp")
    );
    assert_eq!(
        policy.pct.map(u64::from),
        want["pct"].as_u64(),
        "{}",
        ctx("pct")
    );
    assert_eq!(
        policy.adkim,
        text(&want["adkim"]).map(Alignment::parse_lenient),
        "{}",
        ctx("adkim")
    );
    assert_eq!(
        policy.aspf,
        text(&want["aspf"]).map(Alignment::parse_lenient),
        "{}",
        ctx("aspf")
    );

    let want_records = want["records"].as_array().expect("records");
    assert_eq!(
        got.records.len(),
        want_records.len(),
        "{}",
        ctx("record count")
    );
    for (i, (w, g)) in want_records.iter().zip(&got.records).enumerate() {
        check_record(&format!("{file} record {i}"), w, g);
    }
}

fn check_record(ctx: &str, want: &Value, got: &Record) {
    let want_ip = text(&want["source_ip"]).map(|ip| ip.parse::<IpAddr>().expect("reference IP"));
    assert_eq!(got.source_ip, want_ip, "{ctx}: source_ip");
    assert_eq!(Some(got.count), want["count"].as_u64(), "{ctx}: count");
    assert_eq!(
        got.policy_evaluated.disposition,
        text(&want["disposition"]).map(Disposition::parse_lenient),
        "{ctx}: disposition"
    );
    let verdict = |pass: bool| if pass { "pass" } else { "fail" };
    assert_eq!(
        Some(verdict(got.dkim_aligned_pass())),
        text(&want["dkim_aligned"]),
        "{ctx}: dkim_aligned"
    );
    assert_eq!(
        Some(verdict(got.spf_aligned_pass())),
        text(&want["spf_aligned"]),
        "{ctx}: spf_aligned"
    );
    let ids = &got.identifiers;
    assert_eq!(
        ids.header_from.as_deref(),
        text(&want["header_from"]),
        "{ctx}: header_from"
    );
    assert_eq!(
        ids.envelope_from.as_deref(),
        text(&want["envelope_from"]),
        "{ctx}: envelope_from"
    );

    let want_dkim = want["dkim"].as_array().expect("dkim");
    assert_eq!(
        got.auth_results.dkim.len(),
        want_dkim.len(),
        "{ctx}: dkim count"
    );
    for (w, g) in want_dkim.iter().zip(&got.auth_results.dkim) {
        assert_eq!(
            g.domain.as_deref(),
            text(&w["domain"]),
            "{ctx}: dkim domain"
        );
        assert_eq!(
            g.selector.as_deref(),
            text(&w["selector"]),
            "{ctx}: dkim selector"
        );
        assert_eq!(
            g.result,
            text(&w["result"]).map(DkimResult::parse_lenient),
            "{ctx}: dkim result"
        );
    }
    let want_spf = want["spf"].as_array().expect("spf");
    assert_eq!(
        got.auth_results.spf.len(),
        want_spf.len(),
        "{ctx}: spf count"
    );
    for (w, g) in want_spf.iter().zip(&got.auth_results.spf) {
        assert_eq!(g.domain.as_deref(), text(&w["domain"]), "{ctx}: spf domain");
        assert_eq!(
            g.scope,
            text(&w["scope"]).map(SpfScope::parse_lenient),
            "{ctx}: spf scope"
        );
        assert_eq!(
            g.result,
            text(&w["result"]).map(SpfResult::parse_lenient),
            "{ctx}: spf result"
        );
    }
}

fn references(folder: &str) -> Vec<(String, Value)> {
    let dir = corpus().join("reference").join(folder);
    let mut out: Vec<(String, Value)> = fs::read_dir(&dir)
        .expect("reference folder")
        .map(|e| {
            let path = e.expect("entry").path();
            let value: Value =
                serde_json::from_slice(&fs::read(&path).expect("read")).expect("json");
            let file = value["file"]
                .as_str()
                .expect("file")
                .trim_start_matches("dev/")
                .to_owned();
            (file, value)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn every_aggregate_file_matches_the_reference() {
    let refs = references("aggregate");
    assert!(
        refs.len() >= 120,
        "corpus incomplete: {} references",
        refs.len()
    );
    for (file, reference) in &refs {
        let want =
            expected_reports(reference).unwrap_or_else(|| panic!("{file}: no expected values"));
        let got = parse_file(&corpus().join(file));
        assert_eq!(got.len(), want.len(), "{file}: number of reports");
        for (w, g) in want.iter().zip(&got) {
            match g {
                Ok(report) => check_report(file, w, report),
                Err(e) => panic!("{file}: rejected: {e}"),
            }
        }
    }
}

/// Files meant as aggregate reports that are not well-formed or lack required parts:
/// each is rejected with the named cause, or salvaged with diagnostics.
#[test]
fn invalid_files_are_rejected_with_a_cause_or_salvaged() {
    let expected: &[(&str, Result<(), ErrorKind>)] = &[
        // Truncated in the middle of policy_published: the end tag does not match.
        (
            "aggregate_invalid/dmarcrua__0708a2ec5df54aac9c204249898d27bd.xml",
            Err(ErrorKind::MalformedXml),
        ),
        (
            "aggregate_invalid/dmarcrua__1e3cf3e380224443ae50fbe5307b6670.xml",
            Err(ErrorKind::MalformedXml),
        ),
        (
            "aggregate_invalid/dmarcrua__42ba5e086e8442c7baf9bb94c1d40fc5.xml",
            Err(ErrorKind::MalformedXml),
        ),
        // Well-formed, but without a single <record>: accepted with a `no_records` warning
        // (the reporter is active for the domain); strict mode rejects them (below).
        (
            "aggregate_invalid/dmarcrua__2cc32d95b4f142578eb7c70d3cea6219.xml",
            Ok(()),
        ),
        (
            "aggregate_invalid/dmarcrua__7ac386c51c3644aea283da78e4768438.xml",
            Ok(()),
        ),
        // A <feedback> holding only a <record>.
        (
            "aggregate_invalid/dmarcrua__InvalidReport.xml",
            Err(ErrorKind::MissingElement),
        ),
        // BOM, comment, `hardfail`: salvaged.
        ("aggregate_invalid/dmarcrua__TestFeedback13.xml", Ok(())),
        // <sp>nil</sp>: salvaged, the value kept as Other("nil").
        (
            "aggregate_invalid/dmarcrua__ef4852c7ab724ac782795261bb5d02af.xml",
            Ok(()),
        ),
    ];
    let refs = references("aggregate_invalid");
    assert_eq!(
        refs.len(),
        expected.len(),
        "a new invalid file needs an expectation here"
    );
    for (file, outcome) in expected {
        let got = parse_file(&corpus().join(file));
        assert_eq!(got.len(), 1, "{file}");
        match (&got[0], outcome) {
            (Err(e), Err(kind)) => {
                assert_eq!(e.kind, *kind, "{file}: {e}");
                assert!(!e.message.is_empty(), "{file}: the error names no cause");
            }
            (Ok(report), Ok(())) => {
                assert!(
                    !report.diagnostics.is_empty(),
                    "{file}: salvaged without diagnostics"
                );
                let (_, reference) = refs.iter().find(|(f, _)| f == file).expect("reference");
                if let Some(want) = expected_reports(reference) {
                    check_report(file, &want[0], report);
                }
            }
            (got, want) => panic!("{file}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn reports_without_records_are_kept_with_a_warning_and_refused_when_strict() {
    let strict = ParseOptions {
        strict: true,
        ..common::options()
    };
    for file in [
        "aggregate_invalid/dmarcrua__2cc32d95b4f142578eb7c70d3cea6219.xml",
        "aggregate_invalid/dmarcrua__7ac386c51c3644aea283da78e4768438.xml",
    ] {
        let got = parse_file(&corpus().join(file));
        let report = got[0].as_ref().expect("accepted");
        assert!(report.records.is_empty(), "{file}");
        let warning = report
            .diagnostics
            .iter()
            .find(|d| d.code == DiagnosticCode::NoRecords)
            .unwrap_or_else(|| panic!("{file}: no no_records diagnostic"));
        assert_eq!(warning.severity, Severity::Warning, "{file}");
        let bytes = fs::read(corpus().join(file)).expect("read");
        let error = parse_input(&bytes, &strict)[0]
            .result
            .clone()
            .expect_err("strict rejects it");
        assert_eq!(error.kind, ErrorKind::NoRecords, "{file}: {error}");
    }
}

#[test]
fn tls_and_failure_reports_are_not_aggregate_reports() {
    for folder in ["failure", "smtp_tls"] {
        for entry in fs::read_dir(corpus().join(folder)).expect("folder") {
            let path = entry.expect("entry").path();
            let got = parse_file(&path);
            assert_eq!(got.len(), 1, "{}", path.display());
            let error = got[0].as_ref().expect_err("not an aggregate report");
            assert_eq!(
                error.kind,
                ErrorKind::NotAggregateReport,
                "{}: {error}",
                path.display()
            );
            assert!(
                error.message.starts_with("not an aggregate report"),
                "{}",
                error.message
            );
        }
    }
}

#[test]
fn one_report_in_many_containers_is_one_report() {
    let base = corpus().join("aggregate");
    let variants = [
        "tierpod__test.xml",
        "tierpod__test.xml.gz",
        "tierpod__test.xml.gz.gz",
        "tierpod__test.xml.zip",
    ];
    let reports: Vec<Report> = variants
        .iter()
        .map(|f| parse_file(&base.join(f)).remove(0).expect("report"))
        .collect();
    for r in &reports[1..] {
        assert_eq!(r.identity(), reports[0].identity());
        assert_eq!(r.xml_sha256, reports[0].xml_sha256, "same XML, same hash");
        assert_eq!(r.records, reports[0].records);
        assert_eq!(r.relation_to(&reports[0]), dmarc_core::Relation::Duplicate);
    }
    // The AOL report as zip and as a raw zlib stream.
    let zip =
        parse_file(&base.join("dmarcgo__aol.com!georgestarcher.com!1342497600!1342584000.zip"))
            .remove(0);
    let zlib =
        parse_file(&base.join("dmarcgo__aol.com!georgestarcher.com!1342497600!1342584000.zlib"))
            .remove(0);
    assert_eq!(zip.expect("zip").xml_sha256, zlib.expect("zlib").xml_sha256);
}

#[test]
fn dialects_are_detected() {
    let dialect = |f: &str| {
        parse_file(&corpus().join("aggregate").join(f))
            .remove(0)
            .expect("report")
            .dialect
    };
    use dmarc_core::Dialect::*;
    assert_eq!(dialect("dmarcviewer__gmxnet.xml"), Rfc9990);
    assert_eq!(dialect("dmarq__rfc9990-treewalk-extension.xml"), Rfc9990);
    assert_eq!(dialect("dmarcviewer__outlook.xml"), Rfc7489);
    assert_eq!(dialect("dmarcviewer__yahoo.xml"), Draft);
}

#[test]
fn rfc9990_extensions_do_not_cost_records() {
    let report = parse_file(&corpus().join("aggregate/dmarq__rfc9990-treewalk-extension.xml"))
        .remove(0)
        .expect("report");
    assert_eq!(report.records.len(), 1);
    assert!(!report.extensions.is_empty(), "top-level <extension> kept");
    assert!(
        report.extensions[0].xml.starts_with('<'),
        "{:?}",
        report.extensions[0]
    );
    assert!(report.report_metadata.generator.is_some());
    let mailauth = parse_file(&corpus().join("aggregate/mailauth__001.xml"))
        .remove(0)
        .expect("report");
    assert_eq!(mailauth.records.len(), 1);
}
