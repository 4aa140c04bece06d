#!/usr/bin/env bash
# Peak memory of ingestion, measured on release binaries (several binaries side by side,
# alternating, when BINS names more than one folder):
#
#  1. `dmarc serve`: one upload of one large gzip report (RECORDS records, default 270,000,
#     about 124 MB of XML), then, on a fresh server, one upload of four such files in one
#     request. Peak (VmHWM) and resident (VmRSS) memory of the server before, at the peak
#     and after each request.
#  2. `dmarc ingest` of generated report files (FILES files of 500 records, default 2,000):
#     maximum resident memory of the command (GNU time).
#
# Prints one JSON line per measurement.
# Usage: benches/memory.sh                     (this checkout's release build)
#        BINS="/old/target/release target/release" benches/memory.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${WORK:-$(mktemp -d)}
records=${RECORDS:-270000}
files=${FILES:-2000}
port=${PORT:-18091}
mkdir -p "$work"

if [ -z "${BINS:-}" ]; then
  echo "building (release)" >&2
  cargo build --release -q -p dmarc-server -p dmarc-benches --manifest-path "$root/Cargo.toml"
fi
own="${CARGO_TARGET_DIR:-$root/target}/release"
bins=${BINS:-$own}
gen="$own/gen-reports"
[ -x "$gen" ] || cargo build --release -q -p dmarc-benches --manifest-path "$root/Cargo.toml"

if [ ! -d "$work/big" ]; then
  for i in 1 2 3 4; do
    "$gen" "$work/big$i" --reports 1 --records "$records" --domains 1 --seed "$i" --container gz >&2
  done
  mkdir -p "$work/big" && mv "$work"/big[1-4]/* "$work/big/" && rmdir "$work"/big[1-4]
fi
if [ ! -d "$work/files" ]; then
  "$gen" "$work/files" --reports "$files" --records $((files * 500)) --domains 20 --seed 7 >&2
fi
big=("$work"/big/*)

kb() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"; }

# Starts a server on a fresh database with an analyst; sets $server and $token.
start() {
  local bin=$1 db="sqlite://$work/mem.db" password
  rm -f "$work"/mem.db*
  password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  "$bin/dmarc" user create --database-url "$db" --email "mem@example.com" --role analyst \
    --password-stdin <<<"$password" >/dev/null
  DMARC_LIMITS_UPLOADS_PER_MINUTE=1000 DMARC_JOBS_SCHEDULER=false \
    "$bin/dmarc" serve --database-url "$db" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
    sleep 0.5
  done
  token=$(curl -sf -X POST "http://127.0.0.1:$port/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"mem@example.com\",\"password\":\"$password\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
}

upload() {
  local label=$1 bin=$2; shift 2
  local args=() before peak after started took status
  for f in "$@"; do args+=(-F "files=@$f"); done
  start "$bin"
  before=$(kb "$server" VmRSS)
  started=$(date +%s.%N)
  status=$(curl -s -o "$work/upload.json" -w '%{http_code}' -X POST "http://127.0.0.1:$port/api/upload" \
    -H "Authorization: Bearer $token" "${args[@]}")
  took=$(echo "$(date +%s.%N) - $started" | bc)
  sleep 2 # let freed memory go back
  peak=$(kb "$server" VmHWM)
  after=$(kb "$server" VmRSS)
  kill "$server"; wait "$server" 2>/dev/null || true
  python3 - "$label" "$bin" "$status" "$before" "$peak" "$after" "$took" "$work/upload.json" "$(uptime)" <<'PY'
import json, sys
label, bin, status, before, peak, after, took, out, load = sys.argv[1:]
summary = json.load(open(out)).get("summary", {}) if status == "200" else {}
mb = lambda kb: round(int(kb) / 1024, 1)
print(json.dumps({"step": label, "bin": bin, "status": int(status),
                  "rss_before_mb": mb(before), "peak_mb": mb(peak), "rss_after_mb": mb(after),
                  "seconds": round(float(took), 2), "accepted": summary.get("accepted"),
                  "records": summary.get("records"), "load": load.split("load average:")[-1].strip()}))
PY
}

ingest() {
  local bin=$1 peak took
  rm -f "$work"/ingest.db*
  /usr/bin/time -f '%M %e' -o "$work/time.txt" \
    "$bin/dmarc" ingest --format json --database-url "sqlite://$work/ingest.db" "$work/files" |
    tail -n 1 >"$work/summary.json"
  read -r peak took <"$work/time.txt"
  python3 - "$bin" "$peak" "$took" "$work/summary.json" "$(uptime)" <<'PY'
import json, sys
bin, peak, took, out, load = sys.argv[1:]
s = json.load(open(out))["summary"]
print(json.dumps({"step": "dmarc ingest (files)", "bin": bin, "peak_mb": round(int(peak) / 1024, 1),
                  "seconds": float(took), "records": s["records"], "records_per_s": round(s["records"] / float(took)),
                  "load": load.split("load average:")[-1].strip()}))
PY
}

for bin in $bins; do upload "upload of 1 file ($(du -h "${big[0]}" | cut -f1))" "$bin" "${big[0]}"; done
for bin in $bins; do upload "upload of 4 files in one request ($(du -ch "${big[@]}" | tail -1 | cut -f1))" "$bin" "${big[@]}"; done
for bin in $bins; do ingest "$bin"; done
