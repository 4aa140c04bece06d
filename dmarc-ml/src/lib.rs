//! Anomaly detection of DMARC sending sources: the features of a source's activity
//! ([`features`]), a seeded, deterministic Isolation Forest behind linfa's `Fit` and
//! `Predict` traits ([`forest`]), and the trained model with its explanations, which
//! implements `dmarc_core::AnomalyScorer` ([`model`]). No database, no async: the server
//! feeds it activity and stores what it returns.

pub mod features;
pub mod forest;
pub mod model;
mod rng;

pub use features::{FEATURES, FeatureStats, MAX_PASS_SHARE, Place, extract, unauthenticated};
pub use forest::{IsolationForest, IsolationForestParams};
pub use model::{Model, Scorer, candidates, quantile};

/// Why a model could not be trained or read.
#[derive(Debug, thiserror::Error)]
pub enum MlError {
    /// The parameters cannot work.
    #[error("invalid parameters: {0}")]
    Parameters(String),
    /// Too little data to train on.
    #[error("not enough data to train on: {rows} rows of {features} features")]
    NotEnoughData {
        /// Rows given.
        rows: usize,
        /// Columns given.
        features: usize,
    },
    /// A serialised model that cannot be read.
    #[error("unreadable model: {0}")]
    Model(String),
    /// An error of linfa.
    #[error(transparent)]
    Linfa(#[from] linfa::Error),
}
