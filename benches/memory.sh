#!/usr/bin/env bash
# Peak memory of ingestion, measured on release binaries (several binaries side by side,
# alternating, when BINS names more than one folder):
#
#  1. `dmarc serve`: one upload of one large gzip report (RECORDS records, default 270,000,
#     about 460 bytes of XML each: 124 MB, as in the hardening issue), then, on a fresh
#     server, one upload of four such files in one request. Peak (VmHWM) and resident
#     (VmRSS) memory of the server before, at the peak and after each request.
#  2. `dmarc ingest` of generated report files (FILES files of 500 records, default 2,000):
#     maximum resident memory of the command (GNU time).
#
# Prints one JSON line per measurement.
# Usage: benches/memory.sh                     (this checkout's release build)
#        BINS="/old/target/release target/release" benches/memory.sh
#        (GEN names the gen-reports binary; by default this checkout's)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/benches/serve.sh"
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
gen=${GEN:-$own/gen-reports}
[ -x "$gen" ] || cargo build --release -q -p dmarc-benches --manifest-path "$root/Cargo.toml"

if [ ! -d "$work/big" ]; then
  mkdir -p "$work/big"
  for i in 1 2 3 4; do
    # Compact one-line records (no DKIM selector, one SPF result), like the issue's file.
    python3 - "$records" "$i" <<'PY' | gzip -6 >"$work/big/big$i.xml.gz"
import random, sys
records, seed = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)
out = sys.stdout
out.write('<?xml version="1.0" encoding="UTF-8"?><feedback><report_metadata><org_name>Big '
          'Receiver</org_name><email>dmarc@big.example</email><report_id>big-%d</report_id>'
          '<date_range><begin>1700006400</begin><end>1700092799</end></date_range>'
          '</report_metadata><policy_published><domain>example.com</domain><adkim>r</adkim>'
          '<aspf>r</aspf><p>quarantine</p><sp>quarantine</sp><pct>100</pct></policy_published>' % seed)
for n in range(records):
    ip = "%d.%d.%d.%d" % (rng.randrange(1, 224), rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))
    ok = rng.random() < 0.7
    verdict = "pass" if ok else "fail"
    disposition = "none" if ok else rng.choice(["none", "quarantine", "reject"])
    sender = "example.com" if ok else rng.choice(["spoof.example", "bulk.example", "phish.example"])
    out.write('<record><row><source_ip>%s</source_ip><count>%d</count><policy_evaluated>'
              '<disposition>%s</disposition><dkim>%s</dkim><spf>%s</spf></policy_evaluated></row>'
              '<identifiers><header_from>example.com</header_from><envelope_from>%s</envelope_from>'
              '</identifiers><auth_results><dkim><domain>%s</domain><result>%s</result></dkim>'
              '<spf><domain>%s</domain><result>%s</result></spf></auth_results></record>'
              % (ip, rng.randrange(1, 500), disposition, verdict, verdict, sender, sender, verdict,
                 sender, verdict))
out.write('</feedback>')
PY
  done
fi
if [ ! -d "$work/files" ]; then
  "$gen" "$work/files" --reports "$files" --records $((files * 500)) --domains 20 --seed 7 >&2
fi
big=("$work"/big/*)

kb() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"; }

# Starts a server on a fresh database with an analyst; sets $server and $token.
start() {
  local bin=$1
  rm -f "$work"/mem.db*
  serve_signed_in "$bin" "sqlite://$work/mem.db" "$port" analyst "$work/serve.log" \
    DMARC_LIMITS_UPLOADS_PER_MINUTE=1000 DMARC_JOBS_SCHEDULER=false
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
