//! # dmarc-core
//!
//! Reads DMARC aggregate reports (RFC 7489, RFC 9990 and the pre-RFC draft format) from
//! untrusted bytes, safely and tolerantly, and computes rollups over them.
//!
//! - [`parse_input`] takes the bytes of a file, an attachment or an e-mail message (raw
//!   XML, gzip, zlib, zip, MIME e-mail, mbox; detected by magic bytes) and returns one
//!   [`Parsed`] per report found: a [`Report`] with its [`Diagnostic`]s, or an [`Error`]
//!   naming the cause. [`parse_xml`] reads one uncompressed XML document.
//! - [`Limits`] bound everything an attacker controls: sizes, ratios, depth, counts and
//!   lengths. No DOCTYPE is ever accepted, so no entity is ever expanded.
//! - [`Report::identity`] gives the duplicate key; [`Report::xml_sha256`] the byte-level one.
//! - [`Filter`] selects records; [`rollup`] computes summaries, breakdowns, the daily
//!   timeline and the failure-rate trend, counting messages, never rows.
//! - [`GeoLookup`] and [`AnomalyScorer`] are the extension points other crates implement.
//!
//! The crate does no I/O: no files, no network, no async runtime, no database. The optional
//! `files` feature adds [`files`](crate::files), which lists and reads report files for front
//! ends that take paths.
//!
//! ```
//! use dmarc_core::{parse_input, rollup, Filter, ParseOptions};
//!
//! let xml = br#"<?xml version="1.0"?>
//! <feedback>
//!   <report_metadata>
//!     <org_name>google.com</org_name><email>noreply-dmarc-support@google.com</email>
//!     <report_id>5264580628977113351</report_id>
//!     <date_range><begin>1669507200</begin><end>1669593599</end></date_range>
//!   </report_metadata>
//!   <policy_published><domain>example.com</domain><p>Reject</p></policy_published>
//!   <record>
//!     <row>
//!       <source_ip>2a01:4f9:c011:b43c::1</source_ip><count>3</count>
//!       <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated>
//!     </row>
//!     <identifiers><header_from>example.com</header_from></identifiers>
//!     <auth_results>
//!       <dkim><domain>example.com</domain><result>pass</result><selector>s1</selector></dkim>
//!       <spf><domain>bounce.example.net</domain><result>hardfail</result></spf>
//!     </auth_results>
//!   </record>
//! </feedback>"#;
//!
//! // The time of ingestion is an input: the core never reads the clock.
//! let parsed = parse_input(xml, &ParseOptions::at(1_700_000_000));
//! let report = parsed[0].result.as_ref().expect("a report");
//! assert_eq!(report.report_metadata.report_id, "5264580628977113351");
//! assert_eq!(report.policy_published.p, Some(dmarc_core::Disposition::Reject));
//! // `Reject` and `hardfail` were repaired; each repair is a diagnostic.
//! assert!(report.diagnostics.iter().any(|d| d.raw.as_deref() == Some("hardfail")));
//!
//! let summary = rollup::summary(std::slice::from_ref(report), &Filter::default());
//! assert_eq!((summary.tally.messages, summary.tally.dmarc_pass), (3, 3));
//! ```

#![deny(missing_docs)]

mod container;
mod diag;
mod ext;
#[cfg(feature = "files")]
pub mod files;
mod filter;
mod identity;
mod lexer;
mod limits;
mod model;
mod period;
mod text;
mod xml;

pub mod rollup;
pub mod senders;

pub use container::{ParseOptions, Parsed, ReportSink, parse_input, parse_input_into, parse_xml};
pub use diag::{Diagnostic, DiagnosticCode, Error, ErrorKind, Severity};
pub use ext::{AnomalyScore, AnomalyScorer, GeoError, GeoInfo, GeoLookup};
pub use filter::{Filter, FilterError, IpFilter, Verdict, ip_key};
pub use identity::{Relation, ReportIdentity, normalize_report_id};
pub use limits::Limits;
pub use model::{
    Alignment, AuthResults, DateRange, Dialect, DiscoveryMethod, Disposition, DkimAuthResult,
    DkimResult, DmarcResult, EffectivePolicy, Extension, Identifiers, OverrideType,
    PolicyEvaluated, PolicyOverrideReason, PolicyPublished, Record, Report, ReportMetadata,
    SpfAuthResult, SpfResult, SpfScope, Testing,
};
