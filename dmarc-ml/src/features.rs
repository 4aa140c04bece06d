//! What the model sees of a sending source: one row of [`FEATURES`] per source, made from
//! its activity over a window ([`dmarc_core::rollup::SourceActivity`]) and, when
//! geolocation knows them, its country and network. The typical value of each feature (its
//! median and spread over the training rows) is kept with the model, so a score comes with
//! the features that drove it in words ("volume 40x its usual, SPF never aligned, first
//! seen 2 days ago").

use dmarc_core::rollup::SourceActivity;
use ndarray::{Array2, ArrayView1};
use serde::{Deserialize, Serialize};

/// The columns, in order.
pub const FEATURES: [&str; 12] = [
    "log_messages",
    "dmarc_pass_share",
    "dkim_aligned_share",
    "spf_aligned_share",
    "enforced_share",
    "header_from_domains",
    "reporters",
    "days_active",
    "first_seen_days_ago",
    "country_rarity",
    "network_rarity",
    "log_failing_per_day",
];

const DAY: f64 = 86_400.0;

/// Where a source is, as far as geolocation knows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    /// ISO country code.
    pub country: Option<String>,
    /// Autonomous system number.
    pub asn: Option<u32>,
}

/// How unusual each value of a key is among the sources: 1 minus the share of the
/// messages it carries (an unknown key counts as one value of its own).
fn rarity<K: Eq + std::hash::Hash + Clone>(keys: &[K], weights: &[f64]) -> Vec<f64> {
    let mut totals: std::collections::HashMap<K, f64> = std::collections::HashMap::new();
    for (key, weight) in keys.iter().zip(weights) {
        *totals.entry(key.clone()).or_default() += weight;
    }
    let all: f64 = weights.iter().sum();
    keys.iter()
        .map(|k| {
            if all > 0.0 {
                1.0 - totals[k] / all
            } else {
                0.0
            }
        })
        .collect()
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Sources whose DMARC pass share is below this are *unauthenticated*: what the model
/// learns and scores. A source that mostly passes DMARC is authorised by the domain's own
/// DNS (its SPF or its DKIM keys); its changes are the volume rules' business. Among the
/// rest (forwarders, mailing lists, misconfigured services, spoofers), the usual is a
/// handful of failing messages, and a campaign stands out.
pub const MAX_PASS_SHARE: f64 = 0.5;

/// Whether `source` is unauthenticated (see [`MAX_PASS_SHARE`]).
pub fn unauthenticated(source: &SourceActivity) -> bool {
    source.tally.messages > 0
        && share(source.tally.dmarc_pass, source.tally.messages) < MAX_PASS_SHARE
}

/// The feature rows of `sources` seen up to `at` (UTC seconds), with their places
/// (`places` is empty, or one per source). Rarity is measured among these sources,
/// weighted by messages.
pub fn extract(sources: &[SourceActivity], places: &[Place], at: i64) -> Array2<f64> {
    let weights: Vec<f64> = sources.iter().map(|s| s.tally.messages as f64).collect();
    let place = |i: usize| places.get(i).cloned().unwrap_or_default();
    let countries: Vec<Option<String>> = (0..sources.len()).map(|i| place(i).country).collect();
    let networks: Vec<Option<u32>> = (0..sources.len()).map(|i| place(i).asn).collect();
    let country_rarity = rarity(&countries, &weights);
    let network_rarity = rarity(&networks, &weights);
    let mut rows = Array2::zeros((sources.len(), FEATURES.len()));
    for (i, s) in sources.iter().enumerate() {
        let t = &s.tally;
        let values = [
            (t.messages as f64).ln_1p(),
            share(t.dmarc_pass, t.messages),
            share(t.dkim_aligned_pass, t.messages),
            share(t.spf_aligned_pass, t.messages),
            share(s.quarantined.saturating_add(s.rejected), t.messages),
            s.header_from_domains as f64,
            s.reporters as f64,
            s.days_active as f64,
            ((at - s.first_seen).max(0) as f64 / DAY).min(3_650.0),
            country_rarity[i],
            network_rarity[i],
            (t.dmarc_fail as f64 / s.days_active.max(1) as f64).ln_1p(),
        ];
        for (j, v) in values.into_iter().enumerate() {
            rows[[i, j]] = v;
        }
    }
    rows
}

/// The typical value of each feature over the training rows, each source weighing the
/// logarithm of its messages (most addresses send a handful of messages; the typical value
/// leans towards the sources that carry the mail, without one large source deciding it):
/// the median and the interquartile range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureStats {
    /// Per feature, in [`FEATURES`] order.
    pub median: Vec<f64>,
    /// Per feature: the 75th minus the 25th percentile.
    pub spread: Vec<f64>,
}

/// The weight of each source in [`FeatureStats`]: `ln(1 + messages)`.
pub fn weights(sources: &[SourceActivity]) -> Vec<f64> {
    sources
        .iter()
        .map(|s| (s.tally.messages as f64).ln_1p())
        .collect()
}

