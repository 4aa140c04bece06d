#!/usr/bin/env bash
# Store benchmarks on SQLite and on a PostgreSQL cluster started here (default durability:
# fsync and synchronous_commit on, unlike the test clusters).
#
#  1. `dmarc ingest` of generated report files (zip and gzip, as reporters send them)
#     totalling RECORDS records (default 1,000,000): wall time, records/s, peak RSS; each
#     time followed by the raw bulk-load rate of the same `records` rows into the same schema
#     (`sqlite3` multi-row INSERTs, `psql \copy`), ROUNDS times (default 2).
#  2. `bench-store load` of a year of history totalling BIG_RECORDS records (default
#     10,000,000) straight through the Store API, then `bench-store query`: p50/p95 of
#     every dashboard rollup over all time, the last 30 days, and one domain (no cache:
#     the Store API); then the same rollups through `dmarc serve` with the cache warm
#     (`benches/warm.py`: p50/p95 of WARM_REPEAT requests each after the first, default 100).
#
# Usage: WORK=/big/disk benches/store.sh   (needs about 20 GB at the defaults)
# Set SKIP_BIG=1 to run only step 1, SKIP_INGEST=1 to run only step 2, and
# BACKENDS=sqlite or BACKENDS=postgres for one backend (default: both).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/benches/serve.sh"
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

# The raw bulk-load rate of the rows `dmarc ingest` stored in database `$1` (URL) in round
# `$2`: its `records` rows are exported once, then loaded into a fresh database of the same
# schema (its reports and raw inputs copied first, untimed) by `sqlite3` in multi-row
# INSERTs of 500 rows in one transaction (WAL, synchronous=NORMAL, a 64 MiB cache, as
# `dmarc` uses), or by `psql \copy`. Prints one JSON line.
bulk_load() {
  local url=$1 round=$2 records seconds
  case $url in
    sqlite:*)
      local db=${url#sqlite://}
      if [ ! -f "$work/records.sql" ]; then
        sqlite3 -csv "$db" "SELECT report_pk, ord, hex(ip), source_ip, count, disposition, dkim, \
          spf, dkim_pass, spf_pass, header_from, envelope_from, envelope_to, detail FROM records" \
          | python3 -c '
import csv, sys
csv.field_size_limit(1 << 30)
q = lambda v: "NULL" if v == "" else "\x27" + v.replace("\x27", "\x27\x27") + "\x27"
rows, out = [], sys.stdout
def flush():
    if rows:
        out.write("INSERT INTO records VALUES " + ",".join(rows) + ";\n")
        rows.clear()
out.write("BEGIN;\n")
for r in csv.reader(sys.stdin):
    ip = "NULL" if r[2] == "" else "X\x27" + r[2] + "\x27"
    rows.append("(" + ",".join([r[0], r[1], ip, q(r[3]), r[4], q(r[5]), q(r[6]), q(r[7]),
                                r[8], r[9], q(r[10]), q(r[11]), q(r[12]), q(r[13])]) + ")")
    if len(rows) == 500:
        flush()
flush()
out.write("COMMIT;\n")' > "$work/records.sql"
      fi
      rm -f "$work"/raw.db*
      "$bin/dmarc" migrate --database-url "sqlite://$work/raw.db" >/dev/null
      sqlite3 "$work/raw.db" "ATTACH '$db' AS s; INSERT INTO payloads SELECT * FROM s.payloads; \
        INSERT INTO reports SELECT * FROM s.reports;"
      /usr/bin/time -f "%e" -o "$work/time.txt" sqlite3 "$work/raw.db" \
        "PRAGMA journal_mode = WAL;" "PRAGMA synchronous = NORMAL;" "PRAGMA cache_size = -65536;" \
        ".read $work/records.sql" >/dev/null
      records=$(sqlite3 "$work/raw.db" "SELECT COUNT(*) FROM records")
      ;;
    postgres*)
      # As this user: `\\copy` reads and writes files in $work on the client side.
      local psql=("$pgbin/psql" -h 127.0.0.1 -p "$port" -U postgres -q)
      for table in payloads reports records; do
        [ -f "$work/pg_$table.csv" ] || "${psql[@]}" -d ingest -c "\\copy $table TO '$work/pg_$table.csv' CSV"
      done
      "${psql[@]}" -c "DROP DATABASE IF EXISTS raw" -c "CREATE DATABASE raw" postgres
      "$bin/dmarc" migrate --database-url "$pg/raw" >/dev/null
      "${psql[@]}" -d raw -c "\\copy payloads FROM '$work/pg_payloads.csv' CSV" \
        -c "\\copy reports FROM '$work/pg_reports.csv' CSV" -c "CHECKPOINT"
      /usr/bin/time -f "%e" -o "$work/time.txt" \
        "${psql[@]}" -d raw -c "\\copy records FROM '$work/pg_records.csv' CSV"
      records=$("${psql[@]}" -d raw -tAc "SELECT COUNT(*) FROM records")
      ;;
  esac
  seconds=$(cat "$work/time.txt")
  python3 -c 'import json, sys; n, b, r, s = sys.argv[1:]; print(json.dumps({"round": int(n),
    "backend": b, "step": "raw bulk load of the same records rows", "records": int(r),
    "seconds": float(s), "records_per_s": round(int(r) / float(s))}))' \
    "$round" "${url%%:*}" "$records" "$seconds"
}

