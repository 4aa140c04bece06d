//! Streaming XML parser for aggregate reports: one pass over the tokens of [`Lexer`],
//! matching on local names only, in any element order, with every tolerance decision
//! recorded.

use std::borrow::Cow;
use std::net::IpAddr;
use std::str::FromStr;

use crate::diag::{DiagnosticCode as Code, Diagnostics, Error, ErrorKind, Severity};
use crate::lexer::{Lexer, Token, attributes};
use crate::limits::Limits;
use crate::model::*;
use crate::period;
use crate::text;

/// The RFC 9990 namespace.
const NS_DMARC2: &str = "urn:ietf:params:xml:ns:dmarc-2.0";

/// How long a text value may be: short identifiers or free text.
#[derive(Clone, Copy)]
enum Len {
    Token,
    Text,
}

/// A start tag that was just read.
struct Open<'a> {
    /// The qualified name as written.
    name: &'a str,
    /// The raw attribute text.
    attrs: &'a str,
    /// `<tag/>`: no content, no end token follows.
    empty: bool,
    /// Byte offset of the `<` of the tag.
    start: usize,
}

impl<'a> Open<'a> {
    fn local(&self) -> &'a str {
        match memchr::memchr(b':', self.name.as_bytes()) {
            Some(colon) => &self.name[colon + 1..],
            None => self.name,
        }
    }

    fn qualified(&self) -> String {
        self.name.to_owned()
    }
}

/// What `next_child` found inside an element.
enum Child<'a> {
    Open(Open<'a>),
    Close,
}

/// Parses one decoded XML document into a report.
/// `now` is the time of ingestion (UTC seconds), against which the period is checked.
/// Records go to `on_record` as they are read; the report returned has none.
pub(crate) fn parse_document(
    src: &str,
    limits: &Limits,
    now: i64,
    diags: Diagnostics,
    xml_sha256: String,
    on_record: &mut dyn FnMut(Record),
) -> Result<Report, Error> {
    let mut parser = Parser {
        lexer: Lexer::new(src),
        limits,
        now,
        on_record,
        record_count: 0,
        diags,
        depth: 0,
        record: None,
        rfc9990_hint: false,
        version: None,
        metadata: MetadataParts::default(),
        policy: None,
        extensions: Vec::new(),
        extension_bytes: 0,
        record_extension_bytes: 0,
    };
    let namespace = parser.root()?;
    parser.feedback()?;
    parser.finish(namespace, xml_sha256)
}

#[derive(Default)]
struct MetadataParts {
    seen: bool,
    org_name: Option<String>,
    email: Option<String>,
    extra_contact_info: Option<String>,
    report_id: Option<String>,
    begin: Option<String>,
    end: Option<String>,
    date_range_seen: bool,
    error: Vec<String>,
    generator: Option<String>,
}

struct Parser<'a, 'l> {
    lexer: Lexer<'a>,
    limits: &'l Limits,
    /// The time of ingestion, UTC seconds.
    now: i64,
    /// Where each record goes once read (the caller keeps or stores it).
    on_record: &'l mut dyn FnMut(Record),
    /// Records given to `on_record` so far.
    record_count: usize,
    diags: Diagnostics,
    depth: usize,
    /// Index of the record being read, for diagnostics.
    record: Option<usize>,
    rfc9990_hint: bool,
    version: Option<String>,
    metadata: MetadataParts,
    policy: Option<PolicyPublished>,
    extensions: Vec<Extension>,
    extension_bytes: usize,
    record_extension_bytes: usize,
}

