//! Builders for test inputs: reports, containers and e-mail messages.
#![allow(dead_code, unreachable_pub)] // reason: each test binary uses a different subset

use std::io::Write;

use dmarc_core::{Error, ParseOptions, Report, parse_input};

/// The time of ingestion the tests parse at: 2026-11-30T00:00:00Z.
pub const NOW: i64 = 1_796_083_200;

/// Default options, ingesting at [`NOW`].
pub fn options() -> ParseOptions {
    ParseOptions::at(NOW)
}

/// A report with the given `<policy_published>` body and records; `meta` replaces the
/// default metadata body when given.
pub fn report(meta: Option<&str>, policy: &str, records: &str) -> String {
    let meta = meta.unwrap_or(
        "<org_name>example.net</org_name><email>dmarc@example.net</email>\
         <report_id>r-1</report_id><date_range><begin>1700000000</begin><end>1700086399</end></date_range>",
    );
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback><report_metadata>{meta}</report_metadata>\
         <policy_published>{policy}</policy_published>{records}</feedback>"
    )
}

pub const POLICY: &str = "<domain>example.com</domain><p>none</p>";

/// One record; `extra` goes inside `<policy_evaluated>` after the verdicts.
pub fn record(ip: &str, count: u64, dkim: &str, spf: &str) -> String {
    format!(
        "<record><row><source_ip>{ip}</source_ip><count>{count}</count><policy_evaluated>\
         <disposition>none</disposition><dkim>{dkim}</dkim><spf>{spf}</spf></policy_evaluated></row>\
         <identifiers><header_from>example.com</header_from></identifiers>\
         <auth_results><dkim><domain>example.com</domain><selector>s</selector><result>{dkim}</result></dkim>\
         <spf><domain>example.com</domain><scope>mfrom</scope><result>{spf}</result></spf></auth_results></record>"
    )
}

pub fn simple() -> String {
    report(None, POLICY, &record("192.0.2.1", 2, "pass", "fail"))
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

pub fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("zlib");
    enc.finish().expect("zlib")
}

pub fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("zip entry");
        w.write_all(data).expect("zip write");
    }
    w.finish().expect("zip").into_inner()
}

pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            out.push_str("\r\n");
        }
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A MIME part carrying `data` in base64.
pub fn attachment(content_type: &str, name: &str, data: &[u8]) -> String {
    format!(
        "Content-Type: {content_type}; name=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=\"{name}\"\r\n\r\n{}\r\n",
        base64(data)
    )
}

/// A multipart/mixed message with a text part and the given parts.
pub fn message(subject: &str, parts: &[String]) -> Vec<u8> {
    let mut m = format!(
        "From: noreply-dmarc-support@google.com\r\nTo: dmarc@example.com\r\nSubject: {subject}\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"BOUNDARY\"\r\n\r\n\
         --BOUNDARY\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThis is an aggregate report.\r\n"
    );
    for part in parts {
        m.push_str("--BOUNDARY\r\n");
        m.push_str(part);
    }
    m.push_str("--BOUNDARY--\r\n");
    m.into_bytes()
}

pub fn parse(bytes: &[u8]) -> Vec<Result<Report, Error>> {
    parse_input(bytes, &options())
        .into_iter()
        .map(|p| p.result)
        .collect()
}

/// Parses input that must hold exactly one report.
pub fn one(bytes: &[u8]) -> Report {
    let mut all = parse(bytes);
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0).unwrap_or_else(|e| panic!("rejected: {e}"))
}

/// Parses input that must be rejected as a whole.
pub fn rejected(bytes: &[u8]) -> Error {
    let mut all = parse(bytes);
    assert_eq!(all.len(), 1, "{all:?}");
    match all.remove(0) {
        Ok(r) => panic!("accepted: {r:?}"),
        Err(e) => e,
    }
}

pub fn has(report: &Report, code: dmarc_core::DiagnosticCode) -> bool {
    report.diagnostics.iter().any(|d| d.code == code)
}
