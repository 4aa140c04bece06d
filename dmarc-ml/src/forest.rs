//! A seeded, deterministic Isolation Forest (Liu, Ting and Zhou, 2008), as scikit-learn's
//! `IsolationForest` builds it: each tree grows on a sample drawn without replacement
//! (256 rows by default) down to `ceil(log2(sample))` levels, splitting on a random
//! feature at a uniform random value between the node's minimum and maximum; a row's score
//! is `2^(-E[h(x)] / c(sample))`, where `h` is the depth of its leaf plus the average depth
//! `c(n)` of the rows the leaf holds. Scores run from 0 to 1; above 0.5 is anomalous.
//!
//! linfa has no Isolation Forest: this one implements linfa's `Fit` and `PredictInplace`
//! (so `predict` works), draws from its own xoshiro256** generator (the same seed gives the
//! same model on every platform and version), and serialises to a versioned JSON format.

use linfa::dataset::{DatasetBase, Records};
use linfa::traits::{Fit, PredictInplace};
use ndarray::{Array1, ArrayBase, ArrayView1, Data, Ix2};
use serde::{Deserialize, Serialize};

use crate::MlError;
use crate::rng::Xoshiro256;

/// The version of the serialised model format.
pub const FORMAT: u32 = 1;

/// How to grow a forest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsolationForestParams {
    /// Trees (scikit-learn: `n_estimators`, 100).
    pub trees: usize,
    /// Rows each tree grows on (scikit-learn: `max_samples`, 256; fewer when the data has
    /// fewer rows).
    pub sample_size: usize,
    /// The seed of the random generator.
    pub seed: u64,
}

impl Default for IsolationForestParams {
    fn default() -> Self {
        IsolationForestParams {
            trees: 100,
            sample_size: 256,
            seed: 0,
        }
    }
}

/// A node of a tree: a split, or a leaf with how many sample rows reached it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Node {
    /// Rows with `x[feature] <= threshold` go to node `left`, the others to `right`.
    Split {
        feature: u32,
        threshold: f64,
        left: u32,
        right: u32,
    },
    /// The rows that reached it.
    Leaf { size: u32 },
}

/// A grown tree: its nodes, the root first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Tree {
    nodes: Vec<Node>,
}

/// A trained Isolation Forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsolationForest {
    /// The serialised format's version ([`FORMAT`]).
    format: u32,
    /// How it was grown (`sample_size` as used).
    params: IsolationForestParams,
    /// Columns of the training data.
    features: usize,
    trees: Vec<Tree>,
}

/// The average path length of an unsuccessful search in a binary search tree of `n` rows:
/// `c(n) = 2 H(n - 1) - 2 (n - 1) / n`, with `c(1) = 0` and `c(2) = 1`.
pub fn average_path_length(n: usize) -> f64 {
    const EULER: f64 = 0.577_215_664_901_532_9;
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        n => {
            let m = (n - 1) as f64;
            2.0 * (m.ln() + EULER) - 2.0 * m / n as f64
        }
    }
}

impl IsolationForestParams {
    /// Grows a forest on `rows` (one row per sample, one column per feature).
    pub fn fit_rows<D: Data<Elem = f64>>(
        &self,
        rows: &ArrayBase<D, Ix2>,
    ) -> Result<IsolationForest, MlError> {
        let (n, features) = rows.dim();
        if self.trees == 0 || self.sample_size < 2 {
            return Err(MlError::Parameters(
                "at least one tree and a sample of at least 2 rows".into(),
            ));
        }
        if n < 2 || features == 0 {
            return Err(MlError::NotEnoughData { rows: n, features });
        }
        if rows.iter().any(|v| !v.is_finite()) {
            return Err(MlError::Parameters("every feature must be finite".into()));
        }
        let sample = self.sample_size.min(n);
        let max_depth = (sample as f64).log2().ceil() as usize;
        let mut rng = Xoshiro256::seeded(self.seed);
        let mut all: Vec<usize> = (0..n).collect();
        let mut trees = Vec::with_capacity(self.trees);
        for _ in 0..self.trees {
            // The first `sample` places of a partial Fisher-Yates shuffle: a sample without
            // replacement.
            for i in 0..sample {
                let j = i + rng.below(n - i);
                all.swap(i, j);
            }
            let mut picked = all[..sample].to_vec();
            let mut nodes = Vec::new();
            grow(rows, &mut picked, 0, max_depth, &mut rng, &mut nodes);
            trees.push(Tree { nodes });
        }
        Ok(IsolationForest {
            format: FORMAT,
            params: IsolationForestParams {
                sample_size: sample,
                ..*self
            },
            features,
            trees,
        })
    }
}

