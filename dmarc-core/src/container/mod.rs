//! From input bytes to reports: container detection by magic bytes (never by name,
//! [`sniff`]), decompression under limits (the [`Walker`] here), e-mail and mbox walking
//! ([`mime`], which hands attachments back to the walker), then the XML parser.

mod mime;
mod sniff;

use sniff::{
    Kind, gzip_declared_size, hex, json_kind, kind_name, printable, sniff, unknown,
    zip_declared_entries,
};

use std::cell::Cell;
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::rc::Rc;

use flate2::bufread::{GzDecoder, ZlibDecoder};
use sha2::{Digest, Sha256};

use crate::diag::{Diagnostic, DiagnosticCode as Code, Diagnostics, Error, ErrorKind, Severity};
use crate::limits::Limits;
use crate::model::{Record, Report};
use crate::{text, xml};

/// Options for parsing.
///
/// There is no default: the time of ingestion is an input (the core never reads the
/// clock), so `ParseOptions::at(now)` names it.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Hard limits on the input.
    pub limits: Limits,
    /// Reject a report when any diagnostic of severity warning or error was recorded
    /// (info-level notes such as an omitted SPF scope are still accepted).
    pub strict: bool,
    /// The time of ingestion, UTC seconds since the epoch. A reporting period that ends
    /// more than [`Limits::max_future_secs`] after it is rejected (a millisecond timestamp
    /// that converts to a plausible time is repaired instead).
    pub now: i64,
}

impl ParseOptions {
    /// Default limits, not strict, ingesting at `now` (UTC seconds).
    pub fn at(now: i64) -> Self {
        ParseOptions {
            limits: Limits::default(),
            strict: false,
            now,
        }
    }
}

/// One payload found in an input: a report, or why that payload was rejected.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// Where in the input the payload was found, e.g.
    /// `attachment 'google.com!example.com!1669507200!1669593599.zip' > entry 'report.xml'`;
    /// `None` when the input itself was the payload.
    pub part: Option<String>,
    /// The report, or the reason the payload was rejected.
    pub result: Result<Report, Error>,
}

/// Receives what [`parse_input_into`] finds, as it finds it, so that a caller can store or
/// drop each record without ever holding a whole report (a report may carry millions).
///
/// For each payload of the input, in order: zero or more [`record`](ReportSink::record)
/// calls, then exactly one [`payload`](ReportSink::payload) call. A payload that is
/// rejected after some of its records were given voids those records.
pub trait ReportSink {
    /// One record of the payload being read, in document order.
    fn record(&mut self, record: Record);
    /// The payload is done: its report (whose `records` are empty: they were given to
    /// [`record`](ReportSink::record)), or why it was rejected.
    fn payload(&mut self, parsed: Parsed);
}

/// Collects whole reports: what [`parse_input`] returns.
#[derive(Default)]
struct Collect {
    records: Vec<Record>,
    out: Vec<Parsed>,
}

impl ReportSink for Collect {
    fn record(&mut self, record: Record) {
        self.records.push(record);
    }

    fn payload(&mut self, mut parsed: Parsed) {
        let records = std::mem::take(&mut self.records);
        if let Ok(report) = &mut parsed.result {
            report.records = records;
        }
        self.out.push(parsed);
    }
}

/// Parses every report in `bytes` (XML, gzip, zlib, zip, e-mail or mbox).
///
/// Never panics and never returns an empty list: an input without any report yields one
/// rejected entry that says why.
pub fn parse_input(bytes: &[u8], options: &ParseOptions) -> Vec<Parsed> {
    let mut collect = Collect::default();
    parse_input_into(bytes, options, &mut collect);
    collect.out
}

/// Parses every report in `bytes` like [`parse_input`], giving records and reports to
/// `sink` as they are read: memory then holds one payload's XML at a time, plus what the
/// sink keeps.
pub fn parse_input_into(bytes: &[u8], options: &ParseOptions, sink: &mut dyn ReportSink) {
    let mut walker = Walker {
        options,
        sink,
        payloads: 0,
        location: Vec::new(),
    };
    if bytes.len() as u64 > options.limits.max_input_bytes {
        walker.reject(Error::limit(
            "input size",
            format!("{} bytes", bytes.len()),
            format!("{} bytes", options.limits.max_input_bytes),
        ));
    } else {
        walker.input(bytes);
    }
}

