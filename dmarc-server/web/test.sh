#!/usr/bin/env bash
# The dashboard in a real browser: Debian's Chromium driven by playwright-core (npm, with
# the lock file) against `dmarc serve` on a fresh SQLite database loaded with the test
# corpus. Needs Node.js, npm and /usr/bin/chromium (apt-get install chromium).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
[ -x /usr/bin/chromium ] || { echo "browser tests need /usr/bin/chromium (apt-get install chromium)" >&2; exit 2; }
cargo build -q -p dmarc-server --manifest-path "$root/Cargo.toml"
(cd "$here" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)

work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
db="sqlite://$work/web.db"
# Some corpus files are rejected on purpose (exit status 1); 2 is a failure.
"$target/debug/dmarc" ingest --database-url "$db" --format json \
  "$root/dmarc-core/tests/data/corpus/aggregate" >/dev/null || [ $? = 1 ]
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
"$target/debug/dmarc" user create --database-url "$db" --email admin@example.com --role admin \
  --password-stdin <<<"$password" >/dev/null
"$target/debug/dmarc" user create --database-url "$db" --email viewer@example.com --role viewer \
  --password-stdin <<<"$password" >/dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DMARC_JOBS_SCHEDULER=false "$target/debug/dmarc" serve --database-url "$db" \
  --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
  sleep 0.25
done
# One test file at a time: the upload test adds a report.
DASHBOARD_URL="http://127.0.0.1:$port" DASHBOARD_EMAIL=admin@example.com \
  DASHBOARD_VIEWER_EMAIL=viewer@example.com DASHBOARD_PASSWORD="$password" \
  node --test --test-concurrency=1 "$here/tests/"
