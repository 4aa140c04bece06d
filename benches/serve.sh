# Sourced by the benchmark scripts: `dmarc serve` with a user of its own, signed in.
#
# serve_signed_in BIN DATABASE_URL PORT ROLE LOG [NAME=VALUE...]
#   creates a user of ROLE in the database, starts `BIN/dmarc serve` on 127.0.0.1:PORT
#   (with the NAME=VALUE settings in its environment, its output in LOG), waits until it
#   answers, and signs in: sets $server (its process id) and $token (an access token).
serve_signed_in() {
  local bin=$1 db=$2 port=$3 role=$4 log=$5
  shift 5
  local email="bench$$-$RANDOM@example.com" password
  password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  "$bin/dmarc" user create --database-url "$db" --email "$email" --role "$role" \
    --password-stdin <<<"$password" >/dev/null
  env "$@" "$bin/dmarc" serve --database-url "$db" --listen "127.0.0.1:$port" >"$log" 2>&1 &
  server=$!
  for _ in $(seq 1 240); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
    sleep 0.5
  done
  token=$(curl -sf -X POST "http://127.0.0.1:$port/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$password\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
}