if [ "${SKIP_INGEST:-0}" != 1 ]; then
echo "== 1. dmarc ingest of $records records from files, beside the raw bulk-load rate" >&2
if [ ! -d "$work/files" ]; then
  "$bin/gen-reports" "$work/files" --reports $((records / 500)) --records "$records" --domains 20 --seed 7 >&2
fi
du -sh "$work/files" >&2
uptime >&2
# Ours and the baseline alternate, ROUNDS times (the machine is shared: compare within a run).
for round in $(seq "${ROUNDS:-2}"); do
for url in $(urls ingest); do
  rm -f "$work"/ingest.db*
  if [ "${url%%:*}" != sqlite ]; then
    "${as_pg[@]}" "$pgbin/psql" -h 127.0.0.1 -p "$port" -U postgres -q \
      -c "DROP DATABASE ingest" -c "CREATE DATABASE ingest" postgres
  fi
  /usr/bin/time -f "%e %M" -o "$work/time.txt" \
    "$bin/dmarc" ingest --format json --database-url "$url" "$work/files" | tail -n 1 > "$work/summary.json"
  read -r seconds kb < "$work/time.txt"
  python3 - "$url" "$seconds" "$kb" "$work/summary.json" "$round" <<'PY'
import json, sys
url, seconds, kb, path, round_ = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
s = json.load(open(path))["summary"]
print(json.dumps({"round": int(round_), "backend": url.split(":")[0], "step": "dmarc ingest (files)",
                  "accepted": s["accepted"], "records": s["records"], "seconds": seconds,
                  "records_per_s": round(s["records"] / seconds), "peak_rss_mb": round(kb / 1024, 1)}))
PY
  bulk_load "$url" "$round"
done
done
uptime >&2
fi

# The dashboard's rollups through `dmarc serve` on database `$1`, cache warm.
warm_latency() {
  local url=$1 port=${PORT_WARM:-18091} last
  serve_signed_in "$bin" "$url" "$port" admin "$work/serve-warm.log"
  last=$(curl -sf "http://127.0.0.1:$port/api/rollup/summary" -H "Authorization: Bearer $token" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["last_end"])')
  python3 "$root/benches/warm.py" "http://127.0.0.1:$port" "$token" "$last" domain1.example "${WARM_REPEAT:-100}"
  kill "$server"
  wait "$server" 2>/dev/null || true
}

[ "${SKIP_BIG:-0}" = 1 ] && exit 0
echo "== 2. load $big records, then rollup latency" >&2
for url in $(urls big); do
  if [ "$url" = "sqlite://$work/big.db" ]; then rm -f "$work"/big.db*; fi
  /usr/bin/time -f "%M" -o "$work/time.txt" "$bin/bench-store" load "$url" --records "$big" --domains 20
  echo "{\"peak_rss_mb\": $(( $(cat "$work/time.txt") / 1024 ))}"
  "$bin/bench-store" query "$url" --repeat 20
  warm_latency "$url"
done
