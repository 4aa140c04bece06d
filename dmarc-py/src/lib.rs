//! Python bindings of `dmarc-core` (import name `dmarc_rs`, built by maturin).
//!
//! No logic lives here: every function converts its arguments, calls the core and converts
//! the result. Parsing many files runs on a rayon pool with the GIL released. Errors map to
//! the exception classes of `dmarc_rs.errors` in one place, [`raise`].

use std::path::PathBuf;
use std::sync::Arc;

use dmarc_core::files::source_name;
use dmarc_core::{
    Diagnostic, Disposition, Error, ErrorKind, Filter, ParseOptions, Parsed, Record, Report, files,
    parse_input, rollup,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use pythonize::pythonize;
use rayon::prelude::*;

/// The exception class of `dmarc_rs.errors` for an error kind.
fn error_class(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::LimitExceeded => "LimitExceeded",
        ErrorKind::DoctypeForbidden => "ForbiddenInput",
        ErrorKind::NotAggregateReport | ErrorKind::NoReport => "NotAggregateReport",
        ErrorKind::Io => "ReadError",
        _ => "ParseError",
    }
}

/// The Python exception for a core error found in `source`.
fn raise(py: Python<'_>, error: &Error, source: &str) -> PyErr {
    let make = || -> PyResult<PyErr> {
        let class = py
            .import("dmarc_rs.errors")?
            .getattr(error_class(error.kind))?;
        let message = format!("{source}: {error}");
        let instance = class.call1((message, error.kind.as_str(), source))?;
        Ok(PyErr::from_value(instance))
    };
    make().unwrap_or_else(|e| e)
}

/// Warns (category `dmarc_rs.errors.ParseWarning`) about a payload that was rejected while
/// others of the same input were read.
fn warn(py: Python<'_>, error: &Error, source: &str) -> PyResult<()> {
    let category = py.import("dmarc_rs.errors")?.getattr("ParseWarning")?;
    let message = format!("{source}: {error}");
    py.import("warnings")?
        .getattr("warn")?
        .call1((message, category, 2))?;
    Ok(())
}

/// UTC seconds now: the time of ingestion for parsing (the core never reads the clock).
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn options(strict: bool) -> ParseOptions {
    ParseOptions {
        strict,
        ..ParseOptions::at(unix_now())
    }
}

/// The reports of one input; raises when no payload of it could be read, warns about
/// rejected payloads otherwise.
fn reports_of(py: Python<'_>, input: &str, parsed: Vec<Parsed>) -> PyResult<Vec<PyReport>> {
    let mut reports = Vec::new();
    let mut errors = Vec::new();
    for item in parsed {
        match item.result {
            Ok(report) => reports.push(PyReport::new(report)),
            Err(e) => errors.push((source_name(input, item.part.as_deref()), e)),
        }
    }
    if reports.is_empty()
        && let Some((source, error)) = errors.first()
    {
        return Err(raise(py, error, source));
    }
    for (source, error) in &errors {
        warn(py, error, source)?;
    }
    Ok(reports)
}

/// Parses the bytes of a report file, attachment or e-mail (XML, gzip, zlib, zip, MIME,
/// mbox) and returns its reports.
#[pyfunction]
#[pyo3(signature = (data, *, strict = false, name = "<bytes>"))]
fn parse_bytes(py: Python<'_>, data: &[u8], strict: bool, name: &str) -> PyResult<Vec<PyReport>> {
    let options = options(strict);
    let parsed = py.detach(|| parse_input(data, &options));
    reports_of(py, name, parsed)
}

/// Reads and parses one file and returns its reports.
#[pyfunction]
#[pyo3(signature = (path, *, strict = false))]
#[allow(clippy::needless_pass_by_value)] // PyO3 extracts an owned PathBuf
fn parse_file(py: Python<'_>, path: PathBuf, strict: bool) -> PyResult<Vec<PyReport>> {
    let options = options(strict);
    let name = path.display().to_string();
    let parsed = py
        .detach(|| files::read(&path, &options.limits).map(|bytes| parse_input(&bytes, &options)));
    match parsed {
        Ok(parsed) => reports_of(py, &name, parsed),
        Err(e) => Err(raise(py, &e, &name)),
    }
}

