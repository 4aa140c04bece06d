#!/usr/bin/env bash
# Dashboard timings in Chromium (dmarc-server/web/bench.mjs) on a SQLite database of
# RECORDS records (default 1,000,000; the files and database of benches/api-load.sh are
# reused from WORK when present): sign-in to every chart drawn, a reload signed in, the
# moves to Sources and Reports, the page's bytes. Twice: with the response cache (the
# default), and without it (every answer computed), all time and the last 30 days of data.
#
# Usage: WORK=/big/disk benches/dashboard.sh   (needs Node.js, npm and /usr/bin/chromium)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${WORK:-$(mktemp -d)}
records=${RECORDS:-1000000}
port=${PORT:-18095}
mkdir -p "$work"
[ -x /usr/bin/chromium ] || { echo "needs /usr/bin/chromium (apt-get install chromium)" >&2; exit 2; }
echo "building (release)" >&2
cargo build --release -q -p dmarc-server -p dmarc-benches --manifest-path "$root/Cargo.toml"
bin="${CARGO_TARGET_DIR:-$root/target}/release"
(cd "$root/dmarc-server/web" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
if [ ! -d "$work/files" ]; then
  "$bin/gen-reports" "$work/files" --reports $((records / 500)) --records "$records" --domains 20 --seed 7 >&2
fi
db="sqlite://$work/api.db"
if [ ! -f "$work/api.db" ]; then
  "$bin/dmarc" ingest --format json --database-url "$db" "$work/files" | tail -n 1 >&2
fi
email="bench$$-$RANDOM@example.com"
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
"$bin/dmarc" user create --database-url "$db" --email "$email" --role analyst \
  --password-stdin <<<"$password" >/dev/null
# The last 30 days of the data, whatever its dates.
last=$(python3 - "$work/api.db" <<'PY'
import datetime, sqlite3, sys
end = sqlite3.connect(sys.argv[1]).execute("SELECT MAX(end_ts) FROM reports").fetchone()[0]
day = lambda s: datetime.datetime.fromtimestamp(s, datetime.timezone.utc).strftime("%Y-%m-%d")
print(f"from={day(end - 29 * 86400)}&to={day(end)}")
PY
)
server=""
trap '[ -n "$server" ] && kill $server 2>/dev/null' EXIT
uptime >&2
for cache in 67108864 0; do
  DMARC_JOBS_SCHEDULER=false DMARC_LIMITS_CACHE_MAX_BYTES=$cache "$bin/dmarc" serve \
    --database-url "$db" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 1 240); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
    sleep 0.5
  done
  for path in "/?period=all" "/?period=custom&$last"; do
    echo "cache_max_bytes=$cache $path" >&2
    DASHBOARD_URL="http://127.0.0.1:$port" DASHBOARD_EMAIL="$email" DASHBOARD_PASSWORD="$password" \
      DASHBOARD_PATH="$path" node "$root/dmarc-server/web/bench.mjs" | tail -n 1 |
      sed "s/^{/{\"cache_max_bytes\":$cache,/"
  done
  kill "$server"
  wait "$server" 2>/dev/null || true
  server=""
done
uptime >&2
