//! The CPU-bound half of ingestion, done before touching the database (on any thread, in
//! parallel): parse the input, compress the raw bytes, and turn each report into the rows
//! the backends write.
//!
//! It stays whole: the packed row layout, the code that packs rows and the code that reads
//! them back (`record_from_columns`) change together.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::IpAddr;
use std::sync::Arc;

use dmarc_core::rollup::{OutcomeClass, day_overlaps, spread};
use dmarc_core::{
    Disposition, DmarcResult, Error, ParseOptions, Parsed, Record, Report, ReportSink,
    parse_input_into,
};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// One input, parsed and ready to be written: what `Store::ingest` takes.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The input's name (a path, an upload's file name, a message id).
    pub name: String,
    /// Lower-case hex SHA-256 of the bytes as received.
    pub sha256: String,
    /// Size of the bytes as received.
    pub size: u64,
    /// The bytes as received, gzip-compressed: kept whatever the outcome (shared by the
    /// chunks of an input written in several transactions).
    pub compressed: Arc<[u8]>,
    /// `compressed` holds only the input's first [`KEPT_HEAD`] bytes: a large input
    /// that held no report (`sha256` and `size` are still the whole input's).
    pub truncated: bool,
    /// One entry per payload found in the input.
    pub parts: Vec<PreparedPart>,
}

/// One payload of an input: a report ready to store, or why it was rejected.
#[derive(Debug, Clone)]
pub struct PreparedPart {
    /// Where in the input (attachment, archive entry); `None` for the input itself.
    pub part: Option<String>,
    /// The rows to write, or the parse error.
    pub result: Result<ReportRows, Error>,
}

impl Prepared {
    /// An input that could not be read (or was refused before reading, e.g. too large):
    /// a rejected outcome without a stored payload, as there are no bytes to keep.
    pub fn unreadable(name: String, error: Error) -> Prepared {
        Prepared {
            name,
            sha256: String::new(),
            size: 0,
            compressed: Arc::from(Vec::new()),
            truncated: false,
            parts: vec![PreparedPart {
                part: None,
                result: Err(error),
            }],
        }
    }
}

/// Parses `bytes` and prepares every report in them (records become rows as they are read,
/// never held twice).
pub fn prepare(name: impl Into<String>, bytes: &[u8], options: &ParseOptions) -> Prepared {
    let mut sink = RowSink::default();
    parse_input_into(bytes, options, &mut sink);
    Prepared {
        name: name.into(),
        sha256: hex_sha256(bytes),
        size: bytes.len() as u64,
        compressed: Arc::from(gzip(bytes)),
        truncated: false,
        parts: sink.parts,
    }
}

/// What is kept of a large input that held no report: its first 64 KiB.
pub const KEPT_HEAD: usize = 64 * 1024;

/// The rows of a report's records, packed: blocks of [`RecordRows::BLOCK`] fixed-size
/// entries (address, count, verdict flags, and where each text is) with one text arena per
/// block. 64 bytes a record plus its texts (identifiers, verdict words, the JSON of its auth
/// results), about 215 in all: a fraction of a parsed `Record`, and no allocation per string.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecordRows {
    blocks: Vec<Block>,
    len: usize,
}

#[derive(Debug, Clone, Default)]
struct Block {
    rows: Vec<Packed>,
    text: String,
}

/// The length of an absent text.
const ABSENT: u32 = u32::MAX;

#[derive(Debug, Clone)]
struct Packed {
    source_ip: Option<IpAddr>,
    count: i64,
    dkim_pass: bool,
    spf_pass: bool,
    /// Where the row's texts start in its block's arena; they follow one another.
    start: u32,
    /// Lengths of disposition, dkim, spf, header_from, envelope_from, envelope_to and
    /// detail ([`ABSENT`] for an absent field).
    lengths: [u32; 7],
}

impl RecordRows {
    const BLOCK: usize = 4096;