/// A file, or a payload within it, that yielded no report.
#[pyclass(frozen, module = "dmarc_rs", name = "FileError", get_all)]
#[derive(Debug)]
struct PyFileError {
    /// The file.
    path: String,
    /// Where in the file (attachment, archive entry), or None for the file itself.
    part: Option<String>,
    /// The error kind, e.g. "malformed_xml" or "limit_exceeded".
    kind: &'static str,
    /// What went wrong.
    message: String,
}

#[pymethods]
impl PyFileError {
    fn __repr__(&self) -> String {
        format!(
            "FileError({:?}, kind={:?}, message={:?})",
            source_name(&self.path, self.part.as_deref()),
            self.kind,
            self.message
        )
    }
}

/// Parses every file of `paths` (files and folders, read recursively) on `threads` threads
/// (default: all cores) with the GIL released. Returns `(reports, errors)`; an unreadable or
/// invalid file is an entry of `errors` and never stops the batch.
#[pyfunction]
#[pyo3(signature = (paths, *, strict = false, threads = None))]
fn parse_paths(
    py: Python<'_>,
    paths: &Bound<'_, PyAny>,
    strict: bool,
    threads: Option<usize>,
) -> PyResult<(Vec<PyReport>, Vec<PyFileError>)> {
    let paths: Vec<PathBuf> = match paths.extract::<PathBuf>() {
        Ok(one) => vec![one],
        Err(_) => paths.extract()?,
    };
    let options = options(strict);
    let files = files::expand(&paths).map_err(|e| {
        let error = Error::new(ErrorKind::Io, e.to_string());
        raise(py, &error, &e.0.display().to_string())
    })?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .map_err(|e| PyValueError::new_err(format!("threads: {e}")))?;
    let parsed: Vec<(String, Result<Vec<Parsed>, Error>)> = py.detach(|| {
        pool.install(|| {
            files
                .par_iter()
                .map(|file| {
                    let result = files::read(file, &options.limits)
                        .map(|bytes| parse_input(&bytes, &options));
                    (file.display().to_string(), result)
                })
                .collect()
        })
    });
    let mut reports = Vec::new();
    let mut errors = Vec::new();
    let failed = |path: &str, part: Option<String>, e: Error| PyFileError {
        path: path.to_owned(),
        part,
        kind: e.kind.as_str(),
        message: e.message,
    };
    for (path, result) in parsed {
        match result {
            Ok(items) => {
                for item in items {
                    match item.result {
                        Ok(report) => reports.push(PyReport::new(report)),
                        Err(e) => errors.push(failed(&path, item.part, e)),
                    }
                }
            }
            Err(e) => errors.push(failed(&path, None, e)),
        }
    }
    Ok((reports, errors))
}

/// One DMARC aggregate report.
#[pyclass(frozen, module = "dmarc_rs", name = "Report")]
#[derive(Debug)]
struct PyReport {
    inner: Arc<Report>,
}

impl PyReport {
    fn new(report: Report) -> Self {
        PyReport {
            inner: Arc::new(report),
        }
    }
}

