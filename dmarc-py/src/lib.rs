//! Python bindings of `dmarc-core` and `dmarc-ml` (import name `dmarc_rs`, built by
//! maturin).
//!
//! No logic lives here: every function converts its arguments, calls the core (or
//! dmarc-ml, for anomaly detection) and converts the result. Parsing many files runs on a rayon pool with the GIL released. Errors map to
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

mod anomaly;
mod model;
mod rollups;

use model::{PyDiagnostic, PyRecord, PyReport};
use rollups::*;

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
    m.add_function(wrap_pyfunction!(anomaly::features, m)?)?;
    m.add_function(wrap_pyfunction!(anomaly::train, m)?)?;
    m.add_class::<anomaly::PyAnomalyModel>()?;
    m.add_class::<anomaly::PyIsolationForest>()?;
    m.add_class::<PyReport>()?;
    m.add_class::<PyRecord>()?;
    m.add_class::<PyDiagnostic>()?;
    m.add_class::<PyFileError>()?;
    m.add("COLUMNS", PyTuple::new(m.py(), COLUMNS)?)?;
    Ok(())
}