    fn push(&mut self, record: &Record) {
        if self
            .blocks
            .last()
            .is_none_or(|b| b.rows.len() == Self::BLOCK)
        {
            if let Some(full) = self.blocks.last_mut() {
                full.text.shrink_to_fit();
            }
            self.blocks.push(Block {
                rows: Vec::with_capacity(Self::BLOCK),
                text: String::new(),
            });
        }
        let Some(block) = self.blocks.last_mut() else {
            return;
        };
        let text = &mut block.text;
        let Ok(start) = u32::try_from(text.len()) else {
            return;
        };
        let mut put = |value: Option<&str>| -> u32 {
            match value.and_then(|v| Some((v, u32::try_from(v.len()).ok()?))) {
                Some((value, len)) if len != ABSENT => {
                    text.push_str(value);
                    len
                }
                _ => ABSENT,
            }
        };
        let evaluated = &record.policy_evaluated;
        let ids = &record.identifiers;
        let detail = serde_json::to_string(&Detail::of(record)).unwrap_or_default();
        let lengths = [
            put(evaluated.disposition.as_ref().map(Disposition::as_str)),
            put(evaluated.dkim.as_ref().map(DmarcResult::as_str)),
            put(evaluated.spf.as_ref().map(DmarcResult::as_str)),
            put(ids.header_from.as_deref()),
            put(ids.envelope_from.as_deref()),
            put(ids.envelope_to.as_deref()),
            put(Some(&detail)),
        ];
        block.rows.push(Packed {
            source_ip: record.source_ip,
            count: db_count(record.count),
            dkim_pass: record.dkim_aligned_pass(),
            spf_pass: record.spf_aligned_pass(),
            start,
            lengths,
        });
        self.len += 1;
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = RecordRow<'_>> {
        self.blocks.iter().flat_map(|block| {
            block.rows.iter().map(move |row| RecordRow {
                row,
                text: &block.text,
            })
        })
    }
}

/// One record as it is written (a view of its packed row).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordRow<'a> {
    row: &'a Packed,
    text: &'a str,
}

impl<'a> RecordRow<'a> {
    fn text(&self, field: usize) -> Option<&'a str> {
        let lengths = &self.row.lengths;
        if lengths[field] == ABSENT {
            return None;
        }
        let before: usize = lengths[..field]
            .iter()
            .filter(|&&len| len != ABSENT)
            .map(|&len| len as usize)
            .sum();
        let start = self.row.start as usize + before;
        self.text.get(start..start + lengths[field] as usize)
    }

    pub(crate) fn source_ip(&self) -> Option<IpAddr> {
        self.row.source_ip
    }

    pub(crate) fn count(&self) -> i64 {
        self.row.count
    }

    /// 1 when the aligned DKIM verdict passed.
    pub(crate) fn dkim_pass(&self) -> i64 {
        i64::from(self.row.dkim_pass)
    }

    /// 1 when the aligned SPF verdict passed.
    pub(crate) fn spf_pass(&self) -> i64 {
        i64::from(self.row.spf_pass)
    }

    /// The stored columns of this row.
    pub(crate) fn columns(&self) -> RecordColumns {
        let text = |field| self.text(field).map(str::to_owned);
        RecordColumns {
            source_ip: self.row.source_ip.map(|ip| ip.to_string()),
            count: self.row.count,
            disposition: text(0),
            dkim: text(1),
            spf: text(2),
            header_from: text(3),
            envelope_from: text(4),
            envelope_to: text(5),
            detail: text(6).unwrap_or_else(|| "{}".to_owned()),
        }
    }
}

/// Builds the rows of each payload from a streaming parse: every record becomes a row as
/// soon as it is read.
#[derive(Debug, Default)]
pub(crate) struct RowSink {
    records: RecordRows,
    classes: BTreeMap<OutcomeClass, u64>,
    dmarc_pass: i64,
    /// The payloads done so far.
    pub(crate) parts: Vec<PreparedPart>,
}

impl ReportSink for RowSink {
    fn record(&mut self, record: Record) {
        let class = self.classes.entry(OutcomeClass::of(&record)).or_default();
        *class = class.saturating_add(record.count);
        if record.dmarc_pass() {
            self.dmarc_pass = self.dmarc_pass.saturating_add(db_count(record.count));
        }
        self.records.push(&record);
    }

    fn payload(&mut self, parsed: Parsed) {
        let records = std::mem::take(&mut self.records);
        let classes = std::mem::take(&mut self.classes);
        let dmarc_pass = std::mem::take(&mut self.dmarc_pass);
        let result = parsed
            .result
            .map(|report| ReportRows::from_parts(report, records, &classes, dmarc_pass));
        self.parts.push(PreparedPart {
            part: parsed.part,
            result,
        });
    }
}