#[pymethods]
impl PyReport {
    /// "rfc7489", "rfc9990" or "draft".
    #[getter]
    fn dialect(&self) -> &'static str {
        self.inner.dialect.as_str()
    }

    /// The `<version>` element, if any.
    #[getter]
    fn version(&self) -> Option<&str> {
        self.inner.version.as_deref()
    }

    /// `<report_metadata>` as a dict (org_name, email, report_id, date_range, ...).
    #[getter]
    fn report_metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize(py, &self.inner.report_metadata)?)
    }

    /// `<policy_published>` as a dict.
    #[getter]
    fn policy_published<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize(py, &self.inner.policy_published)?)
    }

    /// The policy in force, defaults applied (p, sp, np, pct, adkim, aspf, testing).
    #[getter]
    fn policy_effective<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize(py, &self.inner.policy_effective)?)
    }

    /// Elements outside the standard, kept as they were.
    #[getter]
    fn extensions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize(py, &self.inner.extensions)?)
    }

    /// The reporting organisation's `org_name`.
    #[getter]
    fn org_name(&self) -> Option<&str> {
        self.inner.report_metadata.org_name.as_deref()
    }

    /// The reporter's contact address.
    #[getter]
    fn email(&self) -> Option<&str> {
        self.inner.report_metadata.email.as_deref()
    }

    /// The report identifier as sent.
    #[getter]
    fn report_id(&self) -> &str {
        &self.inner.report_metadata.report_id
    }

    /// Start of the reporting period (UTC seconds since the epoch).
    #[getter]
    fn begin(&self) -> i64 {
        self.inner.report_metadata.date_range.begin
    }

    /// End of the reporting period (UTC seconds since the epoch).
    #[getter]
    fn end(&self) -> i64 {
        self.inner.report_metadata.date_range.end
    }

    /// The policy domain, trimmed and lower-cased.
    #[getter]
    fn domain(&self) -> String {
        self.inner.domain_key()
    }

    /// The grouping name of the reporting organisation.
    #[getter]
    fn organization(&self) -> String {
        self.inner.organization()
    }

    /// The duplicate key: (reporter, report_id, policy_domain).
    #[getter]
    fn identity(&self) -> (String, String, String) {
        let id = self.inner.identity();
        (id.reporter, id.report_id, id.policy_domain)
    }

    /// SHA-256 (hex) of the XML document.
    #[getter]
    fn xml_sha256(&self) -> &str {
        &self.inner.xml_sha256
    }

    /// Messages in the report (sum of every record's count).
    #[getter]
    fn message_count(&self) -> u64 {
        self.inner.message_count()
    }

    /// The records, in document order.
    #[getter]
    fn records(&self) -> Vec<PyRecord> {
        (0..self.inner.records.len())
            .map(|index| PyRecord {
                report: Arc::clone(&self.inner),
                index,
            })
            .collect()
    }

    /// What was repaired or looked odd while reading the report.
    #[getter]
    fn diagnostics(&self) -> Vec<PyDiagnostic> {
        self.inner
            .diagnostics
            .iter()
            .cloned()
            .map(|inner| PyDiagnostic { inner })
            .collect()
    }

    /// The whole report as plain Python data (the core's JSON model).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize(py, self.inner.as_ref())?)
    }

    fn __len__(&self) -> usize {
        self.inner.records.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "Report(org={:?}, report_id={:?}, domain={:?}, begin={}, end={}, records={})",
            self.inner.organization(),
            self.inner.report_metadata.report_id,
            self.inner.domain_key(),
            self.begin(),
            self.end(),
            self.inner.records.len()
        )
    }
}

/// One record (row) of a report.
#[pyclass(frozen, module = "dmarc_rs", name = "Record")]
#[derive(Debug)]
struct PyRecord {
    report: Arc<Report>,
    index: usize,
}

impl PyRecord {
    fn get(&self) -> &Record {
        &self.report.records[self.index]
    }
}

#[pymethods]
impl PyRecord {
    /// The sending address, as text.
    #[getter]
    fn source_ip(&self) -> Option<String> {
        self.get().source_ip.map(|ip| ip.to_string())
    }

    /// Messages this row stands for.
    #[getter]
    fn count(&self) -> u64 {
        self.get().count
    }

    /// Applied disposition: "none", "quarantine", "reject", ... or None.
    #[getter]
    fn disposition(&self) -> Option<&str> {
        self.get()
            .policy_evaluated
            .disposition
            .as_ref()
            .map(Disposition::as_str)
    }

    /// The DMARC-aligned DKIM verdict as reported ("pass", "fail") or None.
    #[getter]
    fn dkim(&self) -> Option<&str> {
        self.get()
            .policy_evaluated
            .dkim
            .as_ref()
            .map(|d| d.as_str())
    }

    /// The DMARC-aligned SPF verdict as reported ("pass", "fail") or None.
    #[getter]
    fn spf(&self) -> Option<&str> {
        self.get().policy_evaluated.spf.as_ref().map(|d| d.as_str())
    }

    /// True when the aligned DKIM verdict is pass.
    #[getter]
    fn dkim_aligned(&self) -> bool {
        self.get().dkim_aligned_pass()
    }

    /// True when the aligned SPF verdict is pass.
    #[getter]
    fn spf_aligned(&self) -> bool {
        self.get().spf_aligned_pass()
    }

    /// True when the messages passed DMARC (aligned DKIM or aligned SPF passed).
    #[getter]
    fn dmarc_pass(&self) -> bool {
        self.get().dmarc_pass()
    }

    /// `<header_from>`.
    #[getter]
    fn header_from(&self) -> Option<&str> {
        self.get().identifiers.header_from.as_deref()
    }

    /// `<envelope_from>`.
    #[getter]
    fn envelope_from(&self) -> Option<&str> {
        self.get().identifiers.envelope_from.as_deref()
    }

