//! Whole-input ingestion: bytes -> container detection -> decompression -> MIME -> XML.
#![no_main]

use dmarc_core::{DiagnosticCode, Filter, Limits, ParseOptions, parse_input, rollup};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Smaller caps than the defaults keep each execution fast; the code paths are the same.
    let limits = Limits { max_xml_bytes: 8 << 20, ratio_grace_bytes: 64 << 10, ..Limits::default() };
    for strict in [false, true] {
        let options = ParseOptions { limits: limits.clone(), strict, now: 1_796_083_200 };
        let parsed = parse_input(data, &options);
        assert!(!parsed.is_empty(), "every input gets an outcome");
        for item in &parsed {
            if let Ok(report) = &item.result {
                assert!(
                    !report.records.is_empty()
                        || report.diagnostics.iter().any(|d| d.code == DiagnosticCode::NoRecords),
                    "accepted reports have records, or say they have none"
                );
                let summary = rollup::summary(std::slice::from_ref(report), &Filter::default());
                assert_eq!(summary.tally.messages, report.message_count());
                let days = rollup::timeline(std::slice::from_ref(report), &Filter::default());
                let spread: u64 = days.iter().map(|d| d.tally.messages).fold(0, u64::saturating_add);
                assert_eq!(spread, report.message_count());
            }
        }
    }
});
