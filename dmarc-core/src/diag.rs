//! Diagnostics (tolerated problems) and errors (rejected inputs).

use std::fmt;

use serde::{Deserialize, Serialize};

/// How serious a tolerated problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Conforming, or a common omission every reader tolerates; strict mode accepts it.
    Info,
    /// Not conforming to any dialect, but repaired without losing data.
    Warning,
    /// Part of the report could not be read and was dropped or left empty.
    Error,
}

/// What a diagnostic is about. Serialised in `snake_case`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DiagnosticCode {
    /// A compressed payload was found inside another compressed payload.
    NestedCompression,
    /// Bytes that are not whitespace follow the end of a compressed stream.
    TrailingData,
    /// An archive entry was ignored (another entry holds the report, or its name is unsafe).
    ArchiveEntryIgnored,
    /// The XML was decoded from a declared non-UTF-8 encoding.
    Transcoded,
    /// Bytes that are not valid UTF-8 were decoded as windows-1252.
    InvalidUtf8,
    /// The declared encoding is unknown; the document was read as UTF-8.
    UnknownEncoding,
    /// A control character that XML 1.0 forbids was replaced by U+FFFD.
    ControlCharacter,
    /// An entity other than the five predefined ones was left unexpanded.
    UnknownEntity,
    /// An element this parser does not know was skipped.
    UnknownElement,
    /// An extension element was kept as raw XML.
    Extension,
    /// An extension was dropped because it exceeds the size limit.
    ExtensionDropped,
    /// Text appeared where only child elements are expected.
    UnexpectedText,
    /// An element that may appear once appeared again; the first one is kept.
    DuplicateElement,
    /// A misspelt element name was accepted (`identities`, `extensions`).
    ElementAlias,
    /// An enumerated value was trimmed or lower-cased to match the vocabulary.
    ValueNormalized,
    /// A non-standard spelling was mapped to a standard value (`hardfail` -> `fail`).
    ValueAlias,
    /// An enumerated value is outside the vocabulary and kept as `Other`.
    UnknownValue,
    /// An element the schema requires is missing.
    MissingElement,
    /// An element is present but empty.
    EmptyElement,
    /// The SPF `scope` is missing and is effectively `mfrom`.
    ScopeOmitted,
    /// A number was repaired (leading digits kept, fraction dropped).
    NumberRepaired,
    /// A timestamp was repaired (fraction dropped, milliseconds converted).
    TimestampRepaired,
    /// The reporting period is unusual (reversed, empty, longer than 27 hours).
    DateRangeAnomaly,
    /// A timestamp lies before 2000-01-01 (kept: old reports and test reports exist).
    ImplausibleTimestamp,
    /// `source_ip` is missing or not an IP address; the row is kept without one.
    InvalidSourceIp,
    /// A row was dropped because its message count is unreadable or implausibly large.
    RowDropped,
    /// The report holds no usable `<record>`: it only shows that the reporter is active for
    /// the domain (some reporters send these). Strict mode rejects it as `no_records`.
    NoRecords,
}

impl DiagnosticCode {
    /// A one-line description for humans.
    pub fn description(self) -> &'static str {
        use DiagnosticCode as C;
        match self {
            C::NestedCompression => "compressed payload inside another compressed payload",
            C::TrailingData => "non-whitespace bytes after the end of the compressed stream",
            C::ArchiveEntryIgnored => "archive entry ignored",
            C::Transcoded => "decoded from a declared non-UTF-8 encoding",
            C::InvalidUtf8 => "invalid UTF-8 bytes decoded as windows-1252",
            C::UnknownEncoding => "unknown declared encoding, read as UTF-8",
            C::ControlCharacter => "forbidden control character replaced by U+FFFD",
            C::UnknownEntity => "unknown entity reference left unexpanded",
            C::UnknownElement => "unknown element skipped",
            C::Extension => "extension element kept as raw XML",
            C::ExtensionDropped => "extension element dropped: larger than the limit",
            C::UnexpectedText => "text where only elements are expected",
            C::DuplicateElement => "element repeated; the first one is kept",
            C::ElementAlias => "misspelt element name accepted",
            C::ValueNormalized => "value trimmed or lower-cased to match the vocabulary",
            C::ValueAlias => "non-standard value mapped to a standard one",
            C::UnknownValue => "value outside the vocabulary kept as sent",
            C::MissingElement => "required element missing",
            C::EmptyElement => "element is empty",
            C::ScopeOmitted => "SPF scope omitted; effectively mfrom",
            C::NumberRepaired => "number repaired",
            C::TimestampRepaired => "timestamp repaired",
            C::DateRangeAnomaly => "unusual reporting period",
            C::ImplausibleTimestamp => "timestamp before 2000-01-01",
            C::InvalidSourceIp => "source_ip missing or not an IP address; row kept without it",
            C::RowDropped => "row dropped: message count unreadable or above the limit",
            C::NoRecords => "the report has no usable <record>",
        }
    }
}

