//! What a payload is, from its first bytes (never from its name), and the errors for
//! payloads that are none of the accepted containers.

use crate::diag::{Error, ErrorKind};
use crate::text;

/// What the first bytes of a payload say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Gzip,
    Zlib,
    Zip,
    Xml,
    Json,
    Mbox,
    Email,
    Unknown,
}

/// Detects a payload by its magic bytes.
pub(crate) fn sniff(bytes: &[u8]) -> Kind {
    match bytes {
        [0x1F, 0x8B, ..] => return Kind::Gzip,
        [b'P', b'K', 3, 4, ..] | [b'P', b'K', 5, 6, ..] => return Kind::Zip,
        [0x78, second, ..] if (0x7800u16 | u16::from(*second)).is_multiple_of(31) => {
            return Kind::Zlib;
        }
        [0xFF, 0xFE, ..] | [0xFE, 0xFF, ..] | [b'<', 0, ..] | [0, b'<', ..] => return Kind::Xml,
        _ => {}
    }
    if bytes.starts_with(b"From ") {
        return Kind::Mbox;
    }
    let body = text::strip_bom_and_space(bytes);
    match body.first() {
        Some(b'<') => Kind::Xml,
        Some(b'{') => Kind::Json,
        _ if looks_like_header(bytes) => Kind::Email,
        _ => Kind::Unknown,
    }
}

/// True when the first line is an RFC 5322 header field (`Name: value`).
fn looks_like_header(bytes: &[u8]) -> bool {
    let line_end = memchr::memchr(b'\n', bytes).unwrap_or(bytes.len());
    let line = &bytes[..line_end];
    match memchr::memchr(b':', line) {
        Some(colon) if colon > 0 && colon <= 76 => {
            line[..colon].iter().all(|&b| (33..=126).contains(&b))
        }
        _ => false,
    }
}

/// The uncompressed size a gzip member declares in its trailer (modulo 2^32), looking past
/// trailing whitespace.
pub(crate) fn gzip_declared_size(bytes: &[u8]) -> u64 {
    let trimmed = bytes.trim_ascii_end();
    match trimmed.len().checked_sub(4).map(|at| &trimmed[at..]) {
        Some(&[a, b, c, d]) => u64::from(u32::from_le_bytes([a, b, c, d])),
        _ => 0,
    }
}

/// The entry count declared in the zip end-of-central-directory record, read before the
/// archive is opened so that a huge central directory is never parsed.
pub(crate) fn zip_declared_entries(bytes: &[u8]) -> Option<usize> {
    const EOCD: &[u8] = b"PK\x05\x06";
    let window = bytes.len().saturating_sub(22 + 65_535);
    let at = memchr::memmem::rfind(&bytes[window..], EOCD)? + window;
    let total = bytes.get(at + 10..at + 12)?;
    Some(usize::from(u16::from_le_bytes([total[0], total[1]])))
}

pub(crate) fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Gzip => "gzip",
        Kind::Zlib => "zlib",
        Kind::Zip => "zip",
        Kind::Xml => "xml",
        Kind::Json => "json",
        Kind::Mbox => "mbox",
        Kind::Email => "email",
        Kind::Unknown => "unknown",
    }
}

/// A name from untrusted input, safe to show: control characters replaced, length capped.
pub(crate) fn printable(name: &str) -> String {
    name.chars()
        .take(200)
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

/// A JSON payload: an SMTP TLS report or something else.
pub(crate) fn json_kind(bytes: &[u8]) -> Error {
    let head = &bytes[..bytes.len().min(64 * 1024)];
    let tls = memchr::memmem::find(head, b"\"policies\"").is_some()
        || memchr::memmem::find(head, b"\"organization-name\"").is_some();
    if tls {
        Error::new(
            ErrorKind::NotAggregateReport,
            "not an aggregate report: SMTP TLS report (RFC 8460 JSON)",
        )
    } else {
        Error::new(
            ErrorKind::UnknownFormat,
            "JSON document that is not a DMARC aggregate report",
        )
    }
}

/// Bytes that are none of the accepted containers.
pub(crate) fn unknown(bytes: &[u8]) -> Error {
    let head = text::strip_bom_and_space(bytes);
    let head = &head[..head.len().min(32)];
    if !head.is_empty() && head.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        return Error::new(
            ErrorKind::NotAggregateReport,
            format!(
                "not an aggregate report: the payload is plain text starting {:?}",
                String::from_utf8_lossy(head)
            ),
        );
    }
    Error::new(
        ErrorKind::UnknownFormat,
        format!(
            "not gzip, zlib, zip, XML or an e-mail message (first bytes: {})",
            hex(&bytes[..bytes.len().min(8)])
        ),
    )
}

/// Lower-case hexadecimal of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}
