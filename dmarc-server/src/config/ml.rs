//! `[ml]`: anomaly detection of sending sources (dmarc-ml's Isolation Forest).

use serde::{Deserialize, Serialize};

/// How models are trained and sources scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MlConfig {
    /// Days of activity a model is trained on, and a detection scores (ending now).
    pub window_days: u32,
    /// Trees of the forest (scikit-learn's `n_estimators`).
    pub trees: u32,
    /// Sources each tree is grown on (scikit-learn's `max_samples`).
    pub sample_size: u32,
    /// The seed: the same data and seed give the same model, byte for byte.
    pub seed: u64,
    /// The lowest threshold: scores above it may be anomalous (0.5: scikit-learn's
    /// `contamination="auto"`).
    pub threshold: f64,
    /// The share of the training sources above a model's threshold (its threshold is that
    /// quantile of their scores, at least `threshold`); 0: `threshold` alone.
    pub contamination: f64,
    /// The scheduled training deploys the model it trains.
    pub auto_deploy: bool,
    /// Predictions kept per detection run: every anomalous source, and the highest scores
    /// up to this many.
    pub max_predictions: u32,
}

impl Default for MlConfig {
    fn default() -> Self {
        MlConfig {
            window_days: 30,
            trees: 100,
            sample_size: 256,
            seed: 0,
            threshold: 0.5,
            contamination: 0.005,
            auto_deploy: true,
            max_predictions: 1_000,
        }
    }
}

impl MlConfig {
    /// Why the settings cannot work, if they cannot.
    pub fn problem(&self) -> Option<&'static str> {
        if !(1..=366).contains(&self.window_days) {
            Some("ml.window_days must be between 1 and 366")
        } else if !(1..=1_000).contains(&self.trees) {
            Some("ml.trees must be between 1 and 1000")
        } else if !(2..=4_096).contains(&self.sample_size) {
            Some("ml.sample_size must be between 2 and 4096")
        } else if !(self.threshold > 0.0 && self.threshold < 1.0) {
            Some("ml.threshold must be between 0 and 1")
        } else if !(0.0..0.5).contains(&self.contamination) {
            Some("ml.contamination must be at least 0 and below 0.5")
        } else if !(1..=100_000).contains(&self.max_predictions) {
            Some("ml.max_predictions must be between 1 and 100000")
        } else {
            None
        }
    }
}