/// Parses one uncompressed XML document.
pub fn parse_xml(xml: &[u8], options: &ParseOptions) -> Result<Report, Error> {
    if xml.len() as u64 > options.limits.max_xml_bytes {
        return Err(Error::limit(
            "XML document size",
            format!("{} bytes", xml.len()),
            format!("{} bytes", options.limits.max_xml_bytes),
        ));
    }
    let mut records = Vec::new();
    let mut report = parse_xml_with(xml, options, Diagnostics::default(), &mut |r| {
        records.push(r);
    })?;
    report.records = records;
    Ok(report)
}

/// Parses one document; its records go to `on_record`, the report returned has none.
fn parse_xml_with(
    xml: &[u8],
    options: &ParseOptions,
    mut diags: Diagnostics,
    on_record: &mut dyn FnMut(Record),
) -> Result<Report, Error> {
    /// Above this size the digest is computed on a second thread while the parse runs.
    const PARALLEL_DIGEST: usize = 1 << 20;
    let xml = text::strip_bom_and_space(xml);
    let report = if xml.len() >= PARALLEL_DIGEST {
        std::thread::scope(|scope| {
            let digest = scope.spawn(|| hex(&Sha256::digest(xml)));
            let decoded = text::decode_xml(xml, &mut diags);
            let mut report = xml::parse_document(
                &decoded,
                &options.limits,
                options.now,
                diags,
                String::new(),
                on_record,
            );
            // Hashing cannot panic; fall back to hashing here if the thread died anyway.
            let sha = digest.join().unwrap_or_else(|_| hex(&Sha256::digest(xml)));
            if let Ok(report) = &mut report {
                report.xml_sha256 = sha;
            }
            report
        })?
    } else {
        let sha = hex(&Sha256::digest(xml));
        let decoded = text::decode_xml(xml, &mut diags);
        xml::parse_document(
            &decoded,
            &options.limits,
            options.now,
            diags,
            sha,
            on_record,
        )?
    };
    if options.strict {
        check_strict(&report.diagnostics)?;
    }
    Ok(report)
}

fn check_strict(diagnostics: &[Diagnostic]) -> Result<(), Error> {
    if let Some(empty) = diagnostics.iter().find(|d| d.code == Code::NoRecords) {
        return Err(Error::new(
            ErrorKind::NoRecords,
            format!("strict mode: {}", empty.message),
        ));
    }
    let serious: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.severity >= Severity::Warning)
        .collect();
    match serious.first() {
        None => Ok(()),
        Some(first) => Err(Error::new(
            ErrorKind::Strict,
            format!(
                "strict mode: {} diagnostic(s) of severity warning or above; first: {first}",
                serious.len()
            ),
        )),
    }
}

/// Walks one input, handing a result per payload to the sink.
pub(crate) struct Walker<'o> {
    options: &'o ParseOptions,
    sink: &'o mut dyn ReportSink,
    /// Payloads handed to the sink so far.
    payloads: usize,
    /// The path to the payload being read (attachment names, archive entries, messages).
    location: Vec<String>,
}

