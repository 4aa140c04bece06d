#!/usr/bin/env bash
# Runs one fuzz target for SECONDS, seeded from the real-world corpus.
# Usage: fuzz/run.sh TARGET SECONDS [extra libFuzzer flags]
# Works on stable Rust: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its nightly-only flags (ASan).
# -O builds like production (no debug assertions: mail-parser has a debug_assert that fires on
# some malformed multiparts, which the core catches in debug builds but libFuzzer's panic hook
# would abort on); overflow checks stay on through the release profile in fuzz/Cargo.toml.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target=$1 seconds=$2
shift 2
corpus="$here/corpus/$target"
mkdir -p "$corpus"
seeds="$here/../dmarc-core/tests/data/corpus"
# The parser targets are seeded with every report file (the corpus dir is the writable one;
# seed dirs are read only); the structure-aware `rollups` builds its reports from fuzzed
# fields, so files would not help it.
cd "$here"
seed_dirs=("$seeds/aggregate" "$seeds/aggregate_invalid" "$seeds/failure" "$seeds/smtp_tls")
[ "$target" = rollups ] && seed_dirs=()
RUSTC_BOOTSTRAP=1 cargo fuzz run -O "$target" "$corpus" "${seed_dirs[@]}" -- -dict="$here/xml.dict" \
  -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=262144 -timeout=10 \
  -print_final_stats=1 "$@"
