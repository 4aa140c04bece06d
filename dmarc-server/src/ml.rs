//! Anomaly detection in the server: a model trained on what each source address did over
//! a window (its activity from the store, its country and network from the stored places),
//! stored with its version, parameters, window, feature statistics and metrics; one model
//! deployed; detection scores the sources of a window with it and keeps the predictions.
//! The computing is dmarc-ml's (seeded: the same data and seed give the same model), run
//! off the async threads.

use std::collections::HashMap;
use std::net::IpAddr;

use dmarc_core::Filter;
use dmarc_core::rollup::SourceActivity;
use dmarc_ml::{
    FEATURES, FeatureStats, IsolationForest, IsolationForestParams, Model, Place, quantile,
};
use dmarc_store::{DetectionRun, NewModel, NewPrediction, Store, StoredModel};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::MlConfig;

const DAY: i64 = 86_400;
/// Predictions kept per run beyond the anomalous ones, at least.
const KEEP_TOP: usize = 100;

/// Why training or detection could not run.
#[derive(Debug, thiserror::Error)]
pub enum MlError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] dmarc_store::StoreError),
    /// dmarc-ml refused (too little data, bad parameters).
    #[error(transparent)]
    Model(#[from] dmarc_ml::MlError),
    /// Nothing to detect with.
    #[error("no model is deployed: train one (POST /analytics/ml/train) and deploy it")]
    NoModel,
    /// A stored model that cannot be read.
    #[error("the stored model {0} cannot be read: {1}")]
    Stored(i64, String),
    /// The computation's thread failed.
    #[error("the computation failed: {0}")]
    Join(String),
}

/// What to train on (absent fields: the configuration's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainRequest {
    /// Days of activity, ending now (1-366).
    pub days: Option<u32>,
    /// Trees (1-1000).
    pub trees: Option<u32>,
    /// Sources per tree (2-4096).
    pub sample_size: Option<u32>,
    /// The random seed.
    pub seed: Option<u64>,
    /// Train on one domain's sources only.
    pub domain: Option<String>,
    /// Deploy the model once trained.
    #[serde(default)]
    pub deploy: bool,
}

/// What to score (absent fields: the configuration's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DetectRequest {
    /// Days of activity, ending now (1-366).
    pub days: Option<u32>,
    /// Score one domain's sources only (their rarity of country and network is then
    /// measured among that domain's sources).
    pub domain: Option<String>,
}

fn days_of(days: Option<u32>, config: &MlConfig) -> Result<i64, String> {
    let days = days.unwrap_or(config.window_days);
    if (1..=366).contains(&days) {
        Ok(i64::from(days))
    } else {
        Err(format!("days must be between 1 and 366, not {days}"))
    }
}