/// Groups prepared inputs, in order, into write batches of about `records` records each
/// (an input is never split, so one large input may exceed it alone).
pub fn batches(prepared: Vec<Prepared>, records: u64) -> Vec<Vec<Prepared>> {
    let mut out: Vec<Vec<Prepared>> = Vec::new();
    let mut current = Vec::new();
    let mut size = 0u64;
    for input in prepared {
        let input_records = input.record_count();
        if !current.is_empty() && size + input_records > records {
            out.push(std::mem::take(&mut current));
            size = 0;
        }
        size += input_records;
        current.push(input);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

impl Prepared {
    /// Records in the input's reports.
    pub fn record_count(&self) -> u64 {
        self.parts
            .iter()
            .filter_map(|p| p.result.as_ref().ok())
            .map(ReportRows::record_count)
            .sum()
    }
}

/// Lower-case hex SHA-256.
pub(crate) fn hex_sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// Gzip of the raw bytes, as kept in `payloads.content`.
pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    // Reports compress 20:1 or better and compressed inputs not at all, so the buffer
    // starts at the size of a compressed input (a report grows it as needed).
    let compressed = matches!(bytes, [0x1F, 0x8B, ..] | [b'P', b'K', ..]);
    let capacity = if compressed {
        bytes.len() + 1024
    } else {
        bytes.len() / 16
    };
    let mut encoder = GzEncoder::new(Vec::with_capacity(capacity), Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// A report turned into the columns of `reports`, `records` and `rollup_daily`.
#[derive(Debug, Clone)]
pub struct ReportRows {
    /// The parsed report without its records (they are only kept as rows, so a large
    /// report is held once).
    pub report: Report,
    pub(crate) reporter: String,
    pub(crate) report_id: String,
    pub(crate) policy_domain: String,
    pub(crate) begin: i64,
    pub(crate) end: i64,
    pub(crate) last: i64,
    pub(crate) organization: String,
    pub(crate) org_name_key: String,
    pub(crate) policy_p: &'static str,
    pub(crate) messages: i64,
    pub(crate) dmarc_pass: i64,
    pub(crate) meta: String,
    pub(crate) records: RecordRows,
    pub(crate) rollups: Vec<RollupRow>,
    /// Where its addresses are, when the enrichment step placed them.
    pub(crate) places: Vec<crate::types::Place>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RollupKey {
    pub(crate) day: i64,
    pub(crate) disposition: &'static str,
    pub(crate) dkim_pass: i64,
    pub(crate) spf_pass: i64,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct RollupRow {
    pub(crate) key: RollupKey,
    pub(crate) messages: i64,
}

/// What a record keeps beyond its columns, as JSON without the fields that are absent
/// (read back by `record_from_columns`, where absent means `None`). About 110 bytes for a
/// typical record, 170 with every `null` written.
#[derive(Serialize)]
struct Detail<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reason: Vec<ReasonOut<'a>>,
    auth_results: AuthOut<'a>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    extensions: &'a [dmarc_core::Extension],
}

#[derive(Serialize)]
struct ReasonOut<'a> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'a dmarc_core::OverrideType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<&'a str>,
}

#[derive(Serialize)]
struct AuthOut<'a> {
    dkim: Vec<DkimOut<'a>>,
    spf: Vec<SpfOut<'a>>,
}

#[derive(Serialize)]
struct DkimOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    selector: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a dmarc_core::DkimResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    human_result: Option<&'a str>,
}

#[derive(Serialize)]
struct SpfOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a dmarc_core::SpfScope>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a dmarc_core::SpfResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    human_result: Option<&'a str>,
}

impl<'a> Detail<'a> {
    fn of(record: &'a Record) -> Self {
        let auth = &record.auth_results;
        Detail {
            reason: record
                .policy_evaluated
                .reason
                .iter()
                .map(|r| ReasonOut {
                    kind: r.kind.as_ref(),
                    comment: r.comment.as_deref(),
                })
                .collect(),
            auth_results: AuthOut {
                dkim: auth
                    .dkim
                    .iter()
                    .map(|d| DkimOut {
                        domain: d.domain.as_deref(),
                        selector: d.selector.as_deref(),
                        result: d.result.as_ref(),
                        human_result: d.human_result.as_deref(),
                    })
                    .collect(),
                spf: auth
                    .spf
                    .iter()
                    .map(|d| SpfOut {
                        domain: d.domain.as_deref(),
                        scope: d.scope.as_ref(),
                        result: d.result.as_ref(),
                        human_result: d.human_result.as_deref(),
                    })
                    .collect(),
            },
            extensions: &record.extensions,
        }
    }
}