/// The value below which a share `q` of the weight lies, in `(value, weight)` pairs sorted
/// by value.
fn weighted_quantile(sorted: &[(f64, f64)], q: f64) -> f64 {
    let total: f64 = sorted.iter().map(|(_, w)| w).sum();
    if sorted.is_empty() {
        return 0.0;
    }
    if total <= 0.0 {
        return sorted[((sorted.len() - 1) as f64 * q).round() as usize].0;
    }
    let mut seen = 0.0;
    for (value, weight) in sorted {
        seen += weight;
        if seen >= q * total {
            return *value;
        }
    }
    sorted[sorted.len() - 1].0
}

impl FeatureStats {
    /// The statistics of `rows`, each weighing `weights` (see [`weights`]; empty: one each).
    pub fn of(rows: &Array2<f64>, weights: &[f64]) -> FeatureStats {
        let mut median = Vec::with_capacity(rows.ncols());
        let mut spread = Vec::with_capacity(rows.ncols());
        for column in rows.columns() {
            let mut sorted: Vec<(f64, f64)> = column
                .iter()
                .enumerate()
                .map(|(i, v)| (*v, weights.get(i).copied().unwrap_or(1.0)))
                .collect();
            sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
            median.push(weighted_quantile(&sorted, 0.5));
            spread.push(weighted_quantile(&sorted, 0.75) - weighted_quantile(&sorted, 0.25));
        }
        FeatureStats { median, spread }
    }

    /// What the forest sees of `rows`: each value on the unsuspicious side of its typical
    /// value (more aligned, older, steadier, smaller than usual) is the typical value, so
    /// only a deviation towards the suspicious side can isolate a source.
    pub fn clip(&self, rows: &Array2<f64>) -> Array2<f64> {
        let mut out = rows.clone();
        for (j, mut column) in out.columns_mut().into_iter().enumerate() {
            let Some(&typical) = self.median.get(j) else {
                continue;
            };
            let side = suspicious_side(j);
            column.mapv_inplace(|v| {
                if (v - typical) * side < 0.0 {
                    typical
                } else {
                    v
                }
            });
        }
        out
    }

    /// How far `row` is from the typical value on each feature, in spreads (the spread is
    /// at least a tenth of the feature's scale, so a feature nearly every source shares
    /// still counts), at most 5: `(feature index, distance)`, farthest first.
    pub fn deviations(&self, row: ArrayView1<'_, f64>) -> Vec<(usize, f64)> {
        let scale = |j: usize| match FEATURES[j] {
            // A doubling of the volume is one spread.
            "log_messages" => self.spread[j].max(std::f64::consts::LN_2),
            "header_from_domains" | "reporters" | "days_active" => {
                self.spread[j].max(0.1 * self.median[j].abs()).max(1.0)
            }
            "first_seen_days_ago" => self.spread[j].max(1.0),
            "log_failing_per_day" => self.spread[j].max(std::f64::consts::LN_2),
            _ => self.spread[j].max(0.1),
        };
        // Only the suspicious side counts: more aligned, older or steadier than usual is
        // never a reason. Distances are capped at 5 spreads: past that, every feature is
        // "far off", and the order of [`FEATURES`] (volume first) decides.
        let mut out: Vec<(usize, f64)> = (0..row.len().min(self.median.len()))
            .map(|j| {
                let off = (row[j] - self.median[j]) * suspicious_side(j);
                (j, (off.max(0.0) / scale(j)).min(5.0))
            })
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }

    /// Up to `count` reasons why `row` stands out, in words, for the features at least 1.5
    /// spreads from typical.
    pub fn explain(&self, row: ArrayView1<'_, f64>, count: usize) -> Vec<String> {
        // DMARC never passing implies DKIM and SPF never aligned: one reason says it.
        let implied = |j: usize| {
            matches!(FEATURES[j], "dkim_aligned_share" | "spf_aligned_share")
                && row[j] == 0.0
                && row[1] == 0.0
        };
        self.deviations(row)
            .into_iter()
            .filter(|(j, d)| *d >= 1.5 && !implied(*j))
            .take(count)
            .map(|(j, _)| describe(j, row[j], self.median[j]))
            .collect()
    }
}

/// +1 when a value above the usual is suspicious, -1 when one below is.
fn suspicious_side(feature: usize) -> f64 {
    match FEATURES[feature] {
        "dmarc_pass_share"
        | "dkim_aligned_share"
        | "spf_aligned_share"
        | "days_active"
        | "first_seen_days_ago" => -1.0,
        _ => 1.0,
    }
}

fn percent(v: f64) -> String {
    format!("{:.0} %", 100.0 * v)
}

