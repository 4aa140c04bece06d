//! Rollups with keyword filters, and records as rows or columns (for pandas).

use super::*;

/// The reports of a Python list of `Report`, as the core takes them.
pub(crate) fn core_reports(reports: &Bound<'_, PyAny>) -> PyResult<Vec<Report>> {
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
pub(crate) fn epoch_seconds(value: &Bound<'_, PyAny>) -> PyResult<i64> {
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

pub(crate) fn filter_error(py: Python<'_>, message: &str) -> PyErr {
    let make = || -> PyResult<PyErr> {
        let class = py.import("dmarc_rs.errors")?.getattr("FilterError")?;
        Ok(PyErr::from_value(class.call1((message,))?))
    };
    make().unwrap_or_else(|e| e)
}

/// The core filter from keyword arguments: domain (str or list of str), since, until
/// (seconds or datetime), source_ip (address or CIDR), dkim and spf ("pass" or "fail"),
/// disposition, org.
pub(crate) fn filter_from(py: Python<'_>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Filter> {
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
pub(crate) fn rollup_of<'py, T: serde::Serialize + Send>(
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
        pub(crate) fn $name<'py>(
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
/// `day`, `week` or `month`, or `None` for `auto`.
fn bucket_choice(py: Python<'_>, bucket: &str) -> PyResult<Option<rollup::Bucket>> {
    rollup::Bucket::choice(bucket)
        .map_err(|expected| filter_error(py, &format!("bucket={bucket:?}: expected {expected}")))
}

/// The timeline of `reports` in `bucket`s, and the bucket.
fn timeline_in(
    reports: &[Report],
    filter: &Filter,
    bucket: Option<rollup::Bucket>,
) -> (Vec<rollup::DayBucket>, rollup::Bucket) {
    rollup::in_buckets(&rollup::timeline(reports, filter), filter, bucket)
}

/// Messages per UTC day, ISO week or month (a report's messages spread over the days its
/// period overlaps); `auto` keeps the period to at most 400 points.
#[pyfunction]
#[pyo3(signature = (reports, *, bucket = "day", **filters))]
pub(crate) fn timeline<'py>(
    reports: &Bound<'py, PyAny>,
    bucket: &str,
    filters: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let bucket = bucket_choice(reports.py(), bucket)?;
    rollup_of(reports, filters, |reports, filter| {
        timeline_in(reports, filter, bucket).0
    })
}

/// The DMARC failure rate per day (or week, or month) with its moving average over
/// `window` of them.
#[pyfunction]
#[pyo3(signature = (reports, *, window = 7, bucket = "day", **filters))]
pub(crate) fn failure_trend<'py>(
    reports: &Bound<'py, PyAny>,
    window: usize,
    bucket: &str,
    filters: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let bucket = bucket_choice(reports.py(), bucket)?;
    rollup_of(reports, filters, |reports, filter| {
        let (points, bucket) = timeline_in(reports, filter, bucket);
        rollup::trend_over_buckets(&points, bucket, window)
    })
}

/// Names of the per-record columns of `to_records` and `records_frame`, in order.
pub(crate) const COLUMNS: [&str; 18] = [
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
pub(crate) fn record_row<'py>(
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
pub(crate) fn to_records<'py>(reports: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
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
pub(crate) fn record_columns<'py>(reports: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
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
