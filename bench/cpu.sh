#!/usr/bin/env bash
# CPU cost per image byte of the core's streaming path vs a bare SHA-256 of the
# same bytes with the same crypto library, in instructions (callgrind), so the
# figure is repeatable (issue 7, benchmark 2). Goal: ratio <= 1.3.
# Usage: bash bench/cpu.sh BUILD_DIR [OUT.md]
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="$(cd "${1:-$SRC/build}" && pwd)"
OUT_MD="${2:-}"
SHARED="${UPDRAFT_SHARED:-$SRC/../shared}"
FW="${BENCH_FIRMWARE:-$(find "$SHARED"/firmware/esp32-esphome-demo -name "01_*.bin" | sort | head -1)}"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT

CFLAGS="-O2 -g -std=c11 -Wall -Wextra -Werror -I$SRC/include"
LIBS="$BUILD/libupdraft_host.a $BUILD/libupdraft_core.a -lmbedcrypto -lcurl -lssl -lcrypto"
# shellcheck disable=SC2086
gcc $CFLAGS -o "$T/stream_bench" "$SRC/bench/stream_bench.c" $LIBS

count() { # mode fn -> instructions inside fn
  valgrind --tool=callgrind --callgrind-out-file="$T/cg.$1" --toggle-collect="$2" "$T/stream_bench" "$1" "$FW" \
    >"$T/$1.out" 2>"$T/$1.err" || { cat "$T/$1.out" "$T/$1.err"; exit 1; }
  grep -q "rc 0" "$T/$1.out" || { echo "cpu: $1 run failed"; cat "$T/$1.out"; exit 1; }
  awk '/^summary:/ { print $2 }' "$T/cg.$1"
}
bytes=$(stat -c %s "$FW")
stream=$(count stream bench_stream)
sha=$(count sha bench_sha)
ratio=$(awk -v a="$stream" -v b="$sha" 'BEGIN { printf "%.3f", a / b }')
ipb_stream=$(awk -v a="$stream" -v n="$bytes" 'BEGIN { printf "%.2f", a / n }')
ipb_sha=$(awk -v a="$sha" -v n="$bytes" 'BEGIN { printf "%.2f", a / n }')
# Where the streaming path's instructions go (inclusive, top functions).
callgrind_annotate --inclusive=yes "$T/cg.stream" >"$T/annot" 2>/dev/null || true
top=$(grep -E '^ *[0-9,]+ ' "$T/annot" | sed -E 's/\([^)]*\)//; s/ +\[[^]]*\]//' |
  awk '{ fn = $NF; sub(/.*:/, "", fn); if (!(fn in seen) && fn !~ /^0x|TOTALS|__libc_start|^main\)?$/) { seen[fn] = 1; printf "%15s %s\n", $1, fn } }' | head -12)
# The flash simulator's program/erase (a RAM copy with NOR checks) stands in
# for the SPI driver: report the core's own share without it too.
sim=$(grep -E '^ *[0-9,]+ .*flash_sim\.c:sim_(program|erase)' "$T/annot" | grep -v '=>' |
  awk '{ gsub(",", "", $1); fn = $0; sub(/.*flash_sim\.c:/, "", fn); sub(/ .*/, "", fn); if (!(fn in s)) { s[fn] = 1; t += $1 } } END { print t + 0 }')
core=$((stream - sim))
ratio_core=$(awk -v a="$core" -v b="$sha" 'BEGIN { printf "%.3f", a / b }')
ipb_core=$(awk -v a="$core" -v n="$bytes" 'BEGIN { printf "%.2f", a / n }')
{
  echo "Firmware: \`$(basename "$FW")\` ($bytes bytes)."
  echo ""
  echo "| figure | instructions | per byte | goal |"
  echo "|---|---:|---:|---|"
  echo "| streaming path (feed + erase + program 4 KiB chunks + block peeks + finish) | $stream | $ipb_stream | |"
  echo "| bare SHA-256 (\`psa_hash_compute\`, same library) | $sha | $ipb_sha | |"
  echo "| of which the flash simulator's program/erase (stands in for the SPI driver) | $sim | $(awk -v a="$sim" -v n="$bytes" 'BEGIN { printf "%.2f", a / n }') | |"
  echo "| streaming path without the flash simulator | $core | $ipb_core | |"
  echo "| **ratio, streaming path incl. RAM flash / bare SHA-256** | | **$ratio** | <= 1.3 |"
  echo "| **ratio, core only (flash port excluded) / bare SHA-256** | | **$ratio_core** | <= 1.3 |"
  echo ""
  echo "Inclusive instruction counts in the streaming path (\`callgrind_annotate --inclusive=yes\`):"
  echo ""
  echo '```'
  echo "$top"
  echo '```'
} | tee "${OUT_MD:-/dev/null}"
echo "CPU stream_ipb=$ipb_stream core_ipb=$ipb_core sha_ipb=$ipb_sha ratio=$ratio ratio_core=$ratio_core" >&2
