#!/usr/bin/env bash
# Measures parsedmarc (installed with pip into a throwaway venv, offline mode) and
# `dmarc parse --format json` on the same files, and prints records/s for both.
#
# Usage: benches/parsedmarc.sh [FILE_OR_DIR...]
# Without arguments it generates a 100,000-record report (benches' seeded generator) and
# also measures the real-world corpus. Set PARSEDMARC_VERSION to pin another version.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${WORK:-$(mktemp -d)}
venv="$work/venv"
version=${PARSEDMARC_VERSION:-11.1.0}

echo "building dmarc (release)" >&2
cargo build --release -q -p dmarc-server -p dmarc-benches --manifest-path "$root/Cargo.toml"
bin="${CARGO_TARGET_DIR:-$root/target}/release"

echo "installing parsedmarc $version into $venv" >&2
python3 -m venv "$venv"
"$venv/bin/pip" install -q "parsedmarc==$version"

sets=("$@")
if [ ${#sets[@]} -eq 0 ]; then
  "$bin/gen-reports" "$work/generated-100k" --reports 1 --records 100000 --container gz --seed 100 >&2
  sets=("$work/generated-100k" "$root/dmarc-core/tests/data/corpus/aggregate")
fi

for set in "${sets[@]}"; do
  echo "== $set"
  # parsedmarc: every file through parse_report_file(offline=True), records counted.
  "$venv/bin/python" - "$set" <<'PY'
import os, sys, time, warnings, logging
warnings.filterwarnings("ignore")
logging.disable(logging.CRITICAL)
import parsedmarc
root = sys.argv[1]
files = [root] if os.path.isfile(root) else sorted(
    os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)
records = ok = failed = 0
size = 0
start = time.perf_counter()
for path in files:
    size += os.path.getsize(path)
    try:
        result = parsedmarc.parse_report_file(path, offline=True)
    except Exception:
        failed += 1
        continue
    if result.get("report_type") == "aggregate":
        ok += 1
        records += len(result["report"]["records"])
elapsed = time.perf_counter() - start
print(f"parsedmarc  files={len(files)} reports={ok} rejected={failed} records={records} "
      f"seconds={elapsed:.3f} records_per_s={records / elapsed:,.0f}")
PY
  # dmarc parse --format json, end to end (process start, reading, parsing, JSON output).
  start=$(date +%s.%N)
  "$bin/dmarc" parse --format json "$set" > "$work/out.ndjson" || true
  end=$(date +%s.%N)
  python3 - "$work/out.ndjson" "$start" "$end" <<'PY'
import json, sys
reports = records = errors = 0
for line in open(sys.argv[1]):
    obj = json.loads(line)
    if "error" in obj:
        errors += 1
    else:
        reports += 1
        records += len(obj["records"])
elapsed = float(sys.argv[3]) - float(sys.argv[2])
print(f"dmarc parse reports={reports} rejected={errors} records={records} "
      f"seconds={elapsed:.3f} records_per_s={records / elapsed:,.0f}")
PY
done
