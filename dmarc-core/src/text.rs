//! Character-level repairs: encodings and characters that XML 1.0 forbids.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

use crate::diag::{DiagnosticCode as Code, Diagnostics, Severity};

/// True for C0 controls other than TAB, LF and CR (illegal in XML 1.0).
pub(crate) fn is_forbidden_control(c: char) -> bool {
    c < ' ' && !matches!(c, '\t' | '\n' | '\r')
}

pub(crate) fn has_forbidden_controls(s: &str) -> bool {
    s.bytes()
        .any(|b| b < b' ' && !matches!(b, b'\t' | b'\n' | b'\r'))
}

pub(crate) fn replace_forbidden_controls(s: &str) -> String {
    s.chars()
        .map(|c| {
            if is_forbidden_control(c) {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect()
}

/// The UTF-8 byte order mark.
const BOM_UTF8: &[u8] = b"\xEF\xBB\xBF";

/// Strips a UTF-8 BOM and leading ASCII whitespace: the bytes that are hashed and parsed.
pub(crate) fn strip_bom_and_space(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_prefix(BOM_UTF8).unwrap_or(bytes);
    bytes.trim_ascii_start()
}

/// Decodes an XML document to UTF-8 text.
///
/// UTF-16 is recognised by its BOM or by the zero bytes around the first `<`; otherwise the
/// encoding declared in `<?xml ... encoding="..."?>` is used. Bytes that are not valid UTF-8
/// in a document read as UTF-8 are decoded as windows-1252 one by one (the usual cause is a
/// Latin-1 generator that declares UTF-8), with a diagnostic.
pub(crate) fn decode_xml<'a>(bytes: &'a [u8], diags: &mut Diagnostics) -> Cow<'a, str> {
    const PATH: &str = "xml";
    if let Some(enc) = utf16_encoding(bytes) {
        diags.push(
            Code::Transcoded,
            Severity::Info,
            PATH,
            None,
            Some(enc.name()),
        );
        let (text, _) = enc.decode_with_bom_removal(bytes);
        return Cow::Owned(strip_leading(text.into_owned()));
    }
    let declared = declared_encoding(bytes);
    let encoding = match declared {
        None => UTF_8,
        Some(label) => match Encoding::for_label(label.as_bytes()) {
            Some(enc) => enc,
            None => {
                diags.push(
                    Code::UnknownEncoding,
                    Severity::Warning,
                    PATH,
                    None,
                    Some(label),
                );
                UTF_8
            }
        },
    };
    if encoding == UTF_8 || encoding == UTF_16LE || encoding == UTF_16BE {
        // A UTF-16 declaration on a document without UTF-16 bytes is wrong; read as UTF-8.
        return match simdutf8::basic::from_utf8(bytes) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => {
                let (fixed, first_bad) = repair_utf8(bytes);
                diags.push(
                    Code::InvalidUtf8,
                    Severity::Warning,
                    PATH,
                    None,
                    Some(&format!("first invalid byte at offset {first_bad}")),
                );
                Cow::Owned(fixed)
            }
        };
    }
    diags.push(
        Code::Transcoded,
        Severity::Info,
        PATH,
        None,
        Some(encoding.name()),
    );
    let (text, _, _) = encoding.decode(bytes);
    Cow::Owned(text.into_owned())
}

fn strip_leading(text: String) -> String {
    let trimmed = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if trimmed.len() == text.len() {
        text
    } else {
        trimmed.to_owned()
    }
}

fn utf16_encoding(bytes: &[u8]) -> Option<&'static Encoding> {
    match bytes {
        [0xFF, 0xFE, ..] | [b'<', 0, ..] => Some(UTF_16LE),
        [0xFE, 0xFF, ..] | [0, b'<', ..] => Some(UTF_16BE),
        _ => None,
    }
}

/// The `encoding` pseudo-attribute of the XML declaration, if any.
fn declared_encoding(bytes: &[u8]) -> Option<&str> {
    let head = &bytes[..bytes.len().min(256)];
    let rest = head.strip_prefix(b"<?xml")?;
    let end = memchr::memmem::find(rest, b"?>")?;
    let decl = std::str::from_utf8(&rest[..end]).ok()?;
    let at = decl.find("encoding")?;
    let after = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &after[1..];
    Some(value[..value.find(quote)?].trim())
}

/// Replaces invalid UTF-8 bytes by their windows-1252 characters; returns the text and the
/// offset of the first invalid byte.
fn repair_utf8(bytes: &[u8]) -> (String, usize) {
    let mut out = String::with_capacity(bytes.len() + 16);
    let mut first_bad = None;
    let mut offset = 0;
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        offset += chunk.valid().len();
        if !chunk.invalid().is_empty() {
            first_bad.get_or_insert(offset);
            let (decoded, _, _) = WINDOWS_1252.decode(chunk.invalid());
            out.push_str(&decoded);
            offset += chunk.invalid().len();
        }
    }
    (out, first_bad.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> (String, Vec<Code>) {
        let mut diags = Diagnostics::default();
        let text = decode_xml(bytes, &mut diags).into_owned();
        (text, diags.into_vec().into_iter().map(|d| d.code).collect())
    }

    #[test]
    fn utf8_passes_through_borrowed() {
        let mut diags = Diagnostics::default();
        assert!(matches!(
            decode_xml(b"<a>\xC3\xA9</a>", &mut diags),
            Cow::Borrowed("<a>é</a>")
        ));
    }

    #[test]
    fn invalid_utf8_byte_becomes_windows_1252() {
        assert_eq!(
            decode(b"<a>\x91x\x92</a>"),
            ("<a>\u{2018}x\u{2019}</a>".into(), vec![Code::InvalidUtf8])
        );
    }

    #[test]
    fn declared_latin1_is_transcoded() {
        let (text, codes) = decode(b"<?xml version='1.0' encoding='ISO-8859-1'?><a>\xE9</a>");
        assert!(text.ends_with("<a>é</a>"));
        assert_eq!(codes, vec![Code::Transcoded]);
    }

    #[test]
    fn utf16_with_and_without_bom() {
        for bytes in [
            b"\xFF\xFE<\0a\0/\0>\0".as_slice(),
            b"<\0a\0/\0>\0".as_slice(),
            b"\xFE\xFF\0<\0a\0/\0>".as_slice(),
        ] {
            assert_eq!(decode(bytes).0, "<a/>");
        }
    }

    #[test]
    fn unknown_encoding_reads_utf8() {
        assert_eq!(
            decode(b"<?xml version=\"1.0\" encoding=\"x-klingon\"?><a/>").1,
            vec![Code::UnknownEncoding]
        );
    }

    #[test]
    fn controls_are_replaced() {
        assert!(has_forbidden_controls("a\u{7}b"));
        assert!(!has_forbidden_controls("a\tb\r\n"));
        assert_eq!(replace_forbidden_controls("a\u{7}b"), "a\u{FFFD}b");
    }
}
