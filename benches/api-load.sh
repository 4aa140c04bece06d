#!/usr/bin/env bash
# Load test of the REST API (wrk) on a SQLite database of RECORDS records (default
# 1,000,000, generated report files ingested with `dmarc ingest`), then the wall time of one
# 200-file upload.
#
# Prints one JSON line per measurement: requests/s and latency percentiles of
# /api/rollup/summary, /api/rollup/timeline, /api/rollup/sources and /api/reports (all time, no filter, and the
# last 30 days of data), each for DURATION seconds (default 30) with CONNECTIONS (default 8)
# connections on 2 wrk threads. Then the wall time and size of PDF summaries (sequential,
# all time and the last 30 days) and of one 200-file upload of new reports.
#
# Usage: WORK=/big/disk benches/api-load.sh   (needs wrk: apt-get install wrk)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/benches/serve.sh"
work=${WORK:-$(mktemp -d)}
records=${RECORDS:-1000000}
duration=${DURATION:-30}
connections=${CONNECTIONS:-8}
port=${PORT:-18090}
mkdir -p "$work"
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 2; }

echo "building (release)" >&2
cargo build --release -q -p dmarc-server -p dmarc-benches --manifest-path "$root/Cargo.toml"
bin="${CARGO_TARGET_DIR:-$root/target}/release"

if [ ! -d "$work/files" ]; then
  "$bin/gen-reports" "$work/files" --reports $((records / 500)) --records "$records" --domains 20 --seed 7 >&2
fi
db="sqlite://$work/api.db"
if [ ! -f "$work/api.db" ]; then
  "$bin/dmarc" ingest --format json --database-url "$db" "$work/files" | tail -n 1 >&2
fi
# Upload limits and rates opened up for the measurement.
serve_signed_in "$bin" "$db" "$port" analyst "$work/serve.log" \
  DMARC_LIMITS_UPLOADS_PER_MINUTE=1000 DMARC_LIMITS_PDF_EXPORTS_PER_MINUTE=1000
trap 'kill $server 2>/dev/null' EXIT
# Access tokens live 15 minutes; each wrk run is much shorter.

last=$(curl -sf "http://127.0.0.1:$port/api/rollup/summary" -H "Authorization: Bearer $token" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["last_end"])')
since=$((last - 30 * 86400))
report() {
  python3 - "$1" "$2" "$work/wrk.txt" <<'PY'
import json, re, sys
path, window, out = sys.argv[1], sys.argv[2], open(sys.argv[3]).read()
def latency(label):
    m = re.search(r"^\s+%s\s+([\d.]+)(us|ms|s)" % label, out, re.M)
    value, unit = float(m.group(1)), m.group(2)
    return round(value * {"us": 0.001, "ms": 1, "s": 1000}[unit], 2)
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
print(json.dumps({"endpoint": path, "window": window, "requests_per_s": rps,
                  "p50_ms": latency("50%"), "p90_ms": latency("90%"), "p99_ms": latency("99%"),
                  "non_2xx": int(errors.group(1)) if errors else 0}))
PY
}
for path in /api/rollup/summary /api/rollup/timeline /api/rollup/sources /api/reports; do
  for window in all 30d; do
    query=""
    [ "$window" = 30d ] && query="?from=$since"
    wrk -t2 -c"$connections" -d"${duration}s" --latency -H "Authorization: Bearer $token" \
      "http://127.0.0.1:$port$path$query" >"$work/wrk.txt"
    report "$path" "$window"
  done
done

# PDF summaries, PDF_RUNS (default 3) of each window, one after the other.
for window in all 30d; do
  query=""
  [ "$window" = 30d ] && query="?from=$since"
  for _ in $(seq 1 "${PDF_RUNS:-3}"); do
    curl -sf -o "$work/summary.pdf" -w '%{time_total} %{size_download}\n' \
      -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/export/report/pdf$query"
  done | python3 -c '
import json, statistics, sys
runs = [line.split() for line in sys.stdin]
times = sorted(float(t) for t, _ in runs)
print(json.dumps({"endpoint": "/api/export/report/pdf", "window": sys.argv[1], "runs": len(runs),
                  "median_s": round(statistics.median(times), 3), "max_s": round(times[-1], 3),
                  "bytes": int(runs[-1][1])}))' "$window"
done

# One upload of 200 new files (a fresh seed each run, so every report is new).
rm -rf "$work/upload" && "$bin/gen-reports" "$work/upload" --reports 200 --records 20000 --domains 5 --seed "$(date +%s)" >&2
args=()
for f in "$work"/upload/*; do args+=(-F "files=@$f"); done
start=$(date +%s.%N)
curl -sf -X POST "http://127.0.0.1:$port/api/upload" -H "Authorization: Bearer $token" "${args[@]}" \
  >"$work/upload.json"
end=$(date +%s.%N)
python3 - "$start" "$end" "$work/upload.json" <<'PY'
import json, sys
start, end, path = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
s = json.load(open(path))["summary"]
print(json.dumps({"step": "upload of 200 files", "seconds": round(end - start, 2), **s}))
PY
