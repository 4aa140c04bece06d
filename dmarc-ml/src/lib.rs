//! Anomaly detection of DMARC sending sources: a seeded, deterministic Isolation Forest
//! behind linfa's `Fit` and `Predict` traits ([`forest`]). No database, no async: the
//! server feeds it rows and stores what it returns.

pub mod forest;
mod rng;

pub use forest::{IsolationForest, IsolationForestParams};

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