impl Walker<'_> {
    pub(crate) fn limits(&self) -> &Limits {
        &self.options.limits
    }

    fn part(&self) -> Option<String> {
        (!self.location.is_empty()).then(|| self.location.join(" > "))
    }

    /// True once the input has yielded as many payloads as it may: the next one is
    /// refused (once, with the reason) and the rest are not read at all.
    fn full(&mut self) -> bool {
        let max = self.limits().max_reports_per_input;
        if self.payloads < max {
            return false;
        }
        if self.payloads == max {
            let error = Error::limit("reports per input", max + 1, max);
            self.payloads += 1;
            self.sink.payload(Parsed {
                part: self.part(),
                result: Err(error),
            });
        }
        true
    }

    fn push(&mut self, result: Result<Report, Error>) {
        self.payloads += 1;
        let part = self.part();
        self.sink.payload(Parsed { part, result });
    }

    pub(crate) fn reject(&mut self, error: Error) {
        if !self.full() {
            self.push(Err(error));
        }
    }

    /// Runs `f` with one more location step.
    pub(crate) fn within<T>(&mut self, step: String, f: impl FnOnce(&mut Self) -> T) -> T {
        self.location.push(step);
        let result = f(self);
        self.location.pop();
        result
    }

    fn input(&mut self, bytes: &[u8]) {
        match sniff(bytes) {
            Kind::Mbox => mime::mbox(self, bytes),
            Kind::Email => mime::message(self, bytes, 0),
            _ => self.payload(bytes, 0, Diagnostics::default()),
        }
    }

    /// A payload: compressed or plain XML. `layers` counts the compression layers around it.
    pub(crate) fn payload(&mut self, bytes: &[u8], layers: u32, mut diags: Diagnostics) {
        let kind = sniff(bytes);
        if matches!(kind, Kind::Gzip | Kind::Zlib | Kind::Zip) {
            if layers >= self.limits().max_compression_layers {
                return self.reject(Error::limit(
                    "nested compression layers",
                    layers + 1,
                    self.limits().max_compression_layers,
                ));
            }
            if bytes.len() as u64 > self.limits().max_compressed_bytes {
                return self.reject(Error::limit(
                    "compressed payload size",
                    format!("{} bytes", bytes.len()),
                    format!("{} bytes", self.limits().max_compressed_bytes),
                ));
            }
            if layers > 0 {
                diags.push(
                    Code::NestedCompression,
                    Severity::Info,
                    "container",
                    None,
                    Some(kind_name(kind)),
                );
            }
        }
        match kind {
            Kind::Gzip => match self.gunzip(bytes, &mut diags) {
                Ok(inner) => self.payload(&inner, layers + 1, diags),
                Err(e) => self.reject(e),
            },
            Kind::Zlib => {
                let total = bytes.len();
                let consumed = |d: &ZlibDecoder<&[u8]>| (total - d.get_ref().len()) as u64;
                match read_capped(&mut ZlibDecoder::new(bytes), consumed, self.limits(), 0) {
                    Ok(inner) => self.payload(&inner, layers + 1, diags),
                    Err(e) => self.reject(e),
                }
            }
            Kind::Zip => match self.unzip(bytes, &mut diags) {
                Ok((name, inner)) => self.within(format!("entry '{}'", printable(&name)), |w| {
                    w.payload(&inner, layers + 1, diags)
                }),
                Err(e) => self.reject(e),
            },
            Kind::Xml => {
                if bytes.len() as u64 > self.limits().max_xml_bytes {
                    return self.reject(Error::limit(
                        "XML document size",
                        format!("{} bytes", bytes.len()),
                        format!("{} bytes", self.limits().max_xml_bytes),
                    ));
                }
                if self.full() {
                    return;
                }
                let (options, sink) = (self.options, &mut *self.sink);
                let result = parse_xml_with(bytes, options, diags, &mut |r| sink.record(r));
                self.push(result);
            }
            Kind::Json => self.reject(json_kind(bytes)),
            Kind::Email | Kind::Mbox | Kind::Unknown => self.reject(unknown(bytes)),
        }
    }

    fn gunzip(&self, bytes: &[u8], diags: &mut Diagnostics) -> Result<Vec<u8>, Error> {
        let mut decoder = GzDecoder::new(bytes);
        let total = bytes.len();
        let consumed = |d: &GzDecoder<&[u8]>| (total - d.get_ref().len()) as u64;
        let out = read_capped(
            &mut decoder,
            consumed,
            self.limits(),
            gzip_declared_size(bytes),
        )?;
        let rest = decoder.get_ref();
        if !rest.trim_ascii().is_empty() {
            diags.push(
                Code::TrailingData,
                Severity::Warning,
                "container/gzip",
                None,
                Some(&format!("{} bytes", rest.len())),
            );
        }
        Ok(out)
    }

    /// Picks the report entry of a zip archive: the first `*.xml` file, else the first file.
    /// Entries with unsafe names (absolute, `..`) and the other entries are ignored with a
    /// diagnostic; nothing is ever extracted to disk.
    fn unzip(&self, bytes: &[u8], diags: &mut Diagnostics) -> Result<(String, Vec<u8>), Error> {
        let limits = self.limits();
        if let Some(declared) = zip_declared_entries(bytes)
            && declared > limits.max_archive_entries
        {
            return Err(Error::limit(
                "zip archive entries",
                declared,
                limits.max_archive_entries,
            ));
        }
        let archive_error = |e: zip::result::ZipError| {
            Error::new(ErrorKind::Archive, format!("unusable zip archive: {e}"))
        };
        let position = Rc::new(Cell::new(0));
        let reader = Tracked {
            cursor: Cursor::new(bytes),
            position: Rc::clone(&position),
        };
        let mut archive = zip::ZipArchive::new(reader).map_err(archive_error)?;
        if archive.len() > limits.max_archive_entries {
            return Err(Error::limit(
                "zip archive entries",
                archive.len(),
                limits.max_archive_entries,
            ));
        }
        let mut files = Vec::new();
        for index in 0..archive.len() {
            let entry = archive.by_index_raw(index).map_err(archive_error)?;
            let name = entry.name().map_err(archive_error)?.into_owned();
            if entry.is_dir() {
                continue;
            }
            if entry.enclosed_name().is_none() || name.contains('\0') {
                diags.push(
                    Code::ArchiveEntryIgnored,
                    Severity::Warning,
                    "container/zip",
                    None,
                    Some(&format!("unsafe entry name {name:?}")),
                );
                continue;
            }
            files.push((index, name));
        }
        let chosen = files
            .iter()
            .position(|(_, name)| name.to_ascii_lowercase().ends_with(".xml"))
            .or(if files.is_empty() { None } else { Some(0) });
        let Some(chosen) = chosen else {
            return Err(Error::new(
                ErrorKind::Archive,
                "zip archive holds no file entry",
            ));
        };
        for (i, (_, name)) in files.iter().enumerate() {
            if i != chosen {
                diags.push(
                    Code::ArchiveEntryIgnored,
                    Severity::Warning,
                    "container/zip",
                    None,
                    Some(&format!("other entry {name:?}")),
                );
            }
        }
        let (index, name) = files.swap_remove(chosen);
        let mut entry = archive.by_index(index).map_err(|e| {
            Error::new(
                ErrorKind::Archive,
                format!("zip entry {:?} cannot be read: {e}", printable(&name)),
            )
        })?;
        match entry.compression() {
            zip::CompressionMethod::Stored | zip::CompressionMethod::Deflated => {}
            other => {
                return Err(Error::new(
                    ErrorKind::Archive,
                    format!(
                        "zip entry {:?} uses {other:?}; only stored and deflate are accepted",
                        printable(&name)
                    ),
                ));
            }
        }
        let start = entry.data_start().unwrap_or(0);
        let declared = entry.size();
        let data = read_capped(
            &mut entry,
            |_| position.get().saturating_sub(start),
            limits,
            declared,
        )?;
        Ok((name, data))
    }
}

