//! Extension points implemented outside the core: IP geolocation and anomaly scoring.
//!
//! The core defines what the rest of the system needs from these services, so the store,
//! the server and the Python module can work with any implementation (a MaxMind database,
//! a seeded Isolation Forest, a test double) without the core depending on them.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::rollup::SourceActivity;

/// Where an address is and who announces it. Every field is optional: databases differ in
/// what they know.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GeoInfo {
    /// ISO 3166-1 alpha-2 country code.
    pub country_code: Option<String>,
    /// Country name in English.
    pub country_name: Option<String>,
    /// City name in English.
    pub city: Option<String>,
    /// Latitude in degrees.
    pub latitude: Option<f64>,
    /// Longitude in degrees.
    pub longitude: Option<f64>,
    /// Autonomous system number.
    pub asn: Option<u32>,
    /// Autonomous system organisation.
    pub as_org: Option<String>,
}

/// Looks up where an address is.
///
/// Implementations must be cheap to call repeatedly (callers cache per address, but may
/// call from several threads) and must not fail loudly: an unknown or private address is
/// `Ok(None)`, and `Err` is kept for a broken database.
pub trait GeoLookup: Send + Sync {
    /// The location of `ip`, or `None` when the database has no entry for it.
    fn lookup(&self, ip: IpAddr) -> Result<Option<GeoInfo>, GeoError>;
}

/// A geolocation database that cannot answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("geolocation lookup failed: {0}")]
pub struct GeoError(pub String);

/// How unusual a source is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyScore {
    /// The source address scored.
    pub source_ip: IpAddr,
    /// 0.0 (ordinary) to 1.0 (most anomalous).
    pub score: f64,
    /// Whether the score crosses the scorer's threshold.
    pub anomalous: bool,
    /// The features that made the source stand out, most important first, in words a
    /// postmaster understands (e.g. "SPF aligned pass rate 0% (typical 98%)").
    pub reasons: Vec<String>,
}

/// Scores sources by how unusual their activity is.
///
/// Input is the per-source activity of a period ([`crate::rollup::source_activity`]);
/// output has one score per input, in the same order. Implementations must be
/// deterministic for the same model and input.
pub trait AnomalyScorer: Send + Sync {
    /// Scores each source.
    fn score(&self, sources: &[SourceActivity]) -> Vec<AnomalyScore>;
}
