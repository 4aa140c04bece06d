#!/usr/bin/env bash
# Fails when a Rust source file has more than 700 lines and its first 15 lines do not say
# why it stays whole (a comment containing "stays whole").
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
while IFS= read -r file; do
  [ -f "$file" ] || continue
  lines=$(wc -l <"$file")
  if [ "$lines" -gt 700 ] && ! head -n 15 "$file" | grep -q "stays whole"; then
    echo "$file: $lines lines, and no comment at its top says why it stays whole" >&2
    status=1
  fi
done < <(git ls-files '*.rs')
[ $status -eq 0 ] && echo "ok: no source file over 700 lines without a reason"
exit $status
