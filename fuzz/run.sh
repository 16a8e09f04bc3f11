#!/usr/bin/env bash
# Run every libFuzzer target for SECONDS each, on its seed corpus in
# fuzz/corpus/<name>/ (new inputs go to a scratch copy, the seeds stay as they
# are). Fails when a target crashes; the crashing input is kept in fuzz/.
set -uo pipefail
BUILD=${1:-build-fuzz}
SECONDS_EACH=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
fail=0
for bin in "$BUILD"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  corpus_name=${name#fuzz_}
  seeds="$here/corpus/$corpus_name"
  work=$(mktemp -d)
  [ -d "$seeds" ] && cp -r "$seeds"/. "$work"/ 2>/dev/null
  echo "== $name: ${SECONDS_EACH}s"
  if ! "$bin" -max_total_time="$SECONDS_EACH" -print_final_stats=1 -artifact_prefix="$here/" "$work" 2>"$work.log"; then
    echo "$name: CRASH (see fuzz/crash-* and the log below)"; tail -40 "$work.log"; fail=1
  else
    grep -E "stat::number_of_executed_units|Done" "$work.log" | tail -2
  fi
  rm -rf "$work" "$work.log"
done
exit $fail
