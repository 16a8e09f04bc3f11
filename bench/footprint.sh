#!/usr/bin/env bash
# Footprint of the core on the target class (issue 7, benchmark 3).
# The core (src/core/*.c without crypto_psa.c: the crypto library is shared
# with TLS and excluded) compiled with -Os for RV32IMC (the ESP32-C3's ISA,
# picolibc) and for Cortex-M3: code, static RAM, the agent context with its
# work buffer, and worst-case stack from -fstack-usage / -fcallgraph-info=su.
# Usage: bash bench/footprint.sh [OUT.md]   (writes a Markdown fragment)
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
OUT_MD="${1:-}"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT

JSMN_DIR="$SRC/third_party/jsmn"
[ -f "$JSMN_DIR/jsmn.h" ] || JSMN_DIR="$T/jsmn"
if [ "$JSMN_DIR" = "$T/jsmn" ]; then
  mkdir -p "$T/jsmn"
  cp /usr/include/jsmn.h "$T/jsmn/" # Debian libjsmn-dev (v1.1.0); never the whole /usr/include
fi

CORE=()
for f in "$SRC"/src/core/*.c; do
  [ "$(basename "$f")" = crypto_psa.c ] || CORE+=("$f")
done

RV_CC=riscv64-unknown-elf-gcc
RV_FLAGS="-march=rv32imc -mabi=ilp32"
RV_LINK="-Wl,--defsym=__flash=0x80000000 -Wl,--defsym=__flash_size=0x00400000 -Wl,--defsym=__ram=0x80400000 -Wl,--defsym=__ram_size=0x00050000"
ARM_CC=arm-none-eabi-gcc
ARM_FLAGS="-mcpu=cortex-m3 -mthumb"
ARM_LINK="-Wl,--defsym=__flash=0x00000000 -Wl,--defsym=__flash_size=0x00400000 -Wl,--defsym=__ram=0x20000000 -Wl,--defsym=__ram_size=0x00050000"
COMMON="-Os -std=c11 -ffunction-sections -fdata-sections --specs=picolibc.specs -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -I$SRC/include -I$JSMN_DIR"

md() { if [ -n "$OUT_MD" ]; then printf '%s\n' "$*" >>"$OUT_MD"; fi; printf '%s\n' "$*"; }
[ -z "$OUT_MD" ] || : >"$OUT_MD"

measure() { # name cc flags linkflags
  local name="$1" cc="$2" flags="$3" link="$4" d="$T/$1"
  local size="${cc%gcc}size"
  mkdir -p "$d"
  ( cd "$d"
    for f in "${CORE[@]}"; do
      # shellcheck disable=SC2086
      $cc $flags $COMMON -fstack-usage -fcallgraph-info=su -c "$f" -o "$(basename "${f%.c}").o"
    done
    # shellcheck disable=SC2086
    $cc $flags $COMMON -c "$SRC/bench/crypto_link_stub.c" -o stub.o
    cat >sizes.c <<'C'
#include "updraft/agent.h"
char fp_agent[sizeof(updraft_agent_t)];
char fp_validator[sizeof(updraft_image_validator_t)];
char fp_manifest[sizeof(updraft_manifest_t)];
C
    # shellcheck disable=SC2086
    $cc $flags $COMMON -c sizes.c -o sizes.o
    # shellcheck disable=SC2086
    $cc $flags $COMMON -c "$SRC/bench/footprint_main.c" -o main.o.x
    # shellcheck disable=SC2086
    $cc $flags $COMMON -DFP_BASELINE -c "$SRC/bench/footprint_main.c" -o basemain.o.x
    local core_objs=()
    for f in "${CORE[@]}"; do core_objs+=("$d/$(basename "${f%.c}").o"); done
    # shellcheck disable=SC2086
    $cc $flags $COMMON -Wl,--gc-sections $link -Wl,-Map=full.map -o full.elf "$d/main.o.x" "${core_objs[@]}" "$d/stub.o"
    # shellcheck disable=SC2086
    $cc $flags $COMMON -Wl,--gc-sections $link -Wl,-Map=base.map -o base.elf "$d/basemain.o.x"
  )
  local objs=()
  for f in "${CORE[@]}"; do objs+=("$d/$(basename "${f%.c}").o"); done

  md ""
  md "#### $name (\`$cc $flags -Os -ffunction-sections -fdata-sections\`, picolibc)"
  md ""
  md "Per object file (\`${size##*/} -t\`, every function, before the linker drops unused ones):"
  md ""
  md "| object | text | data | bss |"
  md "|---|---:|---:|---:|"
  "$size" -t "${objs[@]}" | awk 'NR>1 { n=$6; sub(/.*\//, "", n); if (n == "(TOTALS)") n = "**all objects**";
    printf "| %s | %d | %d | %d |\n", n, $1, $2, $3 }' | while IFS= read -r l; do md "$l"; done

  # What a device application keeps after --gc-sections (the agent path;
  # bootloader.c/boot_otadata.c are the simulator's 2nd-stage bootloader and
  # drop out unless used).
  python3 "$SRC/bench/mapsize.py" "$d/full.map" >"$d/full.tsv"
  local core_text core_ro core_data core_bss lib_text
  read -r core_text core_ro core_data core_bss < <(awk -F'\t' -v d="$d/" 'index($1, d) == 1 && $1 !~ /(stub\.o|main\.o\.x)$/ {
      t+=$2; r+=$3; a+=$4; b+=$5 } END { print t+0, r+0, a+0, b+0 }' "$d/full.tsv")
  # libc/libgcc pulled in by the core: kept in full but not in the baseline.
  python3 "$SRC/bench/mapsize.py" "$d/base.map" >"$d/base.tsv"
  read -r lib_text < <(awk -F'\t' -v d="$d/" '
      FNR == NR { base[$1] = $2 + $3; next }
      index($1, d) != 1 { extra = $2 + $3 - base[$1]; if (extra > 0) { t += extra; n = $1; sub(/.*\(/, "", n); sub(/\)$/, "", n); names = names " " n } }
      END { print t+0; print names > "/dev/stderr" }' "$d/base.tsv" "$d/full.tsv" 2>"$d/libnames")
  local agent validator manifest
  agent=$("${cc%gcc}nm" -S "$d/sizes.o" | awk '$4=="fp_agent" { print $2 }')
  validator=$("${cc%gcc}nm" -S "$d/sizes.o" | awk '$4=="fp_validator" { print $2 }')
  manifest=$("${cc%gcc}nm" -S "$d/sizes.o" | awk '$4=="fp_manifest" { print $2 }')
  agent=$((16#$agent)); validator=$((16#$validator)); manifest=$((16#$manifest))
  local work_def work_min
  work_def=$(grep -E '#define UPDRAFT_AGENT_WORK_DEFAULT' "$SRC/include/updraft/agent.h" | grep -oE '[0-9]+' | head -1)
  work_min=$(grep -E '#define UPDRAFT_AGENT_WORK_MIN' "$SRC/include/updraft/agent.h" | grep -oE '[0-9]+' | head -1)
  local code=$((core_text + core_ro + core_data))
  local static_ram=$((core_data + core_bss))

  local stack
  stack=$(python3 "$SRC/bench/stackdepth.py" updraft_agent_init,updraft_agent_run,updraft_agent_step,updraft_agent_confirm "$d"/*.ci || true)
  local worst
  worst=$(printf '%s\n' "$stack" | awk -F': ' '/^updraft_agent/ { n=$2+0; if (n > m) m = n } END { print m+0 }')

  md ""
  md "Linked device application (\`bench/footprint_main.c\`: agent init/run/step/confirm/rollback, \`-Wl,--gc-sections\`; the crypto link stub's own bytes excluded):"
  md ""
  md "| figure | bytes | goal |"
  md "|---|---:|---|"
  md "| core code kept (text + rodata + data init) | $code ($(awk -v b="$code" 'BEGIN{printf "%.1f", b/1024}') KiB) | <= 12 KiB |"
  md "| + libc/libgcc helpers the core pulls in ($(tr -s ' ' <"$d/libnames" | sed 's/^ //' | tr ' ' ',' | sed 's/,/, /g')) | $lib_text | |"
  md "| core static RAM (data + bss) | $static_ram | |"
  md "| \`sizeof(updraft_agent_t)\` (includes validator $validator, manifest $manifest) | $agent | |"
  md "| work buffer UPDRAFT_AGENT_WORK_DEFAULT / _MIN | $work_def / $work_min | |"
  md "| **RAM: static + agent + work (default)** | $((static_ram + agent + work_def)) ($(awk -v b="$((static_ram + agent + work_def))" 'BEGIN{printf "%.1f", b/1024}') KiB) | <= 6 KiB |"
  md "| **RAM: static + agent + work (min)** | $((static_ram + agent + work_min)) ($(awk -v b="$((static_ram + agent + work_min))" 'BEGIN{printf "%.1f", b/1024}') KiB) | <= 6 KiB |"
  md "| worst-case stack of the core (deepest path, ports excluded) | $worst | |"
  md ""
  md "Kept by the linker per object (text / rodata / data / bss) and the largest kept symbols:"
  md ""
  md "| object | text | rodata | data | bss |"
  md "|---|---:|---:|---:|---:|"
  awk -F'\t' -v d="$d/" 'index($1, d) == 1 && $1 !~ /(stub\.o|main\.o\.x)$/ { n = $1; sub(/.*\//, "", n); printf "| %s | %d | %d | %d | %d |\n", n, $2, $3, $4, $5 }' \
    "$d/full.tsv" | while IFS= read -r l; do md "$l"; done
  md ""
  md "Largest kept symbols: $("${cc%gcc}nm" --size-sort -S -t d "$d/full.elf" | awk '{ print $4 " " $2+0 }' | grep -E "$(cd "$d" && "${cc%gcc}nm" -j ./*.o 2>/dev/null | grep -v ':$' | sort -u | tr '\n' '|' | sed 's/|$//; s/\./\\./g')" | tail -8 | tac | tr '\n' ',' | sed 's/,$//; s/,/, /g')"
  md ""
  md "Deepest call paths (\`bench/stackdepth.py\` over \`-fcallgraph-info=su\`; frames in bytes; calls through port pointers are leaves):"
  md ""
  md '```'
  printf '%s\n' "$stack" | while IFS= read -r l; do md "$l"; done
  md '```'
  md ""
  md "The paths stop at calls into the crypto library and the ports (their stack comes on top). The largest single frame"
  md "is over all core objects, including bootloader.c (the simulator's 2nd-stage bootloader, not linked into a device app)."
  echo "FOOTPRINT $name code=$code lib=$lib_text static_ram=$static_ram agent=$agent work_default=$work_def work_min=$work_min stack=$worst" >&2
}

measure "RV32IMC" "$RV_CC" "$RV_FLAGS" "$RV_LINK"
measure "Cortex-M3" "$ARM_CC" "$ARM_FLAGS" "$ARM_LINK"