fn domain_of(domain: &Option<String>) -> Option<String> {
    domain
        .as_deref()
        .map(|d| d.trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

impl TrainRequest {
    /// The forest's parameters and the window's days, or why they are refused.
    pub fn resolve(&self, config: &MlConfig) -> Result<(IsolationForestParams, i64), String> {
        let trees = self.trees.unwrap_or(config.trees);
        let sample_size = self.sample_size.unwrap_or(config.sample_size);
        if !(1..=1_000).contains(&trees) {
            return Err(format!("trees must be between 1 and 1000, not {trees}"));
        }
        if !(2..=4_096).contains(&sample_size) {
            return Err(format!(
                "sample_size must be between 2 and 4096, not {sample_size}"
            ));
        }
        let params = IsolationForestParams {
            trees: trees as usize,
            sample_size: sample_size as usize,
            seed: self.seed.unwrap_or(config.seed),
        };
        Ok((params, days_of(self.days, config)?))
    }
}

impl DetectRequest {
    /// The window's days, or why they are refused.
    pub fn resolve(&self, config: &MlConfig) -> Result<i64, String> {
        days_of(self.days, config)
    }
}

/// The window of `days` whole UTC days before the day of `at`: reports of the current
/// day (still arriving) wait for the next day, and a model trained twice on the same day
/// from the same data is the same, byte for byte.
fn window_before(at: i64, days: i64) -> (i64, i64) {
    let end = at.div_euclid(DAY) * DAY;
    (end - days * DAY, end)
}

/// The activity of every source of a window, with their places.
async fn sources(
    store: &Store,
    window: (i64, i64),
    domain: Option<&str>,
) -> Result<(Vec<SourceActivity>, Vec<Place>), MlError> {
    let filter = Filter {
        domains: domain.map(|d| vec![d.to_owned()]).unwrap_or_default(),
        from: Some(window.0),
        to: Some(window.1),
        ..Filter::default()
    };
    let activity = store.source_activity(&filter).await?;
    let ips: Vec<IpAddr> = activity.iter().map(|a| a.source_ip).collect();
    let mut stored = store.places(&ips).await?;
    let places = ips
        .iter()
        .map(|ip| {
            stored
                .remove(ip)
                .map(|p| Place {
                    country: p.info.country_code,
                    asn: p.info.asn,
                })
                .unwrap_or_default()
        })
        .collect();
    Ok((activity, places))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, MlError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| MlError::Join(e.to_string()))
}

/// Trains a model on the sources of the `days` whole days before the day of `at` and stores
/// it (deployed when asked).
pub async fn train(
    store: &Store,
    config: &MlConfig,
    request: &TrainRequest,
    at: i64,
    created_by: &str,
) -> Result<StoredModel, MlError> {
    let (params, days) = request
        .resolve(config)
        .map_err(dmarc_ml::MlError::Parameters)?;
    let window = window_before(at, days);
    let domain = domain_of(&request.domain);
    let (activity, places) = sources(store, window, domain.as_deref()).await?;
    let (floor, contamination) = (config.threshold, config.contamination);
    let end = window.1;
    let started = std::time::Instant::now();
    let (model, scores) = blocking(move || {
        let (mut model, inputs) = Model::train_with_inputs(&activity, &places, end, &params)?;
        let scores = model.calibrate(&inputs, floor, contamination);
        Ok::<_, dmarc_ml::MlError>((model, scores))
    })
    .await??;
    let seconds = started.elapsed().as_secs_f64();
    let threshold = model.threshold;
    let above = scores.iter().filter(|s| **s >= threshold).count();
    let stored = store
        .add_model(&NewModel {
            params: json!({
                "trees": params.trees,
                "sample_size": params.sample_size,
                "seed": params.seed,
                "threshold": threshold,
                "contamination": contamination,
                "window_days": days,
                "format": dmarc_ml::forest::FORMAT,
            }),
            window,
            domain,
            sources: scores.len() as u64,
            stats: json!({
                "features": FEATURES,
                "median": model.stats.median,
                "spread": model.stats.spread,
            }),
            metrics: json!({
                "training_seconds": seconds,
                "anomalous_share": above as f64 / scores.len().max(1) as f64,
                "score_p50": quantile(&scores, 0.5),
                "score_p90": quantile(&scores, 0.9),
                "score_p99": quantile(&scores, 0.99),
                "score_max": scores.last().copied().unwrap_or(0.0),
            }),
            forest: model.forest.to_bytes(),
            created_by: created_by.to_owned(),
            created_at: at,
        })
        .await?;
    if request.deploy {
        return Ok(store
            .deploy_model(stored.version, at)
            .await?
            .unwrap_or(stored));
    }
    Ok(stored)
}

/// A stored model as dmarc-ml's.
fn model_of(stored: &StoredModel, forest: &[u8]) -> Result<Model, MlError> {
    let broken = |e: String| MlError::Stored(stored.version, e);
    let stats = FeatureStats {
        median: serde_json::from_value(stored.stats["median"].clone())
            .map_err(|e| broken(e.to_string()))?,
        spread: serde_json::from_value(stored.stats["spread"].clone())
            .map_err(|e| broken(e.to_string()))?,
    };
    Ok(Model {
        forest: IsolationForest::from_bytes(forest).map_err(|e| broken(e.to_string()))?,
        stats,
        threshold: stored.params["threshold"].as_f64().unwrap_or(0.5),
    })
}

/// What a detection did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    /// The model's version.
    pub model_version: i64,
    /// The activity scored, `[from, to)` in UTC seconds.
    pub window: (i64, i64),
    /// The domain whose sources were scored.
    pub domain: Option<String>,
    /// Sources scored: the unauthenticated ones (DMARC passing for less than half of
    /// their messages).
    pub sources: usize,
    /// Of which anomalous.
    pub anomalous: usize,
    /// Predictions kept.
    pub kept: usize,
    /// The highest scores: address and score.
    pub top: Vec<(String, f64)>,
}

/// Scores the sources of the `days` whole days before the day of `at` with the deployed
/// model and keeps the predictions: every anomalous source and the highest scores, up to
/// `config.max_predictions`.
pub async fn detect(
    store: &Store,
    config: &MlConfig,
    request: &DetectRequest,
    at: i64,
) -> Result<Detection, MlError> {
    let days = request
        .resolve(config)
        .map_err(dmarc_ml::MlError::Parameters)?;
    let (stored, forest) = store.active_model().await?.ok_or(MlError::NoModel)?;
    let model = model_of(&stored, &forest)?;
    let window = window_before(at, days);
    let domain = domain_of(&request.domain);
    let (activity, places) = sources(store, window, domain.as_deref()).await?;
    let limit = config.max_predictions as usize;
    let end = window.1;
    let (predictions, anomalous, scored) = blocking(move || {
        let by_ip: HashMap<IpAddr, Place> = activity
            .iter()
            .zip(places)
            .map(|(a, p)| (a.source_ip, p))
            .collect();
        // Authenticated sources are not scored (dmarc_ml::MAX_PASS_SHARE): no features.
        let mut predictions: Vec<NewPrediction> = model
            .scorer(end, &by_ip)
            .scored(&activity)
            .into_iter()
            .zip(&activity)
            .filter_map(|((score, features), source)| {
                Some(NewPrediction {
                    source_ip: score.source_ip,
                    score: score.score,
                    anomalous: score.anomalous,
                    reasons: score.reasons,
                    features: features?,
                    messages: source.tally.messages,
                    dmarc_fail: source.tally.dmarc_fail,
                })
            })
            .collect();
        let scored = predictions.len();
        let anomalous = predictions.iter().filter(|p| p.anomalous).count();
        predictions.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.source_ip.cmp(&b.source_ip))
        });
        predictions.truncate(anomalous.max(KEEP_TOP).min(limit));
        (predictions, anomalous, scored)
    })
    .await?;
    store
        .add_predictions(
            &DetectionRun {
                model_id: stored.id,
                run_at: at,
                window,
                domain: domain.clone(),
            },
            &predictions,
        )
        .await?;
    Ok(Detection {
        model_version: stored.version,
        window,
        domain,
        sources: scored,
        anomalous,
        kept: predictions.len(),
        top: predictions
            .iter()
            .take(10)
            .map(|p| (p.source_ip.to_string(), p.score))
            .collect(),
    })
}
