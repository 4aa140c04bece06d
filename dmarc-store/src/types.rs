//! What the store returns.

use serde::{Deserialize, Serialize};

use dmarc_core::{Error, Report};

/// A page request: at most `limit` items after skipping `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page {
    /// Items per page (1..=1000 is sensible; the store caps it at 10,000).
    pub limit: u32,
    /// Items to skip.
    pub offset: u64,
}

impl Page {
    /// The largest page the store returns.
    pub const MAX_LIMIT: u32 = 10_000;

    /// The first `limit` items.
    pub fn first(limit: u32) -> Self {
        Page { limit, offset: 0 }
    }

    /// `(limit, offset)` for SQL, the limit clamped to `1..=MAX_LIMIT`.
    pub(crate) fn clamped(self) -> (i64, i64) {
        (
            i64::from(self.limit.clamp(1, Self::MAX_LIMIT)),
            i64::try_from(self.offset).unwrap_or(i64::MAX),
        )
    }
}

impl Default for Page {
    fn default() -> Self {
        Page::first(50)
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Paged<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Items across all pages (sources: counted up to 10,000, see `total_capped`).
    pub total: u64,
    /// There are more items than `total` says: sources count at most 10,000 addresses.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub total_capped: bool,
    /// The page size used.
    pub limit: u32,
    /// The offset used.
    pub offset: u64,
}

impl<T> Paged<T> {
    /// `items` out of `total`, as `page` asked for them (its limit clamped as queries
    /// clamp it).
    pub fn of(items: Vec<T>, total: u64, page: Page) -> Paged<T> {
        Paged {
            items,
            total,
            total_capped: false,
            limit: page.limit.clamp(1, Page::MAX_LIMIT),
            offset: page.offset,
        }
    }

    /// The same page with each item mapped.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            total_capped: self.total_capped,
            limit: self.limit,
            offset: self.offset,
        }
    }
}

/// What happened to one payload of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum OutcomeStatus {
    /// A new report was stored.
    Accepted,
    /// The report was already stored (see `report`).
    Duplicate,
    /// Reprocessing: the report was stored from the same XML and is rewritten from the new
    /// parse (same id).
    Refreshed,
    /// No report could be read (see `error`).
    Rejected,
}

impl OutcomeStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeStatus::Accepted => "accepted",
            OutcomeStatus::Duplicate => "duplicate",
            OutcomeStatus::Refreshed => "refreshed",
            OutcomeStatus::Rejected => "rejected",
        }
    }

    pub(crate) fn parse(text: &str) -> Self {
        match text {
            "accepted" => OutcomeStatus::Accepted,
            "duplicate" => OutcomeStatus::Duplicate,
            "refreshed" => OutcomeStatus::Refreshed,
            _ => OutcomeStatus::Rejected,
        }
    }
}

/// The outcome of one payload part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Outcome {
    /// The input's name.
    pub input: String,
    /// Where in the input; absent when the input itself was the payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part: Option<String>,
    /// Accepted, duplicate or rejected.
    pub outcome: OutcomeStatus,
    /// The stored report: the new one when accepted, the existing one when a duplicate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportRef>,
    /// For an accepted report with the identity of a stored one but another period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflict_with: Option<i64>,
    /// Records in the payload's report (0 when rejected).
    pub records: u64,
    /// Messages (sum of `count`) in the payload's report.
    pub messages: u64,
    /// Why the payload was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Error>,
}

/// Counts of outcomes, and the records and messages of the accepted reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutcomeTally {
    /// New reports stored.
    pub accepted: u64,
    /// Reports already stored.
    pub duplicate: u64,
    /// Reports rewritten from a new parse of the same XML (reprocessing only, so left out
    /// of the serialised form when zero).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refreshed: u64,
    /// Payload parts without a report.
    pub rejected: u64,
    /// Records of accepted reports.
    pub records: u64,
    /// Messages (sum of `count`) of accepted reports.
    pub messages: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl OutcomeTally {
    /// Counts one outcome.
    pub fn add(&mut self, outcome: &Outcome) {
        match outcome.outcome {
            OutcomeStatus::Accepted => {
                self.accepted += 1;
                self.records += outcome.records;
                self.messages = self.messages.saturating_add(outcome.messages);
            }
            OutcomeStatus::Duplicate => self.duplicate += 1,
            OutcomeStatus::Refreshed => self.refreshed += 1,
            OutcomeStatus::Rejected => self.rejected += 1,
        }
    }
}

impl Outcome {
    /// A payload that yielded no report (or an input that could not be read).
    pub fn rejected(input: &str, part: Option<String>, error: Option<Error>) -> Outcome {
        Outcome {
            input: input.to_owned(),
            part,
            outcome: OutcomeStatus::Rejected,
            report: None,
            conflict_with: None,
            records: 0,
            messages: 0,
            error,
        }
    }
}