/// Grows the subtree of `rows[indices]` at `depth`; returns its node's index.
fn grow<D: Data<Elem = f64>>(
    rows: &ArrayBase<D, Ix2>,
    indices: &mut [usize],
    depth: usize,
    max_depth: usize,
    rng: &mut Xoshiro256,
    nodes: &mut Vec<Node>,
) -> u32 {
    let at = nodes.len() as u32;
    let leaf = Node::Leaf {
        size: indices.len() as u32,
    };
    nodes.push(leaf.clone());
    if depth >= max_depth || indices.len() <= 1 {
        return at;
    }
    // A random feature that varies in the node (scikit-learn draws again when one does
    // not): the features in a random order, the first that varies.
    let features = rows.ncols();
    let mut order: Vec<usize> = (0..features).collect();
    for i in 0..features {
        let j = i + rng.below(features - i);
        order.swap(i, j);
        let feature = order[i];
        let (low, high) = indices
            .iter()
            .map(|&r| rows[[r, feature]])
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        if high <= low {
            continue;
        }
        let threshold = low + rng.unit() * (high - low);
        // Partition in place: rows at or below the threshold first.
        let mut split = 0;
        for k in 0..indices.len() {
            if rows[[indices[k], feature]] <= threshold {
                indices.swap(k, split);
                split += 1;
            }
        }
        if split == 0 || split == indices.len() {
            return at;
        }
        let (left_rows, right_rows) = indices.split_at_mut(split);
        let left = grow(rows, left_rows, depth + 1, max_depth, rng, nodes);
        let right = grow(rows, right_rows, depth + 1, max_depth, rng, nodes);
        nodes[at as usize] = Node::Split {
            feature: feature as u32,
            threshold,
            left,
            right,
        };
        return at;
    }
    at
}

impl IsolationForest {
    /// The parameters it was grown with (`sample_size` as used).
    pub fn params(&self) -> IsolationForestParams {
        self.params
    }

    /// Columns the rows to score must have.
    pub fn features(&self) -> usize {
        self.features
    }

    /// The path length of `row` in `tree`: the leaf's depth plus `c(rows in the leaf)`.
    fn path_length(tree: &Tree, row: ArrayView1<'_, f64>) -> f64 {
        let mut at = 0usize;
        let mut depth = 0usize;
        loop {
            match &tree.nodes[at] {
                Node::Leaf { size } => {
                    return depth as f64 + average_path_length(*size as usize);
                }
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    at = if row[*feature as usize] <= *threshold {
                        *left as usize
                    } else {
                        *right as usize
                    };
                    depth += 1;
                }
            }
        }
    }

    /// The anomaly score of one row: from 0 to 1, above 0.5 anomalous. Panics when the row
    /// does not have [`IsolationForest::features`] columns.
    pub fn score_row(&self, row: ArrayView1<'_, f64>) -> f64 {
        assert_eq!(row.len(), self.features, "the model's feature count");
        let mean = self
            .trees
            .iter()
            .map(|t| Self::path_length(t, row))
            .sum::<f64>()
            / self.trees.len() as f64;
        2f64.powf(-mean / average_path_length(self.params.sample_size))
    }

    /// The model in its serialised form (JSON, with its format version). The same seed and
    /// data give the same bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A model from [`IsolationForest::to_bytes`]; refuses another format version or a
    /// broken tree.
    pub fn from_bytes(bytes: &[u8]) -> Result<IsolationForest, MlError> {
        #[derive(Deserialize)]
        struct Version {
            format: u32,
        }
        let version: Version =
            serde_json::from_slice(bytes).map_err(|e| MlError::Model(e.to_string()))?;
        if version.format != FORMAT {
            return Err(MlError::Model(format!(
                "model format {} (this version reads {FORMAT})",
                version.format
            )));
        }
        let model: IsolationForest =
            serde_json::from_slice(bytes).map_err(|e| MlError::Model(e.to_string()))?;
        // Every split points forward to nodes that exist, on a feature that exists: scoring
        // then always ends at a leaf.
        let sound = !model.trees.is_empty()
            && model.params.sample_size >= 2
            && model.trees.iter().all(|t| {
                !t.nodes.is_empty()
                    && t.nodes.iter().enumerate().all(|(i, node)| match node {
                        Node::Leaf { .. } => true,
                        Node::Split {
                            feature,
                            left,
                            right,
                            ..
                        } => {
                            (*feature as usize) < model.features
                                && (*left as usize) > i
                                && (*right as usize) > i
                                && (*left as usize) < t.nodes.len()
                                && (*right as usize) < t.nodes.len()
                        }
                    })
            });
        if !sound {
            return Err(MlError::Model("the trees are inconsistent".into()));
        }
        Ok(model)
    }
}