impl<'a> Parser<'a, '_> {
    // ----- low level ------------------------------------------------------------------

    fn offset(&self) -> usize {
        self.lexer.pos()
    }

    fn malformed(offset: usize, message: &str) -> Error {
        Error::new(
            ErrorKind::MalformedXml,
            format!("not well-formed XML at byte {offset}: {message}"),
        )
    }

    fn read(&mut self) -> Result<Token<'a>, Error> {
        match self.lexer.next_token() {
            Ok(Token::DocType) => Err(Error::new(
                ErrorKind::DoctypeForbidden,
                format!(
                    "DOCTYPE at byte {}: document type declarations (and with them entity \
                     expansion and external entities) are never accepted",
                    self.lexer.token_start()
                ),
            )),
            Ok(token) => Ok(token),
            Err(e) => Err(Self::malformed(e.offset, &e.message)),
        }
    }

    fn eof_inside(&self, path: &str) -> Error {
        Self::malformed(
            self.offset(),
            &format!("document ends inside {path} (truncated?)"),
        )
    }

    fn diag(&mut self, code: Code, severity: Severity, path: &str, raw: Option<&str>) {
        self.diags.push(code, severity, path, self.record, raw);
    }

    /// Checks the limits of a start tag and notes RFC 9990 `lang` attributes.
    fn check_tag(&mut self, name: &str, attrs: &str, start: usize) -> Result<(), Error> {
        if name.len() > self.limits.max_name_bytes {
            return Err(Error::limit(
                "element name length",
                name.len(),
                self.limits.max_name_bytes,
            ));
        }
        if attrs.is_empty() {
            return Ok(());
        }
        let mut count = 0;
        for attr in attributes(attrs) {
            let (key, value) =
                attr.map_err(|e| Self::malformed(start, &format!("<{name}>: {e}")))?;
            count += 1;
            if count > self.limits.max_attributes {
                return Err(Error::limit(
                    "attributes per element",
                    count,
                    self.limits.max_attributes,
                ));
            }
            if key.len() > self.limits.max_name_bytes {
                return Err(Error::limit(
                    "attribute name length",
                    key.len(),
                    self.limits.max_name_bytes,
                ));
            }
            if value.len() > self.limits.max_attribute_bytes {
                return Err(Error::limit(
                    &format!("value of attribute '{key}' of <{name}> at byte {start}"),
                    format!("{} bytes", value.len()),
                    format!("{} bytes", self.limits.max_attribute_bytes),
                ));
            }
            if key == "lang" || key == "xml:lang" {
                self.rfc9990_hint = true;
            }
        }
        Ok(())
    }

    /// Enters an element: depth and tag limits.
    fn enter(
        &mut self,
        name: &'a str,
        attrs: &'a str,
        empty: bool,
        start: usize,
    ) -> Result<Open<'a>, Error> {
        self.check_tag(name, attrs, start)?;
        if !empty {
            self.depth += 1;
            if self.depth > self.limits.max_depth {
                return Err(Error::limit(
                    "element nesting depth",
                    self.depth,
                    self.limits.max_depth,
                ));
            }
        }
        Ok(Open {
            name,
            attrs,
            empty,
            start,
        })
    }

    /// The next child element of the element being read, or its end.
    /// Text between child elements is reported (once per path) and skipped.
    fn next_child(&mut self, path: &'static str) -> Result<Child<'a>, Error> {
        loop {
            let start = self.offset();
            match self.read()? {
                Token::Start { name, attrs, empty } => {
                    return Ok(Child::Open(self.enter(name, attrs, empty, start)?));
                }
                Token::End => {
                    self.depth -= 1;
                    return Ok(Child::Close);
                }
                Token::Text(t) | Token::CData(t) => {
                    let raw = t.trim_ascii();
                    if !raw.is_empty() {
                        self.diag(Code::UnexpectedText, Severity::Warning, path, Some(raw));
                    }
                }
                Token::Ignorable => {}
                Token::DocType => unreachable!("rejected in read()"),
                Token::Eof => return Err(self.eof_inside(path)),
            }
        }
    }

    /// Skips the rest of an element, enforcing the depth limit on the way.
    fn skip(&mut self, open: &Open<'a>) -> Result<(), Error> {
        if open.empty {
            return Ok(());
        }
        let target = self.depth - 1;
        while self.depth > target {
            let start = self.offset();
            match self.read()? {
                Token::Start { name, attrs, empty } => {
                    self.enter(name, attrs, empty, start)?;
                }
                Token::End => self.depth -= 1,
                Token::Eof => return Err(self.eof_inside(open.name)),
                _ => {}
            }
        }
        Ok(())
    }

    /// Reads the text content of an element, resolving the predefined entities and
    /// character references; nested elements are skipped with a diagnostic.
    fn text(
        &mut self,
        open: &Open<'a>,
        len: Len,
        path: &'static str,
    ) -> Result<Option<String>, Error> {
        if open.empty {
            return Ok(None);
        }
        // The usual case is one text token; `acc` collects pieces only when comments,
        // CDATA or nested elements interrupt the text.
        let mut single: Option<&'a str> = None;
        let mut acc: Option<String> = None;
        loop {
            let start = self.offset();
            let token = self.read()?;
            if matches!(token, Token::End) {
                self.depth -= 1;
                break;
            }
            if let Token::Text(t) = token
                && single.is_none()
                && acc.is_none()
            {
                single = Some(t);
                continue;
            }
            let mut collected = match (acc.take(), single.take()) {
                (Some(collected), _) => collected,
                (None, Some(first)) => self.unescape(first, path, start)?.into_owned(),
                (None, None) => String::new(),
            };
            match token {
                Token::Text(t) => collected.push_str(&self.unescape(t, path, start)?),
                Token::CData(t) => collected.push_str(t),
                Token::Start { name, attrs, empty } => {
                    let nested = self.enter(name, attrs, empty, start)?;
                    self.diag(Code::UnknownElement, Severity::Warning, path, Some(name));
                    self.skip(&nested)?;
                }
                Token::Ignorable => {}
                Token::End | Token::DocType => unreachable!("handled above / in read()"),
                Token::Eof => return Err(self.eof_inside(path)),
            }
            acc = Some(collected);
        }
        let raw: Cow<'a, str> = match (acc, single) {
            (Some(collected), _) => Cow::Owned(collected),
            (None, Some(text)) => self.unescape(text, path, open.start)?,
            (None, None) => return Ok(None),
        };
        let max = match len {
            Len::Token => self.limits.max_token_bytes,
            Len::Text => self.limits.max_text_bytes,
        };
        if raw.len() > max {
            return Err(Error::limit(
                &format!("length of {path}"),
                format!("{} bytes", raw.len()),
                format!("{max} bytes"),
            ));
        }
        let trimmed = raw.trim_matches(|c: char| c.is_ascii_whitespace());
        if trimmed.is_empty() {
            return Ok(None);
        }
        if text::has_forbidden_controls(trimmed) {
            self.diag(
                Code::ControlCharacter,
                Severity::Warning,
                path,
                Some(trimmed),
            );
            return Ok(Some(text::replace_forbidden_controls(trimmed)));
        }
        Ok(Some(trimmed.to_owned()))
    }

    /// Resolves the entity and character references of raw text. A `&` that does not
    /// start a reference (`&name;`, `&#N;`, `&#xH;`) makes the document not well-formed.
    fn unescape(
        &mut self,
        raw: &'a str,
        path: &'static str,
        at: usize,
    ) -> Result<Cow<'a, str>, Error> {
        if memchr::memchr(b'&', raw.as_bytes()).is_none() {
            return Ok(Cow::Borrowed(raw));
        }
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(amp) = rest.find('&') {
            out.push_str(&rest[..amp]);
            let after = &rest[amp + 1..];
            let name_len = after.bytes().take(32).position(|b| b == b';');
            let valid = name_len.is_some_and(|n| {
                n > 0
                    && after.as_bytes()[..n].iter().all(|&b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'#' | b'_' | b'-' | b'.' | b':')
                    })
            });
            let (Some(n), true) = (name_len, valid) else {
                return Err(Self::malformed(
                    at,
                    &format!("'&' that starts no entity reference in {path}"),
                ));
            };
            let resolved = self.entity(&after[..n], path);
            out.push_str(&resolved);
            rest = &after[n + 1..];
        }
        out.push_str(rest);
        Ok(Cow::Owned(out))
    }

    /// Resolves the five predefined entities and character references; anything else is
    /// kept literally (no DTD can define it: DOCTYPEs are refused).
    fn entity(&mut self, name: &str, path: &'static str) -> String {
        if let Some(number) = name.strip_prefix('#') {
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => number.parse::<u32>().ok(),
            };
            return match code.and_then(char::from_u32) {
                Some(c) if c != '\0' && !text::is_forbidden_control(c) => c.to_string(),
                _ => {
                    let raw = format!("&{name};");
                    self.diag(Code::ControlCharacter, Severity::Warning, path, Some(&raw));
                    char::REPLACEMENT_CHARACTER.to_string()
                }
            };
        }
        match name {
            "lt" => "<".into(),
            "gt" => ">".into(),
            "amp" => "&".into(),
            "apos" => "'".into(),
            "quot" => "\"".into(),
            other => {
                let raw = format!("&{other};");
                self.diag(Code::UnknownEntity, Severity::Warning, path, Some(&raw));
                raw
            }
        }
    }

    /// Stores a text value in a single-valued field, flagging repeats.
    fn set_once(&mut self, slot_is_set: bool, path: &'static str) -> bool {
        if slot_is_set {
            self.diag(Code::DuplicateElement, Severity::Warning, path, None);
            return false;
        }
        true
    }

    /// Parses an enumerated value leniently.
    fn vocab<T: Vocabulary>(&mut self, raw: Option<String>, path: &'static str) -> Option<T> {
        let raw = raw?;
        if let Some(v) = T::from_canonical(&raw) {
            return Some(v);
        }
        let lower = raw.to_ascii_lowercase();
        if let Some(v) = T::from_canonical(&lower) {
            self.diag(Code::ValueNormalized, Severity::Warning, path, Some(&raw));
            return Some(v);
        }
        if let Some(v) = T::alias(&lower) {
            self.diag(Code::ValueAlias, Severity::Warning, path, Some(&raw));
            return Some(v);
        }
        self.diag(Code::UnknownValue, Severity::Warning, path, Some(&raw));
        Some(T::other(raw))
    }

    /// Keeps an unknown or extension element as raw XML, within the size limit of its
    /// level (the report, or the current record).
    fn keep_raw(
        &mut self,
        open: &Open<'a>,
        path: &'static str,
    ) -> Result<Option<Extension>, Error> {
        let name = open.qualified();
        self.skip(open)?;
        let end = self.offset();
        let size = end.saturating_sub(open.start);
        let used = if self.record.is_some() {
            &mut self.record_extension_bytes
        } else {
            &mut self.extension_bytes
        };
        if *used + size > self.limits.max_extension_bytes {
            self.diag(Code::ExtensionDropped, Severity::Warning, path, Some(&name));
            return Ok(None);
        }
        *used += size;
        // `start` is where the lexer began reading, before the whitespace ahead of the tag.
        let xml = self
            .lexer
            .src()
            .get(open.start..end)
            .unwrap_or_default()
            .trim_start()
            .to_owned();
        self.diag(Code::Extension, Severity::Info, path, Some(&name));
        Ok(Some(Extension { name, xml }))
    }

    // ----- structure ------------------------------------------------------------------

    /// Finds the root element; it must be `feedback` in any namespace.
    fn root(&mut self) -> Result<Option<String>, Error> {
        loop {
            let start = self.offset();
            match self.read()? {
                Token::Start { name, attrs, empty } => {
                    let open = self.enter(name, attrs, empty, start)?;
                    let namespace = self.root_element(&open)?;
                    if empty {
                        return Err(Error::new(
                            ErrorKind::MissingElement,
                            "<feedback/> is empty: no report_metadata",
                        ));
                    }
                    return Ok(namespace);
                }
                Token::Text(t) | Token::CData(t) => {
                    let head: String = t.trim_ascii().chars().take(40).collect();
                    return Err(Error::new(
                        ErrorKind::NotAggregateReport,
                        format!(
                            "not an aggregate report: text {head:?} instead of a <feedback> element"
                        ),
                    ));
                }
                Token::Eof => return Err(Self::malformed(start, "no root element")),
                Token::Ignorable | Token::End | Token::DocType => {}
            }
        }
    }

    fn root_element(&mut self, open: &Open<'a>) -> Result<Option<String>, Error> {
        if open.local() != "feedback" {
            return Err(Error::new(
                ErrorKind::NotAggregateReport,
                format!(
                    "not an aggregate report: root element is <{}>, not <feedback>",
                    open.qualified()
                ),
            ));
        }
        // The namespace of the root: `xmlns` or `xmlns:prefix` matching its prefix.
        let prefix = open.name.split_once(':').map(|(p, _)| p);
        let mut namespace = None;
        for (key, value) in attributes(open.attrs).flatten() {
            let matches = match prefix {
                None => key == "xmlns",
                Some(p) => key.strip_prefix("xmlns:") == Some(p),
            };
            if matches {
                namespace = Some(value.trim().to_owned());
            }
        }
        if namespace.as_deref() == Some(NS_DMARC2) {
            self.rfc9990_hint = true;
        }
        Ok(namespace)
    }

    fn feedback(&mut self) -> Result<(), Error> {
        const P: &str = "feedback";
        loop {
            let open = match self.next_child(P)? {
                Child::Close => break,
                Child::Open(open) => open,
            };
            match open.local() {
                "version" => {
                    let value = self.text(&open, Len::Token, "feedback/version")?;
                    if self.set_once(self.version.is_some(), "feedback/version") {
                        self.version = value;
                    }
                }
                "report_metadata" => {
                    if self.metadata.seen {
                        self.diag(
                            Code::DuplicateElement,
                            Severity::Warning,
                            "feedback/report_metadata",
                            None,
                        );
                        self.skip(&open)?;
                    } else {
                        self.metadata.seen = true;
                        self.report_metadata(&open)?;
                    }
                }
                "policy_published" => {
                    if self.policy.is_some() {
                        self.diag(
                            Code::DuplicateElement,
                            Severity::Warning,
                            "feedback/policy_published",
                            None,
                        );
                        self.skip(&open)?;
                    } else {
                        let policy = self.policy_published(&open)?;
                        self.policy = Some(policy);
                    }
                }
                "record" => self.record(&open)?,
                "extension" | "extensions" => {
                    self.rfc9990_hint = true;
                    if let Some(ext) = self.keep_raw(&open, "feedback/extension")? {
                        self.extensions.push(ext);
                    }
                }
                _ => {
                    if let Some(ext) = self.keep_raw(&open, "feedback/*")? {
                        self.extensions.push(ext);
                    }
                }
            }
        }
        // Anything after the root other than comments and whitespace is not well-formed.
        loop {
            match self.read()? {
                Token::Eof => return Ok(()),
                Token::Ignorable => {}
                _ => {
                    return Err(Error::new(
                        ErrorKind::MalformedXml,
                        format!(
                            "content after the end of <feedback> at byte {}",
                            self.offset()
                        ),
                    ));
                }
            }
        }
    }
}