    /// `<envelope_to>`.
    #[getter]
    fn envelope_to(&self) -> Option<&str> {
        self.get().identifiers.envelope_to.as_deref()
    }

    /// `<policy_evaluated>` as a dict (disposition, dkim, spf, reason).
    #[getter]
    fn policy_evaluated<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize(py, &self.get().policy_evaluated)?)
    }

    /// `<identifiers>` as a dict.
    #[getter]
    fn identifiers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize(py, &self.get().identifiers)?)
    }

    /// `<auth_results>` as a dict: {"dkim": [...], "spf": [...]}.
    #[getter]
    fn auth_results<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize(py, &self.get().auth_results)?)
    }

    /// Elements outside the standard, kept as they were.
    #[getter]
    fn extensions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize(py, &self.get().extensions)?)
    }

    /// The record as plain Python data (the core's JSON model).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize(py, self.get())?)
    }

    fn __repr__(&self) -> String {
        format!(
            "Record(source_ip={:?}, count={}, disposition={:?}, dkim_aligned={}, spf_aligned={})",
            self.source_ip(),
            self.count(),
            self.disposition(),
            self.dkim_aligned(),
            self.spf_aligned()
        )
    }
}

/// Something repaired or odd in a report.
#[pyclass(frozen, module = "dmarc_rs", name = "Diagnostic")]
#[derive(Debug)]
struct PyDiagnostic {
    inner: Diagnostic,
}

#[pymethods]
impl PyDiagnostic {
    /// The diagnostic code, e.g. "value_repaired".
    #[getter]
    fn code<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize(py, &self.inner.code)?)
    }

    /// "info", "warning" or "error".
    #[getter]
    fn severity<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize(py, &self.inner.severity)?)
    }

    /// The element path, e.g. "feedback/record/auth_results/spf/result".
    #[getter]
    fn path(&self) -> &str {
        &self.inner.path
    }

    /// Index of the first record it occurred in.
    #[getter]
    fn record(&self) -> Option<usize> {
        self.inner.record
    }

    /// The offending raw value of the first occurrence.
    #[getter]
    fn raw(&self) -> Option<&str> {
        self.inner.raw.as_deref()
    }

    /// How many times it occurred.
    #[getter]
    fn occurrences(&self) -> u64 {
        self.inner.occurrences
    }

    /// A description for people.
    #[getter]
    fn message(&self) -> &'static str {
        self.inner.message
    }

    /// The diagnostic as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize(py, &self.inner)?)
    }

    fn __repr__(&self) -> String {
        format!(
            "Diagnostic({:?}, path={:?}, raw={:?})",
            self.inner.message, self.inner.path, self.inner.raw
        )
    }
}

/// The reports of a Python list of `Report`, as the core takes them.
fn core_reports(reports: &Bound<'_, PyAny>) -> PyResult<Vec<Report>> {
    let mut out = Vec::new();
    for item in reports.try_iter()? {
        let item = item?;
        let report = item
            .cast::<PyReport>()
            .map_err(|_| PyTypeError::new_err("expected an iterable of dmarc_rs.Report"))?;
        out.push(report.get().inner.as_ref().clone());
    }
    Ok(out)
}

/// UTC seconds from an int, a float or a datetime (a naive datetime is taken as UTC).
fn epoch_seconds(value: &Bound<'_, PyAny>) -> PyResult<i64> {
    if let Ok(seconds) = value.extract::<i64>() {
        return Ok(seconds);
    }
    if let Ok(seconds) = value.extract::<f64>() {
        return Ok(seconds.floor() as i64);
    }
    if value.hasattr("timestamp")? && value.hasattr("tzinfo")? {
        let py = value.py();
        let aware = if value.getattr("tzinfo")?.is_none() {
            let utc = py.import("datetime")?.getattr("timezone")?.getattr("utc")?;
            let kwargs = PyDict::new(py);
            kwargs.set_item("tzinfo", utc)?;
            value.call_method("replace", (), Some(&kwargs))?
        } else {
            value.clone()
        };
        let seconds: f64 = aware.call_method0("timestamp")?.extract()?;
        return Ok(seconds.floor() as i64);
    }
    Err(PyTypeError::new_err(
        "expected seconds since the epoch or a datetime",
    ))
}

