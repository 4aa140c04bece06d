#!/usr/bin/env bash
# Validates the anomaly model (issue 18's "Must show", run by .ci/run): on the bench
# generator's data with an injected spoofing campaign, ROC AUC >= 0.95 and the same seed
# gives the same model bytes (`ml-validate`); on the same feature matrix, Spearman rank
# correlation >= 0.9 between our scores and scikit-learn's IsolationForest with the same
# trees and sample size (`ml_validate.py`, scikit-learn from PyPI in a venv made here).
# Usage: benches/ml-validate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${ML_VALIDATE_VENV:-$HOME/.cache/dmarc-ci/ml-venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import sklearn, scipy" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "scikit-learn==1.7.2"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo run -q --locked -p dmarc-benches --bin ml-validate -- "$work/features.csv" 0
"$venv/bin/python" benches/ml_validate.py "$work/features.csv"
