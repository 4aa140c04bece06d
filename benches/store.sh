#!/usr/bin/env bash
# Store benchmarks on SQLite and on a PostgreSQL cluster started here (default durability:
# fsync and synchronous_commit on, unlike the test clusters).
#
#  1. `dmarc ingest` of generated report files (zip and gzip, as reporters send them)
#     totalling RECORDS records (default 1,000,000): wall time, records/s, peak RSS.
#  2. `bench-store load` of a year of history totalling BIG_RECORDS records (default
#     10,000,000) straight through the Store API, then `bench-store query`: p50/p95 of
#     every dashboard rollup over all time, the last 30 days, and one domain.
#
# Usage: WORK=/big/disk benches/store.sh   (needs about 20 GB at the defaults)
# Set SKIP_BIG=1 to run only step 1, SKIP_INGEST=1 to run only step 2, and
# BACKENDS=sqlite or BACKENDS=postgres for one backend (default: both).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${WORK:-$(mktemp -d)}
records=${RECORDS:-1000000}
big=${BIG_RECORDS:-10000000}
backends=${BACKENDS:-sqlite postgres}
mkdir -p "$work"

echo "building (release)" >&2
cargo build --release -q -p dmarc-server -p dmarc-benches --manifest-path "$root/Cargo.toml"
bin="${CARGO_TARGET_DIR:-$root/target}/release"

pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pgdata="$work/pg"
port=${PGPORT_BENCH:-55433}
as_pg=()
[ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)
rm -rf "$pgdata" && mkdir -p "$pgdata"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$pgdata"
"${as_pg[@]}" "$pgbin/initdb" -D "$pgdata" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w \
  -o "-p $port -k $pgdata -c listen_addresses=127.0.0.1 -c shared_buffers=1GB -c max_wal_size=4GB" start >/dev/null
trap '"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdata" -m fast stop >/dev/null' EXIT
pg="postgres://postgres@127.0.0.1:$port"
for db in ingest big; do
  "${as_pg[@]}" "$pgbin/psql" -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE $db" postgres
done

# The URLs of the selected backends for database `$1` (SQLite: a file in $work).
urls() {
  for backend in $backends; do
    case $backend in
      sqlite) echo "sqlite://$work/$1.db" ;;
      postgres) echo "$pg/$1" ;;
      *) echo "unknown backend $backend" >&2; exit 2 ;;
    esac
  done
}

if [ "${SKIP_INGEST:-0}" != 1 ]; then
echo "== 1. dmarc ingest of $records records from files" >&2
if [ ! -d "$work/files" ]; then
  "$bin/gen-reports" "$work/files" --reports $((records / 500)) --records "$records" --domains 20 --seed 7 >&2
fi
du -sh "$work/files" >&2
for url in $(urls ingest); do
  rm -f "$work"/ingest.db*
  /usr/bin/time -f "%e %M" -o "$work/time.txt" \
    "$bin/dmarc" ingest --format json --database-url "$url" "$work/files" | tail -n 1 > "$work/summary.json"
  read -r seconds kb < "$work/time.txt"
  python3 - "$url" "$seconds" "$kb" "$work/summary.json" <<'PY'
import json, sys
url, seconds, kb, path = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
s = json.load(open(path))["summary"]
print(json.dumps({"backend": url.split(":")[0], "step": "dmarc ingest (files)",
                  "accepted": s["accepted"], "records": s["records"], "seconds": seconds,
                  "records_per_s": round(s["records"] / seconds), "peak_rss_mb": round(kb / 1024, 1)}))
PY
done
fi

[ "${SKIP_BIG:-0}" = 1 ] && exit 0
echo "== 2. load $big records, then rollup latency" >&2
for url in $(urls big); do
  if [ "$url" = "sqlite://$work/big.db" ]; then rm -f "$work"/big.db*; fi
  /usr/bin/time -f "%M" -o "$work/time.txt" "$bin/bench-store" load "$url" --records "$big" --domains 20
  echo "{\"peak_rss_mb\": $(( $(cat "$work/time.txt") / 1024 ))}"
  "$bin/bench-store" query "$url" --repeat 20
done