/// A stored report, by id and identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportRef {
    /// Database id.
    pub id: i64,
    /// Who sent it.
    pub reporter: String,
    /// The report id (normalised).
    pub report_id: String,
    /// The policy domain.
    pub domain: String,
}

/// Result of [`crate::Store::reprocess`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReprocessSummary {
    /// Raw inputs parsed.
    pub payloads: u64,
    /// Reports stored for the first time.
    pub accepted: u64,
    /// Reports already stored from the same XML, rewritten from the new parse.
    pub refreshed: u64,
    /// Reports already stored from other bytes (left as they are).
    pub duplicate: u64,
    /// Payload parts that still yield no report.
    pub rejected: u64,
}

/// An input as received, for download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawInput {
    /// File name, upload name or message id.
    pub name: String,
    /// The bytes (the first 64 KiB only when `truncated`).
    pub bytes: Vec<u8>,
    /// Only the head of an oversized input was kept.
    pub truncated: bool,
}

/// Counts of what is stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Raw inputs kept.
    pub payloads: u64,
    /// Raw inputs stored but not parsed yet.
    pub pending: u64,
    /// Reports.
    pub reports: u64,
    /// Records.
    pub records: u64,
    /// Messages (sum of `count`).
    pub messages: u64,
    /// Reports flagged as conflicting with another (same identity, other period).
    pub conflicts: u64,
}

/// A report in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportSummary {
    /// Database id.
    pub id: i64,
    /// Reporter (duplicate key).
    pub reporter: String,
    /// Reporting organisation (`org_name`, else the reporter).
    pub org_name: String,
    /// The report id (normalised).
    pub report_id: String,
    /// The policy domain.
    pub domain: String,
    /// Start of the period (UTC seconds).
    pub begin: i64,
    /// End of the period (UTC seconds).
    pub end: i64,
    /// Records in the report.
    pub records: u64,
    /// Messages in the report.
    pub messages: u64,
    /// Messages that passed DMARC.
    pub dmarc_pass: u64,
    /// Diagnostics recorded while parsing.
    pub diagnostics: u64,
    /// The stored report with the same identity and another period, if any.
    pub conflict_with: Option<i64>,
    /// When it was stored (UTC seconds).
    pub ingested_at: i64,
}

/// One report with everything in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredReport {
    /// The list entry.
    pub summary: ReportSummary,
    /// Where it came from: the raw input's name and the part within it.
    pub source: String,
    /// Which records `report.records` holds: at most `limit` from position `offset`, in
    /// report order (the report has `summary.records` in all).
    pub records_page: Page,
    /// The report as parsed (diagnostics, policy, one page of records).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub report: Report,
}

/// A policy domain seen in reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DomainInfo {
    /// The domain (lower-case).
    pub domain: String,
    /// Reports about it.
    pub reports: u64,
    /// Messages in them.
    pub messages: u64,
    /// Earliest period start.
    pub first_begin: i64,
    /// Latest period end.
    pub last_end: i64,
}

/// One record with its report's columns, for exports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordExport {
    /// The report's database id.
    pub report: i64,
    /// Position of the record in its report.
    pub ord: i64,
    /// Reporting organisation.
    pub org_name: String,
    /// The report id (normalised).
    pub report_id: String,
    /// The policy domain.
    pub domain: String,
    /// Start of the report's period (UTC seconds).
    pub begin: i64,
    /// End of the report's period (UTC seconds).
    pub end: i64,
    /// The sending address as reported.
    pub source_ip: Option<String>,
    /// Messages.
    pub count: u64,
    /// Applied disposition.
    pub disposition: Option<String>,
    /// DKIM verdict of the policy evaluation.
    pub dkim: Option<String>,
    /// SPF verdict of the policy evaluation.
    pub spf: Option<String>,
    /// Aligned DKIM passed.
    pub dkim_aligned: bool,
    /// Aligned SPF passed.
    pub spf_aligned: bool,
    /// RFC 5322 From domain.
    pub header_from: Option<String>,
    /// RFC 5321 MAIL FROM domain.
    pub envelope_from: Option<String>,
    /// RFC 5321 RCPT TO domain.
    pub envelope_to: Option<String>,
}

/// Where an address is, as a geolocation source answered at a time.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Place {
    /// The address.
    pub ip: std::net::IpAddr,
    /// What the databases know of it (all empty: nothing).
    pub info: dmarc_core::GeoInfo,
    /// UTC seconds of the lookup.
    pub resolved_at: i64,
    /// Which databases answered (their names and build dates): a place from other
    /// databases than the configured ones is looked up again.
    pub source: String,
}