/// One feature's value against its typical one, in words.
fn describe(feature: usize, value: f64, typical: f64) -> String {
    match FEATURES[feature] {
        "log_messages" => {
            let (messages, usual) = (value.exp_m1(), typical.exp_m1());
            if usual >= 1.0 && messages >= usual {
                format!(
                    "volume {:.0}x the usual {:.0} messages",
                    messages / usual,
                    usual
                )
            } else {
                format!("{messages:.0} messages (usual {usual:.0})")
            }
        }
        "dmarc_pass_share" if value == 0.0 => "DMARC never passed".to_owned(),
        "dkim_aligned_share" if value == 0.0 => "DKIM never aligned".to_owned(),
        "spf_aligned_share" if value == 0.0 => "SPF never aligned".to_owned(),
        "dmarc_pass_share" => format!("DMARC pass {} (usual {})", percent(value), percent(typical)),
        "dkim_aligned_share" => format!(
            "DKIM aligned {} (usual {})",
            percent(value),
            percent(typical)
        ),
        "spf_aligned_share" => format!(
            "SPF aligned {} (usual {})",
            percent(value),
            percent(typical)
        ),
        "enforced_share" => format!(
            "{} quarantined or rejected (usual {})",
            percent(value),
            percent(typical)
        ),
        "header_from_domains" => format!("sent as {value:.0} domains (usual {typical:.0})"),
        "reporters" => format!("seen by {value:.0} reporters (usual {typical:.0})"),
        "days_active" => format!("active {value:.0} days (usual {typical:.0})"),
        "first_seen_days_ago" => format!("first seen {value:.0} days ago"),
        "log_failing_per_day" => format!(
            "{:.0} failing messages a day (usual {:.0})",
            value.exp_m1(),
            typical.exp_m1()
        ),
        "country_rarity" => format!(
            "a country {} of the messages seldom come from",
            percent(value)
        ),
        _ => format!(
            "a network {} of the messages seldom come from",
            percent(value)
        ),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use dmarc_core::rollup::Tally;

    /// A source of `messages` of which `pass` passed (the others rejected), active on
    /// `days` days since `first_seen`.
    pub(crate) fn source(
        ip: &str,
        messages: u64,
        pass: u64,
        days: u64,
        first_seen: i64,
    ) -> SourceActivity {
        SourceActivity {
            source_ip: ip.parse().unwrap(),
            tally: Tally {
                messages,
                dmarc_pass: pass,
                dmarc_fail: messages - pass,
                dkim_aligned_pass: pass,
                spf_aligned_pass: pass,
            },
            quarantined: 0,
            rejected: messages - pass,
            header_from_domains: 1,
            reporters: 2,
            days_active: days,
            first_seen,
            last_seen: 0,
        }
    }

    #[test]
    fn rows_hold_each_feature_in_order() {
        let at = 100 * 86_400;
        let sources = [
            source("192.0.2.1", 99, 99, 30, 0),
            source("192.0.2.2", 1, 0, 30, at - 2 * 86_400),
        ];
        let places = [
            Place {
                country: Some("US".into()),
                asn: Some(15169),
            },
            Place {
                country: Some("KP".into()),
                asn: None,
            },
        ];
        let rows = extract(&sources, &places, at);
        assert_eq!(rows.dim(), (2, FEATURES.len()));
        assert!((rows[[0, 0]] - 100f64.ln()).abs() < 1e-12);
        assert_eq!(rows.row(0).to_vec()[1..5], [1.0, 1.0, 1.0, 0.0]);
        assert_eq!(rows.row(1).to_vec()[1..5], [0.0, 0.0, 0.0, 1.0]);
        assert_eq!(rows[[1, 8]], 2.0);
        // The KP source carries 1 % of the messages: its country is rare.
        assert!((rows[[1, 9]] - 0.99).abs() < 1e-12);
        assert!((rows[[0, 9]] - 0.01).abs() < 1e-12);
        // Without places every source shares the unknown place.
        let bare = extract(&sources, &[], at);
        assert_eq!((bare[[0, 9]], bare[[1, 10]]), (0.0, 0.0));
        // Failing messages per active day: 1 over 30 days for the second, none for the first.
        assert_eq!(rows[[0, 11]], 0.0);
        assert!((rows[[1, 11]] - (1.0f64 / 30.0).ln_1p()).abs() < 1e-12);
    }

    #[test]
    fn a_spoofer_is_explained_in_words() {
        let at = 100 * 86_400;
        let mut sources: Vec<SourceActivity> = (0..50)
            .map(|i| source(&format!("192.0.2.{i}"), 100 + i, 100 + i, 30, 0))
            .collect();
        sources.push(source("203.0.113.9", 4_000, 0, 30, at - 2 * 86_400));
        let rows = extract(&sources, &[], at);
        let stats = FeatureStats::of(&rows, &weights(&sources));
        let reasons = stats.explain(rows.row(50), 4);
        assert_eq!(
            reasons,
            [
                "DMARC never passed",
                "100 % quarantined or rejected (usual 0 %)",
                "first seen 2 days ago",
                "133 failing messages a day (usual 0)",
            ]
        );
        // A typical source has nothing to explain.
        assert!(stats.explain(rows.row(10), 4).is_empty());
    }
}