impl<D: Data<Elem = f64>, T> Fit<ArrayBase<D, Ix2>, T, MlError> for IsolationForestParams {
    type Object = IsolationForest;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<IsolationForest, MlError> {
        self.fit_rows(dataset.records())
    }
}

impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<f64>> for IsolationForest {
    /// Scores every row (see [`IsolationForest::score_row`]).
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<f64>) {
        assert_eq!(x.nrows(), y.len(), "one score per row");
        for (row, out) in x.rows().into_iter().zip(y.iter_mut()) {
            *out = self.score_row(row);
        }
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<f64> {
        Array1::zeros(x.nsamples())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linfa::Dataset;
    use linfa::traits::Predict;
    use ndarray::{Array2, array};

    /// `n` rows around the origin (a grid in two features) and one far away, last.
    fn cluster_and_outlier(n: usize) -> Array2<f64> {
        let mut rows = Array2::zeros((n + 1, 2));
        for i in 0..n {
            rows[[i, 0]] = (i % 10) as f64 * 0.1;
            rows[[i, 1]] = (i / 10) as f64 * 0.1;
        }
        rows[[n, 0]] = 10.0;
        rows[[n, 1]] = -10.0;
        rows
    }

    #[test]
    fn the_path_length_constant_is_scikit_learns() {
        assert_eq!(average_path_length(1), 0.0);
        assert_eq!(average_path_length(2), 1.0);
        // scikit-learn's _average_path_length(256).
        assert!((average_path_length(256) - 10.244_770_920_116_851).abs() < 1e-9);
    }

    #[test]
    fn an_outlier_scores_highest_and_above_a_half() {
        let rows = cluster_and_outlier(400);
        let model = IsolationForestParams::default()
            .fit(&Dataset::from(rows.clone()))
            .unwrap();
        let scores: Array1<f64> = model.predict(&rows);
        let top = scores
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert_eq!(top, 400);
        assert!(scores[400] > 0.6, "{}", scores[400]);
        let typical = scores.iter().take(400).sum::<f64>() / 400.0;
        assert!(typical < scores[400] - 0.1, "{typical}");
    }

    #[test]
    fn the_same_seed_gives_the_same_bytes_and_another_seed_does_not() {
        let rows = cluster_and_outlier(300);
        let grow = |seed| {
            IsolationForestParams {
                seed,
                ..IsolationForestParams::default()
            }
            .fit_rows(&rows)
            .unwrap()
            .to_bytes()
        };
        // Compared as booleans: a failure would print megabytes of model.
        assert!(grow(7) == grow(7));
        assert!(grow(7) != grow(8));
        let model = IsolationForest::from_bytes(&grow(7)).unwrap();
        assert!(
            model.to_bytes() == grow(7),
            "the model reads back as written"
        );
        assert_eq!(model.params().sample_size, 256);
    }

    #[test]
    fn bad_input_and_broken_models_are_refused() {
        let params = IsolationForestParams::default();
        assert!(matches!(
            params.fit_rows(&array![[1.0, 2.0]]),
            Err(MlError::NotEnoughData { rows: 1, .. })
        ));
        assert!(params.fit_rows(&array![[1.0], [f64::NAN]]).is_err());
        let zero = IsolationForestParams { trees: 0, ..params };
        assert!(zero.fit_rows(&array![[1.0], [2.0]]).is_err());

        let bytes = params
            .fit_rows(&array![[1.0], [2.0], [3.0]])
            .unwrap()
            .to_bytes();
        let text = String::from_utf8(bytes).unwrap();
        let newer = text.replacen("\"format\":1", "\"format\":2", 1);
        assert!(
            matches!(IsolationForest::from_bytes(newer.as_bytes()), Err(MlError::Model(m)) if m.contains("format 2"))
        );
        let looping = text.replace("\"left\":1", "\"left\":0");
        assert!(IsolationForest::from_bytes(looping.as_bytes()).is_err());
        assert!(IsolationForest::from_bytes(b"{}").is_err());
    }

    #[test]
    fn constant_data_gives_leaves_and_equal_scores() {
        let rows = Array2::from_elem((50, 3), 1.0);
        let model = IsolationForestParams::default().fit_rows(&rows).unwrap();
        let scores: Array1<f64> = model.predict(&rows);
        assert!(scores.iter().all(|s| (s - scores[0]).abs() < 1e-12));
    }
}