fn filter_error(py: Python<'_>, message: &str) -> PyErr {
    let make = || -> PyResult<PyErr> {
        let class = py.import("dmarc_rs.errors")?.getattr("FilterError")?;
        Ok(PyErr::from_value(class.call1((message,))?))
    };
    make().unwrap_or_else(|e| e)
}

/// The core filter from keyword arguments: domain (str or list of str), since, until
/// (seconds or datetime), source_ip (address or CIDR), dkim and spf ("pass" or "fail"),
/// disposition, org.
fn filter_from(py: Python<'_>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Filter> {
    let mut filter = Filter::default();
    let Some(kwargs) = kwargs else {
        return Ok(filter);
    };
    for (key, value) in kwargs.iter() {
        let key: String = key.extract()?;
        if value.is_none() {
            continue;
        }
        let text = || value.extract::<String>();
        match key.as_str() {
            "domain" | "domains" => {
                filter.domains = match value.extract::<String>() {
                    Ok(one) => vec![one],
                    Err(_) => value.extract()?,
                }
            }
            "since" => filter.from = Some(epoch_seconds(&value)?),
            "until" => filter.to = Some(epoch_seconds(&value)?),
            "source_ip" => {
                filter.source_ip = Some(
                    text()?
                        .parse()
                        .map_err(|e: dmarc_core::FilterError| filter_error(py, &e.to_string()))?,
                )
            }
            "dkim" => {
                filter.dkim = Some(
                    text()?
                        .parse()
                        .map_err(|e| filter_error(py, &format!("dkim: {e}")))?,
                )
            }
            "spf" => {
                filter.spf = Some(
                    text()?
                        .parse()
                        .map_err(|e| filter_error(py, &format!("spf: {e}")))?,
                )
            }
            "disposition" => filter.disposition = Some(Disposition::parse_lenient(&text()?)),
            "org" => filter.org = Some(text()?),
            other => {
                return Err(PyTypeError::new_err(format!(
                    "unknown filter {other:?}; filters are domain, since, until, source_ip, dkim, spf, disposition, org"
                )));
            }
        }
    }
    Ok(filter)
}

/// Runs a core rollup over `reports` with the filter of `kwargs` and converts its result.
fn rollup_of<'py, T: serde::Serialize + Send>(
    reports: &Bound<'py, PyAny>,
    kwargs: Option<&Bound<'py, PyDict>>,
    compute: impl FnOnce(&[Report], &Filter) -> T + Send,
) -> PyResult<Bound<'py, PyAny>> {
    let py = reports.py();
    let filter = filter_from(py, kwargs)?;
    let reports = core_reports(reports)?;
    let result = py.detach(|| compute(&reports, &filter));
    Ok(pythonize(py, &result)?)
}

/// A Python function running a core rollup with keyword filters.
macro_rules! rollup_function {
    ($(#[doc = $doc:literal])* $name:ident => $core:path) => {
        $(#[doc = $doc])*
        #[pyfunction]
        #[pyo3(signature = (reports, **filters))]
        fn $name<'py>(
            reports: &Bound<'py, PyAny>,
            filters: Option<&Bound<'py, PyDict>>,
        ) -> PyResult<Bound<'py, PyAny>> {
            rollup_of(reports, filters, $core)
        }
    };
}

rollup_function!(
    /// Reports, domains, organisations, period and message tallies of the selected records.
    summary => rollup::summary
);
rollup_function!(
    /// Messages per source address, most messages first.
    by_source => rollup::by_source
);
rollup_function!(
    /// Messages per policy domain, most messages first.
    by_domain => rollup::by_domain
);
rollup_function!(
    /// Messages per reporting organisation, most messages first.
    by_organization => rollup::by_organization
);
rollup_function!(
    /// Messages per UTC day (a report's messages spread over the days its period overlaps).
    timeline => rollup::timeline
);

/// The DMARC failure rate per day with its moving average over `window` days.
#[pyfunction]
#[pyo3(signature = (reports, *, window = 7, **filters))]
fn failure_trend<'py>(
    reports: &Bound<'py, PyAny>,
    window: usize,
    filters: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    rollup_of(reports, filters, |reports, filter| {
        rollup::failure_trend(reports, filter, window)
    })
}

/// Names of the per-record columns of `to_records` and `records_frame`, in order.
const COLUMNS: [&str; 18] = [
    "org_name",
    "report_id",
    "domain",
    "begin",
    "end",
    "policy_p",
    "source_ip",
    "count",
    "disposition",
    "dkim",
    "spf",
    "dkim_aligned",
    "spf_aligned",
    "dmarc_pass",
    "header_from",
    "envelope_from",
    "envelope_to",
    "xml_sha256",
];

