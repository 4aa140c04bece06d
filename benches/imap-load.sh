#!/usr/bin/env bash
# IMAP ingestion throughput: a Dovecot mailbox of MESSAGES report messages (default 2,000;
# generated reports, gzip attachments, RECORDS records in all, default 200,000), fetched by
# one `dmarc imap fetch` into a fresh SQLite database (or DATABASE_URL). Prints one JSON
# line: messages/s, records/s, wall time and peak RSS of the dmarc process.
#
# Needs root, dovecot (apt-get install dovecot-imapd) and /usr/bin/time.
# Usage: WORK=/big/disk benches/imap-load.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${WORK:-$(mktemp -d)}
messages=${MESSAGES:-2000}
records=${RECORDS:-200000}
batch=${BATCH_SIZE:-50}
mkdir -p "$work"
command -v /usr/sbin/dovecot >/dev/null || { echo "dovecot is needed (apt-get install dovecot-imapd)" >&2; exit 2; }

echo "building (release)" >&2
cargo build --release -q -p dmarc-server -p dmarc-benches --manifest-path "$root/Cargo.toml"
bin="${CARGO_TARGET_DIR:-$root/target}/release"

# A Dovecot of our own on a free port, with one maildir account.
t="$work/dovecot"
rm -rf "$t" && mkdir -p "$t"/{run,state,mail/dmarc/{cur,new,tmp}}
chmod 755 "$work" "$t"
echo 'dmarc:{PLAIN}bench-password' >"$t/users"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$t/dovecot.conf" <<EOF
protocols = imap
listen = 127.0.0.1
base_dir = $t/run
state_dir = $t/state
log_path = $t/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 8
mail_location = maildir:$t/mail/%u
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $t/users
}
userdb {
  driver = static
  args = uid=mail gid=mail home=$t/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
}
EOF

echo "generating $messages messages" >&2
rm -rf "$work/messages"
"$bin/gen-reports" "$work/messages" --reports "$messages" --records "$records" --domains 10 \
  --seed "$(date +%s)" --container eml >"$work/expected.json"
i=0
for f in "$work"/messages/*.eml; do
  i=$((i + 1))
  cp "$f" "$t/mail/dmarc/new/$(date +%s).M$i.bench"
done
chown -R mail:mail "$t/mail"
du -sh "$t/mail" >&2

/usr/sbin/dovecot -F -c "$t/dovecot.conf" &
dovecot=$!
trap 'kill $dovecot 2>/dev/null' EXIT
for _ in $(seq 1 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
  sleep 0.1
done

db=${DATABASE_URL:-sqlite://$work/imap.db}
[ -z "${DATABASE_URL:-}" ] && rm -f "$work"/imap.db*
DMARC_IMAP_HOST=127.0.0.1 DMARC_IMAP_PORT=$port DMARC_IMAP_USER=dmarc \
DMARC_IMAP_PASSWORD=bench-password DMARC_IMAP_TLS=none DMARC_IMAP_BATCH_SIZE=$batch \
  /usr/bin/time -f "%e %M" -o "$work/time.txt" \
  "$bin/dmarc" imap fetch --database-url "$db" >"$work/summary.json" 2>"$work/fetch.log"
read -r seconds kb <"$work/time.txt"
python3 - "$seconds" "$kb" "$work/summary.json" "$work/expected.json" "$batch" <<'PY'
import json, sys
seconds, kb, path, expected, batch = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
s = json.loads(open(path).read().splitlines()[0])
e = json.loads(open(expected).read().splitlines()[-1])
o = s["outcomes"]
print(json.dumps({"step": "dmarc imap fetch", "batch_size": batch, "messages": s["messages"],
                  "processed": s["processed"], "failed": s["failed"], "accepted": o["accepted"],
                  "records": o["records"], "expected_records": e.get("records"),
                  "seconds": seconds, "messages_per_s": round(s["messages"] / seconds, 1),
                  "records_per_s": round(o["records"] / seconds), "peak_rss_mb": round(kb / 1024, 1)}))
PY