pub(crate) use dmarc_core::rollup::disposition_class;

/// The class of a published policy, as the compliance rollup groups it.
pub(crate) fn policy_class(p: &Disposition) -> &'static str {
    match p {
        Disposition::Quarantine => "quarantine",
        Disposition::Reject => "reject",
        _ => "none",
    }
}

/// Counts are at most `Limits::max_row_count` (2^32 - 1 by default); a larger one (only with
/// raised limits) is stored as `i64::MAX`.
fn db_count(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

impl ReportRows {
    /// The columns of a report whose records were already made into rows, with the
    /// messages per outcome class and the messages that passed DMARC.
    fn from_parts(
        report: Report,
        records: RecordRows,
        classes: &BTreeMap<OutcomeClass, u64>,
        dmarc_pass: i64,
    ) -> Self {
        let identity = report.identity();
        let range = report.report_metadata.date_range;
        let overlaps = day_overlaps(range.begin, range.end);
        let mut shares = Vec::new();
        let mut rollups = Vec::new();
        // Per outcome class, as the core's timeline spreads: the same days, the same shares.
        for (class, &messages) in classes {
            spread(messages, &overlaps, &mut shares);
            for (i, (&(day, _), &share)) in overlaps.iter().zip(&shares).enumerate() {
                // A zero share still marks the first day, so a report whose selected
                // records carry no messages is still counted (as in the core).
                if share == 0 && i > 0 {
                    continue;
                }
                rollups.push(RollupRow {
                    key: RollupKey {
                        day,
                        disposition: class.disposition,
                        dkim_pass: i64::from(class.dkim_pass),
                        spf_pass: i64::from(class.spf_pass),
                    },
                    messages: db_count(share),
                });
            }
        }
        let messages = records
            .iter()
            .fold(0i64, |sum, row| sum.saturating_add(row.count()));
        ReportRows {
            reporter: identity.reporter,
            report_id: identity.report_id,
            policy_domain: identity.policy_domain,
            begin: range.begin,
            end: range.end,
            last: range.begin.max(range.end),
            organization: report.organization(),
            org_name_key: report.org_name_key(),
            policy_p: policy_class(&report.policy_effective.p),
            messages,
            dmarc_pass,
            meta: serde_json::to_string(&report).unwrap_or_default(),
            records,
            rollups,
            places: Vec::new(),
            report,
        }
    }

    /// The whole report again, its records rebuilt from their rows (as `Store::report`
    /// reads them back).
    pub fn to_report(&self) -> Report {
        let mut report = self.report.clone();
        report.records = self
            .records
            .iter()
            .filter_map(|row| record_from_columns(row.columns()).ok())
            .collect();
        report
    }

    /// Records in the report.
    pub fn record_count(&self) -> u64 {
        self.records.len() as u64
    }

    /// Each record's source address (`None` if unusable) and message count, in report
    /// order: what an [`Enrich`](crate::Enrich) step looks up.
    pub fn sources(&self) -> impl Iterator<Item = (Option<std::net::IpAddr>, u64)> + '_ {
        self.records.iter().map(|row| {
            (
                row.source_ip(),
                u64::try_from(row.count()).unwrap_or_default(),
            )
        })
    }
}

/// Rebuilds a record from its columns (the inverse of `record_row`).
pub(crate) fn record_from_columns(columns: RecordColumns) -> Result<Record, String> {
    #[derive(serde::Deserialize)]
    struct OwnedDetail {
        #[serde(default)]
        reason: Vec<dmarc_core::PolicyOverrideReason>,
        #[serde(default)]
        auth_results: dmarc_core::AuthResults,
        #[serde(default)]
        extensions: Vec<dmarc_core::Extension>,
    }
    let detail: OwnedDetail =
        serde_json::from_str(&columns.detail).map_err(|e| format!("record detail: {e}"))?;
    let source_ip = match columns.source_ip {
        Some(text) => Some(
            text.parse()
                .map_err(|_| format!("stored source_ip {text:?} is not an address"))?,
        ),
        None => None,
    };
    Ok(Record {
        source_ip,
        count: u64::try_from(columns.count).unwrap_or_default(),
        policy_evaluated: dmarc_core::PolicyEvaluated {
            disposition: columns
                .disposition
                .as_deref()
                .map(Disposition::parse_lenient),
            dkim: columns
                .dkim
                .as_deref()
                .map(dmarc_core::DmarcResult::parse_lenient),
            spf: columns
                .spf
                .as_deref()
                .map(dmarc_core::DmarcResult::parse_lenient),
            reason: detail.reason,
        },
        identifiers: dmarc_core::Identifiers {
            header_from: columns.header_from,
            envelope_from: columns.envelope_from,
            envelope_to: columns.envelope_to,
        },
        auth_results: detail.auth_results,
        extensions: detail.extensions,
    })
}

