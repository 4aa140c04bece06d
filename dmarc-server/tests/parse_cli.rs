//! `dmarc parse --format json` on every corpus file: the same reports the core reads (which
//! `dmarc-core/tests/corpus.rs` checks against the reference values), and a named error
//! for everything that is not an aggregate report.

use std::path::{Path, PathBuf};
use std::process::Command;

use dmarc_core::{ParseOptions, Report};
use serde_json::Value;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dmarc-core/tests/data/corpus")
}

fn parse_json(path: &Path) -> (Option<i32>, Vec<Value>) {
    let out = Command::new(env!("CARGO_BIN_EXE_dmarc"))
        .args(["parse", "--format", "json"])
        .arg(path)
        .output()
        .expect("run dmarc parse");
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    (out.status.code(), lines)
}

#[test]
fn every_corpus_file_matches_the_core() {
    for folder in ["aggregate", "aggregate_invalid", "failure", "smtp_tls"] {
        let dir = corpus().join(folder);
        let (status, lines) = parse_json(&dir);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("corpus folder")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        let mut expected = Vec::new();
        for file in &files {
            let bytes = std::fs::read(file).expect("read");
            for parsed in
                dmarc_core::parse_input(&bytes, &ParseOptions::at(dmarc_store::unix_now()))
            {
                expected.push((file.display().to_string(), parsed));
            }
        }
        assert_eq!(
            lines.len(),
            expected.len(),
            "{folder}: one line per payload"
        );
        let mut rejected = false;
        for (line, (file, parsed)) in lines.iter().zip(&expected) {
            let source = line["source"].as_str().expect("source");
            assert!(source.starts_with(file.as_str()), "{source} vs {file}");
            match &parsed.result {
                Ok(report) => {
                    let got: Report = serde_json::from_value(line.clone()).expect("a report");
                    assert_eq!(&got, report, "{source}");
                }
                Err(error) => {
                    rejected = true;
                    assert_eq!(line["error"]["kind"], error.kind.as_str(), "{source}");
                    assert_eq!(line["error"]["message"], error.message.as_str(), "{source}");
                }
            }
        }
        assert_eq!(status, Some(if rejected { 1 } else { 0 }), "{folder}");
        if folder == "smtp_tls" || folder == "failure" {
            assert!(
                lines
                    .iter()
                    .all(|l| l["error"]["kind"] == "not_aggregate_report"),
                "{folder}: {lines:?}"
            );
        }
    }
}
