//! The Python classes of the model: `Report`, `Record`, `Diagnostic`, read-only views of
//! the core's values.

use super::*;

/// One DMARC aggregate report.
#[pyclass(frozen, module = "dmarc_rs", name = "Report")]
#[derive(Debug)]
pub(crate) struct PyReport {
    pub(crate) inner: Arc<Report>,
}

impl PyReport {
    pub(crate) fn new(report: Report) -> Self {
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
pub(crate) struct PyRecord {
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
pub(crate) struct PyDiagnostic {
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
