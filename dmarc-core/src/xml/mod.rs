//! Streaming XML parser for aggregate reports: one pass over the tokens of [`Lexer`],
//! matching on local names only, in any element order, with every tolerance decision
//! recorded. Here: the document structure, report metadata, the published policy and the
//! final checks; `reader.rs` reads tokens and text under the limits, `record.rs` reads the
//! records.

use std::borrow::Cow;
use std::net::IpAddr;
use std::str::FromStr;

use crate::diag::{DiagnosticCode as Code, Diagnostics, Error, ErrorKind, Severity};
use crate::lexer::{Lexer, Token, attributes};
use crate::limits::Limits;
use crate::model::*;
use crate::period;
use crate::text;

mod reader;

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

mod record;

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
            self.diags.push(
                Code::NoRecords,
                Severity::Warning,
                "feedback/record",
                None,
                None,
            );
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