/// Builds a child-element loop:
/// `children!(self, open, PATH, { "name" => |p, c| ..., ... } [else |p, c| ...])`.
/// Without `else`, unknown children are skipped with a diagnostic at `PATH/*`.
macro_rules! children {
    ($self:ident, $open:expr, $path:literal, { $($name:pat => $body:expr),* $(,)? }) => {
        children!($self, $open, $path, { $($name => $body),* } else |p: &mut Self, c: &Open<'a>| {
            let name = c.qualified();
            p.diag(Code::UnknownElement, Severity::Info, concat!($path, "/*"), Some(&name));
            p.skip(c)
        })
    };
    ($self:ident, $open:expr, $path:literal, { $($name:pat => $body:expr),* $(,)? } else $fallback:expr) => {
        if !$open.empty {
            loop {
                let child = match $self.next_child($path)? {
                    Child::Close => break,
                    Child::Open(child) => child,
                };
                let f: &mut dyn FnMut(&mut Self, &Open<'a>) -> Result<(), Error> = match child.local() {
                    $($name => &mut $body,)*
                    _ => &mut $fallback,
                };
                f($self, &child)?;
            }
        }
    };
}

impl<'a> Parser<'a, '_> {
    fn report_metadata(&mut self, open: &Open<'a>) -> Result<(), Error> {
        children!(self, open, "feedback/report_metadata", {
            "org_name" => |p, c| p.meta_text(c, Len::Text, "feedback/report_metadata/org_name", |m| &mut m.org_name),
            "email" => |p, c| p.meta_text(c, Len::Token, "feedback/report_metadata/email", |m| &mut m.email),
            "extra_contact_info" => |p, c| p.meta_text(c, Len::Text, "feedback/report_metadata/extra_contact_info", |m| &mut m.extra_contact_info),
            "report_id" => |p, c| p.meta_text(c, Len::Token, "feedback/report_metadata/report_id", |m| &mut m.report_id),
            "generator" => |p, c| {
                p.rfc9990_hint = true;
                p.meta_text(c, Len::Text, "feedback/report_metadata/generator", |m| &mut m.generator)
            },
            "error" => |p, c| {
                if let Some(e) = p.text(c, Len::Text, "feedback/report_metadata/error")? {
                    p.metadata.error.push(e);
                }
                Ok(())
            },
            "date_range" => |p, c| {
                if p.metadata.date_range_seen {
                    p.diag(Code::DuplicateElement, Severity::Warning, "feedback/report_metadata/date_range", None);
                    return p.skip(c);
                }
                p.metadata.date_range_seen = true;
                p.date_range(c)
            },
        });
        Ok(())
    }

    fn meta_text(
        &mut self,
        open: &Open<'a>,
        len: Len,
        path: &'static str,
        slot: fn(&mut MetadataParts) -> &mut Option<String>,
    ) -> Result<(), Error> {
        let value = self.text(open, len, path)?;
        let is_set = slot(&mut self.metadata).is_some();
        if self.set_once(is_set, path) {
            *slot(&mut self.metadata) = value;
        }
        Ok(())
    }

    fn date_range(&mut self, open: &Open<'a>) -> Result<(), Error> {
        children!(self, open, "feedback/report_metadata/date_range", {
            "begin" => |p, c| p.meta_text(c, Len::Token, "feedback/report_metadata/date_range/begin", |m| &mut m.begin),
            "end" => |p, c| p.meta_text(c, Len::Token, "feedback/report_metadata/date_range/end", |m| &mut m.end),
        });
        Ok(())
    }

    fn policy_published(&mut self, open: &Open<'a>) -> Result<PolicyPublished, Error> {
        let mut domain: Option<String> = None;
        let mut policy = PolicyPublished::default();
        macro_rules! vocab_field {
            ($field:ident, $path:literal) => {
                |p: &mut Self, c: &Open<'a>| {
                    let raw = p.text(c, Len::Token, $path)?;
                    if p.set_once(policy.$field.is_some(), $path) {
                        policy.$field = p.vocab(raw, $path);
                    }
                    Ok(())
                }
            };
        }
        children!(self, open, "feedback/policy_published", {
            "domain" => |p, c| {
                let value = p.text(c, Len::Token, "feedback/policy_published/domain")?;
                if p.set_once(domain.is_some(), "feedback/policy_published/domain") {
                    domain = value;
                }
                Ok(())
            },
            "adkim" => vocab_field!(adkim, "feedback/policy_published/adkim"),
            "aspf" => vocab_field!(aspf, "feedback/policy_published/aspf"),
            "p" => vocab_field!(p, "feedback/policy_published/p"),
            "sp" => vocab_field!(sp, "feedback/policy_published/sp"),
            "np" => |p, c| {
                p.rfc9990_hint = true;
                (vocab_field!(np, "feedback/policy_published/np"))(p, c)
            },
            "testing" => |p, c| {
                p.rfc9990_hint = true;
                (vocab_field!(testing, "feedback/policy_published/testing"))(p, c)
            },
            "discovery_method" => |p, c| {
                p.rfc9990_hint = true;
                (vocab_field!(discovery_method, "feedback/policy_published/discovery_method"))(p, c)
            },
            "fo" => |p, c| {
                let value = p.text(c, Len::Token, "feedback/policy_published/fo")?;
                if p.set_once(policy.fo.is_some(), "feedback/policy_published/fo") {
                    policy.fo = value;
                }
                Ok(())
            },
            "pct" => |p, c| {
                const PATH: &str = "feedback/policy_published/pct";
                let Some(raw) = p.text(c, Len::Token, PATH)? else { return Ok(()) };
                if !p.set_once(policy.pct.is_some(), PATH) {
                    return Ok(());
                }
                policy.pct = match raw.parse::<u32>() {
                    Ok(v) => Some(v),
                    Err(_) => {
                        let digits: String = raw.chars().take_while(char::is_ascii_digit).collect();
                        let value = digits.parse::<u32>().ok();
                        let code = if value.is_some() { Code::NumberRepaired } else { Code::UnknownValue };
                        p.diag(code, Severity::Warning, PATH, Some(&raw));
                        value
                    }
                };
                Ok(())
            },
        });
        let Some(domain) = domain else {
            return Err(Error::new(
                ErrorKind::MissingElement,
                "feedback/policy_published/domain is missing or empty: the report names no policy domain",
            ));
        };
        policy.domain = domain;
        if policy.p.is_none() {
            self.diag(
                Code::MissingElement,
                Severity::Warning,
                "feedback/policy_published/p",
                None,
            );
        }
        Ok(policy)
    }

    fn record(&mut self, open: &Open<'a>) -> Result<(), Error> {
        if self.record_count >= self.limits.max_records {
            return Err(Error::limit(
                "records per report",
                self.record_count + 1,
                self.limits.max_records,
            ));
        }
        self.record = Some(self.record_count);
        self.record_extension_bytes = 0;
        let mut row = RowParts::default();
        let mut identifiers: Option<Identifiers> = None;
        let mut auth: Option<AuthResults> = None;
        let mut extensions = Vec::new();
        children!(self, open, "feedback/record", {
            "row" => |p, c| {
                if row.seen {
                    p.diag(Code::DuplicateElement, Severity::Warning, "feedback/record/row", None);
                    return p.skip(c);
                }
                row.seen = true;
                p.row(c, &mut row)
            },
            "identifiers" | "identities" => |p, c| {
                if c.local() == "identities" {
                    p.diag(Code::ElementAlias, Severity::Warning, "feedback/record/identities", None);
                }
                if identifiers.is_some() {
                    p.diag(Code::DuplicateElement, Severity::Warning, "feedback/record/identifiers", None);
                    return p.skip(c);
                }
                identifiers = Some(p.identifiers(c)?);
                Ok(())
            },
            "auth_results" => |p, c| {
                if auth.is_some() {
                    p.diag(Code::DuplicateElement, Severity::Warning, "feedback/record/auth_results", None);
                    return p.skip(c);
                }
                auth = Some(p.auth_results(c)?);
                Ok(())
            },
        } else |p: &mut Self, c: &Open<'a>| {
            if let Some(ext) = p.keep_raw(c, "feedback/record/*")? {
                extensions.push(ext);
            }
            Ok(())
        });
        let record = self.finish_record(row, identifiers, auth, extensions);
        if let Some(record) = record {
            self.record_count += 1;
            (self.on_record)(record);
        }
        self.record = None;
        Ok(())
    }

    fn finish_record(
        &mut self,
        row: RowParts,
        identifiers: Option<Identifiers>,
        auth: Option<AuthResults>,
        extensions: Vec<Extension>,
    ) -> Option<Record> {
        const IP: &str = "feedback/record/row/source_ip";
        const COUNT: &str = "feedback/record/row/count";
        let count = match row.count.as_deref().map(parse_count) {
            Some(Some((count, repaired))) if count <= self.limits.max_row_count => {
                if repaired {
                    self.diag(
                        Code::NumberRepaired,
                        Severity::Warning,
                        COUNT,
                        row.count.as_deref(),
                    );
                }
                count
            }
            Some(_) | None => {
                self.diag(
                    Code::RowDropped,
                    Severity::Error,
                    COUNT,
                    row.count.as_deref(),
                );
                return None;
            }
        };
        let source_ip = match row.source_ip.as_deref() {
            Some(raw) => {
                let ip = parse_ip(raw);
                if ip.is_none() {
                    self.diag(Code::InvalidSourceIp, Severity::Error, IP, Some(raw));
                }
                ip
            }
            None => {
                self.diag(Code::InvalidSourceIp, Severity::Error, IP, None);
                None
            }
        };
        let pe = &row.policy_evaluated;
        for (missing, path) in [
            (
                pe.disposition.is_none(),
                "feedback/record/row/policy_evaluated/disposition",
            ),
            (
                pe.dkim.is_none(),
                "feedback/record/row/policy_evaluated/dkim",
            ),
            (pe.spf.is_none(), "feedback/record/row/policy_evaluated/spf"),
            (
                !row.policy_evaluated_seen,
                "feedback/record/row/policy_evaluated",
            ),
        ] {
            if missing {
                self.diag(Code::MissingElement, Severity::Warning, path, None);
            }
        }
        let identifiers = identifiers.unwrap_or_default();
        if identifiers.header_from.is_none() {
            self.diag(
                Code::MissingElement,
                Severity::Warning,
                "feedback/record/identifiers/header_from",
                None,
            );
        }
        Some(Record {
            source_ip,
            count,
            policy_evaluated: row.policy_evaluated,
            identifiers,
            auth_results: auth.unwrap_or_default(),
            extensions,
        })
    }

    fn row(&mut self, open: &Open<'a>, row: &mut RowParts) -> Result<(), Error> {
        children!(self, open, "feedback/record/row", {
            "source_ip" => |p, c| {
                let value = p.text(c, Len::Token, "feedback/record/row/source_ip")?;
                if p.set_once(row.source_ip.is_some(), "feedback/record/row/source_ip") {
                    row.source_ip = value;
                }
                Ok(())
            },
            "count" => |p, c| {
                let value = p.text(c, Len::Token, "feedback/record/row/count")?;
                if p.set_once(row.count.is_some(), "feedback/record/row/count") {
                    row.count = value;
                }
                Ok(())
            },
            "policy_evaluated" => |p, c| {
                if row.policy_evaluated_seen {
                    p.diag(Code::DuplicateElement, Severity::Warning, "feedback/record/row/policy_evaluated", None);
                    return p.skip(c);
                }
                row.policy_evaluated_seen = true;
                p.policy_evaluated(c, &mut row.policy_evaluated)
            },
        });
        Ok(())
    }

    fn policy_evaluated(&mut self, open: &Open<'a>, pe: &mut PolicyEvaluated) -> Result<(), Error> {
        children!(self, open, "feedback/record/row/policy_evaluated", {
            "disposition" => |p, c| {
                const PATH: &str = "feedback/record/row/policy_evaluated/disposition";
                let raw = p.text(c, Len::Token, PATH)?;
                if p.set_once(pe.disposition.is_some(), PATH) {
                    pe.disposition = p.vocab(raw, PATH);
                    if pe.disposition == Some(Disposition::Pass) {
                        p.rfc9990_hint = true;
                    }
                }
                Ok(())
            },
            "dkim" => |p, c| {
                const PATH: &str = "feedback/record/row/policy_evaluated/dkim";
                let raw = p.text(c, Len::Token, PATH)?;
                if p.set_once(pe.dkim.is_some(), PATH) {
                    pe.dkim = p.vocab(raw, PATH);
                }
                Ok(())
            },
            "spf" => |p, c| {
                const PATH: &str = "feedback/record/row/policy_evaluated/spf";
                let raw = p.text(c, Len::Token, PATH)?;
                if p.set_once(pe.spf.is_some(), PATH) {
                    pe.spf = p.vocab(raw, PATH);
                }
                Ok(())
            },
            "reason" => |p, c| {
                if pe.reason.len() >= p.limits.max_reasons_per_record {
                    return Err(Error::limit("override reasons per record", pe.reason.len() + 1, p.limits.max_reasons_per_record));
                }
                let reason = p.reason(c)?;
                if reason.kind == Some(OverrideType::PolicyTestMode) {
                    p.rfc9990_hint = true;
                }
                pe.reason.push(reason);
                Ok(())
            },
        });
        Ok(())
    }

    /// `reason` has `type` and `comment` children; some reporters send the type as bare
    /// text (`<reason>sampled_out</reason>`), which is accepted with a diagnostic.
    fn reason(&mut self, open: &Open<'a>) -> Result<PolicyOverrideReason, Error> {
        const PATH: &str = "feedback/record/row/policy_evaluated/reason";
        const TYPE: &str = "feedback/record/row/policy_evaluated/reason/type";
        let mut reason = PolicyOverrideReason::default();
        let mut type_seen = false;
        if !open.empty {
            let mut bare = String::new();
            loop {
                let start = self.offset();
                let child = match self.read()? {
                    Token::Start { name, attrs, empty } => self.enter(name, attrs, empty, start)?,
                    Token::End => {
                        self.depth -= 1;
                        break;
                    }
                    Token::Text(t) => {
                        let text = self.unescape(t, PATH, start)?;
                        bare.push_str(&text);
                        continue;
                    }
                    Token::CData(t) => {
                        bare.push_str(t);
                        continue;
                    }
                    Token::Eof => return Err(self.eof_inside(PATH)),
                    Token::Ignorable | Token::DocType => continue,
                };
                match child.local() {
                    "type" => {
                        type_seen = true;
                        let raw = self.text(&child, Len::Token, TYPE)?;
                        if self.set_once(reason.kind.is_some(), TYPE) {
                            reason.kind = self.vocab(raw, TYPE);
                        }
                    }
                    "comment" => {
                        const C: &str = "feedback/record/row/policy_evaluated/reason/comment";
                        let value = self.text(&child, Len::Text, C)?;
                        if self.set_once(reason.comment.is_some(), C) {
                            reason.comment = value;
                        }
                    }
                    _ => {
                        let name = child.qualified();
                        self.diag(
                            Code::UnknownElement,
                            Severity::Info,
                            "feedback/record/row/policy_evaluated/reason/*",
                            Some(&name),
                        );
                        self.skip(&child)?;
                    }
                }
            }
            let bare = bare.trim_ascii();
            if !bare.is_empty() {
                if reason.kind.is_none() && !type_seen {
                    self.diag(Code::UnexpectedText, Severity::Warning, PATH, Some(bare));
                    reason.kind = self.vocab(Some(bare.to_owned()), TYPE);
                    type_seen = true;
                } else {
                    self.diag(Code::UnexpectedText, Severity::Warning, PATH, Some(bare));
                }
            }
        }
        if reason.kind.is_none() {
            let code = if type_seen {
                Code::EmptyElement
            } else {
                Code::MissingElement
            };
            self.diag(code, Severity::Warning, TYPE, None);
        }
        Ok(reason)
    }

    fn identifiers(&mut self, open: &Open<'a>) -> Result<Identifiers, Error> {
        let mut ids = Identifiers::default();
        children!(self, open, "feedback/record/identifiers", {
            "header_from" => |p, c| p.opt_text(c, Len::Token, "feedback/record/identifiers/header_from", &mut ids.header_from),
            "envelope_from" => |p, c| p.opt_text(c, Len::Token, "feedback/record/identifiers/envelope_from", &mut ids.envelope_from),
            "envelope_to" => |p, c| p.opt_text(c, Len::Token, "feedback/record/identifiers/envelope_to", &mut ids.envelope_to),
        });
        Ok(ids)
    }

    fn opt_text(
        &mut self,
        open: &Open<'a>,
        len: Len,
        path: &'static str,
        slot: &mut Option<String>,
    ) -> Result<(), Error> {
        let value = self.text(open, len, path)?;
        if self.set_once(slot.is_some(), path) {
            *slot = value;
        }
        Ok(())
    }

    fn auth_results(&mut self, open: &Open<'a>) -> Result<AuthResults, Error> {
        let mut auth = AuthResults::default();
        children!(self, open, "feedback/record/auth_results", {
            "dkim" => |p, c| {
                if auth.dkim.len() >= p.limits.max_dkim_per_record {
                    return Err(Error::limit("DKIM results per record", auth.dkim.len() + 1, p.limits.max_dkim_per_record));
                }
                let dkim = p.dkim(c)?;
                auth.dkim.push(dkim);
                Ok(())
            },
            "spf" => |p, c| {
                if auth.spf.len() >= p.limits.max_spf_per_record {
                    return Err(Error::limit("SPF results per record", auth.spf.len() + 1, p.limits.max_spf_per_record));
                }
                let spf = p.spf(c)?;
                auth.spf.push(spf);
                Ok(())
            },
        });
        Ok(auth)
    }

    fn dkim(&mut self, open: &Open<'a>) -> Result<DkimAuthResult, Error> {
        const RESULT: &str = "feedback/record/auth_results/dkim/result";
        let mut dkim = DkimAuthResult::default();
        children!(self, open, "feedback/record/auth_results/dkim", {
            "domain" => |p, c| p.opt_text(c, Len::Token, "feedback/record/auth_results/dkim/domain", &mut dkim.domain),
            "selector" => |p, c| p.opt_text(c, Len::Token, "feedback/record/auth_results/dkim/selector", &mut dkim.selector),
            "human_result" => |p, c| p.opt_text(c, Len::Text, "feedback/record/auth_results/dkim/human_result", &mut dkim.human_result),
            "result" => |p, c| {
                let raw = p.text(c, Len::Token, RESULT)?;
                if p.set_once(dkim.result.is_some(), RESULT) {
                    dkim.result = p.vocab(raw, RESULT);
                }
                Ok(())
            },
        });
        if dkim.domain.is_none() {
            self.diag(
                Code::MissingElement,
                Severity::Warning,
                "feedback/record/auth_results/dkim/domain",
                None,
            );
        }
        if dkim.result.is_none() {
            self.diag(Code::MissingElement, Severity::Warning, RESULT, None);
        }
        Ok(dkim)
    }

    fn spf(&mut self, open: &Open<'a>) -> Result<SpfAuthResult, Error> {
        const RESULT: &str = "feedback/record/auth_results/spf/result";
        const SCOPE: &str = "feedback/record/auth_results/spf/scope";
        let mut spf = SpfAuthResult::default();
        children!(self, open, "feedback/record/auth_results/spf", {
            "domain" => |p, c| p.opt_text(c, Len::Token, "feedback/record/auth_results/spf/domain", &mut spf.domain),
            "human_result" => |p, c| p.opt_text(c, Len::Text, "feedback/record/auth_results/spf/human_result", &mut spf.human_result),
            "scope" => |p, c| {
                let raw = p.text(c, Len::Token, SCOPE)?;
                if p.set_once(spf.scope.is_some(), SCOPE) {
                    spf.scope = p.vocab(raw, SCOPE);
                }
                Ok(())
            },
            "result" => |p, c| {
                let raw = p.text(c, Len::Token, RESULT)?;
                if p.set_once(spf.result.is_some(), RESULT) {
                    spf.result = p.vocab(raw, RESULT);
                }
                Ok(())
            },
        });
        if spf.domain.is_none() {
            self.diag(
                Code::MissingElement,
                Severity::Warning,
                "feedback/record/auth_results/spf/domain",
                None,
            );
        }
        if spf.result.is_none() {
            self.diag(Code::MissingElement, Severity::Warning, RESULT, None);
        }
        if spf.scope.is_none() {
            self.diag(Code::ScopeOmitted, Severity::Info, SCOPE, None);
        }
        Ok(spf)
    }

    // ----- assembly -------------------------------------------------------------------

    fn finish(mut self, namespace: Option<String>, xml_sha256: String) -> Result<Report, Error> {
        if !self.metadata.seen {
            return Err(Error::new(
                ErrorKind::MissingElement,
                "feedback/report_metadata is missing",
            ));
        }
        let Some(policy_published) = self.policy.take() else {
            return Err(Error::new(
                ErrorKind::MissingElement,
                "feedback/policy_published is missing",
            ));
        };
        let meta = std::mem::take(&mut self.metadata);
        let Some(report_id) = meta.report_id else {
            return Err(Error::new(
                ErrorKind::MissingElement,
                "feedback/report_metadata/report_id is missing or empty",
            ));
        };
        if meta.org_name.is_none() && meta.email.is_none() {
            return Err(Error::new(
                ErrorKind::MissingElement,
                "feedback/report_metadata has neither org_name nor email: the reporter is unknown",
            ));
        }
        let date_range = period::read(
            meta.begin.as_deref(),
            meta.end.as_deref(),
            self.now,
            self.limits.max_future_secs,
            &mut self.diags,
        )?;
        if self.record_count == 0 {
            return Err(Error::new(
                ErrorKind::NoRecords,
                "the report has no usable <record>",
            ));
        }
        let dialect = if self.rfc9990_hint || namespace.as_deref() == Some(NS_DMARC2) {
            Dialect::Rfc9990
        } else if self.version.is_some() {
            Dialect::Rfc7489
        } else {
            Dialect::Draft
        };
        let policy_effective = policy_published.effective();
        Ok(Report {
            dialect,
            namespace,
            version: self.version,
            report_metadata: ReportMetadata {
                org_name: meta.org_name,
                email: meta.email,
                extra_contact_info: meta.extra_contact_info,
                report_id,
                date_range,
                error: meta.error,
                generator: meta.generator,
            },
            policy_published,
            policy_effective,
            extensions: self.extensions,
            records: Vec::new(),
            xml_sha256,
            diagnostics: self.diags.into_vec(),
        })
    }
}

#[derive(Default)]
struct RowParts {
    seen: bool,
    source_ip: Option<String>,
    count: Option<String>,
    policy_evaluated_seen: bool,
    policy_evaluated: PolicyEvaluated,
}

/// Parses a message count; `true` when it had to be repaired (`"5.0"`, `"1,000"`).
fn parse_count(raw: &str) -> Option<(u64, bool)> {
    if let Ok(v) = raw.parse::<u64>() {
        return Some((v, false));
    }
    let int = match raw.split_once('.') {
        Some((int, frac)) if frac.bytes().all(|b| b == b'0') => int.to_owned(),
        Some(_) => return None,
        None => raw.replace([',', '_', ' '], ""),
    };
    int.parse::<u64>().ok().map(|v| (v, true))
}

/// Parses an IP address, also from `[v6]`, with a zone id, or with an IPv4 port-less suffix.
fn parse_ip(raw: &str) -> Option<IpAddr> {
    if let Ok(ip) = IpAddr::from_str(raw) {
        return Some(ip);
    }
    let unbracketed = raw
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(raw);
    let without_zone = unbracketed.split('%').next().unwrap_or(unbracketed);
    IpAddr::from_str(without_zone).ok()
}