/// The stored columns of one record.
#[derive(Debug)]
pub(crate) struct RecordColumns {
    pub(crate) source_ip: Option<String>,
    pub(crate) count: i64,
    pub(crate) disposition: Option<String>,
    pub(crate) dkim: Option<String>,
    pub(crate) spf: Option<String>,
    pub(crate) header_from: Option<String>,
    pub(crate) envelope_from: Option<String>,
    pub(crate) envelope_to: Option<String>,
    pub(crate) detail: String,
}

impl ReportRows {
    /// Records where one of its addresses is: the pipeline writes it behind the report
    /// (whatever becomes of the report).
    pub fn add_place(&mut self, place: crate::types::Place) {
        self.places.push(place);
    }

    /// The places added by the enrichment step.
    pub fn places(&self) -> &[crate::types::Place] {
        &self.places
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<feedback><report_metadata><org_name>Example</org_name>
        <email>dmarc@example.net</email><report_id>r1</report_id>
        <date_range><begin>1700000000</begin><end>1700086400</end></date_range></report_metadata>
        <policy_published><domain>Example.COM</domain><p>reject</p></policy_published>
        <record><row><source_ip>192.0.2.1</source_ip><count>10</count><policy_evaluated>
        <disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated></row>
        <identifiers><header_from>example.com</header_from></identifiers>
        <auth_results><dkim><domain>example.com</domain><result>pass</result></dkim>
        <spf><domain>example.com</domain><result>fail</result></spf></auth_results></record>
        <record><row><source_ip>2001:db8::1</source_ip><count>0</count><policy_evaluated>
        <disposition>reject</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row>
        <identifiers><header_from>example.com</header_from></identifiers>
        <auth_results><spf><domain>example.com</domain><result>fail</result></spf></auth_results>
        </record></feedback>"#;

    #[test]
    fn batches_keep_order_and_never_split_an_input() {
        let input = |name: &str| {
            prepare(
                name,
                XML.as_bytes(),
                &ParseOptions::at(dmarc_store::unix_now()),
            )
        };
        let three = vec![input("a"), input("b"), input("c")];
        assert_eq!(three[0].record_count(), 2);
        let names = |batches: Vec<Vec<Prepared>>| -> Vec<Vec<String>> {
            batches
                .into_iter()
                .map(|b| b.into_iter().map(|p| p.name).collect())
                .collect()
        };
        assert_eq!(
            names(batches(three.clone(), 4)),
            [vec!["a", "b"], vec!["c"]]
        );
        assert_eq!(names(batches(three.clone(), 1)), [["a"], ["b"], ["c"]]);
        assert!(batches(Vec::new(), 10).is_empty());
    }

    #[test]
    fn rows_keep_every_message_and_round_trip_records() {
        let prepared = prepare(
            "x.xml",
            XML.as_bytes(),
            &ParseOptions::at(dmarc_store::unix_now()),
        );
        assert_eq!(prepared.sha256.len(), 64);
        let rows = prepared.parts[0].result.as_ref().expect("report");
        assert_eq!(rows.policy_domain, "example.com");
        assert_eq!(rows.policy_p, "reject");
        assert_eq!((rows.messages, rows.dmarc_pass), (10, 10));
        // The period spans two UTC days; the zero-count record still marks its first day.
        let total: i64 = rows.rollups.iter().map(|r| r.messages).sum();
        assert_eq!(total, 10);
        let days: std::collections::BTreeSet<i64> =
            rows.rollups.iter().map(|r| r.key.day).collect();
        assert_eq!(days.len(), 2);
        assert!(
            rows.rollups
                .iter()
                .any(|r| r.key.disposition == "reject" && r.messages == 0)
        );
        let parsed = dmarc_core::parse_xml(XML.as_bytes(), &ParseOptions::at(crate::unix_now()))
            .expect("report");
        assert!(
            rows.report.records.is_empty(),
            "records are kept as rows only"
        );
        assert_eq!(rows.to_report().records, parsed.records);
    }
}
