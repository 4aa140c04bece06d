//! Anomaly detection for notebooks: the features of each source (as dmarc-ml computes them
//! for the server), a model trained on a notebook's own reports, its scores with their
//! explanations, and the bare Isolation Forest over any feature matrix.

use std::collections::HashMap;
use std::net::IpAddr;

use dmarc_core::AnomalyScorer;
use dmarc_core::rollup::SourceActivity;
use dmarc_ml::{FEATURES, IsolationForestParams, Model, Place};
use ndarray::Array2;

use super::*;

/// The activity of each source of `reports` under the keyword filters, the time features
/// are measured at (`at`, or the latest report end) and the places of `places` (a dict of
/// address to `{"country": ..., "asn": ...}`).
fn activity_of(
    py: Python<'_>,
    reports: &Bound<'_, PyAny>,
    at: Option<&Bound<'_, PyAny>>,
    places: Option<&Bound<'_, PyDict>>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<(Vec<SourceActivity>, Vec<Place>, i64)> {
    let reports = core_reports(reports)?;
    let filter = filter_from(py, kwargs)?;
    let at = match at {
        Some(at) => epoch_seconds(at)?,
        None => reports
            .iter()
            .map(|r| r.report_metadata.date_range.end)
            .max()
            .unwrap_or(0),
    };
    let sources = py.detach(|| rollup::source_activity(&reports, &filter));
    let mut known: HashMap<IpAddr, Place> = HashMap::new();
    if let Some(places) = places {
        for (ip, place) in places.iter() {
            let text: String = ip.extract()?;
            let ip: IpAddr = text
                .parse()
                .map_err(|_| PyValueError::new_err(format!("{text:?} is not an IP address")))?;
            let field = |name: &str| -> PyResult<Option<Bound<'_, PyAny>>> {
                Ok(place.get_item(name).ok().filter(|v| !v.is_none()))
            };
            known.insert(
                ip,
                Place {
                    country: field("country")?.map(|v| v.extract()).transpose()?,
                    asn: field("asn")?.map(|v| v.extract()).transpose()?,
                },
            );
        }
    }
    let places = sources
        .iter()
        .map(|s| known.get(&s.source_ip).cloned().unwrap_or_default())
        .collect();
    Ok((sources, places, at))
}

fn rows_to_py<'py>(py: Python<'py>, rows: &Array2<f64>) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for row in rows.rows() {
        out.append(PyList::new(py, row.iter().copied())?)?;
    }
    Ok(out)
}

fn rows_from(rows: &Bound<'_, PyAny>) -> PyResult<Array2<f64>> {
    let rows: Vec<Vec<f64>> = rows.extract()?;
    let width = rows.first().map_or(0, Vec::len);
    if rows.iter().any(|r| r.len() != width) {
        return Err(PyValueError::new_err("every row must have the same length"));
    }
    Array2::from_shape_vec((rows.len(), width), rows.into_iter().flatten().collect())
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

fn ml_error(error: &dmarc_ml::MlError) -> PyErr {
    PyValueError::new_err(error.to_string())
}

/// `features(reports, at=None, places=None, **filters)`: per source address, the features
/// the anomaly model sees, as a dict with `source_ip`, `unauthenticated` (the sources the
/// model learns and scores), `features` (the column names) and `rows`.
#[pyfunction]
#[pyo3(signature = (reports, at=None, places=None, **kwargs))]
pub(crate) fn features<'py>(
    py: Python<'py>,
    reports: &Bound<'py, PyAny>,
    at: Option<&Bound<'py, PyAny>>,
    places: Option<&Bound<'py, PyDict>>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyDict>> {
    let (sources, places, at) = activity_of(py, reports, at, places, kwargs)?;
    let rows = dmarc_ml::extract(&sources, &places, at);
    let out = PyDict::new(py);
    let ips: Vec<String> = sources.iter().map(|s| s.source_ip.to_string()).collect();
    out.set_item("source_ip", ips)?;
    let scored: Vec<bool> = sources.iter().map(dmarc_ml::unauthenticated).collect();
    out.set_item("unauthenticated", scored)?;
    out.set_item("features", FEATURES.to_vec())?;
    out.set_item("rows", rows_to_py(py, &rows)?)?;
    Ok(out)
}

/// A trained anomaly model (the server's kind).
#[pyclass(name = "AnomalyModel", module = "dmarc_rs", frozen)]
pub(crate) struct PyAnomalyModel {
    model: Model,
}

