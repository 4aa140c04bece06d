//! A trained model as the server keeps it: the forest, the typical value of each feature
//! (for explanations) and the threshold at or above which a source is anomalous; and the scorer
//! that implements [`dmarc_core::AnomalyScorer`].

use std::collections::HashMap;
use std::net::IpAddr;

use dmarc_core::rollup::SourceActivity;
use dmarc_core::{AnomalyScore, AnomalyScorer};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::MlError;
use crate::features::{FeatureStats, Place, extract, unauthenticated};
use crate::forest::{IsolationForest, IsolationForestParams};

/// Reasons given per scored source.
const REASONS: usize = 3;

/// A trained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The forest.
    pub forest: IsolationForest,
    /// The typical value of each feature over the training sources.
    pub stats: FeatureStats,
    /// Scores at or above it are anomalous (scikit-learn's `contamination="auto"`: 0.5).
    pub threshold: f64,
}

impl Model {
    /// Trains on the unauthenticated ones of `sources` ([`unauthenticated`]: their
    /// activity over the training window ending at `at`, UTC seconds) with their `places`
    /// (empty, or one per source).
    pub fn train(
        sources: &[SourceActivity],
        places: &[Place],
        at: i64,
        params: &IsolationForestParams,
    ) -> Result<Model, MlError> {
        Self::train_with_inputs(sources, places, at, params).map(|(model, _)| model)
    }

    /// As [`Model::train`], with what the forest was grown on: the training sources'
    /// rows, clipped ([`FeatureStats::clip`]), to score them or compare with another
    /// implementation.
    pub fn train_with_inputs(
        sources: &[SourceActivity],
        places: &[Place],
        at: i64,
        params: &IsolationForestParams,
    ) -> Result<(Model, Array2<f64>), MlError> {
        let (sources, places) = candidates(sources, places);
        let rows = extract(&sources, &places, at);
        let stats = FeatureStats::of(&rows, &crate::features::weights(&sources));
        let inputs = stats.clip(&rows);
        let model = Model {
            forest: params.fit_rows(&inputs)?,
            stats,
            threshold: 0.5,
        };
        Ok((model, inputs))
    }

    /// Sets the threshold from the training matrix `inputs` (as [`Model::train_with_inputs`]
    /// gives it): the score at or above which `contamination` of the training sources lie,
    /// never below `floor` (`floor` alone when `contamination` is 0). Returns the training
    /// scores, ascending.
    pub fn calibrate(&mut self, inputs: &Array2<f64>, floor: f64, contamination: f64) -> Vec<f64> {
        let mut scores: Vec<f64> = inputs
            .rows()
            .into_iter()
            .map(|row| self.forest.score_row(row))
            .collect();
        scores.sort_by(f64::total_cmp);
        self.threshold = if contamination > 0.0 {
            quantile(&scores, 1.0 - contamination).max(floor)
        } else {
            floor
        };
        scores
    }

    /// A scorer of sources seen up to `at`, placed by `places`.
    pub fn scorer<'a>(&'a self, at: i64, places: &'a HashMap<IpAddr, Place>) -> Scorer<'a> {
        Scorer {
            model: self,
            at,
            places,
        }
    }
}

/// The nearest-rank `q` quantile of ascending `sorted` scores (0 without any).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize]
}

/// The unauthenticated ones of `sources` and their places (`places` is empty, or one per
/// source).
pub fn candidates(
    sources: &[SourceActivity],
    places: &[Place],
) -> (Vec<SourceActivity>, Vec<Place>) {
    sources
        .iter()
        .enumerate()
        .filter(|(_, s)| unauthenticated(s))
        .map(|(i, s)| (s.clone(), places.get(i).cloned().unwrap_or_default()))
        .unzip()
}

/// Scores sources with a [`Model`]: the unauthenticated ones by the forest, the others 0
/// (authorised by the domain, see [`crate::features::MAX_PASS_SHARE`]).
#[derive(Debug, Clone, Copy)]
pub struct Scorer<'a> {
    model: &'a Model,
    at: i64,
    places: &'a HashMap<IpAddr, Place>,
}