/// The column values of one record of `report`, in the order of `COLUMNS`.
fn record_row<'py>(
    py: Python<'py>,
    report: &Report,
    record: &Record,
) -> PyResult<[Bound<'py, PyAny>; 18]> {
    let meta = &report.report_metadata;
    let eval = &record.policy_evaluated;
    Ok([
        report.organization().into_pyobject(py)?.into_any(),
        meta.report_id.as_str().into_pyobject(py)?.into_any(),
        report.domain_key().into_pyobject(py)?.into_any(),
        meta.date_range.begin.into_pyobject(py)?.into_any(),
        meta.date_range.end.into_pyobject(py)?.into_any(),
        report
            .policy_published
            .p
            .as_ref()
            .map(Disposition::as_str)
            .into_pyobject(py)?,
        record
            .source_ip
            .map(|ip| ip.to_string())
            .into_pyobject(py)?,
        record.count.into_pyobject(py)?.into_any(),
        eval.disposition
            .as_ref()
            .map(Disposition::as_str)
            .into_pyobject(py)?,
        eval.dkim.as_ref().map(|d| d.as_str()).into_pyobject(py)?,
        eval.spf.as_ref().map(|d| d.as_str()).into_pyobject(py)?,
        record
            .dkim_aligned_pass()
            .into_pyobject(py)?
            .to_owned()
            .into_any(),
        record
            .spf_aligned_pass()
            .into_pyobject(py)?
            .to_owned()
            .into_any(),
        record.dmarc_pass().into_pyobject(py)?.to_owned().into_any(),
        record
            .identifiers
            .header_from
            .as_deref()
            .into_pyobject(py)?,
        record
            .identifiers
            .envelope_from
            .as_deref()
            .into_pyobject(py)?,
        record
            .identifiers
            .envelope_to
            .as_deref()
            .into_pyobject(py)?,
        report.xml_sha256.as_str().into_pyobject(py)?.into_any(),
    ])
}

/// Every record of `reports` as a dict of its report's and its own columns.
#[pyfunction]
fn to_records<'py>(reports: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
    let py = reports.py();
    let out = PyList::empty(py);
    for report in core_reports(reports)? {
        for record in &report.records {
            let row = PyDict::new(py);
            for (name, value) in COLUMNS.iter().zip(record_row(py, &report, record)?) {
                row.set_item(name, value)?;
            }
            out.append(row)?;
        }
    }
    Ok(out)
}

/// The records of `reports` by column: `{name: [values]}` (for `records_frame`).
#[pyfunction]
fn record_columns<'py>(reports: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
    let py = reports.py();
    let columns: Vec<Bound<'py, PyList>> = COLUMNS.iter().map(|_| PyList::empty(py)).collect();
    for report in core_reports(reports)? {
        for record in &report.records {
            for (column, value) in columns.iter().zip(record_row(py, &report, record)?) {
                column.append(value)?;
            }
        }
    }
    let out = PyDict::new(py);
    for (name, column) in COLUMNS.iter().zip(columns) {
        out.set_item(name, column)?;
    }
    Ok(out)
}

/// The native part of `dmarc_rs`; the package re-exports it with the Python helpers.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(parse_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(parse_file, m)?)?;
    m.add_function(wrap_pyfunction!(parse_paths, m)?)?;
    m.add_function(wrap_pyfunction!(summary, m)?)?;
    m.add_function(wrap_pyfunction!(by_source, m)?)?;
    m.add_function(wrap_pyfunction!(by_domain, m)?)?;
    m.add_function(wrap_pyfunction!(by_organization, m)?)?;
    m.add_function(wrap_pyfunction!(timeline, m)?)?;
    m.add_function(wrap_pyfunction!(failure_trend, m)?)?;
    m.add_function(wrap_pyfunction!(to_records, m)?)?;
    m.add_function(wrap_pyfunction!(record_columns, m)?)?;
    m.add_class::<PyReport>()?;
    m.add_class::<PyRecord>()?;
    m.add_class::<PyDiagnostic>()?;
    m.add_class::<PyFileError>()?;
    m.add("COLUMNS", PyTuple::new(m.py(), COLUMNS)?)?;
    Ok(())
}
