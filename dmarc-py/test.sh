#!/usr/bin/env bash
# Builds the dmarc-rs wheel with maturin, installs it into a fresh virtual environment and
# runs the pytest suite (which also runs examples/explore.py).
# Usage: dmarc-py/test.sh [pytest arguments]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
# shellcheck disable=SC1091
. "$work/venv/bin/activate"
pip install -q maturin==1.16.0 pytest pandas
maturin build --release --quiet -m "$root/dmarc-py/Cargo.toml" -o "$work/dist"
pip install -q "$work"/dist/dmarc_rs-*.whl
cd "$root/dmarc-py"
python -m pytest -q tests "$@"
