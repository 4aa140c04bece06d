//! The XML parser alone: decoding, tolerant parsing, limits, diagnostics.
#![no_main]

use dmarc_core::{DiagnosticCode, ParseOptions, parse_xml};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = ParseOptions::at(1_796_083_200);
    if let Ok(report) = parse_xml(data, &options) {
        assert!(
            !report.records.is_empty()
                || report.diagnostics.iter().any(|d| d.code == DiagnosticCode::NoRecords),
            "accepted reports have records, or say they have none"
        );
        assert_eq!(report.xml_sha256.len(), 64);
        // Whatever is accepted serialises; the report identity never panics.
        let _ = report.identity();
        assert!(!report.policy_published.domain.is_empty());
    }
});
