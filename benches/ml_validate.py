"""Compares our Isolation Forest with scikit-learn's on the same feature matrix.

Reads the CSV `ml-validate` writes (features, our score, the spoofer label), fits
scikit-learn's IsolationForest with the same number of trees and sample size, and checks:
Spearman rank correlation between the two scores >= 0.9, and ROC AUC of ours >= 0.95.
Prints the figures; exits 1 when a check fails.

    python benches/ml_validate.py OUT.csv
"""

import csv
import sys

import numpy as np
from scipy.stats import spearmanr
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score


def main(path: str) -> int:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, data = rows[0], np.array(rows[1:], dtype=float)
    features = header[:-2]
    x, ours, labels = data[:, : len(features)], data[:, -2], data[:, -1].astype(int)
    correlations = []
    for seed in range(3):
        forest = IsolationForest(n_estimators=100, max_samples=256, random_state=seed)
        forest.fit(x)
        # score_samples is the opposite of the paper's anomaly score s(x, n).
        theirs = -forest.score_samples(x)
        correlations.append(spearmanr(ours, theirs).statistic)
        if seed == 0:
            their_auc = roc_auc_score(labels, theirs)
    our_auc = roc_auc_score(labels, ours)
    spearman = float(np.mean(correlations))
    print(
        f"rows {len(x)}, features {len(features)}, spoofers {labels.sum()}: "
        f"ROC AUC ours {our_auc:.4f}, scikit-learn {their_auc:.4f}; Spearman ours vs "
        f"scikit-learn {spearman:.4f} (seeds 0-2: "
        + ", ".join(f"{c:.4f}" for c in correlations)
        + ")"
    )
    ok = spearman >= 0.9 and min(correlations) >= 0.9 and our_auc >= 0.95
    if not ok:
        print("ml_validate: FAILED (Spearman >= 0.9 and ROC AUC >= 0.95 required)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
