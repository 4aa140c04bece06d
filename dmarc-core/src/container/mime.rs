//! E-mail messages (MIME, nested `message/rfc822`) and mbox files.

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};

use super::Walker;
use super::sniff::{Kind, printable, sniff};
use crate::diag::{Diagnostics, Error, ErrorKind};

/// What a message turned out to hold besides aggregate reports, for the error message
/// when it holds none.
#[derive(Default)]
struct Seen {
    parts: Vec<String>,
    failure_report: bool,
    tls_report: bool,
    found: usize,
}

/// Walks an mbox file: each message is read as an e-mail message.
pub(crate) fn mbox(walker: &mut Walker<'_>, bytes: &[u8]) {
    let limit = walker.limits().max_mbox_messages;
    let mut count = 0;
    for (index, item) in mail_parser::mailbox::mbox::MessageIterator::new(bytes).enumerate() {
        if index >= limit {
            walker.reject(Error::limit("messages per mbox file", index + 1, limit));
            return;
        }
        count += 1;
        match item {
            Ok(message) => walker.within(format!("message {}", index + 1), |w| {
                self::message(w, message.contents(), 0)
            }),
            Err(e) => walker.reject(Error::new(
                ErrorKind::UnknownFormat,
                format!("unreadable mbox file: {e}"),
            )),
        }
    }
    if count == 0 {
        walker.reject(Error::new(
            ErrorKind::NoReport,
            "mbox file without messages",
        ));
    }
}

/// Walks one e-mail message; `depth` counts enclosing messages and multiparts.
pub(crate) fn message(walker: &mut Walker<'_>, bytes: &[u8], depth: usize) {
    // mail-parser asserts on some malformed multipart structures in debug builds (found by
    // fuzzing); such a message is unreadable, never a reason to take the process down.
    let parsed = std::panic::catch_unwind(|| MessageParser::default().parse(bytes));
    let Ok(Some(parsed)) = parsed else {
        walker.reject(Error::new(
            ErrorKind::UnknownFormat,
            "not a readable e-mail message",
        ));
        return;
    };
    let mut seen = Seen::default();
    if let Err(e) = walk_message(walker, &parsed, depth, &mut seen) {
        walker.reject(e);
        return;
    }
    if seen.found == 0 {
        walker.reject(explain_nothing_found(&seen));
    }
}

fn explain_nothing_found(seen: &Seen) -> Error {
    if seen.failure_report {
        return Error::new(
            ErrorKind::NotAggregateReport,
            "not an aggregate report: DMARC failure report (ARF message/feedback-report)",
        );
    }
    if seen.tls_report {
        return Error::new(
            ErrorKind::NotAggregateReport,
            "not an aggregate report: SMTP TLS report (RFC 8460)",
        );
    }
    let parts = if seen.parts.is_empty() {
        "none".to_owned()
    } else {
        seen.parts.join(", ")
    };
    Error::new(
        ErrorKind::NoReport,
        format!("e-mail message without a report attachment (parts: {parts})"),
    )
}

fn walk_message(
    walker: &mut Walker<'_>,
    message: &Message<'_>,
    depth: usize,
    seen: &mut Seen,
) -> Result<(), Error> {
    let (max_depth, max_parts) = (
        walker.limits().max_mime_depth,
        walker.limits().max_mime_parts,
    );
    if depth > max_depth {
        return Err(Error::limit("MIME nesting depth", depth, max_depth));
    }
    if message.parts.len() > max_parts {
        return Err(Error::limit(
            "MIME parts per message",
            message.parts.len(),
            max_parts,
        ));
    }
    walk_part(walker, message, 0, depth, seen)
}

fn walk_part(
    walker: &mut Walker<'_>,
    message: &Message<'_>,
    id: usize,
    depth: usize,
    seen: &mut Seen,
) -> Result<(), Error> {
    let max_depth = walker.limits().max_mime_depth;
    if depth > max_depth {
        return Err(Error::limit("MIME nesting depth", depth, max_depth));
    }
    let Some(part) = message.parts.get(id) else {
        return Ok(());
    };
    let (ctype, subtype) = content_type(part);
    let label = format!("{ctype}/{subtype}");
    if subtype == "feedback-report" {
        seen.failure_report = true;
    }
    if subtype.contains("tlsrpt") {
        seen.tls_report = true;
    }
    match &part.body {
        PartType::Multipart(children) => {
            if subtype == "report"
                && part
                    .content_type()
                    .and_then(|c| c.attribute("report-type"))
                    .is_some_and(|t| t.eq_ignore_ascii_case("tlsrpt"))
            {
                seen.tls_report = true;
            }
            for &child in children {
                walk_part(walker, message, child as usize, depth + 1, seen)?;
            }
            Ok(())
        }
        PartType::Message(nested) => {
            seen.parts.push(label);
            let step = format!(
                "forwarded message {}",
                printable(nested.subject().unwrap_or("(no subject)"))
            );
            walker.within(step, |w| walk_message(w, nested, depth + 1, seen))
        }
        PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
            candidate(walker, part, bytes, &label, seen);
            Ok(())
        }
        PartType::Text(_) | PartType::Html(_) => {
            // The decoded text went through the part's charset; read the transfer-decoded
            // bytes instead, so an XML declaration's encoding stays authoritative.
            let is_attachment = part.attachment_name().is_some() || subtype.contains("xml");
            if ctype == "text" && (subtype == "html" || !is_attachment) {
                seen.parts.push(label);
                return Ok(());
            }
            let raw = transfer_decoded(message, part);
            candidate(walker, part, &raw, &label, seen);
            Ok(())
        }
    }
}

/// Sniffs a leaf part and hands it to the payload reader when it holds a report container.
fn candidate(
    walker: &mut Walker<'_>,
    part: &MessagePart<'_>,
    bytes: &[u8],
    label: &str,
    seen: &mut Seen,
) {
    let name = part.attachment_name().map(printable);
    match sniff(bytes) {
        Kind::Gzip | Kind::Zip | Kind::Zlib | Kind::Xml => {}
        _ => {
            seen.parts.push(match &name {
                Some(n) => format!("{label} '{n}'"),
                None => label.to_owned(),
            });
            return;
        }
    }
    seen.found += 1;
    let step = match name {
        Some(n) => format!("attachment '{n}'"),
        None => format!("part {label}"),
    };
    walker.within(step, |w| w.payload(bytes, 0, Diagnostics::default()));
}

fn content_type(part: &MessagePart<'_>) -> (String, String) {
    match part.content_type() {
        Some(ct) => (
            ct.ctype().to_ascii_lowercase(),
            ct.subtype().unwrap_or_default().to_ascii_lowercase(),
        ),
        None => ("text".to_owned(), "plain".to_owned()),
    }
}

/// The body bytes of a text part after transfer decoding only (no charset conversion).
fn transfer_decoded(message: &Message<'_>, part: &MessagePart<'_>) -> Vec<u8> {
    let raw = message.raw_message();
    let start = part.raw_body_offset() as usize;
    let end = (part.raw_end_offset() as usize).min(raw.len());
    let body = raw.get(start..end).unwrap_or_default();
    let decoded = match part.encoding {
        mail_parser::Encoding::Base64 => mail_parser::decoders::base64::base64_decode(body),
        mail_parser::Encoding::QuotedPrintable => {
            mail_parser::decoders::quoted_printable::quoted_printable_decode(body)
        }
        mail_parser::Encoding::None => None,
    };
    decoded.unwrap_or_else(|| body.to_vec())
}
