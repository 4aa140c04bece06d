#!/usr/bin/env bash
# dmarc_rs (the Python module) against parsedmarc's parse_report_file on the same files,
# both in one fresh venv: the real-world corpus, one generated 100,000-record report, and
# parse_paths on 1 thread against all threads (GIL released) on 200 generated files.
#
# Usage: benches/python.sh          (WORK=dir keeps the venv and files; SKIP_PARSEDMARC=1)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${WORK:-$(mktemp -d)}
venv="$work/venv"
bin="${CARGO_TARGET_DIR:-$root/target}/release"

cargo build --release -q -p dmarc-benches --bin gen-reports --manifest-path "$root/Cargo.toml"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q maturin==1.16.0 "parsedmarc==${PARSEDMARC_VERSION:-11.1.0}"
fi
"$venv/bin/maturin" build --release --quiet -m "$root/dmarc-py/Cargo.toml" -o "$work/dist"
"$venv/bin/pip" install -q --force-reinstall --no-deps "$work"/dist/dmarc_rs-*.whl
[ -d "$work/generated-100k" ] ||
  "$bin/gen-reports" "$work/generated-100k" --reports 1 --records 100000 --container gz --seed 100 >&2
[ -d "$work/generated-200" ] ||
  "$bin/gen-reports" "$work/generated-200" --reports 200 --records 100000 --seed 7 >&2

"$venv/bin/python" - "$root/dmarc-core/tests/data/corpus/aggregate" "$work/generated-100k" \
  "$work/generated-200" "${SKIP_PARSEDMARC:-0}" <<'PY'
import json, logging, os, sys, time, warnings
warnings.filterwarnings("ignore")
logging.disable(logging.CRITICAL)
import dmarc_rs

corpus, big, many, skip_parsedmarc = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"

def files_of(root):
    return sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)

def best(fn, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result

def parsedmarc_records(files):
    import parsedmarc
    records = 0
    for path in files:
        try:
            result = parsedmarc.parse_report_file(path, offline=True)
        except Exception:
            continue
        if result.get("report_type") == "aggregate":
            records += len(result["report"]["records"])
    return records

def dmarc_rs_records(files):
    records = 0
    for path in files:
        try:
            records += sum(len(r) for r in dmarc_rs.parse_file(path))
        except dmarc_rs.DmarcError:
            pass
    return records

for name, root, runs in [("corpus", corpus, 5), ("generated-100k", big, 3)]:
    files = files_of(root)
    ours, records = best(lambda: dmarc_rs_records(files), runs)
    line = {"set": name, "files": len(files), "records": records,
            "dmarc_rs_parse_file_s": round(ours, 3), "dmarc_rs_records_per_s": round(records / ours)}
    if not skip_parsedmarc:
        theirs, their_records = best(lambda: parsedmarc_records(files), 1)
        line.update({"parsedmarc_s": round(theirs, 3), "parsedmarc_records": their_records,
                     "parsedmarc_records_per_s": round(their_records / theirs),
                     "ratio": round(theirs / ours, 1)})
    print(json.dumps(line), flush=True)

for threads in (1, os.cpu_count()):
    seconds, (reports, errors) = best(lambda: dmarc_rs.parse_paths(many, threads=threads), 5)
    print(json.dumps({"set": "generated-200 parse_paths", "threads": threads,
                      "reports": len(reports), "errors": len(errors),
                      "records": sum(len(r) for r in reports), "seconds": round(seconds, 3)}),
          flush=True)
PY