/// A tolerated problem, attached to the report it was found in.
///
/// Repeated occurrences of the same code at the same element path are folded into one
/// diagnostic with an occurrence count, so a two-million-row report that omits every SPF
/// scope yields one diagnostic, not two million.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// What the problem is.
    pub code: DiagnosticCode,
    /// How serious it is.
    pub severity: Severity,
    /// Element path without indices, e.g. `feedback/record/auth_results/spf/scope`, or the
    /// container step for container diagnostics.
    pub path: String,
    /// Zero-based index of the first record it occurred in, if inside a record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<usize>,
    /// The offending raw value of the first occurrence (truncated to 200 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    /// How many times it occurred.
    pub occurrences: u64,
    /// Human-readable description of `code` (derived from it when deserialising).
    pub message: &'static str,
}

/// The serialised form of a [`Diagnostic`]; the message is derived from the code.
#[derive(Deserialize)]
struct DiagnosticWire {
    code: DiagnosticCode,
    severity: Severity,
    path: String,
    #[serde(default)]
    record: Option<usize>,
    #[serde(default)]
    raw: Option<String>,
    occurrences: u64,
}

impl<'de> Deserialize<'de> for Diagnostic {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = DiagnosticWire::deserialize(d)?;
        Ok(Diagnostic {
            code: w.code,
            severity: w.severity,
            path: w.path,
            record: w.record,
            raw: w.raw,
            occurrences: w.occurrences,
            message: w.code.description(),
        })
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} {}: {}", self.severity, self.path, self.message)?;
        if let Some(raw) = &self.raw {
            write!(f, " ({raw:?})")?;
        }
        if let Some(record) = self.record {
            write!(f, " [record {record}]")?;
        }
        if self.occurrences > 1 {
            write!(f, " x{}", self.occurrences)?;
        }
        Ok(())
    }
}

/// Maximum length kept of a raw value in a diagnostic.
const RAW_KEEP: usize = 200;

/// Collects diagnostics, folding repeats.
#[derive(Debug, Default, Clone)]
pub(crate) struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub(crate) fn push(
        &mut self,
        code: DiagnosticCode,
        severity: Severity,
        path: &str,
        record: Option<usize>,
        raw: Option<&str>,
    ) {
        if let Some(existing) = self
            .items
            .iter_mut()
            .find(|d| d.code == code && d.path == path)
        {
            existing.occurrences += 1;
            return;
        }
        self.items.push(Diagnostic {
            code,
            severity,
            path: path.to_owned(),
            record,
            raw: raw.map(truncate_raw),
            occurrences: 1,
            message: code.description(),
        });
    }

    pub(crate) fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }
}

fn truncate_raw(raw: &str) -> String {
    match raw.char_indices().nth(RAW_KEEP) {
        Some((cut, _)) => format!("{}…", &raw[..cut]),
        None => raw.to_owned(),
    }
}

/// Why an input was rejected. Serialised in `snake_case`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// A security limit was hit (size, ratio, depth, count, length).
    LimitExceeded,
    /// The XML has a DOCTYPE (entity expansion and external entities are never allowed).
    DoctypeForbidden,
    /// The bytes are not gzip, zlib, zip, XML, an e-mail message or an mbox file.
    UnknownFormat,
    /// The input is a different kind of report (SMTP TLS, DMARC failure) or no report.
    NotAggregateReport,
    /// The XML is not well-formed.
    MalformedXml,
    /// A compressed stream is corrupt.
    Decompression,
    /// A zip archive is unusable (encrypted, unsupported method, no report entry).
    Archive,
    /// An e-mail message carries no report attachment.
    NoReport,
    /// An element the report cannot do without is missing or empty.
    MissingElement,
    /// No usable `begin`/`end`.
    InvalidDateRange,
    /// The report has no usable record.
    NoRecords,
    /// Strict mode: a diagnostic of severity warning or error was promoted to an error.
    Strict,
    /// The input could not be read (set by callers that do I/O; the core never does).
    Io,
}

impl ErrorKind {
    /// The serialised name.
    pub fn as_str(self) -> &'static str {
        use ErrorKind as K;
        match self {
            K::LimitExceeded => "limit_exceeded",
            K::DoctypeForbidden => "doctype_forbidden",
            K::UnknownFormat => "unknown_format",
            K::NotAggregateReport => "not_aggregate_report",
            K::MalformedXml => "malformed_xml",
            K::Decompression => "decompression",
            K::Archive => "archive",
            K::NoReport => "no_report",
            K::MissingElement => "missing_element",
            K::InvalidDateRange => "invalid_date_range",
            K::NoRecords => "no_records",
            K::Strict => "strict",
            K::Io => "io",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rejected input or payload: what went wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[error("{kind}: {message}")]
pub struct Error {
    /// The class of problem.
    pub kind: ErrorKind,
    /// What went wrong, including the XML path or byte offset where known.
    pub message: String,
}

impl Error {
    /// An error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn limit(what: &str, actual: impl fmt::Display, limit: impl fmt::Display) -> Self {
        Error::new(
            ErrorKind::LimitExceeded,
            format!("{what}: {actual} exceeds the limit of {limit}"),
        )
    }
}