#[pymethods]
impl PyAnomalyModel {
    /// `score(reports, at=None, places=None, **filters)`: one dict per source address
    /// (`source_ip`, `score` from 0 to 1, `anomalous`, `reasons`), highest score first.
    #[pyo3(signature = (reports, at=None, places=None, **kwargs))]
    fn score<'py>(
        &self,
        py: Python<'py>,
        reports: &Bound<'py, PyAny>,
        at: Option<&Bound<'py, PyAny>>,
        places: Option<&Bound<'py, PyDict>>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let (sources, places, at) = activity_of(py, reports, at, places, kwargs)?;
        let by_ip: HashMap<IpAddr, Place> = sources
            .iter()
            .zip(places)
            .map(|(s, p)| (s.source_ip, p))
            .collect();
        let mut scores = self.model.scorer(at, &by_ip).score(&sources);
        scores.sort_by(|a, b| b.score.total_cmp(&a.score));
        let out = PyList::empty(py);
        for s in scores {
            out.append(pythonize(py, &s)?)?;
        }
        Ok(out)
    }

    /// The model as JSON (the forest in dmarc-ml's versioned format, the typical feature
    /// values, the threshold).
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.model).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// A model from `to_json`.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        let model: Model =
            serde_json::from_str(text).map_err(|e| PyValueError::new_err(e.to_string()))?;
        // The forest is checked as when the server reads it.
        let forest = dmarc_ml::IsolationForest::from_bytes(&model.forest.to_bytes())
            .map_err(|e| ml_error(&e))?;
        Ok(PyAnomalyModel {
            model: Model { forest, ..model },
        })
    }

    /// Scores above it are anomalous.
    #[getter]
    fn threshold(&self) -> f64 {
        self.model.threshold
    }

    fn __repr__(&self) -> String {
        let p = self.model.forest.params();
        format!(
            "AnomalyModel(trees={}, sample_size={}, seed={}, threshold={})",
            p.trees, p.sample_size, p.seed, self.model.threshold
        )
    }
}

/// `train(reports, at=None, places=None, trees=100, sample_size=256, seed=0,
/// threshold=0.5, contamination=0.005, **filters)`: a model trained on the unauthenticated
/// sources of `reports`, as the server trains (its threshold: the score at or above which
/// `contamination` of them lie, never below `threshold`).
#[pyfunction]
#[pyo3(signature = (
    reports, at=None, places=None, trees=100, sample_size=256, seed=0, threshold=0.5,
    contamination=0.005, **kwargs
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn train(
    py: Python<'_>,
    reports: &Bound<'_, PyAny>,
    at: Option<&Bound<'_, PyAny>>,
    places: Option<&Bound<'_, PyDict>>,
    trees: usize,
    sample_size: usize,
    seed: u64,
    threshold: f64,
    contamination: f64,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<PyAnomalyModel> {
    let valid = threshold > 0.0 && threshold < 1.0 && (0.0..0.5).contains(&contamination);
    if !valid {
        return Err(PyValueError::new_err(
            "threshold must be between 0 and 1, and contamination at least 0 and below 0.5",
        ));
    }
    let (sources, places, at) = activity_of(py, reports, at, places, kwargs)?;
    let params = IsolationForestParams {
        trees,
        sample_size,
        seed,
    };
    let model = py
        .detach(|| {
            let (mut model, inputs) = Model::train_with_inputs(&sources, &places, at, &params)?;
            model.calibrate(&inputs, threshold, contamination);
            Ok::<_, dmarc_ml::MlError>(model)
        })
        .map_err(|e| ml_error(&e))?;
    Ok(PyAnomalyModel { model })
}

/// A seeded Isolation Forest over any feature matrix (scikit-learn's algorithm).
#[pyclass(name = "IsolationForest", module = "dmarc_rs", frozen)]
pub(crate) struct PyIsolationForest {
    params: IsolationForestParams,
    forest: Option<dmarc_ml::IsolationForest>,
}

#[pymethods]
impl PyIsolationForest {
    #[new]
    #[pyo3(signature = (trees=100, sample_size=256, seed=0))]
    fn new(trees: usize, sample_size: usize, seed: u64) -> Self {
        PyIsolationForest {
            params: IsolationForestParams {
                trees,
                sample_size,
                seed,
            },
            forest: None,
        }
    }

    /// A forest grown on `rows` (a list of equal-length lists of numbers).
    fn fit(&self, py: Python<'_>, rows: &Bound<'_, PyAny>) -> PyResult<Self> {
        let rows = rows_from(rows)?;
        let params = self.params;
        let forest = py
            .detach(|| params.fit_rows(&rows))
            .map_err(|e| ml_error(&e))?;
        Ok(PyIsolationForest {
            params,
            forest: Some(forest),
        })
    }

    /// The anomaly score of each row, from 0 to 1 (scikit-learn's `-score_samples`).
    fn score(&self, py: Python<'_>, rows: &Bound<'_, PyAny>) -> PyResult<Vec<f64>> {
        let forest = self
            .forest
            .as_ref()
            .ok_or_else(|| PyValueError::new_err("fit the forest first"))?;
        let rows = rows_from(rows)?;
        if rows.ncols() != forest.features() {
            return Err(PyValueError::new_err(format!(
                "the forest was grown on {} columns, not {}",
                forest.features(),
                rows.ncols()
            )));
        }
        Ok(py.detach(|| {
            rows.rows()
                .into_iter()
                .map(|r| forest.score_row(r))
                .collect()
        }))
    }

    /// The grown forest in dmarc-ml's versioned format (the same seed and rows give the
    /// same bytes).
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
        let forest = self
            .forest
            .as_ref()
            .ok_or_else(|| PyValueError::new_err("fit the forest first"))?;
        Ok(pyo3::types::PyBytes::new(py, &forest.to_bytes()))
    }
}