impl Scorer<'_> {
    /// Each source's score, and for the scored (unauthenticated) ones their feature row
    /// as extracted (before clipping), in the order given.
    pub fn scored(&self, sources: &[SourceActivity]) -> Vec<(AnomalyScore, Option<Vec<f64>>)> {
        let places: Vec<Place> = sources
            .iter()
            .map(|s| self.places.get(&s.source_ip).cloned().unwrap_or_default())
            .collect();
        let (scored, scored_places) = candidates(sources, &places);
        let rows = extract(&scored, &scored_places, self.at);
        let inputs = self.model.stats.clip(&rows);
        let mut by_ip: HashMap<IpAddr, (AnomalyScore, Option<Vec<f64>>)> = scored
            .iter()
            .zip(rows.rows())
            .zip(inputs.rows())
            .map(|((source, row), input)| {
                let score = self.model.forest.score_row(input);
                // At or above: the training sources tied at the threshold are anomalous
                // too (a campaign's addresses often score alike). Every score is
                // explained: what stands out of a source below the threshold is worth
                // showing too (a typical source has nothing to explain).
                let anomalous = score >= self.model.threshold;
                let reasons = self.model.stats.explain(row, REASONS);
                let scored = AnomalyScore {
                    source_ip: source.source_ip,
                    score,
                    anomalous,
                    reasons,
                };
                (source.source_ip, (scored, Some(row.to_vec())))
            })
            .collect();
        sources
            .iter()
            .map(|s| {
                by_ip.remove(&s.source_ip).unwrap_or_else(|| {
                    let unscored = AnomalyScore {
                        source_ip: s.source_ip,
                        score: 0.0,
                        anomalous: false,
                        reasons: Vec::new(),
                    };
                    (unscored, None)
                })
            })
            .collect()
    }
}

impl AnomalyScorer for Scorer<'_> {
    fn score(&self, sources: &[SourceActivity]) -> Vec<AnomalyScore> {
        self.scored(sources).into_iter().map(|(s, _)| s).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::tests::source;

    #[test]
    fn injected_spoofers_score_on_top_with_reasons() {
        let at = 400 * 86_400;
        // 500 senders with steady, aligned mail over months...
        let mut sources: Vec<SourceActivity> = (0..500u64)
            .map(|i| {
                let messages = 50 + (i * 37) % 900;
                source(
                    &format!("10.0.{}.{}", i / 250, i % 250),
                    messages,
                    messages - i % 3,
                    20 + i % 40,
                    86_400 * (i as i64 % 200),
                )
            })
            .collect();
        // ...600 forwarders failing a handful of messages on a day...
        for i in 0..600u64 {
            sources.push(source(
                &format!("10.1.{}.{}", i / 250, i % 250),
                1 + i % 4,
                0,
                1,
                at - 86_400 * (1 + i as i64 % 300),
            ));
        }
        // ...and three spoofers: new, failing a lot.
        for k in 0..3 {
            sources.push(source(
                &format!("203.0.113.{k}"),
                2_000 + k,
                0,
                2,
                at - 2 * 86_400,
            ));
        }
        let model = Model::train(&sources, &[], at, &IsolationForestParams::default()).unwrap();
        let places = HashMap::new();
        let scores = model.scorer(at, &places).score(&sources);
        let mut ranked: Vec<&AnomalyScore> = scores.iter().collect();
        ranked.sort_by(|a, b| b.score.total_cmp(&a.score));
        let top: Vec<String> = ranked[..3]
            .iter()
            .map(|s| s.source_ip.to_string())
            .collect();
        assert!(top.iter().all(|ip| ip.starts_with("203.0.113.")), "{top:?}");
        assert!(ranked[0].anomalous);
        assert_eq!(
            ranked[0].reasons,
            [
                "volume 667x the usual 3 messages",
                "1001 failing messages a day (usual 3)"
            ]
        );
        // Authenticated senders are not scored.
        assert!(scores[..500].iter().all(|s| s.score == 0.0 && !s.anomalous));
        // The same model and input give the same scores.
        assert_eq!(model.scorer(at, &places).score(&sources), scores);
    }
}