/// A cursor that publishes its position, so the bytes a zip entry's decoder has consumed
/// can be read while the entry borrows the archive.
struct Tracked<'a> {
    cursor: Cursor<&'a [u8]>,
    position: Rc<Cell<u64>>,
}

impl Read for Tracked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.cursor.read(buf)?;
        self.position.set(self.cursor.position());
        Ok(n)
    }
}

impl Seek for Tracked<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let at = self.cursor.seek(to)?;
        self.position.set(at);
        Ok(at)
    }
}

/// Reads a decompressing stream to its end under the size cap and the ratio alarm.
/// `consumed` tells how many compressed bytes the decoder has used so far, so a bomb is
/// caught as soon as the ratio is exceeded, not after the whole size cap was spent.
fn read_capped<R: Read>(
    reader: &mut R,
    consumed: impl Fn(&R) -> u64,
    limits: &Limits,
    size_hint: u64,
) -> Result<Vec<u8>, Error> {
    const STEP: usize = 64 * 1024;
    // The declared size (gzip trailer, zip header) is only a capacity hint: never more than
    // the cap, and a wrong one costs a reallocation, not correctness. Reserved pages that
    // are never written are never resident, so a lying header cannot inflate memory.
    let mut out: Vec<u8> = Vec::with_capacity(
        usize::try_from(size_hint.min(limits.max_xml_bytes)).unwrap_or(0) + STEP,
    );
    loop {
        let filled = out.len();
        out.resize(filled + STEP, 0);
        let n = reader.read(&mut out[filled..]).map_err(|e| {
            Error::new(
                ErrorKind::Decompression,
                format!("corrupt compressed data after {filled} bytes of output: {e}"),
            )
        })?;
        out.truncate(filled + n);
        if n == 0 {
            return Ok(out);
        }
        if out.len() as u64 > limits.max_xml_bytes {
            return Err(Error::limit(
                "decompressed size",
                format!("more than {} bytes", limits.max_xml_bytes),
                format!("{} bytes", limits.max_xml_bytes),
            ));
        }
        let produced = out.len() as u64;
        if produced > limits.ratio_grace_bytes {
            let used = consumed(reader).max(1);
            if produced / used > limits.max_ratio {
                return Err(Error::limit(
                    "decompression ratio (likely a compression bomb)",
                    format!("{}:1 ({produced} bytes from {used})", produced / used),
                    format!("{}:1", limits.max_ratio),
                ));
            }
        }
    }
}
